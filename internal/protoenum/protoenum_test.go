package protoenum_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/guardgen/guardgen/gen/guardgen/config/v1"
	providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/internal/protoenum"
)

// TestEveryGuardgenEnumHasItsPrefix: every value of every enum guardgen
// declares starts with the Prefix of its enum, so Name never returns a
// value name whole; and Lookup finds each value again by Name and Lower.
func TestEveryGuardgenEnumHasItsPrefix(t *testing.T) {
	t.Parallel()
	n := 0
	protoregistry.GlobalTypes.RangeEnums(func(et protoreflect.EnumType) bool {
		ed := et.Descriptor()
		if !strings.HasPrefix(string(ed.FullName()), "guardgen.") {
			return true
		}
		n++
		prefix := protoenum.Prefix(ed)
		for i := range ed.Values().Len() {
			v := ed.Values().Get(i)
			if !strings.HasPrefix(string(v.Name()), prefix) {
				t.Errorf("%s: value %s lacks the prefix %s", ed.FullName(), v.Name(), prefix)
			}
			e := et.New(v.Number())
			for _, name := range []string{protoenum.Name(e), protoenum.Lower(e)} {
				if got, ok := protoenum.Lookup(ed, name); !ok || got != v.Number() {
					t.Errorf("Lookup(%s, %q) = %d, %v; want %d", ed.FullName(), name, got, ok, v.Number())
				}
			}
		}
		return true
	})
	if n < 5 {
		t.Errorf("found %d guardgen enums; the generated packages are not linked in", n)
	}
}

func TestPrefix(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		e    protoreflect.Enum
		want string
	}{
		{guardgenv1.FailureReason(0), "FAILURE_REASON_"},
		{guardgenv1.RecoveryAction(0), "RECOVERY_ACTION_"},
		{providerv1.FinishReason(0), "FINISH_REASON_"},
	} {
		if got := protoenum.Prefix(tt.e.Descriptor()); got != tt.want {
			t.Errorf("Prefix(%s) = %q, want %q", tt.e.Descriptor().Name(), got, tt.want)
		}
	}
}

func TestLookupRefuses(t *testing.T) {
	t.Parallel()
	ed := guardgenv1.RecoveryAction(0).Descriptor()
	for _, name := range []string{"", "Retry_With_Backoff", "RECOVERY_ACTION_RETRY_WITH_BACKOFF", "retry", "retry-with-backoff"} {
		if n, ok := protoenum.Lookup(ed, name); ok {
			t.Errorf("Lookup(%q) = %d, want none", name, n)
		}
	}
}

func ExampleName() {
	fmt.Println(protoenum.Name(guardgenv1.FailureReason_FAILURE_REASON_RATE_LIMITED))
	fmt.Println(protoenum.Lower(guardgenv1.RecoveryAction_RECOVERY_ACTION_FALLBACK_TO_CACHE))
	fmt.Println(protoenum.Name(guardgenv1.FailureReason(999)))
	// Output:
	// RATE_LIMITED
	// fallback_to_cache
	// 999
}
