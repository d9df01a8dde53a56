package openai

import "testing"

// TestMaxIdleConns: the provider's own transport keeps Options.MaxIdleConns
// idle connections to its one upstream host, DefaultMaxIdleConns for 0.
func TestMaxIdleConns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ set, want int }{{0, DefaultMaxIdleConns}, {5000, 5000}} {
		p, err := New(Options{BaseURL: "http://127.0.0.1:1/v1", APIKey: "sk-test", Model: "gpt-test", MaxResponseBytes: 1 << 20, MaxIdleConns: tt.set})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.transport.MaxIdleConnsPerHost; got != tt.want || p.transport.MaxIdleConns != tt.want {
			t.Errorf("MaxIdleConns %d: transport keeps %d per host, %d in all; want %d", tt.set, got, p.transport.MaxIdleConns, tt.want)
		}
		_ = p.Close()
	}
}
