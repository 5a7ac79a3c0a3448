package testsuite

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/bridge"
	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// bridgeDemo runs broker/bridge in process in front of demo servers of
// revision sr (one per lane) and counts the initialize requests they got.
type bridgeDemo struct {
	mu        sync.Mutex
	inits     int
	cancelled chan string // the methods of the requests the server saw cancelled
}

func (d *bridgeDemo) initializes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inits
}

// startBridge serves client (a 2026-07-28 client's Conn) with the bridge
// until the test ends.
func startBridge(t *testing.T, client transport.Conn, sr schemas.Revision) *bridgeDemo {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	d := &bridgeDemo{cancelled: make(chan string, 16)}
	srv, err := demo.New(sr, demo.WithValidator(v), demo.WithSlowTimeout(5*time.Second), demo.WithRequestHook(func(ri demo.RequestInfo) {
		if ri.Method == "initialize" {
			d.mu.Lock()
			d.inits++
			d.mu.Unlock()
		}
		if ri.Cancelled {
			d.cancelled <- ri.Method
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	key, err := sealed.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := sealed.New(sealed.Options{Keys: []sealed.Key{key}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var servers sync.WaitGroup
	dial := func(ctx context.Context) (transport.Conn, error) {
		brokerSide, serverSide := fixture.Pipe()
		servers.Add(1)
		go func() {
			defer servers.Done()
			_ = srv.Serve(ctx, serverSide)
		}()
		return brokerSide, nil
	}
	done := make(chan error, 1)
	go func() {
		done <- bridge.Serve(ctx, client, bridge.Config{
			Relay:    relay.Config{Validator: v, ServerValidation: relay.Strict, Logger: testLogger(t)},
			Dial:     dial,
			Sealer:   sealer,
			Instance: t.Name(),
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(scenarioTimeout):
			t.Error("bridge.Serve did not return")
		}
		servers.Wait()
	})
	return d
}

// newBridgeClient is the strict 2026-07-28 fixture client on conn.
func newBridgeClient(t *testing.T, conn transport.Conn, opts ...fixture.Option) *fixture.Client {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]fixture.Option{fixture.WithValidator(v), fixture.WithLogger(testLogger(t)),
		fixture.WithElicitation("accept", map[string]any{"answer": "yes"}),
		fixture.WithSamplingText("sampled by the client"), fixture.WithLogLevel("info")}, opts...)
	c, err := fixture.NewClient(schemas.V20260728, conn, opts...)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestBridgeInProcess runs the 2026-07-28 scenario of
// TestServe2026ClientsToLegacy (discover 4.L2, MRTR sampling, roots and
// elicitation 4.M6, listen 4.M3, log level 4.M2) in process: the strict
// fixture client (over a pipe and over the 2026-07-28 HTTP transport),
// broker/bridge, and the strict demo server of every legacy revision;
// both peers validate what they receive.
func TestBridgeInProcess(t *testing.T) {
	for _, sr := range legacy {
		for _, kind := range []string{"pipe", "http"} {
			t.Run("server-"+sr.String()+"_client-"+kind, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
				t.Cleanup(cancel)
				clientSide, bridgeSide := bridgeConns(ctx, t, kind)
				d := startBridge(t, bridgeSide, sr)
				run2026Scenario(ctx, t, newBridgeClient(t, clientSide), matrixEnv{sr: sr})
				// 4.L1: one pooled session served the whole scenario.
				if n := d.initializes(); n != 1 {
					t.Errorf("%d upstream initializes for one client, want 1", n)
				}
			})
		}
	}
}

// TestBridgeInProcessCapabilityLanes: over the real 2026-07-28 HTTP
// transport, clients with different Authorization headers or different
// capabilities get lanes of their own (4.F7), each initialized with the
// request's capabilities (4.L4): the demo server asks the client that
// declared elicitation, and tells the one that did not that it cannot;
// that client never sees an input request. The same principal with the
// same capabilities shares a lane.
func TestBridgeInProcessCapabilityLanes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	t.Cleanup(cancel)
	hs := transport.NewHTTP2026Server(nil)
	t.Cleanup(func() { hs.Close() })
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	conn, err := hs.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := startBridge(t, conn, schemas.V20251125)
	dial := func(auth string) transport.Conn {
		return fixture.DialHTTP2026(srv.URL, fixture.WithHeaderEdit(func(h http.Header, _ *jsonrpc.Message) {
			h.Set("Authorization", auth)
		}))
	}
	full := newBridgeClient(t, dial("Bearer alice"))
	noElicit := newBridgeClient(t, dial("Bearer alice"), fixture.WithCapabilities(map[string]any{"sampling": map[string]any{}, "roots": map[string]any{}}))
	bob := newBridgeClient(t, dial("Bearer bob"))
	fullAgain := newBridgeClient(t, dial("Bearer alice"))

	if res := mustTool(t, ctx, full, "elicit", map[string]any{"message": "ok?"}); !strings.Contains(res.Text(), "accept") {
		t.Errorf("elicit with elicitation: %q", res.Text())
	}
	if n := len(full.ServerRequests()); n != 1 {
		t.Errorf("the client with elicitation answered %d input requests, want 1", n)
	}
	res, err := noElicit.CallTool(ctx, "elicit", map[string]any{"message": "ok?"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(res.Text(), "does not support elicitation") {
		t.Errorf("elicit without elicitation: %q", res.Text())
	}
	if n := len(noElicit.ServerRequests()); n != 0 {
		t.Errorf("the client without elicitation got %d input requests", n)
	}
	mustTool(t, ctx, bob, "echo", map[string]any{"text": "bob"})
	mustTool(t, ctx, fullAgain, "echo", map[string]any{"text": "again"})
	if n := d.initializes(); n != 3 {
		t.Errorf("%d upstream initializes, want 3 (alice, alice without elicitation, bob)", n)
	}
	for _, c := range []*fixture.Client{full, noElicit, bob, fullAgain} {
		if vs := c.Violations(); len(vs) > 0 {
			t.Errorf("client saw invalid messages: %v", vs)
		}
	}
}

// TestBridgeInProcessCancel: a 2026-07-28 client that cancels a call
// (4.M8) makes the legacy demo server see notifications/cancelled for
// it; the server then sends no response and the lane goes on working.
func TestBridgeInProcessCancel(t *testing.T) {
	for _, sr := range legacy {
		for _, kind := range []string{"pipe", "http"} {
			t.Run("server-"+sr.String()+"_client-"+kind, func(t *testing.T) {
				t.Parallel()
				runBridgeCancel(t, sr, kind)
			})
		}
	}
}

// runBridgeCancel is TestBridgeInProcessCancel with the client on an
// in-memory pipe (it sends notifications/cancelled) or on the 2026-07-28
// HTTP transport (it closes the request's stream, and the server's
// transport synthesizes the cancel).
func runBridgeCancel(t *testing.T, sr schemas.Revision, kind string) {
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	t.Cleanup(cancel)
	clientSide, bridgeSide := bridgeConns(ctx, t, kind)
	d := startBridge(t, bridgeSide, sr)
	c := newBridgeClient(t, clientSide)
	cctx, ccancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(cctx, "tools/call", map[string]any{"name": "slow", "arguments": map[string]any{}, "_meta": map[string]any{"progressToken": "slow-tok"}})
		errc <- err
	}()
	// 4.M9: the progress reaches the client with its own token.
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"slow-tok"`)
	}); err != nil {
		t.Fatalf("slow did not start: %v", err)
	}
	ccancel()
	if err := <-errc; err == nil {
		t.Error("the cancelled call returned a result")
	}
	select {
	case m := <-d.cancelled:
		if m != "tools/call" {
			t.Errorf("the server saw %s cancelled", m)
		}
	case <-ctx.Done():
		t.Fatal("the server never saw the cancel")
	}
	mustTool(t, ctx, c, "echo", map[string]any{"text": "after cancel"})
	if u := c.Unmatched(); len(u) > 0 {
		t.Errorf("client saw unmatched responses: %s", u)
	}
	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("client saw invalid messages: %v", vs)
	}
}

// bridgeConns returns the two ends of a 2026-07-28 client's connection to
// the bridge: an in-memory pipe, or the HTTP transport over httptest.
func bridgeConns(ctx context.Context, t *testing.T, kind string) (client, bridgeSide transport.Conn) {
	t.Helper()
	if kind == "pipe" {
		c, b := fixture.Pipe()
		return c, b
	}
	hs := transport.NewHTTP2026Server(nil)
	t.Cleanup(func() { hs.Close() })
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	conn, err := hs.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return fixture.DialHTTP2026(srv.URL), conn
}
