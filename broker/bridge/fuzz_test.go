package bridge

import (
	"bytes"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// FuzzBridgeClientMessage pushes arbitrary client frames (up to four, one
// a line) through a bridge in front of a tiny upstream that answers
// everything. The bridge must not panic, and every request among them must
// be answered (a subscriptions/listen may be acknowledged instead), unless
// a notifications/cancelled among them names it.
func FuzzBridgeClientMessage(f *testing.F) {
	m := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{},"elicitation":{},"roots":{}},"io.modelcontextprotocol/logLevel":"info","progressToken":"p"}`
	for _, s := range []string{
		`{`,
		`[]`,
		`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{` + m + `}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + m + `}}`,
		`{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"t","arguments":{},` + m + `}}`,
		`{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"t","inputResponses":{"k":{"action":"accept"}},"requestState":"AAAA",` + m + `}}`,
		`{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"p","requestState":"x",` + m + `}}`,
		`{"jsonrpc":"2.0","id":3,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///a"]},` + m + `}}` + "\n" +
			`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"t",` + m + `}}` + "\n" +
			`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"t",` + m + `}}`,
		`{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///a","_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}}}`,
		`{"jsonrpc":"2.0","id":6,"result":{}}`,
		`{"jsonrpc":"2.0","id":7,"method":"ping"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := bytes.SplitN(data, []byte("\n"), 4)
		h := newHarness(t, withUpstream(func(u *upstream) { u.answerAll = true }))
		want := map[string]bool{} // id keys of the requests to be answered
		for _, fr := range frames {
			if m, err := jsonrpc.Parse(fr); err == nil && m.Kind == jsonrpc.KindRequest {
				want[jsonrpc.IDKey(m.ID)] = true
			}
			if err := h.client.Send(h.ctx, transport.Message{Raw: fr}); err != nil {
				t.Fatal(err)
			}
		}
		// Requests that a notifications/cancelled names are exempt.
		for _, fr := range frames {
			if m, err := jsonrpc.Parse(fr); err == nil && m.Kind == jsonrpc.KindNotification && m.Method == methodCancelled {
				if id := translators.Parse(m.Params).Get("requestId"); id != nil {
					delete(want, jsonrpc.IDKey(id.Raw()))
				}
			}
		}
		for key := range want {
			h.in.wait(t, "an answer to the request "+key, func(r rec) bool {
				if r.m.IsResponse() && jsonrpc.IDKey(r.m.ID) == key {
					return true
				}
				return r.m.Method == methodAcknowledged && jsonrpc.IDKey(r.related) == key
			})
		}
	})
}
