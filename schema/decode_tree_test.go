package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestParseTree(t *testing.T) {
	t.Parallel()
	tests := []struct {
		json    string
		want    string // compact re-encoding
		wantErr string
	}{
		{json: ` {"a" : [1, -0.5e+3, true, false, null, "x"], "b": {}} `, want: `{"a":[1,-0.5e+3,true,false,null,"x"],"b":{}}`},
		{json: `{"a":1,"a":2}`, want: `{"a":1,"a":2}`}, // duplicates are kept for the walk
		{json: `"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"`, want: `"é😀/\u0008\u000c\n\r\t\"\\"`},
		{json: `"\ud800x"`, wantErr: "a lone surrogate escape at byte 1"},
		{json: `"\ud800\u0041"`, wantErr: "a lone surrogate escape at byte 1"},
		{json: "\"ok \xff\"", wantErr: "invalid UTF-8 at byte 4"},
		{json: `[]`, want: `[]`},
		{json: ``, wantErr: "no JSON value"},
		{json: `   `, wantErr: "no JSON value"},
		{json: `{"a":1,}`, wantErr: "malformed JSON at byte 7"},
		{json: `[1,]`, wantErr: "malformed JSON at byte 3"},
		{json: `{"a" 1}`, wantErr: "malformed JSON at byte 5"},
		{json: `{a:1}`, wantErr: "malformed JSON at byte 1"},
		{json: `01`, wantErr: "unexpected data after the JSON value"},
		{json: `1.`, wantErr: "the JSON ends early"},
		{json: `1.e5`, wantErr: "malformed JSON at byte 2"},
		{json: `-`, wantErr: "the JSON ends early"},
		{json: `tru`, wantErr: "the JSON ends early"},
		{json: `nul1`, wantErr: "malformed JSON at byte 3"},
		{json: `"\x"`, wantErr: "malformed JSON at byte 2"},
		{json: `"\u12"`, wantErr: "malformed JSON at byte 2"},
		{json: `"\u12`, wantErr: "the JSON ends early"},
		{json: "\"a\nb\"", wantErr: "malformed JSON at byte 2"},
		{json: `{"a":"b`, wantErr: "the JSON ends early"},
		{json: `{"a":[1,2`, wantErr: "the JSON ends early"},
		{json: `{} {}`, wantErr: "unexpected data after the JSON value"},
		{json: strings.Repeat("[", maxJSONDepth+2), wantErr: "the JSON is nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			t.Parallel()
			n, err := parseTree([]byte(tt.json))
			var got, gotErr string
			if err != nil {
				gotErr = err.Error()
			} else {
				got = string(n.appendJSON(nil))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseTree(%q) mismatch (-want +got):\n%s", tt.json, diff)
			}
			if gotErr != tt.wantErr {
				t.Errorf("parseTree(%q) error = %q, want %q", tt.json, gotErr, tt.wantErr)
			}
		})
	}
}

// FuzzParseTree checks parseTree against encoding/json: it accepts the
// same documents and reads the same values, except that, like protojson,
// it refuses invalid UTF-8 and lone surrogate escapes, which encoding/json
// reads as U+FFFD.
//
//	go test -run '^$' -fuzz FuzzParseTree -fuzztime 30s ./schema/
func FuzzParseTree(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,-0.5e+3,true,false,null,"x"],"b":{}}`, `"\u00e9\ud83d\ude00\/\b"`, `"\ud800\u0041"`, "\"\xff\"",
		`{"a":1,}`, `[1,]`, `01`, `1.e5`, `{"a":"b`, `{} {}`, ` [ [ ] ] `, `"\u12"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := parseTree(data)
		valid := json.Valid(data) && utf8.Valid(data)
		if err != nil && strings.HasPrefix(err.Reason, "a lone surrogate") {
			valid = false
		}
		if valid != (err == nil) {
			t.Fatalf("parseTree error = %v, but json.Valid and utf8.Valid = %v", err, valid)
		}
		if err != nil {
			return
		}
		out := n.appendJSON(nil)
		var want, got any
		for _, d := range []struct {
			data []byte
			v    *any
		}{{data, &want}, {out, &got}} {
			dec := json.NewDecoder(bytes.NewReader(d.data))
			dec.UseNumber()
			if err := dec.Decode(d.v); err != nil {
				t.Fatalf("encoding/json refused %q: %v", d.data, err)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("re-encoded %q as %q (-want +got):\n%s", data, out, diff)
		}
	})
}
