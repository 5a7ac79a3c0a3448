package relay

import (
	"testing"
)

// TestAuditHandshakeFailure: a failed upstream handshake answers the
// client's initialize with an error and records it: an upstream_error
// when the upstream refused initialize, a protocol_error when the broker
// cannot use its answer.
func TestAuditHandshakeFailure(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		code         string
		want         map[string]string
	}{
		{"revision unknown", `"result":{"protocolVersion":"1999-01-01","capabilities":{},"serverInfo":{"name":"s","version":"1"}}`, `-32603`,
			map[string]string{"kind": `"protocol_error"`, "outcome": `"error"`, "side": `"client"`, "error_code": `-32603`}},
		{"refused", `"error":{"code":-32602,"message":"unsupported"}`, `-32602`,
			map[string]string{"kind": `"upstream_error"`, "outcome": `"error"`, "side": `"server"`, "error_code": `-32602`, "detail": `"unsupported"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, a := newAuditLog(t)
			h := start(t, Config{Validator: testValidator(t), Audit: a})
			h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
			init := h.server.recvObj()
			h.server.send(`{"jsonrpc":"2.0","id":` + str(init["id"]) + `,` + tc.answer + `}`)
			wantEq(t, "code", errorCode(h.client.recvObj()), tc.code)
			wantFields(t, log.wait(1)[0], with(tc.want, "method", `"initialize"`, "request_id", `"0"`))
		})
	}
}

// TestAuditTaskErrors: the errors of the tasks emulation (4.M5) are
// recorded.
func TestAuditTaskErrors(t *testing.T) {
	log, a := newAuditLog(t)
	th := startTasks(t, Config{Audit: a}, "2025-11-25")
	th.client.send(`{"jsonrpc":"2.0","id":"g","method":"tasks/get","params":{"taskId":"nope"}}`)
	wantEq(t, "tasks/get code", errorCode(th.client.recvObj()), `-32602`)
	th.client.send(`{"jsonrpc":"2.0","id":"l","method":"tasks/list","params":{"cursor":"bad"}}`)
	wantEq(t, "tasks/list code", errorCode(th.client.recvObj()), `-32602`)
	evs := log.wait(2)
	wantFields(t, evs[0], map[string]string{"kind": `"protocol_error"`, "outcome": `"rejected"`, "method": `"tasks/get"`,
		"request_id": `"g"`, "error_code": `-32602`})
	wantFields(t, evs[1], map[string]string{"kind": `"protocol_error"`, "outcome": `"rejected"`, "method": `"tasks/list"`,
		"request_id": `"l"`, "error_code": `-32602`})
}

// TestAuditToolHeaderRefusal: a tools/call the broker refuses because its
// arguments cannot be mirrored into Mcp-Param headers (4.T5) is recorded.
func TestAuditToolHeaderRefusal(t *testing.T) {
	log, a := newAuditLog(t)
	h, _ := startStatelessWith(t, Config{Audit: a}, true)
	h.client.send(`{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"route","arguments":{"region":7}}}`)
	answerList(t, h, h.server.recvObj(), "", routeTool("Region", "Priority", "Urgent"))
	wantEq(t, "refused", errorCode(h.client.recvObj()), `-32602`)
	wantFields(t, log.wait(1)[0], map[string]string{"kind": `"protocol_error"`, "outcome": `"rejected"`, "side": `"client"`,
		"method": `"tools/call"`, "tool": `"route"`, "request_id": `"c"`, "error_code": `-32602`})
}
