package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// plainCompletion is completion without its UnmarshalJSON: encoding/json
// reads it by its tags, as the reference.
type plainCompletion completion

// decodeBoth decodes body with decodeCompletion and with encoding/json,
// and fails t where they disagree: one refuses it and the other not, or
// they read different fields.
func decodeBoth(t *testing.T, body []byte) error {
	t.Helper()
	var want completion
	wantErr := json.Unmarshal(body, (*plainCompletion)(&want))
	got, err := decodeCompletion(body)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%q: encoding/json says %v, decodeCompletion %v", body, wantErr, err)
	}
	if err == nil {
		if diff := cmp.Diff(&want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("%q decoded differently (-encoding/json +decodeCompletion):\n%s", body, diff)
		}
	}
	return err
}

// decodeCases are bodies an upstream could send, well-formed or not,
// around each rule of the decoder.
var decodeCases = []struct {
	name string
	body string
	ok   bool
}{
	{"typical", `{"id":"chatcmpl-9","object":"chat.completion","created":1733000000,"model":"gpt-4o-mini-2024-07-18",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"{\"category\":\"billing\",\"priority\":2}","refusal":null,"annotations":[]},` +
		`"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":14,"total_tokens":134,` +
		`"prompt_tokens_details":{"cached_tokens":64,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},` +
		`"service_tier":"default","system_fingerprint":"fp_0ba0d124f1"}`, true},
	{"spaced", " {\n  \"id\" : \"a\" ,\r\n\t\"choices\" : [ { \"finish_reason\" : \"length\" } ] \n} \n", true},
	{"refusal", `{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}`, true},
	{"tool call", `{"choices":[{"message":{"content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"answer","arguments":"{\"a\":1}"}},` +
		`{"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`, true},
	{"logprobs", `{"choices":[{"message":{"content":"hi"},"logprobs":{"content":[{"token":"h","logprob":-0.25,"bytes":[104],"top_logprobs":[]},` +
		`{"token":"\ufffd","logprob":-1.5e-3,"bytes":[226,130]},{"token":"i","logprob":0,"bytes":null}],"refusal":null}}]}`, true},
	{"stream chunk", `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"par","tool_calls":[{"index":1,"function":{"arguments":"{\"a"}}]},` +
		`"finish_reason":null}],"usage":null}`, true},
	{"last chunk", `{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`, true},
	{"escapes", `{"id":"\u0041\n\t\"\\\/\b\f\r","choices":[{"message":{"content":"caf\u00e9 \ud83d\ude00 \u65e5\u672c"}}]}`, true},
	{"lone surrogates", `{"id":"\ud800","model":"\udc00x\ud83d\u0041","choices":[{"message":{"content":"\ud83d\ud83d\ude00"}}]}`, true},
	{"invalid UTF-8", "{\"id\":\"a\xffb\xc3\",\"model\":\"\xe6\x97\xa5\",\"choices\":[{\"message\":{\"content\":\"\xed\xa0\x80\"}}]}", true},
	{"escaped key", `{"\u0069d":"x","\u006dodel":"m"}`, true},
	{"nested unknown", `{"x":{"a":[1,{"b":[[],{}]},"s",true,false,null,-0.5e+10]},"id":"y"}`, true},
	{"null everywhere", `{"id":null,"model":null,"choices":[{"message":null,"logprobs":null,"finish_reason":null}],"usage":null}`, true},
	{"null", `null`, true},
	{"empty", `{}`, true},
	{"number shapes", `{"usage":{"prompt_tokens":-0,"total_tokens":9223372036854775807},"choices":[{"logprobs":{"content":[{"logprob":1E2}]}}]}`, true},

	{"not an object", `[1,2]`, false},
	{"string", `"x"`, false},
	{"nothing", ``, false},
	{"spaces", "  \n", false},
	{"trailing", `{"id":"x"} trailing`, false},
	{"two values", `{}{}`, false},
	{"choices a string", `{"choices":"none","usage":7}`, false},
	{"content a number", `{"choices":[{"message":{"content":7}}]}`, false},
	{"finish reason a list", `{"choices":[{"message":{"content":"{}"},"finish_reason":["stop"]}]}`, false},
	{"tokens a string", `{"usage":{"prompt_tokens":"12"}}`, false},
	{"tokens a fraction", `{"usage":{"prompt_tokens":1.5}}`, false},
	{"tokens an exponent", `{"usage":{"total_tokens":1e2}}`, false},
	{"tokens overflow", `{"usage":{"total_tokens":9223372036854775808}}`, false},
	{"logprob out of range", `{"choices":[{"logprobs":{"content":[{"logprob":1e999}]}}]}`, false},
	{"logprob a boolean", `{"choices":[{"logprobs":{"content":[{"logprob":true}]}}]}`, false},
	{"byte a string", `{"choices":[{"logprobs":{"content":[{"bytes":["a"]}]}}]}`, false},
	{"cut in a string", `{"choices":[{"message":{"content":"{\"a`, false},
	{"cut after a key", `{"id"`, false},
	{"cut in an unknown value", `{"x":[1,{"y":`, false},
	{"cut after an escape", `{"id":"a\`, false},
	{"trailing comma", `{"id":"x",}`, false},
	{"trailing comma in a list", `{"choices":[{},]}`, false},
	{"leading comma", `{,"id":"x"}`, false},
	{"missing comma", `{"id":"x" "model":"y"}`, false},
	{"missing colon", `{"id" "x"}`, false},
	{"key not a string", `{id:"x"}`, false},
	{"single quotes", `{'id':'x'}`, false},
	{"bad escape", `{"id":"\x"}`, false},
	{"short unicode escape", `{"id":"\u12"}`, false},
	{"bad unicode escape in a pair", `{"id":"\ud83d\uzzzz"}`, false},
	{"control character", "{\"id\":\"a\nb\"}", false},
	{"control character after an escape", "{\"id\":\"\\n\x01\"}", false},
	{"leading zero", `{"usage":{"prompt_tokens":012}}`, false},
	{"bare minus", `{"x":-}`, false},
	{"no fraction digits", `{"x":1.}`, false},
	{"no exponent digits", `{"x":1e+}`, false},
	{"plus sign", `{"x":+1}`, false},
	{"NaN", `{"x":NaN}`, false},
	{"bad literal", `{"x":nul}`, false},
	{"capital literal", `{"x":True}`, false},
	{"mismatched close", `{"x":[1}`, false},
	{"unknown array unclosed", `{"x":[[]`, false},
	{"comment", `{"id":"x" /* no */}`, false},
}

// TestDecodeMatchesEncodingJSON holds the decoder to encoding/json on
// bodies around each of its rules: both accept and read the same fields,
// or both refuse.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeBoth(t, []byte(tc.body))
			if (err == nil) != tc.ok {
				t.Errorf("decodeCompletion(%q) error = %v, want ok = %v", tc.body, err, tc.ok)
			}
		})
	}
}

// TestDecodeErrorSaysWhere checks that a refused body's error names the
// field and the offset, for the log line and the fault's cause.
func TestDecodeErrorSaysWhere(t *testing.T) {
	t.Parallel()
	_, err := decodeCompletion([]byte(`{"usage":{"prompt_tokens":"12"}}`))
	var de *decodeError
	if !errors.As(err, &de) || de.offset != 26 || !strings.Contains(err.Error(), "prompt_tokens: want a number, got a string") {
		t.Errorf("error = %v, want prompt_tokens's type at byte 26", err)
	}
}

// TestDecodeDeepUnknownValue: a field guardgen does not read may nest
// deep; it is skipped (the containers still open are kept in a slice, not
// in frames on the call's stack), its syntax still checked, a wrong close
// deep inside included.
func TestDecodeDeepUnknownValue(t *testing.T) {
	t.Parallel()
	const depth = 5000 // encoding/json refuses beyond 10,000
	body := `{"x":` + strings.Repeat(`[{"a":`, depth) + `1` + strings.Repeat(`}]`, depth) + `,"id":"deep"}`
	c, err := decodeCompletion([]byte(body))
	if err != nil || c.ID != "deep" {
		t.Fatalf("decodeCompletion = %+v, %v", c, err)
	}
	if _, err := decodeCompletion([]byte(body[:len(body)-12] + `]` + body[len(body)-11:])); err == nil {
		t.Error("a deep value closed wrongly was accepted")
	}
}

// FuzzDecodeCompletion holds the decoder to encoding/json on any body:
// both refuse it, or both accept it and read the same fields. Bodies where
// the two differ on purpose are not compared: a key given twice in one
// object (encoding/json merges the second value into the first) and a key
// that names a field only ignoring case (the decoder matches exactly, as
// the SDK does).
func FuzzDecodeCompletion(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !exactKeys(body) {
			return
		}
		decodeBoth(t, body)
	})
}

// wireNames are the names the decoder reads.
var wireNames = []string{
	"id", "model", "choices", "usage", "finish_reason", "message", "content", "refusal", "tool_calls",
	"function", "arguments", "logprobs", "token", "logprob", "bytes", "prompt_tokens", "completion_tokens",
	"total_tokens", "prompt_tokens_details", "cached_tokens", "completion_tokens_details", "reasoning_tokens",
	"delta", "index",
}

// exactKeys reports whether no object in body has a key twice or a key
// that is one of wireNames only ignoring case. A body that is not JSON
// reports true: both decoders must refuse it.
func exactKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []*keyFrame
	for {
		tok, err := dec.Token()
		if err != nil { // the end, or not JSON
			return true
		}
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.object && top.key {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					markValue(stack)
					continue
				}
				k := tok.(string)
				if top.keys[k] {
					return false
				}
				for _, name := range wireNames {
					if k != name && strings.EqualFold(k, name) {
						return false
					}
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &keyFrame{object: true, keys: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &keyFrame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			markValue(stack)
		default:
			markValue(stack)
		}
	}
}

// keyFrame is an object or array exactKeys is in.
type keyFrame struct {
	object bool
	keys   map[string]bool
	key    bool // the next token in this object is a key
}

// markValue records that a value ended in the innermost container: in an
// object, a key comes next.
func markValue(stack []*keyFrame) {
	if len(stack) > 0 && stack[len(stack)-1].object {
		stack[len(stack)-1].key = true
	}
}
