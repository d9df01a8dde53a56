package config_test

import (
	"fmt"

	"github.com/guardgen/guardgen/config"
)

func ExampleParse() {
	cfg, err := config.Parse("guardgen.yaml", []byte(`
llm_pipeline:
  execution:
    max_attempts: 4
    base_delay_seconds: 0.5
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	retry := config.Retry(cfg)
	fmt.Println(retry.MaxAttempts, retry.BaseDelay, retry.MaxDelay, retry.Jitter)
	fmt.Println(config.Route(cfg, "").GetEntries()[0].GetProvider())
	// Output:
	// 4 500ms 20s 0.3
	// synthetic
}

// A file that decodes is checked against every rule, and each broken one is
// reported at its line. (A file that does not decode, say with an unknown
// key, reports only its decoding errors.)
func ExampleParse_errors() {
	_, err := config.Parse("guardgen.yaml", []byte(`
llm_pipeline:
  execution:
    jitter_factor: 1.5
routes:
  - name: default
    entries:
      - provider: gpt
`))
	fmt.Println(err)
	// Output:
	// guardgen.yaml:4:20: llm_pipeline.execution.jitter_factor: 1.5 is out of range (must be 0–1) (double.gte_lte)
	// guardgen.yaml:8:19: routes[0].entries[0].provider: route entry names a provider that is not in providers (config.route_provider_exists)
}
