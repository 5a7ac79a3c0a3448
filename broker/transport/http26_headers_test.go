package transport

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpbroker/mcpbroker/schemas"
)

func TestParseParamHeaders(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		want   []ParamHeader
		bad    string // substring of the error, when invalid
	}{
		{name: "none", schema: `{"type":"object","properties":{"q":{"type":"string"}}}`},
		{name: "empty", schema: ``},
		{name: "spec example", schema: `{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"query":{"type":"string"}},"required":["region","query"]}`,
			want: []ParamHeader{{Name: "Region", Path: []string{"region"}, Type: "string"}}},
		{name: "nested and sorted", schema: `{"type":"object","properties":{
			"z":{"type":"integer","x-mcp-header":"Zed"},
			"a":{"type":"object","properties":{"b":{"type":["boolean","null"],"x-mcp-header":"A-B"}}}}}`,
			want: []ParamHeader{
				{Name: "A-B", Path: []string{"a", "b"}, Type: "boolean"},
				{Name: "Zed", Path: []string{"z"}, Type: "integer"},
			}},
		{name: "property named x-mcp-header", schema: `{"type":"object","properties":{"x-mcp-header":{"type":"string"}}}`},
		{name: "annotation in data keywords", schema: `{"type":"object","default":{"x-mcp-header":"X"},"const":{"x-mcp-header":"Y"},"properties":{}}`},
		{name: "on the root", schema: `{"type":"string","x-mcp-header":"Root"}`, bad: "the root"},
		{name: "under items", schema: `{"type":"object","properties":{"l":{"type":"array","items":{"type":"string","x-mcp-header":"L"}}}}`, bad: "/properties/l/items"},
		{name: "under oneOf", schema: `{"type":"object","oneOf":[{"properties":{"a":{"type":"string","x-mcp-header":"A"}}}]}`, bad: "/oneOf/0/properties/a"},
		{name: "under $defs", schema: `{"type":"object","$defs":{"d":{"type":"string","x-mcp-header":"D"}},"properties":{"a":{"$ref":"#/$defs/d"}}}`, bad: "/$defs/d"},
		{name: "under if", schema: `{"type":"object","if":{"properties":{"a":{"type":"string","x-mcp-header":"A"}}}}`, bad: "/if"},
		{name: "under additionalProperties", schema: `{"type":"object","additionalProperties":{"type":"string","x-mcp-header":"A"}}`, bad: "additionalProperties"},
		{name: "number type", schema: `{"type":"object","properties":{"n":{"type":"number","x-mcp-header":"N"}}}`, bad: "type"},
		{name: "no type", schema: `{"type":"object","properties":{"n":{"x-mcp-header":"N"}}}`, bad: "type"},
		{name: "two types", schema: `{"type":"object","properties":{"n":{"type":["string","integer"],"x-mcp-header":"N"}}}`, bad: "type"},
		{name: "object type", schema: `{"type":"object","properties":{"n":{"type":"object","x-mcp-header":"N"}}}`, bad: "type"},
		{name: "empty name", schema: `{"type":"object","properties":{"n":{"type":"string","x-mcp-header":""}}}`, bad: "token"},
		{name: "space in name", schema: `{"type":"object","properties":{"n":{"type":"string","x-mcp-header":"A B"}}}`, bad: "token"},
		{name: "colon in name", schema: `{"type":"object","properties":{"n":{"type":"string","x-mcp-header":"A:B"}}}`, bad: "token"},
		{name: "CRLF in name", schema: `{"type":"object","properties":{"n":{"type":"string","x-mcp-header":"A\r\nB"}}}`, bad: "token"},
		{name: "non-ASCII name", schema: `{"type":"object","properties":{"n":{"type":"string","x-mcp-header":"Régión"}}}`, bad: "token"},
		{name: "not a string", schema: `{"type":"object","properties":{"n":{"type":"string","x-mcp-header":1}}}`, bad: "not a string"},
		{name: "duplicate ignoring case", schema: `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Region"},"b":{"type":"string","x-mcp-header":"REGION"}}}`, bad: "already used"},
		{name: "not JSON", schema: `{"type":`, bad: "input schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseParamHeaders(json.RawMessage(tt.schema))
			if tt.bad != "" {
				if !errors.Is(err, ErrInvalidAnnotation) || !strings.Contains(err.Error(), tt.bad) {
					t.Fatalf("err = %v, want ErrInvalidAnnotation mentioning %q", err, tt.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// paramSchema is a tool input schema with one annotation of each type.
const paramSchema = `{"type":"object","properties":{
	"region":{"type":"string","x-mcp-header":"Region"},
	"count":{"type":"integer","x-mcp-header":"Count"},
	"dry":{"type":"boolean","x-mcp-header":"Dry"},
	"opt":{"type":"object","properties":{"tenant":{"type":"string","x-mcp-header":"Tenant"}}}}}`

func TestParamHeadersFromSchema(t *testing.T) {
	tests := []struct {
		name string
		args string
		want map[string]string
		bad  bool
	}{
		{name: "plain", args: `{"region":"us-west1","count":42,"dry":false}`,
			want: map[string]string{"Mcp-Param-Region": "us-west1", "Mcp-Param-Count": "42", "Mcp-Param-Dry": "false"}},
		{name: "absent and null omitted", args: `{"region":null}`, want: map[string]string{}},
		{name: "no arguments", args: ``, want: map[string]string{}},
		{name: "nested", args: `{"opt":{"tenant":"acme"}}`, want: map[string]string{"Mcp-Param-Tenant": "acme"}},
		{name: "nested through a non-object", args: `{"opt":"x"}`, want: map[string]string{}},
		{name: "integer written as float", args: `{"count":4.2e1}`, want: map[string]string{"Mcp-Param-Count": "42"}},
		{name: "negative integer", args: `{"count":-7}`, want: map[string]string{"Mcp-Param-Count": "-7"}},
		{name: "largest safe integer", args: `{"count":9007199254740991}`, want: map[string]string{"Mcp-Param-Count": "9007199254740991"}},
		{name: "unicode", args: `{"region":"Hello, 世界"}`, want: map[string]string{"Mcp-Param-Region": "=?base64?SGVsbG8sIOS4lueVjA==?="}},
		{name: "unsafe integer", args: `{"count":9007199254740992}`, bad: true},
		{name: "fraction", args: `{"count":1.5}`, bad: true},
		{name: "huge exponent", args: `{"count":1e999999999}`, bad: true},
		{name: "wrong type", args: `{"dry":"yes"}`, bad: true},
		{name: "not JSON", args: `{`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParamHeadersFromSchema(json.RawMessage(paramSchema), json.RawMessage(tt.args))
			if tt.bad {
				if !errors.Is(err, ErrHeaderValue) {
					t.Fatalf("err = %v, want ErrHeaderValue", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEncodeHeaderValue(t *testing.T) {
	// The examples of the 2026-07-28 Streamable HTTP page (4.T5).
	tests := []struct{ in, want string }{
		{"us-west1", "us-west1"},
		{"Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="},
		{" padded ", "=?base64?IHBhZGRlZCA=?="},
		{"line1\nline2", "=?base64?bGluZTEKbGluZTI=?="},
		{"=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="},
		{"tab\there", "=?base64?dGFiCWhlcmU=?="},
		{"file:///projects/myapp/config.json", "file:///projects/myapp/config.json"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := EncodeHeaderValue(tt.in); got != tt.want {
			t.Errorf("EncodeHeaderValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := DecodeHeaderValue(tt.want); err != nil || back != tt.in {
			t.Errorf("DecodeHeaderValue(%q) = %q, %v; want %q", tt.want, back, err, tt.in)
		}
	}
}

func TestDecodeHeaderValue(t *testing.T) {
	tests := []struct {
		in   string
		want string
		bad  bool
	}{
		{in: "plain value", want: "plain value"},
		{in: "=?base64?SGk?=", want: "Hi"}, // no padding
		{in: "=?base64?not base64!?=", bad: true},
		{in: "=?base64?/w==?=", bad: true}, // not UTF-8
		{in: "caf\xc3\xa9", bad: true},     // raw non-ASCII
		{in: "a\x00b", bad: true},
		{in: "=?BASE64?SGk=?=", want: "=?BASE64?SGk=?="}, // markers are case-sensitive
	}
	for _, tt := range tests {
		got, err := DecodeHeaderValue(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrHeaderMismatch) {
				t.Errorf("DecodeHeaderValue(%q) err = %v, want ErrHeaderMismatch", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("DecodeHeaderValue(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckParamHeaders(t *testing.T) {
	specs, err := ParseParamHeaders(json.RawMessage(paramSchema))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    string
		headers []string
		ok      bool
	}{
		{name: "match", args: `{"region":"us","count":42,"dry":true}`, headers: []string{"Mcp-Param-Region: us", "Mcp-Param-Count: 42", "Mcp-Param-Dry: true"}, ok: true},
		{name: "header name case", args: `{"region":"us"}`, headers: []string{"mcp-param-region: us"}, ok: true},
		{name: "numeric comparison", args: `{"count":42}`, headers: []string{"Mcp-Param-Count: 42.0"}, ok: true},
		{name: "base64 decoded", args: `{"region":"Hello, 世界"}`, headers: []string{"Mcp-Param-Region: =?base64?SGVsbG8sIOS4lueVjA==?="}, ok: true},
		{name: "nothing either side", args: `{"other":1}`, ok: true},
		{name: "null needs none", args: `{"region":null}`, ok: true},
		{name: "unknown Mcp-Param ignored", args: `{}`, headers: []string{"Mcp-Param-Other: x"}, ok: true},
		{name: "missing header", args: `{"region":"us"}`},
		{name: "different value", args: `{"region":"us"}`, headers: []string{"Mcp-Param-Region: eu"}},
		{name: "header without argument", args: `{}`, headers: []string{"Mcp-Param-Region: eu"}},
		{name: "boolean spelling", args: `{"dry":true}`, headers: []string{"Mcp-Param-Dry: TRUE"}},
		{name: "number not JSON", args: `{"count":42}`, headers: []string{"Mcp-Param-Count: 0x2a"}},
		{name: "invalid characters", args: `{"region":"é"}`, headers: []string{"Mcp-Param-Region: \xc3\xa9"}},
		{name: "repeated", args: `{"region":"us"}`, headers: []string{"Mcp-Param-Region: us", "Mcp-Param-Region: us"}},
		{name: "object argument", args: `{"region":{"a":1}}`, headers: []string{"Mcp-Param-Region: x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, kv := range tt.headers {
				k, v, _ := strings.Cut(kv, ": ")
				h.Add(k, v)
			}
			err := CheckParamHeaders(specs, json.RawMessage(tt.args), h)
			if tt.ok && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrHeaderMismatch) {
				t.Fatalf("err = %v, want ErrHeaderMismatch", err)
			}
		})
	}
}

func TestDeriveHeaders(t *testing.T) {
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	tests := []struct {
		name string
		body string
		rev  schemas.Revision
		want http.Header
	}{
		{name: "tools/call", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{"location":"Seattle"},` + meta + `}}`,
			want: http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"get_weather"}}},
		{name: "resources/read", body: `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///projects/myapp/config.json",` + meta + `}}`,
			want: http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"resources/read"}, "Mcp-Name": {"file:///projects/myapp/config.json"}}},
		{name: "prompts/get with unicode name", body: `{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"résumé",` + meta + `}}`,
			want: http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"prompts/get"}, "Mcp-Name": {"=?base64?csOpc3Vtw6k=?="}}},
		{name: "tools/list has no name", body: `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"name":"ignored",` + meta + `}}`,
			want: http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"tools/list"}}},
		{name: "version from SetRevision", body: `{"jsonrpc":"2.0","id":5,"method":"server/discover"}`, rev: schemas.V20260728,
			want: http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"server/discover"}}},
		{name: "body version wins", body: `{"jsonrpc":"2.0","id":6,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"draft"}}}`, rev: schemas.V20260728,
			want: http.Header{"Mcp-Protocol-Version": {"draft"}, "Mcp-Method": {"server/discover"}}},
		{name: "default version", body: `{"jsonrpc":"2.0","method":"notifications/something"}`,
			want: http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"notifications/something"}}},
		{name: "name not a string", body: `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":7}}`,
			want: http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"tools/call"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := deriveHeaders(parse(t, []byte(tt.body)), tt.rev)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzParamHeaders checks that the annotation parser and the value
// extraction never panic, and that headers computed for any arguments pass
// the server's check of the same arguments.
func FuzzParamHeaders(f *testing.F) {
	f.Add(paramSchema, `{"region":"us-west1","count":42,"dry":false,"opt":{"tenant":"a"}}`)
	f.Add(paramSchema, `{"region":" padded ","count":4.2e1}`)
	f.Add(`{"type":"object","properties":{"a":{"type":["string","null"],"x-mcp-header":"A"}}}`, `{"a":"=?base64?x?="}`)
	f.Add(`{"type":"object","properties":{"l":{"items":{"x-mcp-header":"L"}}}}`, `{}`)
	f.Add(`{"properties":{"n":{"type":"integer","x-mcp-header":"N"}}}`, `{"n":1e400}`)
	f.Fuzz(func(t *testing.T, schema, args string) {
		specs, err := ParseParamHeaders(json.RawMessage(schema))
		if err != nil {
			if !errors.Is(err, ErrInvalidAnnotation) {
				t.Fatalf("error %v does not wrap ErrInvalidAnnotation", err)
			}
			return
		}
		for _, p := range specs {
			if !isToken(p.Name) || len(p.Path) == 0 {
				t.Fatalf("bad annotation %+v", p)
			}
		}
		vals, err := ParamHeaderValues(specs, json.RawMessage(args))
		if err != nil {
			return
		}
		h := http.Header{}
		for k, v := range vals {
			if _, err := DecodeHeaderValue(v); err != nil {
				t.Fatalf("encoded %s value %q does not decode: %v", k, v, err)
			}
			h.Set(k, v)
		}
		if err := CheckParamHeaders(specs, json.RawMessage(args), h); err != nil {
			t.Fatalf("headers %v for arguments %s fail the check: %v", vals, args, err)
		}
	})
}

// FuzzHeaderValue checks that decoding undoes encoding for any text, and
// that decoding anything never panics.
func FuzzHeaderValue(f *testing.F) {
	for _, s := range []string{"us-west1", "Hello, 世界", " padded ", "=?base64?literal?=", "=?base64??=", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		DecodeHeaderValue(s)
		if !utf8.ValidString(s) {
			return
		}
		enc := EncodeHeaderValue(s)
		for i := 0; i < len(enc); i++ {
			if enc[i] < 0x20 || enc[i] > 0x7e {
				t.Fatalf("EncodeHeaderValue(%q) = %q holds byte %#x", s, enc, enc[i])
			}
		}
		got, err := DecodeHeaderValue(enc)
		if err != nil || got != s {
			t.Fatalf("DecodeHeaderValue(EncodeHeaderValue(%q)) = %q, %v", s, got, err)
		}
	})
}
