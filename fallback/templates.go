package fallback

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Templates holds a fixed fallback message per target type, as JSON from
// config: the last step of the degradation chain before the FailureDetail.
// A nil *Templates has none. Templates is immutable and safe for
// concurrent use.
type Templates struct {
	byType map[string]string
}

// NewTemplates returns the templates in byType, which maps a fully
// qualified message name to the message as protojson. It checks only that
// each template is a JSON object, so that a typo fails at start; whether it
// decodes into its type and passes validation is for the caller, which
// knows the descriptors. byType is copied.
func NewTemplates(byType map[string]string) (*Templates, error) {
	for _, typ := range slices.Sorted(maps.Keys(byType)) {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(byType[typ]), &obj); err != nil {
			return nil, fmt.Errorf("fallback: template for %s: %w", typ, err)
		}
		if obj == nil {
			return nil, fmt.Errorf("fallback: template for %s: null is not a JSON object", typ)
		}
	}
	return &Templates{byType: maps.Clone(byType)}, nil
}

// Get returns the template JSON for targetType and true, or false when
// there is none.
func (t *Templates) Get(targetType string) (msgJSON string, ok bool) {
	if t == nil {
		return "", false
	}
	msgJSON, ok = t.byType[targetType]
	return msgJSON, ok
}
