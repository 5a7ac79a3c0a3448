package testsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

var legacy = []schemas.Revision{schemas.V20241105, schemas.V20250326, schemas.V20250618, schemas.V20251125}

// TestInteropMatrixInProcess runs the strict fixture client of every legacy
// revision through the broker's relay to the strict demo server of every
// legacy revision (16 pairs), over in-memory connections. Both peers
// validate everything they receive against their own revision, so any
// translation mistake fails the test. The transport-level matrix (stdio,
// Streamable HTTP, legacy SSE) comes with the serve command.
func TestInteropMatrixInProcess(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range legacy {
		for _, sr := range legacy {
			t.Run(fmt.Sprintf("client-%s_server-%s", cr, sr), func(t *testing.T) {
				t.Parallel()
				runPair(t, v, cr, sr)
			})
		}
	}
}

func runPair(t *testing.T, v *schemas.Validator, cr, sr schemas.Revision) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)

	srv, err := demo.New(sr, demo.WithValidator(v), demo.WithSlowTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	serverDone := make(chan error, 1)
	dial := func(ctx context.Context) (transport.Conn, error) {
		brokerSide, serverSide := fixture.Pipe()
		go func() { serverDone <- srv.Serve(ctx, serverSide) }()
		return brokerSide, nil
	}
	clientSide, brokerSide := fixture.Pipe()
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(ctx, brokerSide, dial, relay.Config{Validator: v}) }()

	c, err := fixture.NewClient(cr, clientSide, fixture.WithValidator(v),
		fixture.WithElicitation("accept", map[string]any{"answer": "yes"}),
		fixture.WithSamplingText("sampled by the client"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	init, err := c.Initialize(ctx)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if init.ProtocolVersion != cr.String() {
		t.Fatalf("client sees protocolVersion %s, want its own %s (0.2 rule 4)", init.ProtocolVersion, cr)
	}

	var tools struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	mustCall(t, ctx, c, "tools/list", map[string]any{}, &tools)
	if len(tools.Tools) < 5 {
		t.Fatalf("tools/list: %d tools", len(tools.Tools))
	}

	res := mustTool(t, ctx, c, "echo", map[string]any{"text": "hello"})
	if !strings.Contains(res.Text(), "hello") {
		t.Errorf("echo: %q", res.Text())
	}
	res = mustTool(t, ctx, c, "add", map[string]any{"a": 2, "b": 3})
	if !strings.Contains(res.Text(), "5") {
		t.Errorf("add: %q", res.Text())
	}
	// Every content type of the server's revision, mapped into the
	// client's (1.F1 audio, 2.F2 resource_link); the client validates it.
	mustTool(t, ctx, c, "content", map[string]any{})

	// Sampling round trip: server -> broker -> client -> broker -> server.
	res = mustTool(t, ctx, c, "sample", map[string]any{"prompt": "hi"})
	if !strings.Contains(res.Text(), "sampled by the client") {
		t.Errorf("sample: %q", res.Text())
	}
	// Elicitation exists from 2025-06-18 on. Toward an older client the
	// broker never declares it upstream (2.L1 CAP), so a compliant server
	// does not ask: the demo's tool reports that the client cannot.
	if sr >= schemas.V20250618 {
		res, err := c.CallTool(ctx, "elicit", map[string]any{"message": "ok?"})
		switch {
		case err != nil:
			t.Errorf("elicit: %v", err)
		case cr >= schemas.V20250618 && (res.IsError || !strings.Contains(res.Text(), "accept")):
			t.Errorf("elicit: %q, want accept", res.Text())
		case cr < schemas.V20250618 && !(res.IsError && strings.Contains(res.Text(), "elicitation")):
			t.Errorf("elicit toward %s: %q, want the tool to see no elicitation capability", cr, res.Text())
		}
	}

	// Progress notifications reach the client with its own token.
	raw, err := c.CallRaw(ctx, []byte(`{"jsonrpc":"2.0","id":"p-1","method":"tools/call","params":{"name":"progress","arguments":{},"_meta":{"progressToken":"tok-1"}}}`))
	if err != nil {
		t.Fatalf("progress: %v", err)
	}
	_ = raw
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"tok-1"`)
	}); err != nil {
		t.Errorf("no progress notification: %v", err)
	}

	var read struct {
		Contents []json.RawMessage `json:"contents"`
	}
	mustCall(t, ctx, c, "resources/read", map[string]any{"uri": "demo://static/readme"}, &read)
	if len(read.Contents) != 1 {
		t.Errorf("resources/read: %d contents", len(read.Contents))
	}
	mustCall(t, ctx, c, "resources/subscribe", map[string]any{"uri": "demo://static/readme"}, nil)
	mustTool(t, ctx, c, "touch", map[string]any{"uri": "demo://static/readme"})
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/resources/updated"
	}); err != nil {
		t.Errorf("no resources/updated: %v", err)
	}
	var prompt struct {
		Messages []json.RawMessage `json:"messages"`
	}
	mustCall(t, ctx, c, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ada"}}, &prompt)
	if len(prompt.Messages) == 0 {
		t.Error("prompts/get: no messages")
	}
	mustCall(t, ctx, c, "completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/prompt", "name": "greet"}, "argument": map[string]any{"name": "name", "value": "A"}}, nil)
	mustCall(t, ctx, c, "logging/setLevel", map[string]any{"level": "info"}, nil)
	mustTool(t, ctx, c, "echo", map[string]any{"text": "logged"})
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool { return n.Method == "notifications/message" }); err != nil {
		t.Errorf("no log notification: %v", err)
	}
	mustCall(t, ctx, c, "ping", nil, nil)
	mustTool(t, ctx, c, "ping_client", map[string]any{})

	// Cancellation: the client cancels a slow call; the server gets the
	// cancel under its own id and sends no response.
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
	// The session still works after the cancel.
	mustTool(t, ctx, c, "echo", map[string]any{"text": "after cancel"})

	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("client saw invalid messages: %v", vs)
	}
	if u := c.Unmatched(); len(u) > 0 {
		t.Errorf("client saw unmatched responses: %s", u)
	}
}

func mustCall(t *testing.T, ctx context.Context, c *fixture.Client, method string, params any, out any) {
	t.Helper()
	raw, err := c.Call(ctx, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	}
}

func mustTool(t *testing.T, ctx context.Context, c *fixture.Client, name string, args any) *fixture.ToolResult {
	t.Helper()
	res, err := c.CallTool(ctx, name, args)
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("tools/call %s: tool error %q", name, res.Text())
	}
	return res
}
