//go:build unix

package openai

import "syscall"

// canPeek says peek works here.
const canPeek = true

// peek looks at the socket without reading from it or waiting, and
// reports whether it is quiet: open with nothing to read. Bytes to read,
// the end of the stream or an error are not.
func peek(fd uintptr) (quiet bool) {
	var one [1]byte
	_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
}
