package testsuite

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/bridge"
	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

var legacy = []schemas.Revision{schemas.V20241105, schemas.V20250326, schemas.V20250618, schemas.V20251125}

// revisions is every revision the broker translates between, oldest
// first: the four legacy ones and 2026-07-28.
var revisions = []schemas.Revision{schemas.V20241105, schemas.V20250326, schemas.V20250618, schemas.V20251125, schemas.V20260728}

// sharedValidator returns the validator all tests of the package share
// (compiling the schemas takes a while).
var sharedValidator = sync.OnceValues(schemas.NewValidator)

// pairName names the subtest of an ordered (client, server) pair.
func pairName(cr, sr schemas.Revision) string { return cr.String() + "->" + sr.String() }

// clientTransports lists the transports a client of revision cr reaches
// the broker over: Streamable HTTP, legacy HTTP+SSE (the broker serves it
// to clients of any legacy revision) and stdio up to 2025-11-25; the
// stateless Streamable HTTP of 2026-07-28 and stdio for 2026-07-28.
func clientTransports(cr schemas.Revision) []string {
	if cr.Stateless() {
		return []string{"http", "stdio"}
	}
	return []string{"stdio", "http", "sse"}
}

// serverTransports lists the transports the broker reaches a demo server
// of revision sr over: stdio and Streamable HTTP (2026-07-28's stateless
// one for 2026-07-28), and 2024-11-05's own legacy HTTP+SSE.
func serverTransports(sr schemas.Revision) []string {
	if sr == schemas.V20241105 {
		return []string{"stdio", "http", "sse"}
	}
	return []string{"stdio", "http"}
}

// TestInteropMatrixInProcess runs the strict fixture client of every
// revision through the broker to the strict demo server of every revision
// (all 25 ordered pairs), in process: legacy clients through the relay,
// 2026-07-28 clients through the bridge (broker/bridge), over in-memory
// pipes to the client, and to the server over a pipe ("pipe") or over the
// server's Streamable HTTP on loopback ("http"). Both peers and the broker
// validate everything they receive strictly, so any translation mistake
// fails the test. The demo's request hook shows that each cancellation
// reached the server, whatever its revision and transport. runMatrix picks
// the scenario of the pair; TestInteropMatrix runs the same pairs over
// real transports and processes.
func TestInteropMatrixInProcess(t *testing.T) {
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	table := newMatrixTable(t, "in process")
	for _, cr := range revisions {
		for _, sr := range revisions {
			t.Run(pairName(cr, sr), func(t *testing.T) {
				t.Parallel()
				for _, st := range []string{"pipe", "http"} {
					t.Run("pipe-"+st, func(t *testing.T) {
						t.Parallel()
						table.track(t, cr, sr)
						runPair(t, v, cr, sr, st)
					})
				}
			})
		}
	}
}

// TestInteropMatrix is the interop matrix over real transports and
// processes: the strict fixture client of every revision, over each of its
// clientTransports, through the real mcpbroker binary, to the strict demo
// server of every revision over each of its serverTransports: all 25
// ordered pairs, each running the scenario runMatrix picks for it. Subtests
// are named "<client>-><server>/<client transport>-<server transport>".
//
// Server side, per revision R (one `mcpbroker serve` per server
// configuration, shared by all its clients): "stdio" is `mcpbroker serve
// --upstream-cmd "mcpbroker demo-server --revision R"` (a demo child per
// upstream session); "http" is a `mcpbroker demo-server --revision R
// --listen` process and `mcpbroker serve --upstream-url http://ADDR/mcp`;
// "sse" the same process at /sse and `--upstream-sse-url` (2024-11-05).
// For 2026-07-28 serve gets --upstream-revision 2026-07-28. Client side:
// "http" and "sse" dial the serve process at /mcp and /sse (a 2026-07-28
// client POSTs to /mcp with MCP-Protocol-Version 2026-07-28, which serve
// routes to the bridge); "stdio" starts its own `mcpbroker serve --stdio`
// with the same upstream and talks to it on its standard input and
// output. The broker validates server messages strictly too.
func TestInteropMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs 154 sessions through real processes")
	}
	bin := buildBinary(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	table := newMatrixTable(t, "real processes")
	type server struct {
		upstream []string
		addr     string
	}
	servers := map[string]server{}
	for _, sr := range revisions {
		for _, st := range serverTransports(sr) {
			upstream := matrixUpstream(t, bin, sr, st)
			servers[sr.String()+"/"+st] = server{upstream, brokerproc.Serve(t, bin, nil, upstream...)}
		}
	}
	for _, cr := range revisions {
		for _, sr := range revisions {
			t.Run(pairName(cr, sr), func(t *testing.T) {
				t.Parallel()
				for _, ct := range clientTransports(cr) {
					for _, st := range serverTransports(sr) {
						t.Run(ct+"-"+st, func(t *testing.T) {
							t.Parallel()
							table.track(t, cr, sr)
							ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
							t.Cleanup(cancel)
							s := servers[sr.String()+"/"+st]
							conn := dialClient(ctx, t, bin, s.addr, ct, cr, s.upstream)
							runMatrix(ctx, t, newScenarioClient(t, v, cr, conn), matrixEnv{sr: sr})
						})
					}
				}
			})
		}
	}
}

// matrixUpstream starts what the broker reaches a demo server of revision
// sr over st through (a demo-server process for "http" and "sse") and
// returns serve's upstream flags.
func matrixUpstream(t *testing.T, bin string, sr schemas.Revision, st string) []string {
	t.Helper()
	var upstream []string
	switch st {
	case "stdio":
		upstream = []string{"--upstream-cmd", bin + " demo-server --revision " + sr.String() + " --slow-timeout 5s"}
	case "http":
		addr := brokerproc.DemoServer(t, bin, sr.String(), "--slow-timeout", "5s")
		upstream = []string{"--upstream-url", "http://" + addr + demo.PathMCP}
	case "sse":
		addr := brokerproc.DemoServer(t, bin, sr.String(), "--slow-timeout", "5s")
		upstream = []string{"--upstream-sse-url", "http://" + addr + demo.PathSSE}
	default:
		t.Fatalf("unknown server transport %q", st)
	}
	if sr.Stateless() {
		upstream = append(upstream, "--upstream-revision", sr.String())
	}
	return append(upstream, "--server-validation", "strict")
}

// dialClient connects a client of revision cr to the broker as
// dialBroker does; a 2026-07-28 client's "http" is the stateless
// Streamable HTTP of 2026-07-28 (fixture.DialHTTP2026) to the serve
// process's /mcp.
func dialClient(ctx context.Context, t *testing.T, bin, addr, kind string, cr schemas.Revision, upstream []string) transport.Conn {
	t.Helper()
	if cr.Stateless() && kind == "http" {
		return fixture.DialHTTP2026("http://" + addr + demo.PathMCP)
	}
	return dialBroker(ctx, t, bin, addr, kind, upstream)
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

// runPair runs the pair's scenario in process: the strict fixture client
// of revision cr on an in-memory pipe to the broker (the relay, or the
// bridge for a 2026-07-28 client), and the strict demo server of revision
// sr behind it over a pipe ("pipe") or its Streamable HTTP on loopback
// ("http"). The demo's request hook reports the requests the client
// cancelled.
func runPair(t *testing.T, v *schemas.Validator, cr, sr schemas.Revision, st string) {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	t.Cleanup(cancel)
	logger := testLogger(t)
	cancelled := make(chan string, 16)
	opts := []demo.Option{demo.WithValidator(v), demo.WithSlowTimeout(5 * time.Second), demo.WithLogger(logger),
		demo.WithRequestHook(func(ri demo.RequestInfo) {
			if ri.Cancelled {
				select {
				case cancelled <- ri.Method:
				default:
				}
			}
		})}
	var dial func(context.Context) (transport.Conn, error)
	switch st {
	case "pipe":
		srv, err := demo.New(sr, opts...)
		if err != nil {
			t.Fatal(err)
		}
		dial = func(ctx context.Context) (transport.Conn, error) {
			brokerSide, serverSide := fixture.Pipe()
			go func() { _ = srv.Serve(ctx, serverSide) }()
			return brokerSide, nil
		}
	case "http":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- demo.ServeHTTP(sctx, sr, ln, opts...) }()
		t.Cleanup(func() {
			stop()
			if err := <-served; err != nil {
				t.Errorf("demo server: %v", err)
			}
		})
		url := "http://" + ln.Addr().String() + demo.PathMCP
		dial = func(ctx context.Context) (transport.Conn, error) {
			if sr.Stateless() {
				return transport.DialHTTP2026(ctx, url, &transport.ClientOptions{Logger: logger})
			}
			return transport.DialHTTP(ctx, url, &transport.ClientOptions{Logger: logger})
		}
	default:
		t.Fatalf("unknown server transport %q", st)
	}

	rcfg := relay.Config{Validator: v, ServerValidation: relay.Strict, Logger: logger}
	if sr.Stateless() {
		rcfg.UpstreamRevision = sr // as serve --upstream-revision 2026-07-28
	}
	clientSide, brokerSide := fixture.Pipe()
	brokerDone := make(chan error, 1)
	if cr.Stateless() {
		key, err := sealed.NewRandomKey()
		if err != nil {
			t.Fatal(err)
		}
		sealer, err := sealed.New(sealed.Options{Keys: []sealed.Key{key}})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			brokerDone <- bridge.Serve(ctx, brokerSide, bridge.Config{Relay: rcfg, Dial: dial, Sealer: sealer, Instance: "matrix"})
		}()
	} else {
		go func() { brokerDone <- relay.Run(ctx, brokerSide, dial, rcfg) }()
	}
	t.Cleanup(func() {
		cancel()
		<-brokerDone
	})
	runMatrix(ctx, t, newScenarioClient(t, v, cr, clientSide), matrixEnv{sr: sr, serverCancelled: func(ctx context.Context) error {
		// Other cancellations (a closed subscriptions/listen) may come
		// first.
		for {
			select {
			case m := <-cancelled:
				if m == "tools/call" {
					return nil
				}
			case <-ctx.Done():
				return fmt.Errorf("the server never saw the tools/call cancelled: %w", ctx.Err())
			}
		}
	}})
}

// newScenarioClient returns the strict fixture client of revision cr on
// conn that the scenarios expect: it answers sampling, elicitation and
// roots, and a 2026-07-28 client asks for log messages of level info on
// every request (its _meta logLevel). Cleanup closes it.
func newScenarioClient(t *testing.T, v *schemas.Validator, cr schemas.Revision, conn transport.Conn) *fixture.Client {
	t.Helper()
	opts := []fixture.Option{fixture.WithValidator(v), fixture.WithLogger(testLogger(t)),
		fixture.WithElicitation("accept", map[string]any{"answer": "yes"}),
		fixture.WithSamplingText("sampled by the client")}
	if cr.Stateless() {
		opts = append(opts, fixture.WithLogLevel("info"))
	}
	c, err := fixture.NewClient(cr, conn, opts...)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// matrixEnv is what the scenario of a pair needs besides the client.
type matrixEnv struct {
	// sr is the demo server's revision.
	sr schemas.Revision
	// serverCancelled, when set, waits until the demo server saw the
	// client's cancellation of a tools/call (in process, from the demo's
	// request hook).
	serverCancelled func(context.Context) error
}

// runMatrix runs the scenario of the pair (c's revision, env.sr) with c, a
// client from newScenarioClient that has not initialized yet:
// runScenario between legacy revisions, runLegacyTo2026Scenario from a
// legacy client to a 2026-07-28 server, and run2026Scenario from a
// 2026-07-28 client to a server of any revision.
func runMatrix(ctx context.Context, t *testing.T, c *fixture.Client, env matrixEnv) {
	t.Helper()
	switch {
	case c.Revision().Stateless():
		run2026Scenario(ctx, t, c, env)
	case env.sr.Stateless():
		runLegacyTo2026Scenario(ctx, t, c, env)
	default:
		runScenario(ctx, t, c, env.sr)
		if env.serverCancelled != nil {
			wait, stop := context.WithTimeout(ctx, cancelWait)
			defer stop()
			if err := env.serverCancelled(wait); err != nil {
				t.Error(err)
			}
		}
	}
}

// matrixTable collects the outcome of every run of a matrix test, by
// ordered (client, server) pair, and logs it as a table when the test
// ends.
type matrixTable struct {
	mu   sync.Mutex
	runs map[[2]schemas.Revision][2]int // passed, failed
}

// newMatrixTable returns a table whose outcomes t logs at its end.
func newMatrixTable(t *testing.T, title string) *matrixTable {
	m := &matrixTable{runs: map[[2]schemas.Revision][2]int{}}
	t.Cleanup(func() { t.Log(m.String(title)) })
	return m
}

// track records the outcome of t, a run of the pair (cr, sr), when t
// ends.
func (m *matrixTable) track(t *testing.T, cr, sr schemas.Revision) {
	t.Cleanup(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		r := m.runs[[2]schemas.Revision{cr, sr}]
		if t.Failed() {
			r[1]++
		} else if !t.Skipped() {
			r[0]++
		}
		m.runs[[2]schemas.Revision{cr, sr}] = r
	})
}

// String formats the table: a row per client revision, a column per
// server revision, each cell "ok" or "FAIL" with the runs that passed out
// of those that ran, and a summary line.
func (m *matrixTable) String(title string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "interop matrix (%s), client (rows) -> server (columns):\n%-12s", title, "")
	for _, sr := range revisions {
		fmt.Fprintf(&b, " %-12s", sr)
	}
	pass, fail, none := 0, 0, 0
	for _, cr := range revisions {
		fmt.Fprintf(&b, "\n%-12s", cr)
		for _, sr := range revisions {
			r := m.runs[[2]schemas.Revision{cr, sr}]
			cell := "-"
			switch {
			case r[0]+r[1] == 0:
				none++
			case r[1] > 0:
				fail++
				cell = fmt.Sprintf("FAIL %d/%d", r[0], r[0]+r[1])
			default:
				pass++
				cell = fmt.Sprintf("ok %d/%d", r[0], r[0]+r[1])
			}
			fmt.Fprintf(&b, " %-12s", cell)
		}
	}
	fmt.Fprintf(&b, "\nof %d pairs: ok %d, FAIL %d, not run %d", len(revisions)*len(revisions), pass, fail, none)
	return b.String()
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
		if cr >= schemas.V20250618 {
			// A tool that needs sampling and elicitation before it
			// answers.
			res := mustTool(t, ctx, c, "elicit", map[string]any{"message": "ok?", "sample": true})
			if !strings.Contains(res.Text(), "accept") || !strings.Contains(res.Text(), "sampled by the client") {
				t.Errorf("elicit with sample: %q, want accept and the sampled text", res.Text())
			}
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
