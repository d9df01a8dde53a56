package schema_test

import (
	"fmt"

	"github.com/guardgen/guardgen/schema"
)

func ExampleTarget_Decode() {
	r, err := schema.NewResolver(schema.Options{})
	if err != nil {
		panic(err)
	}
	target, err := r.Resolve("guardgen.examples.v1.TicketClassification", nil)
	if err != nil {
		panic(err)
	}
	output := []byte(`{"category":"billing","priority":9,"summary":"Charged twice","confidence":0.9}`)
	m, drops, err := target.Decode(output, schema.DecodeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("dropped:", drops)
	fmt.Println(target.Validate(m))
	// Output:
	// dropped: [{confidence}]
	// validation error: priority: must be greater than or equal to 1 and less than or equal to 5
}

func ExampleResolver_Resolve() {
	r, err := schema.NewResolver(schema.Options{})
	if err != nil {
		panic(err)
	}
	_, err = r.Resolve("guardgen.examples.v1.Ticket", nil)
	fmt.Println(err)
	target, err := r.Resolve("guardgen.examples.v1.TaskTree", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(target.Name)
	fmt.Println(string(target.JSONSchema))
	// Output:
	// target_type: unknown type "guardgen.examples.v1.Ticket"; known: guardgen.examples.v1.AffectedService, guardgen.examples.v1.IncidentReport, guardgen.examples.v1.TaskTree, guardgen.examples.v1.TicketClassification, guardgen.examples.v1.TimelineEntry
	// guardgen_examples_v1_TaskTree
	// {"$schema":"https://json-schema.org/draft/2020-12/schema","title":"guardgen.examples.v1.TaskTree","type":"object","properties":{"title":{"type":"string","minLength":1,"maxLength":200},"estimateMinutes":{"type":"integer","minimum":0,"maximum":10080},"subtasks":{"type":"array","items":{"$ref":"#"},"maxItems":10}},"required":["title"],"additionalProperties":false}
}
