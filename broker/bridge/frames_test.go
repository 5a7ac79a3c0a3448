package bridge

import (
	"fmt"
	"strings"
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

// TestDuplicateRequestID: a request whose id is already in use by a
// pending request is refused with -32600 and not forwarded, also when both
// arrive while the lane is still being set up.
func TestDuplicateRequestID(t *testing.T) {
	hold := make(chan struct{})
	h := newHarness(t, withUpstream(func(u *upstream) { u.holdInit = hold }))
	id := h.newID()
	p := toolCall(meta(capsAll))
	h.sendReq(req{id: id, method: "tools/call", params: p})
	h.upRequest("initialize")
	h.sendReq(req{id: id, method: "tools/call", params: p})
	h.barrier()
	close(hold)
	call := h.upRequest("tools/call")
	e := h.errorOf(id, jsonrpc.CodeInvalidRequest)
	if msg, _ := e["message"].(string); !strings.Contains(msg, "already in use") {
		t.Errorf("message %q", msg)
	}
	// Once the first is answered the id is free again.
	call.sess.reply(call.m.ID, `{"content":[]}`)
	h.result(id)
	h.flushLane("")
	if n := len(h.up.log.all(isRequest("tools/call"))); n != 1 {
		t.Errorf("%d tools/call forwarded, want 1", n)
	}
	h.sendReq(req{id: id, method: "tools/call", params: p})
	h.upRequest("tools/call")
}
