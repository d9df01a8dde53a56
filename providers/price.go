package providers

import providerv1 "github.com/guardgen/guardgen/gen/guardgen/provider/v1"

// Price is what a model's tokens cost, per million, in the currency of the
// table it is in.
type Price struct {
	Input       float64
	CachedInput float64
	Output      float64
}

// AnyModel is the Prices key that prices every model without an entry of
// its own.
const AnyModel = "*"

// Prices maps model names to prices.
type Prices map[string]Price

// Cost returns what usage cost on model, and false when the table has no
// price for it. Cached input tokens, a part of the input tokens, cost the
// cached price; reasoning tokens are part of the output tokens and cost
// the output price, as upstreams bill them.
func (p Prices) Cost(model string, u *providerv1.Usage) (float64, bool) {
	price, ok := p[model]
	if !ok {
		price, ok = p[AnyModel]
	}
	if !ok || u == nil {
		return 0, false
	}
	cached := min(max(u.GetCachedInputTokens(), 0), max(u.GetInputTokens(), 0))
	uncached := max(u.GetInputTokens(), 0) - cached
	return (float64(uncached)*price.Input + float64(cached)*price.CachedInput +
		float64(max(u.GetOutputTokens(), 0))*price.Output) / 1e6, true
}
