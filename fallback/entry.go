package fallback

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Entry is one cached valid result.
type Entry struct {
	// TypeURL is the google.protobuf.Any type URL of Message.
	TypeURL string
	// Message is the validated message in protobuf wire format. Whoever
	// serves it decodes and validates it first: a cache is outside input.
	Message []byte
	// Model is the model that generated the message.
	Model string
	// StoredAt is when the message was generated and validated. Backends
	// set it from their clock when Put is given the zero time.
	StoredAt time.Time
}

// Age returns how old e is at now: the age a degraded answer reports. It is
// zero for an entry without StoredAt and for one stored "in the future" by
// a replica whose clock runs ahead.
func Age(e Entry, now time.Time) time.Duration {
	if e.StoredAt.IsZero() {
		return 0
	}
	return max(now.Sub(e.StoredAt), 0)
}

// ErrCorrupt means a stored value could not be decoded as an [Entry]: it
// was written by an incompatible version of guardgen or by something else.
// Like every cache error, callers treat it as a miss.
var ErrCorrupt = errors.New("fallback: corrupt cache entry")

// entryFormatV1 is the first byte of an encoded entry. An incompatible
// change to the encoding takes the next value; compatible additions are new
// field numbers, which older decoders skip.
const entryFormatV1 = 1

// Field numbers of the v1 encoding. Field 3 held a JSON rendering of the
// message, which is now rendered from the checked message when served; it
// is no longer written and is skipped when read.
const (
	fieldTypeURL  protowire.Number = 1 // bytes
	fieldMessage  protowire.Number = 2 // bytes
	fieldModel    protowire.Number = 4 // bytes
	fieldStoredAt protowire.Number = 5 // varint: Unix nanoseconds, zigzag
)

// marshalEntry encodes e for a byte-oriented backend. The format is one
// version byte followed by protobuf wire-format fields, as if Entry were a
// proto message: compact, and readable with `protoc --decode_raw` after
// dropping the first byte. A zero StoredAt is omitted.
func marshalEntry(e Entry) []byte {
	b := make([]byte, 0, 1+len(e.TypeURL)+len(e.Message)+len(e.Model)+32+tagFieldLen)
	b = append(b, entryFormatV1)
	b = appendBytesField(b, fieldTypeURL, []byte(e.TypeURL))
	b = appendBytesField(b, fieldMessage, e.Message)
	b = appendBytesField(b, fieldModel, []byte(e.Model))
	if !e.StoredAt.IsZero() {
		b = protowire.AppendTag(b, fieldStoredAt, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(e.StoredAt.UnixNano()))
	}
	return b
}

func appendBytesField(b []byte, n protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// unmarshalEntry decodes what marshalEntry encoded. Unknown fields are
// skipped; a wrong version byte, a malformed field or a known field with
// the wrong wire type is ErrCorrupt. The returned Message does not alias b.
func unmarshalEntry(b []byte) (Entry, error) {
	if len(b) == 0 || b[0] != entryFormatV1 {
		return Entry{}, fmt.Errorf("%w: unknown format", ErrCorrupt)
	}
	b = b[1:]
	var e Entry
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return Entry{}, fmt.Errorf("%w: %v", ErrCorrupt, protowire.ParseError(n))
		}
		b = b[n:]
		want, known := fieldTypes[num]
		if known && typ != want {
			return Entry{}, fmt.Errorf("%w: field %d has wire type %d", ErrCorrupt, num, typ)
		}
		if !known {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return Entry{}, fmt.Errorf("%w: %v", ErrCorrupt, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		if typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return Entry{}, fmt.Errorf("%w: %v", ErrCorrupt, protowire.ParseError(n))
			}
			b = b[n:]
			e.StoredAt = time.Unix(0, protowire.DecodeZigZag(v))
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return Entry{}, fmt.Errorf("%w: %v", ErrCorrupt, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case fieldTypeURL:
			e.TypeURL = string(v)
		case fieldMessage:
			e.Message = append([]byte(nil), v...)
		case fieldModel:
			e.Model = string(v)
		}
	}
	return e, nil
}

var fieldTypes = map[protowire.Number]protowire.Type{
	fieldTypeURL:  protowire.BytesType,
	fieldMessage:  protowire.BytesType,
	fieldModel:    protowire.BytesType,
	fieldStoredAt: protowire.VarintType,
}
