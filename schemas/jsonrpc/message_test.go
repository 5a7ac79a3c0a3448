package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseKinds(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		kind   Kind
		id     string // "" for nil
		method string
		params string
		result string
		errObj string
	}{
		{
			name:   "request with number id",
			in:     `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`,
			kind:   KindRequest,
			id:     `1`,
			method: "tools/call",
			params: `{"name":"x","arguments":{}}`,
		},
		{
			name:   "request with string id and array params",
			in:     `{"method":"sum","params":[1,2],"id":"abc","jsonrpc":"2.0"}`,
			kind:   KindRequest,
			id:     `"abc"`,
			method: "sum",
			params: `[1,2]`,
		},
		{
			name:   "request without params",
			in:     `{"jsonrpc":"2.0","id":7,"method":"ping"}`,
			kind:   KindRequest,
			id:     `7`,
			method: "ping",
		},
		{
			name:   "notification",
			in:     `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			kind:   KindNotification,
			method: "notifications/initialized",
		},
		{
			name:   "notification with params",
			in:     `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`,
			kind:   KindNotification,
			method: "notifications/progress",
			params: `{"progress":1}`,
		},
		{
			name:   "result",
			in:     `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`,
			kind:   KindResult,
			id:     `1`,
			result: `{"tools":[]}`,
		},
		{
			name:   "null result",
			in:     `{"jsonrpc":"2.0","id":"r","result":null}`,
			kind:   KindResult,
			id:     `"r"`,
			result: `null`,
		},
		{
			name:   "scalar result",
			in:     `{"jsonrpc":"2.0","id":2,"result":"ok"}`,
			kind:   KindResult,
			id:     `2`,
			result: `"ok"`,
		},
		{
			name:   "error",
			in:     `{"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"nope"}}`,
			kind:   KindError,
			id:     `3`,
			errObj: `{"code":-32601,"message":"nope"}`,
		},
		{
			name:   "error with null id",
			in:     `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
			kind:   KindError,
			id:     `null`,
			errObj: `{"code":-32700,"message":"Parse error"}`,
		},
		{
			name:   "whitespace everywhere",
			in:     " \t\r\n{ \"jsonrpc\" : \"2.0\" ,\n\"id\" :\t9 , \"method\" : \"m\" , \"params\" : [ ] } \r\n",
			kind:   KindRequest,
			id:     `9`,
			method: "m",
			params: `[ ]`,
		},
		{
			name:   "escaped member names and values",
			in:     `{"\u006asonrpc":"2\u002e0","i\u0064":1,"meth\u006fd":"tools\/call","par\u0061ms":{}}`,
			kind:   KindRequest,
			id:     `1`,
			method: "tools/call",
			params: `{}`,
		},
		{
			name:   "unknown members ignored",
			in:     `{"jsonrpc":"2.0","x":[{"y":null}],"x":1,"id":1,"method":"m","_meta":{},"Methods":1,"idx":2,"i":3,"résult":4}`,
			kind:   KindRequest,
			id:     `1`,
			method: "m",
		},
		{
			name:   "unicode method",
			in:     `{"jsonrpc":"2.0","method":"m\u00e9thode/\ud83d\ude00/é"}`,
			kind:   KindNotification,
			method: "méthode/😀/é",
		},
		{
			name:   "empty method",
			in:     `{"jsonrpc":"2.0","method":""}`,
			kind:   KindNotification,
			method: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.Kind != tt.kind {
				t.Errorf("Kind = %v, want %v", m.Kind, tt.kind)
			}
			checkRaw(t, "ID", m.ID, tt.id)
			checkRaw(t, "Params", m.Params, tt.params)
			checkRaw(t, "Result", m.Result, tt.result)
			checkRaw(t, "Error", m.Error, tt.errObj)
			if m.Method != tt.method {
				t.Errorf("Method = %q, want %q", m.Method, tt.method)
			}
			if want := strings.Trim(tt.in, " \t\r\n"); string(m.Raw) != want {
				t.Errorf("Raw = %q, want %q", m.Raw, want)
			}
			if m.IsRequest() != (tt.kind == KindRequest) ||
				m.IsNotification() != (tt.kind == KindNotification) ||
				m.IsCall() != (tt.kind == KindRequest || tt.kind == KindNotification) ||
				m.IsResponse() != (tt.kind == KindResult || tt.kind == KindError) {
				t.Errorf("Is* predicates disagree with Kind %v", m.Kind)
			}

			f, err := ParseFrame([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseFrame: %v", err)
			}
			if f.Batch || len(f.Messages) != 1 || f.Errors != nil {
				t.Fatalf("ParseFrame = %+v, want one message", f)
			}
			if !equalMessage(f.Messages[0], m) {
				t.Errorf("ParseFrame message = %+v, want %+v", f.Messages[0], m)
			}
		})
	}
}

func checkRaw(t *testing.T, field string, got json.RawMessage, want string) {
	t.Helper()
	if want == "" {
		if got != nil {
			t.Errorf("%s = %q, want nil", field, got)
		}
		return
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", field, got, want)
	}
}

func equalMessage(a, b *Message) bool {
	return bytes.Equal(a.Raw, b.Raw) && a.Kind == b.Kind && bytes.Equal(a.ID, b.ID) &&
		a.Method == b.Method && bytes.Equal(a.Params, b.Params) &&
		bytes.Equal(a.Result, b.Result) && bytes.Equal(a.Error, b.Error) &&
		(a.ID == nil) == (b.ID == nil) && (a.Params == nil) == (b.Params == nil)
}

func TestParseIDByteExact(t *testing.T) {
	ids := []string{
		`-3`, `0`, `-0`, `1.5`, `1e3`, `1E+2`, `-1.25e-10`,
		`123456789012345678901234567890`, `-123456789012345678901234567890.000001`,
		`"x"`, `""`, `"\u0061"`, `"a\"b\\c"`, `"<>&"`, `"\ud83d\ude00"`, `"é"`,
	}
	for _, id := range ids {
		for _, in := range []string{
			`{"jsonrpc":"2.0","id":` + id + `,"method":"m"}`,
			`{"jsonrpc":"2.0","id":` + id + `,"result":{}}`,
			`{"jsonrpc":"2.0","id":` + id + `,"error":{"code":1,"message":""}}`,
		} {
			m, err := Parse([]byte(in))
			if err != nil {
				t.Fatalf("Parse(%s): %v", in, err)
			}
			if string(m.ID) != id {
				t.Errorf("Parse(%s).ID = %s, want %s", in, m.ID, id)
			}
			if string(m.Raw) != in {
				t.Errorf("Parse(%s).Raw = %s", in, m.Raw)
			}
		}
	}
}

func TestParseRawPreserved(t *testing.T) {
	// Key order, escapes, HTML characters and number spellings survive.
	in := `{"params":{"z":1,"a":"<b>&amp;</b>","u":"\u003c\u00e9\/","n":1.50E+00,"big":123456789012345678901234567890},"method":"tools/call","id":"\u0031","jsonrpc":"2.0"}`
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Raw) != in {
		t.Errorf("Raw = %s\nwant %s", m.Raw, in)
	}
	if want := `{"z":1,"a":"<b>&amp;</b>","u":"\u003c\u00e9\/","n":1.50E+00,"big":123456789012345678901234567890}`; string(m.Params) != want {
		t.Errorf("Params = %s", m.Params)
	}
	if string(m.ID) != `"\u0031"` {
		t.Errorf("ID = %s", m.ID)
	}
}

func TestParseErrorWithoutID(t *testing.T) {
	m, err := Parse([]byte(`{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindError || m.ID != nil {
		t.Fatalf("got kind %v id %q, want an error with no id", m.Kind, m.ID)
	}
}

func TestParseErrors(t *testing.T) {
	deep := func(n int) string {
		return `{"jsonrpc":"2.0","method":"m","params":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	tests := []struct {
		name string
		in   string
		code int
		id   string // expected Error.ID, "" for nil
	}{
		// Not JSON.
		{"empty", ``, CodeParseError, ""},
		{"whitespace only", " \r\n\t", CodeParseError, ""},
		{"garbage", `hello`, CodeParseError, ""},
		{"truncated", `{"jsonrpc":"2.0","id":1,"method":"m"`, CodeParseError, ""},
		{"truncated in string", `{"jsonrpc":"2.0","method":"m`, CodeParseError, ""},
		{"truncated in escape", `{"jsonrpc":"2.0","method":"m\`, CodeParseError, ""},
		{"truncated after colon", `{"jsonrpc":`, CodeParseError, ""},
		{"trailing comma", `{"jsonrpc":"2.0","method":"m",}`, CodeParseError, ""},
		{"trailing comma in params", `{"jsonrpc":"2.0","method":"m","params":[1,]}`, CodeParseError, ""},
		{"missing colon", `{"jsonrpc" "2.0"}`, CodeParseError, ""},
		{"missing comma", `{"jsonrpc":"2.0" "method":"m"}`, CodeParseError, ""},
		{"unquoted key", `{jsonrpc:"2.0","method":"m"}`, CodeParseError, ""},
		{"single quotes", `{'jsonrpc':'2.0'}`, CodeParseError, ""},
		{"trailing garbage", `{"jsonrpc":"2.0","method":"m"} x`, CodeParseError, ""},
		{"two objects", `{"jsonrpc":"2.0","method":"m"}{"jsonrpc":"2.0","method":"m"}`, CodeParseError, ""},
		{"trailing garbage after invalid request", `{"jsonrpc":"1.0","id":1,"method":"m"}]`, CodeParseError, ""},
		{"syntax error after invalid member", `{"jsonrpc":1,"id":1,"method":"m",}`, CodeParseError, ""},
		{"comment", `{"jsonrpc":"2.0","method":"m"} // hi`, CodeParseError, ""},
		{"byte order mark", "\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"method\":\"m\"}", CodeParseError, ""},
		{"invalid UTF-8 in string", "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"a\":\"\xff\"}}", CodeParseError, ""},
		{"invalid UTF-8 in method", "{\"jsonrpc\":\"2.0\",\"method\":\"m\xc3\"}", CodeParseError, ""},
		{"invalid UTF-8 in key", "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"\xe2\x82\":1}", CodeParseError, ""},
		{"UTF-8 encoded surrogate", "{\"jsonrpc\":\"2.0\",\"method\":\"\xed\xa0\x80\"}", CodeParseError, ""},
		{"overlong UTF-8", "{\"jsonrpc\":\"2.0\",\"method\":\"\xc0\xaf\"}", CodeParseError, ""},
		{"raw control character", "{\"jsonrpc\":\"2.0\",\"method\":\"a\nb\"}", CodeParseError, ""},
		{"raw tab in string", "{\"jsonrpc\":\"2.0\",\"method\":\"a\tb\"}", CodeParseError, ""},
		{"bad escape", `{"jsonrpc":"2.0","method":"\x"}`, CodeParseError, ""},
		{"short unicode escape", `{"jsonrpc":"2.0","method":"\u12"}`, CodeParseError, ""},
		{"bad unicode escape", `{"jsonrpc":"2.0","method":"\u12g4"}`, CodeParseError, ""},
		{"leading zero", `{"jsonrpc":"2.0","id":01,"method":"m"}`, CodeParseError, ""},
		{"minus zero leading zero", `{"jsonrpc":"2.0","id":-01,"method":"m"}`, CodeParseError, ""},
		{"bare minus", `{"jsonrpc":"2.0","id":-,"method":"m"}`, CodeParseError, ""},
		{"plus sign", `{"jsonrpc":"2.0","id":+1,"method":"m"}`, CodeParseError, ""},
		{"trailing dot", `{"jsonrpc":"2.0","id":1.,"method":"m"}`, CodeParseError, ""},
		{"leading dot", `{"jsonrpc":"2.0","id":.5,"method":"m"}`, CodeParseError, ""},
		{"empty exponent", `{"jsonrpc":"2.0","id":1e,"method":"m"}`, CodeParseError, ""},
		{"signed empty exponent", `{"jsonrpc":"2.0","id":1e+,"method":"m"}`, CodeParseError, ""},
		{"hex number", `{"jsonrpc":"2.0","id":0x10,"method":"m"}`, CodeParseError, ""},
		{"NaN", `{"jsonrpc":"2.0","id":NaN,"method":"m"}`, CodeParseError, ""},
		{"Infinity", `{"jsonrpc":"2.0","id":-Infinity,"method":"m"}`, CodeParseError, ""},
		{"bad literal", `{"jsonrpc":"2.0","method":"m","params":[tru]}`, CodeParseError, ""},
		{"capitalised literal", `{"jsonrpc":"2.0","method":"m","params":[True]}`, CodeParseError, ""},
		{"unclosed array", `{"jsonrpc":"2.0","method":"m","params":[1,2}`, CodeParseError, ""},
		{"mismatched brackets", `{"jsonrpc":"2.0","method":"m","params":{"a":[}]}`, CodeParseError, ""},
		{"nested missing colon", `{"jsonrpc":"2.0","method":"m","params":{"a" 1}}`, CodeParseError, ""},
		{"nested number key", `{"jsonrpc":"2.0","method":"m","params":{1:2}}`, CodeParseError, ""},
		{"nested trailing comma", `{"jsonrpc":"2.0","method":"m","params":{"a":1,}}`, CodeParseError, ""},
		{"nested missing value", `{"jsonrpc":"2.0","method":"m","params":{"a":}}`, CodeParseError, ""},
		{"nested truncated after colon", `{"jsonrpc":"2.0","method":"m","params":{"a":`, CodeParseError, ""},
		{"nested truncated after bracket", `{"jsonrpc":"2.0","method":"m","params":[`, CodeParseError, ""},
		{"nested missing array comma", `{"jsonrpc":"2.0","method":"m","params":[1 2]}`, CodeParseError, ""},
		{"nested missing member comma", `{"jsonrpc":"2.0","method":"m","params":{"a":1 "b":2}}`, CodeParseError, ""},
		{"nested bad key string", "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"\xff\":1}}", CodeParseError, ""},
		{"nul byte", "{\"jsonrpc\":\"2.0\",\"method\":\"m\"}\x00", CodeParseError, ""},
		{"too deep", deep(MaxDepth), CodeParseError, ""},
		{"far too deep", deep(1_000_000), CodeParseError, ""},
		{"non-object too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), CodeParseError, ""},
		{"non-object invalid", `[1,`, CodeParseError, ""},

		// JSON, but not a JSON-RPC 2.0 message.
		{"array", `[]`, CodeInvalidRequest, ""},
		{"batch", `[{"jsonrpc":"2.0","method":"m"}]`, CodeInvalidRequest, ""},
		{"number", `1`, CodeInvalidRequest, ""},
		{"string", ` "x" `, CodeInvalidRequest, ""},
		{"null", `null`, CodeInvalidRequest, ""},
		{"empty object", `{}`, CodeInvalidRequest, ""},
		{"missing jsonrpc", `{"id":1,"method":"m"}`, CodeInvalidRequest, `1`},
		{"jsonrpc 1.0", `{"jsonrpc":"1.0","id":1,"method":"m"}`, CodeInvalidRequest, `1`},
		{"jsonrpc number", `{"jsonrpc":2.0,"id":"a","method":"m"}`, CodeInvalidRequest, `"a"`},
		{"jsonrpc with space", `{"jsonrpc":"2.0 ","id":1,"method":"m"}`, CodeInvalidRequest, `1`},
		{"jsonrpc escaped wrong", `{"jsonrpc":"2\u002e1","id":1,"method":"m"}`, CodeInvalidRequest, `1`},
		{"jsonrpc null", `{"jsonrpc":null,"method":"m"}`, CodeInvalidRequest, ""},
		{"method number", `{"jsonrpc":"2.0","id":1,"method":1}`, CodeInvalidRequest, `1`},
		{"method null", `{"jsonrpc":"2.0","id":1,"method":null}`, CodeInvalidRequest, `1`},
		{"method object", `{"jsonrpc":"2.0","method":{}}`, CodeInvalidRequest, ""},
		{"id object", `{"jsonrpc":"2.0","id":{},"method":"m"}`, CodeInvalidRequest, ""},
		{"id array", `{"jsonrpc":"2.0","id":[1],"method":"m"}`, CodeInvalidRequest, ""},
		{"id bool", `{"jsonrpc":"2.0","id":true,"method":"m"}`, CodeInvalidRequest, ""},
		{"id bool on result", `{"jsonrpc":"2.0","id":false,"result":1}`, CodeInvalidRequest, ""},
		{"null id on request", `{"jsonrpc":"2.0","id":null,"method":"m"}`, CodeInvalidRequest, ""},
		{"null id on result", `{"jsonrpc":"2.0","id":null,"result":1}`, CodeInvalidRequest, ""},
		{"params string", `{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}`, CodeInvalidRequest, `1`},
		{"params number", `{"jsonrpc":"2.0","id":1,"method":"m","params":1}`, CodeInvalidRequest, `1`},
		{"params null", `{"jsonrpc":"2.0","id":1,"method":"m","params":null}`, CodeInvalidRequest, `1`},
		{"params bool", `{"jsonrpc":"2.0","method":"m","params":true}`, CodeInvalidRequest, ""},
		{"result and error", `{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":""}}`, CodeInvalidRequest, `1`},
		{"method and result", `{"jsonrpc":"2.0","id":1,"method":"m","result":1}`, CodeInvalidRequest, `1`},
		{"method and error", `{"jsonrpc":"2.0","id":1,"method":"m","error":{}}`, CodeInvalidRequest, `1`},
		{"neither", `{"jsonrpc":"2.0","id":1}`, CodeInvalidRequest, `1`},
		{"neither with params", `{"jsonrpc":"2.0","id":"q","params":{}}`, CodeInvalidRequest, `"q"`},
		{"error string", `{"jsonrpc":"2.0","id":1,"error":"boom"}`, CodeInvalidRequest, `1`},
		{"error null", `{"jsonrpc":"2.0","id":1,"error":null}`, CodeInvalidRequest, `1`},
		{"error array", `{"jsonrpc":"2.0","id":1,"error":[]}`, CodeInvalidRequest, `1`},
		{"result without id", `{"jsonrpc":"2.0","result":1}`, CodeInvalidRequest, ""},
		{"result without id", `{"jsonrpc":"2.0","result":{}}`, CodeInvalidRequest, ""},
		{"params on response", `{"jsonrpc":"2.0","id":1,"result":1,"params":{}}`, CodeInvalidRequest, `1`},
		{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}`, CodeInvalidRequest, `1`},
		{"duplicate escaped method", `{"jsonrpc":"2.0","id":1,"method":"a","\u006dethod":"a"}`, CodeInvalidRequest, `1`},
		{"duplicate id", `{"jsonrpc":"2.0","id":1,"id":2,"method":"m"}`, CodeInvalidRequest, ""},
		{"duplicate jsonrpc", `{"jsonrpc":"2.0","jsonrpc":"2.0","method":"m"}`, CodeInvalidRequest, ""},
		{"duplicate params", `{"jsonrpc":"2.0","method":"m","params":{},"params":[]}`, CodeInvalidRequest, ""},
		{"duplicate result", `{"jsonrpc":"2.0","id":5,"result":1,"result":2}`, CodeInvalidRequest, `5`},
		{"duplicate error", `{"jsonrpc":"2.0","id":5,"error":{},"error":{}}`, CodeInvalidRequest, `5`},
		{"lookalike Method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`, CodeInvalidRequest, `1`},
		{"lookalike ID", `{"jsonrpc":"2.0","id":1,"ID":2,"method":"m"}`, CodeInvalidRequest, `1`},
		{"lookalike JSONRPC", `{"jsonrpc":"2.0","JSONRPC":"1.0","method":"m"}`, CodeInvalidRequest, ""},
		{"lookalike long s", `{"jsonrpc":"2.0","id":3,"method":"m","paramſ":{}}`, CodeInvalidRequest, `3`},
		{"lookalike escaped long s", `{"jsonrpc":"2.0","id":3,"method":"m","param\u017f":{}}`, CodeInvalidRequest, `3`},
		{"lookalike only", `{"jsonrpc":"2.0","id":3,"Method":"m"}`, CodeInvalidRequest, `3`},
		{"deep but allowed", `{"jsonrpc":"2.0","id":1,"params":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`, CodeInvalidRequest, `1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", m)
			}
			if m != nil {
				t.Errorf("Parse returned a message with an error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Code != tt.code {
				t.Errorf("Code = %d, want %d (%v)", e.Code, tt.code, err)
			}
			if !errors.Is(err, &Error{Code: tt.code}) {
				t.Errorf("errors.Is(err, &Error{Code: %d}) = false", tt.code)
			}
			checkRaw(t, "Error.ID", e.ID, tt.id)
			if !json.Valid(e.Response()) {
				t.Errorf("Response() = %s is not valid JSON", e.Response())
			}

			// A non-batch frame fails the same way.
			if !strings.HasPrefix(strings.TrimLeft(tt.in, " \t\r\n"), "[") {
				_, ferr := ParseFrame([]byte(tt.in))
				var fe *Error
				if !errors.As(ferr, &fe) || fe.Code != tt.code || !bytes.Equal(fe.ID, e.ID) {
					t.Errorf("ParseFrame error = %v, want code %d", ferr, tt.code)
				}
			}
		})
	}
}

func TestParseDepthLimit(t *testing.T) {
	// The message object is level 1, so params may open MaxDepth-1 levels.
	ok := `{"jsonrpc":"2.0","method":"m","params":` + strings.Repeat(`{"a":[`, (MaxDepth-1)/2) + strings.Repeat(`]}`, (MaxDepth-1)/2) + `}`
	if _, err := Parse([]byte(ok)); err != nil {
		t.Errorf("depth %d rejected: %v", MaxDepth, err)
	}
	okArr := `{"jsonrpc":"2.0","method":"m","params":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`
	if _, err := Parse([]byte(okArr)); err != nil {
		t.Errorf("depth %d rejected: %v", MaxDepth, err)
	}
	// In a batch, the array is level 1 and each message level 2.
	batch := `[` + okArr + `]`
	if _, err := ParseFrame([]byte(batch)); !errors.Is(err, &Error{Code: CodeParseError}) {
		t.Errorf("batch one level too deep: err = %v, want parse error", err)
	}
	okBatch := `[{"jsonrpc":"2.0","method":"m","params":` + strings.Repeat("[", MaxDepth-2) + strings.Repeat("]", MaxDepth-2) + `}]`
	if _, err := ParseFrame([]byte(okBatch)); err != nil {
		t.Errorf("batch at the limit rejected: %v", err)
	}
}

func TestParseFrameBatch(t *testing.T) {
	type elem struct {
		kind Kind   // 0 for an invalid element
		code int    // when invalid
		id   string // Error.ID of an invalid element
		raw  string // Raw of a valid element
	}
	tests := []struct {
		name  string
		in    string
		elems []elem
	}{
		{
			name: "all valid",
			in:   ` [ {"jsonrpc":"2.0","id":1,"method":"a"} ,{"jsonrpc":"2.0","method":"b"},{"jsonrpc":"2.0","id":"x","result":{}}, {"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}] `,
			elems: []elem{
				{kind: KindRequest, raw: `{"jsonrpc":"2.0","id":1,"method":"a"}`},
				{kind: KindNotification, raw: `{"jsonrpc":"2.0","method":"b"}`},
				{kind: KindResult, raw: `{"jsonrpc":"2.0","id":"x","result":{}}`},
				{kind: KindError, raw: `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`},
			},
		},
		{
			name: "mixed valid and invalid",
			in:   "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"sum\",\"params\":[1,2,4]},\n {\"jsonrpc\":\"2.0\",\"method\":\"notify_hello\",\"params\":[7]},{\"foo\":\"boo\"},\r\n{\"jsonrpc\":\"2.0\",\"id\":\"5\",\"method\":\"foo.get\",\"params\":{\"name\":\"myself\"}},1,{\"jsonrpc\":\"1.0\",\"id\":9,\"method\":\"m\"}]",
			elems: []elem{
				{kind: KindRequest, raw: `{"jsonrpc":"2.0","id":1,"method":"sum","params":[1,2,4]}`},
				{kind: KindNotification, raw: `{"jsonrpc":"2.0","method":"notify_hello","params":[7]}`},
				{code: CodeInvalidRequest},
				{kind: KindRequest, raw: `{"jsonrpc":"2.0","id":"5","method":"foo.get","params":{"name":"myself"}}`},
				{code: CodeInvalidRequest},
				{code: CodeInvalidRequest, id: `9`},
			},
		},
		{
			name:  "scalars",
			in:    `[1,2,3]`,
			elems: []elem{{code: CodeInvalidRequest}, {code: CodeInvalidRequest}, {code: CodeInvalidRequest}},
		},
		{
			name: "nested arrays",
			in:   `[[{"jsonrpc":"2.0","method":"m"}],[],{"jsonrpc":"2.0","method":"m"}]`,
			elems: []elem{
				{code: CodeInvalidRequest},
				{code: CodeInvalidRequest},
				{kind: KindNotification, raw: `{"jsonrpc":"2.0","method":"m"}`},
			},
		},
		{
			name:  "single element",
			in:    `[{"jsonrpc":"2.0","id":-3,"result":1.5}]`,
			elems: []elem{{kind: KindResult, raw: `{"jsonrpc":"2.0","id":-3,"result":1.5}`}},
		},
		{
			name:  "empty object and null",
			in:    `[{},null]`,
			elems: []elem{{code: CodeInvalidRequest}, {code: CodeInvalidRequest}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFrame([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseFrame: %v", err)
			}
			if !f.Batch {
				t.Error("Batch = false")
			}
			if len(f.Messages) != len(tt.elems) {
				t.Fatalf("%d messages, want %d", len(f.Messages), len(tt.elems))
			}
			anyInvalid := false
			for _, e := range tt.elems {
				anyInvalid = anyInvalid || e.kind == 0
			}
			if !anyInvalid && f.Errors != nil {
				t.Errorf("Errors = %v, want nil", f.Errors)
			}
			if anyInvalid && len(f.Errors) != len(f.Messages) {
				t.Fatalf("len(Errors) = %d, want %d", len(f.Errors), len(f.Messages))
			}
			for i, want := range tt.elems {
				m := f.Messages[i]
				if want.kind == 0 {
					if m != nil {
						t.Errorf("element %d: got message %s, want error", i, m.Raw)
						continue
					}
					e := f.Errors[i]
					if e == nil || e.Code != want.code {
						t.Errorf("element %d: error %v, want code %d", i, e, want.code)
						continue
					}
					checkRaw(t, "Error.ID", e.ID, want.id)
					continue
				}
				if m == nil {
					t.Errorf("element %d: error %v, want %v", i, f.Errors[i], want.kind)
					continue
				}
				if f.Errors != nil && f.Errors[i] != nil {
					t.Errorf("element %d: both message and error", i)
				}
				if m.Kind != want.kind || string(m.Raw) != want.raw {
					t.Errorf("element %d: %v %s, want %v %s", i, m.Kind, m.Raw, want.kind, want.raw)
				}
				// Each element parses on its own to the same message.
				single, err := Parse(m.Raw)
				if err != nil || !equalMessage(single, m) {
					t.Errorf("element %d: Parse(Raw) = %+v, %v", i, single, err)
				}
			}
		})
	}
}

func TestParseFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code int
	}{
		{"empty batch", `[]`, CodeInvalidRequest},
		{"empty batch with spaces", " [ \n ] ", CodeInvalidRequest},
		{"empty batch then garbage", `[] x`, CodeParseError},
		{"unterminated batch", `[{"jsonrpc":"2.0","method":"m"}`, CodeParseError},
		{"unterminated after comma", `[{"jsonrpc":"2.0","method":"m"},`, CodeParseError},
		{"trailing comma", `[{"jsonrpc":"2.0","method":"m"},]`, CodeParseError},
		{"leading comma", `[,{"jsonrpc":"2.0","method":"m"}]`, CodeParseError},
		{"missing comma", `[{"jsonrpc":"2.0","method":"m"} {"jsonrpc":"2.0","method":"m"}]`, CodeParseError},
		{"syntax error in one element", `[{"jsonrpc":"2.0","method":"m"},{"jsonrpc":"2.0","method":"m"]`, CodeParseError},
		{"syntax error in invalid element", `[{"jsonrpc":"1.0","method":"m"},{"jsonrpc":"2.0",}]`, CodeParseError},
		{"invalid UTF-8 in element", "[{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}]", CodeParseError},
		{"syntax error in scalar element", `[1,2,tru]`, CodeParseError},
		{"garbage after batch", `[{"jsonrpc":"2.0","method":"m"}]]`, CodeParseError},
		{"two batches", `[1][2]`, CodeParseError},
		{"empty", ``, CodeParseError},
		{"scalar frame", `42`, CodeInvalidRequest},
		{"invalid single message", `{"jsonrpc":"2.0"}`, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFrame([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseFrame succeeded: %+v", f)
			}
			if f != nil {
				t.Error("ParseFrame returned a frame with an error")
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("err = %v, want code %d", err, tt.code)
			}
			if e.ID != nil {
				t.Errorf("Error.ID = %s, want nil", e.ID)
			}
		})
	}
}

func TestIDKey(t *testing.T) {
	same := [][2]string{
		{`"a"`, `"\u0061"`},
		{`"/"`, `"\/"`},
		{`"é"`, `"\u00e9"`},
		{`"é"`, `"\u00E9"`},
		{`"\u00Ff"`, `"\u00fF"`},
		{`"😀"`, `"\ud83d\ude00"`},
		{`"a\"b"`, `"a\u0022b"`},
		{`1`, ` 1 `},
		{`null`, `null`},
	}
	for _, p := range same {
		if a, b := IDKey(json.RawMessage(p[0])), IDKey(json.RawMessage(p[1])); a != b {
			t.Errorf("IDKey(%s) = %q != IDKey(%s) = %q", p[0], a, p[1], b)
		}
	}
	distinct := []string{`1`, `"1"`, `1.0`, `1e0`, `-1`, `"-1"`, `null`, `"null"`, `""`, `"\"1\""`, `10`, `"a"`, `"A"`}
	seen := map[string]string{}
	for _, id := range distinct {
		k := IDKey(json.RawMessage(id))
		if prev, ok := seen[k]; ok {
			t.Errorf("IDKey(%s) == IDKey(%s) == %q", id, prev, k)
		}
		seen[k] = id
	}
	if k := IDKey(nil); k != "" {
		t.Errorf("IDKey(nil) = %q, want empty", k)
	}
	if k := IDKey(json.RawMessage(`123456789012345678901234567890`)); k != `123456789012345678901234567890` {
		t.Errorf("IDKey(big) = %q", k)
	}
	// Malformed input must not panic.
	for _, id := range []string{`"`, `"\`, `"\u12`, `"\ud800`, `"\ud800\u`, `x`, `"\q"`} {
		_ = IDKey(json.RawMessage(id))
	}
}

func TestErrorResponse(t *testing.T) {
	tests := []struct {
		name    string
		id      json.RawMessage
		code    int
		message string
		data    any
		want    string
	}{
		{"nil id", nil, CodeParseError, "Parse error", nil,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{"number id", json.RawMessage(`-3`), CodeMethodNotFound, "Method not found", nil,
			`{"jsonrpc":"2.0","id":-3,"error":{"code":-32601,"message":"Method not found"}}`},
		{"big number id", json.RawMessage(`123456789012345678901234567890`), 1, "m", nil,
			`{"jsonrpc":"2.0","id":123456789012345678901234567890,"error":{"code":1,"message":"m"}}`},
		{"string id kept verbatim", json.RawMessage(`"\u0061<"`), CodeInvalidParams, "bad", nil,
			`{"jsonrpc":"2.0","id":"\u0061<","error":{"code":-32602,"message":"bad"}}`},
		{"null id", json.RawMessage(`null`), CodeInternalError, "x", nil,
			`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"x"}}`},
		{"invalid id", json.RawMessage(`{"a":1}`), 1, "m", nil,
			`{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`},
		{"malformed id", json.RawMessage("1\n,2"), 1, "m", nil,
			`{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}`},
		{"message escaping", json.RawMessage(`1`), 1, "a\"b\\c\nd\x01<>&é\xff", nil,
			`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"a\"b\\c\nd\u0001<>&é\ufffd"}}`},
		{"data", json.RawMessage(`"i"`), 1, "m", map[string]any{"k": "<v>"},
			`{"jsonrpc":"2.0","id":"i","error":{"code":1,"message":"m","data":{"k":"<v>"}}}`},
		{"raw data", json.RawMessage(`2`), 1, "m", json.RawMessage(` [1, 2] `),
			`{"jsonrpc":"2.0","id":2,"error":{"code":1,"message":"m","data":[1,2]}}`},
		{"unmarshalable data", json.RawMessage(`2`), 1, "m", make(chan int),
			`{"jsonrpc":"2.0","id":2,"error":{"code":1,"message":"m"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorResponse(tt.id, tt.code, tt.message, tt.data)
			if string(got) != tt.want {
				t.Errorf("ErrorResponse = %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
			if bytes.IndexByte(got, '\n') >= 0 {
				t.Errorf("contains a newline: %q", got)
			}
			m, err := Parse(got)
			if err != nil || m.Kind != KindError {
				t.Errorf("Parse(ErrorResponse) = %+v, %v", m, err)
			}
		})
	}
}

func TestErrorType(t *testing.T) {
	_, err := Parse([]byte(`{"jsonrpc":"2.0","id":"q","method":7}`))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T", err)
	}
	if !errors.Is(err, &Error{Code: CodeInvalidRequest}) || errors.Is(err, &Error{Code: CodeParseError}) {
		t.Error("errors.Is does not compare by code")
	}
	if !strings.Contains(err.Error(), "-32600") || !strings.HasPrefix(err.Error(), "jsonrpc: ") {
		t.Errorf("Error() = %q", err.Error())
	}
	var resp struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   Error           `json:"error"`
	}
	if err := json.Unmarshal(e.Response(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.JSONRPC != "2.0" || string(resp.ID) != `"q"` || resp.Error.Code != CodeInvalidRequest || resp.Error.Message != e.Message {
		t.Errorf("Response() = %s", e.Response())
	}
	b, err := json.Marshal(&Error{Code: 1, Message: "m", ID: json.RawMessage(`1`)})
	if err != nil || string(b) != `{"code":1,"message":"m"}` {
		t.Errorf("json.Marshal(Error) = %s, %v", b, err)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindRequest: "request", KindNotification: "notification", KindResult: "result",
		KindError: "error", 0: "Kind(0)", 9: "Kind(9)",
	} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), got, want)
		}
	}
}

func TestParseAllocations(t *testing.T) {
	req := []byte(toolsCallRequest)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Parse(req); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("Parse(tools/call) allocates %v times, want 1", n)
	}
	other := []byte(`{"jsonrpc":"2.0","id":1,"method":"x/custom","params":{}}`)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Parse(other); err != nil {
			t.Fatal(err)
		}
	}); n > 2 {
		t.Errorf("Parse(custom method) allocates %v times, want 2", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ParseFrame(req); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("ParseFrame(tools/call) allocates %v times, want 1", n)
	}
}

func TestMethodNameInterned(t *testing.T) {
	// Every interned name round-trips.
	for _, name := range []string{
		"initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/read",
		"resources/templates/list", "resources/subscribe", "resources/unsubscribe", "prompts/list",
		"prompts/get", "completion/complete", "logging/setLevel", "roots/list",
		"sampling/createMessage", "elicitation/create", "tasks/get", "tasks/list", "tasks/result",
		"tasks/cancel", "notifications/initialized", "notifications/cancelled",
		"notifications/progress", "notifications/message", "notifications/resources/updated",
		"notifications/resources/list_changed", "notifications/tools/list_changed",
		"notifications/prompts/list_changed", "notifications/roots/list_changed",
		"notifications/tasks/status", "notifications/elicitation/complete", "other", "",
	} {
		if got := methodName([]byte(name)); got != name {
			t.Errorf("methodName(%q) = %q", name, got)
		}
	}
}
