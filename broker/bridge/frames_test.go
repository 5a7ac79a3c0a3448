package bridge

import (
	"fmt"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// TestBadFrames: input that is not a 2026-07-28 JSON-RPC request is
// answered with the right JSON-RPC error, addressed to the request's id
// when it can be read.
func TestBadFrames(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		raw  string
		code int
		id   string
	}{
		{`{`, jsonrpc.CodeParseError, "null"},
		{`[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]`, jsonrpc.CodeInvalidRequest, "null"},
		{`{"jsonrpc":"2.0","id":7,"method":"tools/list","params":3}`, jsonrpc.CodeInvalidRequest, "7"},
		{`{"jsonrpc":"1.0","id":"x","method":"tools/list"}`, jsonrpc.CodeInvalidRequest, `"x"`},
		{`{"jsonrpc":"2.0","id":8,"method":"no/such/method","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`, jsonrpc.CodeMethodNotFound, "8"},
	}
	for _, tc := range cases {
		h.sendRaw(tc.raw)
		r := h.in.wait(t, "the answer to "+tc.raw, func(r rec) bool { return r.m.Kind == jsonrpc.KindError })
		e := r.obj()
		if fmt.Sprint(get(e, "error", "code")) != fmt.Sprint(tc.code) || js(e["id"]) != tc.id {
			t.Errorf("%s: got %s, want code %d id %s", tc.raw, r.m.Raw, tc.code, tc.id)
		}
	}
}
