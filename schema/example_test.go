package schema_test

import (
	"fmt"

	"github.com/guardgen/guardgen/schema"
)

func ExampleTarget_Decode() {
	r, err := schema.NewResolver(schema.Options{RequestTypesOff: true})
	if err != nil {
		panic(err)
	}
	target, err := r.Resolve("guardgen.examples.v1.TicketClassification", nil)
	if err != nil {
		panic(err)
	}
	output := []byte(`{"category":"billing","priority":9,"summary":"Charged twice","confidence":0.9}`)
	m, changes, err := target.Decode(output, schema.DecodeOptions{})
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Println(c.Kind, c)
	}
	fmt.Println(target.Validate(m))

	incident, err := r.Resolve("guardgen.examples.v1.IncidentReport", nil)
	if err != nil {
		panic(err)
	}
	output = []byte(`{"title":"Checkout down","severity":"High","services":{"name":"checkout"}}`)
	_, changes, err = incident.Decode(output, schema.DecodeOptions{})
	if err != nil {
		panic(err)
	}
	for _, c := range changes {
		fmt.Println(c.Kind, c)
	}
	_, _, err = incident.Decode(output, schema.DecodeOptions{Strict: true})
	fmt.Println(err)
	// Output:
	// drop_unknown_field confidence: no field has this name: dropped
	// validation error: priority: must be greater than or equal to 1 and less than or equal to 5
	// coerce_enum severity: "High" → SEVERITY_HIGH
	// wrap_repeated services: a single object read as a list of one
	// severity: not coerced in strict mode: an enum name in another case or without its prefix, for SEVERITY_HIGH
}

func ExampleResolver_Resolve() {
	r, err := schema.NewResolver(schema.Options{RequestTypesOff: true})
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
	// target_type: unknown type "guardgen.examples.v1.Ticket"; known: guardgen.examples.v1.AffectedService, guardgen.examples.v1.IncidentReport, guardgen.examples.v1.Person, guardgen.examples.v1.Producto, guardgen.examples.v1.ShellStep, guardgen.examples.v1.TaskTree, guardgen.examples.v1.TicketClassification, guardgen.examples.v1.TicketTags, guardgen.examples.v1.TimelineEntry, guardgen.examples.v1.VerifiedTicketClassification, google.protobuf.BoolValue, google.protobuf.BytesValue, google.protobuf.DoubleValue, google.protobuf.FloatValue, google.protobuf.Int32Value, google.protobuf.Int64Value, google.protobuf.ListValue, google.protobuf.StringValue, google.protobuf.Struct, google.protobuf.UInt32Value, and 2 more
	// guardgen_examples_v1_TaskTree
	// {"$schema":"https://json-schema.org/draft/2020-12/schema","title":"guardgen.examples.v1.TaskTree","type":"object","properties":{"title":{"type":"string","minLength":1,"maxLength":200},"estimateMinutes":{"type":"integer","minimum":0,"maximum":10080},"subtasks":{"type":"array","items":{"$ref":"#"},"maxItems":10}},"required":["title"],"additionalProperties":false}
}
