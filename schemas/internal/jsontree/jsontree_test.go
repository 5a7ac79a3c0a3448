package jsontree_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpbroker/mcpbroker/schemas/internal/jsontree"
)

// stdDecode is the reference: encoding/json with UseNumber, rejecting what
// json.Unmarshal rejects (trailing data included).
func stdDecode(b []byte) (any, error) {
	if !json.Valid(b) {
		return nil, errors.New("invalid JSON")
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

type obj = map[string]any
type arr = []any
type num = json.Number

func TestDecodeValid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
	}{
		{`null`, nil},
		{`true`, true},
		{`false`, false},
		{` 	
 true 
	`, true},
		{`""`, ""},
		{`"abc"`, "abc"},
		{`"object"`, "object"},
		{`0`, num("0")},
		{`-0`, num("-0")},
		{`1`, num("1")},
		{`-1`, num("-1")},
		{`10`, num("10")},
		{`1.0`, num("1.0")},
		{`1.50`, num("1.50")},
		{`1e3`, num("1e3")},
		{`1E+03`, num("1E+03")},
		{`-0.0e-0`, num("-0.0e-0")},
		{`123456789012345678901234567890`, num("123456789012345678901234567890")},
		{`1e999999`, num("1e999999")},
		{`[]`, arr{}},
		{`[ ]`, arr{}},
		{`{}`, obj{}},
		{` { } `, obj{}},
		{`[1,"a",true,false,null,[],{}]`, arr{num("1"), "a", true, false, nil, arr{}, obj{}}},
		{`[ 1 , [ 2 , [ 3 ] ] ]`, arr{num("1"), arr{num("2"), arr{num("3")}}}},
		{`{"a":1,"b":{"c":[true]}}`, obj{"a": num("1"), "b": obj{"c": arr{true}}}},
		{"{\n  \"a\" : 1 ,\r\n\t\"b\" : [ ] \n}", obj{"a": num("1"), "b": arr{}}},
		{`{"a":1,"a":2}`, obj{"a": num("2")}},
		{`{"a":{"x":1},"b":2,"a":"last"}`, obj{"a": "last", "b": num("2")}},
		{`{"":""}`, obj{"": ""}},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{`"a\u0041b"`, "aAb"},
		{`"\u00e9\u00E9"`, "éé"},
		{`"\u0000"`, "\x00"},
		{`"\u20ac"`, "€"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\uD83D\uDE00x"`, "😀x"},
		{`"\udbff\udfff"`, "\U0010FFFF"},
		{`"\ud800"`, "\uFFFD"},
		{`"\udc00"`, "\uFFFD"},
		{`"\ud800x"`, "\uFFFDx"},
		{`"\ud800\u0041"`, "\uFFFDA"},
		{`"\ud800\ud800\udc00"`, "\uFFFD\U00010000"},
		{`"\udc00\ud800"`, "\uFFFD\uFFFD"},
		{`"\ud800\n"`, "\uFFFD\n"},
		{`"\ud800\\u"`, "\uFFFD\\u"},
		{`"é€😀"`, "é€😀"},
		{`"a\tb"` /* escaped tab */, "a\tb"},
		{"\"\x7f\"", "\x7f"},
		{`{"k\u00e9y":"v\nw"}`, obj{"kéy": "v\nw"}},
		{`{"type":"object","properties":{"q":{"type":"string","enum":["a","b"]}},"required":["q"]}`,
			obj{"type": "object", "properties": obj{"q": obj{"type": "string", "enum": arr{"a", "b"}}}, "required": arr{"q"}}},
		{strings.Repeat("[", jsontree.MaxDepth) + strings.Repeat("]", jsontree.MaxDepth), nil},
	} {
		got, err := jsontree.Decode([]byte(tc.in))
		if err != nil {
			t.Errorf("Decode(%q): %v", trunc(tc.in), err)
			continue
		}
		std, err := stdDecode([]byte(tc.in))
		if err != nil {
			t.Errorf("encoding/json rejects %q: %v", trunc(tc.in), err)
			continue
		}
		if !reflect.DeepEqual(got, std) {
			t.Errorf("Decode(%q) = %#v, encoding/json %#v", trunc(tc.in), got, std)
		}
		if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Decode(%q) = %#v, want %#v", trunc(tc.in), got, tc.want)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	for _, in := range []string{
		``,
		` `,
		`nul`,
		`nulL`,
		`tru`,
		`truex`,
		`falsy`,
		`True`,
		`NaN`,
		`Infinity`,
		`-`,
		`+1`,
		`01`,
		`-01`,
		`1.`,
		`.5`,
		`1.e3`,
		`1e`,
		`1e+`,
		`1x`,
		`0x10`,
		`1 2`,
		`[] []`,
		`{} x`,
		`"a" "b"`,
		`"`,
		`"abc`,
		`"\"`,
		`"\`,
		`"\x"`,
		`"\'"`,
		`"\u12"`,
		`"\u12g4"`,
		`"\U1234"`,
		"\"a\nb\"",
		"\"a\tb\"",
		"\"\x00\"",
		"\"\x1f\"",
		`[`,
		`[1`,
		`[1,`,
		`[1,]`,
		`[,1]`,
		`[1 2]`,
		`]`,
		`{`,
		`{"a"`,
		`{"a":`,
		`{"a":1`,
		`{"a":1,`,
		`{"a":1,}`,
		`{,}`,
		`{"a" 1}`,
		`{"a":1 "b":2}`,
		`{a:1}`,
		`{'a':1}`,
		`{1:1}`,
		`{"a":1]`,
		`[1}`,
		`/* */ 1`,
		"\xef\xbb\xbf{}", // BOM
		"\x00",
		strings.Repeat("[", jsontree.MaxDepth+1) + strings.Repeat("]", jsontree.MaxDepth+1),
		strings.Repeat(`{"a":`, jsontree.MaxDepth+1) + "1" + strings.Repeat("}", jsontree.MaxDepth+1),
		strings.Repeat("[", 1<<20),
	} {
		got, err := jsontree.Decode([]byte(in))
		if err == nil {
			t.Errorf("Decode(%q) = %#v, want an error", trunc(in), got)
			continue
		}
		var se *jsontree.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Decode(%q): error %T %v, want a *SyntaxError", trunc(in), err, err)
		}
		if se.Offset < 0 || se.Offset > len(in) {
			t.Errorf("Decode(%q): offset %d out of range", trunc(in), se.Offset)
		}
		if _, err := stdDecode([]byte(in)); err == nil {
			t.Errorf("encoding/json accepts %q", trunc(in))
		}
	}
}

// TestDecodeInvalidUTF8 checks the one deliberate difference with
// encoding/json: invalid UTF-8 in strings is an error, not U+FFFD.
func TestDecodeInvalidUTF8(t *testing.T) {
	for _, in := range []string{
		"\"\xff\"",
		"\"a\x80b\"",
		"\"\xc3\"",             // truncated sequence
		"\"\xc0\xaf\"",         // overlong
		"\"\xed\xa0\x80\"",     // encoded surrogate
		"\"\xf4\x90\x80\x80\"", // beyond U+10FFFF
		"{\"\xff\":1}",
		"{\"a\":\"\\n\xff\"}", // after an escape
		"[\"ok\",\"\xfe\"]",
		"\xff",
	} {
		if got, err := jsontree.Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) = %#v, want an error", in, got)
		}
		if utf8.ValidString(in) {
			t.Errorf("test input %q is valid UTF-8", in)
		}
	}
}

// TestDecodeStringPositions puts each kind of byte the word-at-a-time
// string scan stops at at every offset of a string and around it.
func TestDecodeStringPositions(t *testing.T) {
	for _, special := range []string{`\n`, `\\`, `\"`, "\"", `\u00e9`, `\ud83d\ude00`, "é", "😀", "\x7f", "\x01", "\xff", "\xc3"} {
		for n := range 20 {
			for _, tail := range []string{"", "abcdefghijklmnopqrstuvwxyz"} {
				in := `["` + strings.Repeat("x", n) + special + tail + `"]`
				got, err := jsontree.Decode([]byte(in))
				std, stdErr := stdDecode([]byte(in))
				switch {
				case stdErr != nil || !utf8.ValidString(in):
					if err == nil {
						t.Errorf("Decode(%q) = %#v, want an error", in, got)
					}
				case err != nil:
					t.Errorf("Decode(%q): %v", in, err)
				case !reflect.DeepEqual(got, std):
					t.Errorf("Decode(%q) = %#v, encoding/json %#v", in, got, std)
				}
			}
		}
	}
}

// TestDecodeOffset checks error offsets on a few inputs.
func TestDecodeOffset(t *testing.T) {
	for _, tc := range []struct {
		in  string
		off int
	}{
		{`[1,]`, 3},
		{`{"a":1 x}`, 7},
		{`"ab`, 3},
		{"\"a\xffb\"", 2},
		{`[1] 2`, 4},
		{`[tru]`, 4},
	} {
		_, err := jsontree.Decode([]byte(tc.in))
		var se *jsontree.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Decode(%q): %v, want a *SyntaxError", tc.in, err)
			continue
		}
		if se.Offset != tc.off {
			t.Errorf("Decode(%q): offset %d (%v), want %d", tc.in, se.Offset, err, tc.off)
		}
	}
}

// TestDecodeDoesNotAlias checks that the tree does not share memory with
// the input, which the caller may reuse.
func TestDecodeDoesNotAlias(t *testing.T) {
	b := []byte(`{"key":["value",12]}`)
	v, err := jsontree.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'x'
	}
	want := obj{"key": arr{"value", num("12")}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("after overwriting the input: %#v, want %#v", v, want)
	}
}

func TestDecodeBenchMessages(t *testing.T) {
	for _, b := range [][]byte{toolsCallRequest(), toolsListResult(50)} {
		got, err := jsontree.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		std, err := stdDecode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, std) {
			t.Errorf("Decode differs from encoding/json on %.60s...", b)
		}
	}
}

// FuzzDecode compares Decode with encoding/json and UseNumber: on valid
// UTF-8 both must accept the same inputs and build equal trees; on invalid
// UTF-8, Decode must reject.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`null`, `true`, `false`, `0`, `-1.5e+10`, `"a\u00e9\ud83d\ude00\ud800"`,
		`[1,"a",{"b":[null,{}]},[]]`, `{"a":1,"a":{"a":2}}`, " {\"x\" : [ 1 , 2 ] } \n",
		`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`,
		"\"\xff\"", `[1,]`, `01`, `"\u12"`, `{"a" 1}`, "[[[[[[[[[[]]]]]]]]]]",
	} {
		f.Add([]byte(s))
	}
	f.Add(toolsCallRequest())
	f.Add(toolsListResult(2))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := jsontree.Decode(b)
		std, stdErr := stdDecode(b)
		switch {
		case stdErr != nil:
			if err == nil {
				t.Fatalf("Decode(%q) = %#v, encoding/json rejects it: %v", b, got, stdErr)
			}
		case !utf8.Valid(b):
			if err == nil {
				t.Fatalf("Decode(%q) accepts invalid UTF-8: %#v", b, got)
			}
		case err != nil:
			t.Fatalf("Decode(%q): %v; encoding/json accepts it: %#v", b, err, std)
		case !reflect.DeepEqual(got, std):
			t.Fatalf("Decode(%q) = %#v, encoding/json %#v", b, got, std)
		}
	})
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
