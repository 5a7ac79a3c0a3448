package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// wantRPCError checks that err is a JSON-RPC error response with one of
// codes.
func wantRPCError(t *testing.T, err error, codes ...int) *jsonrpc.Error {
	t.Helper()
	je, ok := errors.AsType[*jsonrpc.Error](err)
	if !ok {
		t.Fatalf("got %v (%T), want a JSON-RPC error with code in %v", err, err, codes)
	}
	for _, c := range codes {
		if je.Code == c {
			return je
		}
	}
	t.Fatalf("JSON-RPC error code %d (%q), want one of %v", je.Code, je.Message, codes)
	return nil
}

// TestUpstreamCrashMidCall: the upstream child of one session exits while
// a tools/call is pending. The pending request gets a JSON-RPC error
// (-32603 "upstream closed"), the session opened before on another child is
// unaffected, the victim's next request restarts its child, and a new
// session (a new child) works.
func TestUpstreamCrashMidCall(t *testing.T) {
	t.Parallel()
	b := fakeBroker(t)
	other := client(t, b)
	mustEcho(t, other, "concurrent session")
	victim := client(t, b)
	mustEcho(t, victim, "victim before crash")

	_, err := victim.CallTool(testCtx(t), "crash", map[string]any{})
	je := wantRPCError(t, err, jsonrpc.CodeInternalError)
	t.Logf("pending call got: %d %q", je.Code, je.Message)

	// The victim's session goes on: its next request restarts the child
	// (a new process, initialized again with the client's original
	// parameters, REVISIONS.md 1.T2) and is answered.
	mustEcho(t, victim, "victim after crash")
	stillServing(t, b, other)
}

// TestUpstreamHang: the upstream never answers a tools/call; with
// --request-timeout 1s the client gets -32001 within bounded time, and the
// session itself, a concurrent session and new sessions keep working.
func TestUpstreamHang(t *testing.T) {
	t.Parallel()
	b := fakeBroker(t, "--request-timeout", "1s")
	other := client(t, b)
	victim := client(t, b)

	start := time.Now()
	_, err := victim.CallTool(testCtx(t), "hang", map[string]any{})
	wantRPCError(t, err, relay.CodeRequestTimeout)
	if d := time.Since(start); d < 900*time.Millisecond || d > 10*time.Second {
		t.Errorf("timeout error after %v, want about 1s", d)
	}
	mustEcho(t, victim, "victim after timeout")
	stillServing(t, b, other)
}

// startSlow POSTs a tools/call of the demo's slow tool with a
// progressToken on a raw session and returns the open response once the
// tool has reported that it is waiting (its progress 0 notification has
// arrived on the SSE stream): the call is then in flight at the upstream.
func startSlow(t *testing.T, ctx context.Context, b *broker, sid, id string) (*http.Response, *bufio.Reader) {
	t.Helper()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"progressToken":%q}}}`, id, "tok-"+id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.mcpURL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(transport.HeaderSessionID, sid)
	req.Header.Set(transport.HeaderProtocolVersion, rawProtocolVersion)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST slow: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("POST slow: status %d, Content-Type %q, body %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			resp.Body.Close()
			t.Fatalf("slow stream ended before its progress notification: %v", err)
		}
		if strings.HasPrefix(line, "data:") && strings.Contains(line, "notifications/progress") {
			return resp, br
		}
	}
}

// TestClientDisconnectMidStream: a client drops its HTTP request while the
// slow tool's SSE stream is open. The broker keeps serving: the same
// session, a concurrent session and new sessions work.
func TestClientDisconnectMidStream(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	other := client(t, b)
	sid := rawSession(t, b)

	ctx, cancel := context.WithCancel(testCtx(t))
	resp, _ := startSlow(t, ctx, b, sid, "slow-1")
	cancel() // drop the connection mid-stream
	resp.Body.Close()

	rawEcho(t, b, sid)
	stillServing(t, b, other)
	// A second slow call on the same session works up to its progress
	// too: the dropped stream left nothing stuck behind. (The first call
	// is still pending upstream: a disconnect is not a cancellation, so
	// its id may not be reused yet.)
	ctx2, cancel2 := context.WithCancel(testCtx(t))
	defer cancel2()
	resp2, _ := startSlow(t, ctx2, b, sid, "slow-2")
	cancel2()
	resp2.Body.Close()
	rawEcho(t, b, sid)
}

// TestShutdownWithCallInFlight signals the broker (SIGTERM, and os.Interrupt)
// while a slow call is in flight, with --shutdown-timeout 2s: the process
// exits with status 0 within the drain timeout plus a margin, and the
// in-flight stream ends.
func TestShutdownWithCallInFlight(t *testing.T) {
	t.Parallel()
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(fmt.Sprint(sig), func(t *testing.T) {
			t.Parallel()
			b := startBroker(t, nil, "--shutdown-timeout", "2s")
			sid := rawSession(t, b)
			resp, br := startSlow(t, testCtx(t), b, sid, "slow-1")
			defer resp.Body.Close()
			streamDone := make(chan error, 1)
			var rest []byte
			go func() {
				var err error
				rest, err = io.ReadAll(br)
				streamDone <- err
			}()

			start := time.Now()
			if err := b.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			const bound = 2*time.Second + 5*time.Second
			select {
			case <-b.exited:
			case <-time.After(bound):
				t.Fatalf("broker still running %v after %v", bound, sig)
			}
			elapsed := time.Since(start)
			t.Logf("exited %v after %v: %v", elapsed, sig, b.err)
			if b.err != nil {
				t.Errorf("exit: %v, want status 0", b.err)
			}
			select {
			case err := <-streamDone:
				t.Logf("in-flight stream ended: %v: %q", err, rest)
				// The request still in flight after the drain timeout was
				// answered with an error, not dropped.
				if !strings.Contains(string(rest), `"id":"slow-1"`) || !strings.Contains(string(rest), "shutting down") {
					t.Errorf("in-flight request not answered with a shutdown error: %q", rest)
				}
			case <-time.After(5 * time.Second):
				t.Error("in-flight stream still open after the broker exited")
			}
			if elapsed < 2*time.Second {
				t.Errorf("exited after %v, before the drain timeout with a call in flight", elapsed)
			}
			// Nothing listens any more.
			c := &http.Client{Timeout: 2 * time.Second}
			if r, err := c.Get("http://" + b.addr + "/healthz"); err == nil {
				r.Body.Close()
				t.Errorf("broker still answers after exit: %d", r.StatusCode)
			}
		})
	}
}

// TestUpstreamCrashWithSeveralPending: the upstream exits while two calls
// of the session are pending (one it never answers, one that crashes it);
// both get a JSON-RPC error rather than hanging, and other sessions are
// unaffected.
func TestUpstreamCrashWithSeveralPending(t *testing.T) {
	t.Parallel()
	b := fakeBroker(t)
	other := client(t, b)
	victim := client(t, b)

	ctx := testCtx(t)
	hung := make(chan error, 1)
	go func() {
		_, err := victim.Call(ctx, "tools/call", map[string]any{
			"name": "hang", "arguments": map[string]any{}, "_meta": map[string]any{"progressToken": "hang-1"},
		})
		hung <- err
	}()
	if _, err := victim.WaitNotification(ctx, func(n fixture.Notification) bool { return n.Method == "notifications/progress" }); err != nil {
		t.Fatalf("the hang call never reached the upstream: %v", err)
	}
	_, err := victim.CallTool(ctx, "crash", map[string]any{})
	wantRPCError(t, err, jsonrpc.CodeInternalError)
	select {
	case err := <-hung:
		wantRPCError(t, err, jsonrpc.CodeInternalError)
	case <-ctx.Done():
		t.Fatal("the pending hang call never got an answer after the upstream crashed")
	}
	stillServing(t, b, other)
}

// TestUpstreamUnavailable: the upstream command cannot be started. Each
// initialize gets a JSON-RPC error (HTTP 200 with an error body, no session
// id minted) and the broker keeps serving: a second attempt gets the same
// clean answer and /healthz still answers.
func TestUpstreamUnavailable(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil, "--upstream-cmd", "/nonexistent/mcpbroker-faults-upstream")
	init := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"faults-raw","version":"0"}}}`, rawProtocolVersion)
	for i := range 2 {
		r := rawPost(t, b, "", []byte(init), nil)
		wantStatusCode(t, r, http.StatusOK, jsonrpc.CodeInternalError)
		if sid := r.header.Get(transport.HeaderSessionID); sid != "" {
			t.Errorf("attempt %d: a failed initialize minted session id %q", i, sid)
		}
	}
	resp, err := http.Get("http://" + b.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %d", resp.StatusCode)
	}
}

// TestUpstreamMisbehaves: the upstream writes a line that is not JSON, or
// answers an id that was never sent, before its real answer. The call
// still gets an answer (the real one or a JSON-RPC error) in bounded time,
// and the session, a concurrent session and new sessions keep working.
func TestUpstreamMisbehaves(t *testing.T) {
	t.Parallel()
	b := fakeBroker(t)
	other := client(t, b)
	for _, tool := range []string{"junk", "wrong-id"} {
		t.Run(tool, func(t *testing.T) {
			victim := client(t, b)
			ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
			defer cancel()
			res, err := victim.CallTool(ctx, tool, map[string]any{"text": "real answer"})
			switch {
			case ctx.Err() != nil:
				t.Fatalf("no answer within 10s: %v", err)
			case err != nil:
				je := wantRPCError(t, err, jsonrpc.CodeInternalError)
				t.Logf("call got an error: %d %q", je.Code, je.Message)
			case !strings.Contains(res.Text(), "real answer"):
				t.Errorf("answer %q, want the real answer", res.Text())
			}
			mustEcho(t, victim, "victim after "+tool)
			stillServing(t, b, other)
		})
	}
}

// TestShutdownIdleIsQuick: with sessions open but no request in flight, a
// SIGTERM does not wait for the drain timeout (20 s here): the broker
// closes the sessions and exits at once.
func TestShutdownIdleIsQuick(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil, "--shutdown-timeout", "20s")
	c := client(t, b)
	mustEcho(t, c, "before shutdown")
	start := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("broker still running 10 s after SIGTERM with nothing in flight")
	}
	t.Logf("exited %v after SIGTERM: %v", time.Since(start), b.err)
	if b.err != nil {
		t.Errorf("exit: %v, want status 0", b.err)
	}
}
