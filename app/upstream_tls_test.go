package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/config"
	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
	"github.com/guardgen/guardgen/providers/openai/openaitest"
)

// TestOpenAIProviderTLS: providers[].tls is honoured for an openai
// provider as for a plug-in: with the server's certificate as ca_file the
// call goes through, over HTTP/2 as with api.openai.com; without it the
// certificate is refused; tls on an http:// base_url is a configuration
// error, not a silent plaintext connection.
func TestOpenAIProviderTLS(t *testing.T) {
	t.Parallel()
	up := openaitest.New(openaitest.WithTLS())
	t.Cleanup(up.Close)
	ca := filepath.Join(t.TempDir(), "upstream-ca.pem")
	if err := os.WriteFile(ca, up.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(t *testing.T, baseURL, tls string) guardgenv1.GenerationServiceClient {
		return guardgenv1.NewGenerationServiceClient(openaiGuardgenAt(t, baseURL, tls, app.Options{}).Dial(t))
	}
	req := &guardgenv1.GenerateRequest{Prompt: "charged twice", TargetType: ticketType}

	t.Run("trusted", func(t *testing.T) {
		gen := start(t, up.URL(), "    tls:\n      ca_file: "+ca)
		up.Enqueue(openaitest.Reply(validTicket))
		if _, err := generate(t, gen, req); err != nil {
			t.Fatal(err)
		}
		reqs := up.Requests()
		if got := reqs[len(reqs)-1].Proto; got != "HTTP/2.0" {
			t.Errorf("upstream saw %s, want HTTP/2.0", got)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		gen := start(t, up.URL(), "")
		before := len(up.Requests())
		_, err := generate(t, gen, req)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("got %v, want UNAVAILABLE: the upstream's certificate is not trusted", err)
		}
		if n := len(up.Requests()) - before; n != 0 {
			t.Errorf("%d requests reached the upstream past an untrusted certificate", n)
		}
	})
	t.Run("tls on http", func(t *testing.T) {
		cfg, err := config.Parse("test.yaml", fmt.Appendf(nil, `
providers:
  - name: upstream
    type: openai
    base_url: http://127.0.0.1:1/v1
    model: test-model
    tls:
      ca_file: %s
routes:
  - name: default
    entries:
      - provider: upstream
`, ca))
		// Refused by the configuration's own rules, so --check-config
		// says it before anything starts.
		if err == nil || !strings.Contains(err.Error(), "tls") || !strings.Contains(err.Error(), "https") {
			t.Fatalf("config %v, got %v; want an error saying tls needs an https base_url", cfg != nil, err)
		}
	})
}
