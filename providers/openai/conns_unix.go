//go:build unix

package openai

import "syscall"

// peekFD looks at the socket without reading from it or waiting: an idle
// connection that is still open has nothing to read (EAGAIN). End of
// stream, a reset, or bytes nobody asked for make it stale.
func (c *conn) peekFD(fd uintptr) bool {
	var one [1]byte
	_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	c.peeked = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	return true
}
