package translators

import (
	"encoding/json"
	"testing"
)

func TestMessageBuilders(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"empty result", EmptyResult(json.RawMessage(`"a"`)), `{"jsonrpc":"2.0","id":"a","result":{}}`},
		{"cancelled", CancelledNotification(json.RawMessage(`7`), `shut "down"`), `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"shut \"down\""}}`},
		{"set param", SetParam([]byte(`{"jsonrpc":"2.0","method":"x","params":{"a":1}}`), "a", json.RawMessage(`"b"`)), `{"jsonrpc":"2.0","method":"x","params":{"a":"b"}}`},
		{"progress token", ProgressToken(json.RawMessage(`{"_meta":{"progressToken":"t"}}`)), `"t"`},
		{"no progress token", ProgressToken(json.RawMessage(`{"_meta":{"progressToken":{}}}`)), ``},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
		if tc.want != "" && !json.Valid(tc.got) {
			t.Errorf("%s: invalid JSON %s", tc.name, tc.got)
		}
	}
}

func TestRequestMeta(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"jsonrpc":"2.0","method":"m"}`, `{"jsonrpc":"2.0","method":"m","params":{"_meta":{"k":1}}}`},
		{`{"jsonrpc":"2.0","method":"m","params":{"a":1}}`, `{"jsonrpc":"2.0","method":"m","params":{"a":1,"_meta":{"k":1}}}`},
		{`{"jsonrpc":"2.0","method":"m","params":{"_meta":{"x":2}}}`, `{"jsonrpc":"2.0","method":"m","params":{"_meta":{"x":2,"k":1}}}`},
		{`{"jsonrpc":"2.0","method":"m","params":{"_meta":null}}`, `{"jsonrpc":"2.0","method":"m","params":{"_meta":{"k":1}}}`},
	} {
		n := Parse([]byte(tc.in))
		RequestMeta(n).Set("k", NewJSON(`1`))
		if got := string(n.Raw()); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}
