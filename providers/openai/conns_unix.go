//go:build unix

package openai

import "syscall"

// canPeek says peek works here.
const canPeek = true

// peek looks at the socket without reading from it or waiting.
func peek(fd uintptr) peeked {
	var one [1]byte
	n, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if err == syscall.EAGAIN || err == syscall.EWOULDBLOCK {
		return peeked{quiet: true}
	}
	return peeked{n: n, err: err}
}
