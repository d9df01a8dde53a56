package server

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/guardgen/guardgen/extract"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/schema"
)

// TestReportRepairs checks the report's list: the text's repairs (with
// their offsets), then the schema's changes, at most maxRepairs, then one
// entry counting the rest.
func TestReportRepairs(t *testing.T) {
	t.Parallel()
	text := func(n int) []extract.Repair {
		rs := make([]extract.Repair, n)
		for i := range rs {
			rs[i] = extract.Repair{Kind: extract.KindMissingComma, Offset: i, Path: "a[" + strconv.Itoa(i) + "]", Detail: "d"}
		}
		return rs
	}
	changes := func(n int) []schema.Change {
		cs := make([]schema.Change, n)
		for i := range cs {
			cs[i] = schema.Change{Kind: schema.ChangeMatchKey, Path: "k", Detail: "d"}
		}
		return cs
	}
	textEntry := func(i int) *guardgenv1.Repair {
		return &guardgenv1.Repair{Kind: extract.KindMissingComma, Detail: "d", Path: "a[" + strconv.Itoa(i) + "]", Offset: proto.Uint32(uint32(i))}
	}
	change := &guardgenv1.Repair{Kind: schema.ChangeMatchKey, Detail: "d", Path: "k"}
	entries := func(nText, nChanges int, more string) []*guardgenv1.Repair {
		var out []*guardgenv1.Repair
		for i := range nText {
			out = append(out, textEntry(i))
		}
		for range nChanges {
			out = append(out, change)
		}
		if more != "" {
			out = append(out, &guardgenv1.Repair{Kind: "more", Detail: more})
		}
		return out
	}
	tests := []struct {
		name    string
		text    []extract.Repair
		changes []schema.Change
		want    []*guardgenv1.Repair
	}{
		{name: "none", want: entries(0, 0, "")},
		{name: "text then changes", text: text(2), changes: changes(1), want: entries(2, 1, "")},
		{name: "exactly the limit", text: text(60), changes: changes(4), want: entries(60, 4, "")},
		{name: "text past the limit", text: text(70), changes: changes(3), want: entries(64, 0, "9")},
		{name: "changes past the limit", text: text(60), changes: changes(10), want: entries(60, 4, "6")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := reportRepairs(tc.text, tc.changes)
			if diff := cmp.Diff(tc.want, got, protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("reportRepairs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
