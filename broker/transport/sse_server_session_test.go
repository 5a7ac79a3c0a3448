package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

func TestSSEServerEviction(t *testing.T) {
	logger, logs := testLogger()
	ts, ps := serveLegacy(t, &SSEServerOptions{MaxSessions: 1, Logger: logger})
	get1 := do(t, "GET", ts.URL+"/sse", "Accept: text/event-stream")
	r1 := newSSEReader(get1.Body, 1<<20)
	ev, err := r1.next()
	if err != nil {
		t.Fatal(err)
	}
	endpoint1 := ts.URL + string(ev.data)
	p1 := ps.next(t)
	c2 := dialSSE(t, ts.URL+"/sse")
	ps.next(t)

	// Every session streams, so the least recently used one goes.
	p1.ended(t, "evicted: session limit 1 reached")
	if _, err := r1.next(); !errors.Is(err, io.EOF) {
		t.Errorf("evicted stream: %v, want io.EOF", err)
	}
	if resp := post(t, endpoint1, notification); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST to the evicted session: %s", resp.Status)
	}
	if !strings.Contains(logs.String(), "evicted: session limit 1 reached") {
		t.Errorf("no eviction line:\n%s", logs)
	}
	send(t, c2, initReq)
	expect(t, c2, jsonrpc.KindResult, "1", "1")
}

func TestSSEServerCredentialBinding(t *testing.T) {
	logger, logs := testLogger()
	ts, ps := serveLegacy(t, &SSEServerOptions{Logger: logger})
	get := do(t, "GET", ts.URL+"/sse", "Accept: text/event-stream", "Authorization: Bearer alice")
	endpoint := ts.URL + string(sseEvents(t, get.Body, 1)[0].data)
	p := ps.next(t)

	for _, auth := range []string{"Authorization: Bearer mallory", "Authorization:"} {
		resp := post(t, endpoint, `{"jsonrpc":"2.0","method":"test/other"}`, auth)
		body := readAll(t, resp.Body)
		if resp.StatusCode != http.StatusForbidden || errorCode(body) != jsonrpc.CodeInvalidRequest {
			t.Errorf("POST with %q: %s %s", auth, resp.Status, body)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("no Warn line:\n%s", logs)
	}
	if resp := post(t, endpoint, `{"jsonrpc":"2.0","method":"test/own"}`, "Authorization: Bearer alice"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST with the session's credentials: %s", resp.Status)
	}
	p.waitNote(t, "test/own")
	p.alive(t)
}

// TestSSEServerStreamKeepsSession waits several idle timeouts with the
// stream open and no POST: the session stays. Dropping the stream ends it.
func TestSSEServerStreamKeepsSession(t *testing.T) {
	const ttl = 50 * time.Millisecond
	ts, ps := serveLegacy(t, &SSEServerOptions{IdleTimeout: ttl})
	ctx, drop := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/sse", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	endpoint := ts.URL + string(sseEvents(t, resp.Body, 1)[0].data)
	p := ps.next(t)
	select {
	case <-p.done:
		t.Fatalf("streaming session ended: %v", p.err)
	case <-time.After(6 * ttl):
	}
	if resp := post(t, endpoint, `{"jsonrpc":"2.0","method":"test/late"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST after %v: %s", 6*ttl, resp.Status)
	}
	p.waitNote(t, "test/late")
	drop()
	p.ended(t, "client went away")
}
