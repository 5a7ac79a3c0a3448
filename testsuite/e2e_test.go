package testsuite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// TestServeEndToEnd runs `mcpbroker serve` with no upstream flag: it
// fronts the built-in 2024-11-05 demo server, which is what the README's
// run command serves. Strict fixture clients of the oldest and newest
// revision reach it over legacy HTTP+SSE and Streamable HTTP. Every
// upstream flag and transport is covered by TestInteropMatrix.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	addr := brokerproc.Serve(t, bin, nil)
	for _, tc := range []struct {
		rev  schemas.Revision
		kind string
	}{
		{schemas.V20241105, "sse"},
		{schemas.V20251125, "http"},
	} {
		t.Run(fmt.Sprintf("client-%s-%s", tc.rev, tc.kind), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			defer cancel()
			conn := dialBroker(ctx, t, bin, addr, tc.kind, nil)
			shortSession(ctx, t, tc.rev, conn)
		})
	}
}

// TestDemoServerListen runs `mcpbroker demo-server --listen` of every
// legacy revision as a real process and holds a short session with a
// strict fixture client of the same revision over Streamable HTTP, and
// for 2024-11-05 over legacy HTTP+SSE too. The process must exit with
// status 0 on interrupt (brokerproc checks).
func TestDemoServerListen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, rev := range legacy {
		t.Run(rev.String(), func(t *testing.T) {
			t.Parallel()
			addr := brokerproc.DemoServer(t, bin, rev.String())
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			defer cancel()
			conn, err := transport.DialHTTP(ctx, "http://"+addr+demo.PathMCP, &transport.ClientOptions{Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			shortSession(ctx, t, rev, conn)
			if rev == schemas.V20241105 {
				conn, err := transport.DialSSE(ctx, "http://"+addr+demo.PathSSE, &transport.ClientOptions{Logger: testLogger(t)})
				if err != nil {
					t.Fatal(err)
				}
				shortSession(ctx, t, rev, conn)
			}
		})
	}
}

// shortSession holds a short session with a strict fixture client of
// revision rev on conn: initialize, a tool call, a server request
// (sampling) inside a tool call, a resource, a prompt and ping.
func shortSession(ctx context.Context, t *testing.T, rev schemas.Revision, conn transport.Conn) {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	c, err := fixture.NewClient(rev, conn, fixture.WithValidator(v), fixture.WithLogger(testLogger(t)), fixture.WithSamplingText("from the client"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	init, err := c.Initialize(ctx)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if init.ProtocolVersion != rev.String() {
		t.Fatalf("protocolVersion %s, want %s", init.ProtocolVersion, rev)
	}
	if res := mustTool(t, ctx, c, "echo", map[string]any{"text": "over the wire"}); !strings.Contains(res.Text(), "over the wire") {
		t.Errorf("echo: %q", res.Text())
	}
	if res := mustTool(t, ctx, c, "sample", map[string]any{"prompt": "x"}); !strings.Contains(res.Text(), "from the client") {
		t.Errorf("sample: %q", res.Text())
	}
	mustCall(t, ctx, c, "resources/read", map[string]any{"uri": "demo://static/readme"}, nil)
	mustCall(t, ctx, c, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ada"}}, nil)
	mustCall(t, ctx, c, "ping", nil, nil)
	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("client saw invalid messages: %v", vs)
	}
	if u := c.Unmatched(); len(u) > 0 {
		t.Errorf("client saw unmatched responses: %s", u)
	}
}

// TestServeSharedUpstream runs `mcpbroker serve --upstream-mode shared`:
// one demo child serves every client session, with ids and progress
// tokens remapped. A client over Streamable HTTP runs the whole scenario,
// then, while it stays connected, a client over legacy SSE runs it too
// (its initialize answered from the shared session's cached result), and
// the first works again afterwards. The clients share
// a revision: in shared mode the server sees the first client's
// capabilities (broker/upstream's package documentation).
func TestServeSharedUpstream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	sr := schemas.V20250618
	upstream := []string{"--upstream-mode", "shared", "--upstream-cmd", bin + " demo-server --revision " + sr.String() + " --slow-timeout 5s"}
	addr := brokerproc.Serve(t, bin, nil, upstream...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*scenarioTimeout)
	t.Cleanup(cancel)
	first := newScenarioClient(t, v, schemas.V20251125, dialBroker(ctx, t, bin, addr, "http", upstream))
	second := newScenarioClient(t, v, schemas.V20251125, dialBroker(ctx, t, bin, addr, "sse", upstream))
	t.Run("first", func(t *testing.T) { runScenario(ctx, t, first, sr) })
	t.Run("second", func(t *testing.T) { runScenario(ctx, t, second, sr) })
	t.Run("first-again", func(t *testing.T) {
		res := mustTool(t, ctx, first, "echo", map[string]any{"text": "still here"})
		if !strings.Contains(res.Text(), "still here") {
			t.Errorf("echo: %q", res.Text())
		}
	})
}

// TestServeUnsolicitedOverHTTP: behind `serve --upstream-url`, a
// notification the server sends unrelated to any request (on its
// standalone GET stream) reaches a Streamable HTTP client that listens
// (its own GET stream): the broker opens its upstream GET stream when the
// client opens its own (transport.ClientOptions.LazyGET), through the
// upstream pool.
func TestServeUnsolicitedOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"per-session", "shared"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			sr := schemas.V20251125
			demoAddr := brokerproc.DemoServer(t, bin, sr.String())
			upstream := []string{"--upstream-mode", mode, "--upstream-url", "http://" + demoAddr + demo.PathMCP}
			addr := brokerproc.Serve(t, bin, nil, upstream...)
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			t.Cleanup(cancel)
			c := newScenarioClient(t, v, schemas.V20250618, dialBroker(ctx, t, bin, addr, "http", upstream))
			if _, err := c.Initialize(ctx); err != nil {
				t.Fatal(err)
			}
			mustCall(t, ctx, c, "resources/subscribe", map[string]any{"uri": "demo://static/readme"}, nil)
			mustTool(t, ctx, c, "touch", map[string]any{"uri": "demo://static/readme", "later": true})
			if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
				return n.Method == "notifications/resources/updated"
			}); err != nil {
				t.Fatalf("no unsolicited resources/updated: %v", err)
			}
		})
	}
}

// TestServeLegacyClientsTo2026 runs the legacy -> 2026-07-28 column of
// TestInteropMatrix over one transport pair each: `mcpbroker serve
// --upstream-revision 2026-07-28` in front of the strict 2026-07-28 demo
// server (a stdio child, or over the stateless Streamable HTTP of 2026),
// strict fixture clients of every legacy revision over Streamable HTTP,
// runLegacyTo2026Scenario. It is a subset of the matrix, kept because the
// coverage table of the translators (translators/step45.go, checked by
// TestCoverageTestsExist) names it for rows 4.L1, 4.L2, 4.M1, 4.M2, 4.M3,
// 4.M6 and 4.M10; it can go once those rows name TestInteropMatrix.
func TestServeLegacyClientsTo2026(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{"stdio", "http"} {
		t.Run("server-"+server, func(t *testing.T) {
			t.Parallel()
			legacyClientsTo2026(t, bin, v, matrixUpstream(t, bin, schemas.V20260728, server))
		})
	}
}

// legacyClientsTo2026 runs the legacy-to-2026 scenario for a client of
// every legacy revision, over Streamable HTTP, through a broker with
// upstream (a 2026-07-28 server).
func legacyClientsTo2026(t *testing.T, bin string, v *schemas.Validator, upstream []string) {
	t.Helper()
	addr := brokerproc.Serve(t, bin, nil, upstream...)
	for _, cr := range legacy {
		t.Run("client-"+cr.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			t.Cleanup(cancel)
			c := newScenarioClient(t, v, cr, dialBroker(ctx, t, bin, addr, "http", upstream))
			runLegacyTo2026Scenario(ctx, t, c, matrixEnv{sr: schemas.V20260728})
		})
	}
}
