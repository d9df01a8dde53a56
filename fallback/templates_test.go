package fallback_test

import (
	"testing"

	"github.com/guardgen/guardgen/fallback"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	src := map[string]string{ticket: `{"category":"other","priority":3,"summary":"unavailable"}`}
	tpl, err := fallback.NewTemplates(src)
	if err != nil {
		t.Fatalf("NewTemplates: %v", err)
	}
	src[ticket] = "changed after NewTemplates"
	if got, ok := tpl.Get(ticket); !ok || got != `{"category":"other","priority":3,"summary":"unavailable"}` {
		t.Errorf("Get(%s) = %q, %v", ticket, got, ok)
	}
	if got, ok := tpl.Get("guardgen.examples.v1.Unknown"); ok {
		t.Errorf("Get(unknown) = %q, true", got)
	}
	var none *fallback.Templates
	if _, ok := none.Get(ticket); ok {
		t.Error("nil Templates Get: want false")
	}
}

func TestNewTemplatesRejectsNonObjects(t *testing.T) {
	t.Parallel()
	for _, js := range []string{``, `null`, `[]`, `"text"`, `3`, `{"a":`, `{"a":1} {}`} {
		t.Run(js, func(t *testing.T) {
			t.Parallel()
			if _, err := fallback.NewTemplates(map[string]string{ticket: js}); err == nil {
				t.Errorf("NewTemplates(%q): want an error", js)
			}
		})
	}
}
