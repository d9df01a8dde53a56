package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/guardgen/guardgen/app"
)

// chromium returns the headless browser's path. Without it the test is
// skipped, except under CI=true (Debian package chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not on PATH (CI=true requires it; Debian package chromium)")
	}
	t.Skip("chromium is not on PATH")
	return ""
}

// TestBrowserExample opens examples/clients/browser in headless Chromium,
// served from another origin than guardgen's, as a page on a web server
// would be: the page calls guardgen with the Connect protocol (CORS
// preflight included) and renders the validated ticket, or the
// FailureDetail of a failure.
func TestBrowserExample(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	page := httptest.NewServer(http.FileServer(http.Dir("../examples/clients/browser")))
	t.Cleanup(page.Close)
	base, _ := httpGuardgen(t, `
server:
  http:
    cors_allowed_origins: ["`+page.URL+`"]
`, app.Options{})

	tests := []struct {
		name   string
		faults string
		want   []*regexp.Regexp
	}{
		{"answer", "", []*regexp.Regexp{
			regexp.MustCompile(`data-state="ok"`),
			regexp.MustCompile(`id="result-category">(billing|technical|account|other)<`),
			regexp.MustCompile(`id="result-priority">[1-5]<`),
		}},
		{"failure", "content_filter", []*regexp.Regexp{
			regexp.MustCompile(`data-state="failed"`),
			regexp.MustCompile(`id="result-code">failed_precondition<`),
			regexp.MustCompile(`id="result-domain">FAILURE_DOMAIN_INPUT_CONSTRAINT<`),
			regexp.MustCompile(`id="result-reason">FAILURE_REASON_CONTENT_FILTER<`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"server": {base}}
			if tt.faults != "" {
				q.Set("faults", tt.faults)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			// The flags keep Chromium off the network it cannot reach here
			// and out of any profile; virtual time lets the page's fetch
			// finish before the DOM is printed.
			cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
				"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
				"--user-data-dir="+t.TempDir(), "--virtual-time-budget=20000", "--dump-dom", page.URL+"/index.html?"+q.Encode())
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium: %v\n%s", err, out)
			}
			for _, re := range tt.want {
				if !re.Match(out) {
					t.Errorf("the rendered page lacks %s:\n%s", re, out)
				}
			}
		})
	}
}
