// Package fastpath decides whether an instance is valid against a schema of
// mcpbroker's generated documents (schemas/json), quickly and (but for
// numbers that need exact arithmetic) without allocating, for the common
// case of a valid message.
//
// It is an accelerator for github.com/santhosh-tekuri/jsonschema/v6, not a
// replacement: it answers only "valid" or "not valid", with no reasons,
// and the schemas package trusts it only for "valid", checking everything
// else again with jsonschema (which gives the verdict and the issues). It
// must therefore never accept an instance jsonschema rejects; it
// implements each keyword as jsonschema v6 does for draft 2020-12 with
// format assertions off (the way the schemas package compiles), down to
// number comparisons, and refuses to compile (Compile returns an error, and
// the caller keeps using jsonschema alone) any schema that uses something
// else: a keyword it does not know, a reference outside the document, or a
// reference cycle that does not descend into the instance.
//
// Instances are JSON text (ValidJSON, and ValidObject for an object given
// member by member; see raw.go), validated in one pass over the bytes
// without building a tree, which is what the schemas package uses; or the
// generic trees encoding/json builds with UseNumber (Valid): map[string]any,
// []any, string, json.Number (or float64 and the Go integer types), bool and
// nil. Both give the verdict jsonschema gives on the tree.
package fastpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Schema is a compiled schema. A nil *Schema is not valid to use.
type Schema struct {
	loc string // JSON pointer of the schema in its document, for errors

	always  bool // true or {}: every value is valid, even one that is not JSON
	trivial bool // no assertion at all: every JSON value is valid
	never   bool // the false schema

	types    typeSet
	hasConst bool
	constV   any
	enum     []any

	ref *Schema

	// objects
	required   []string
	props      []prop
	otherReq   []string           // required names not in props
	propIndex  map[string]*Schema // built when additional is set
	additional *Schema            // nil: none

	// arrays
	items              *Schema
	minItems, maxItems int // -1: none

	// numbers
	minimum, maximum, exclusiveMinimum, exclusiveMaximum *bound

	allOf, anyOf, oneOf []*Schema
	not                 *Schema
	ifS, thenS, elseS   *Schema

	// For ValidJSON (raw.go), set by prepare once the schema is compiled.
	prepared   bool
	conj       []*Schema // conjunctive closure: the schemas a value must match for this one
	admit      typeSet   // of the closure: the types a valid value can have
	decided    typeSet   // of the closure: the types for which the type alone decides
	tag        *tagCond  // as an "if": a test of one member, or nil
	ownAdmit   typeSet   // admit of this schema alone ($ref and allOf aside)
	ownAffects typeSet   // the types for which this schema alone asks more than a type
	hasBounds  bool      // minimum, maximum, exclusiveMinimum or exclusiveMaximum
	branches   bool      // anyOf, oneOf, not or if
	objWalk    bool      // required, properties or additionalProperties
	arrWalk    bool      // items, minItems or maxItems
	tooLarge   bool      // more required names than ValidJSON tracks (64)
	rconst     *rawConst
	renum      []rawConst
	fields     []field          // properties and required names
	fieldIndex map[string]int32 // index of fields, when there are many
	reqMask    uint64           // the bits of the required fields
}

type prop struct {
	name     string
	sch      *Schema
	required bool
}

type jsonType uint8

const (
	invalidType jsonType = iota
	nullType
	booleanType
	numberType
	integerType
	stringType
	arrayType
	objectType
)

type typeSet uint8

func (ts typeSet) has(t jsonType) bool { return ts&(1<<t) != 0 }

var typeNames = map[string]jsonType{
	"null": nullType, "boolean": booleanType, "number": numberType, "integer": integerType,
	"string": stringType, "array": arrayType, "object": objectType,
}

// Valid reports whether v is valid against the schema. A false answer
// means "not valid, or not decidable here": ask jsonschema.
func (s *Schema) Valid(v any) bool {
	if s.always {
		return true
	}
	if s.never {
		return false
	}
	t := typeOf(v)
	if t == invalidType {
		return false
	}
	if s.trivial {
		return true
	}
	if s.types != 0 && !s.types.has(t) && !(t == numberType && s.types.has(integerType) && isInteger(v)) {
		return false
	}
	if s.hasConst {
		if ok, err := equals(v, s.constV); !ok || err {
			return false
		}
	}
	if s.enum != nil {
		found := false
		for _, e := range s.enum {
			ok, err := equals(v, e)
			if err {
				return false
			}
			if ok {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if s.ref != nil && !s.ref.Valid(v) {
		return false
	}
	switch t {
	case objectType:
		if !s.validObject(v.(map[string]any)) {
			return false
		}
	case arrayType:
		if !s.validArray(v.([]any)) {
			return false
		}
	case numberType:
		if !s.validNumber(v) {
			return false
		}
	}
	for _, sub := range s.allOf {
		if !sub.Valid(v) {
			return false
		}
	}
	if s.anyOf != nil {
		found := false
		for _, sub := range s.anyOf {
			if sub.Valid(v) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if s.oneOf != nil {
		n := 0
		for _, sub := range s.oneOf {
			if sub.Valid(v) {
				n++
				if n > 1 {
					return false
				}
			}
		}
		if n != 1 {
			return false
		}
	}
	if s.not != nil && s.not.Valid(v) {
		return false
	}
	if s.ifS != nil {
		if s.ifS.Valid(v) {
			if s.thenS != nil && !s.thenS.Valid(v) {
				return false
			}
		} else if s.elseS != nil && !s.elseS.Valid(v) {
			return false
		}
	}
	return true
}

func (s *Schema) validObject(obj map[string]any) bool {
	if s.additional == nil {
		// Only the listed properties are checked: look them up, once for
		// "required" and "properties" both.
		for _, name := range s.otherReq {
			if _, ok := obj[name]; !ok {
				return false
			}
		}
		for _, p := range s.props {
			pv, ok := obj[p.name]
			if !ok {
				if p.required {
					return false
				}
				continue
			}
			if !p.sch.Valid(pv) {
				return false
			}
		}
		return true
	}
	for _, name := range s.required {
		if _, ok := obj[name]; !ok {
			return false
		}
	}
	for name, pv := range obj {
		sch, ok := s.propIndex[name]
		if !ok {
			sch = s.additional
		}
		if !sch.Valid(pv) {
			return false
		}
	}
	return true
}

func (s *Schema) validArray(arr []any) bool {
	if s.minItems >= 0 && len(arr) < s.minItems {
		return false
	}
	if s.maxItems >= 0 && len(arr) > s.maxItems {
		return false
	}
	if s.items != nil {
		for _, item := range arr {
			if !s.items.Valid(item) {
				return false
			}
		}
	}
	return true
}

func (s *Schema) validNumber(v any) bool {
	if s.minimum == nil && s.maximum == nil && s.exclusiveMinimum == nil && s.exclusiveMaximum == nil {
		return true
	}
	f, fok := approx(v)
	return s.numberOK(f, fok, nil, v)
}

// numberOK checks a number against the bounds: the number is the literal
// text lit, or, when v is not nil, the decoded value v; f is its nearest
// float64, when fok.
func (s *Schema) numberOK(f float64, fok bool, lit []byte, v any) bool {
	var exact *big.Rat // the number's value, parsed only when needed
	cmp := func(b bound) int {
		// f and b.f are the value and the bound rounded to the nearest
		// float64. Rounding is monotonic, so when they differ they are in
		// the order of the exact numbers; only a tie needs the exact value.
		if fok && f != b.f {
			if f < b.f {
				return -1
			}
			return 1
		}
		if exact == nil {
			// As jsonschema does: the exact rational value of the number's
			// text.
			var text string
			if v != nil {
				text = fmt.Sprint(v)
			} else {
				text = string(lit)
			}
			var ok bool
			if exact, ok = new(big.Rat).SetString(text); !ok {
				return 2 // not a number: fails every bound below
			}
		}
		return exact.Cmp(b.r)
	}
	if s.minimum != nil {
		if c := cmp(*s.minimum); c < 0 || c == 2 {
			return false
		}
	}
	if s.maximum != nil {
		if c := cmp(*s.maximum); c > 0 {
			return false
		}
	}
	if s.exclusiveMinimum != nil {
		if c := cmp(*s.exclusiveMinimum); c <= 0 || c == 2 {
			return false
		}
	}
	if s.exclusiveMaximum != nil {
		if c := cmp(*s.exclusiveMaximum); c >= 0 {
			return false
		}
	}
	return true
}

// bound is a number keyword's value, exact and as the nearest float64
// (big.Rat.Float64 rounds to nearest).
type bound struct {
	r *big.Rat
	f float64
}

// approx returns the float64 nearest to a number instance (ParseFloat and
// integer conversions round to nearest), when it is finite.
func approx(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		var err error
		if f, err = strconv.ParseFloat(string(n), 64); err != nil {
			return 0, false
		}
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case int32:
		f = float64(n)
	default:
		return 0, false
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// typeOf is jsonschema's typeOf: the JSON type of a decoded value.
func typeOf(v any) jsonType {
	switch v := v.(type) {
	case nil:
		return nullType
	case bool:
		return booleanType
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return invalidType
		}
		return numberType
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return invalidType
		}
		return numberType
	case json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return numberType
	case string:
		return stringType
	case []any:
		return arrayType
	case map[string]any:
		return objectType
	}
	return invalidType
}

// isInteger is jsonschema's isInteger (the number's text is an integer as
// an exact rational), with a shortcut for plain digit strings, which
// always are.
func isInteger(v any) bool {
	if n, ok := v.(json.Number); ok && plainInt(string(n)) {
		return true
	}
	r, ok := new(big.Rat).SetString(fmt.Sprint(v))
	return ok && r.IsInt()
}

func plainInt(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// equals is jsonschema's equals; err reports a value that is not JSON
// (jsonschema fails the validation then).
func equals(v1, v2 any) (ok, err bool) {
	switch v1 := v1.(type) {
	case map[string]any:
		v2, ok := v2.(map[string]any)
		if !ok || len(v1) != len(v2) {
			return false, false
		}
		for k, val1 := range v1 {
			val2, ok := v2[k]
			if !ok {
				return false, false
			}
			if ok, err := equals(val1, val2); !ok || err {
				return ok, err
			}
		}
		return true, false
	case []any:
		v2, ok := v2.([]any)
		if !ok || len(v1) != len(v2) {
			return false, false
		}
		for i := range v1 {
			if ok, err := equals(v1[i], v2[i]); !ok || err {
				return ok, err
			}
		}
		return true, false
	case nil:
		return v2 == nil, false
	case bool:
		v2, ok := v2.(bool)
		return ok && v1 == v2, false
	case string:
		v2, ok := v2.(string)
		return ok && v1 == v2, false
	case json.Number, float32, float64, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		if typeOf(v2) != numberType {
			return false, false
		}
		num1, ok1 := new(big.Rat).SetString(fmt.Sprint(v1))
		num2, ok2 := new(big.Rat).SetString(fmt.Sprint(v2))
		return ok1 && ok2 && num1.Cmp(num2) == 0, false
	}
	return false, true
}

// ---- compiling ----

// Draft is the only dialect Compile accepts.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Compiler compiles schemas of one document; schemas compiled by the same
// Compiler share their common parts. It is not safe for concurrent use;
// compiled schemas are.
type Compiler struct {
	doc   map[string]any
	cache map[string]*Schema
	added []string // cache keys added by the Compile call under way
}

// NewCompiler prepares the compilation of schemas of a document (the
// whole document, decoded as for jsonschema). Its $schema must be draft
// 2020-12.
func NewCompiler(doc any) (*Compiler, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("fastpath: document is not an object")
	}
	if m["$schema"] != Draft {
		return nil, fmt.Errorf("fastpath: document is not draft 2020-12 (%v)", m["$schema"])
	}
	return &Compiler{doc: m, cache: map[string]*Schema{}}, nil
}

// Compile compiles the schema at a JSON pointer fragment of the document
// ("#/$defs/Name"). It fails for schemas that use anything fastpath does
// not implement exactly as jsonschema does.
func (c *Compiler) Compile(ptr string) (*Schema, error) {
	c.added = c.added[:0]
	s, err := c.compileRef(ptr)
	if err == nil {
		err = checkCycles(s)
	}
	if err == nil {
		prepare(s)
	}
	if err != nil {
		// Forget what this call compiled: some of it is unfinished.
		for _, k := range c.added {
			delete(c.cache, k)
		}
		return nil, err
	}
	return s, nil
}

func (c *Compiler) compileRef(ptr string) (*Schema, error) {
	if s, ok := c.cache[ptr]; ok {
		return s, nil
	}
	if !strings.HasPrefix(ptr, "#") || strings.Contains(ptr, "%") {
		return nil, fmt.Errorf("fastpath: unsupported reference %q", ptr)
	}
	var node any = c.doc
	if rest := ptr[1:]; rest != "" {
		if rest[0] != '/' {
			return nil, fmt.Errorf("fastpath: unsupported reference %q", ptr)
		}
		for _, tok := range strings.Split(rest[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch n := node.(type) {
			case map[string]any:
				x, ok := n[tok]
				if !ok {
					return nil, fmt.Errorf("fastpath: %q not found", ptr)
				}
				node = x
			case []any:
				var i int
				if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(n) || fmt.Sprint(i) != tok {
					return nil, fmt.Errorf("fastpath: %q not found", ptr)
				}
				node = n[i]
			default:
				return nil, fmt.Errorf("fastpath: %q not found", ptr)
			}
		}
	}
	return c.compile(node, ptr)
}

// annotation keywords: no effect on validity (format too, as assertions
// are off).
var annotations = map[string]bool{
	"description": true, "title": true, "$comment": true, "default": true, "examples": true,
	"deprecated": true, "readOnly": true, "writeOnly": true, "format": true,
}

func (c *Compiler) compile(node any, ptr string) (*Schema, error) {
	if s, ok := c.cache[ptr]; ok {
		return s, nil
	}
	s := &Schema{loc: ptr, minItems: -1, maxItems: -1}
	c.cache[ptr] = s // before the subschemas, for recursive references
	c.added = append(c.added, ptr)
	if b, ok := node.(bool); ok {
		s.always, s.never = b, !b
		return s, nil
	}
	m, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("fastpath: %s is not a schema", ptr)
	}
	if len(m) == 0 {
		s.always = true // jsonschema compiles {} as true
		return s, nil
	}
	fail := func(kw string) (*Schema, error) {
		return nil, fmt.Errorf("fastpath: %s: unsupported %q", ptr, kw)
	}
	sub := func(kw string, x any, at string) (*Schema, error) {
		return c.compile(x, ptr+"/"+escape(kw)+at)
	}
	list := func(kw string) ([]*Schema, error) {
		a, ok := m[kw].([]any)
		if !ok || len(a) == 0 {
			return nil, fmt.Errorf("fastpath: %s/%s is not a non-empty array", ptr, kw)
		}
		out := make([]*Schema, len(a))
		for i, x := range a {
			var err error
			if out[i], err = sub(kw, x, fmt.Sprintf("/%d", i)); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var err error
	asserts := false
	for _, kw := range slices.Sorted(maps.Keys(m)) {
		v := m[kw]
		if annotations[kw] {
			continue
		}
		if kw == "$schema" || kw == "$id" || kw == "$defs" {
			if ptr != "#" {
				return fail(kw) // an embedded resource: not supported
			}
			continue
		}
		asserts = true
		switch kw {
		case "type":
			switch t := v.(type) {
			case string:
				jt, ok := typeNames[t]
				if !ok {
					return fail(kw)
				}
				s.types |= 1 << jt
			case []any:
				for _, x := range t {
					name, _ := x.(string)
					jt, ok := typeNames[name]
					if !ok {
						return fail(kw)
					}
					s.types |= 1 << jt
				}
			default:
				return fail(kw)
			}
			if s.types == 0 {
				return fail(kw) // "type": [] is no constraint in jsonschema
			}
		case "const":
			s.hasConst, s.constV = true, v
		case "enum":
			a, ok := v.([]any)
			if !ok {
				return fail(kw)
			}
			s.enum = a
			if len(a) == 0 {
				s.enum = []any{} // matches nothing
			}
		case "$ref":
			r, ok := v.(string)
			if !ok {
				return fail(kw)
			}
			if s.ref, err = c.compileRef(r); err != nil {
				return nil, err
			}
		case "required":
			a, ok := v.([]any)
			if !ok {
				return fail(kw)
			}
			for _, x := range a {
				name, ok := x.(string)
				if !ok {
					return fail(kw)
				}
				s.required = append(s.required, name)
			}
		case "properties":
			pm, ok := v.(map[string]any)
			if !ok {
				return fail(kw)
			}
			for _, name := range slices.Sorted(maps.Keys(pm)) {
				ps, err := sub(kw, pm[name], "/"+escape(name))
				if err != nil {
					return nil, err
				}
				s.props = append(s.props, prop{name: name, sch: ps})
			}
		case "additionalProperties":
			if s.additional, err = sub(kw, v, ""); err != nil {
				return nil, err
			}
		case "items":
			if s.items, err = sub(kw, v, ""); err != nil {
				return nil, err
			}
		case "minItems", "maxItems":
			n := intVal(v)
			if n == nil {
				return fail(kw)
			}
			if kw == "minItems" {
				s.minItems = *n
			} else {
				s.maxItems = *n
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			n := numVal(v)
			if n == nil {
				return fail(kw)
			}
			nf, _ := n.Float64()
			r := &bound{n, nf}
			switch kw {
			case "minimum":
				s.minimum = r
			case "maximum":
				s.maximum = r
			case "exclusiveMinimum":
				s.exclusiveMinimum = r
			case "exclusiveMaximum":
				s.exclusiveMaximum = r
			}
		case "allOf":
			if s.allOf, err = list(kw); err != nil {
				return nil, err
			}
		case "anyOf":
			if s.anyOf, err = list(kw); err != nil {
				return nil, err
			}
		case "oneOf":
			if s.oneOf, err = list(kw); err != nil {
				return nil, err
			}
		case "not":
			if s.not, err = sub(kw, v, ""); err != nil {
				return nil, err
			}
		case "if":
			if s.ifS, err = sub(kw, v, ""); err != nil {
				return nil, err
			}
		case "then":
			if s.thenS, err = sub(kw, v, ""); err != nil {
				return nil, err
			}
		case "else":
			if s.elseS, err = sub(kw, v, ""); err != nil {
				return nil, err
			}
		default:
			return fail(kw)
		}
	}
	if s.ifS == nil {
		s.thenS, s.elseS = nil, nil // then and else do nothing without if
	}
	for _, name := range s.required {
		i := slices.IndexFunc(s.props, func(p prop) bool { return p.name == name })
		if i < 0 {
			s.otherReq = append(s.otherReq, name)
		} else {
			s.props[i].required = true
		}
	}
	if s.additional != nil {
		s.propIndex = make(map[string]*Schema, len(s.props))
		for _, p := range s.props {
			s.propIndex[p.name] = p.sch
		}
	}
	s.trivial = !asserts || (s.types == 0 && !s.hasConst && s.enum == nil && s.ref == nil &&
		s.required == nil && s.props == nil && s.additional == nil && s.items == nil &&
		s.minItems < 0 && s.maxItems < 0 && s.minimum == nil && s.maximum == nil &&
		s.exclusiveMinimum == nil && s.exclusiveMaximum == nil && s.allOf == nil &&
		s.anyOf == nil && s.oneOf == nil && s.not == nil && s.ifS == nil)
	return s, nil
}

// numVal is jsonschema's reading of a number keyword.
func numVal(v any) *big.Rat {
	switch v.(type) {
	case json.Number, float32, float64, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		if n, ok := new(big.Rat).SetString(fmt.Sprint(v)); ok {
			return n
		}
	}
	return nil
}

// intVal is jsonschema's reading of an integer keyword.
func intVal(v any) *int {
	if n := numVal(v); n != nil && n.IsInt() {
		i := int(n.Num().Int64())
		return &i
	}
	return nil
}

func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

// checkCycles fails when a schema can reach itself without descending
// into the instance ($ref, allOf, anyOf, oneOf, not, if, then, else only):
// jsonschema reports such a cycle as an error, and Valid would not end.
func checkCycles(root *Schema) error {
	const (
		white = iota
		grey
		black
	)
	color := map[*Schema]int{}
	var inPlace func(s *Schema) error
	var all []*Schema
	seen := map[*Schema]bool{}
	var collect func(s *Schema)
	collect = func(s *Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		all = append(all, s)
		for _, x := range s.children() {
			collect(x)
		}
	}
	collect(root)
	inPlace = func(s *Schema) error {
		switch color[s] {
		case grey:
			return fmt.Errorf("fastpath: %s: reference cycle", s.loc)
		case black:
			return nil
		}
		color[s] = grey
		for _, x := range s.inPlace() {
			if err := inPlace(x); err != nil {
				return err
			}
		}
		color[s] = black
		return nil
	}
	for _, s := range all {
		if err := inPlace(s); err != nil {
			return err
		}
	}
	return nil
}

// inPlace: the subschemas applied to the same instance.
func (s *Schema) inPlace() []*Schema {
	var out []*Schema
	for _, x := range []*Schema{s.ref, s.not, s.ifS, s.thenS, s.elseS} {
		if x != nil {
			out = append(out, x)
		}
	}
	out = append(out, s.allOf...)
	out = append(out, s.anyOf...)
	out = append(out, s.oneOf...)
	return out
}

// children: every subschema.
func (s *Schema) children() []*Schema {
	out := s.inPlace()
	for _, p := range s.props {
		out = append(out, p.sch)
	}
	for _, x := range []*Schema{s.additional, s.items} {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}
