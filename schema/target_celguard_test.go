package schema

import (
	"context"
	"errors"
	"strings"
	"testing"
)

const guardedProto = `edition = "2023";
package guarded.v1;
import "buf/validate/validate.proto";

extend buf.validate.StringRules {
  bool no_spaces = 91000 [(buf.validate.predefined).cel = {
    id: "string.no_spaces"
    expression: "!rule || !this.contains(' ')"
  }];
}

enum Level {
  LEVEL_UNSPECIFIED = 0;
  LEVEL_LOW = 1;
}

message Doc {
  option (buf.validate.message).cel = {id: "doc.title_or_tags", expression: "this.title != '' || size(this.tags) > 0"};
  string title = 1 [(buf.validate.field).cel = {id: "title.short", expression: "this.size() < 100"}];
  repeated string tags = 2 [
    (buf.validate.field).cel = {id: "tags.few", expression: "this.size() < 50"},
    (buf.validate.field).repeated.items.string.(no_spaces) = true,
    (buf.validate.field).repeated.items.cel = {id: "tag.lower", expression: "this.lowerAscii() == this"}
  ];
  map<string, int32> counts = 3 [
    (buf.validate.field).cel = {id: "counts.few", expression: "this.size() < 10"},
    (buf.validate.field).map.keys.cel = {id: "count.key", expression: "this.size() > 0"},
    (buf.validate.field).map.values.cel = {id: "count.value", expression: "this >= 0"}
  ];
  Level level = 4 [(buf.validate.field).cel = {id: "level.known", expression: "this <= 1"}];
  repeated Section sections = 5;
  string note = 6 [(buf.validate.field).cel = {id: "note.set", expression: "this != ''"}];
}

message Section {
  option (buf.validate.message).cel = {id: "section.named", expression: "this.name != ''"};
  string name = 1;
}
`

// TestCELGuardBindsLikeProtovalidate runs the guard over every kind of rule
// site (message, field, list items, map keys and values, enum, nested
// message, predefined rule): each rule evaluates once per value, without
// an evaluation error, so the guard measures what protovalidate will run.
func TestCELGuardBindsLikeProtovalidate(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	tg := resolve(t, r, "guarded.v1.Doc", compileSet(t, map[string]string{"guarded.proto": guardedProto}, "guarded.proto"))
	if tg.guard == nil {
		t.Fatal("no guard for a type with CEL rules")
	}
	m, _, err := tg.Decode([]byte(`{"title":"a","tags":["x","y"],"counts":{"a":1,"b":2},"level":"LEVEL_LOW","sections":[{"name":"s1"},{"name":"s2"},{"name":"s3"}]}`), DecodeOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := tg.guard.walk(context.Background(), m.ProtoReflect())
	if err != nil {
		t.Fatal(err)
	}
	// doc rule 1, title 1, tags 1 + 2 items × 2 (cel, predefined),
	// counts 1 + 2 keys + 2 values, level 1, 3 sections; note is unset.
	if w.evals != 16 || w.errs != 0 {
		t.Errorf("guard ran %d evaluations with %d errors, want 16 and 0", w.evals, w.errs)
	}
	if err := tg.Validate(m); err != nil {
		t.Errorf("Validate(valid) = %v", err)
	}
	bad, _, err := tg.Decode([]byte(`{"tags":["has space"]}`), DecodeOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.Validate(bad); err == nil || !strings.Contains(err.Error(), "this.contains(' ')") {
		t.Errorf("Validate(bad) = %v, want the predefined rule violated", err)
	}
}

// TestCELGuardLimits: past the runtime cost limit, or with its context
// done, the guard stops and protovalidate never runs the rules.
func TestCELGuardLimits(t *testing.T) {
	t.Parallel()
	r := newResolver(t, Options{})
	tg := resolve(t, r, "guarded.v1.Doc", compileSet(t, map[string]string{"guarded.proto": guardedProto}, "guarded.proto"))
	m, _, err := tg.Decode([]byte(`{"title":"a","tags":["x","y","z"]}`), DecodeOptions{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	small := *tg
	guard := *tg.guard
	guard.limit = 5
	small.guard = &guard
	if err := small.Validate(m); !errors.Is(err, ErrRuleCostExceeded) {
		t.Errorf("Validate with a cost limit of 5 = %v, want ErrRuleCostExceeded", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tg.ValidateContext(ctx, m); !errors.Is(err, context.Canceled) {
		t.Errorf("ValidateContext(cancelled) = %v, want context.Canceled", err)
	}
}
