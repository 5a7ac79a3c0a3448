package bridge

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// relatedTo matches what the bridge sent the client on the stream of the
// request id.
func relatedTo(id json.RawMessage) func(rec) bool {
	return func(r rec) bool { return string(r.related) == string(id) }
}

// Test4M8ClientCancel: notifications/cancelled for a client request (what
// transport.HTTP2026Server synthesizes when the request's stream closes)
// becomes notifications/cancelled upstream with the lane's id; whatever
// the server still sends for the call reaches the client no more.
func Test4M8ClientCancel(t *testing.T) {
	h := newHarness(t)
	c := h.start("tools/call", toolCall(meta(capsAll, "progressToken", "tok")), "Bearer a")
	upToken := js(get(c.up.obj(), "params", "_meta", "progressToken"))
	h.cancelReq(c.id)
	cancel := h.up.log.wait(t, "the upstream cancel", isMethod("notifications/cancelled"))
	if got := js(get(cancel.obj(), "params", "requestId")); got != string(c.up.m.ID) {
		t.Errorf("cancelled %s upstream, want the lane's id %s", got, c.up.m.ID)
	}
	// The server goes on regardless: progress, a log line, the answer.
	c.up.sess.notify("notifications/progress", `{"progressToken":`+upToken+`,"progress":1}`, nil)
	c.finish()
	h.flushLane("Bearer a")
	for _, r := range h.in.all(relatedTo(c.id)) {
		t.Errorf("the client got %s for its cancelled request", r.m.Raw)
	}
	// A cancel for an unknown or finished request is harmless.
	h.cancelReq(c.id)
	h.cancelReq(raw(`"never-sent"`))
	h.sendRaw(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}`)
	h.flushLane("Bearer a")
	if n := len(h.up.log.all(isMethod("notifications/cancelled"))); n != 1 {
		t.Errorf("%d cancels upstream, want 1", n)
	}
}

// Test4M8CancelWhileGathering: a cancel that comes while server requests
// are being gathered for an InputRequiredResult answers them for the
// client before cancelling the call upstream; the client gets nothing.
func Test4M8CancelWhileGathering(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.Gather = waitTimeout }))
	c := h.start("tools/call", toolCall(meta(capsAll, kLevel, "debug")), "Bearer a")
	c.ask("srv-1", "elicitation/create", elicitationParams, true)
	// The lane has handled srv-1 once a later server message reached the
	// client: a log line on the call's stream.
	c.up.sess.notify("notifications/message", `{"level":"error","data":"x"}`, c.up.m.ID)
	h.in.wait(t, "the log line", isMethod("notifications/message"))
	h.cancelReq(c.id)
	if got := js(get(h.upAnswer("srv-1").obj(), "result")); got != `{"action":"cancel"}` {
		t.Errorf("srv-1 answered %s, want cancel", got)
	}
	h.up.log.wait(t, "the upstream cancel", isMethod("notifications/cancelled"))
	h.flushLane("Bearer a")
	for _, r := range h.in.all(isResponseTo(c.id)) {
		t.Errorf("the client got %s for its cancelled request", r.m.Raw)
	}
}

// Test4M8CancelDuringDispatch: a cancel that arrives while its request is
// still being dispatched (the lane's handshake in progress) is honoured:
// the request never reaches the upstream and gets no answer.
func Test4M8CancelDuringDispatch(t *testing.T) {
	hold := make(chan struct{})
	h := newHarness(t, withUpstream(func(u *upstream) { u.holdInit = hold }))
	id := h.send("tools/call", toolCall(meta(capsAll)), "Bearer a")
	h.upRequest("initialize")
	h.cancelReq(id)
	h.barrier() // the cancel was handled
	// The client reuses the id at once (the cancelled request is no
	// longer outstanding for it), while the cancelled one still waits
	// for the lane too.
	h.sendReq(req{id: id, method: "tools/list", params: obj{"_meta": meta(capsAll)}, auth: "Bearer a"})
	h.barrier()
	close(hold)
	if res := h.result(id); res["tools"] == nil {
		t.Errorf("the request that reused the id got %s", js(res))
	}
	h.flushLane("Bearer a")
	if n := len(h.up.log.all(isMethod("tools/call"))); n != 0 {
		t.Errorf("the cancelled request reached the upstream")
	}
	if rs := h.in.all(relatedTo(id)); len(rs) != 1 {
		t.Errorf("the client got %d messages for the id, want the tools/list result only:\n%s", len(rs), h.in.dump())
	}
}

// Test4M8CancelRetry: closing the stream of an MRTR retry cancels the
// resumed call upstream.
func Test4M8CancelRetry(t *testing.T) {
	h := newHarness(t)
	p := h.suspendElicit("Bearer a", "srv-1")
	rid := p.retry(p.state, obj{p.key: decodeObj([]byte(elicitAnswer))})
	h.upAnswer("srv-1")
	h.cancelReq(rid)
	cancel := h.up.log.wait(t, "the upstream cancel", isMethod("notifications/cancelled"))
	if got := js(get(cancel.obj(), "params", "requestId")); got != string(p.up.m.ID) {
		t.Errorf("cancelled %s upstream, want %s", got, p.up.m.ID)
	}
}

// Test4M9ProgressOfSuspendedCall: progress is routed by the bridge's own
// token to the request's stream with the client's token; while the call
// is suspended it is held, and delivered on the retry's stream with the
// retry's progressToken before anything else.
func Test4M9ProgressOfSuspendedCall(t *testing.T) {
	h := newHarness(t)
	c := h.start("tools/call", toolCall(meta(capsAll, "progressToken", "tok-1")), "Bearer a")
	upToken := js(get(c.up.obj(), "params", "_meta", "progressToken"))
	if upToken == `"tok-1"` || upToken == "null" {
		t.Errorf("the client's progressToken went upstream as is: %s", upToken)
	}
	progress := func(n int) {
		c.up.sess.notify("notifications/progress", fmt.Sprintf(`{"progressToken":%s,"progress":%d,"total":9}`, upToken, n), nil)
	}
	progress(1)
	p1 := h.in.wait(t, "progress 1", isMethod("notifications/progress"))
	if get(p1.obj(), "params", "progressToken") != "tok-1" || string(p1.related) != string(c.id) {
		t.Errorf("progress 1: %s on %s", p1.m.Raw, p1.related)
	}
	c.ask("srv-1", "roots/list", "", false)
	reqs, state := c.inputRequired()
	progress(2)
	progress(3)
	p := retryParams(c.params, state, obj{onlyKey(t, reqs): decodeObj([]byte(rootsAnswer))})
	p["_meta"] = meta(capsAll, "progressToken", "tok-2")
	rid := h.newID()
	h.sendReq(req{id: rid, method: "tools/call", params: p, auth: "Bearer a"})
	h.upAnswer("srv-1")
	progress(4)
	c.finish()
	h.result(rid)
	var got []string
	for _, r := range h.in.all(relatedTo(rid)) {
		if r.m.Method == "notifications/progress" {
			o := r.obj()
			got = append(got, fmt.Sprintf("%v@%v", get(o, "params", "progress"), get(o, "params", "progressToken")))
		}
	}
	if strings.Join(got, " ") != "2@tok-2 3@tok-2 4@tok-2" {
		t.Errorf("the retry's stream carried progress %v, want 2, 3 (held) and 4, all with tok-2", got)
	}
}

// Test4M9ProgressTokensDoNotCollide: two requests on one lane that use the
// same progressToken get distinct tokens upstream, and each one's progress
// reaches only its own stream.
func Test4M9ProgressTokensDoNotCollide(t *testing.T) {
	h := newHarness(t)
	a := h.start("tools/call", toolCall(meta(capsAll, "progressToken", "same")), "Bearer a")
	b := h.start("tools/call", toolCall(meta(capsAll, "progressToken", "same")), "Bearer a")
	if a.up.sess != b.up.sess {
		t.Fatal("not on one lane")
	}
	ta, tb := js(get(a.up.obj(), "params", "_meta", "progressToken")), js(get(b.up.obj(), "params", "_meta", "progressToken"))
	if ta == tb {
		t.Fatalf("both calls use upstream token %s", ta)
	}
	a.up.sess.notify("notifications/progress", `{"progressToken":`+tb+`,"progress":1,"message":"for b"}`, nil)
	a.up.sess.notify("notifications/progress", `{"progressToken":`+ta+`,"progress":1,"message":"for a"}`, nil)
	pb := h.in.wait(t, "b's progress", relatedTo(b.id))
	pa := h.in.wait(t, "a's progress", relatedTo(a.id))
	if get(pa.obj(), "params", "message") != "for a" || get(pb.obj(), "params", "message") != "for b" {
		t.Errorf("progress crossed: a got %s, b got %s", pa.m.Raw, pb.m.Raw)
	}
	if get(pa.obj(), "params", "progressToken") != "same" || get(pb.obj(), "params", "progressToken") != "same" {
		t.Errorf("the clients' own token not restored: %s, %s", pa.m.Raw, pb.m.Raw)
	}
}

// Test4M2LogLevel: the per-request logLevel becomes logging/setLevel on
// the lane, sent before the request and once per change; log messages
// reach only a request that asked for their level (on its stream, or the
// only one that asked); a request without logLevel gets none.
func Test4M2LogLevel(t *testing.T) {
	h := newHarness(t)
	info := h.start("tools/call", toolCall(meta(capsAll, kLevel, "info")), "Bearer a")
	setLevels := func() []string {
		var out []string
		for _, r := range h.up.log.all(isRequest("logging/setLevel")) {
			out = append(out, fmt.Sprint(get(r.obj(), "params", "level")))
		}
		return out
	}
	if got := setLevels(); strings.Join(got, ",") != "info" {
		t.Fatalf("setLevel before the call: %v", got)
	}
	// The setLevel came before the call on the lane.
	var order []string
	for _, r := range h.up.log.all(func(r rec) bool { return r.m.Kind == jsonrpc.KindRequest }) {
		order = append(order, r.m.Method)
	}
	if strings.Join(order, " ") != "initialize logging/setLevel tools/call" {
		t.Errorf("upstream order %v", order)
	}
	// Same level: no new setLevel. No logLevel: none either.
	quiet := h.start("tools/call", toolCall(meta(capsAll)), "Bearer a")
	h.start("tools/call", toolCall(meta(capsAll, kLevel, "info")), "Bearer a").finish()
	sess := info.up.sess
	// On each request's own stream: info gets info, quiet gets nothing.
	sess.notify("notifications/message", `{"level":"info","data":"for info"}`, info.up.m.ID)
	sess.notify("notifications/message", `{"level":"info","data":"for quiet"}`, quiet.up.m.ID)
	sess.notify("notifications/message", `{"level":"debug","data":"too low"}`, info.up.m.ID)
	// Unattributed: the only request that asked for info gets it.
	sess.notify("notifications/message", `{"level":"error","data":"sole"}`, nil)
	info.finish()
	quiet.finish()
	h.result(quiet.id)
	h.result(info.id)
	var got []string
	for _, r := range h.in.all(isMethod("notifications/message")) {
		got = append(got, fmt.Sprintf("%v->%s", get(r.obj(), "params", "data"), r.related))
	}
	if want := fmt.Sprintf("for info->%s sole->%s", info.id, info.id); strings.Join(got, " ") != want {
		t.Errorf("log messages %v, want %s", got, want)
	}
	// A change of level is one more setLevel.
	warn := h.start("tools/call", toolCall(meta(capsAll, kLevel, "warning")), "Bearer a")
	h.start("tools/call", toolCall(meta(capsAll, kLevel, "warning")), "Bearer a").finish()
	warn.finish()
	h.result(warn.id)
	if got := setLevels(); strings.Join(got, ",") != "info,warning" {
		t.Errorf("setLevels %v, want info,warning", got)
	}
	// A server without logging gets no setLevel.
	h2 := newHarness(t, withUpstream(func(u *upstream) { u.caps = `{"tools":{}}` }))
	h2.start("tools/call", toolCall(meta(capsAll, kLevel, "debug")), "").finish()
	h2.flushLane("")
	if n := len(h2.up.log.all(isRequest("logging/setLevel"))); n != 0 {
		t.Errorf("setLevel sent to a server without logging")
	}
}

// Test4M2LogLevelAnsweredFirst: a legacy server may handle requests
// concurrently, so the bridge sends a request's call only once the
// setLevel it sent for the request's logLevel is answered; otherwise the
// call's first log messages could follow the old level (4.M2).
func Test4M2LogLevelAnsweredFirst(t *testing.T) {
	hold := make(chan struct{})
	h := newHarness(t, withUpstream(func(u *upstream) { u.holdLevel = hold }))
	id := h.send("tools/call", toolCall(meta(capsAll, kLevel, "debug")), "")
	h.up.log.wait(t, "the setLevel", isRequest("logging/setLevel"))
	// The call waits for the answer: a ping on the same lane overtakes it.
	h.send("ping", nil, "")
	if n := len(h.up.log.all(isRequest("tools/call"))); n != 0 {
		t.Fatalf("tools/call reached the server before its setLevel was answered")
	}
	close(hold)
	up := h.up.log.wait(t, "the upstream tools/call", isRequest("tools/call"))
	up.sess.reply(up.m.ID, finalResults["tools/call"])
	h.result(id)
}

// Test4J1ClientResponseDropped: a JSON-RPC response from a 2026-07-28
// client is dropped and logged; nothing goes upstream.
func Test4J1ClientResponseDropped(t *testing.T) {
	h := newHarness(t)
	h.call("tools/list", nil, "")
	before := len(h.up.log.all(func(rec) bool { return true }))
	h.sendRaw(`{"jsonrpc":"2.0","id":"srv-1","result":{"action":"accept"}}`)
	h.sendRaw(`{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"no"}}`)
	h.barrier()
	h.flushLane("")
	after := h.up.log.all(func(rec) bool { return true })[before:]
	if len(after) != 1 || after[0].m.Method != "tools/list" {
		for _, r := range after {
			t.Errorf("upstream got %s", r.m.Raw)
		}
	}
	if n := strings.Count(h.logs.String(), "4.J1"); n != 2 {
		t.Errorf("%d log lines name 4.J1, want 2:\n%s", n, h.logs.String())
	}
}

// Test4M2MinimumLevelInFlight: the lane's level is the lowest that the
// requests in flight on it asked for (REVISIONS.md 4.M2), so a request
// asking for less does not cut the logs of one asking for more.
func Test4M2MinimumLevelInFlight(t *testing.T) {
	h := newHarness(t)
	setLevels := func() string {
		var out []string
		for _, r := range h.up.log.all(isRequest("logging/setLevel")) {
			out = append(out, fmt.Sprint(get(r.obj(), "params", "level")))
		}
		return strings.Join(out, ",")
	}
	info := h.start("tools/call", toolCall(meta(capsAll, kLevel, "info")), "")
	errs := h.start("tools/call", toolCall(meta(capsAll, kLevel, "error")), "")
	if got := setLevels(); got != "info" {
		t.Errorf("setLevels %s while an info request is in flight, want info only", got)
	}
	// A suspended call still wants its logs (held for the retry).
	info.ask("srv-1", "roots/list", "", true)
	reqs, state := info.inputRequired()
	h.start("tools/call", toolCall(meta(capsAll, kLevel, "warning")), "").finish()
	if got := setLevels(); got != "info" {
		t.Errorf("setLevels %s while a suspended info request waits, want info only", got)
	}
	info.retry(state, obj{onlyKey(t, reqs): decodeObj([]byte(rootsAnswer))})
	h.upAnswer("srv-1")
	info.finish()
	errs.finish()
	h.result(info.id)
	h.result(errs.id)
	h.flushLane("")
	// Alone in flight, a request's own level is set; then a lower one
	// lowers it.
	e := h.start("tools/call", toolCall(meta(capsAll, kLevel, "error")), "")
	h.start("tools/call", toolCall(meta(capsAll, kLevel, "debug")), "").finish()
	e.finish()
	if got := setLevels(); got != "info,error,debug" {
		t.Errorf("setLevels %s, want info,error,debug", got)
	}
}
