package bridge

import (
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Test4T8UpstreamDies: when the legacy upstream dies under a pending call
// the client gets -32603, and the next request works on a new upstream
// session (4.T8 NC→OS: re-initialize, answer in-flight requests with
// errors).
func Test4T8UpstreamDies(t *testing.T) {
	t.Run("pending call", func(t *testing.T) {
		h := newHarness(t)
		c := h.start("tools/call", toolCall(meta(capsAll)), "Bearer a")
		c.up.sess.conn.Close()
		e := h.errorOf(c.id, jsonrpc.CodeInternalError)
		if msg, _ := e["message"].(string); !strings.Contains(msg, "upstream") {
			t.Errorf("message %q does not name the upstream", msg)
		}
		// The lane's relay re-dials and re-initializes for the next
		// request.
		h.call("tools/list", nil, "Bearer a")
		if n := h.up.initializes(); n != 2 || h.up.numSessions() != 2 {
			t.Errorf("%d initializes on %d upstream sessions, want 2 and 2", n, h.up.numSessions())
		}
		if n := len(h.up.log.all(and(isRequest("tools/list"), inSession(h.up.session(2))))); n != 1 {
			t.Errorf("tools/list not served by the new upstream session")
		}
	})
	t.Run("suspended call", func(t *testing.T) {
		h := newHarness(t)
		p := h.suspendElicit("Bearer a", "srv-1")
		p.up.sess.conn.Close()
		<-p.up.sess.closed
		// The retry learns that the call failed.
		rid := p.retry(p.state, obj{p.key: decodeObj([]byte(elicitAnswer))})
		h.errorOf(rid, jsonrpc.CodeInternalError)
		h.call("tools/list", nil, "Bearer a")
	})
	t.Run("handshake fails", func(t *testing.T) {
		h := newHarness(t)
		h.up.failDial.Store(true)
		id := h.send("server/discover", nil, "Bearer a")
		h.errorOf(id, jsonrpc.CodeInternalError)
		id = h.send("tools/call", toolCall(meta(capsAll)), "Bearer a")
		h.errorOf(id, jsonrpc.CodeInternalError)
		h.up.failDial.Store(false)
		if v := h.laneOf("Bearer a", capsAll); v != "1.0.1" {
			t.Errorf("served by upstream session %s", v)
		}
	})
	t.Run("initialize refused", func(t *testing.T) {
		h := newHarness(t, withUpstream(func(u *upstream) {
			u.hook = func(s *upSession, m *jsonrpc.Message) bool {
				if m.Method == "initialize" && s.n == 1 {
					s.send(string(jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInvalidParams, "go away", nil)))
					return true
				}
				return false
			}
		}))
		id := h.send("server/discover", nil, "Bearer a")
		h.errorOf(id, jsonrpc.CodeInternalError)
		if v := h.laneOf("Bearer a", capsAll); v != "1.0.2" {
			t.Errorf("served by upstream session %s, want a new one (2)", v)
		}
	})
}

// TestLaneEndsUnderRequests: a lane that ends (here: evicted although
// busy, at MaxLanes 1) fails its pending call with -32603, ends its
// listens with notifications/cancelled, and its suspended calls can no
// longer be resumed; the principal's next request works on a new lane.
func TestLaneEndsUnderRequests(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.MaxLanes = 1 }))
	listen := h.send(methodListen, listenParams(obj{"toolsListChanged": true}), "Bearer a")
	h.ack(listen)
	p := h.suspendElicit("Bearer a", "srv-1")
	c := h.start("tools/call", toolCall(meta(capsAll)), "Bearer a")
	h.laneOf("Bearer b", capsAll) // evicts a's lane, busy as it is
	awaitClosed(t, c.up.sess, "a's evicted lane")
	e := h.errorOf(c.id, jsonrpc.CodeInternalError)
	if msg, _ := e["message"].(string); !strings.Contains(msg, "upstream session ended") {
		t.Errorf("message %q", msg)
	}
	end := h.in.wait(t, "the end of the listen", and(relatedTo(listen), isMethod("notifications/cancelled")))
	if got := js(get(end.obj(), "params", "requestId")); got != string(listen) {
		t.Errorf("listen ended with %s", end.m.Raw)
	}
	h.badRetry("tools/call", retryParams(p.params, p.state, obj{p.key: decodeObj([]byte(elicitAnswer))}), "Bearer a", "no suspended request matches")
	if v := h.laneOf("Bearer a", capsAll); v != "1.0.3" {
		t.Errorf("a's next request served by upstream session %s, want a new one (3)", v)
	}
}

// Test4E1ErrorCodes: legacy error codes reach the 2026-07-28 client as
// 4.E1 maps them: -32002 (resource not found) on resources/read becomes
// -32602, a legacy code in the reserved -32020..-32099 range becomes
// -32603 with the original in data, others pass.
func Test4E1ErrorCodes(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		method string
		code   int
		want   int
	}{
		{"resources/read", -32002, jsonrpc.CodeInvalidParams},
		{"tools/call", -32050, jsonrpc.CodeInternalError},
		{"tools/call", jsonrpc.CodeInvalidParams, jsonrpc.CodeInvalidParams},
		{"prompts/get", -32001, -32001},
	}
	for _, tc := range cases {
		c := h.start(tc.method, paramsFor(tc.method, meta(capsAll)), "")
		c.up.sess.send(string(jsonrpc.ErrorResponse(c.up.m.ID, tc.code, "upstream says no", nil)))
		e := h.errorOf(c.id, tc.want)
		if tc.code == -32050 && !strings.Contains(js(e["data"]), "-32050") {
			t.Errorf("%s %d: the original error is not in data: %s", tc.method, tc.code, js(e))
		}
	}
}
