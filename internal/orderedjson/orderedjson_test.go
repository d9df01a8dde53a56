package orderedjson_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/guardgen/guardgen/internal/orderedjson"
)

func TestParseAppendKeepsOrder(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{"z":1,"a":[true,false,null],"m":{"y":"s","b":2.50}}`,
		`[]`, `{}`, `"x"`, `-0.1e3`, `null`,
		`{"k":{"k":{"k":[{"k":[]}]}}}`,
	} {
		v, err := orderedjson.Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%s): %v", in, err)
		}
		if got := string(orderedjson.Append(nil, v)); got != in {
			t.Errorf("Append(Parse(%s)) = %s", in, got)
		}
	}
}

func TestParseDuplicateKeyKeepsFirstPlaceLastValue(t *testing.T) {
	t.Parallel()
	v, err := orderedjson.Parse([]byte(`{"a":1,"b":2,"a":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(orderedjson.Append(nil, v)); got != `{"a":3,"b":2}` {
		t.Errorf("got %s", got)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `{"a":1} {}`, `[1,]`, `{1:2}`} {
		if _, err := orderedjson.Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) = nil error", in)
		}
	}
}

// TestAppendStringReadsBack: every string comes back through
// encoding/json as itself, with each invalid byte as U+FFFD (as a range
// over the string reads it), and <, >, & stay unescaped.
func TestAppendStringReadsBack(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain", `"quoted" \ back`, "\n\r\t\b\f\x00\x1f", "<a&b>", "é 漢字 🙂",
		"\u2028\u2029", "bad \xff\xfe utf8", "\xed\xa0\x80",
	} {
		b := orderedjson.AppendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, b, err)
		}
		if want := []rune(s); got != string(want) {
			t.Errorf("AppendString(%q) reads back as %q", s, got)
		}
		if strings.ContainsAny(s, "<>&") && strings.Contains(string(b), `\u003c`) {
			t.Errorf("AppendString(%q) = %s escapes HTML", s, b)
		}
	}
}

func TestObjectSetReplacesInPlace(t *testing.T) {
	t.Parallel()
	var o orderedjson.Object
	o.Set("a", 1).Set("b", "x").Set("a", []string{"y"})
	if got := string(orderedjson.Append(nil, &o)); got != `{"a":["y"],"b":"x"}` {
		t.Errorf("got %s", got)
	}
	c := o.Clone().Set("c", nil)
	if o.Len() != 2 || c.Len() != 3 || !c.Has("a") {
		t.Errorf("Clone shares members: o %d, c %d", o.Len(), c.Len())
	}
}

func ExampleAppend() {
	schema := orderedjson.New(3).
		Set("type", "object").
		Set("properties", orderedjson.New(2).
			Set("priority", orderedjson.New(1).Set("type", "integer")).
			Set("category", orderedjson.New(1).Set("pattern", "^<[a-z]+>$"))).
		Set("required", []string{"priority", "category"})
	fmt.Println(string(orderedjson.Append(nil, schema)))
	// Output: {"type":"object","properties":{"priority":{"type":"integer"},"category":{"pattern":"^<[a-z]+>$"}},"required":["priority","category"]}
}
