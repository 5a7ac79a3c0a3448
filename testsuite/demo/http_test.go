package demo_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// serveHTTP runs demo.ServeHTTP of revision rev on a free port of
// 127.0.0.1 and returns its base URL and a function that stops it and
// returns ServeHTTP's error.
func serveHTTP(t *testing.T, rev schemas.Revision) (base string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- demo.ServeHTTP(ctx, rev, ln, demo.WithValidator(sharedValidator(t))) }()
	var err2 error
	stopped := false
	stop = func() error {
		if stopped {
			return err2
		}
		stopped = true
		cancel()
		timer := time.NewTimer(testTimeout)
		defer timer.Stop()
		select {
		case err2 = <-served:
		case <-timer.C:
			t.Fatal("ServeHTTP did not return once its context ended")
		}
		return err2
	}
	t.Cleanup(func() { stop() })
	return "http://" + ln.Addr().String(), stop
}

// httpSession runs a short session with a strict fixture client of
// revision rev over conn and returns the client, which cleanup closes.
func httpSession(ctx context.Context, t *testing.T, rev schemas.Revision, conn transport.Conn) *fixture.Client {
	t.Helper()
	c, err := fixture.NewClient(rev, conn, fixture.WithValidator(sharedValidator(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		for _, err := range c.Violations() {
			t.Errorf("the client received an invalid message: %v", err)
		}
	})
	if _, err := c.Initialize(ctx); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	if r, err := c.CallTool(ctx, "echo", map[string]any{"text": "over HTTP"}); err != nil || !strings.Contains(r.Text(), "over HTTP") {
		t.Errorf("echo: %v, %+v", err, r)
	}
	// A server request inside a tool call: on Streamable HTTP it goes
	// out on the call's own stream.
	if r, err := c.CallTool(ctx, "sample", map[string]any{"prompt": "hi"}); err != nil || r.Text() != fixture.DefaultSamplingText {
		t.Errorf("sample: %v, %+v", err, r)
	}
	if _, err := c.Call(ctx, "ping", nil); err != nil {
		t.Errorf("ping: %v", err)
	}
	return c
}

// status returns the status of a request to url.
func status(ctx context.Context, t *testing.T, method, url string, header http.Header) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(`{"jsonrpc":"2.0","id":"x","method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServeHTTP(t *testing.T) {
	for _, rev := range revisions() {
		t.Run(rev.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			base, stop := serveHTTP(t, rev)

			conn, err := transport.DialHTTP(ctx, base+demo.PathMCP, nil)
			if err != nil {
				t.Fatal(err)
			}
			httpSession(ctx, t, rev, conn)

			// The session's Conn knows the revision: a request with
			// another MCP-Protocol-Version is refused (2025-06-18 on).
			sid := conn.(transport.SessionIDer).SessionID()
			h := http.Header{
				"Content-Type":            {"application/json"},
				"Accept":                  {"application/json, text/event-stream"},
				transport.HeaderSessionID: {sid},
				"Mcp-Protocol-Version":    {schemas.V20250326.String()},
			}
			want := http.StatusOK
			if rev.HasProtocolVersionHeader() {
				want = http.StatusBadRequest
			}
			if got := status(ctx, t, http.MethodPost, base+demo.PathMCP, h); got != want {
				t.Errorf("POST with MCP-Protocol-Version 2025-03-26: status %d, want %d", got, want)
			}

			if got := status(ctx, t, http.MethodGet, base+demo.PathHealth, nil); got != http.StatusOK {
				t.Errorf("GET %s: status %d", demo.PathHealth, got)
			}
			// The legacy transport is 2024-11-05's only.
			if rev == schemas.V20241105 {
				sse, err := transport.DialSSE(ctx, base+demo.PathSSE, nil)
				if err != nil {
					t.Fatal(err)
				}
				httpSession(ctx, t, rev, sse)
				if id := sse.(transport.SessionIDer).SessionID(); id == "" {
					t.Error("the legacy session has no key")
				}
			} else if got := status(ctx, t, http.MethodGet, base+demo.PathSSE, http.Header{"Accept": {"text/event-stream"}}); got != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", demo.PathSSE, got)
			}

			// Stopping with sessions open (their GET streams too) ends
			// them and returns nil.
			if err := stop(); err != nil {
				t.Errorf("ServeHTTP: %v", err)
			}
		})
	}
}
