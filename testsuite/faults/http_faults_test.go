package faults

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// maxMessage is the --max-message-size of TestHTTPFaults' broker.
const maxMessage = 4096

// TestHTTPFaults sends malformed or refused HTTP requests to /mcp, each
// from a session of its own (or none), and checks the HTTP status and the
// JSON-RPC error in the body, that the faulty session (when it exists)
// still works, that a session opened before the fault is unaffected and
// that a new session can still be opened.
func TestHTTPFaults(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil, "--max-message-size", "4096")
	other := client(t, b)
	mustEcho(t, other, "concurrent session")

	type fault struct {
		name string
		// session: run with a fresh raw session's id (else none).
		session bool
		body    string
		mod     func(*http.Request)
		status  int
		codes   []int // accepted JSON-RPC error codes in the body
		// sessionOK: the faulty session must still work afterwards.
		sessionOK bool
	}
	big := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + strings.Repeat("x", 2*maxMessage) + `"}}}`
	faults := []fault{
		{name: "malformed-json", session: true, body: `{"jsonrpc":"2.0","id":1,"method":`,
			status: http.StatusBadRequest, codes: []int{jsonrpc.CodeParseError}, sessionOK: true},
		{name: "malformed-json-no-session", body: `not json at all`,
			status: http.StatusBadRequest, codes: []int{jsonrpc.CodeParseError}},
		{name: "invalid-jsonrpc-version", session: true, body: `{"jsonrpc":"1.0","id":2,"method":"ping"}`,
			status: http.StatusBadRequest, codes: []int{jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "invalid-request-no-method", session: true, body: `{"jsonrpc":"2.0","id":3,"params":{}}`,
			status: http.StatusBadRequest, codes: []int{jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "invalid-params", session: true, body: `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{}}}`,
			status: http.StatusOK, codes: []int{jsonrpc.CodeInvalidParams, jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "unknown-method", session: true, body: `{"jsonrpc":"2.0","id":5,"method":"no/such/method","params":{}}`,
			status: http.StatusOK, codes: []int{jsonrpc.CodeMethodNotFound}, sessionOK: true},
		{name: "unknown-session-id", body: `{"jsonrpc":"2.0","id":6,"method":"tools/list"}`,
			mod: func(r *http.Request) {
				r.Header.Set(transport.HeaderSessionID, "no-such-session-0123456789abcdef")
				r.Header.Set(transport.HeaderProtocolVersion, rawProtocolVersion)
			},
			status: http.StatusNotFound, codes: []int{jsonrpc.CodeInvalidRequest}},
		{name: "missing-session-id", body: `{"jsonrpc":"2.0","id":6,"method":"tools/list"}`,
			status: http.StatusBadRequest, codes: []int{jsonrpc.CodeInvalidRequest}},
		{name: "oversized-content-length", session: true, body: big,
			status: http.StatusRequestEntityTooLarge, codes: []int{jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "oversized-chunked", session: true, body: big,
			mod: func(r *http.Request) {
				r.ContentLength = -1 // no Content-Length: the limit must hold while reading
				r.Body = io.NopCloser(strings.NewReader(big))
			},
			status: http.StatusRequestEntityTooLarge, codes: []int{jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "wrong-content-type", session: true, body: `{"jsonrpc":"2.0","id":8,"method":"ping"}`,
			mod:    func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") },
			status: http.StatusUnsupportedMediaType, codes: []int{jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "wrong-accept", session: true, body: `{"jsonrpc":"2.0","id":9,"method":"ping"}`,
			mod:    func(r *http.Request) { r.Header.Set("Accept", "application/json") },
			status: http.StatusNotAcceptable, codes: []int{jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "bad-origin", session: true, body: `{"jsonrpc":"2.0","id":10,"method":"ping"}`,
			mod:    func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") },
			status: http.StatusForbidden, codes: []int{jsonrpc.CodeInvalidRequest}, sessionOK: true},
		{name: "bad-origin-initialize", body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"0"}}}`,
			mod:    func(r *http.Request) { r.Header.Set("Origin", "http://attacker.example:8080") },
			status: http.StatusForbidden, codes: []int{jsonrpc.CodeInvalidRequest}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			sid := ""
			if f.session {
				sid = rawSession(t, b)
			}
			r := rawPost(t, b, sid, []byte(f.body), f.mod)
			wantStatusCode(t, r, f.status, f.codes...)
			if f.status != http.StatusOK && r.header.Get(transport.HeaderSessionID) != "" {
				t.Errorf("an error answer minted session id %q", r.header.Get(transport.HeaderSessionID))
			}
			if f.sessionOK {
				rawEcho(t, b, sid)
			}
			stillServing(t, b, other)
		})
	}
}

// TestTerminatedSession deletes a session and checks that requests naming
// it get 404 (unknown or expired session), while a concurrent session and
// new sessions are unaffected.
func TestTerminatedSession(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	other := client(t, b)
	sid := rawSession(t, b)
	rawEcho(t, b, sid)

	req, err := http.NewRequestWithContext(testCtx(t), http.MethodDelete, b.mcpURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(transport.HeaderSessionID, sid)
	req.Header.Set(transport.HeaderProtocolVersion, rawProtocolVersion)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE: status %d", resp.StatusCode)
	}
	r := rawPost(t, b, sid, []byte(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`), nil)
	wantStatusCode(t, r, http.StatusNotFound, jsonrpc.CodeInvalidRequest)
	// A second DELETE of the same session is 404 too.
	req, _ = http.NewRequestWithContext(testCtx(t), http.MethodDelete, b.mcpURL(), nil)
	req.Header.Set(transport.HeaderSessionID, sid)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: status %d, want 404 (body %q)", resp.StatusCode, body)
	}
	if bytes.Contains(body, []byte(sid)) && len(sid) > 0 {
		t.Logf("404 body names the session: %q", body)
	}
	stillServing(t, b, other)
}

// TestIdleSessionExpires starts a broker with --session-idle-ttl 1s and
// checks that an idle session gets 404 once expired, while a session kept
// busy meanwhile is unaffected.
func TestIdleSessionExpires(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil, "--session-idle-ttl", "1s")
	other := client(t, b)
	sid := rawSession(t, b)
	// The session has been idle since rawSession returned; keep other busy
	// for longer than the TTL, then probe sid once (a probe is activity).
	idleSince := time.Now()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for time.Since(idleSince) < 2*time.Second {
		mustEcho(t, other, "busy session")
		<-tick.C
	}
	r := rawPost(t, b, sid, []byte(`{"jsonrpc":"2.0","id":"probe","method":"ping"}`), nil)
	wantStatusCode(t, r, http.StatusNotFound, jsonrpc.CodeInvalidRequest)
	stillServing(t, b, other)
}

// TestSessionLimit: with --max-sessions 2 a third session evicts the least
// recently used one (its id then gets 404); the other two keep working.
func TestSessionLimit(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil, "--max-sessions", "2")
	first := rawSession(t, b)
	second := rawSession(t, b)
	rawEcho(t, b, second)
	third := rawSession(t, b)
	r := rawPost(t, b, first, []byte(`{"jsonrpc":"2.0","id":"probe","method":"ping"}`), nil)
	wantStatusCode(t, r, http.StatusNotFound, jsonrpc.CodeInvalidRequest)
	rawEcho(t, b, second)
	rawEcho(t, b, third)
}

// TestSessionBoundToCredentials: a session opened with one Authorization
// header refuses a request carrying another (403) or none, and keeps
// serving its owner.
func TestSessionBoundToCredentials(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	withAuth := func(v string) func(*http.Request) {
		return func(r *http.Request) {
			if v != "" {
				r.Header.Set("Authorization", v)
			}
		}
	}
	init := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"faults-auth","version":"0"}}}`, rawProtocolVersion)
	r := rawPost(t, b, "", []byte(init), withAuth("Bearer alice"))
	sid := r.header.Get(transport.HeaderSessionID)
	if r.status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %d %q", r.status, r.body)
	}
	ping := []byte(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	for _, other := range []string{"Bearer mallory", ""} {
		r := rawPost(t, b, sid, ping, withAuth(other))
		wantStatusCode(t, r, http.StatusForbidden, jsonrpc.CodeInvalidRequest)
	}
	if r := rawPost(t, b, sid, ping, withAuth("Bearer alice")); r.status != http.StatusOK {
		t.Fatalf("owner's ping: %d %q", r.status, r.body)
	}
}
