package fallback

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrUnauthenticated means a stored value does not carry a valid
// authentication tag for its key: it was written without the key (by
// something other than guardgen, or a guardgen with another key), for
// another key, or altered since. Callers treat it as a miss and report it.
var ErrUnauthenticated = errors.New("fallback: cache entry fails authentication")

// ErrTooLarge means a stored value is larger than the backend reads; it is
// not read whole.
var ErrTooLarge = errors.New("fallback: cache entry exceeds the size limit")

// MinHMACKeyBytes is the shortest authentication key [NewRedis] accepts:
// the output size of the SHA-256 it uses.
const MinHMACKeyBytes = sha256.Size

// fieldTag is the authentication tag, the last field of a stored value:
// HMAC-SHA256 over the key and every byte before the field. Its tag and
// length take one byte each.
const (
	fieldTag    protowire.Number = 15
	tagFieldLen                  = 2 + sha256.Size
)

// tagDomain separates guardgen's cache tags from any other use of the key.
const tagDomain = "guardgen cache entry v1\x00"

// mac is the tag of body stored under key.
func mac(secret []byte, key string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(tagDomain))
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

// appendTag appends the tag field of body, stored under key.
func appendTag(body []byte, secret []byte, key string) []byte {
	sum := mac(secret, key, body)
	body = protowire.AppendTag(body, fieldTag, protowire.BytesType)
	return protowire.AppendBytes(body, sum)
}

// verifyTag returns value without its tag field if the tag is valid for
// key, else ErrUnauthenticated. The comparison takes constant time.
func verifyTag(value []byte, secret []byte, key string) ([]byte, error) {
	if len(value) < tagFieldLen {
		return nil, ErrUnauthenticated
	}
	body, field := value[:len(value)-tagFieldLen], value[len(value)-tagFieldLen:]
	num, typ, n := protowire.ConsumeTag(field)
	if n != 1 || num != fieldTag || typ != protowire.BytesType || field[1] != sha256.Size {
		return nil, ErrUnauthenticated
	}
	if !hmac.Equal(field[2:], mac(secret, key, body)) {
		return nil, ErrUnauthenticated
	}
	return body, nil
}
