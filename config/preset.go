package config

import configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"

// Preset is what an OpenAI-compatible server honours, as guardgen talks to
// it: the defaults of a provider's output_mode and token_limit_field, and
// the gen_ai.provider.name its spans and metrics carry. README.md
// ("OpenAI-compatible servers") says where each was checked.
type Preset struct {
	OutputMode      string
	TokenLimitField string
	// GenAIProviderName is the OpenTelemetry gen_ai.provider.name: a
	// well-known value where the conventions list the server, else the
	// server's own name.
	GenAIProviderName string
}

// DefaultPreset is the preset of an openai provider that names none.
const DefaultPreset = "openai"

// Presets are the provider presets config.proto documents, by name.
var Presets = map[string]Preset{
	// OpenAI: Structured Outputs, and max_completion_tokens, which its
	// reasoning models require (max_tokens is deprecated).
	"openai": {"json_schema", "max_completion_tokens", "openai"},
	// Azure OpenAI follows OpenAI's API versions: Structured Outputs and
	// max_completion_tokens.
	"azure_openai": {"json_schema", "max_completion_tokens", "azure.ai.openai"},
	// Ollama's OpenAI-compatible endpoint reads response_format (a JSON
	// Schema becomes its format) and max_tokens.
	"ollama": {"json_schema", "max_tokens", "ollama"},
	// vLLM takes response_format json_schema (guided decoding) and reads
	// max_tokens (newer versions also max_completion_tokens).
	"vllm": {"json_schema", "max_tokens", "vllm"},
	// llama.cpp's server turns response_format's schema into a grammar and
	// reads max_tokens.
	"llama_cpp": {"json_schema", "max_tokens", "llama.cpp"},
	// Anthropic's OpenAI SDK compatibility ignores response_format but
	// supports tools and a forced tool_choice; it reads max_tokens.
	"anthropic": {"tools", "max_tokens", "anthropic"},
	// Gemini's OpenAI compatibility takes response_format json_schema and
	// max_completion_tokens.
	"gemini": {"json_schema", "max_completion_tokens", "gcp.gemini"},
}

// OpenAICompat is how guardgen talks to an openai provider: its preset
// with the fields the provider sets itself in their place.
func OpenAICompat(p *configv1.Provider) Preset {
	name := p.GetPreset()
	if name == "" {
		name = DefaultPreset
	}
	out := Presets[name]
	if m := p.GetOutputMode(); m != "" {
		out.OutputMode = m
	}
	if f := p.GetTokenLimitField(); f != "" {
		out.TokenLimitField = f
	}
	return out
}
