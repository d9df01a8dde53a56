package fallback

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestEntryEncodingRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    Entry
	}{
		{"empty", Entry{}},
		{"full", Entry{
			TypeURL:  "type.googleapis.com/guardgen.examples.v1.TicketClassification",
			Message:  []byte{0x0a, 0x03, 'f', 'o', 'o'},
			Model:    "gpt-4o-mini",
			StoredAt: time.Date(2026, 3, 1, 12, 0, 0, 1, time.UTC),
		}},
		{"before 1970", Entry{StoredAt: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := unmarshalEntry(marshalEntry(tt.e))
			if err != nil {
				t.Fatalf("unmarshalEntry: %v", err)
			}
			if diff := cmp.Diff(tt.e, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEntryEncodingSkipsUnknownFields(t *testing.T) {
	t.Parallel()
	b := marshalEntry(Entry{Model: "m"})
	b = protowire.AppendTag(b, 99, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("from a newer guardgen"))
	got, err := unmarshalEntry(b)
	if err != nil || got.Model != "m" {
		t.Errorf("unmarshalEntry = %+v, %v", got, err)
	}
}

func TestEntryEncodingCorrupt(t *testing.T) {
	t.Parallel()
	good := marshalEntry(Entry{Model: "gpt-4o-mini", TypeURL: "t"})
	wrongType := protowire.AppendTag([]byte{entryFormatV1}, fieldModel, protowire.VarintType)
	wrongType = protowire.AppendVarint(wrongType, 1)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{2}, good[1:]...)},
		{"JSON", []byte(`{"model":"x"}`)},
		{"truncated", good[:len(good)-1]},
		{"wrong wire type", wrongType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := unmarshalEntry(tt.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("unmarshalEntry error = %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzUnmarshalEntry(f *testing.F) {
	f.Add(marshalEntry(Entry{TypeURL: "t", Message: []byte{1, 2}, Model: "m", StoredAt: time.Unix(1, 2)}))
	f.Add([]byte{entryFormatV1})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := unmarshalEntry(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := unmarshalEntry(marshalEntry(e))
		if err != nil {
			t.Fatalf("re-decoding a decoded entry: %v", err)
		}
		if diff := cmp.Diff(e, again); diff != "" {
			t.Fatalf("re-encoding changed the entry (-first +second):\n%s", diff)
		}
	})
}
