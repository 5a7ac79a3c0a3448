package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

func transportMessage(raw string) transport.Message { return transport.Message{Raw: []byte(raw)} }

const (
	capsSampling = `{"sampling":{}}`
	capsServer   = `{"tools":{"listChanged":true},"prompts":{},"logging":{}}`
)

func TestSameRevision(t *testing.T) {
	for _, rev := range legacy() {
		t.Run(rev.String(), func(t *testing.T) {
			h := start(t, Config{Validator: testValidator(t)})
			clientSaw, _ := h.handshake(rev.String(), "2025-11-25", rev.String(), capsSampling, capsServer)
			wantEq(t, "serverInfo", get(clientSaw, "result", "serverInfo", "name"), `"test-server"`)

			h.client.send(`{"jsonrpc":"2.0","id":"L1","method":"tools/list","params":{}}`)
			req := h.server.recv()
			if got, want := string(req.Raw), `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`; got != want {
				t.Errorf("upstream request = %s, want %s", got, want)
			}
			const result = `"result":{"tools":[{"name":"echo","description":"Echo","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}]}}`
			h.server.send(`{"jsonrpc":"2.0","id":2,` + result)
			resp := h.client.recv()
			// Same revision: the identity chain, and only the id is rewritten.
			if got, want := string(resp.Raw), `{"jsonrpc":"2.0","id":"L1",`+result; got != want {
				t.Errorf("client response = %s, want %s", got, want)
			}
			wantEq(t, "Related", json.RawMessage(resp.Related), `"L1"`)

			h.client.conn.Close()
			if err := h.wait(); err != nil {
				t.Errorf("Run = %v, want nil after client EOF", err)
			}
			h.server.expectEOF()
		})
	}
}

// TestOldClientNewServer: a 2024-11-05 client and a 2025-11-25 server.
func TestOldClientNewServer(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	clientSaw, serverSaw := h.handshake("2024-11-05", "2025-11-25", "2025-11-25", capsSampling,
		`{"tools":{},"completions":{},"tasks":{"list":{},"cancel":{},"requests":{"tools":{"call":{}}}}}`)
	// Each side sees its own revision (checked by handshake) and shaped
	// capabilities: no completions (1.L2) or tasks (3.L2) for the old client.
	if caps := get(clientSaw, "result", "capabilities").(obj); caps["completions"] != nil || caps["tasks"] != nil {
		t.Errorf("client capabilities not shaped: %s", str(caps))
	}
	wantEq(t, "client info upstream", get(serverSaw, "params", "clientInfo", "name"), `"test-client"`)

	// A tools/call with a progress token: the token is kept, the id is the
	// broker's.
	h.client.send(`{"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"speak","arguments":{"text":"hi"},"_meta":{"progressToken":"tok-1"}}}`)
	up := h.server.recvObj()
	wantEq(t, "upstream id", up["id"], `2`)
	wantEq(t, "upstream progress token", get(up, "params", "_meta", "progressToken"), `"tok-1"`)

	// Progress: routed to the client's request (Related), message stripped (1.F4).
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok-1","progress":1,"total":2,"message":"halfway"}}`)
	prog := h.client.recv()
	wantEq(t, "progress Related", json.RawMessage(prog.Related), `"call-1"`)
	po := decode(t, prog.Raw).(obj)
	wantEq(t, "progress token", get(po, "params", "progressToken"), `"tok-1"`)
	if get(po, "params", "message") != nil {
		t.Errorf("progress message not stripped: %s", prog.Raw)
	}
	checkValid(t, schemas.V20241105, prog.Raw, schemas.FromServer, "")

	// A sampling request on the call's stream reaches the client under a
	// broker id, related to the client's call; its answer goes back under
	// the server's id.
	h.server.sendRel(`{"jsonrpc":"2.0","id":77,"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"hello?"}}],"maxTokens":10}}`, `2`)
	sreq := h.client.recv()
	so := decode(t, sreq.Raw).(obj)
	wantEq(t, "sampling id at client", so["id"], `"mcpbroker-1"`)
	wantEq(t, "sampling Related", json.RawMessage(sreq.Related), `"call-1"`)
	checkValid(t, schemas.V20241105, sreq.Raw, schemas.FromServer, "")
	h.client.send(`{"jsonrpc":"2.0","id":"mcpbroker-1","result":{"role":"assistant","content":{"type":"text","text":"hello!"},"model":"m1"}}`)
	sresp := h.server.recv()
	sro := decode(t, sresp.Raw).(obj)
	wantEq(t, "sampling answer id", sro["id"], `77`)
	wantEq(t, "sampling answer Related", json.RawMessage(sresp.Related), `77`)
	wantEq(t, "sampling model", get(sro, "result", "model"), `"m1"`)

	// The tools/call result with audio and resource_link content is
	// translated down (1.F1, 2.F2) and answered under the client's id.
	h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"ok"},{"type":"audio","data":"AAAA","mimeType":"audio/wav"},{"type":"resource_link","uri":"file:///a.txt","name":"a.txt","mimeType":"text/plain"}]}}`)
	res := h.client.recv()
	wantEq(t, "result Related", json.RawMessage(res.Related), `"call-1"`)
	ro := decode(t, res.Raw).(obj)
	wantEq(t, "result id", ro["id"], `"call-1"`)
	content, _ := get(ro, "result", "content").([]any)
	if len(content) != 3 {
		t.Fatalf("content = %s, want 3 blocks", str(content))
	}
	for i, b := range content {
		if ty := get(b, "type"); ty == "audio" || ty == "resource_link" {
			t.Errorf("content[%d] type %v not translated for 2024-11-05", i, ty)
		}
	}
	checkValid(t, schemas.V20241105, res.Raw, schemas.FromServer, "tools/call")

	// Cancellation, client side: requestId rewritten to the broker id, and
	// the late response is not relayed.
	h.client.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow"}}`)
	wantEq(t, "slow call upstream id", h.server.recvObj()["id"], `3`)
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"user"}}`)
	c := h.server.recvObj()
	wantEq(t, "upstream cancel method", c["method"], `"notifications/cancelled"`)
	wantEq(t, "upstream cancel requestId", get(c, "params", "requestId"), `3`)
	wantEq(t, "upstream cancel reason", get(c, "params", "reason"), `"user"`)
	h.server.send(`{"jsonrpc":"2.0","id":3,"result":{"content":[]}}`)

	// Cancellation, server side.
	h.server.send(`{"jsonrpc":"2.0","id":"s-9","method":"roots/list"}`)
	wantEq(t, "roots/list id at client", h.client.recvObj()["id"], `"mcpbroker-2"`)
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"s-9"}}`)
	sc := h.client.recvObj()
	wantEq(t, "client cancel method", sc["method"], `"notifications/cancelled"`)
	wantEq(t, "client cancel requestId", get(sc, "params", "requestId"), `"mcpbroker-2"`)
	h.client.send(`{"jsonrpc":"2.0","id":"mcpbroker-2","result":{"roots":[]}}`)

	// Pings are answered locally, both ways.
	h.client.send(`{"jsonrpc":"2.0","id":"p1","method":"ping"}`)
	if got := string(h.client.recv().Raw); got != `{"jsonrpc":"2.0","id":"p1","result":{}}` {
		t.Errorf("client ping answer = %s", got)
	}
	h.server.send(`{"jsonrpc":"2.0","id":99,"method":"ping"}`)
	if got := string(h.server.recv().Raw); got != `{"jsonrpc":"2.0","id":99,"result":{}}` {
		t.Errorf("server ping answer = %s", got)
	}

	// Nothing else crossed: not the pings, not the late answers.
	h.client.send(`{"jsonrpc":"2.0","id":"after","method":"tools/list"}`)
	if n := h.server.recvObj(); str(n["method"]) != `"tools/list"` || str(n["id"]) != `4` {
		t.Errorf("server's next message = %s, want tools/list id 4", str(n))
	}
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
	if n := h.client.recvObj(); str(n["method"]) != `"notifications/tools/list_changed"` {
		t.Errorf("client's next message = %s, want the list_changed notification", str(n))
	}
}

// TestNewClientOldServer: a 2025-06-18 client and a 2024-11-05 server.
func TestNewClientOldServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offer   schemas.Revision
		offered string
	}{
		{"negotiated", 0, "2025-11-25"},
		{"configured", schemas.V20241105, "2024-11-05"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Config{Validator: testValidator(t), UpstreamRevision: tc.offer})
			clientSaw, serverSaw := h.handshake("2025-06-18", tc.offered, "2024-11-05",
				`{"elicitation":{},"roots":{"listChanged":true},"sampling":{}}`,
				`{"prompts":{"listChanged":true},"tools":{}}`)
			if tc.offer == schemas.V20241105 && get(serverSaw, "params", "capabilities", "elicitation") != nil {
				t.Errorf("elicitation capability sent to a 2024-11-05 server: %s", str(serverSaw))
			}
			// 1.L2: completions synthesized for the new client.
			wantEq(t, "completions capability", get(clientSaw, "result", "capabilities", "completions"), `{}`)

			h.client.send(`{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`)
			wantEq(t, "upstream id", h.server.recvObj()["id"], `2`)
			h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"3"}],"isError":false}}`)
			res := h.client.recv()
			wantEq(t, "result id", decode(t, res.Raw).(obj)["id"], `10`)
			checkValid(t, schemas.V20250618, res.Raw, schemas.FromServer, "tools/call")

			// A legacy sampling request, answered by the new client.
			h.server.send(`{"jsonrpc":"2.0","id":"srv-1","method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"q"}}],"maxTokens":5}}`)
			sreq := h.client.recv()
			wantEq(t, "sampling id at client", decode(t, sreq.Raw).(obj)["id"], `"mcpbroker-1"`)
			checkValid(t, schemas.V20250618, sreq.Raw, schemas.FromServer, "")
			h.client.send(`{"jsonrpc":"2.0","id":"mcpbroker-1","result":{"role":"assistant","content":{"type":"text","text":"a"},"model":"m","stopReason":"endTurn"}}`)
			sresp := h.server.recv()
			wantEq(t, "sampling answer id", decode(t, sresp.Raw).(obj)["id"], `"srv-1"`)
			checkValid(t, schemas.V20241105, sresp.Raw, schemas.FromClient, "sampling/createMessage")
		})
	}
}

// TestBatch: a 2025-03-26 client's batches are split and their answers
// gathered; an upstream batch is split.
func TestBatch(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.handshake("2025-03-26", "2025-11-25", "2025-03-26", capsSampling, capsServer)

	h.client.send(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},` +
		`{"jsonrpc":"2.0","method":"notifications/roots/list_changed"},` +
		`{"jsonrpc":"2.0","id":2,"method":"ping"},` +
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x"}},` +
		`{"jsonrpc":"2.0","id":4,"method":"resources/list"},` +
		`42]`)
	// Each element goes upstream on its own, under a broker id.
	var ups []obj
	for range 4 {
		ups = append(ups, h.server.recvObj())
	}
	for i, want := range []string{`"tools/list"`, `"notifications/roots/list_changed"`, `"tools/call"`, `"resources/list"`} {
		wantEq(t, "upstream method", ups[i]["method"], want)
	}
	wantEq(t, "tools/list upstream id", ups[0]["id"], `2`)
	wantEq(t, "tools/call upstream id", ups[2]["id"], `3`)
	wantEq(t, "resources/list upstream id", ups[3]["id"], `4`)
	// Answers in another order.
	h.server.send(`{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"no resources"}}`)
	h.server.send(`{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"x"}]}}`)
	h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}`)

	arr := h.client.recv()
	wantEq(t, "batch Related", json.RawMessage(arr.Related), `1`)
	elems, ok := decode(t, arr.Raw).([]any)
	if !ok || len(elems) != 5 {
		t.Fatalf("batch answer = %s, want an array of 5", arr.Raw)
	}
	byID := map[string]obj{}
	for _, e := range elems {
		byID[str(get(e, "id"))] = e.(obj)
	}
	wantEq(t, "ping answer", byID["2"]["result"], `{}`)
	wantEq(t, "tools/list answer", get(byID["1"], "result", "tools"), `[]`)
	wantEq(t, "tools/call answer", get(byID["3"], "result", "content", 0, "text"), `"x"`)
	wantEq(t, "resources/list error", errorCode(byID["4"]), `-32601`)
	wantEq(t, "invalid element error", errorCode(byID["null"]), `-32600`)

	// An empty batch gets one error, not an array.
	h.client.send(`[]`)
	e := h.client.recvObj()
	wantEq(t, "empty batch error", errorCode(e), `-32600`)
	wantEq(t, "empty batch id", e["id"], `null`)

	// A batch of notifications gets no answer; a batch of local answers
	// needs no upstream.
	h.client.send(`[{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]`)
	wantEq(t, "notification", h.server.recvObj()["method"], `"notifications/roots/list_changed"`)
	h.client.send(`[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"b","method":"ping"}]`)
	pings := h.client.recv()
	if got := string(pings.Raw); got != `[{"jsonrpc":"2.0","id":"a","result":{}},{"jsonrpc":"2.0","id":"b","result":{}}]` {
		t.Errorf("ping batch answer = %s", got)
	}

	// An upstream batch is split.
	h.server.send(`[{"jsonrpc":"2.0","method":"notifications/tools/list_changed"},{"jsonrpc":"2.0","id":"s1","method":"roots/list"}]`)
	wantEq(t, "first split element", h.client.recvObj()["method"], `"notifications/tools/list_changed"`)
	r := h.client.recvObj()
	wantEq(t, "second split element", r["method"], `"roots/list"`)
	wantEq(t, "second split element id", r["id"], `"mcpbroker-1"`)

	// The client answers in a batch too; the answer goes upstream alone.
	h.client.send(`[{"jsonrpc":"2.0","id":"mcpbroker-1","result":{"roots":[]}}]`)
	if got := string(h.server.recv().Raw); got != `{"jsonrpc":"2.0","id":"s1","result":{"roots":[]}}` {
		t.Errorf("upstream roots answer = %s", got)
	}
}

// TestBatchNotAllowed: revisions other than 2025-03-26 have no batches;
// Strict refuses them whole.
func TestBatchNotAllowed(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.handshake("2025-06-18", "2025-11-25", "2025-06-18", capsSampling, capsServer)
	h.client.send(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]`)
	e := h.client.recvObj()
	wantEq(t, "error", errorCode(e), `-32600`)
}

func TestValidationModes(t *testing.T) {
	const invalid = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"arguments":{}}}` // no name
	for _, tc := range []struct {
		mode      Mode
		forwarded bool
	}{
		{0, false}, // default: Strict for the client
		{Strict, false},
		{Warn, true},
		{Off, true},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			h := start(t, Config{Validator: testValidator(t), ClientValidation: tc.mode})
			h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
			h.client.send(invalid)
			if !tc.forwarded {
				e := h.client.recvObj()
				wantEq(t, "error id", e["id"], `7`)
				wantEq(t, "error code", errorCode(e), `-32602`)
				if issues, _ := get(e, "error", "data", "issues").([]any); len(issues) == 0 {
					t.Errorf("no issues in %s", str(e))
				}
				if msg, _ := get(e, "error", "message").(string); !strings.Contains(msg, "name") {
					t.Errorf("message %q does not name the problem", msg)
				}
			}
			h.client.send(`{"jsonrpc":"2.0","id":8,"method":"tools/list"}`)
			first := h.server.recvObj()
			if got := str(first["method"]); tc.forwarded != (got == `"tools/call"`) {
				t.Errorf("server's first message = %s (forwarded want %v)", str(first), tc.forwarded)
			}
			if tc.mode == Warn && !contains(h.logs.String(), "invalid message relayed") {
				t.Errorf("Warn mode did not log:\n%s", h.logs.String())
			}
		})
	}

	// Strict on the server side: an invalid result becomes -32603.
	t.Run("server strict", func(t *testing.T) {
		h := start(t, Config{Validator: testValidator(t), ServerValidation: Strict})
		h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
		h.client.send(`{"jsonrpc":"2.0","id":"x","method":"tools/list"}`)
		h.server.recvObj()
		h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"tools":"none"}}`)
		e := h.client.recvObj()
		wantEq(t, "error id", e["id"], `"x"`)
		wantEq(t, "error code", errorCode(e), `-32603`)
	})
}

// TestUpstreamCrash: the upstream goes away with two requests pending; both
// get -32603 "upstream closed", the session goes on, and the next request
// restarts the upstream (1.T2): the new upstream sees the broker's
// initialize again (same offered revision, the client's original
// capabilities), notifications/initialized, the logging level and the
// subscription the client set on the old one, then the request.
func TestUpstreamCrash(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	_, firstInit := h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, `{"resources":{"subscribe":true},"logging":{}}`)
	h.client.send(`{"jsonrpc":"2.0","id":"lv","method":"logging/setLevel","params":{"level":"debug"}}`)
	wantEq(t, "setLevel upstream", h.server.recvObj()["method"], `"logging/setLevel"`)
	h.server.send(`{"jsonrpc":"2.0","id":2,"result":{}}`)
	h.client.recvObj()
	h.client.send(`{"jsonrpc":"2.0","id":"sub","method":"resources/subscribe","params":{"uri":"demo://x"}}`)
	h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":3,"result":{}}`)
	h.client.recvObj()

	h.client.send(`{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}`)
	h.client.send(`{"jsonrpc":"2.0","id":"b","method":"tools/list"}`)
	h.server.recv()
	h.server.recv()
	h.server.conn.Close()

	got := map[string]obj{}
	for range 2 {
		m := h.client.recv()
		o := decode(t, m.Raw).(obj)
		got[str(o["id"])] = o
		wantEq(t, "Related", json.RawMessage(m.Related), str(o["id"]))
	}
	for _, id := range []string{`"a"`, `"b"`} {
		wantEq(t, "error code for "+id, errorCode(got[id]), `-32603`)
		if msg := str(get(got[id], "error", "message")); !strings.Contains(msg, "upstream closed") {
			t.Errorf("message for %s = %s", id, msg)
		}
	}

	// The next request restarts the upstream.
	h.client.send(`{"jsonrpc":"2.0","id":"c","method":"tools/list"}`)
	srv := <-h.redials
	init := srv.recvObj()
	wantEq(t, "restart method", init["method"], `"initialize"`)
	wantEq(t, "restart offered", get(init, "params", "protocolVersion"), `"2025-11-25"`)
	wantEq(t, "restart capabilities", get(init, "params", "capabilities"), str(get(firstInit, "params", "capabilities")))
	srv.send(`{"jsonrpc":"2.0","id":` + str(init["id"]) + `,"result":{"protocolVersion":"2025-11-25","capabilities":{"resources":{"subscribe":true},"logging":{}},"serverInfo":{"name":"s","version":"2"}}}`)
	wantEq(t, "after restart", srv.recvObj()["method"], `"notifications/initialized"`)
	replayed := map[string]obj{}
	for range 2 {
		o := srv.recvObj()
		replayed[str(o["method"])] = o
		srv.send(`{"jsonrpc":"2.0","id":` + str(o["id"]) + `,"result":{}}`)
	}
	wantEq(t, "replayed level", get(replayed[`"logging/setLevel"`], "params", "level"), `"debug"`)
	wantEq(t, "replayed subscription", get(replayed[`"resources/subscribe"`], "params", "uri"), `"demo://x"`)
	req := srv.recvObj()
	wantEq(t, "forwarded after restart", req["method"], `"tools/list"`)
	srv.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"tools":[]}}`)
	// 4.T8, 1.T2: what the client watches may have changed during the
	// gap: the broker says so.
	res, gap := h.client.recvAnswer()
	if want := []string{`"notifications/resources/updated" "demo://x"`}; !slices.Equal(gap, want) {
		t.Errorf("notifications after the restart %q, want %q", gap, want)
	}
	wantEq(t, "answer after restart", res["id"], `"c"`)
	if res["result"] == nil {
		t.Fatalf("want a result after the restart, got %v", res)
	}
	// The answers to the replayed requests never reach the client.
	h.client.send(`{"jsonrpc":"2.0","id":"d","method":"ping"}`)
	wantEq(t, "next client frame", h.client.recvObj()["id"], `"d"`)
}

// TestUpstreamRestartBackoff: a restart that fails answers the request
// with "upstream unavailable"; until the back-off has passed, requests
// fail at once without dialing; then a restart is tried again and works.
func TestUpstreamRestartBackoff(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)}, withRedialError(func(n int) error {
		if n == 2 {
			return errors.New("connection refused")
		}
		return nil
	}))
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.loseUpstream()
	h.client.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	e := h.client.recvObj()
	wantEq(t, "code", errorCode(e), `-32603`)
	if msg := str(get(e, "error", "message")); !strings.Contains(msg, "upstream unavailable") || !strings.Contains(msg, "connection refused") {
		t.Fatalf("first restart: %s", msg)
	}
	h.client.send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if msg := str(get(h.client.recvObj(), "error", "message")); !strings.Contains(msg, "next restart attempt") {
		t.Fatalf("during back-off: %s", msg)
	}
	// After the back-off (250 ms for the first failure) a request dials
	// again.
	deadline := time.Now().Add(waitTimeout)
	for id := 3; ; id++ {
		h.client.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, id))
		select {
		case srv := <-h.redials:
			init := srv.recvObj()
			srv.send(`{"jsonrpc":"2.0","id":` + str(init["id"]) + `,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"s","version":"2"}}}`)
			srv.recvObj() // notifications/initialized
			req := srv.recvObj()
			srv.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"tools":[]}}`)
			res, _ := h.client.recvAnswer()
			wantEq(t, "answer after back-off", res["id"], fmt.Sprint(id))
			return
		case <-time.After(20 * time.Millisecond):
			e := h.client.recvObj()
			if msg := str(get(e, "error", "message")); !strings.Contains(msg, "next restart attempt") {
				t.Fatalf("during back-off: %s", msg)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no restart after the back-off")
		}
	}
}

// TestUpstreamRestartRevisionChanged: a restarted server that answers
// another revision is refused (the session's chains are fixed).
func TestUpstreamRestartRevisionChanged(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.loseUpstream()
	h.client.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	srv := <-h.redials
	init := srv.recvObj()
	srv.send(`{"jsonrpc":"2.0","id":` + str(init["id"]) + `,"result":{"protocolVersion":"2024-11-05","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}`)
	e := h.client.recvObj()
	if msg := str(get(e, "error", "message")); !strings.Contains(msg, `answered protocolVersion \"2024-11-05\"`) {
		t.Fatalf("restart to another revision: %s", msg)
	}
	srv.expectEOF()
}

// expiringConn is an upstream whose HTTP session expired: Send fails with
// transport.ErrSessionExpired once expired is set (what DialHTTP's Conn
// does on a 404, REVISIONS.md 0.2 rule 6).
type expiringConn struct {
	transport.Conn
	expired atomic.Bool
}

func (c *expiringConn) Send(ctx context.Context, m transport.Message) error {
	if c.expired.Load() {
		return fmt.Errorf("transport: send: %w", transport.ErrSessionExpired)
	}
	return c.Conn.Send(ctx, m)
}

// TestUpstreamSessionExpired: a send that finds the upstream HTTP session
// expired re-initializes a new upstream session and sends the request
// again; the client sees only its answer (1.T2).
func TestUpstreamSessionExpired(t *testing.T) {
	var first *expiringConn
	h := start(t, Config{Validator: testValidator(t)}, withWrapUp(func(c transport.Conn) transport.Conn {
		first = &expiringConn{Conn: c}
		return first
	}))
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	first.expired.Store(true)
	h.client.send(`{"jsonrpc":"2.0","id":"q","method":"tools/list"}`)
	srv := <-h.redials
	init := srv.recvObj()
	srv.send(`{"jsonrpc":"2.0","id":` + str(init["id"]) + `,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"s","version":"2"}}}`)
	srv.recvObj() // notifications/initialized
	req := srv.recvObj()
	wantEq(t, "re-sent request", req["method"], `"tools/list"`)
	srv.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"tools":[]}}`)
	res, gap := h.client.recvAnswer()
	if want := []string{`"notifications/tools/list_changed"`}; !slices.Equal(gap, want) {
		t.Errorf("notifications after the restart %q, want %q (4.T8)", gap, want)
	}
	wantEq(t, "answer id", res["id"], `"q"`)
	if res["result"] == nil {
		t.Fatalf("want the result, got %v", res)
	}
}

// TestIDRoundTrip: client ids come back exactly as sent.
func TestIDRoundTrip(t *testing.T) {
	ids := []string{`"abc"`, `-3`, `1.5`, `"a\"b\u00e9"`, `0`, `9007199254740993`, `1e2`}
	h := start(t, Config{Validator: testValidator(t), ClientValidation: Warn})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	for i, id := range ids {
		h.client.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/list"}`)
		up := h.server.recv()
		upID := rawID(t, up.Raw)
		if want := strconv.Itoa(i + 2); upID != want {
			t.Errorf("upstream id for %s = %s, want %s", id, upID, want)
		}
		h.server.send(`{"jsonrpc":"2.0","id":` + upID + `,"result":{"tools":[]}}`)
		resp := h.client.recv()
		if got := rawID(t, resp.Raw); got != id {
			t.Errorf("response id = %s, want %s", got, id)
		}
		if string(resp.Related) != id {
			t.Errorf("Related = %s, want %s", resp.Related, id)
		}
	}

	// Strict: 1.5 is not an MCP RequestId; the error still echoes it.
	t.Run("strict", func(t *testing.T) {
		h := start(t, Config{Validator: testValidator(t)})
		h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
		h.client.send(`{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}`)
		resp := h.client.recv()
		if got := rawID(t, resp.Raw); got != `1.5` {
			t.Errorf("error id = %s, want 1.5", got)
		}
		wantEq(t, "code", errorCode(decode(t, resp.Raw).(obj)), `-32600`)
	})
}

func TestNotInitialized(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`) // dropped
	h.client.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	e := h.client.recvObj()
	wantEq(t, "id", e["id"], `1`)
	wantEq(t, "code", errorCode(e), `-32600`)
	h.client.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	wantEq(t, "ping before initialize", h.client.recvObj()["result"], `{}`)
	if h.wasDialed() {
		t.Errorf("upstream dialed before initialize")
	}
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	wantEq(t, "second initialize", errorCode(h.client.recvObj()), `-32600`)
}

func TestMalformed(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.client.send(`{"jsonrpc":`)
	e := h.client.recvObj()
	wantEq(t, "client parse error", errorCode(e), `-32700`)
	wantEq(t, "client parse error id", e["id"], `null`)
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.server.send(`not json`)
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
	wantEq(t, "next message", h.client.recvObj()["method"], `"notifications/tools/list_changed"`)
	if !contains(h.logs.String(), "malformed frame from upstream") {
		t.Errorf("no log line for the malformed upstream frame:\n%s", h.logs.String())
	}
	h.client.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"`)
	wantEq(t, "client parse error", errorCode(h.client.recvObj()), `-32700`)
}

func TestRequestTimeout(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t), RequestTimeout: 20 * time.Millisecond})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":"t","method":"tools/call","params":{"name":"slow"}}`)
	wantEq(t, "upstream id", h.server.recvObj()["id"], `2`)
	c := h.server.recvObj() // the relay cancels once the timeout fires
	wantEq(t, "cancel", c["method"], `"notifications/cancelled"`)
	wantEq(t, "cancel requestId", get(c, "params", "requestId"), `2`)
	e := h.client.recvObj()
	wantEq(t, "error id", e["id"], `"t"`)
	wantEq(t, "error code", errorCode(e), `-32001`)
	// The late answer is dropped.
	h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"content":[]}}`)
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
	wantEq(t, "next message", h.client.recvObj()["method"], `"notifications/tools/list_changed"`)
}

func TestHandshakeFailures(t *testing.T) {
	for _, tc := range []struct {
		name, answer, code string
	}{
		{"unknown revision", `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"1999-01-01","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}`, `-32603`},
		{"stateless revision", `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2026-07-28","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}`, `-32603`},
		{"error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Unsupported protocol version"}}`, `-32602`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Config{Validator: testValidator(t)})
			h.client.send(`{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
			h.server.recv()
			h.server.send(tc.answer)
			e := h.client.recvObj()
			wantEq(t, "id", e["id"], `"init"`)
			wantEq(t, "code", errorCode(e), tc.code)
			if err := h.wait(); !errors.Is(err, ErrHandshake) {
				t.Errorf("Run = %v, want ErrHandshake", err)
			}
			h.server.expectEOF()
		})
	}
	t.Run("dial error", func(t *testing.T) {
		h := start(t, Config{Validator: testValidator(t)}, withDialError(errors.New("connection refused")))
		h.client.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
		e := h.client.recvObj()
		wantEq(t, "code", errorCode(e), `-32603`)
		if err := h.wait(); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("Run = %v, want the dial error", err)
		}
	})
	t.Run("unknown client revision", func(t *testing.T) {
		// An unknown requested revision gets the latest legacy one.
		h := start(t, Config{Validator: testValidator(t)})
		h.client.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2030-01-01","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
		wantEq(t, "offered", get(h.server.recvObj(), "params", "protocolVersion"), `"2025-11-25"`)
		h.server.send(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-03-26","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}`)
		wantEq(t, "client revision", get(h.client.recvObj(), "result", "protocolVersion"), `"2025-11-25"`)
	})
}

// TestTranslatorOutcomes: what the relay does with the chain's non-Forward
// outcomes.
func TestTranslatorOutcomes(t *testing.T) {
	t.Run("answer with reply", func(t *testing.T) {
		// 2.L1: a 2025-06-18 server eliciting from a 2025-03-26 client gets
		// the broker's decline.
		h := start(t, Config{Validator: testValidator(t)})
		h.handshake("2025-03-26", "2025-11-25", "2025-06-18", capsSampling, capsServer)
		h.server.send(`{"jsonrpc":"2.0","id":5,"method":"elicitation/create","params":{"message":"name?","requestedSchema":{"type":"object","properties":{"n":{"type":"string"}}}}}`)
		if got := string(h.server.recv().Raw); got != `{"jsonrpc":"2.0","id":5,"result":{"action":"decline"}}` {
			t.Errorf("server got %s", got)
		}
		h.server.send(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
		wantEq(t, "client's next message", h.client.recvObj()["method"], `"notifications/tools/list_changed"`)
	})
	t.Run("emulate from server", func(t *testing.T) {
		// 3.L2: tasks/get does not exist for a 2025-06-18 client.
		h := start(t, Config{Validator: testValidator(t)})
		h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
		h.server.send(`{"jsonrpc":"2.0","id":6,"method":"tasks/get","params":{"taskId":"t1"}}`)
		e := h.server.recvObj()
		wantEq(t, "id", e["id"], `6`)
		wantEq(t, "code", errorCode(e), `-32601`)
		wantEq(t, "row", get(e, "error", "data", "row"), `"3.L2"`)
	})
	t.Run("emulate from client", func(t *testing.T) {
		h := start(t, Config{Validator: testValidator(t)})
		h.handshake("2025-11-25", "2025-11-25", "2025-06-18", capsSampling, capsServer)
		h.client.send(`{"jsonrpc":"2.0","id":"tg","method":"tasks/get","params":{"taskId":"t1"}}`)
		e := h.client.recvObj()
		wantEq(t, "id", e["id"], `"tg"`)
		wantEq(t, "code", errorCode(e), `-32601`)
		if msg := str(get(e, "error", "message")); !strings.Contains(msg, "3.L2") {
			t.Errorf("message %s does not name the row", msg)
		}
	})
	t.Run("reject", func(t *testing.T) {
		// 3.L4: sampling with tools cannot reach a 2025-06-18 client.
		h := start(t, Config{Validator: testValidator(t)})
		h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
		h.server.send(`{"jsonrpc":"2.0","id":8,"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"q"}}],"maxTokens":5,"tools":[{"name":"t","inputSchema":{"type":"object"}}]}}`)
		e := h.server.recvObj()
		wantEq(t, "id", e["id"], `8`)
		wantEq(t, "code", errorCode(e), `-32602`)
	})
}

// TestContextCancel: when Run's context ends (SIGTERM after the drain
// timeout), a request still waiting gets -32603 "shutting down", the
// upstream a notifications/cancelled for it, and then the upstream is
// closed.
func TestContextCancel(t *testing.T) {
	var inflight atomic.Int64
	h := start(t, Config{Validator: testValidator(t), Inflight: &inflight})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	if n := inflight.Load(); n != 0 {
		t.Errorf("in flight after the handshake: %d", n)
	}
	h.client.send(`{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"slow"}}`)
	up := h.server.recvObj()
	if n := inflight.Load(); n != 1 {
		t.Errorf("in flight with one pending call: %d", n)
	}
	h.cancel()
	if err := h.wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	e := h.client.recvObj()
	wantEq(t, "id", e["id"], `"slow"`)
	if msg := str(get(e, "error", "message")); !strings.Contains(msg, "shutting down") {
		t.Errorf("message: %s", msg)
	}
	c := h.server.recvObj()
	wantEq(t, "upstream cancel", c["method"], `"notifications/cancelled"`)
	wantEq(t, "cancelled id", get(c, "params", "requestId"), str(up["id"]))
	h.server.expectEOF()
	if n := inflight.Load(); n != 0 {
		t.Errorf("in flight after Run: %d", n)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{UpstreamRevision: 99},
		{ClientValidation: 9},
		{RequestTimeout: -time.Second},
	} {
		a, _ := newPipe()
		if err := Run(t.Context(), a, nil, cfg); err == nil {
			t.Errorf("Run(nil dial) = nil")
		}
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) = nil error", cfg)
		}
	}
}

// TestIDLessError: an error response without an id (3.F4) answers the
// request the transport relates it to.
func TestIDLessError(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":"q","method":"tools/list"}`)
	wantEq(t, "upstream id", h.server.recvObj()["id"], `2`)
	h.server.send(`{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}`) // unrelated: dropped
	h.server.sendRel(`{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}`, `2`)
	e := h.client.recvObj()
	wantEq(t, "id", e["id"], `"q"`)
	wantEq(t, "code", errorCode(e), `-32700`)
	if !contains(h.logs.String(), "without an id dropped") {
		t.Errorf("no log line for the unrelated id-less error")
	}
}

// TestBatchCancel: a request of a batch that the client cancels is left
// out of the batch's answer.
func TestBatchCancel(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.handshake("2025-03-26", "2025-11-25", "2025-03-26", capsSampling, capsServer)
	h.client.send(`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow"}}]`)
	wantEq(t, "first", h.server.recvObj()["id"], `2`)
	wantEq(t, "second", h.server.recvObj()["id"], `3`)
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}`)
	wantEq(t, "cancel requestId", get(h.server.recvObj(), "params", "requestId"), `3`)
	h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}`)
	arr := h.client.recv()
	elems, _ := decode(t, arr.Raw).([]any)
	if len(elems) != 1 || str(get(elems, 0, "id")) != `1` {
		t.Errorf("batch answer = %s, want only id 1", arr.Raw)
	}
}

func TestWithID(t *testing.T) {
	for _, tc := range []struct {
		name, in, id, want string
		touched            bool // the chain re-encoded the message
	}{
		{"splice number", `{"jsonrpc":"2.0","id":1,"result":{}}`, `"abc"`, `{"jsonrpc":"2.0","id":"abc","result":{}}`, false},
		{"splice string", `{"id":"x\"y","jsonrpc":"2.0","method":"ping"}`, `-3`, `{"id":-3,"jsonrpc":"2.0","method":"ping"}`, false},
		{"splice last", `{"jsonrpc":"2.0","result":{"id":5},"id":12}`, `1.5`, `{"jsonrpc":"2.0","result":{"id":5},"id":1.5}`, false},
		{"node path", `{"jsonrpc":"2.0","id":1,"result":{"a":1}}`, `"z"`, `{"jsonrpc":"2.0","id":"z","result":{"a":1}}`, true},
		{"add id", `{"jsonrpc":"2.0","error":{"code":1,"message":"m"}}`, `7`, `{"jsonrpc":"2.0","error":{"code":1,"message":"m"},"id":7}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := jsonrpc.Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			raw := m.Raw
			if tc.touched {
				raw = []byte(tc.in) // same bytes, another buffer: no splice
			}
			if _, ok := idOffset(raw, m); ok == tc.touched && len(m.ID) > 0 {
				t.Errorf("idOffset ok = %v, want %v", ok, !tc.touched)
			}
			if got := string(withID(raw, m, json.RawMessage(tc.id))); got != tc.want {
				t.Errorf("withID = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestConcurrentCalls: many requests in flight while the server also
// sends notifications; every answer reaches its request.
func TestConcurrentCalls(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)})
	h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	ctx, cancel := context.WithCancel(t.Context())
	srv := make(chan error, 1)
	go func() { srv <- autoServer(ctx, h.server.conn, schemas.V20251125) }()
	const n = 200
	go func() {
		for i := range n {
			_ = h.server.conn.Send(ctx, transportMessage(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":`+strconv.Itoa(i)+`}}`))
		}
	}()
	for i := range n {
		h.client.send(`{"jsonrpc":"2.0","id":"c` + strconv.Itoa(i) + `","method":"tools/call","params":{"name":"x"}}`)
	}
	seen := map[string]bool{}
	for notes := 0; len(seen) < n || notes < n; {
		o := h.client.recvObj()
		if o["method"] != nil {
			notes++
			continue
		}
		id := str(o["id"])
		if seen[id] || get(o, "result", "content") == nil {
			t.Fatalf("unexpected or duplicate answer %s", str(o))
		}
		seen[id] = true
	}
	cancel()
	if err := <-srv; err != nil {
		t.Error(err)
	}
}

// watchedClient is a client Conn that says when its client listens
// (transport.StreamWatcher), like a Streamable HTTP session.
type watchedClient struct {
	transport.Conn
	registered chan func()
}

func (c *watchedClient) OnStream(f func()) { c.registered <- f }

// lazyUpstream is an upstream Conn that opens its stream for unsolicited
// messages on demand (transport.StreamOpener), like DialHTTP with LazyGET.
type lazyUpstream struct {
	transport.Conn
	opened atomic.Int32
}

func (c *lazyUpstream) OpenStream() { c.opened.Add(1) }

// TestUpstreamStreamOpenedWhenClientListens: the upstream's stream for
// unsolicited messages is opened only once the client listens; a client
// transport that cannot say so (stdio, legacy SSE) counts as listening.
func TestUpstreamStreamOpenedWhenClientListens(t *testing.T) {
	t.Run("watched client", func(t *testing.T) {
		up := &lazyUpstream{}
		wc := &watchedClient{registered: make(chan func(), 1)}
		h := start(t, Config{Validator: testValidator(t)},
			withWrapUp(func(c transport.Conn) transport.Conn { up.Conn = c; return up }),
			withWrapClient(func(c transport.Conn) transport.Conn { wc.Conn = c; return wc }))
		h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
		var listen func()
		select {
		case listen = <-wc.registered:
		case <-time.After(waitTimeout):
			t.Fatal("the relay registered no OnStream callback")
		}
		if n := up.opened.Load(); n != 0 {
			t.Fatalf("upstream stream opened %d times before the client listens", n)
		}
		listen()
		if n := up.opened.Load(); n != 1 {
			t.Fatalf("upstream stream opened %d times once the client listens, want 1", n)
		}
	})
	t.Run("plain client", func(t *testing.T) {
		up := &lazyUpstream{}
		h := start(t, Config{Validator: testValidator(t)},
			withWrapUp(func(c transport.Conn) transport.Conn { up.Conn = c; return up }))
		h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
		if n := up.opened.Load(); n != 1 {
			t.Fatalf("upstream stream opened %d times, want 1 right after the handshake", n)
		}
	})
}

// pushingUp is an upstream Conn that pushes what it receives
// (transport.Pusher), from a goroutine of its own, like DialHTTP's Conn.
type pushingUp struct{ transport.Conn }

func (c pushingUp) Push(f func(transport.Message, error)) bool {
	go func() {
		for {
			m, err := c.Conn.Recv(context.Background())
			f(m, err)
			if err != nil {
				return
			}
		}
	}()
	return true
}

// TestPushingUpstream: over an upstream that pushes, answers,
// notifications and the upstream's end are handled as over Recv.
func TestPushingUpstream(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)},
		withWrapUp(func(c transport.Conn) transport.Conn { return pushingUp{c} }))
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
	req := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"tools":[]}}`)
	wantEq(t, "notification", h.client.recvObj()["method"], `"notifications/tools/list_changed"`)
	wantEq(t, "answer", h.client.recvObj()["id"], `"l"`)
	h.loseUpstream()
}

// TestStatelessUpstream: a 2025-06-18 client through the relay to a
// scripted 2026-07-28 server. The client's initialize is answered from
// server/discover (4.L1, 4.L2), notifications/initialized, ping (4.M1) and
// logging/setLevel (4.M2) never reach the server, every request carries the
// _meta of 4.L1 with the level the client set, and an InputRequiredResult
// becomes a sampling/createMessage to the client whose answer goes back in
// the retry's inputResponses with the server's requestState (4.M6).
func TestStatelessUpstream(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t), UpstreamRevision: schemas.V20260728})
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{},"roots":{"listChanged":true}},"clientInfo":{"name":"old-client","version":"1"}}}`)
	d := h.server.recvObj()
	wantEq(t, "probe", d["method"], `"server/discover"`)
	wantEq(t, "probe version", get(d, "params", "_meta", metaProtocolVersion), `"2026-07-28"`)
	wantEq(t, "probe capabilities", get(d, "params", "_meta", metaClientCapabilities), `{"roots":{},"sampling":{}}`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true},"logging":{}},"instructions":"be nice","ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s26","version":"2"}}}}`)
	m := h.client.recv()
	checkValid(t, schemas.V20250618, m.Raw, schemas.FromServer, "initialize")
	init := decode(t, m.Raw).(obj)
	wantEq(t, "client protocolVersion", get(init, "result", "protocolVersion"), `"2025-06-18"`)
	wantEq(t, "serverInfo", get(init, "result", "serverInfo", "name"), `"s26"`)
	wantEq(t, "instructions", get(init, "result", "instructions"), `"be nice"`)
	if get(init, "result", "capabilities", "tools") == nil {
		t.Errorf("capabilities lost: %s", m.Raw)
	}

	// The server announces tool list changes: the broker listens (4.M3).
	listen := h.server.recvObj()
	wantEq(t, "listen", listen["method"], `"subscriptions/listen"`)
	wantEq(t, "listen filter", get(listen, "params", "notifications"), `{"toolsListChanged":true}`)
	checkValid(t, schemas.V20260728, mustJSON(t, listen), schemas.FromClient, "")
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":` + str(listen["id"]) + `}}}`)
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":` + str(listen["id"]) + `}}}`)
	lc := h.client.recv() // the acknowledgement is consumed (4.M10)
	checkValid(t, schemas.V20250618, lc.Raw, schemas.FromServer, "")
	wantEq(t, "list_changed", decode(t, lc.Raw).(obj)["method"], `"notifications/tools/list_changed"`)

	h.client.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	h.client.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	wantEq(t, "ping answered", h.client.recvObj()["id"], `"p"`)
	h.client.send(`{"jsonrpc":"2.0","id":"lv","method":"logging/setLevel","params":{"level":"debug"}}`)
	wantEq(t, "setLevel answered", h.client.recvObj()["id"], `"lv"`)

	h.client.send(`{"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"sample","arguments":{}}}`)
	first := h.server.recvObj()
	wantEq(t, "forwarded", first["method"], `"tools/call"`) // nothing before it: initialized, ping, setLevel stayed here
	wantEq(t, "logLevel", get(first, "params", "_meta", "io.modelcontextprotocol/logLevel"), `"debug"`)
	wantEq(t, "clientInfo", get(first, "params", "_meta", metaClientInfo, "name"), `"old-client"`)
	checkValid(t, schemas.V20260728, mustJSON(t, first), schemas.FromClient, "")
	h.server.send(`{"jsonrpc":"2.0","id":` + str(first["id"]) + `,"result":{"resultType":"input_required","requestState":"st-1","inputRequests":{"q":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"2+2?"}}],"maxTokens":5}}}}}`)

	ask := h.client.recv()
	checkValid(t, schemas.V20250618, ask.Raw, schemas.FromServer, "")
	wantEq(t, "input request Related", json.RawMessage(ask.Related), `"call"`)
	q := decode(t, ask.Raw).(obj)
	wantEq(t, "input request", q["method"], `"sampling/createMessage"`)
	h.client.send(`{"jsonrpc":"2.0","id":` + str(q["id"]) + `,"result":{"role":"assistant","content":{"type":"text","text":"4"},"model":"m"}}`)

	retry := h.server.recvObj()
	wantEq(t, "retry method", retry["method"], `"tools/call"`)
	if str(retry["id"]) == str(first["id"]) {
		t.Errorf("the retry reuses id %s (4.M6 wants a new id)", str(retry["id"]))
	}
	wantEq(t, "requestState", get(retry, "params", "requestState"), `"st-1"`)
	wantEq(t, "inputResponses", get(retry, "params", "inputResponses", "q", "content", "text"), `"4"`)
	wantEq(t, "arguments kept", get(retry, "params", "name"), `"sample"`)
	checkValid(t, schemas.V20260728, mustJSON(t, retry), schemas.FromClient, "")
	h.server.send(`{"jsonrpc":"2.0","id":` + str(retry["id"]) + `,"result":{"resultType":"complete","content":[{"type":"text","text":"the model said 4"}]}}`)
	res := h.client.recv()
	checkValid(t, schemas.V20250618, res.Raw, schemas.FromServer, "tools/call")
	o := decode(t, res.Raw).(obj)
	wantEq(t, "final id", o["id"], `"call"`)
	wantEq(t, "final text", get(o, "result", "content", 0, "text"), `"the model said 4"`)

	// resources/subscribe reopens the listen with the URI (4.M3): the old
	// one is cancelled (stdio semantics, 4.M8), the client gets {}.
	h.client.send(`{"jsonrpc":"2.0","id":"sub","method":"resources/subscribe","params":{"uri":"demo://r"}}`)
	cancel := h.server.recvObj()
	wantEq(t, "old listen cancelled", cancel["method"], `"notifications/cancelled"`)
	wantEq(t, "cancelled id", get(cancel, "params", "requestId"), str(listen["id"]))
	listen2 := h.server.recvObj()
	wantEq(t, "new listen", listen2["method"], `"subscriptions/listen"`)
	wantEq(t, "new filter", get(listen2, "params", "notifications"), `{"resourceSubscriptions":["demo://r"],"toolsListChanged":true}`)
	// The answer waits for the acknowledgement of the new listen.
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"resourceSubscriptions":["demo://r"],"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":` + str(listen2["id"]) + `}}}`)
	wantEq(t, "subscribe answered", h.client.recvObj()["id"], `"sub"`)
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"demo://r","_meta":{"io.modelcontextprotocol/subscriptionId":` + str(listen2["id"]) + `}}}`)
	up := h.client.recv()
	checkValid(t, schemas.V20250618, up.Raw, schemas.FromServer, "")
	u := decode(t, up.Raw).(obj)
	wantEq(t, "updated", u["method"], `"notifications/resources/updated"`)
	if get(u, "params", "_meta") != nil {
		t.Errorf("subscriptionId leaked to the legacy client: %s", up.Raw)
	}
}

// TestStatelessUpstreamRefusesOtherVersions: a server that does not list
// 2026-07-28 fails the client's initialize with a clear error.
func TestStatelessUpstreamRefusesOtherVersions(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t), UpstreamRevision: schemas.V20260728})
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	d := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2027-01-01"],"capabilities":{},"ttlMs":0,"cacheScope":"private"}}`)
	e := h.client.recvObj()
	if msg := str(get(e, "error", "message")); !strings.Contains(msg, "not 2026-07-28") {
		t.Errorf("error: %s", msg)
	}
	if err := h.wait(); !errors.Is(err, ErrHandshake) {
		t.Errorf("Run = %v, want ErrHandshake", err)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestStatelessInputNotAnswered: a client that never answers an input
// request of a 2026 server's InputRequiredResult gets, after the request
// timeout, a CodeRequestTimeout error for its original request (issue 6,
// bad input: a bounded wait).
func TestStatelessInputNotAnswered(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t), UpstreamRevision: schemas.V20260728, RequestTimeout: 200 * time.Millisecond})
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"sampling":{}},"clientInfo":{"name":"c","version":"1"}}}`)
	d := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private"}}`)
	h.client.recvObj()
	h.client.send(`{"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"sample","arguments":{}}}`)
	first := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(first["id"]) + `,"result":{"resultType":"input_required","inputRequests":{"q":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"?"}}],"maxTokens":5}}}}}`)
	ask := h.client.recvObj()
	wantEq(t, "input request", ask["method"], `"sampling/createMessage"`)
	start := time.Now()
	e := h.client.recvObj() // no answer from the client
	wantEq(t, "failed request", e["id"], `"call"`)
	wantEq(t, "code", errorCode(e), strconv.Itoa(CodeRequestTimeout))
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("waited %v for the timeout of 200ms", waited)
	}
	// A late answer changes nothing and the session goes on.
	h.client.send(`{"jsonrpc":"2.0","id":` + str(ask["id"]) + `,"result":{"role":"assistant","content":{"type":"text","text":"late"},"model":"m"}}`)
	h.client.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	wantEq(t, "after", h.client.recvObj()["id"], `"p"`)
}
