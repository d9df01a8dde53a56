package openai_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/strictcheck"
)

var update = flag.Bool("update", false, "rewrite testdata/*.strict.json from openai.Strict's output")

// TestStrictGolden converts the hand-written schemas in testdata, checks
// the output against the documented strict rules, and compares it with the
// reviewed golden file.
func TestStrictGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"ticket", "nested", "map"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := readFile(t, filepath.Join("testdata", name+".schema.json"))
			got, err := openai.Strict(in)
			if err != nil {
				t.Fatalf("Strict: %v", err)
			}
			if err := strictcheck.Check(got); err != nil {
				t.Errorf("strictcheck.Check(openai.Strict(%s)):\n%v", name, err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", name+".strict.json")
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(string(readFile(t, golden)), pretty.String()); diff != "" {
				t.Errorf("Strict(%s) mismatch (-golden +got); run go test -update after review:\n%s", name, diff)
			}
		})
	}
}

// TestStrictRules shows each conversion rule on a minimal schema.
func TestStrictRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{{
		name: "optional scalar becomes required and nullable",
		in:   `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"],"additionalProperties":false}`,
		want: `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":["integer","null"]}},"required":["a","b"],"additionalProperties":false}`,
	}, {
		name: "optional enum is wrapped in anyOf with null",
		in:   `{"type":"object","properties":{"e":{"type":"string","enum":["x","y"]}}}`,
		want: `{"type":"object","properties":{"e":{"anyOf":[{"type":"string","enum":["x","y"]},{"type":"null"}]}},"required":["e"],"additionalProperties":false}`,
	}, {
		name: "optional object is wrapped in anyOf with null",
		in:   `{"type":"object","properties":{"o":{"type":"object","description":"d","properties":{}}}}`,
		want: `{"type":"object","properties":{"o":{"description":"d","anyOf":[{"type":"object","properties":{},"required":[],"additionalProperties":false},{"type":"null"}]}},"required":["o"],"additionalProperties":false}`,
	}, {
		name: "optional $ref is wrapped in anyOf with null",
		in:   `{"type":"object","properties":{"r":{"$ref":"#/$defs/X"}},"$defs":{"X":{"type":"object","properties":{"v":{"type":"boolean"}},"required":["v"]}}}`,
		want: `{"type":"object","properties":{"r":{"anyOf":[{"$ref":"#/$defs/X"},{"type":"null"}]}},"required":["r"],"additionalProperties":false,"$defs":{"X":{"type":"object","properties":{"v":{"type":"boolean"}},"required":["v"],"additionalProperties":false}}}`,
	}, {
		name: "recursion to the root is kept",
		in:   `{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}}},"required":["kids"]}`,
		want: `{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}}},"required":["kids"],"additionalProperties":false}`,
	}, {
		name: "length limits, encodings and unknown formats move into the description",
		in:   `{"type":"object","properties":{"s":{"type":"string","minLength":1,"maxLength":5,"format":"uri","description":"S."},"b":{"type":"string","contentEncoding":"base64"}},"required":["s","b"]}`,
		want: `{"type":"object","properties":{"s":{"type":"string","description":"S. Format: uri. Between 1 and 5 characters."},"b":{"type":"string","description":"Encoding: base64."}},"required":["s","b"],"additionalProperties":false}`,
	}, {
		name: "supported constraints pass through",
		in:   `{"type":"object","properties":{"n":{"type":"number","minimum":0,"exclusiveMaximum":1,"multipleOf":0.5},"l":{"type":"array","items":{"type":"string","format":"date-time","pattern":"^2"},"minItems":1,"maxItems":3}},"required":["n","l"]}`,
		want: `{"type":"object","properties":{"n":{"type":"number","minimum":0,"exclusiveMaximum":1,"multipleOf":0.5},"l":{"type":"array","items":{"type":"string","pattern":"^2","format":"date-time"},"minItems":1,"maxItems":3}},"required":["n","l"],"additionalProperties":false}`,
	}, {
		name: "a oneOf of required lists is said in the description",
		in:   `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"oneOf":[{"required":["a"]},{"required":["b"]}]}`,
		want: `{"type":"object","description":"Exactly one of a, b must be non-null; set the others to null.","properties":{"a":{"type":["string","null"]},"b":{"type":["string","null"]}},"required":["a","b"],"additionalProperties":false}`,
	}, {
		name: "a oneOf of schemas becomes anyOf",
		in:   `{"type":"object","properties":{"v":{"oneOf":[{"type":"string"},{"type":"integer"}]}},"required":["v"]}`,
		want: `{"type":"object","properties":{"v":{"anyOf":[{"type":"string"},{"type":"integer"}]}},"required":["v"],"additionalProperties":false}`,
	}, {
		name: "const gets its type",
		in:   `{"type":"object","properties":{"k":{"const":"x"},"o":{"const":2}},"required":["k"]}`,
		want: `{"type":"object","properties":{"k":{"type":"string","const":"x"},"o":{"anyOf":[{"type":"integer","const":2},{"type":"null"}]}},"required":["k","o"],"additionalProperties":false}`,
	}, {
		name: "a type list becomes anyOf, each branch with its own keywords",
		in:   `{"type":"object","properties":{"i":{"type":["integer","string"],"pattern":"^-?[0-9]+$","minimum":0,"description":"int64"}}}`,
		want: `{"type":"object","properties":{"i":{"description":"int64","anyOf":[{"type":"integer","minimum":0},{"type":"string","pattern":"^-?[0-9]+$"},{"type":"null"}]}},"required":["i"],"additionalProperties":false}`,
	}, {
		name: "annotations are dropped and a root $ref is inlined",
		in:   `{"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"#/$defs/R","$defs":{"R":{"title":"R","type":"object","properties":{"x":{"type":"string","default":"a","examples":["b"]}},"required":["x"]}}}`,
		want: `{"type":"object","properties":{"x":{"type":"string"}},"required":["x"],"additionalProperties":false,"$defs":{"R":{"type":"object","properties":{"x":{"type":"string"}},"required":["x"],"additionalProperties":false}}}`,
	}, {
		name: "a map becomes a list of key/value entries",
		in:   `{"type":"object","properties":{"m":{"type":"object","description":"M.","propertyNames":{"pattern":"^[a-z]+$"},"additionalProperties":{"type":"integer"},"maxProperties":3}},"required":["m"]}`,
		want: `{"type":"object","properties":{"m":{"type":"array","description":"M. A map, as a list of key/value entries with unique keys.","items":{"type":"object","properties":{"key":{"type":"string","pattern":"^[a-z]+$"},"value":{"type":"integer"}},"required":["key","value"],"additionalProperties":false},"maxItems":3}},"required":["m"],"additionalProperties":false}`,
	}, {
		name: "an optional map becomes a nullable list",
		in:   `{"type":"object","properties":{"m":{"type":"object","additionalProperties":{"type":"string"}}}}`,
		want: `{"type":"object","properties":{"m":{"description":"A map, as a list of key/value entries with unique keys.","anyOf":[{"type":"array","items":{"type":"object","properties":{"key":{"type":"string"},"value":{"type":"string"}},"required":["key","value"],"additionalProperties":false}},{"type":"null"}]}},"required":["m"],"additionalProperties":false}`,
	}, {
		name: "anyOf next to type is distributed over the branches",
		in:   `{"type":"object","properties":{"n":{"type":"integer","description":"Outside 0..9.","anyOf":[{"maximum":-1},{"minimum":10}]}},"required":["n"]}`,
		want: `{"type":"object","properties":{"n":{"description":"Outside 0..9.","anyOf":[{"type":"integer","maximum":-1},{"type":"integer","minimum":10}]}},"required":["n"],"additionalProperties":false}`,
	}, {
		name: "several oneofs are each said in the description",
		in:   `{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},"c":{"type":"string"},"d":{"type":"string"}},"allOf":[{"oneOf":[{"required":["a"]},{"required":["b"]}]},{"oneOf":[{"required":["c"]},{"required":["d"]}]}]}`,
		want: `{"type":"object","description":"Exactly one of a, b must be non-null; set the others to null. Exactly one of c, d must be non-null; set the others to null.","properties":{"a":{"type":["string","null"]},"b":{"type":["string","null"]},"c":{"type":["string","null"]},"d":{"type":["string","null"]}},"required":["a","b","c","d"],"additionalProperties":false}`,
	}, {
		name: "property order is kept",
		in:   `{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"string"},"m":{"type":"string"}},"required":["z","a","m"]}`,
		want: `{"type":"object","properties":{"z":{"type":"string"},"a":{"type":"string"},"m":{"type":"string"}},"required":["z","a","m"],"additionalProperties":false}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := openai.Strict([]byte(tt.in))
			if err != nil {
				t.Fatalf("Strict: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Strict:\n got %s\nwant %s", got, tt.want)
			}
			if err := strictcheck.Check(got); err != nil {
				t.Errorf("strictcheck.Check(output): %v", err)
			}
		})
	}
}

func TestStrictErrors(t *testing.T) {
	t.Parallel()
	deep := `{"type":"string"}`
	for range openai.MaxStrictDepth {
		deep = fmt.Sprintf(`{"type":"object","properties":{"n":%s},"required":["n"]}`, deep)
	}
	tooDeep := fmt.Sprintf(`{"type":"object","properties":{"n":%s},"required":["n"]}`, deep)
	tests := []struct {
		name, in string
		want     error
		path     string
	}{
		{"root map", `{"type":"object","additionalProperties":{"type":"string"}}`, openai.ErrNotStrict, ""},
		{"map with fixed properties", `{"type":"object","properties":{"m":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}}}`, openai.ErrNotStrict, "/properties/m"},
		{"anyOf branch contradicting its siblings", `{"type":"object","properties":{"v":{"type":"integer","minimum":1,"anyOf":[{"minimum":5},{"maximum":0}]}}}`, openai.ErrNotStrict, "/properties/v/anyOf/0"},
		{"free-form value", `{"type":"object","properties":{"v":{}},"required":["v"]}`, openai.ErrNotStrict, "/properties/v"},
		{"schema true", `{"type":"object","properties":{"v":true},"required":["v"]}`, openai.ErrNotStrict, "/properties/v"},
		{"free-form object", `{"type":"object","properties":{"v":{"type":"object"}},"required":["v"]}`, openai.ErrNotStrict, "/properties/v"},
		{"array without items", `{"type":"object","properties":{"v":{"type":"array"}},"required":["v"]}`, openai.ErrNotStrict, "/properties/v"},
		{"enum of several types", `{"type":"object","properties":{"v":{"enum":["a",1]}},"required":["v"]}`, openai.ErrNotStrict, "/properties/v"},
		{"root anyOf", `{"anyOf":[{"type":"object","properties":{}}]}`, openai.ErrNotStrict, ""},
		{"root not an object", `{"type":"string"}`, openai.ErrNotStrict, ""},
		{"unsupported keyword", `{"type":"object","properties":{"v":{"type":"string","not":{"const":"x"}}}}`, openai.ErrNotStrict, "/properties/v"},
		{"nested $defs", `{"type":"object","properties":{"v":{"type":"object","properties":{},"$defs":{}}}}`, openai.ErrNotStrict, "/properties/v"},
		{"external $ref", `{"type":"object","properties":{"v":{"$ref":"other.json#/X"}}}`, openai.ErrNotStrict, "/properties/v/$ref"},
		{"missing definition", `{"type":"object","properties":{"v":{"$ref":"#/$defs/Nope"}}}`, openai.ErrInvalidSchema, "/properties/v/$ref"},
		{"not JSON", `{"type":`, openai.ErrInvalidSchema, ""},
		{"not an object", `[1]`, openai.ErrInvalidSchema, ""},
		{"required names no property", `{"type":"object","properties":{},"required":["x"]}`, openai.ErrInvalidSchema, "/required"},
		{"too deep", tooDeep, openai.ErrTooLarge, strings.Repeat("/properties/n", openai.MaxStrictDepth)},
		{"too many properties", wideObject(openai.MaxStrictProperties + 1), openai.ErrTooLarge, ""},
		{"too many enum values", enumObject(openai.MaxStrictEnumValues+1, 1), openai.ErrTooLarge, ""},
		{"large enum too long", enumObject(openai.StrictLargeEnum+1, openai.MaxStrictLargeEnumLength/openai.StrictLargeEnum+1), openai.ErrTooLarge, "/properties/e/enum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := openai.Strict([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Strict error = %v, want %v", err, tt.want)
			}
			var se *openai.SchemaError
			if !errors.As(err, &se) || se.Path != tt.path {
				t.Errorf("Strict error path = %q, want %q (%v)", se.Path, tt.path, err)
			}
		})
	}
}

// TestStrictAcceptsLimits: exactly at the limits is fine.
func TestStrictAcceptsLimits(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"properties": wideObject(openai.MaxStrictProperties),
		"enum":       enumObject(openai.MaxStrictEnumValues, 1),
	} {
		out, err := openai.Strict([]byte(in))
		if err != nil {
			t.Errorf("%s: openai.Strict: %v", name, err)
			continue
		}
		if err := strictcheck.Check(out); err != nil {
			t.Errorf("%s: CheckStrict: %v", name, err)
		}
	}
}

// FuzzStrict: whatever openai.Strict accepts, it turns into a schema the
// independent checker accepts, and converting that again changes nothing.
func FuzzStrict(f *testing.F) {
	for _, name := range []string{"ticket", "nested", "map"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".schema.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"$ref":"#"}]}}}`))
	f.Add([]byte(`{"type":"object","properties":{"e":{"enum":["a",null]},"t":{"type":["integer","string","null"],"minimum":1}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := openai.Strict(in)
		if err != nil {
			return
		}
		if err := strictcheck.Check(out); err != nil {
			t.Fatalf("strictcheck.Check(openai.Strict(%s)) = %v\noutput: %s", in, err, out)
		}
		again, err := openai.Strict(out)
		if err != nil {
			t.Fatalf("Strict(openai.Strict(%s)) = %v", in, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("Strict is not idempotent:\n once %s\ntwice %s", out, again)
		}
	})
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wideObject is an object with n string properties.
func wideObject(n int) string {
	var props, names []string
	for i := range n {
		props = append(props, fmt.Sprintf(`"p%d":{"type":"string"}`, i))
		names = append(names, fmt.Sprintf(`"p%d"`, i))
	}
	return `{"type":"object","properties":{` + strings.Join(props, ",") + `},"required":[` + strings.Join(names, ",") + `]}`
}

// enumObject has one enum property with n values of length size or more.
func enumObject(n, size int) string {
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf(`"%s%d"`, strings.Repeat("v", size), i)
	}
	return `{"type":"object","properties":{"e":{"type":"string","enum":[` + strings.Join(values, ",") + `]}},"required":["e"]}`
}

// TestFromEntries: entry lists become objects where the original schema
// declares a map (through $ref, items and nullable wrappers), and nothing
// else changes.
func TestFromEntries(t *testing.T) {
	t.Parallel()
	const schema = `{"type":"object","properties":{
		"m":{"type":"object","additionalProperties":{"$ref":"#/$defs/V"}},
		"list":{"type":"array","items":{"type":"object","additionalProperties":{"type":"integer"}}},
		"plain":{"type":"array","items":{"type":"object","properties":{"key":{"type":"string"},"value":{"type":"string"}}}}},
		"$defs":{"V":{"type":"object","properties":{"tags":{"type":"object","additionalProperties":{"type":"string"}}}}}}`
	tests := []struct {
		name, in, want string
		paths          []string
	}{{
		name:  "nested maps through $ref",
		in:    `{"m":[{"key":"a","value":{"tags":[{"key":"x","value":"1"}]}}]}`,
		want:  `{"m":{"a":{"tags":{"x":"1"}}}}`,
		paths: []string{"/m/a/tags", "/m"},
	}, {
		name:  "maps inside arrays; a repeated key keeps its last value",
		in:    `{"list":[[{"key":"a","value":1},{"key":"a","value":2}],[]]}`,
		want:  `{"list":[{"a":2},{}]}`,
		paths: []string{"/list/0", "/list/1"},
	}, {
		name: "key/value objects that are not a map stay",
		in:   `{"plain":[{"key":"a","value":"b"}]}`,
		want: `{"plain":[{"key":"a","value":"b"}]}`,
	}, {
		name: "null and already-objects stay",
		in:   `{"m":null,"list":[{"a":1}]}`,
		want: `{"m":null,"list":[{"a":1}]}`,
	}, {
		name: "not JSON stays",
		in:   `{"m":[`,
		want: `{"m":[`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, paths := openai.FromEntries([]byte(tt.in), []byte(schema))
			if string(got) != tt.want {
				t.Errorf("FromEntries = %s, want %s", got, tt.want)
			}
			if diff := cmp.Diff(tt.paths, paths); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}
