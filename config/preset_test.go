package config_test

import (
	"testing"

	"buf.build/go/protovalidate"

	"github.com/guardgen/guardgen/config"
	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// TestPresetsCoverSchema: every preset config.proto allows has a Presets
// entry with valid values, and no entry exists that the schema refuses.
func TestPresetsCoverSchema(t *testing.T) {
	t.Parallel()
	allowed := []string{"openai", "azure_openai", "ollama", "vllm", "llama_cpp", "anthropic", "gemini"}
	if len(config.Presets) != len(allowed) {
		t.Errorf("Presets has %d entries, config.proto allows %d", len(config.Presets), len(allowed))
	}
	for _, name := range allowed {
		p := &configv1.Provider{Name: "p", Type: "openai", Preset: name}
		if err := protovalidate.Validate(p); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
		got, ok := config.Presets[name]
		if !ok {
			t.Errorf("preset %s has no Presets entry", name)
			continue
		}
		p.OutputMode, p.TokenLimitField = got.OutputMode, got.TokenLimitField
		if err := protovalidate.Validate(p); err != nil || got.GenAIProviderName == "" {
			t.Errorf("preset %s = %+v: %v", name, got, err)
		}
	}
}

func TestOpenAICompat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider *configv1.Provider
		want     config.Preset
	}{
		{&configv1.Provider{Type: "openai"}, config.Presets["openai"]},
		{&configv1.Provider{Type: "openai", Preset: "ollama"}, config.Preset{OutputMode: "json_schema", TokenLimitField: "max_tokens", GenAIProviderName: "ollama"}},
		{&configv1.Provider{Type: "openai", Preset: "anthropic", OutputMode: "prompt", TokenLimitField: "both"},
			config.Preset{OutputMode: "prompt", TokenLimitField: "both", GenAIProviderName: "anthropic"}},
	}
	for _, tt := range tests {
		if got := config.OpenAICompat(tt.provider); got != tt.want {
			t.Errorf("OpenAICompat(%v) = %+v, want %+v", tt.provider, got, tt.want)
		}
	}
}
