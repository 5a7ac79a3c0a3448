package bridge

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// listenParams are the params of a subscriptions/listen.
func listenParams(filter obj) obj {
	return obj{"notifications": filter, "_meta": meta(capsAll)}
}

// ack waits for the acknowledgement of the listen id and returns its
// notifications filter.
func (h *harness) ack(id json.RawMessage) obj {
	h.tb.Helper()
	r := h.in.wait(h.tb, "the acknowledgement of "+string(id), and(isMethod(methodAcknowledged), relatedTo(id)))
	o := r.obj()
	if got := js(get(o, "params", "_meta", metaSubscriptionID)); got != string(id) {
		h.tb.Errorf("acknowledgement subscriptionId %s, want %s", got, id)
	}
	// 4.M10: it is the first message of the listen's stream.
	if first := h.in.all(relatedTo(id))[0]; first.m.Method != methodAcknowledged {
		h.tb.Errorf("first message of listen %s: %s", id, first.m.Raw)
	}
	f, _ := get(o, "params", "notifications").(obj)
	return f
}

// Test4M3Listen: subscriptions/listen is acknowledged (4.M10) with what
// the server supports; resources/subscribe goes upstream once per URI
// however many listens want it (reference counted), the server's
// resources/updated and list_changed reach every listen that asked for
// them tagged with its subscriptionId, and the last listen to close a URI
// unsubscribes it.
func Test4M3Listen(t *testing.T) {
	h := newHarness(t)
	u1, u2 := "file:///one", "file:///two"
	l1 := h.send(methodListen, listenParams(obj{"resourceSubscriptions": []string{u1}, "toolsListChanged": true, "promptsListChanged": true}), "Bearer a")
	if got := js(h.ack(l1)); got != fmt.Sprintf(`{"resourceSubscriptions":[%q],"toolsListChanged":true}`, u1) {
		t.Errorf("acknowledged %s: prompts/list_changed is not supported by the server", got)
	}
	l2 := h.send(methodListen, listenParams(obj{"resourceSubscriptions": []string{u1, u2, u1}}), "Bearer a")
	if got := js(h.ack(l2)); got != fmt.Sprintf(`{"resourceSubscriptions":[%q,%q]}`, u1, u2) {
		t.Errorf("acknowledged %s", got)
	}
	subs := func(method string) map[string]int {
		n := map[string]int{}
		for _, r := range h.up.log.all(isRequest(method)) {
			n[fmt.Sprint(get(r.obj(), "params", "uri"))]++
		}
		return n
	}
	if got := subs("resources/subscribe"); got[u1] != 1 || got[u2] != 1 || len(got) != 2 {
		t.Errorf("upstream subscribes %v, want one per URI", got)
	}
	sess := h.up.session(1)
	sess.notify("notifications/resources/updated", fmt.Sprintf(`{"uri":%q}`, u1), nil)
	sess.notify("notifications/resources/updated", fmt.Sprintf(`{"uri":%q}`, u2), nil)
	sess.notify("notifications/tools/list_changed", `{}`, nil)
	sess.notify("notifications/prompts/list_changed", `{}`, nil)
	// The last one is for both listens: wait for it to reach both.
	sess.notify("notifications/resources/updated", fmt.Sprintf(`{"uri":%q,"title":"last"}`, u1), nil)
	last := func(id json.RawMessage) func(rec) bool {
		return and(relatedTo(id), func(r rec) bool { return get(r.obj(), "params", "title") == "last" })
	}
	h.in.wait(t, "the last update on l1", last(l1))
	h.in.wait(t, "the last update on l2", last(l2))
	stream := func(id json.RawMessage) []string {
		var out []string
		for _, r := range h.in.all(relatedTo(id)) {
			o := r.obj()
			if got := js(get(o, "params", "_meta", metaSubscriptionID)); got != string(id) {
				t.Errorf("%s on listen %s has subscriptionId %s", r.m.Method, id, got)
			}
			out = append(out, fmt.Sprintf("%s %v", r.m.Method, get(o, "params", "uri")))
		}
		return out
	}
	want1 := fmt.Sprintf("[%s <nil> notifications/resources/updated %s notifications/tools/list_changed <nil> notifications/resources/updated %s]", methodAcknowledged, u1, u1)
	if got := fmt.Sprint(stream(l1)); got != want1 {
		t.Errorf("listen 1 got %s\nwant %s", got, want1)
	}
	want2 := fmt.Sprintf("[%s <nil> notifications/resources/updated %s notifications/resources/updated %s notifications/resources/updated %s]", methodAcknowledged, u1, u2, u1)
	if got := fmt.Sprint(stream(l2)); got != want2 {
		t.Errorf("listen 2 got %s\nwant %s", got, want2)
	}
	// Closing l2 unsubscribes u2 only (l1 still wants u1); closing l1
	// then unsubscribes u1.
	h.cancelReq(l2)
	h.up.log.wait(t, "the unsubscribe of u2", isRequest("resources/unsubscribe"))
	h.cancelReq(l1)
	h.up.log.wait(t, "the unsubscribe of u1", isRequest("resources/unsubscribe"))
	if got := subs("resources/unsubscribe"); got[u1] != 1 || got[u2] != 1 || len(got) != 2 {
		t.Errorf("upstream unsubscribes %v, want one per URI", got)
	}
	// Nothing reaches a closed listen.
	sess.notify("notifications/tools/list_changed", `{}`, nil)
	h.flushLane("Bearer a")
	if n := len(h.in.all(and(relatedTo(l1), isMethod("notifications/tools/list_changed")))); n != 1 {
		t.Errorf("a closed listen got list_changed")
	}
	for _, r := range h.in.all(func(r rec) bool {
		return r.m.IsResponse() && (string(r.m.ID) == string(l1) || string(r.m.ID) == string(l2))
	}) {
		t.Errorf("a listen the client closed got %s", r.m.Raw)
	}
}

// Test4M3ListenUnsupported: a server without resources.subscribe gets no
// resources/subscribe and the acknowledgement leaves the URIs out; a URI
// whose subscribe the server refuses is left out too; a listen on another
// lane hears nothing from this one.
func Test4M3ListenUnsupported(t *testing.T) {
	t.Run("no subscribe capability", func(t *testing.T) {
		h := newHarness(t, withUpstream(func(u *upstream) { u.caps = `{"resources":{"listChanged":true}}` }))
		l := h.send(methodListen, listenParams(obj{"resourceSubscriptions": []string{"file:///x"}, "resourcesListChanged": true, "toolsListChanged": true}), "")
		if got := js(h.ack(l)); got != `{"resourcesListChanged":true}` {
			t.Errorf("acknowledged %s", got)
		}
		if n := len(h.up.log.all(isRequest("resources/subscribe"))); n != 0 {
			t.Errorf("subscribe sent to a server that cannot")
		}
	})
	t.Run("subscribe refused", func(t *testing.T) {
		h := newHarness(t, withUpstream(func(u *upstream) {
			u.hook = func(s *upSession, m *jsonrpc.Message) bool {
				if m.Method == "resources/subscribe" && get(decodeObj(m.Raw), "params", "uri") == "file:///bad" {
					s.send(string(jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInvalidParams, "no such resource", nil)))
					return true
				}
				return false
			}
		}))
		l := h.send(methodListen, listenParams(obj{"resourceSubscriptions": []string{"file:///bad", "file:///good"}}), "")
		if got := js(h.ack(l)); got != `{"resourceSubscriptions":["file:///good"]}` {
			t.Errorf("acknowledged %s", got)
		}
		// Closing it unsubscribes only what was subscribed.
		h.cancelReq(l)
		u := h.up.log.wait(t, "the unsubscribe", isRequest("resources/unsubscribe"))
		if get(u.obj(), "params", "uri") != "file:///good" {
			t.Errorf("unsubscribed %s", u.m.Raw)
		}
		h.flushLane("")
		if n := len(h.up.log.all(isRequest("resources/unsubscribe"))); n != 1 {
			t.Errorf("%d unsubscribes", n)
		}
	})
	t.Run("other lane", func(t *testing.T) {
		h := newHarness(t)
		la := h.send(methodListen, listenParams(obj{"toolsListChanged": true}), "Bearer a")
		h.ack(la)
		lb := h.send(methodListen, listenParams(obj{"toolsListChanged": true}), "Bearer b")
		h.ack(lb)
		h.up.session(1).notify("notifications/tools/list_changed", `{}`, nil)
		h.in.wait(t, "a's list_changed", and(relatedTo(la), isMethod("notifications/tools/list_changed")))
		h.flushLane("Bearer b")
		h.up.session(2).notify("notifications/prompts/list_changed", `{}`, nil)
		h.flushLane("Bearer a")
		if n := len(h.in.all(and(relatedTo(lb), isMethod("notifications/tools/list_changed")))); n != 0 {
			t.Errorf("b's listen heard a's lane")
		}
	})
	t.Run("bad filter", func(t *testing.T) {
		h := newHarness(t, withConfig(func(c *Config) { c.Relay.Validator = nil }))
		id := h.newID()
		h.sendReq(req{id: id, method: methodListen, params: obj{"_meta": meta(capsAll)}})
		h.errorOf(id, jsonrpc.CodeInvalidParams)
		id = h.newID()
		h.sendReq(req{id: id, method: methodListen, params: obj{"notifications": obj{"resourceSubscriptions": "file:///x"}, "_meta": meta(capsAll)}})
		h.errorOf(id, jsonrpc.CodeInvalidParams)
	})
}

// Test4M8ListenCancelledDuringSubscribe: a listen closed while its
// resources/subscribe is in flight is not acknowledged, and what it
// subscribed is unsubscribed again.
func Test4M8ListenCancelledDuringSubscribe(t *testing.T) {
	hold := make(chan struct{})
	h := newHarness(t, withUpstream(func(u *upstream) {
		u.hook = func(s *upSession, m *jsonrpc.Message) bool {
			if m.Method != "resources/subscribe" {
				return false
			}
			go func() {
				<-hold
				s.reply(m.ID, `{}`)
			}()
			return true
		}
	}))
	l := h.send(methodListen, listenParams(obj{"resourceSubscriptions": []string{"file:///x"}}), "")
	h.upRequest("resources/subscribe")
	h.cancelReq(l)
	h.barrier()
	close(hold)
	h.upRequest("resources/unsubscribe")
	h.flushLane("")
	for _, r := range h.in.all(relatedTo(l)) {
		t.Errorf("the closed listen got %s", r.m.Raw)
	}
}
