package openai

import "testing"

// TestMaxIdleConns: the provider's own connections keep
// Options.MaxIdleConns idle ones to its one upstream host,
// DefaultMaxIdleConns for 0; so does its own transport, for an HTTPS
// upstream.
func TestMaxIdleConns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ set, want int }{{0, DefaultMaxIdleConns}, {5000, 5000}} {
		for _, base := range []string{"http://127.0.0.1:1/v1", "https://127.0.0.1:1/v1"} {
			p, err := New(Options{BaseURL: base, APIKey: "sk-test", Model: "gpt-test", MaxResponseBytes: 1 << 20, MaxIdleConns: tt.set})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case p.conns != nil:
				if base[:5] == "https" || p.conns.maxIdle != tt.want {
					t.Errorf("MaxIdleConns %d, %s: own connections keep %d idle; want %d, and only for http", tt.set, base, p.conns.maxIdle, tt.want)
				}
			case p.transport != nil:
				if got := p.transport.MaxIdleConnsPerHost; got != tt.want || p.transport.MaxIdleConns != tt.want || base[:5] != "https" {
					t.Errorf("MaxIdleConns %d, %s: transport keeps %d per host, %d in all; want %d, and only for https", tt.set, base, got, p.transport.MaxIdleConns, tt.want)
				}
			default:
				t.Errorf("%s: the provider has neither its own connections nor its own transport", base)
			}
			_ = p.Close()
		}
	}
}
