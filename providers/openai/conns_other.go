//go:build !unix

package openai

// peekFD finds every idle connection usable where there is no
// non-blocking peek; a closed one fails its call, as it may with net/http.
func (c *conn) peekFD(uintptr) bool {
	c.peeked = false
	return true
}
