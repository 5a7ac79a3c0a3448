package catalogue

// simplify drops, from the emitted definitions of one revision, keywords
// that cannot change a verdict but that the validators pay for: each
// subschema applied to a value costs github.com/santhosh-tekuri/jsonschema/v6
// several allocations, even an empty one. It removes
//
//   - "additionalProperties" that is {} or true (every property value is
//     then checked against a schema that accepts everything);
//   - property schemas that are {} in an object schema without
//     "additionalProperties" or "patternProperties" (the only keywords for
//     which being listed in "properties" matters);
//   - "properties" left empty.
//
// A schema is {} here when it has annotation keywords only (description,
// title, ...). The catalogue keeps these keywords where the specification
// has them (Obj().Values(Any()) is MCP's "additionalProperties": {}), so
// it stays close to schema.ts; the documents leave them out. None of our
// schemas uses unevaluatedProperties or unevaluatedItems, the keywords
// whose result the dropped ones could change; simplify panics if one does.
func simplify(defs map[string]any) {
	for _, s := range defs {
		walk(s, simplifyOne)
	}
}

// annotationKw are the keywords that never affect a verdict.
var annotationKw = map[string]bool{
	"description": true, "title": true, "$comment": true, "default": true,
	"examples": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// trivial reports whether s accepts every instance: true, or an object
// with annotation keywords only.
func trivial(s any) bool {
	switch s := s.(type) {
	case bool:
		return s
	case map[string]any:
		for k := range s {
			if !annotationKw[k] {
				return false
			}
		}
		return true
	}
	return false
}

// walk calls f on every schema object in s, children first.
func walk(s any, f func(map[string]any)) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	for k, v := range m {
		switch k {
		case "properties", "patternProperties", "$defs", "dependentSchemas":
			for _, sub := range v.(map[string]any) {
				walk(sub, f)
			}
		case "allOf", "anyOf", "oneOf", "prefixItems":
			for _, sub := range v.([]any) {
				walk(sub, f)
			}
		case "additionalProperties", "items", "contains", "not", "if", "then", "else", "propertyNames":
			walk(v, f)
		case "unevaluatedProperties", "unevaluatedItems":
			panic("catalogue: simplify assumes no " + k)
		}
	}
	f(m)
}

// simplifyOne drops the no-op keywords of one schema object.
func simplifyOne(m map[string]any) {
	if ap, ok := m["additionalProperties"]; ok && trivial(ap) {
		delete(m, "additionalProperties")
	}
	props, ok := m["properties"].(map[string]any)
	if !ok {
		return
	}
	_, ap := m["additionalProperties"]
	_, pp := m["patternProperties"]
	if !ap && !pp {
		for name, p := range props {
			if trivial(p) {
				delete(props, name)
			}
		}
	}
	if len(props) == 0 {
		delete(m, "properties")
	}
}
