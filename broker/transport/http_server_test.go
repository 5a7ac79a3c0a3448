package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// initSession initializes a session on the Streamable HTTP endpoint url and
// returns its id and its peer.
func initSession(t *testing.T, url string, ps *peers) (string, *peer) {
	t.Helper()
	resp := post(t, url, initReq)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("initialize: %s: %s", resp.Status, readAll(t, resp.Body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("initialize answered with Content-Type %q", ct)
	}
	sid := resp.Header.Get(HeaderSessionID)
	if sid == "" {
		t.Fatal("initialize answer has no Mcp-Session-Id")
	}
	for _, c := range []byte(sid) {
		if c < 0x21 || c > 0x7e {
			t.Fatalf("session id %q has a byte outside visible ASCII", sid)
		}
	}
	m := parse(t, readAll(t, resp.Body))
	if m.Kind != jsonrpc.KindResult || string(m.ID) != "1" {
		t.Errorf("initialize answer = %s", m.Raw)
	}
	p := ps.next(t)
	if got := p.conn.(SessionIDer).SessionID(); got != sid {
		t.Errorf("Conn.SessionID() = %q, header %q", got, sid)
	}
	return sid, p
}

// sseEvents reads n events from an SSE body.
func sseEvents(t *testing.T, body io.Reader, n int) []sseEvent {
	t.Helper()
	r := newSSEReader(body, 1<<20)
	var evs []sseEvent
	for range n {
		ev, err := r.next()
		if err != nil {
			t.Fatalf("after %d events: %v", len(evs), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// errorCode returns the JSON-RPC error code of an error body, or 0.
func errorCode(body []byte) int {
	var e struct {
		Error struct{ Code int } `json:"error"`
	}
	json.Unmarshal(body, &e)
	return e.Error.Code
}

func TestHTTPServerStatuses(t *testing.T) {
	srv := NewHTTPServer(&HTTPServerOptions{MaxBodySize: 1024, AllowedOrigins: []string{"https://good.example"}})
	ts, ps := serve(t, srv, nil)
	sid, p := initSession(t, ts.URL, ps)
	p.conn.(RevisionSetter).SetRevision(schemas.V20250618)

	const note = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	withSID := HeaderSessionID + ": " + sid
	tests := []struct {
		name     string
		method   string
		body     string
		headers  []string
		want     int
		wantCode int // JSON-RPC code of the error body, when checked
	}{
		{"notification", "POST", note, []string{withSID}, http.StatusAccepted, 0},
		{"allowed origin", "POST", note, []string{withSID, "Origin: https://good.example"}, http.StatusAccepted, 0},
		{"matching protocol version", "POST", note, []string{withSID, "MCP-Protocol-Version: 2025-06-18"}, http.StatusAccepted, 0},
		{"bad origin", "POST", note, []string{withSID, "Origin: https://evil.example"}, http.StatusForbidden, jsonrpc.CodeInvalidRequest},
		{"bad origin on GET", "GET", "", []string{withSID, "Origin: http://localhost:1"}, http.StatusForbidden, 0},
		{"PUT", "PUT", note, []string{withSID}, http.StatusMethodNotAllowed, 0},
		{"Accept without event-stream", "POST", note, []string{withSID, "Accept: application/json"}, http.StatusNotAcceptable, 0},
		{"Accept without json", "POST", note, []string{withSID, "Accept: text/event-stream"}, http.StatusNotAcceptable, 0},
		{"GET Accept without event-stream", "GET", "", []string{withSID, "Accept: application/json"}, http.StatusNotAcceptable, 0},
		{"Content-Type text/plain", "POST", note, []string{withSID, "Content-Type: text/plain"}, http.StatusUnsupportedMediaType, 0},
		{"body too large", "POST", `{"jsonrpc":"2.0","method":"x","params":{"p":"` + strings.Repeat("x", 2000) + `"}}`, []string{withSID}, http.StatusRequestEntityTooLarge, 0},
		{"not JSON", "POST", `{"jsonrpc":`, []string{withSID}, http.StatusBadRequest, jsonrpc.CodeParseError},
		{"not JSON-RPC", "POST", `{"jsonrpc":"1.0","id":3,"method":"x"}`, []string{withSID}, http.StatusBadRequest, jsonrpc.CodeInvalidRequest},
		{"missing session id", "POST", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, nil, http.StatusBadRequest, jsonrpc.CodeInvalidRequest},
		{"unknown session id", "POST", note, []string{HeaderSessionID + ": nope"}, http.StatusNotFound, jsonrpc.CodeInvalidRequest},
		{"wrong protocol version", "POST", note, []string{withSID, "MCP-Protocol-Version: 2025-03-26"}, http.StatusBadRequest, jsonrpc.CodeInvalidRequest},
		{"unknown protocol version", "POST", note, []string{withSID, "MCP-Protocol-Version: 1999-01-01"}, http.StatusBadRequest, 0},
		{"GET without session id", "GET", "", nil, http.StatusBadRequest, 0},
		{"GET unknown session id", "GET", "", []string{HeaderSessionID + ": nope"}, http.StatusNotFound, 0},
		{"DELETE without session id", "DELETE", "", nil, http.StatusBadRequest, 0},
		{"DELETE unknown session id", "DELETE", "", []string{HeaderSessionID + ": nope"}, http.StatusNotFound, 0},
		{"duplicate pending request id", "POST", `[{"jsonrpc":"2.0","id":5,"method":"a"},{"jsonrpc":"2.0","id":5,"method":"b"}]`, []string{withSID}, http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			if tt.method == "POST" {
				resp = post(t, ts.URL, tt.body, tt.headers...)
			} else {
				resp = do(t, tt.method, ts.URL, append([]string{"Accept: text/event-stream"}, tt.headers...)...)
			}
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %s, want %d; body %s", resp.Status, tt.want, body)
			}
			if tt.wantCode != 0 {
				if got := errorCode(body); got != tt.wantCode {
					t.Errorf("JSON-RPC error code %d, want %d; body %s", got, tt.wantCode, body)
				}
			}
			if tt.want == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestHTTPServerInitializeError(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	resp := post(t, ts.URL, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"fail":true}}`)
	body := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusOK || parse(t, body).Kind != jsonrpc.KindError {
		t.Fatalf("%s %s", resp.Status, body)
	}
	if sid := resp.Header.Get(HeaderSessionID); sid != "" {
		t.Errorf("failed initialize carries session id %q", sid)
	}
	if err := ps.next(t).wait(t); !errors.Is(err, io.EOF) {
		t.Errorf("session of a failed initialize: Recv = %v, want io.EOF", err)
	}
}

func TestHTTPServerSSEAnswer(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	sid, _ := initSession(t, ts.URL, ps)
	resp := post(t, ts.URL, `{"jsonrpc":"2.0","id":"p","method":"test/progress"}`, HeaderSessionID+": "+sid)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("%s, Content-Type %q", resp.Status, ct)
	}
	evs := sseEvents(t, resp.Body, 2)
	if m := parse(t, evs[0].data); m.Method != "notifications/progress" {
		t.Errorf("first event = %s, want the progress notification", evs[0].data)
	}
	if m := parse(t, evs[1].data); m.Kind != jsonrpc.KindResult || string(m.ID) != `"p"` {
		t.Errorf("second event = %s, want the result", evs[1].data)
	}
	s0, q0, ok0 := parseEventID(evs[0].id)
	s1, q1, ok1 := parseEventID(evs[1].id)
	if !ok0 || !ok1 || s0 != s1 || q0 != 1 || q1 != 2 {
		t.Errorf("event ids %q, %q", evs[0].id, evs[1].id)
	}
	if _, err := newSSEReader(resp.Body, 1024).next(); !errors.Is(err, io.EOF) {
		t.Errorf("stream not closed after the answer: %v", err)
	}
}

func TestHTTPServerServerRequest(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	sid, _ := initSession(t, ts.URL, ps)
	resp := post(t, ts.URL, `{"jsonrpc":"2.0","id":2,"method":"test/ask"}`, HeaderSessionID+": "+sid)
	r := newSSEReader(resp.Body, 1<<20)
	ev, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	ask := parse(t, ev.data)
	if ask.Method != "roots/list" || !ask.IsRequest() {
		t.Fatalf("first event = %s, want the roots/list request", ev.data)
	}
	answer := post(t, ts.URL, `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"roots":[]}}`, HeaderSessionID+": "+sid)
	if answer.StatusCode != http.StatusAccepted {
		t.Fatalf("client response: %s", answer.Status)
	}
	ev, err = r.next()
	if err != nil {
		t.Fatal(err)
	}
	if m := parse(t, ev.data); string(m.ID) != "2" || !strings.Contains(string(m.Result), `"roots":[]`) {
		t.Errorf("answer = %s", ev.data)
	}
}

func TestHTTPServerBatch(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	sid, _ := initSession(t, ts.URL, ps)
	resp := post(t, ts.URL, `[{"jsonrpc":"2.0","id":10,"method":"a"},{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":11,"method":"b"}]`, HeaderSessionID+": "+sid)
	body := readAll(t, resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	f, err := jsonrpc.ParseFrame(body)
	if err != nil || !f.Batch || len(f.Messages) != 2 || string(f.Messages[0].ID) != "10" || string(f.Messages[1].ID) != "11" {
		t.Errorf("batch answer = %s (%v)", body, err)
	}
	// A batch of notifications only is accepted.
	resp = post(t, ts.URL, `[{"jsonrpc":"2.0","method":"n1"},{"jsonrpc":"2.0","method":"n2"}]`, HeaderSessionID+": "+sid)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("notification batch: %s", resp.Status)
	}
}

func TestHTTPServerGETStream(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	sid, _ := initSession(t, ts.URL, ps)
	withSID := HeaderSessionID + ": " + sid
	// The peer's unrelated notification is queued until a GET opens.
	if resp := post(t, ts.URL, `{"jsonrpc":"2.0","method":"test/broadcast"}`, withSID); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("broadcast: %s", resp.Status)
	}
	get := do(t, "GET", ts.URL, withSID, "Accept: text/event-stream")
	if get.StatusCode != http.StatusOK || get.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET: %s", get.Status)
	}
	r := newSSEReader(get.Body, 1<<20)
	for i := range 2 {
		ev, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		if m := parse(t, ev.data); m.Method != "notifications/message" {
			t.Errorf("GET event %d = %s", i, ev.data)
		}
		if n, _, _ := parseEventID(ev.id); n != 0 {
			t.Errorf("GET event id %q is not on stream 0", ev.id)
		}
		if i == 0 {
			// A second standalone stream is refused while this one is open.
			if resp := do(t, "GET", ts.URL, withSID, "Accept: text/event-stream"); resp.StatusCode != http.StatusConflict {
				t.Errorf("second GET: %s", resp.Status)
			}
			post(t, ts.URL, `{"jsonrpc":"2.0","method":"test/broadcast"}`, withSID)
		}
	}
}

func TestHTTPServerGETDisabled(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{DisableGET: true}), nil)
	sid, _ := initSession(t, ts.URL, ps)
	resp := do(t, "GET", ts.URL, HeaderSessionID+": "+sid, "Accept: text/event-stream")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST, DELETE" {
		t.Errorf("GET: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
}

func TestHTTPServerDELETE(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	sid, p := initSession(t, ts.URL, ps)
	withSID := HeaderSessionID + ": " + sid
	if resp := do(t, "DELETE", ts.URL, withSID); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %s", resp.Status)
	}
	if err := p.wait(t); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after DELETE = %v, want io.EOF", err)
	}
	if resp := post(t, ts.URL, `{"jsonrpc":"2.0","method":"n"}`, withSID); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST after DELETE: %s", resp.Status)
	}
}

func TestHTTPServerRelayCloses(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	sid, p := initSession(t, ts.URL, ps)
	p.conn.Close()
	if err := p.wait(t); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
	if err := p.conn.Send(t.Context(), Message{Raw: []byte(`{"jsonrpc":"2.0","method":"n"}`)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if resp := post(t, ts.URL, `{"jsonrpc":"2.0","method":"n"}`, HeaderSessionID+": "+sid); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST after Close: %s", resp.Status)
	}
}

func TestHTTPServerIdleTimeout(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{IdleTimeout: 50 * time.Millisecond}), nil)
	sid, p := initSession(t, ts.URL, ps)
	if err := p.wait(t); !errors.Is(err, io.EOF) {
		t.Errorf("Recv of an idle session = %v, want io.EOF", err)
	}
	if resp := post(t, ts.URL, `{"jsonrpc":"2.0","method":"n"}`, HeaderSessionID+": "+sid); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST to an expired session: %s", resp.Status)
	}
}

// TestHTTPServerResume drops the connection of a POST's SSE answer after
// its first event, lets the relay answer, and resumes with Last-Event-ID.
func TestHTTPServerResume(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	sid, p := initSession(t, ts.URL, ps)
	withSID := HeaderSessionID + ": " + sid

	ctx, drop := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader(`{"jsonrpc":"2.0","id":"h","method":"test/hold"}`))
	setHeaders(req, []string{"Content-Type: application/json", "Accept: application/json, text/event-stream", withSID})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first := sseEvents(t, resp.Body, 1)[0]
	if m := parse(t, first.data); m.Method != "notifications/progress" || first.id == "" {
		t.Fatalf("first event = %q %s", first.id, first.data)
	}
	drop()
	resp.Body.Close()
	p.release <- struct{}{}

	get := do(t, "GET", ts.URL, withSID, "Accept: text/event-stream", HeaderLastEventID+": "+first.id)
	if get.StatusCode != http.StatusOK {
		t.Fatalf("resuming GET: %s", get.Status)
	}
	ev := sseEvents(t, get.Body, 1)[0]
	if m := parse(t, ev.data); string(m.ID) != `"h"` || m.Kind != jsonrpc.KindResult {
		t.Errorf("resumed event = %s", ev.data)
	}
	n0, q0, _ := parseEventID(first.id)
	if n, q, _ := parseEventID(ev.id); n != n0 || q != q0+1 {
		t.Errorf("resumed event id %q after %q", ev.id, first.id)
	}
	if _, err := newSSEReader(get.Body, 1024).next(); !errors.Is(err, io.EOF) {
		t.Errorf("resumed stream not closed after the answer: %v", err)
	}

	// Replaying from the start of the stream gives both events again.
	again := do(t, "GET", ts.URL, withSID, "Accept: text/event-stream", HeaderLastEventID+": "+eventID(n0, 0))
	if evs := sseEvents(t, again.Body, 2); evs[0].id != first.id || evs[1].id != ev.id {
		t.Errorf("replay gave ids %q, %q", evs[0].id, evs[1].id)
	}
}

func TestHTTPServerSendErrors(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{MaxQueued: 2}), nil)
	_, p := initSession(t, ts.URL, ps)
	ctx := t.Context()
	if err := p.conn.Send(ctx, Message{Raw: []byte(`{"jsonrpc":"2.0","id":99,"result":{}}`)}); err == nil {
		t.Error("Send of a response to no pending request succeeded")
	}
	if err := p.conn.Send(ctx, Message{Raw: []byte(`{"jsonrpc":`)}); err == nil {
		t.Error("Send of invalid JSON succeeded")
	}
	note := Message{Raw: []byte(`{"jsonrpc":"2.0","method":"n"}`)}
	for range 2 {
		if err := p.conn.Send(ctx, note); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.conn.Send(ctx, note); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Send beyond MaxQueued = %v, want ErrQueueFull", err)
	}
}

func TestHTTPServerClose(t *testing.T) {
	srv := NewHTTPServer(nil)
	ts, ps := serve(t, srv, nil)
	_, p := initSession(t, ts.URL, ps)
	srv.Close()
	if err := p.wait(t); !errors.Is(err, io.EOF) {
		t.Errorf("Recv after server Close = %v, want io.EOF", err)
	}
	if _, err := srv.Accept(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close = %v, want ErrClosed", err)
	}
	if resp := post(t, ts.URL, initReq); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("initialize after Close: %s", resp.Status)
	}
}

func TestOriginAllowed(t *testing.T) {
	tests := []struct {
		origin  string
		allowed []string
		want    bool
	}{
		{"", nil, true},
		{"http://localhost:3000", nil, true},
		{"http://127.0.0.1", nil, true},
		{"http://[::1]:8080", nil, true},
		{"https://evil.example", nil, false},
		{"null", nil, false},
		{"https://good.example", []string{"https://GOOD.example"}, true},
		{"http://localhost:3000", []string{"https://good.example"}, false},
		{"https://any.example", []string{"*"}, true},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("POST", "http://127.0.0.1/mcp", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := originAllowed(r, tt.allowed); got != tt.want {
			t.Errorf("originAllowed(%q, %q) = %v", tt.origin, tt.allowed, got)
		}
	}
}

func TestAccepts(t *testing.T) {
	tests := []struct {
		accept string
		mt     string
		want   bool
	}{
		{"", "text/event-stream", true},
		{"application/json, text/event-stream", "text/event-stream", true},
		{"application/json;q=0.9, text/event-stream", "application/json", true},
		{"*/*", "application/json", true},
		{"text/*", "text/event-stream", true},
		{"text/*", "application/json", false},
		{"text/event-stream;q=0", "text/event-stream", false},
		{"text/html", "text/event-stream", false},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("POST", "http://127.0.0.1/mcp", nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if got := accepts(r, tt.mt); got != tt.want {
			t.Errorf("accepts(%q, %q) = %v", tt.accept, tt.mt, got)
		}
	}
}

func TestHTTPServerKeepAlive(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{KeepAlive: 10 * time.Millisecond}), nil)
	sid, _ := initSession(t, ts.URL, ps)
	get := do(t, "GET", ts.URL, HeaderSessionID+": "+sid, "Accept: text/event-stream")
	if get.Header.Get("X-Accel-Buffering") != "no" || get.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("SSE headers %v", get.Header)
	}
	line, err := bufio.NewReader(get.Body).ReadString('\n')
	if err != nil || line != ": keep-alive\n" {
		t.Errorf("first line of an idle stream = %q, %v", line, err)
	}
}
