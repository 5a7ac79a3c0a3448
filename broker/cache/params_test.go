package cache

import (
	"errors"
	"testing"
)

func TestCanonicalParams(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"absent", ``, ``, nil},
		{"null", ` null `, ``, nil},
		{"empty", `{}`, ``, nil},
		{"sorted, compact", `{ "uri" : "file:///a", "a": [3, {"z":1,"y":2}] }`, `{"a":[3,{"y":2,"z":1}],"uri":"file:///a"}`, nil},
		{"cursor kept", `{"cursor":"abc"}`, `{"cursor":"abc"}`, nil},
		{"numbers as written", `{"n":1.0,"m":1e2}`, `{"m":1e2,"n":1.0}`, nil},
		{"escapes normalised", `{"uri":"\u0061\/b"}`, `{"uri":"a/b"}`, nil},
		{"html escaped like encoding/json", `{"q":"<&>"}`, `{"q":"\u003c\u0026\u003e"}`, nil},
		{"per-hop meta dropped", `{"_meta":{"progressToken":5,"traceparent":"00-x","tracestate":"a","baggage":"b",` +
			`"io.modelcontextprotocol/logLevel":"debug","io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"}},"cursor":"c"}`,
			`{"cursor":"c"}`, nil},
		{"other meta kept, sorted", `{"_meta":{"progressToken":5,"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
			`"io.modelcontextprotocol/clientCapabilities":{"sampling":{},"elicitation":{}},"com.example/tenant":"t1"}}`,
			`{"_meta":{"com.example/tenant":"t1","io.modelcontextprotocol/clientCapabilities":{"elicitation":{},"sampling":{}},` +
				`"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`, nil},
		{"nested progressToken kept", `{"x":{"progressToken":1}}`, `{"x":{"progressToken":1}}`, nil},
		{"meta not an object", `{"_meta":"x"}`, `{"_meta":"x"}`, nil},
		{"array", `[]`, ``, ErrUncacheable},
		{"string", `"x"`, ``, ErrUncacheable},
		{"MRTR retry: inputResponses", `{"uri":"a","inputResponses":{}}`, ``, ErrUncacheable},
		{"MRTR retry: requestState", `{"uri":"a","requestState":"s"}`, ``, ErrUncacheable},
		{"duplicate key", `{"uri":"a","uri":"b"}`, ``, ErrUncacheable},
		{"duplicate key via escape", `{"uri":"a","u\u0072i":"b"}`, ``, ErrUncacheable},
		{"duplicate nested key", `{"x":{"a":1,"a":2}}`, ``, ErrUncacheable},
		{"duplicate meta", `{"_meta":{},"_meta":{"a":1}}`, ``, ErrUncacheable},
		{"duplicate dropped meta key", `{"_meta":{"progressToken":1,"progressToken":2}}`, ``, ErrUncacheable},
		{"lone surrogate", `{"uri":"\ud800"}`, ``, ErrUncacheable},
		{"replacement char", `{"uri":"\ufffd"}`, ``, ErrUncacheable},
		{"invalid UTF-8", "{\"uri\":\"\xff\"}", ``, ErrUncacheable},
		{"trailing data", `{"a":1} {}`, ``, ErrUncacheable},
		{"truncated", `{"a":`, ``, ErrUncacheable},
		{"too deep", `{"a":` + repeat(`[`, 40) + repeat(`]`, 40) + `}`, ``, ErrUncacheable},
		{"string escapes", `{"s":"a\"b\\c\/d\b\f\n\r\t\u0001\u2028\u00e9\ud83d\ude00"}`,
			`{"s":"a\"b\\c/d\b\f\n\r\t\u0001\u2028é😀"}`, nil},
		{"raw line separator", "{\"s\":\"\u2028\u2029\"}", `{"s":"\u2028\u2029"}`, nil},
		{"empty key and string", `{"":""}`, `{"":""}`, nil},
		{"literals", `{"a":[true,false,null]}`, `{"a":[true,false,null]}`, nil},
		{"nested unsorted", `{"b":{"d":1,"c":2},"a":0}`, `{"a":0,"b":{"c":2,"d":1}}`, nil},
		{"high surrogate then letter", `{"s":"\ud83dx"}`, ``, ErrUncacheable},
		{"low surrogate first", `{"s":"\ude00\ud83d"}`, ``, ErrUncacheable},
		{"bad escape", `{"s":"\x"}`, ``, ErrUncacheable},
		{"short unicode escape", `{"s":"\u12"}`, ``, ErrUncacheable},
		{"control character", "{\"s\":\"\x01\"}", ``, ErrUncacheable},
		{"leading zero", `{"n":01}`, ``, ErrUncacheable},
		{"bare minus", `{"n":-}`, ``, ErrUncacheable},
		{"empty fraction", `{"n":1.}`, ``, ErrUncacheable},
		{"empty exponent", `{"n":1e}`, ``, ErrUncacheable},
		{"trailing comma", `{"a":1,}`, ``, ErrUncacheable},
		{"trailing comma in array", `{"a":[1,]}`, ``, ErrUncacheable},
		{"missing colon", `{"a" 1}`, ``, ErrUncacheable},
		{"bad literal", `{"a":tru}`, ``, ErrUncacheable},
		{"unquoted key", `{a:1}`, ``, ErrUncacheable},
		{"too large", `{"a":"` + repeat("x", MaxParamsLen) + `"}`, ``, ErrUncacheable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalParams([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			ref, refErr := referenceCanonical([]byte(tt.in))
			if ref != got || (refErr == nil) != (err == nil) {
				t.Fatalf("reference: %s, %v", ref, refErr)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := make([]byte, 0, len(s)*n)
	for range n {
		out = append(out, s...)
	}
	return string(out)
}

// TestSameKey: requests that differ only in what does not change the
// answer share a key; those that differ in anything else do not.
func TestSameKey(t *testing.T) {
	base := `{"uri":"file:///a","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`
	same := []string{
		`{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"p1"},"uri":"file:///a"}`,
		`{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","traceparent":"00-1-2-01"}, "uri":"file:///a"}`,
	}
	differ := []string{
		`{"uri":"file:///b","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`,
		`{"uri":"file:///a","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-29"}}`,
		`{"uri":"file:///a"}`,
		`{"uri":"file:///a","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","com.example/x":1}}`,
	}
	k0, err := KeyFor("up", "a", "2026-07-28", "resources/read", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range same {
		if k, err := KeyFor("up", "a", "2026-07-28", "resources/read", []byte(p)); err != nil || k != k0 {
			t.Fatalf("%s: key %+v, %v; want %+v", p, k, err, k0)
		}
	}
	for _, p := range differ {
		if k, err := KeyFor("up", "a", "2026-07-28", "resources/read", []byte(p)); err != nil || k == k0 {
			t.Fatalf("%s: same key as the base (%v)", p, err)
		}
	}
}

func TestKeyFor(t *testing.T) {
	for _, m := range []string{"tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read", "server/discover"} {
		if _, err := KeyFor("up", "a", "r", m, nil); err != nil {
			t.Fatalf("%s: %v", m, err)
		}
	}
	for _, m := range []string{"tools/call", "prompts/get", "completion/complete", "initialize", "subscriptions/listen", ""} {
		if _, err := KeyFor("up", "a", "r", m, nil); !errors.Is(err, ErrUncacheable) {
			t.Fatalf("%s: err = %v", m, err)
		}
	}
	if _, err := KeyFor("up", "a", "r", "tools/list", []byte(`{"cursor":1,"cursor":2}`)); !errors.Is(err, ErrUncacheable) {
		t.Fatalf("bad params: %v", err)
	}
}
