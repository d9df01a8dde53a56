package strictcheck_test

import (
	"fmt"

	"github.com/guardgen/guardgen/providers/openai"
	"github.com/guardgen/guardgen/providers/openai/strictcheck"
)

func ExampleCheck() {
	schema := []byte(`{"type":"object","properties":{"note":{"type":"string"}}}`)
	fmt.Println(strictcheck.Check(schema))
	strict, err := openai.Strict(schema)
	if err != nil {
		panic(err)
	}
	fmt.Println(strictcheck.Check(strict))
	// Output:
	// openai: schema outside the strict subset at /: an object must have additionalProperties: false
	// openai: schema outside the strict subset at /: an object must have required
	// openai: schema outside the strict subset at /properties/note: property "note" is not in required (all properties must be required; use a null type for optional ones)
	// <nil>
}
