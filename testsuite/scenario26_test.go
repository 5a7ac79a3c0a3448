package testsuite

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// The scenarios of the matrix pairs that involve 2026-07-28 (REVISIONS.md
// section 4); runScenario is the one between legacy revisions.

// run2026Scenario runs the interop scenario of a 2026-07-28 client from
// newScenarioClient (log level info on every request) against a demo
// server of revision env.sr, of any revision, behind the broker (the
// bridge, broker/bridge): server/discover answered from a pooled legacy
// session, or passed through from a 2026-07-28 server (4.L2); tools,
// content, resources, prompts and completion; MRTR (4.M6) over the
// server's sampling (two rounds), roots, elicitation, and a tool that needs
// sampling and elicitation before it answers; subscriptions/listen
// (4.M3: over resources/subscribe toward a legacy server); the per-request
// log level (4.M2: logging/setLevel upstream toward a legacy server);
// progress (4.M9) and the cancellation of a slow call by closing its
// request (4.M8: cancelCall2026).
func run2026Scenario(ctx context.Context, t *testing.T, c *fixture.Client, env matrixEnv) {
	t.Helper()
	sr := env.sr
	init, err := c.Initialize(ctx)
	if err != nil {
		t.Fatalf("server/discover: %v", err)
	}
	if init.ServerInfo.Name == "" {
		t.Errorf("discover: no serverInfo in _meta: %s", init.Raw)
	}
	var tools struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	mustCall(t, ctx, c, "tools/list", map[string]any{}, &tools)
	if len(tools.Tools) < 5 {
		t.Fatalf("tools/list: %d tools", len(tools.Tools))
	}
	if res := mustTool(t, ctx, c, "echo", map[string]any{"text": "from 2026"}); !strings.Contains(res.Text(), "from 2026") {
		t.Errorf("echo: %q", res.Text())
	}
	if res := mustTool(t, ctx, c, "add", map[string]any{"a": 2, "b": 3}); !strings.Contains(res.Text(), "5") {
		t.Errorf("add: %q", res.Text())
	}
	mustTool(t, ctx, c, "content", map[string]any{})
	// 4.M6: the server's sampling request (a legacy server's, or the
	// inputRequests of a 2026-07-28 server's InputRequiredResult)
	// suspends the call; the client answers an InputRequiredResult and
	// retries, twice.
	if res := mustTool(t, ctx, c, "sample", map[string]any{"prompt": "hi", "rounds": 2}); !strings.Contains(res.Text(), "sampled by the client") {
		t.Errorf("sample: %q", res.Text())
	}
	if res := mustTool(t, ctx, c, "roots", map[string]any{}); !strings.Contains(res.Text(), "file:///fixture/project") {
		t.Errorf("roots: %q", res.Text())
	}
	if sr >= schemas.V20250618 {
		if res := mustTool(t, ctx, c, "elicit", map[string]any{"message": "ok?"}); !strings.Contains(res.Text(), "accept") {
			t.Errorf("elicit: %q", res.Text())
		}
		// A tool that needs sampling and elicitation before it answers:
		// one after the other from a legacy server, both in one
		// InputRequiredResult from a 2026-07-28 one.
		res := mustTool(t, ctx, c, "elicit", map[string]any{"message": "ok?", "sample": true})
		if !strings.Contains(res.Text(), "accept") || !strings.Contains(res.Text(), "sampled by the client") {
			t.Errorf("elicit with sample: %q, want accept and the sampled text", res.Text())
		}
	}
	inputs := 0
	for _, r := range c.ServerRequests() {
		switch r.Method {
		case "sampling/createMessage", "roots/list", "elicitation/create":
			inputs++
		}
	}
	if want := 3 + 3*boolInt(sr >= schemas.V20250618); inputs != want {
		t.Errorf("the client answered %d input requests, want %d (2 sampling rounds, roots; from 2025-06-18 elicitation, and elicitation with sampling)", inputs, want)
	}
	if env.sr == schemas.V20251125 {
		// 4.M7: the legacy URLElicitationRequiredError becomes an
		// InputRequiredResult with a url-mode elicitation; the retry
		// sends the call again.
		if res := mustTool(t, ctx, c, "url_login", map[string]any{}); !strings.Contains(res.Text(), "signed in") {
			t.Errorf("url_login: %q", res.Text())
		}
	}
	var read struct {
		Contents []json.RawMessage `json:"contents"`
	}
	mustCall(t, ctx, c, "resources/read", map[string]any{"uri": "demo://static/readme"}, &read)
	if len(read.Contents) != 1 {
		t.Errorf("resources/read: %d contents", len(read.Contents))
	}
	// 4.M3: subscriptions/listen (over resources/subscribe toward a
	// legacy server).
	sub, err := c.Listen(ctx, fixture.SubscriptionFilter{ResourceSubscriptions: []string{"demo://static/readme"}})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if len(sub.Acknowledged.ResourceSubscriptions) != 1 {
		t.Errorf("acknowledged %+v", sub.Acknowledged)
	}
	mustTool(t, ctx, c, "touch", map[string]any{"uri": "demo://static/readme"})
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/resources/updated"
	}); err != nil {
		t.Errorf("no resources/updated on the listen: %v", err)
	}
	sub.Close()
	mustCall(t, ctx, c, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ada"}}, nil)
	mustCall(t, ctx, c, "completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/prompt", "name": "greet"}, "argument": map[string]any{"name": "name", "value": "A"}}, nil)
	// 4.M2: the per-request logLevel (logging/setLevel upstream toward a
	// legacy server).
	mustTool(t, ctx, c, "echo", map[string]any{"text": "logged"})
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool { return n.Method == "notifications/message" }); err != nil {
		t.Errorf("no log notification: %v", err)
	}
	// 4.M9: progress reaches the client with its own token, on the
	// request's stream.
	if _, err := c.Call(ctx, "tools/call", map[string]any{"name": "progress", "arguments": map[string]any{},
		"_meta": map[string]any{"progressToken": "tok-1"}}); err != nil {
		t.Fatalf("progress: %v", err)
	}
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"tok-1"`)
	}); err != nil {
		t.Errorf("no progress notification: %v", err)
	}
	cancelCall2026(ctx, t, c, env)
	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("client saw invalid messages: %v", vs)
	}
	if u := c.Unmatched(); len(u) > 0 {
		t.Errorf("client saw unmatched responses: %s", u)
	}
}

// cancelCall2026 has a 2026-07-28 client cancel a slow call the way its
// transport does (4.M8): cancelling the call's context closes the
// request's HTTP response stream, or sends notifications/cancelled over
// stdio. The cancel must reach the server: the demo's request hook says so
// in process (env.serverCancelled), and a legacy demo server logs it
// (demo.CancelledLogPrefix). That log message belongs to no request any
// more (the cancelled one has no stream left), so a second slow call with
// the same log level, started first, is the stream it can come on: the
// bridge gives a lane's unrelated log message to the only call on the
// lane that asked for its level. Afterwards the client still works.
func cancelCall2026(ctx context.Context, t *testing.T, c *fixture.Client, env matrixEnv) {
	t.Helper()
	slow := func(cctx context.Context, token string) (<-chan error, error) {
		errc := make(chan error, 1)
		go func() {
			_, err := c.Call(cctx, "tools/call", map[string]any{"name": "slow", "arguments": map[string]any{},
				"_meta": map[string]any{"progressToken": token}})
			errc <- err
		}()
		_, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
			return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"`+token+`"`)
		})
		return errc, err
	}
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	errc, err := slow(cctx, "slow-tok")
	if err != nil {
		t.Fatalf("slow did not start: %v", err)
	}
	witness := !env.sr.Stateless()
	var werrc <-chan error
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	if witness {
		if werrc, err = slow(wctx, "witness-tok"); err != nil {
			t.Fatalf("the second slow call did not start: %v", err)
		}
	}
	ccancel()
	if err := <-errc; err == nil {
		t.Error("cancelled call returned a result")
	}
	// A cancel that got lost fails here, not at the scenario's timeout.
	wait, stop := context.WithTimeout(ctx, cancelWait)
	defer stop()
	if witness {
		if _, err := c.WaitNotification(wait, func(n fixture.Notification) bool {
			return n.Method == "notifications/message" && strings.Contains(string(n.Params), demo.CancelledLogPrefix+"tools/call")
		}); err != nil {
			t.Errorf("the server did not report the cancellation: %v", err)
		}
	}
	if env.serverCancelled != nil {
		if err := env.serverCancelled(wait); err != nil {
			t.Error(err)
		}
	}
	if witness {
		wcancel()
		if err := <-werrc; err == nil {
			t.Error("the second cancelled call returned a result")
		}
	}
	// The client still works after the cancel.
	if res := mustTool(t, ctx, c, "echo", map[string]any{"text": "after cancel"}); !strings.Contains(res.Text(), "after cancel") {
		t.Errorf("echo after cancel: %q", res.Text())
	}
}

// runLegacyTo2026Scenario runs the interop scenario of a legacy client from
// newScenarioClient against the 2026-07-28 demo server behind the broker
// (serve --upstream-revision 2026-07-28): initialize answered from
// server/discover (4.L1, 4.L2), tools, content, resources, prompts and
// completion with per-request _meta, ping and logging/setLevel answered
// by the broker (4.M1, 4.M2), the demo's multi round-trip tools
// (sampling, elicitation, roots, and elicitation with sampling: two input
// requests at once) turned into legacy server-to-client requests and
// retried (4.M6), resources/subscribe emulated with
// subscriptions/listen (4.M3), progress, the cancellation of a slow call
// (notifications/cancelled, which reaches the server as its transport's
// cancel: 4.M8), and for a 2025-11-25 client a task-augmented tools/call
// with multi round-trip sampling inside the task (4.M5; the whole of the
// tasks emulation is Test4M5TasksTo2026's).
func runLegacyTo2026Scenario(ctx context.Context, t *testing.T, c *fixture.Client, env matrixEnv) {
	t.Helper()
	cr := c.Revision()
	init, err := c.Initialize(ctx)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if init.ProtocolVersion != cr.String() {
		t.Fatalf("protocolVersion %s, want %s", init.ProtocolVersion, cr)
	}
	var tools struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	mustCall(t, ctx, c, "tools/list", map[string]any{}, &tools)
	if len(tools.Tools) < 5 {
		t.Fatalf("tools/list: %d tools", len(tools.Tools))
	}
	if res := mustTool(t, ctx, c, "echo", map[string]any{"text": "to 2026"}); !strings.Contains(res.Text(), "to 2026") {
		t.Errorf("echo: %q", res.Text())
	}
	if res := mustTool(t, ctx, c, "add", map[string]any{"a": 2, "b": 3}); !strings.Contains(res.Text(), "5") {
		t.Errorf("add: %q", res.Text())
	}
	mustTool(t, ctx, c, "content", map[string]any{})
	// MRTR: two rounds of sampling, answered by the legacy client.
	if res := mustTool(t, ctx, c, "sample", map[string]any{"prompt": "hi", "rounds": 2}); !strings.Contains(res.Text(), "sampled by the client") {
		t.Errorf("sample: %q", res.Text())
	}
	if res := mustTool(t, ctx, c, "roots", map[string]any{}); !strings.Contains(res.Text(), "file:///fixture/project") {
		t.Errorf("roots: %q", res.Text())
	}
	if cr >= schemas.V20250618 {
		if res := mustTool(t, ctx, c, "elicit", map[string]any{"message": "ok?"}); !strings.Contains(res.Text(), "accept") {
			t.Errorf("elicit: %q", res.Text())
		}
		// Both input requests of one InputRequiredResult become two
		// server requests to the client at once.
		res := mustTool(t, ctx, c, "elicit", map[string]any{"message": "ok?", "sample": true})
		if !strings.Contains(res.Text(), "accept") || !strings.Contains(res.Text(), "sampled by the client") {
			t.Errorf("elicit with sample: %q, want accept and the sampled text", res.Text())
		}
	} else if res, err := c.CallTool(ctx, "elicit", map[string]any{"message": "ok?"}); err == nil && !res.IsError {
		// The client declared no elicitation, so neither does the
		// broker's _meta clientCapabilities: the server must not ask.
		t.Errorf("elicit toward %s: %q, want an error (no elicitation capability)", cr, res.Text())
	}
	mustCall(t, ctx, c, "resources/read", map[string]any{"uri": "demo://static/readme"}, nil)
	// resources/subscribe becomes the broker's subscriptions/listen
	// upstream (4.M3); the server's resources/updated reaches the
	// client without the 2026 subscriptionId.
	mustCall(t, ctx, c, "resources/subscribe", map[string]any{"uri": "demo://static/readme"}, nil)
	mustTool(t, ctx, c, "touch", map[string]any{"uri": "demo://static/readme"})
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/resources/updated"
	}); err != nil {
		t.Errorf("no resources/updated through the listen: %v", err)
	}
	mustCall(t, ctx, c, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ada"}}, nil)
	mustCall(t, ctx, c, "completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/prompt", "name": "greet"}, "argument": map[string]any{"name": "name", "value": "A"}}, nil)
	mustCall(t, ctx, c, "ping", nil, nil)
	mustCall(t, ctx, c, "logging/setLevel", map[string]any{"level": "info"}, nil)
	mustTool(t, ctx, c, "echo", map[string]any{"text": "logged"})
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool { return n.Method == "notifications/message" }); err != nil {
		t.Errorf("no log notification on the request's stream: %v", err)
	}
	// Progress notifications reach the client with its own token.
	if _, err := c.CallRaw(ctx, []byte(`{"jsonrpc":"2.0","id":"p-1","method":"tools/call","params":{"name":"progress","arguments":{},"_meta":{"progressToken":"tok-1"}}}`)); err != nil {
		t.Fatalf("progress: %v", err)
	}
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"tok-1"`)
	}); err != nil {
		t.Errorf("no progress notification: %v", err)
	}
	if cr >= schemas.V20251125 {
		// 4.M5: a task-augmented call, its input requests related to the
		// task.
		id := createTask(ctx, t, c, "sample", map[string]any{"prompt": "as a task", "rounds": 2})
		if res := taskResult(ctx, t, c, id); !strings.Contains(res.Text(), "sampled by the client") {
			t.Errorf("sample task: %q", res.Text())
		}
		if got := getTask(ctx, t, c, id); got.Status != "completed" {
			t.Errorf("sample task status %q, want completed", got.Status)
		}
	}

	// Cancellation: the client cancels a slow call; the 2026-07-28 server
	// sends no log message for it (the request has no stream left), so
	// only the demo's request hook, in process, shows it arrived.
	cctx, ccancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(cctx, []byte(`{"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"progressToken":"slow-tok"}}}`))
		errc <- err
	}()
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"slow-tok"`)
	}); err != nil {
		t.Fatalf("slow did not start: %v", err)
	}
	ccancel()
	if err := <-errc; err == nil {
		t.Error("cancelled call returned a result")
	}
	if env.serverCancelled != nil {
		wait, stop := context.WithTimeout(ctx, cancelWait)
		defer stop()
		if err := env.serverCancelled(wait); err != nil {
			t.Error(err)
		}
	}
	mustTool(t, ctx, c, "echo", map[string]any{"text": "after cancel"})

	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("client saw invalid messages: %v", vs)
	}
	if u := c.Unmatched(); len(u) > 0 {
		t.Errorf("client saw unmatched responses: %s", u)
	}
}

// cancelWait bounds the wait for the server's sign that a cancel reached
// it.
const cancelWait = 10 * time.Second

// boolInt is 1 for true and 0 for false.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
