package testsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

var legacy = []schemas.Revision{schemas.V20241105, schemas.V20250326, schemas.V20250618, schemas.V20251125}

// sharedValidator returns the validator all tests of the package share
// (compiling the schemas takes a while).
var sharedValidator = sync.OnceValues(schemas.NewValidator)

// TestInteropMatrixInProcess runs the strict fixture client of every legacy
// revision through the broker's relay to the strict demo server of every
// legacy revision (16 pairs), over in-memory connections. Both peers
// validate everything they receive against their own revision, so any
// translation mistake fails the test. TestInteropMatrix runs the same
// scenario over real transports and processes.
func TestInteropMatrixInProcess(t *testing.T) {
	v, err := sharedValidator()
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

// TestInteropMatrix is the interop matrix over real transports and
// processes: the strict fixture client of every legacy revision, over
// Streamable HTTP, legacy HTTP+SSE and stdio, through the real mcpbroker
// binary, to the strict demo server of every legacy revision, over stdio
// and Streamable HTTP: 16 pairs x 3 client transports x 2 server
// transports, each running the whole scenario of runScenario, plus the
// 2024-11-05 server over its own legacy HTTP+SSE transport (12 more).
//
// Server side, per revision R: "stdio" is `mcpbroker serve --upstream-cmd
// "mcpbroker demo-server --revision R"` (a demo child per session);
// "http" is a `mcpbroker demo-server --revision R --listen` process and
// `mcpbroker serve --upstream-url http://ADDR/mcp`; "sse" the same
// process at /sse and `--upstream-sse-url`. Client side: "http"
// and "sse" dial that serve process at /mcp and /sse; "stdio" starts its
// own `mcpbroker serve --stdio` with the same upstream and talks to it on
// its standard input and output. The broker validates server messages
// strictly too.
func TestInteropMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 96 sessions through real processes")
	}
	bin := brokerproc.Build(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range legacy {
		servers := []string{"stdio", "http"}
		if sr == schemas.V20241105 {
			// 2024-11-05's own HTTP transport: the broker is a legacy SSE
			// client upstream while its clients use any transport (1.T1).
			servers = append(servers, "sse")
		}
		for _, server := range servers {
			t.Run(fmt.Sprintf("server-%s-%s", sr, server), func(t *testing.T) {
				t.Parallel()
				demoArgs := "demo-server --revision " + sr.String() + " --slow-timeout 5s"
				upstream := []string{"--upstream-cmd", bin + " " + demoArgs}
				switch server {
				case "http":
					addr := brokerproc.DemoServer(t, bin, sr.String(), "--slow-timeout", "5s")
					upstream = []string{"--upstream-url", "http://" + addr + demo.PathMCP}
				case "sse":
					addr := brokerproc.DemoServer(t, bin, sr.String(), "--slow-timeout", "5s")
					upstream = []string{"--upstream-sse-url", "http://" + addr + demo.PathSSE}
				}
				upstream = append(upstream, "--server-validation", "strict")
				addr := brokerproc.Serve(t, bin, nil, upstream...)
				for _, cr := range legacy {
					for _, client := range []string{"stdio", "http", "sse"} {
						t.Run(fmt.Sprintf("client-%s-%s", cr, client), func(t *testing.T) {
							t.Parallel()
							ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
							t.Cleanup(cancel)
							conn := dialBroker(ctx, t, bin, addr, client, upstream)
							runScenario(ctx, t, newScenarioClient(t, v, cr, conn), sr)
						})
					}
				}
			})
		}
	}
}

// dialBroker connects a client to the broker: over Streamable HTTP
// ("http") or legacy HTTP+SSE ("sse") to the serve process at addr, or
// over stdio ("stdio") to a new `bin serve --stdio upstream...` child,
// which stops when the Conn is closed.
func dialBroker(ctx context.Context, t *testing.T, bin, addr, kind string, upstream []string) transport.Conn {
	t.Helper()
	logger := testLogger(t)
	var conn transport.Conn
	var err error
	switch kind {
	case "http":
		conn, err = transport.DialHTTP(ctx, "http://"+addr+"/mcp", &transport.ClientOptions{Logger: logger})
	case "sse":
		conn, err = transport.DialSSE(ctx, "http://"+addr+"/sse", &transport.ClientOptions{Logger: logger})
	case "stdio":
		argv := append([]string{bin, "serve", "--stdio"}, upstream...)
		conn, err = (&transport.Command{Argv: argv, Logger: logger}).Start(ctx)
	default:
		t.Fatalf("unknown client transport %q", kind)
	}
	if err != nil {
		t.Fatalf("connect over %s: %v", kind, err)
	}
	return conn
}

// testLogger returns a logger that passes records to t.Log in verbose
// mode, and drops them once the test (and its cleanup) is over, when
// goroutines of a closed Conn may still log.
func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter writes lines to t.Log until done.
type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

// Write implements io.Writer.
func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// scenarioTimeout bounds one run of the scenario.
const scenarioTimeout = 60 * time.Second

// runPair runs the scenario in process: the strict fixture client of
// revision cr, the relay, and the strict demo server of revision sr, over
// in-memory pipes.
func runPair(t *testing.T, v *schemas.Validator, cr, sr schemas.Revision) {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
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

	runScenario(ctx, t, newScenarioClient(t, v, cr, clientSide), sr)
}

// newScenarioClient returns the strict fixture client of revision cr on
// conn that runScenario expects. Cleanup closes it.
func newScenarioClient(t *testing.T, v *schemas.Validator, cr schemas.Revision, conn transport.Conn) *fixture.Client {
	t.Helper()
	c, err := fixture.NewClient(cr, conn, fixture.WithValidator(v), fixture.WithLogger(testLogger(t)),
		fixture.WithElicitation("accept", map[string]any{"answer": "yes"}),
		fixture.WithSamplingText("sampled by the client"))
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runScenario runs the interop scenario with c, a client from
// newScenarioClient that has not initialized yet, against a demo server
// of revision sr, whatever lies between them: initialize, tools/list,
// tools/call of each tool, sampling and elicitation round trips, progress,
// resources read, subscribe and updated, prompts/get, completion, logging,
// ping both ways, and cancellation. Both peers validate everything they
// receive against their own revision, so any translation mistake fails
// the test.
func runScenario(ctx context.Context, t *testing.T, c *fixture.Client, sr schemas.Revision) {
	t.Helper()
	cr := c.Revision()
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
	// roots/list round trip, like sampling.
	res = mustTool(t, ctx, c, "roots", map[string]any{})
	if !strings.Contains(res.Text(), "file:///fixture/project") {
		t.Errorf("roots: %q", res.Text())
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
	if _, err := c.CallRaw(ctx, []byte(`{"jsonrpc":"2.0","id":"p-1","method":"tools/call","params":{"name":"progress","arguments":{},"_meta":{"progressToken":"tok-1"}}}`)); err != nil {
		t.Fatalf("progress: %v", err)
	}
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
	// The server got the cancel under its own id: it logs it (the
	// client asked for level info above) and sends no response, which
	// the Unmatched check below would see before the echo's answer.
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/message" && strings.Contains(string(n.Params), demo.CancelledLogPrefix+"tools/call")
	}); err != nil {
		t.Errorf("the server did not report the cancellation: %v", err)
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
