package bridge

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// pending is a suspended call with what its client needs to retry it.
type pending struct {
	*mrtrCall
	key, state string
	serverID   string
	answer     string
}

// suspendElicit starts a tools/call as auth whose server asks for
// elicitation, and waits for the InputRequiredResult.
func (h *harness) suspendElicit(auth, serverID string) *pending {
	h.tb.Helper()
	c := h.start("tools/call", toolCall(meta(capsAll), "arguments", obj{"who": auth}), auth)
	c.ask(serverID, "elicitation/create", elicitationParams, false)
	reqs, state := c.inputRequired()
	return &pending{mrtrCall: c, key: onlyKey(h.tb, reqs), state: state, serverID: serverID, answer: elicitAnswer}
}

// resume retries p correctly and checks it completes with the client's
// answer delivered once.
func (p *pending) resume() {
	h := p.h
	h.tb.Helper()
	rid := p.retry(p.state, obj{p.key: decodeObj([]byte(p.answer))})
	ans := h.upAnswer(p.serverID)
	if get(ans.obj(), "result", "action") != "accept" {
		h.tb.Errorf("%s answered %s, want the client's accept", p.serverID, ans.m.Raw)
	}
	p.finish()
	if res := h.result(rid); res["resultType"] != "complete" {
		h.tb.Errorf("resumed call: %s", js(res))
	}
	if n := len(h.up.log.all(isResponseTo(raw(fmt.Sprintf("%q", p.serverID))))); n != 1 {
		h.tb.Errorf("%s answered %d times", p.serverID, n)
	}
}

// flushLane makes sure everything the bridge sent to auth's lane before
// has reached the upstream: a tools/list sent now arrives after it.
func (h *harness) flushLane(auth string) {
	h.tb.Helper()
	id := h.send("tools/list", nil, auth)
	h.result(id)
}

// badRetry sends a retry of p with the given params as auth and checks it
// is refused with -32602 whose message contains want.
func (h *harness) badRetry(method string, params obj, auth, want string) {
	h.tb.Helper()
	id := h.newID()
	h.sendReq(req{id: id, method: method, params: params, auth: auth})
	e := h.errorOf(id, jsonrpc.CodeInvalidParams)
	if msg, _ := e["message"].(string); !strings.Contains(msg, want) {
		h.tb.Errorf("message %q does not say %q", msg, want)
	}
}

// principalOf is the principal the bridge derives from an Authorization
// header.
func principalOf(auth string) string {
	return transport.PrincipalOf(http.Header{"Authorization": {auth}}, []string{"Authorization"})
}

// Test4M6BadRequestState: retries with a requestState that was tampered
// with, has expired, was used already, belongs to another principal or
// another broker instance, or is not a string, and retries whose params
// differ from the original or lack an inputResponses key, each get -32602
// with a clear message. Nothing the client sent reaches the upstream;
// a state that does not open leaves its call resumable; another
// principal's suspended call is not affected.
func Test4M6BadRequestState(t *testing.T) {
	t.Run("tampered", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.suspendElicit("Bearer alice", "srv-a"), h.suspendElicit("Bearer bob", "srv-b")
		b := []byte(alice.state)
		i := len(b) / 2
		b[i] = map[bool]byte{true: 'A', false: 'B'}[b[i] != 'A']
		h.badRetry("tools/call", retryParams(alice.params, string(b), obj{alice.key: decodeObj([]byte(elicitAnswer))}), "Bearer alice", "not one this broker issued")
		h.badRetry("tools/call", retryParams(alice.params, "not-a-token", obj{alice.key: obj{"action": "decline"}}), "Bearer alice", "not one this broker issued")
		alice.resume() // answered once: by this retry, not the forged ones
		bob.resume()
	})
	t.Run("expired", func(t *testing.T) {
		h := newHarness(t)
		alice := h.suspendElicit("Bearer alice", "srv-a")
		h.clock.Advance(maxAge + time.Second)
		bob := h.suspendElicit("Bearer bob", "srv-b") // sealed after the jump: valid
		h.badRetry("tools/call", retryParams(alice.params, alice.state, obj{alice.key: decodeObj([]byte(elicitAnswer))}), "Bearer alice", "expired")
		h.flushLane("Bearer alice")
		if n := len(h.up.log.all(isResponseTo(raw(`"srv-a"`)))); n != 0 {
			t.Errorf("an expired retry answered the server")
		}
		bob.resume()
	})
	t.Run("replayed", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.suspendElicit("Bearer alice", "srv-a"), h.suspendElicit("Bearer bob", "srv-b")
		rid := alice.retry(alice.state, obj{alice.key: decodeObj([]byte(elicitAnswer))})
		h.upAnswer("srv-a")
		h.badRetry("tools/call", retryParams(alice.params, alice.state, obj{alice.key: obj{"action": "decline"}}), "Bearer alice", "already used")
		h.flushLane("Bearer alice")
		if n := len(h.up.log.all(isResponseTo(raw(`"srv-a"`)))); n != 1 {
			t.Errorf("srv-a answered %d times", n)
		}
		// The call resumed by the first retry is not affected.
		alice.finish()
		if res := h.result(rid); res["resultType"] != "complete" {
			t.Errorf("resumed call: %s", js(res))
		}
		bob.resume()
	})
	t.Run("another principal", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.suspendElicit("Bearer alice", "srv-a"), h.suspendElicit("Bearer bob", "srv-b")
		h.badRetry("tools/call", retryParams(alice.params, alice.state, obj{alice.key: obj{"action": "decline"}}), "Bearer bob", "other credentials")
		h.badRetry("tools/call", retryParams(alice.params, alice.state, obj{alice.key: obj{"action": "decline"}}), "", "other credentials")
		alice.resume()
		bob.resume()
	})
	t.Run("another instance", func(t *testing.T) {
		h := newHarness(t)
		alice := h.suspendElicit("Bearer alice", "srv-a")
		// A replica sharing the keys but not the call.
		st := sealed.State{Instance: "other-replica", Call: "x-1", Method: "tools/call", Keys: []string{alice.key}, Round: 1}
		other, err := h.cfg.Sealer.SealState(principalOf("Bearer alice"), st)
		if err != nil {
			t.Fatal(err)
		}
		h.badRetry("tools/call", retryParams(alice.params, other, obj{alice.key: obj{"action": "decline"}}), "Bearer alice", `"other-replica"`)
		alice.resume()
	})
	t.Run("params differ", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.suspendElicit("Bearer alice", "srv-a"), h.suspendElicit("Bearer bob", "srv-b")
		changed := retryParams(alice.params, alice.state, obj{alice.key: decodeObj([]byte(elicitAnswer))})
		changed["arguments"] = obj{"who": "mallory"}
		h.badRetry("tools/call", changed, "Bearer alice", "params differ")
		alice.expectAbandoned()
		bob.resume()
	})
	t.Run("method differs", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.suspendElicit("Bearer alice", "srv-a"), h.suspendElicit("Bearer bob", "srv-b")
		p := retryParams(obj{"name": "t", "_meta": meta(capsAll)}, alice.state, obj{alice.key: decodeObj([]byte(elicitAnswer))})
		h.badRetry("prompts/get", p, "Bearer alice", "method or params differ")
		alice.expectAbandoned()
		bob.resume()
	})
	t.Run("missing inputResponses key", func(t *testing.T) {
		h := newHarness(t)
		alice, bob := h.suspendElicit("Bearer alice", "srv-a"), h.suspendElicit("Bearer bob", "srv-b")
		h.badRetry("tools/call", retryParams(alice.params, alice.state, obj{"elicitation#9.9": decodeObj([]byte(elicitAnswer))}), "Bearer alice", fmt.Sprintf("lacks %q", alice.key))
		alice.expectAbandoned()
		bob.resume()
	})
	t.Run("requestState not a string", func(t *testing.T) {
		h := newHarness(t, withConfig(func(c *Config) { c.Relay.Validator = nil }))
		alice := h.suspendElicit("Bearer alice", "srv-a")
		h.badRetry("tools/call", retryParams(alice.params, 42, obj{alice.key: obj{"action": "decline"}}), "Bearer alice", "requestState")
		p := toolCall(meta(capsAll), "arguments", obj{"who": "Bearer alice"}, "inputResponses", obj{alice.key: obj{"action": "decline"}})
		h.badRetry("tools/call", p, "Bearer alice", "without requestState")
		alice.resume()
	})
}

// expectAbandoned checks that a call whose retry was refused after its
// state was used up is abandoned upstream: the server's request answered
// for the client (elicitation: cancel, never the client's refused answer)
// and the call cancelled; a later retry finds no call.
func (p *pending) expectAbandoned() {
	h := p.h
	h.tb.Helper()
	ans := h.upAnswer(p.serverID)
	if got := js(get(ans.obj(), "result")); got != `{"action":"cancel"}` {
		h.tb.Errorf("%s answered %s after a refused retry, want the cancel given for the client", p.serverID, ans.m.Raw)
	}
	cancel := h.up.log.wait(h.tb, "the upstream cancel", isMethod("notifications/cancelled"))
	if got := js(get(cancel.obj(), "params", "requestId")); got != string(p.up.m.ID) {
		h.tb.Errorf("cancelled %s, want the call's upstream id %s", got, p.up.m.ID)
	}
	h.flushLane(p.auth)
	if n := len(h.up.log.all(isResponseTo(raw(fmt.Sprintf("%q", p.serverID))))); n != 1 {
		h.tb.Errorf("%s answered %d times", p.serverID, n)
	}
}

// Test4M6ClientNeverRetries: after InputTimeout the server's pending
// requests are answered for the client (elicitation: cancel; sampling:
// an error) and the upstream call gets notifications/cancelled with its
// id; a late retry finds no call.
func Test4M6ClientNeverRetries(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.InputTimeout = 100 * time.Millisecond; c.Gather = 100 * time.Millisecond }))
	c := h.start("tools/call", toolCall(meta(capsAll)), "Bearer a")
	c.ask("srv-1", "elicitation/create", elicitationParams, false)
	c.ask("srv-2", "sampling/createMessage", samplingParams, false)
	reqs, state := c.inputRequired()
	if len(reqs) != 2 {
		t.Fatalf("input requests %s", js(reqs))
	}
	if got := js(get(h.upAnswer("srv-1").obj(), "result")); got != `{"action":"cancel"}` {
		t.Errorf("srv-1 answered %s", got)
	}
	if e := get(h.upAnswer("srv-2").obj(), "error", "code"); fmt.Sprint(e) != "-32603" {
		t.Errorf("srv-2 answered with error code %v", e)
	}
	cancel := h.up.log.wait(t, "the upstream cancel", isMethod("notifications/cancelled"))
	if got := js(get(cancel.obj(), "params", "requestId")); got != string(c.up.m.ID) {
		t.Errorf("cancelled %s, want %s", got, c.up.m.ID)
	}
	responses := obj{}
	for k, v := range reqs {
		responses[k] = decodeObj([]byte(map[bool]string{true: elicitAnswer, false: samplingAnswer}[get(v, "method") == "elicitation/create"]))
	}
	h.badRetry("tools/call", retryParams(c.params, state, responses), "Bearer a", "no suspended request matches")
	// The upstream's late answer goes nowhere.
	c.finish()
	h.flushLane("Bearer a")
	for _, r := range h.in.all(func(r rec) bool { return strings.Contains(string(r.m.Raw), `"done"`) }) {
		t.Errorf("the client got the answer of an abandoned call: %s", r.m.Raw)
	}
}
