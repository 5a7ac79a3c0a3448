package fastpath_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcpbroker/mcpbroker/schemas/internal/fastpath"
)

// compileBoth compiles the schema at ptr of a document with fastpath and
// with jsonschema (as the schemas package does).
func compileBoth(t *testing.T, doc string, ptr string) (*fastpath.Schema, *jsonschema.Schema, error) {
	t.Helper()
	x, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://example.com/s.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, x); err != nil {
		t.Fatal(err)
	}
	slow, err := c.Compile(url + ptr)
	if err != nil {
		t.Fatalf("jsonschema: %v", err)
	}
	fc, err := fastpath.NewCompiler(x)
	if err != nil {
		return nil, slow, err
	}
	fast, err := fc.Compile(ptr)
	return fast, slow, err
}

func document(defs string) string {
	return `{"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"https://example.com/s.json","$defs":` + defs + `}`
}

func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return x
}

// TestAgreesWithJSONSchema holds fastpath to jsonschema's verdict, keyword
// by keyword, on instances chosen at the edges (number forms and bounds,
// types, missing and extra properties).
func TestAgreesWithJSONSchema(t *testing.T) {
	numbers := []string{
		`0`, `-0`, `1`, `-1`, `1.0`, `1.5`, `1e3`, `1E-3`, `-1e400`, `1e400`, `1e-400`, `0.5`,
		`0.49999999999999999999`, `0.50000000000000000001`, `1.00000000000000000001`, `0.99999999999999999999`,
		`100`, `100.0`, `99.99999999999999999`, `100.00000000000000001`, `12345678901234567890123`,
		`-9223372036854775809`, `9007199254740993`, `2.5e1`, `25e-1`,
	}
	others := []string{`null`, `true`, `false`, `""`, `"1"`, `"text"`, `[]`, `[1]`, `{}`, `{"a":1}`}
	cases := []struct {
		schema    string
		instances []string
	}{
		{`{"type":"integer"}`, numbers},
		{`{"type":"number"}`, numbers},
		{`{"type":["string","integer"]}`, append(numbers, others...)},
		{`{"type":["string","number","boolean","null"]}`, append(numbers, others...)},
		{`{"type":"number","minimum":0,"maximum":1}`, numbers},
		{`{"type":"number","minimum":0.5,"maximum":100}`, numbers},
		{`{"type":"integer","minimum":0}`, numbers},
		{`{"exclusiveMinimum":0.5,"exclusiveMaximum":100}`, append(numbers, others...)},
		{`{"const":1}`, append(numbers, others...)},
		{`{"const":-32042}`, []string{`-32042`, `-32042.0`, `-3.2042e4`, `32042`, `"-32042"`}},
		{`{"const":"text"}`, append([]string{`"text"`, `"Text"`}, others...)},
		{`{"const":null}`, others},
		{`{"const":{"a":[1,"x"]}}`, []string{`{"a":[1,"x"]}`, `{"a":[1.0,"x"]}`, `{"a":[1,"x"],"b":1}`, `{"a":["x",1]}`}},
		{`{"enum":["a","b",1]}`, append([]string{`"a"`, `"b"`, `"c"`, `1.0`}, others...)},
		{`{"enum":[]}`, others},
		{`{"type":"object","required":["a","b"]}`, append([]string{`{"a":1,"b":null}`, `{"a":1}`}, others...)},
		{`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`,
			[]string{`{}`, `{"a":"x"}`, `{"a":1}`, `{"b":1.0}`, `{"b":1.5}`, `{"c":1}`, `[]`}},
		{`{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}}`,
			[]string{`{}`, `{"a":"x","b":1}`, `{"a":"x","b":"y"}`, `{"a":1}`, `"x"`}},
		{`{"required":["a","c"],"properties":{"a":{"type":"string"},"b":{"type":"string"}}}`,
			[]string{`{}`, `{"a":"x"}`, `{"a":"x","c":null}`, `{"c":1}`, `{"a":1,"c":1}`, `{"a":"x","b":1,"c":1}`}},
		{`{"required":["a","b"],"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"integer"}}`,
			[]string{`{}`, `{"a":"x"}`, `{"a":"x","b":1}`, `{"b":1}`, `{"a":"x","b":"y"}`, `{"a":1,"b":1}`}},
		{`{"properties":{"a":true},"additionalProperties":false}`,
			[]string{`{}`, `{"a":"x"}`, `{"b":1}`, `{"a":1,"b":1}`, `1`}},
		{`{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}`,
			[]string{`[]`, `["a"]`, `["a","b"]`, `["a","b","c"]`, `["a",1]`, `{}`}},
		{`{"anyOf":[{"type":"string"},{"type":"integer"}]}`, append(numbers, others...)},
		{`{"oneOf":[{"type":"number"},{"type":"integer"}]}`, append(numbers, others...)},
		{`{"allOf":[{"type":"number"},{"minimum":1}]}`, append(numbers, others...)},
		{`{"not":{"type":"string"}}`, others},
		{`{"if":{"properties":{"t":{"const":"a"}}},"then":{"required":["x"]},"else":{"required":["y"]}}`,
			[]string{`{}`, `{"t":"a"}`, `{"t":"a","x":1}`, `{"t":"b","x":1}`, `{"t":"b","y":1}`, `1`}},
		{`{"then":{"type":"string"}}`, others},
		{`{"description":"anything","format":"uri","title":"t"}`, others},
		{`true`, others},
		{`false`, others},
		{`{"type":"string","format":"uri"}`, []string{`"not a uri"`, `"https://x"`, `1`}},
		{`{"$ref":"#/$defs/S","type":"object"}`, others},
	}
	for i, c := range cases {
		doc := document(fmt.Sprintf(`{"T":%s,"S":{"required":["a"]}}`, c.schema))
		fast, slow, err := compileBoth(t, doc, "#/$defs/T")
		if err != nil {
			t.Errorf("case %d %s: fastpath: %v", i, c.schema, err)
			continue
		}
		for _, in := range c.instances {
			x := decode(t, in)
			f, s := fast.Valid(x), slow.Validate(x) == nil
			if f != s {
				t.Errorf("%s on %s: fastpath valid=%v, jsonschema valid=%v", c.schema, in, f, s)
			}
		}
	}
}

// TestRecursion: references, including recursive ones through properties
// and items, resolve to the same compiled schema.
func TestRecursion(t *testing.T) {
	doc := document(`{
		"V":{"anyOf":[{"$ref":"#/$defs/O"},{"type":"array","items":{"$ref":"#/$defs/V"}},{"type":["string","number","boolean","null"]}]},
		"O":{"type":"object","additionalProperties":{"$ref":"#/$defs/V"}}}`)
	fast, slow, err := compileBoth(t, doc, "#/$defs/V")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`1`, `{"a":[1,{"b":null}]}`, `[[[[]]]]`, `{"a":{"b":{"c":[true]}}}`} {
		x := decode(t, in)
		if f, s := fast.Valid(x), slow.Validate(x) == nil; f != s || !f {
			t.Errorf("%s: fastpath valid=%v, jsonschema valid=%v", in, f, s)
		}
	}
	for _, x := range []any{struct{}{}, map[string]any{"a": []any{struct{}{}}}} {
		if f, s := fast.Valid(x), slow.Validate(x) == nil; f != s {
			t.Errorf("%#v: fastpath valid=%v, jsonschema valid=%v", x, f, s)
		}
	}
}

// TestNotJSON: a Go value that is not JSON (the decoder never makes one)
// is invalid under any schema object with a keyword, even an annotation
// only, and valid under true and {} (which jsonschema compiles as true).
func TestNotJSON(t *testing.T) {
	for _, schema := range []string{`{}`, `{"description":"x"}`, `true`, `false`, `{"type":"object"}`,
		`{"properties":{"a":{}}}`, `{"additionalProperties":true}`, `{"additionalProperties":{}}`} {
		fast, slow, err := compileBoth(t, document(`{"T":`+schema+`}`), "#/$defs/T")
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []any{struct{}{}, map[string]any{"a": struct{}{}}, []any{struct{}{}}, math.NaN()} {
			if f, s := fast.Valid(x), slow.Validate(x) == nil; f != s {
				t.Errorf("%s on %#v: fastpath valid=%v, jsonschema valid=%v", schema, x, f, s)
			}
		}
	}
}

// TestRefuses: what fastpath does not implement is a compile error (the
// caller then uses jsonschema alone), never a guess.
func TestRefuses(t *testing.T) {
	for _, schema := range []string{
		`{"pattern":"^a"}`,
		`{"minLength":1}`,
		`{"patternProperties":{"^a":{}}}`,
		`{"unevaluatedProperties":false}`,
		`{"propertyNames":{"maxLength":3}}`,
		`{"dependentRequired":{"a":["b"]}}`,
		`{"x-custom":1}`,
		`{"$ref":"other.json"}`,
		`{"$ref":"#/$defs/Loop"}`,
		`{"properties":{"a":{"$id":"https://example.com/inner.json"}}}`,
		`{"type":[]}`,
	} {
		doc := document(fmt.Sprintf(`{"T":%s,"Loop":{"allOf":[{"$ref":"#/$defs/Loop"}]}}`, schema))
		x, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		fc, err := fastpath.NewCompiler(x)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fc.Compile("#/$defs/T"); err == nil {
			t.Errorf("%s: compiled", schema)
		}
	}
	x, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fastpath.NewCompiler(x); err == nil {
		t.Error("draft-07 document accepted")
	}
}

// TestCompileFailureLeavesNoTrace: a failed Compile does not leave half
// compiled schemas behind for a later Compile to pick up.
func TestCompileFailureLeavesNoTrace(t *testing.T) {
	doc := document(`{"A":{"properties":{"b":{"$ref":"#/$defs/B"}},"pattern":"x"},"B":{"type":"string"},
		"C":{"properties":{"a":{"$ref":"#/$defs/A"}}}}`)
	x, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := fastpath.NewCompiler(x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Compile("#/$defs/A"); err == nil {
		t.Fatal("A compiled")
	}
	if _, err := fc.Compile("#/$defs/C"); err == nil {
		t.Fatal("C compiled after A failed")
	}
	if _, err := fc.Compile("#/$defs/B"); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkValid(b *testing.B) {
	doc := document(`{"T":{"type":"object","required":["name"],"properties":{"name":{"type":"string"},
		"n":{"type":"integer","minimum":0},"p":{"type":"number","minimum":0,"maximum":1},
		"tags":{"type":"array","items":{"type":"string"}}}}}`)
	x, _ := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	fc, _ := fastpath.NewCompiler(x)
	s, err := fc.Compile("#/$defs/T")
	if err != nil {
		b.Fatal(err)
	}
	d := json.NewDecoder(strings.NewReader(`{"name":"x","n":42,"p":0.5,"tags":["a","b"],"other":{}}`))
	d.UseNumber()
	var inst any
	_ = d.Decode(&inst)
	b.ReportAllocs()
	for b.Loop() {
		if !s.Valid(inst) {
			b.Fatal("invalid")
		}
	}
}
