package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	configv1 "github.com/guardgen/guardgen/gen/guardgen/config/v1"
)

// Validate checks cfg against the rules of config.proto and the checks CEL
// cannot express (templates must be JSON objects). It is for configurations
// built in code; [Parse] and [Load] run it on every file. A broken rule is a
// *protovalidate.ValidationError.
func Validate(cfg *configv1.Config) error {
	return check(cfg, cfg)
}

// fileValidator is the protoyaml.Validator of [Parse]. protoyaml hands it
// the message decoded from the file; it validates the file overlaid on the
// defaults, which is what guardgen will run with, and protoyaml then puts
// each violation at the file's node for the violation's field path (or the
// nearest enclosing node the file has).
type fileValidator struct {
	merged *configv1.Config
}

func (v *fileValidator) Validate(m proto.Message) error {
	file, ok := m.(*configv1.Config)
	if !ok {
		return fmt.Errorf("config: validating %T, want *configv1.Config", m)
	}
	v.merged = overlay(Default(), file)
	return check(file, v.merged)
}

// check validates merged, the configuration in effect, and narrows
// message-level violations to the fields that cause them; file is what the
// file set, and decides which of two fields a violation is reported at.
func check(file, merged *configv1.Config) error {
	var violations []*protovalidate.Violation
	err := protovalidate.Validate(merged)
	if verr, ok := errors.AsType[*protovalidate.ValidationError](err); ok {
		violations = verr.Violations
	} else if err != nil {
		return err
	}
	var out []*protovalidate.Violation
	for _, v := range violations {
		locate, ok := locators[v.Proto.GetRuleId()]
		if !ok {
			out = append(out, v)
			continue
		}
		paths := locate(file, merged)
		if len(paths) == 0 {
			out = append(out, v)
			continue
		}
		for _, p := range paths {
			out = append(out, at(v, p))
		}
	}
	out = append(out, templateViolations(merged)...)
	for _, v := range out {
		outOfRange(v)
	}
	if len(out) == 0 {
		return nil
	}
	return &protovalidate.ValidationError{Violations: out}
}

// A path is a field path from Config: field names (string), list indexes
// (int) and map keys (mapKey).
type path []any

type mapKey string

// locators narrow a message-level rule of config.proto to the fields that
// break it, so that the error names their line rather than the enclosing
// block's. The rules themselves live in the proto; a locator only says
// where. A rule without a locator (or a locator that finds nothing) is
// reported at its message.
var locators = map[string]func(file, merged *configv1.Config) []path{
	"config.default_route_exists": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"default_route"}, path{"routes"})
	},
	"config.route_provider_exists": func(file, merged *configv1.Config) []path {
		var out []path
		for i, r := range merged.GetRoutes() {
			for j, e := range r.GetEntries() {
				if Provider(merged, e.GetProvider()) != nil {
					continue
				}
				// An entry of the default route is not in the file: the
				// file's providers list left its provider out.
				p := firstSet(file, path{"routes", i, "entries", j, "provider"}, path{"providers"})
				if len(p) == 1 && !slices.ContainsFunc(out, func(q path) bool { return slices.Equal(q, p[0]) }) {
					out = append(out, p[0])
				}
			}
		}
		return out
	},
	"config.route_callers_need_auth": func(file, merged *configv1.Config) []path {
		for i, r := range merged.GetRoutes() {
			if len(r.GetCallers()) > 0 {
				return firstSet(file, path{"routes", i, "callers"})
			}
		}
		return nil
	},
	"config.provider_names_unique": func(_, merged *configv1.Config) []path {
		return duplicates("providers", merged.GetProviders(), (*configv1.Provider).GetName)
	},
	"config.route_names_unique": func(_, merged *configv1.Config) []path {
		return duplicates("routes", merged.GetRoutes(), (*configv1.Route).GetName)
	},
	"execution.delays_ordered": func(file, _ *configv1.Config) []path {
		return firstSet(file,
			path{"llm_pipeline", "execution", "base_delay_seconds"},
			path{"llm_pipeline", "execution", "max_delay_seconds"})
	},
	"routing.input_constraint_rejects": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"llm_pipeline", "routing", "input_constraint", "action"})
	},
	"cache.redis_address": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"cache", "redis", "address"}, path{"cache", "backend"})
	},
	"cache.redis_hmac_key": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"cache", "hmac_key_env"}, path{"cache", "backend"})
	},
	"server.prompt_within_message": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"server", "max_prompt_bytes"}, path{"server", "max_message_bytes"})
	},
	"server.descriptor_set_within_message": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"server", "max_descriptor_set_bytes"}, path{"server", "max_message_bytes"})
	},
	"server.drain_within_shutdown": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"server", "drain_delay_seconds"}, path{"server", "shutdown_timeout_seconds"})
	},
	"server.semantic_within_calls": func(file, _ *configv1.Config) []path {
		return firstSet(file, path{"server", "semantic_attempts"}, path{"server", "max_provider_calls"})
	},
}

// firstSet returns the first of paths that file sets, if any.
func firstSet(file *configv1.Config, paths ...path) []path {
	for _, p := range paths {
		if _, set := resolve(file, p); set {
			return []path{p}
		}
	}
	return nil
}

// duplicates returns the name paths of list items whose name an earlier
// item already has.
func duplicates[T any](field string, items []T, name func(T) string) []path {
	var (
		seen []string
		out  []path
	)
	for i, item := range items {
		n := name(item)
		if slices.Contains(seen, n) {
			out = append(out, path{field, i, "name"})
		}
		seen = append(seen, n)
	}
	return out
}

// templateViolations checks what CEL cannot: each template is a JSON object.
// Whether it decodes into its target type is checked where targets are
// resolved, at start.
func templateViolations(cfg *configv1.Config) []*protovalidate.Violation {
	templates := cfg.GetTargets().GetTemplates()
	keys := make([]string, 0, len(templates))
	for k := range templates {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []*protovalidate.Violation
	for _, k := range keys {
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(templates[k]), &obj) == nil && obj != nil {
			continue
		}
		elems, _ := resolve(cfg, path{"targets", "templates", mapKey(k)})
		out = append(out, &protovalidate.Violation{Proto: validate.Violation_builder{
			Field:   validate.FieldPath_builder{Elements: elems}.Build(),
			RuleId:  proto.String("targets.template_json"),
			Message: proto.String("template must be the JSON text of an object"),
		}.Build()})
	}
	return out
}

// at returns v reported at p instead of at its message.
func at(v *protovalidate.Violation, p path) *protovalidate.Violation {
	// The merged config has every element of p; resolving against the
	// descriptor is what matters here.
	elems, _ := resolve(&configv1.Config{}, p)
	moved := proto.CloneOf(v.Proto)
	moved.SetField(validate.FieldPath_builder{Elements: elems}.Build())
	return &protovalidate.Violation{Proto: moved, RuleValue: v.RuleValue, RuleDescriptor: v.RuleDescriptor}
}

// resolve turns p into protovalidate field path elements, following the
// Config descriptor, and reports whether cfg sets the field p ends at (and
// so has a YAML node for it, when cfg came from a file).
func resolve(cfg *configv1.Config, p path) ([]*validate.FieldPathElement, bool) {
	var (
		elems []*validate.FieldPathElement
		md    = cfg.ProtoReflect().Descriptor() // the message the next name is in
		cur   = cfg.ProtoReflect()              // its value, while set holds
		set   = true
		fd    protoreflect.FieldDescriptor
		val   protoreflect.Value
	)
	for _, step := range p {
		switch s := step.(type) {
		case string:
			if md == nil {
				panic(fmt.Sprintf("config: path %v steps into the scalar %s", p, fd.FullName()))
			}
			fd = md.Fields().ByName(protoreflect.Name(s))
			if fd == nil {
				panic(fmt.Sprintf("config: path %v: no field %q in %s", p, s, md.FullName()))
			}
			set = set && cur.Has(fd)
			if set {
				val = cur.Get(fd)
			}
			elems = append(elems, validate.FieldPathElement_builder{
				FieldNumber: proto.Int32(int32(fd.Number())),
				FieldName:   proto.String(string(fd.Name())),
				FieldType:   descriptorpb.FieldDescriptorProto_Type(fd.Kind()).Enum(),
			}.Build())
			md = nil
			if !fd.IsList() && !fd.IsMap() {
				md = fd.Message()
			}
		case int:
			elems[len(elems)-1].SetIndex(uint64(s))
			set = set && s < val.List().Len()
			if set {
				val = val.List().Get(s)
			}
			md = fd.Message()
		case mapKey:
			last := elems[len(elems)-1]
			last.SetKeyType(descriptorpb.FieldDescriptorProto_Type(fd.MapKey().Kind()))
			last.SetValueType(descriptorpb.FieldDescriptorProto_Type(fd.MapValue().Kind()))
			last.SetStringKey(string(s))
			k := protoreflect.ValueOfString(string(s)).MapKey()
			set = set && val.Map().Has(k)
			if set {
				val = val.Map().Get(k)
			}
			md = fd.MapValue().Message()
		}
		if set && md != nil {
			cur = val.Message()
		}
	}
	return elems, set
}
