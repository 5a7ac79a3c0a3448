package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// dialHTTP dials url with fast reconnects and closes the Conn at cleanup.
func dialHTTP(t *testing.T, url string, opts *ClientOptions) Conn {
	t.Helper()
	if opts == nil {
		opts = &ClientOptions{}
	}
	if opts.ReconnectDelay == 0 {
		opts.ReconnectDelay = 10 * time.Millisecond
	}
	c, err := DialHTTP(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expect receives a message and checks its kind, method or id, and
// Related ("" for none).
func expect(t *testing.T, c Conn, kind jsonrpc.Kind, methodOrID, related string) *jsonrpc.Message {
	t.Helper()
	m := recv(t, c)
	msg := parse(t, m.Raw)
	got := msg.Method
	if !msg.IsCall() {
		got = string(msg.ID)
	}
	if msg.Kind != kind || got != methodOrID || string(m.Related) != related {
		t.Fatalf("received %s (Related %q), want a %v %s (Related %q)", m.Raw, m.Related, kind, methodOrID, related)
	}
	return msg
}

// waitNote waits for the peer to receive a notification with method.
func (p *peer) waitNote(t *testing.T, method string) {
	t.Helper()
	for {
		select {
		case m := <-p.notes:
			if m == method {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("peer did not receive %s", method)
		}
	}
}

func TestDialHTTP(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	c := dialHTTP(t, ts.URL, nil)

	send(t, c, initReq)
	expect(t, c, jsonrpc.KindResult, "1", "1")
	p := ps.next(t)
	sid := c.(SessionIDer).SessionID()
	if sid == "" || sid != p.conn.(SessionIDer).SessionID() {
		t.Fatalf("client session id %q, server %q", sid, p.conn.(SessionIDer).SessionID())
	}
	p.conn.(RevisionSetter).SetRevision(schemas.V20250618)
	c.(RevisionSetter).SetRevision(schemas.V20250618)
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	p.waitNote(t, "notifications/initialized")

	// A related notification arrives on the request's SSE stream first.
	send(t, c, `{"jsonrpc":"2.0","id":2,"method":"test/progress"}`)
	expect(t, c, jsonrpc.KindNotification, "notifications/progress", "2")
	expect(t, c, jsonrpc.KindResult, "2", "2")

	// A server request related to a client request, answered by a POST.
	send(t, c, `{"jsonrpc":"2.0","id":3,"method":"test/ask"}`)
	ask := expect(t, c, jsonrpc.KindRequest, "roots/list", "3")
	send(t, c, `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"roots":[]}}`)
	expect(t, c, jsonrpc.KindResult, "3", "3")

	// An unrelated notification comes on the standalone GET stream.
	send(t, c, `{"jsonrpc":"2.0","method":"test/broadcast"}`)
	expect(t, c, jsonrpc.KindNotification, "notifications/message", "")

	// Close sends DELETE, which ends the server's session.
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.wait(t); !errors.Is(err, io.EOF) {
		t.Errorf("server Recv after the client's Close = %v, want io.EOF", err)
	}
	if _, err := c.Recv(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
	if err := c.Send(t.Context(), Message{Raw: []byte(initReq)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

// headerLog records a header of the requests passing to a handler.
type headerLog struct {
	mu     sync.Mutex
	header string
	seen   []string      // "METHOD value"
	gets   chan struct{} // when not nil, signalled on each GET
}

func (l *headerLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.seen = append(l.seen, r.Method+" "+r.Header.Get(l.header))
		l.mu.Unlock()
		if r.Method == http.MethodGet && l.gets != nil {
			select {
			case l.gets <- struct{}{}:
			default:
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (l *headerLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[len(l.seen)-1]
}

func (l *headerLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.seen {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

func TestDialHTTPProtocolVersion(t *testing.T) {
	srv := NewHTTPServer(&HTTPServerOptions{DisableGET: true})
	log := &headerLog{header: HeaderProtocolVersion}
	ts, ps := serve(t, srv, log.wrap(srv))
	c := dialHTTP(t, ts.URL, nil)
	send(t, c, initReq)
	recv(t, c)
	ps.next(t).conn.(RevisionSetter).SetRevision(schemas.V20250618)

	tests := []struct {
		name       string
		rev        schemas.Revision
		wantHeader string
		wantStatus int // 0: Send succeeds
	}{
		{"2025-03-26 has no header", schemas.V20250326, "", 0},
		{"2025-06-18", schemas.V20250618, "2025-06-18", 0},
		{"mismatch", schemas.V20251125, "2025-11-25", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.(RevisionSetter).SetRevision(tt.rev)
			err := c.Send(t.Context(), Message{Raw: []byte(`{"jsonrpc":"2.0","method":"n"}`)})
			if got := log.last(); got != "POST "+tt.wantHeader {
				t.Errorf("request %q, want header %q", got, tt.wantHeader)
			}
			se, _ := errors.AsType[*StatusError](err)
			switch {
			case tt.wantStatus == 0 && err != nil:
				t.Errorf("Send: %v", err)
			case tt.wantStatus != 0 && (se == nil || se.StatusCode != tt.wantStatus):
				t.Errorf("Send = %v, want status %d", err, tt.wantStatus)
			}
		})
	}
}

func TestDialHTTPSessionExpired(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	c := dialHTTP(t, ts.URL, &ClientOptions{DisableGET: true})
	send(t, c, initReq)
	recv(t, c)
	p := ps.next(t)
	oldSID := c.(SessionIDer).SessionID()

	p.conn.Close() // the server forgets the session
	err := c.Send(t.Context(), Message{Raw: []byte(`{"jsonrpc":"2.0","method":"n"}`)})
	if !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("Send to a forgotten session = %v, want ErrSessionExpired", err)
	}
	if se, ok := errors.AsType[*StatusError](err); !ok || se.StatusCode != http.StatusNotFound {
		t.Errorf("error %v does not carry the 404", err)
	}
	err = c.Send(t.Context(), Message{Raw: []byte(`{"jsonrpc":"2.0","id":5,"method":"x"}`)})
	if !errors.Is(err, ErrSessionExpired) {
		t.Errorf("Send of a request after expiry = %v, want ErrSessionExpired", err)
	}

	// initialize starts a new session.
	send(t, c, initReq)
	expect(t, c, jsonrpc.KindResult, "1", "1")
	ps.next(t)
	if sid := c.(SessionIDer).SessionID(); sid == "" || sid == oldSID {
		t.Errorf("session id after re-initialize = %q (old %q)", sid, oldSID)
	}
}

// TestDialHTTPSessionExpiredAsync checks a 404 to a request: Send may
// return before the status is known, and the expiry then reaches Recv.
func TestDialHTTPSessionExpiredAsync(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	c := dialHTTP(t, ts.URL, &ClientOptions{DisableGET: true})
	send(t, c, initReq)
	recv(t, c)
	ps.next(t).conn.Close()

	err := c.Send(t.Context(), Message{Raw: []byte(`{"jsonrpc":"2.0","id":5,"method":"x"}`)})
	if err != nil {
		if !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("Send = %v, want nil or ErrSessionExpired", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var sawError, sawExpired bool
	for !sawError || !sawExpired {
		m, err := c.Recv(ctx)
		switch {
		case errors.Is(err, ErrSessionExpired):
			sawExpired = true
		case err != nil:
			t.Fatalf("Recv: %v", err)
		default:
			msg := parse(t, m.Raw)
			if msg.Kind != jsonrpc.KindError || string(msg.ID) != "5" || string(m.Related) != "5" {
				t.Fatalf("Recv = %s, want an error response to 5", m.Raw)
			}
			sawError = true
		}
	}
}

func TestDialHTTPNoStandaloneStream(t *testing.T) {
	srv := NewHTTPServer(&HTTPServerOptions{DisableGET: true})
	log := &headerLog{gets: make(chan struct{}, 16)}
	ts, ps := serve(t, srv, log.wrap(srv))
	c := dialHTTP(t, ts.URL, &ClientOptions{ReconnectDelay: time.Millisecond})
	send(t, c, initReq)
	recv(t, c)
	p := ps.next(t)
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	p.waitNote(t, "notifications/initialized")
	<-log.gets // the client tried the standalone stream
	for i := range 3 {
		send(t, c, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"x"}`, 10+i))
		expect(t, c, jsonrpc.KindResult, fmt.Sprint(10+i), fmt.Sprint(10+i))
	}
	c.Close() // waits for the GET loop
	if n := log.count("GET"); n != 1 {
		t.Errorf("%d GET requests, want 1 (a 405 is final)", n)
	}
}

// abortAfterProgress breaks the connection of a POST answer right after
// its first notifications/progress event, as a flaky network would.
func abortAfterProgress(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			if bytes.Contains(b, []byte("test/hold")) {
				w = &abortWriter{ResponseWriter: w}
			}
		}
		h.ServeHTTP(w, r)
	})
}

type abortWriter struct{ http.ResponseWriter }

func (w *abortWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if bytes.Contains(p, []byte("notifications/progress")) {
		http.NewResponseController(w.ResponseWriter).Flush()
		panic(http.ErrAbortHandler)
	}
	return n, err
}

func (w *abortWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestDialHTTPResume breaks a POST's SSE answer after its first event and
// checks that the client resumes it against HTTPServer with Last-Event-ID.
func TestDialHTTPResume(t *testing.T) {
	srv := NewHTTPServer(nil)
	log := &headerLog{header: HeaderLastEventID}
	ts, ps := serve(t, srv, log.wrap(abortAfterProgress(srv)))
	c := dialHTTP(t, ts.URL, &ClientOptions{DisableGET: true})
	send(t, c, initReq)
	recv(t, c)
	p := ps.next(t)

	send(t, c, `{"jsonrpc":"2.0","id":"h","method":"test/hold"}`)
	expect(t, c, jsonrpc.KindNotification, "notifications/progress", `"h"`)
	p.release <- struct{}{}
	expect(t, c, jsonrpc.KindResult, `"h"`, `"h"`)
	if got := log.last(); !strings.HasPrefix(got, "GET ") || got == "GET " {
		t.Errorf("last request %q, want a GET with Last-Event-ID", got)
	}
}

// fakeServer serves a scripted Streamable HTTP endpoint: POST bodies
// containing a key of posts get that answer (SSE when it starts with
// "retry:" or "id:" or "data:"), GETs with a Last-Event-ID get gets[id],
// other GETs 405.
type fakeServer struct {
	posts map[string]string
	gets  map[string]string
	mu    sync.Mutex
	reqs  []string // "METHOD session last-event-id"
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.Header.Get(HeaderSessionID)+" "+r.Header.Get(HeaderLastEventID))
	f.mu.Unlock()
	var answer string
	switch r.Method {
	case http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		for k, v := range f.posts {
			if bytes.Contains(b, []byte(k)) {
				answer = v
			}
		}
		if answer == "" {
			w.WriteHeader(http.StatusAccepted)
			return
		}
	case http.MethodGet:
		var ok bool
		if answer, ok = f.gets[r.Header.Get(HeaderLastEventID)]; !ok {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
	}
	w.Header().Set(HeaderSessionID, "fake-session")
	if strings.HasPrefix(answer, "{") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/event-stream")
	}
	io.WriteString(w, answer)
}

func (f *fakeServer) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func TestDialHTTPResumeScripted(t *testing.T) {
	f := &fakeServer{
		posts: map[string]string{
			`"initialize"`: `{"jsonrpc":"2.0","id":1,"result":{}}`,
			// A priming event (id, empty data), a notification, then the
			// connection closes before the answer.
			`"slow"`: "id: e0\ndata:\n\nretry: 5\nid: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n",
		},
		gets: map[string]string{
			"e1": "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"done\":true}}\n\n",
		},
	}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	c := dialHTTP(t, ts.URL, &ClientOptions{ReconnectDelay: time.Hour}) // only retry: may make this fast
	send(t, c, initReq)
	expect(t, c, jsonrpc.KindResult, "1", "1")
	send(t, c, `{"jsonrpc":"2.0","id":7,"method":"slow"}`)
	expect(t, c, jsonrpc.KindNotification, "notifications/progress", "7")
	expect(t, c, jsonrpc.KindResult, "7", "7")
	reqs := f.requests()
	if last := reqs[len(reqs)-1]; last != "GET fake-session e1" {
		t.Errorf("requests %q, want a resuming GET last", reqs)
	}
}

func TestDialHTTPBrokenAnswer(t *testing.T) {
	f := &fakeServer{posts: map[string]string{
		`"initialize"`: `{"jsonrpc":"2.0","id":1,"result":{}}`,
		`"noids"`:      "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n",
	}}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	c := dialHTTP(t, ts.URL, &ClientOptions{DisableGET: true})
	send(t, c, initReq)
	recv(t, c)
	send(t, c, `{"jsonrpc":"2.0","id":8,"method":"noids"}`)
	expect(t, c, jsonrpc.KindNotification, "notifications/progress", "8")
	// No event id to resume from: the request fails with -32603.
	m := expect(t, c, jsonrpc.KindError, "8", "8")
	if errorCode(m.Raw) != jsonrpc.CodeInternalError {
		t.Errorf("error response %s, want code -32603", m.Raw)
	}
}

// TestDialHTTPLegacyProbe checks what the relay sees when it POSTs
// initialize to a legacy HTTP+SSE server: a status error it can fall back
// on (REVISIONS.md 3.T4).
func TestDialHTTPLegacyProbe(t *testing.T) {
	ts, _ := serve(t, NewSSEServer(nil), nil)
	c := dialHTTP(t, ts.URL, nil)
	err := c.Send(t.Context(), Message{Raw: []byte(initReq)})
	se, ok := errors.AsType[*StatusError](err)
	if !ok || (se.StatusCode != 400 && se.StatusCode != 404 && se.StatusCode != 405) {
		t.Errorf("initialize to a legacy server = %v, want a 400, 404 or 405 StatusError", err)
	}
}

func TestDialHTTPSendContext(t *testing.T) {
	// A server that never answers: Send of a notification waits for the
	// status, so its context bounds it.
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(block) })
	c := dialHTTP(t, ts.URL, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := c.Send(ctx, Message{Raw: []byte(`{"jsonrpc":"2.0","method":"n"}`)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want DeadlineExceeded", err)
	}
}

func TestDialHTTPBadURL(t *testing.T) {
	for _, u := range []string{"ftp://127.0.0.1/", "://"} {
		if c, err := DialHTTP(t.Context(), u, nil); err == nil {
			c.Close()
			t.Errorf("DialHTTP(%q) succeeded", u)
		}
	}
}

// TestDialHTTPLazyGET: with LazyGET the client opens no standalone GET
// stream after initialization until OpenStream; the server session's
// StreamWatcher fires when it does, and a message queued for the stream
// meanwhile is delivered then.
func TestDialHTTPLazyGET(t *testing.T) {
	srv := NewHTTPServer(nil)
	log := &headerLog{header: HeaderSessionID, gets: make(chan struct{}, 1)}
	ts, ps := serve(t, srv, log.wrap(srv))
	c := dialHTTP(t, ts.URL, &ClientOptions{LazyGET: true})
	send(t, c, initReq)
	expect(t, c, jsonrpc.KindResult, "1", "1")
	p := ps.next(t)
	listening := make(chan struct{})
	p.conn.(StreamWatcher).OnStream(func() { close(listening) })
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	p.waitNote(t, "notifications/initialized")
	// A round trip after initialization: still no GET.
	send(t, c, `{"jsonrpc":"2.0","id":2,"method":"test/echo"}`)
	expect(t, c, jsonrpc.KindResult, "2", "2")
	if n := log.count("GET"); n != 0 {
		t.Fatalf("%d GET requests before OpenStream, want 0", n)
	}
	select {
	case <-listening:
		t.Fatal("OnStream fired before the client listened")
	default:
	}
	// Queued for the standalone stream while nobody listens.
	send(t, c, `{"jsonrpc":"2.0","method":"test/broadcast"}`)
	p.waitNote(t, "test/broadcast")

	c.(StreamOpener).OpenStream()
	select {
	case <-log.gets:
	case <-time.After(10 * time.Second):
		t.Fatal("no GET after OpenStream")
	}
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("OnStream did not fire when the client opened its GET stream")
	}
	expect(t, c, jsonrpc.KindNotification, "notifications/message", "")
	c.(StreamOpener).OpenStream() // idempotent
	// A late registration fires at once.
	again := make(chan struct{})
	p.conn.(StreamWatcher).OnStream(func() { close(again) })
	select {
	case <-again:
	case <-time.After(10 * time.Second):
		t.Fatal("OnStream registered after the stream opened did not fire")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if n := log.count("GET"); n != 1 {
		t.Errorf("%d GET requests, want 1", n)
	}
}

// TestDialHTTPPush: a pushing Conn hands answers, related notifications
// and standalone-stream messages to the function, and, after the
// server's session is gone, ErrSessionExpired.
func TestDialHTTPPush(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(nil), nil)
	c := dialHTTP(t, ts.URL, nil)
	got := make(chan Message, 16)
	errs := make(chan error, 4)
	if !c.(Pusher).Push(func(m Message, err error) {
		if err != nil {
			errs <- err
			return
		}
		got <- m
	}) {
		t.Fatal("DialHTTP's Conn does not push")
	}
	next := func() *jsonrpc.Message {
		t.Helper()
		select {
		case m := <-got:
			return parse(t, m.Raw)
		case <-time.After(10 * time.Second):
			t.Fatal("nothing pushed")
			return nil
		}
	}
	send(t, c, initReq)
	if m := next(); m.Kind != jsonrpc.KindResult {
		t.Fatalf("pushed %s, want the initialize result", m.Raw)
	}
	p := ps.next(t)
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	p.waitNote(t, "notifications/initialized")
	send(t, c, `{"jsonrpc":"2.0","id":2,"method":"test/progress"}`)
	if m := next(); m.Method != "notifications/progress" {
		t.Fatalf("pushed %s, want the progress notification first", m.Raw)
	}
	if m := next(); m.Kind != jsonrpc.KindResult {
		t.Fatalf("pushed %s, want the result", m.Raw)
	}
	send(t, c, `{"jsonrpc":"2.0","method":"test/broadcast"}`)
	if m := next(); m.Method != "notifications/message" {
		t.Fatalf("pushed %s, want the standalone stream's message", m.Raw)
	}
	p.conn.Close() // the server forgets the session: the GET stream gets 404
	select {
	case err := <-errs:
		if !errors.Is(err, ErrSessionExpired) && !errors.Is(err, io.EOF) {
			t.Errorf("pushed error %v, want ErrSessionExpired or EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("no error pushed after the server ended the session")
	}
}
