package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Answers a 2026-07-28 client gives in inputResponses.
const (
	samplingAnswer = `{"role":"assistant","content":{"type":"text","text":"the client's model says hi"},"model":"test-model"}`
	elicitAnswer   = `{"action":"accept","content":{"name":"Ada"}}`
	rootsAnswer    = `{"roots":[{"uri":"file:///work","name":"work"}]}`
)

// Final results of the legacy server, by method.
var finalResults = map[string]string{
	"tools/call":     `{"content":[{"type":"text","text":"done"}]}`,
	"prompts/get":    `{"messages":[{"role":"user","content":{"type":"text","text":"done"}}]}`,
	"resources/read": `{"contents":[{"uri":"file:///r","text":"done"}]}`,
}

// paramsFor returns 2026-07-28 params of method with _meta m.
func paramsFor(method string, m obj) obj {
	switch method {
	case "prompts/get":
		return obj{"name": "p", "arguments": obj{"x": "1"}, "_meta": m}
	case "resources/read":
		return obj{"uri": "file:///r", "_meta": m}
	}
	return toolCall(m)
}

// mrtrCall is a client request the upstream is working on.
type mrtrCall struct {
	h      *harness
	method string
	params obj
	auth   string
	id     json.RawMessage // the client's id of the current round
	up     rec             // the request as the upstream received it
}

// start sends method and waits for the upstream to receive it.
func (h *harness) start(method string, params obj, auth string) *mrtrCall {
	h.tb.Helper()
	id := h.send(method, params, auth)
	up := h.up.log.wait(h.tb, "the upstream "+method, isRequest(method))
	return &mrtrCall{h: h, method: method, params: params, auth: auth, id: id, up: up}
}

// ask makes the upstream send a server->client request during the call
// (on the call's stream when related, else unattributed).
func (c *mrtrCall) ask(serverID, method, params string, related bool) {
	var rel json.RawMessage
	if related {
		rel = c.up.m.ID
	}
	c.up.sess.request(serverID, method, params, rel)
}

// inputRequired waits for the InputRequiredResult of the current round.
func (c *mrtrCall) inputRequired() (obj, string) {
	c.h.tb.Helper()
	return inputRequired(c.h.tb, c.h.result(c.id))
}

// retry sends the retry with a new id, returning it.
func (c *mrtrCall) retry(state any, responses obj) json.RawMessage {
	c.h.tb.Helper()
	p := retryParams(c.params, state, responses)
	c.id = c.h.newID()
	c.h.sendReq(req{id: c.id, method: c.method, params: p, auth: c.auth})
	return c.id
}

// finish makes the upstream answer the call.
func (c *mrtrCall) finish() {
	c.up.sess.reply(c.up.m.ID, finalResults[c.method])
}

// upAnswer waits for the upstream to receive the answer to its request
// serverID.
func (h *harness) upAnswer(serverID string) rec {
	h.tb.Helper()
	return h.up.log.wait(h.tb, "the answer to server request "+serverID, isResponseTo(json.RawMessage(fmt.Sprintf("%q", serverID))))
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// Test4M6InputRounds: a legacy server's sampling, elicitation or roots
// request during tools/call, prompts/get or resources/read suspends the
// call; the client gets an InputRequiredResult whose input request is the
// server's {method, params} (no jsonrpc, no id); the retry's answer
// reaches the server as the JSON-RPC response to its own request id
// (4.F6), and the server's final answer answers the retry.
func Test4M6InputRounds(t *testing.T) {
	cases := []struct {
		call, method, params, answer string
	}{
		{"tools/call", "sampling/createMessage", samplingParams, samplingAnswer},
		{"prompts/get", "elicitation/create", elicitationParams, elicitAnswer},
		{"resources/read", "roots/list", "", rootsAnswer},
		{"tools/call", "roots/list", `{}`, rootsAnswer},
	}
	for _, tc := range cases {
		t.Run(tc.call+"_"+tc.method, func(t *testing.T) {
			h := newHarness(t)
			c := h.start(tc.call, paramsFor(tc.call, meta(capsAll)), "Bearer a")
			c.ask("srv-1", tc.method, tc.params, false)
			reqs, state := c.inputRequired()
			key := onlyKey(t, reqs)
			in := reqs[key].(obj)
			if in["method"] != tc.method || in["jsonrpc"] != nil || in["id"] != nil {
				t.Errorf("input request %s", js(in))
			}
			if tc.params != "" && tc.params != "{}" {
				if got, want := js(in["params"]), js(decodeObj([]byte(tc.params))); got != want {
					t.Errorf("input request params %s, want %s", got, want)
				}
			}
			if len(h.up.log.all(isResponseTo(raw(`"srv-1"`)))) != 0 {
				t.Fatal("the server request was answered before the client retried")
			}
			rid := c.retry(state, obj{key: decodeObj([]byte(tc.answer))})
			ans := h.upAnswer("srv-1").obj()
			if ans["jsonrpc"] != "2.0" || js(ans["result"]) != js(decodeObj([]byte(tc.answer))) {
				t.Errorf("upstream got %s, want the client's answer %s as result", js(ans), tc.answer)
			}
			c.finish()
			res := h.result(rid)
			if res["resultType"] != "complete" || !strings.Contains(js(res), "done") {
				t.Errorf("final result %s", js(res))
			}
			if get(res, "_meta", metaServerInfo) == nil {
				t.Errorf("final result without serverInfo: %s", js(res))
			}
		})
	}
}

// Test4M6GatherAndSecondRound: two server requests arriving close together
// are gathered into one InputRequiredResult; both answers reach the server
// with its ids; a further server request after the retry is a second
// round with a new requestState; the first state cannot be used again.
func Test4M6GatherAndSecondRound(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.Gather = 200 * time.Millisecond }))
	c := h.start("tools/call", toolCall(meta(capsAll)), "Bearer a")
	c.ask("srv-1", "sampling/createMessage", samplingParams, false)
	c.ask("srv-2", "roots/list", "", false)
	reqs, state1 := c.inputRequired()
	if len(reqs) != 2 {
		t.Fatalf("want both server requests in one InputRequiredResult, got %s", js(reqs))
	}
	responses := obj{}
	for k, v := range reqs {
		switch get(v, "method") {
		case "sampling/createMessage":
			responses[k] = decodeObj([]byte(samplingAnswer))
		case "roots/list":
			responses[k] = decodeObj([]byte(rootsAnswer))
		}
	}
	c.retry(state1, responses)
	if got := js(get(h.upAnswer("srv-1").obj(), "result", "model")); got != `"test-model"` {
		t.Errorf("srv-1 answered with the wrong result")
	}
	if got := js(get(h.upAnswer("srv-2").obj(), "result", "roots", 0, "uri")); got != `"file:///work"` {
		t.Errorf("srv-2 answered with the wrong result")
	}
	// Second round.
	c.ask("srv-3", "elicitation/create", elicitationParams, false)
	reqs2, state2 := c.inputRequired()
	key := onlyKey(t, reqs2)
	if _, reused := reqs[key]; reused {
		t.Errorf("round 2 reuses key %s of round 1", key)
	}
	if state2 == state1 {
		t.Fatal("round 2 reuses the requestState of round 1")
	}
	// The first round's state is used up.
	old := h.newID()
	h.sendReq(req{id: old, method: "tools/call", params: retryParams(c.params, state1, responses), auth: "Bearer a"})
	h.errorOf(old, jsonrpc.CodeInvalidParams)
	rid := c.retry(state2, obj{key: decodeObj([]byte(elicitAnswer))})
	if got := get(h.upAnswer("srv-3").obj(), "result", "action"); got != "accept" {
		t.Errorf("srv-3 answered %v", got)
	}
	c.finish()
	if res := h.result(rid); res["resultType"] != "complete" {
		t.Errorf("final result %s", js(res))
	}
	if n := len(h.up.log.all(isResponseTo(raw(`"srv-1"`)))); n != 1 {
		t.Errorf("srv-1 answered %d times", n)
	}
}

// Test4M6ServerFinishesWhileSuspended: the server answers the call while it
// waits for the client's retry (it did not need the input after all); the
// retry gets that final answer, after the progress held for it (4.M9).
func Test4M6ServerFinishesWhileSuspended(t *testing.T) {
	h := newHarness(t)
	// A listen on the same lane tells when the lane's messages before a
	// list_changed have been handled.
	lid := h.send("subscriptions/listen", obj{"notifications": obj{"toolsListChanged": true}, "_meta": meta(capsAll)}, "Bearer a")
	h.in.wait(t, "the acknowledgement", isMethod(methodAcknowledged))
	c := h.start("tools/call", toolCall(meta(capsAll, "progressToken", "tok-1")), "Bearer a")
	upToken := get(c.up.obj(), "params", "_meta", "progressToken")
	c.ask("srv-1", "elicitation/create", elicitationParams, false)
	reqs, state := c.inputRequired()
	c.up.sess.notify("notifications/progress", fmt.Sprintf(`{"progressToken":%s,"progress":1,"total":2}`, js(upToken)), nil)
	c.finish()
	c.up.sess.notify("notifications/tools/list_changed", `{}`, nil)
	h.in.wait(t, "the list_changed after the final answer", and(isMethod("notifications/tools/list_changed"), func(r rec) bool { return string(r.related) == string(lid) }))
	if n := len(h.in.all(isMethod("notifications/progress"))); n != 0 {
		t.Fatalf("progress of a suspended call delivered with no stream to carry it")
	}
	p := retryParams(c.params, state, obj{onlyKey(t, reqs): decodeObj([]byte(elicitAnswer))})
	p["_meta"] = meta(capsAll, "progressToken", "tok-2")
	rid := h.newID()
	h.sendReq(req{id: rid, method: "tools/call", params: p, auth: "Bearer a"})
	prog := h.in.wait(t, "the held progress", isMethod("notifications/progress"))
	if got := get(prog.obj(), "params", "progressToken"); got != "tok-2" || string(prog.related) != string(rid) {
		t.Errorf("held progress delivered with token %v on %s, want tok-2 on the retry %s", got, prog.related, rid)
	}
	res := h.result(rid)
	if res["resultType"] != "complete" || !strings.Contains(js(res), "done") {
		t.Errorf("final result %s", js(res))
	}
	// The progress came before the result.
	all := h.in.all(func(r rec) bool { return string(r.related) == string(rid) || isResponseTo(rid)(r) })
	if len(all) != 2 || all[0].m.Method != "notifications/progress" {
		t.Errorf("the retry's stream: %s", h.in.dump())
	}
}

// Test4M6UndeclaredCapability: a server request for a capability the
// call's clientCapabilities did not declare is answered for the client
// (elicitation: cancel; roots: empty; sampling: an error) and never shown
// to it; the call goes on.
func Test4M6UndeclaredCapability(t *testing.T) {
	cases := []struct {
		method, params, want string
	}{
		{"elicitation/create", elicitationParams, `"result":{"action":"cancel"}`},
		{"roots/list", "", `"result":{"roots":[]}`},
		{"sampling/createMessage", samplingParams, `"error":{"code":-32603`},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			h := newHarness(t)
			c := h.start("tools/call", toolCall(meta(obj{})), "Bearer a")
			c.ask("srv-1", tc.method, tc.params, false)
			ans := h.upAnswer("srv-1")
			if !strings.Contains(string(ans.m.Raw), tc.want) {
				t.Errorf("upstream got %s, want %s", ans.m.Raw, tc.want)
			}
			c.finish()
			res := h.result(c.id)
			if res["resultType"] != "complete" {
				t.Errorf("the client saw %s", js(res))
			}
		})
	}
}

// Test4M6NotAttributable: a server request during a request that cannot
// ask for input (tools/list), or with two eligible calls in flight and no
// stream to tell them apart, is answered for the client; on the call's own
// stream (Related) it is attributed even with two calls in flight.
func Test4M6NotAttributable(t *testing.T) {
	t.Run("during tools/list", func(t *testing.T) {
		h := newHarness(t, withUpstream(func(u *upstream) {
			u.hook = func(s *upSession, m *jsonrpc.Message) bool {
				if m.Method != "tools/list" {
					return false
				}
				s.request("srv-1", "elicitation/create", elicitationParams, nil)
				s.request("srv-2", "roots/list", "", m.ID)
				return true
			}
		}))
		id := h.send("tools/list", nil, "")
		list := h.upRequest("tools/list")
		if !strings.Contains(string(h.upAnswer("srv-1").m.Raw), `{"action":"cancel"}`) {
			t.Error("srv-1 not answered with cancel")
		}
		if !strings.Contains(string(h.upAnswer("srv-2").m.Raw), `{"roots":[]}`) {
			t.Error("srv-2 not answered with empty roots")
		}
		list.sess.reply(list.m.ID, `{"tools":[]}`)
		if res := h.result(id); res["resultType"] != "complete" {
			t.Errorf("tools/list result %s", js(res))
		}
	})
	t.Run("two calls", func(t *testing.T) {
		h := newHarness(t)
		a := h.start("tools/call", toolCall(meta(capsAll)), "")
		b := h.start("tools/call", toolCall(meta(capsAll)), "")
		if a.up.sess != b.up.sess {
			t.Fatal("the two calls are on different lanes")
		}
		a.ask("srv-1", "elicitation/create", elicitationParams, false)
		if !strings.Contains(string(h.upAnswer("srv-1").m.Raw), `{"action":"cancel"}`) {
			t.Error("the unattributable srv-1 was not answered with cancel")
		}
		// On each call's own stream, each gets its own input request.
		a.ask("srv-a", "elicitation/create", elicitationParams, true)
		b.ask("srv-b", "roots/list", "", true)
		ra, sa := a.inputRequired()
		rb, sb := b.inputRequired()
		ka, kb := onlyKey(t, ra), onlyKey(t, rb)
		if get(ra[ka], "method") != "elicitation/create" || get(rb[kb], "method") != "roots/list" {
			t.Fatalf("input requests crossed: %s, %s", js(ra), js(rb))
		}
		ida := a.retry(sa, obj{ka: decodeObj([]byte(elicitAnswer))})
		idb := b.retry(sb, obj{kb: decodeObj([]byte(rootsAnswer))})
		if get(h.upAnswer("srv-a").obj(), "result", "action") != "accept" {
			t.Error("srv-a not answered with a's answer")
		}
		if get(h.upAnswer("srv-b").obj(), "result", "roots") == nil {
			t.Error("srv-b not answered with b's answer")
		}
		a.finish()
		b.finish()
		h.result(ida)
		h.result(idb)
	})
}

// Test4M6SuspendedCallNotInTheWay: with a suspended call on the lane
// (its client has not retried yet), an unrelated server request goes to
// the one running call; the suspended call resumes normally afterwards.
func Test4M6SuspendedCallNotInTheWay(t *testing.T) {
	h := newHarness(t)
	a := h.start("tools/call", toolCall(meta(capsAll)), "")
	a.ask("srv-a", "elicitation/create", elicitationParams, false)
	ra, sa := a.inputRequired()
	b := h.start("tools/call", toolCall(meta(capsAll)), "")
	if a.up.sess != b.up.sess {
		t.Fatal("the two calls are on different lanes")
	}
	b.ask("srv-b", "roots/list", "", false)
	rb, sb := b.inputRequired()
	ka, kb := onlyKey(t, ra), onlyKey(t, rb)
	if get(ra[ka], "method") != "elicitation/create" || get(rb[kb], "method") != "roots/list" {
		t.Fatalf("input requests crossed: %s, %s", js(ra), js(rb))
	}
	idb := b.retry(sb, obj{kb: decodeObj([]byte(rootsAnswer))})
	if get(h.upAnswer("srv-b").obj(), "result", "roots") == nil {
		t.Error("srv-b not answered with b's answer")
	}
	b.finish()
	h.result(idb)
	ida := a.retry(sa, obj{ka: decodeObj([]byte(elicitAnswer))})
	if get(h.upAnswer("srv-a").obj(), "result", "action") != "accept" {
		t.Error("srv-a not answered with a's answer")
	}
	a.finish()
	h.result(ida)
}

// Test4M6ServerWithdrawsRequest: a legacy server that cancels one of its
// requests before the InputRequiredResult goes out (4.M8, server side)
// withdraws it from the round; a server ping is answered for the client
// (4.M1) without suspending anything.
func Test4M6ServerWithdrawsRequest(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.Gather = 300 * time.Millisecond }))
	c := h.start("tools/call", toolCall(meta(capsAll)), "")
	c.ask("srv-1", "elicitation/create", elicitationParams, false)
	c.ask("srv-2", "roots/list", "", false)
	c.up.sess.notify("notifications/cancelled", `{"requestId":"srv-1","reason":"changed my mind"}`, nil)
	c.ask("srv-ping", "ping", "", false)
	if got := js(get(h.upAnswer("srv-ping").obj(), "result")); got != `{}` {
		t.Errorf("ping answered %s", got)
	}
	reqs, _ := c.inputRequired()
	if get(reqs[onlyKey(t, reqs)], "method") != "roots/list" {
		t.Errorf("input requests %s, want only the roots/list", js(reqs))
	}
}

// Test4M7URLElicitation: a url-mode elicitation loses its elicitationId
// in the input request (the retry correlates through requestState), and
// the answer reaches the server under its request id.
func Test4M7URLElicitation(t *testing.T) {
	h := newHarness(t)
	c := h.start("tools/call", toolCall(meta(obj{"elicitation": obj{"url": obj{}}})), "")
	c.ask("srv-1", "elicitation/create", `{"mode":"url","message":"log in","url":"https://example.com/login","elicitationId":"e-42"}`, false)
	reqs, state := c.inputRequired()
	key := onlyKey(t, reqs)
	if p, _ := get(reqs[key], "params").(obj); p["elicitationId"] != nil || p["url"] != "https://example.com/login" || p["mode"] != "url" {
		t.Errorf("input request %s", js(reqs[key]))
	}
	rid := c.retry(state, obj{key: obj{"action": "accept"}})
	if got := js(get(h.upAnswer("srv-1").obj(), "result")); got != `{"action":"accept"}` {
		t.Errorf("srv-1 answered %s", got)
	}
	c.finish()
	h.result(rid)
}
