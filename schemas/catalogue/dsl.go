// Package catalogue is the single source of truth for mcpbroker's MCP
// schemas: a revision-annotated catalogue of every MCP type, from which
// `go generate ./schemas` emits one JSON Schema (draft 2020-12) per
// revision into schemas/json.
//
// A definition, a field, a union member or a whole node can be limited to a
// span of revisions (Since, Until, Between). Emit walks the catalogue for
// one revision and keeps only what that revision has. The catalogue was
// written by hand from the MCP specification (schema.ts and the prose of
// each revision); it is not derived from the official schema.json files,
// which tests only compare against.
package catalogue

import (
	"fmt"
	"sort"

	"github.com/mcpbroker/mcpbroker/schemas"
)

// Span is an inclusive range of revisions. A zero From means the oldest
// revision and a zero To the newest.
type Span struct{ From, To schemas.Revision }

// Always is the span of every revision.
var Always = Span{}

// Since is the span from r to the newest revision.
func Since(r schemas.Revision) Span { return Span{From: r} }

// Until is the span from the oldest revision to r, inclusive.
func Until(r schemas.Revision) Span { return Span{To: r} }

// Between is the span from a to b, inclusive.
func Between(a, b schemas.Revision) Span { return Span{From: a, To: b} }

// Has reports whether r is in the span.
func (s Span) Has(r schemas.Revision) bool {
	return (s.From == 0 || r >= s.From) && (s.To == 0 || r <= s.To)
}

// Short names for revisions, for compact catalogue entries.
const (
	R1 = schemas.V20241105
	R2 = schemas.V20250326
	R3 = schemas.V20250618
	R4 = schemas.V20251125
	R5 = schemas.V20260728
)

// Node is a schema fragment that may differ by revision. Emit returns its
// JSON Schema for revision r, and ok=false when r does not have it at all.
type Node interface {
	Emit(r schemas.Revision) (schema map[string]any, ok bool)
}

// Def is one named definition ($defs entry).
type Def struct {
	Name string
	Span Span
	Doc  string
	Node Node
}

// D declares a definition present in the given span.
func D(name string, span Span, n Node) Def { return Def{Name: name, Span: span, Node: n} }

// Doc sets the definition's description.
func (d Def) WithDoc(doc string) Def { d.Doc = doc; return d }

// ---- leaves ----

type leaf map[string]any

func (l leaf) Emit(schemas.Revision) (map[string]any, bool) { return clone(l), true }

// Str is {"type":"string"}.
func Str() Node { return leaf{"type": "string"} }

// StrFormat is a string with a format annotation (formats are not asserted).
func StrFormat(format string) Node { return leaf{"type": "string", "format": format} }

// Const is a string constant: {"type":"string","const":v}.
func Const(v string) Node { return leaf{"type": "string", "const": v} }

// Enum is a string enumeration.
func Enum(vs ...string) Node {
	a := make([]any, len(vs))
	for i, v := range vs {
		a[i] = v
	}
	return leaf{"type": "string", "enum": a}
}

// Int is {"type":"integer"}.
func Int() Node { return leaf{"type": "integer"} }

// Num is {"type":"number"}.
func Num() Node { return leaf{"type": "number"} }

// Bool is {"type":"boolean"}.
func Bool() Node { return leaf{"type": "boolean"} }

// Null is {"type":"null"}.
func Null() Node { return leaf{"type": "null"} }

// Any accepts every JSON value ({}).
func Any() Node { return leaf{} }

// Types is a value of any of the listed JSON types: {"type":[...]}.
func Types(ts ...string) Node {
	a := make([]any, len(ts))
	for i, t := range ts {
		a[i] = t
	}
	return leaf{"type": a}
}

// Raw is a literal schema fragment, for the rare keyword the DSL lacks.
func Raw(m map[string]any) Node { return leaf(m) }

// Ref refers to another definition of the same revision.
func Ref(name string) Node { return leaf{"$ref": "#/$defs/" + name} }

// ---- modifiers ----

// With adds keywords (minimum, maximum, minItems, ...) to a node's schema
// in every revision where the node exists.
func With(n Node, kw map[string]any) Node { return with{n, kw, Always} }

// WithIn adds keywords only in the given span.
func WithIn(span Span, n Node, kw map[string]any) Node { return with{n, kw, span} }

type with struct {
	n    Node
	kw   map[string]any
	span Span
}

func (w with) Emit(r schemas.Revision) (map[string]any, bool) {
	m, ok := w.n.Emit(r)
	if !ok {
		return nil, false
	}
	if w.span.Has(r) {
		for k, v := range w.kw {
			m[k] = v
		}
	}
	return m, true
}

// Min and Max bound a number.
func Min(n Node, v float64) Node { return With(n, map[string]any{"minimum": v}) }

// Range bounds a number on both sides.
func Range(n Node, lo, hi float64) Node {
	return With(n, map[string]any{"minimum": lo, "maximum": hi})
}

// ---- arrays ----

// Arr is an array whose items match the node.
func Arr(items Node) Node { return arr{items: items} }

type arr struct{ items Node }

func (a arr) Emit(r schemas.Revision) (map[string]any, bool) {
	it, ok := a.items.Emit(r)
	if !ok {
		return nil, false
	}
	return map[string]any{"type": "array", "items": it}, true
}

// ---- objects ----

// Field is one property of an object.
type Field struct {
	Name     string
	Node     Node
	Span     Span // revisions that have the field
	Required Span // revisions where it is required (only within Span)
	required bool
}

// Opt declares an optional property, present in every revision.
func Opt(name string, n Node) Field { return Field{Name: name, Node: n} }

// Req declares a required property, present and required in every revision.
func Req(name string, n Node) Field { return Field{Name: name, Node: n, required: true} }

// In limits the field to a span of revisions.
func (f Field) In(s Span) Field { f.Span = s; return f }

// ReqIn makes the field required only in the given span (it stays optional
// elsewhere in its own span).
func (f Field) ReqIn(s Span) Field { f.required = true; f.Required = s; return f }

func (f Field) present(r schemas.Revision) bool { return f.Span.Has(r) }
func (f Field) isRequired(r schemas.Revision) bool {
	return f.required && f.Required.Has(r)
}

// Obj is a JSON object with the given properties. Objects are open (extra
// properties allowed) unless Closed is used, matching MCP's schemas.
func Obj(fields ...Field) *ObjNode { return &ObjNode{fields: fields} }

// ObjNode is the node built by Obj; its methods refine it.
type ObjNode struct {
	fields     []Field
	values     Node // additionalProperties schema, nil = open
	valuesSpan Span
	extra      []struct {
		span Span
		kw   map[string]any
	}
	untyped bool
}

// Values sets the schema of additional property values (a map).
func (o *ObjNode) Values(n Node) *ObjNode { o.values = n; return o }

// ValuesIn sets the schema of additional property values in a span only.
func (o *ObjNode) ValuesIn(s Span, n Node) *ObjNode { o.values = n; o.valuesSpan = s; return o }

// Extra adds keywords to the object's schema in a span.
func (o *ObjNode) Extra(s Span, kw map[string]any) *ObjNode {
	o.extra = append(o.extra, struct {
		span Span
		kw   map[string]any
	}{s, kw})
	return o
}

// Untyped drops "type":"object" (for fragments applied to an object that is
// typed elsewhere, such as allOf parts).
func (o *ObjNode) Untyped() *ObjNode { o.untyped = true; return o }

// Emit implements Node.
func (o *ObjNode) Emit(r schemas.Revision) (map[string]any, bool) {
	m := map[string]any{}
	if !o.untyped {
		m["type"] = "object"
	}
	props := map[string]any{}
	var req []string
	for _, f := range o.fields {
		if !f.present(r) {
			continue
		}
		s, ok := f.Node.Emit(r)
		if !ok {
			continue
		}
		if _, dup := props[f.Name]; dup {
			panic(fmt.Sprintf("catalogue: field %q declared twice for %s", f.Name, r))
		}
		props[f.Name] = s
		if f.isRequired(r) {
			req = append(req, f.Name)
		}
	}
	if len(props) > 0 {
		m["properties"] = props
	}
	if len(req) > 0 {
		sort.Strings(req)
		a := make([]any, len(req))
		for i, v := range req {
			a[i] = v
		}
		m["required"] = a
	}
	if o.values != nil && o.valuesSpan.Has(r) {
		if s, ok := o.values.Emit(r); ok {
			m["additionalProperties"] = s
		}
	}
	for _, e := range o.extra {
		if e.span.Has(r) {
			for k, v := range e.kw {
				m[k] = v
			}
		}
	}
	return m, true
}

// ---- revision variants ----

// Case is one alternative of a Variant: the node used in a span.
type Case struct {
	Span Span
	Node Node
}

// When pairs a span with a node for Variant, Union and Members.
func When(s Span, n Node) Case { return Case{s, n} }

// Variant picks the node of the first case whose span has the revision; a
// revision no case covers does not have the node at all.
func Variant(cases ...Case) Node { return variant(cases) }

type variant []Case

func (v variant) Emit(r schemas.Revision) (map[string]any, bool) {
	for _, c := range v {
		if c.Span.Has(r) {
			return c.Node.Emit(r)
		}
	}
	return nil, false
}

// Only limits a node to a span (shorthand for a one-case Variant).
func Only(s Span, n Node) Node { return variant{{s, n}} }

// ---- unions ----

// AnyOf is a union tried member by member. Members limited with Only (or
// When cases) appear only in their revisions.
func AnyOf(members ...Node) Node { return union{kw: "anyOf", members: members} }

// OneOf is a union whose members must match exactly once.
func OneOf(members ...Node) Node { return union{kw: "oneOf", members: members} }

type union struct {
	kw      string
	members []Node
}

func (u union) Emit(r schemas.Revision) (map[string]any, bool) {
	var ms []any
	for _, n := range u.members {
		if s, ok := n.Emit(r); ok {
			ms = append(ms, s)
		}
	}
	switch len(ms) {
	case 0:
		return nil, false
	case 1:
		return ms[0].(map[string]any), true
	}
	return map[string]any{u.kw: ms}, true
}

// Tagged is a union of object definitions told apart by a string property
// whose value is a constant in each member (for example content blocks by
// "type"). It validates exactly like anyOf over the members, because each
// member requires its own constant, but it checks only the one member the
// tag selects instead of trying each in turn.
//
// It is emitted as a chain of if/then/else, one link per member in the
// order given (so list the most frequent member first):
//
//	{"type":"object", "required":[tag],
//	 "if":{"properties":{tag:{"const":v1}}}, "then":{"$ref":m1},
//	 "else":{"if":..., "then":..., "else":{"properties":{tag:{"enum":[v1,...]}}}}}
//
// A tag that names no member reaches the last else, which rejects it with
// the list of tags (it holds no tag of the list, so that enum fails).
func Tagged(tag string, members ...TagCase) Node { return tagged{tag: tag, members: members} }

// TagCase is one member of a Tagged union: tag value, referenced
// definition, and the revisions that have it.
type TagCase struct {
	Value string
	Def   string
	Span  Span
}

// Tag declares a member of a Tagged union present in every revision.
func Tag(value, def string) TagCase { return TagCase{Value: value, Def: def} }

// In limits a tagged member to a span.
func (t TagCase) In(s Span) TagCase { t.Span = s; return t }

type tagged struct {
	tag     string
	members []TagCase
}

func (t tagged) Emit(r schemas.Revision) (map[string]any, bool) {
	var values []any
	var members []TagCase
	for _, m := range t.members {
		if m.Span.Has(r) {
			values = append(values, m.Value)
			members = append(members, m)
		}
	}
	if len(members) == 0 {
		return nil, false
	}
	chain := map[string]any{"properties": map[string]any{t.tag: map[string]any{"type": "string", "enum": values}}}
	for i := len(members) - 1; i >= 0; i-- {
		chain = map[string]any{
			"if":   map[string]any{"properties": map[string]any{t.tag: map[string]any{"const": members[i].Value}}},
			"then": map[string]any{"$ref": "#/$defs/" + members[i].Def},
			"else": chain,
		}
	}
	chain["type"] = "object"
	chain["required"] = []any{t.tag}
	return chain, true
}

// ---- whole catalogue ----

// Emit builds the $defs map of revision r from the definitions.
func Emit(defs []Def, r schemas.Revision) (map[string]any, error) {
	out := map[string]any{}
	for _, d := range defs {
		if !d.Span.Has(r) {
			continue
		}
		if _, dup := out[d.Name]; dup {
			return nil, fmt.Errorf("catalogue: definition %s declared twice for %s", d.Name, r)
		}
		s, ok := d.Node.Emit(r)
		if !ok {
			return nil, fmt.Errorf("catalogue: definition %s is empty in %s", d.Name, r)
		}
		if d.Doc != "" {
			s["description"] = d.Doc
		}
		out[d.Name] = s
	}
	return out, nil
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
