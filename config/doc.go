// Package config reads guardgen's configuration: a YAML file whose schema is
// the proto message guardgen.config.v1.Config (proto/guardgen/config/v1),
// decoded with buf.build/go/protoyaml and checked with protovalidate.
//
// # Defaults and merge
//
// [Default] is the built-in configuration: the article's template values
// (3 attempts, 2 s base delay, 20 s cap, 0.3 jitter, ...), one synthetic
// provider and a route named "default" to it. [Load] and [Parse] overlay a
// file on it:
//
//   - a scalar the file sets replaces the default (the schema marks scalars
//     with a default `optional`, so `strict_schema_mode: false` or
//     `metrics_listen: ""` count as set);
//   - a list or map the file sets replaces the default's whole list or map,
//     it is never appended to (an empty list counts as unset);
//   - a message the file sets is merged field by field by these rules;
//   - whatever the file leaves out keeps its default.
//
// The rules are checked on the result, so a file that only sets
// base_delay_seconds: 30 fails against the default cap of 20 s.
//
// # Errors
//
// An unknown key, a key set twice, a value of the wrong YAML type and a
// broken rule all fail, each as an [*Error] naming the file, line, column
// and reason:
//
//	guardgen.yaml:7:5: unknown field "max_attemps", expected one of [...]
//	guardgen.yaml:4:20: llm_pipeline.execution.jitter_factor: 1.5 is out of range (must be 0–1) (double.gte_lte)
//
// Decoding problems are reported first: the rules are checked only once the
// file decodes, so that a typo does not also surface as a missing value. A
// rule that spans fields (a route naming an unknown provider) is reported at
// the field that breaks it. Several problems are joined with errors.Join, in
// file order. YAML syntax errors keep yaml's own wording and line number.
// Errors never quote the file's text, so a secret pasted into the wrong key
// does not reach the logs.
//
// # Typed views
//
// The wiring in main reads the message directly and uses the helpers here
// for what the YAML spells as strings or seconds: [Action], [Domain],
// [Routing], [InfraReasons], [Retry] and [Seconds].
package config
