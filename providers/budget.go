package providers

import "sync"

// BudgetPolicy configures a provider's retry budget, a token bucket in the
// manner of gRFC A6 retry throttling: every failed attempt takes a token,
// every success gives back Ratio of one, and retries are allowed only while
// more than half the bucket is left. A sustained outage therefore drains
// the bucket and each request gets a single attempt, so retries cannot
// multiply upstream load. It is used as given: config.Default holds the
// defaults (10 tokens, ratio 0.1), and an enabled budget needs both.
type BudgetPolicy struct {
	// Disabled turns the budget off: retries are never refused for it.
	// The other fields are then ignored.
	Disabled bool
	// MaxTokens is the bucket size; positive.
	MaxTokens float64
	// Ratio is what a success gives back, within (0, 1].
	Ratio float64
}

type budget struct {
	mu     sync.Mutex
	tokens float64
	max    float64
	ratio  float64
}

func newBudget(p BudgetPolicy) *budget {
	if p.Disabled {
		return nil
	}
	return &budget{tokens: p.MaxTokens, max: p.MaxTokens, ratio: p.Ratio}
}

// failure records a failed attempt.
func (b *budget) failure() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.tokens = max(b.tokens-1, 0)
	b.mu.Unlock()
}

// success records a successful attempt.
func (b *budget) success() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.tokens = min(b.tokens+b.ratio, b.max)
	b.mu.Unlock()
}

// allowRetry reports whether a retry may be sent now.
func (b *budget) allowRetry() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens > b.max/2
}
