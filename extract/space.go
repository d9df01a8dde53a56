package extract

import "strings"

// space skips whitespace and comments, replacing each comment by a space.
// A comment the text ends in, or a lone '/' at its end, leaves pos at the
// end for the caller to report truncation.
func (p *parser) space() bool {
	src, i := p.src, p.pos
loop:
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		case '/':
			end, detail := commentEnd(src, i)
			if end < 0 {
				break loop
			}
			if end >= len(src) {
				i = len(src)
				p.cutOff = true
				break loop
			}
			if !p.repair(KindComment, i, detail, reasonComment) {
				p.pos = i
				return false
			}
			p.splice(i, end, " ")
			i = end
		default:
			break loop
		}
	}
	p.pos = i
	return true
}

// peek returns the offset of the next byte after pos that is neither
// whitespace nor part of a comment, or len(p.src), without consuming
// anything. With repairs off it stops at comments, which then fail.
func (p *parser) peek() int {
	src, i := p.src, p.pos
	defer func() { p.work += i - p.pos }()
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		case '/':
			if p.noRepair {
				return i
			}
			end, _ := commentEnd(src, i)
			if end < 0 {
				return i
			}
			if end >= len(src) {
				i = len(src)
				return i
			}
			i = end
			continue
		}
		return i
	}
	return i
}

// commentEnd returns the end of the comment at i, which holds a '/', and
// its detail. The end is len(src) when the text ends inside the comment,
// or -1 when the '/' does not start one.
func commentEnd(src string, i int) (int, string) {
	if i+1 >= len(src) {
		return len(src), ""
	}
	switch src[i+1] {
	case '/':
		if j := strings.IndexByte(src[i+2:], '\n'); j >= 0 {
			return i + 2 + j, detailLineComment
		}
		return len(src), detailLineComment
	case '*':
		if j := strings.Index(src[i+2:], "*/"); j >= 0 {
			return i + 2 + j + 2, detailBlockComment
		}
		return len(src), detailBlockComment
	}
	return -1, ""
}

func digits(src string, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '$'
}

func isIdent(c byte) bool { return isIdentStart(c) || isDigit(c) }
