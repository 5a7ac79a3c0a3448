package fastpath_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcpbroker/mcpbroker/schemas/internal/fastpath"
	"github.com/mcpbroker/mcpbroker/schemas/internal/jsontree"
)

// compileBoth compiles the schema at ptr of a document with fastpath and
// with jsonschema (as the schemas package does).
func compileBoth(t testing.TB, doc string, ptr string) (*fastpath.Schema, *jsonschema.Schema, error) {
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

// auxDefs are definitions agreementCases refer to.
const auxDefs = `"A":{"required":["x"],"properties":{"x":{"type":"string"}}},"B":{"required":["y"],"properties":{"y":{"type":"integer"}}},
	"V":{"anyOf":[{"$ref":"#/$defs/O"},{"type":"array","items":{"$ref":"#/$defs/V"}},{"type":["string","number","boolean","null"]}]},
	"O":{"type":"object","additionalProperties":{"$ref":"#/$defs/V"}}`

// slowValid is jsonschema's verdict; decided is false when jsonschema
// panics (on numbers math/big cannot parse, such as 1e1000001).
func slowValid(s *jsonschema.Schema, x any) (valid, decided bool) {
	defer func() {
		if recover() != nil {
			valid, decided = false, false
		}
	}()
	return s.Validate(x) == nil, true
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

type agreementCase struct {
	schema    string
	instances []string
}

// agreementCases are schemas using every keyword fastpath implements, with
// instances chosen at the edges (number forms and bounds, types, missing,
// extra and duplicate properties, escapes).
func agreementCases() []agreementCase {
	numbers := []string{
		`0`, `-0`, `1`, `-1`, `1.0`, `1.5`, `1e3`, `1E-3`, `-1e400`, `1e400`, `1e-400`, `0.5`,
		`0.49999999999999999999`, `0.50000000000000000001`, `1.00000000000000000001`, `0.99999999999999999999`,
		`100`, `100.0`, `99.99999999999999999`, `100.00000000000000001`, `12345678901234567890123`,
		`-9223372036854775809`, `9007199254740993`, `2.5e1`, `25e-1`,
	}
	others := []string{`null`, `true`, `false`, `""`, `"1"`, `"text"`, `[]`, `[1]`, `{}`, `{"a":1}`}
	return []agreementCase{
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
		// Escapes, in names and in values.
		{`{"properties":{"a\"b":{"const":"x/y"}},"required":["a\"b"]}`,
			[]string{`{"a\"b":"x/y"}`, `{"a\u0022b":"x\/y"}`, `{"a\"b":"x\u002fy"}`, `{"a\"b":"x\\/y"}`, `{"ab":"x/y"}`}},
		{`{"enum":["é","😀","\ufffd","a\nb",""]}`,
			[]string{`"é"`, `"\u00e9"`, `"\u00E9"`, `"\ud83d\ude00"`, `"😀"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`,
				`"\ud83d\u0041"`, `"a\nb"`, `"a\u000ab"`, `"a\\nb"`, `""`, `"\u0000"`}},
		// Duplicate names: the last one counts.
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`,
			[]string{`{"a":1,"a":"x"}`, `{"a":"x","a":1}`, `{"a":"x","b":1,"a":"y"}`, `{"a":1,"b":1,"a":2}`,
				`{"a":{"x":[1,2]},"a":"x"}`, `{"a":1,"\u0061":"x"}`, `{"\u0061":1,"a":"x"}`, `{"a":"x","\u0061":1}`}},
		{`{"additionalProperties":{"type":"integer"}}`,
			[]string{`{"b":"x","b":1}`, `{"b":1,"b":"x"}`, `{"b":"x","c":1,"b":2}`}},
		{`{"not":{"properties":{"a":{"type":"string"}}}}`,
			[]string{`{"a":1,"a":"x"}`, `{"a":"x","a":1}`, `{"a":1}`, `{"a":"x"}`, `{}`, `1`}},
		// Tagged unions, as the generator writes them.
		{`{"type":"object","required":["type"],
			"if":{"properties":{"type":{"const":"a"}}},"then":{"$ref":"#/$defs/A"},
			"else":{"if":{"properties":{"type":{"const":"b"}}},"then":{"$ref":"#/$defs/B"},
				"else":{"properties":{"type":{"enum":["a","b"]}}}}}`,
			[]string{`{"type":"a","x":"s"}`, `{"type":"a","x":1}`, `{"type":"b","y":1}`, `{"type":"b","y":"s"}`,
				`{"type":"c"}`, `{"type":"b","type":"a","x":"s"}`, `{"type":"a","type":"b","x":"s"}`,
				`{"x":"s","type":"a"}`, `{"typ\u0065":"a","x":"s"}`, `{"type":"\u0061","x":"s"}`, `{}`, `"a"`, `[]`}},
		{`{"if":{"required":["t"],"properties":{"t":{"const":1}}},"then":{"required":["x"]},"else":{"required":["y"]}}`,
			[]string{`{}`, `{"y":1}`, `{"t":1,"x":1}`, `{"t":1.0,"x":1}`, `{"t":1e0,"y":1}`, `{"t":2,"y":1}`, `{"t":1}`, `1`}},
		{`{"if":{"type":"array"},"then":{"items":{"type":"string"}},"else":{"type":"string"}}`,
			[]string{`[]`, `["a"]`, `["a",1]`, `"a"`, `1`, `{}`}},
		{`{"if":{"type":"integer"},"then":{"minimum":0},"else":{"type":"string"}}`,
			append([]string{`"a"`, `-1`, `-1.0`, `-0.5`}, numbers...)},
		// Unions whose members are told apart by type, or not.
		{`{"$ref":"#/$defs/V"}`,
			[]string{`1`, `1.5`, `null`, `"s"`, `[]`, `[1,[2,{"a":null}]]`, `{"a":{"b":[true,{}]}}`, `{"a":{"b":[{"c":"d"}]}}`}},
		{`{"anyOf":[{"type":"object","required":["a"]},{"type":"object","required":["b"]}],"properties":{"a":{"type":"integer"},"b":{"type":"string"}}}`,
			[]string{`{}`, `{"a":1}`, `{"b":"x"}`, `{"a":"x"}`, `{"a":1,"b":1}`, `{"b":"x","a":"y"}`, `{"b":1}`, `1`}},
		{`{"oneOf":[{"required":["a"]},{"required":["b"]},{"type":"string"}]}`,
			[]string{`{}`, `{"a":1}`, `{"b":1}`, `{"a":1,"b":1}`, `"x"`, `1`, `[]`}},
		{`{"allOf":[{"$ref":"#/$defs/S"},{"properties":{"a":{"maximum":3}}}],"properties":{"a":{"minimum":1}}}`,
			[]string{`{"a":2}`, `{"a":0}`, `{"a":4}`, `{"a":3.0000000000000000001}`, `{"b":2}`, `{"a":"x"}`}},
		{`{"type":"object","properties":{"l":{"type":"array","minItems":1,"maxItems":2},"z":false}}`,
			[]string{`{"l":[]}`, `{"l":[1]}`, `{"l":[1,[2,3]]}`, `{"l":[1,2,3]}`, `{"z":1}`, `{"z":null,"l":[1]}`}},
		{`{"const":{"a":[1,"x"]},"type":"object"}`, []string{`{"a":[1,"x"]}`, `{"a":[1.0,"x"]}`, `{"a":[1,"x"],"a":[1,"x"]}`, `{"a":2,"a":[1,"x"]}`}},
		{`{"enum":[[1,2],null,true]}`, []string{`[1,2]`, `[1,2.0]`, `[2,1]`, `null`, `true`, `false`, `{}`}},
	}
}

// textForms are JSON texts of the same value: as written, spread out with
// white space, and in one compact line.
func textForms(in string) []string {
	out := []string{in}
	var b bytes.Buffer
	if json.Indent(&b, []byte(in), " ", "\t") == nil {
		out = append(out, " \n"+b.String()+"\r\n ")
	}
	b.Reset()
	if json.Compact(&b, []byte(in)) == nil && b.String() != in {
		out = append(out, b.String())
	}
	return out
}

// TestAgreesWithJSONSchema holds fastpath (on the tree and on the text) to
// jsonschema's verdict, keyword by keyword, on agreementCases.
func TestAgreesWithJSONSchema(t *testing.T) {
	cases := agreementCases()
	for i, c := range cases {
		doc := document(fmt.Sprintf(`{"T":%s,"S":{"required":["a"]},%s}`, c.schema, auxDefs))
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
			for _, text := range textForms(in) {
				if r := fast.ValidJSON([]byte(text)); r != s {
					t.Errorf("%s on text %s: ValidJSON=%v, jsonschema valid=%v", c.schema, text, r, s)
				}
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

// FuzzValidJSON holds ValidJSON to jsonschema's verdict on the decoded
// tree, for every schema of agreementCases, on arbitrary JSON text; on
// text that is not JSON it must not panic.
func FuzzValidJSON(f *testing.F) {
	cases := agreementCases()
	type pair struct {
		src  string
		fast *fastpath.Schema
		slow *jsonschema.Schema
	}
	var pairs []pair
	for i, c := range cases {
		for _, in := range c.instances {
			f.Add([]byte(in))
		}
		doc := document(fmt.Sprintf(`{"T":%s,"S":{"required":["a"]},%s}`, c.schema, auxDefs))
		fast, slow, err := compileBoth(f, doc, "#/$defs/T")
		if err != nil {
			f.Fatalf("case %d: %v", i, err)
		}
		pairs = append(pairs, pair{c.schema, fast, slow})
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, err := jsontree.Decode(raw)
		for _, p := range pairs {
			r := p.fast.ValidJSON(raw)
			if err != nil {
				continue
			}
			if s, decided := slowValid(p.slow, x); decided && r != s {
				t.Errorf("%s on %s: ValidJSON=%v, jsonschema valid=%v", p.src, raw, r, s)
			}
		}
	})
}

// TestValidObject: an object given member by member is judged as the same
// object in one text, with Also applied to its member.
func TestValidObject(t *testing.T) {
	doc := document(`{"E":{"type":"object","required":["jsonrpc","result"],"properties":{"jsonrpc":{"const":"2.0"},"result":{"type":"object"}}},
		"R":{"required":["n"],"properties":{"n":{"type":"integer","minimum":0}}},
		"T":{"type":"object","required":["kind"],"if":{"properties":{"kind":{"const":"a"}}},"then":{"required":["a"]},"else":{"required":["b"]}},
		` + auxDefs + `}`)
	x, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	fc, err := fastpath.NewCompiler(x)
	if err != nil {
		t.Fatal(err)
	}
	compile := func(name string) *fastpath.Schema {
		s, err := fc.Compile("#/$defs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	e, r, tg := compile("E"), compile("R"), compile("T")
	m := func(name, value string, also *fastpath.Schema) fastpath.Member {
		return fastpath.Member{Name: name, Value: []byte(value), Also: also}
	}
	cases := []struct {
		ms    []fastpath.Member
		sch   []*fastpath.Schema
		valid bool
	}{
		{[]fastpath.Member{m("jsonrpc", `"2.0"`, nil), m("result", ` {"n": 1} `, r)}, []*fastpath.Schema{e}, true},
		{[]fastpath.Member{m("jsonrpc", `"2.0"`, nil), m("result", `{"n":-1}`, r)}, []*fastpath.Schema{e}, false},
		{[]fastpath.Member{m("jsonrpc", `"2.0"`, nil), m("result", `{"n":-1}`, nil)}, []*fastpath.Schema{e}, true},
		{[]fastpath.Member{m("jsonrpc", `"1.0"`, nil), m("result", `{}`, nil)}, []*fastpath.Schema{e}, false},
		{[]fastpath.Member{m("result", `{}`, nil)}, []*fastpath.Schema{e}, false},
		{[]fastpath.Member{m("jsonrpc", `"2.0"`, nil), m("result", `[]`, nil)}, []*fastpath.Schema{e}, false},
		{[]fastpath.Member{m("jsonrpc", `"2.0"`, nil), m("result", `{}`, nil)}, []*fastpath.Schema{e, nil}, false},
		{[]fastpath.Member{m("kind", `"a"`, nil), m("a", `1`, nil)}, []*fastpath.Schema{tg}, true},
		{[]fastpath.Member{m("a", `1`, nil), m("kind", `"\u0061"`, nil)}, []*fastpath.Schema{tg}, true},
		{[]fastpath.Member{m("kind", `"b"`, nil), m("a", `1`, nil)}, []*fastpath.Schema{tg}, false},
		{[]fastpath.Member{m("kind", `"b"`, nil), m("b", `1`, nil)}, []*fastpath.Schema{tg}, true},
		{[]fastpath.Member{m("kind", `"a"`, nil), m("a", `1`, nil)}, []*fastpath.Schema{tg, e}, false},
		{[]fastpath.Member{m("kind", ``, nil), m("a", `1`, nil)}, []*fastpath.Schema{tg}, false},
		{nil, []*fastpath.Schema{r}, false},
		{nil, []*fastpath.Schema{compile("O")}, true},
	}
	for i, c := range cases {
		if got := fastpath.ValidObject(c.ms, c.sch...); got != c.valid {
			t.Errorf("case %d: ValidObject=%v, want %v", i, got, c.valid)
		}
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(100, func() { fastpath.ValidObject(cases[0].ms, e) }); n != 0 {
		t.Errorf("ValidObject allocates %v times", n)
	}
	text := []byte(`{"kind":"a","a":{"x":[1,2,{"y":null}]},"other":"` + strings.Repeat("z", 300) + `"}`)
	if n := testing.AllocsPerRun(100, func() { tg.ValidJSON(text) }); n != 0 {
		t.Errorf("ValidJSON allocates %v times", n)
	}
}

func BenchmarkValidJSON(b *testing.B) {
	doc := document(`{"T":{"type":"object","required":["name"],"properties":{"name":{"type":"string"},
		"n":{"type":"integer","minimum":0},"p":{"type":"number","minimum":0,"maximum":1},
		"tags":{"type":"array","items":{"type":"string"}}}}}`)
	x, _ := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	fc, _ := fastpath.NewCompiler(x)
	s, err := fc.Compile("#/$defs/T")
	if err != nil {
		b.Fatal(err)
	}
	text := []byte(`{"name":"x","n":42,"p":0.5,"tags":["a","b"],"other":{}}`)
	b.ReportAllocs()
	for b.Loop() {
		if !s.ValidJSON(text) {
			b.Fatal("invalid")
		}
	}
}

// TestOutOfRangeNumbers: on numbers math/big will not parse (jsonschema
// panics on them where a bound applies) fastpath says the same on the tree
// and on the text: valid where the float comparison decides, not valid
// where only the exact value could.
func TestOutOfRangeNumbers(t *testing.T) {
	for _, c := range []struct {
		schema string
		in     string
		valid  bool
	}{
		{`{"type":"number","minimum":0}`, `1e1000001`, false},
		{`{"type":"number","maximum":1}`, `-1e1000001`, false},
		{`{"type":"number","maximum":1}`, `1e-1000001`, true},
		{`{"type":"number","minimum":0}`, `1e-1000001`, false},
		{`{"type":"integer"}`, `1e1000001`, false},
		{`{"const":1}`, `1e1000001`, false},
		{`{"type":"number"}`, `1e1000001`, true},
	} {
		fast, _, err := compileBoth(t, document(`{"T":`+c.schema+`}`), "#/$defs/T")
		if err != nil {
			t.Fatal(err)
		}
		tree, text := fast.Valid(decode(t, c.in)), fast.ValidJSON([]byte(c.in))
		if tree != c.valid || text != c.valid {
			t.Errorf("%s on %s: Valid=%v, ValidJSON=%v, want %v", c.schema, c.in, tree, text, c.valid)
		}
	}
}
