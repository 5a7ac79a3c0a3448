package testsuite

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// TestServe2026ClientsToLegacy: a 2026-07-28 client (HTTP and stdio)
// through the real binary to the demo server of every legacy revision
// (REVISIONS.md section 4, NC→OS): discovery from a pooled session (4.L2),
// MRTR over the legacy server's sampling, roots and elicitation (4.M6),
// subscriptions/listen over resources/subscribe (4.M3), per-request log
// level (4.M2), progress and cancellation (4.M8, 4.M9).
func TestServe2026ClientsToLegacy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := brokerproc.Build(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range legacy {
		t.Run("server-"+sr.String(), func(t *testing.T) {
			t.Parallel()
			upstream := []string{"--server-validation", "strict", "--upstream-cmd", bin + " demo-server --revision " + sr.String()}
			addr := brokerproc.Serve(t, bin, nil, upstream...)
			for _, kind := range []string{"http", "stdio"} {
				t.Run("client-"+kind, func(t *testing.T) {
					t.Parallel()
					ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
					t.Cleanup(cancel)
					var conn transport.Conn
					if kind == "http" {
						conn = fixture.DialHTTP2026("http://" + addr + demo.PathMCP)
					} else {
						conn = dialBroker(ctx, t, bin, addr, "stdio", upstream)
					}
					c, err := fixture.NewClient(schemas.V20260728, conn, fixture.WithValidator(v), fixture.WithLogger(testLogger(t)),
						fixture.WithElicitation("accept", map[string]any{"answer": "yes"}),
						fixture.WithSamplingText("sampled by the client"), fixture.WithLogLevel("info"))
					if err != nil {
						conn.Close()
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					run2026Scenario(ctx, t, c, sr)
				})
			}
		})
	}
}

// run2026Scenario runs the interop scenario of a 2026-07-28 client against
// a demo server of revision sr behind the broker.
func run2026Scenario(ctx context.Context, t *testing.T, c *fixture.Client, sr schemas.Revision) {
	t.Helper()
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
	mustTool(t, ctx, c, "content", map[string]any{})
	// 4.M6: the legacy server's sampling request suspends the call; the
	// client answers an InputRequiredResult and retries.
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
	}
	var read struct {
		Contents []json.RawMessage `json:"contents"`
	}
	mustCall(t, ctx, c, "resources/read", map[string]any{"uri": "demo://static/readme"}, &read)
	if len(read.Contents) != 1 {
		t.Errorf("resources/read: %d contents", len(read.Contents))
	}
	// 4.M3: subscriptions/listen over resources/subscribe.
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
	// 4.M2: the per-request logLevel became logging/setLevel upstream.
	mustTool(t, ctx, c, "echo", map[string]any{"text": "logged"})
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool { return n.Method == "notifications/message" }); err != nil {
		t.Errorf("no log notification: %v", err)
	}
	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("client saw invalid messages: %v", vs)
	}
	if u := c.Unmatched(); len(u) > 0 {
		t.Errorf("client saw unmatched responses: %s", u)
	}
}
