// Package redistest starts a real redis-server for tests, the way
// net/http/httptest starts an HTTP server: the fallback package's Redis
// tests and guardgen's replica test share it.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server process started for one test.
type Server struct {
	Addr string

	cmd      *exec.Cmd
	out      *bytes.Buffer
	waitDone chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// Start starts redis-server from PATH on a free loopback port, with
// persistence off, waits until it answers PING and stops it when the test
// ends. Without redis-server the test is skipped, or fails when CI=true,
// where a missing server means a broken CI image rather than a laptop.
func Start(t testing.TB) *Server {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		const how = "redis-server not on PATH; install it with `apt-get update && apt-get install -y redis-server` (Debian package redis-server)"
		if os.Getenv("CI") == "true" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	// A free port can be taken between closing the probe listener and
	// redis binding it; try a few.
	var lastErr error
	for range 3 {
		s, err := launch(t, path)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("start redis-server: %v", lastErr)
	return nil
}

func launch(t testing.TB, path string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		out:      new(bytes.Buffer),
		waitDone: make(chan struct{}),
	}
	s.cmd = exec.Command(path,
		"--save", "", "--appendonly", "no",
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", t.TempDir())
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.waitDone)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.waitDone:
			return nil, fmt.Errorf("redis-server exited: %v\n%s", s.waitErr, s.out)
		default:
		}
		if ping(s.Addr) == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING in 10s\n%s", s.Addr, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Freeze stops the server process (SIGSTOP): it keeps its port and its
// connections but answers nothing, as a Redis stuck in a long command, a
// paused VM or a saturated host does, until Thaw.
func (s *Server) Freeze() { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Stop terminates the server, frozen or not, and waits for it to exit. It
// is idempotent.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.Thaw()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.waitDone:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.waitDone
		}
	})
}

// ping sends an inline PING and expects +PONG, without a client library.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return errors.New("unexpected reply " + strconv.Quote(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
