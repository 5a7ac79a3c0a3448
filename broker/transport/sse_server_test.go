package transport

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// serveLegacy serves an SSEServer with the stream on /sse and the endpoint
// on /messages.
func serveLegacy(t *testing.T, opts *SSEServerOptions) (*httptest.Server, *peers) {
	t.Helper()
	if opts == nil {
		opts = &SSEServerOptions{}
	}
	opts.Endpoint = "/messages"
	srv := NewSSEServer(opts)
	mux := http.NewServeMux()
	mux.Handle("/sse", srv)
	mux.Handle("/messages", srv)
	return serve(t, srv, mux)
}

// dialSSE dials url and closes the Conn at cleanup.
func dialSSE(t *testing.T, url string) Conn {
	t.Helper()
	c, err := DialSSE(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDialSSE(t *testing.T) {
	ts, ps := serveLegacy(t, nil)
	c := dialSSE(t, ts.URL+"/sse")
	p := ps.next(t)
	if k := c.(SessionIDer).SessionID(); k == "" || k != p.conn.(SessionIDer).SessionID() {
		t.Errorf("client session key %q, server %q", k, p.conn.(SessionIDer).SessionID())
	}

	send(t, c, initReq)
	expect(t, c, jsonrpc.KindResult, "1", "1")
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	p.waitNote(t, "notifications/initialized")

	// Related messages come on the one stream too, in order.
	send(t, c, `{"jsonrpc":"2.0","id":2,"method":"test/progress"}`)
	expect(t, c, jsonrpc.KindNotification, "notifications/progress", "")
	expect(t, c, jsonrpc.KindResult, "2", "2")

	send(t, c, `{"jsonrpc":"2.0","id":3,"method":"test/ask"}`)
	ask := expect(t, c, jsonrpc.KindRequest, "roots/list", "")
	send(t, c, `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"roots":[]}}`)
	expect(t, c, jsonrpc.KindResult, "3", "3")

	// Dropping the stream ends the server's session.
	c.Close()
	if err := p.wait(t); !errors.Is(err, io.EOF) {
		t.Errorf("server Recv after the client left = %v, want io.EOF", err)
	}
	if _, err := c.Recv(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
}

func TestSSEServerEndpointEvent(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		path     string
		want     string // prefix of the endpoint event's data
	}{
		{"default: the GET path", "", "/mcp/sse", "/mcp/sse?session="},
		{"configured path", "/messages", "/sse", "/messages?session="},
		{"configured path with a query", "/messages?x=1", "/sse", "/messages?x=1&session="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, ps := serve(t, NewSSEServer(&SSEServerOptions{Endpoint: tt.endpoint}), nil)
			resp := do(t, "GET", ts.URL+tt.path, "Accept: text/event-stream")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("GET: %s %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			ev := sseEvents(t, resp.Body, 1)[0]
			key := ps.next(t).conn.(SessionIDer).SessionID()
			if ev.name != "endpoint" || string(ev.data) != tt.want+key {
				t.Errorf("first event %q %q, want endpoint %q", ev.name, ev.data, tt.want+key)
			}
		})
	}
}

func TestSSEServerStatuses(t *testing.T) {
	ts, ps := serveLegacy(t, &SSEServerOptions{MaxBodySize: 1024})
	get := do(t, "GET", ts.URL+"/sse", "Accept: text/event-stream")
	endpoint := ts.URL + string(sseEvents(t, get.Body, 1)[0].data)
	ps.next(t)

	const note = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	tests := []struct {
		name    string
		method  string
		url     string
		body    string
		headers []string
		want    int
	}{
		{"notification", "POST", endpoint, note, nil, http.StatusAccepted},
		{"missing session", "POST", ts.URL + "/messages", note, nil, http.StatusBadRequest},
		{"unknown session", "POST", ts.URL + "/messages?session=nope", note, nil, http.StatusNotFound},
		{"bad origin", "POST", endpoint, note, []string{"Origin: https://evil.example"}, http.StatusForbidden},
		{"Content-Type text/plain", "POST", endpoint, note, []string{"Content-Type: text/plain"}, http.StatusUnsupportedMediaType},
		{"body too large", "POST", endpoint, `{"jsonrpc":"2.0","method":"x","params":{"p":"` + strings.Repeat("x", 2000) + `"}}`, nil, http.StatusRequestEntityTooLarge},
		{"not JSON", "POST", endpoint, `{`, nil, http.StatusBadRequest},
		{"PUT", "PUT", endpoint, "", nil, http.StatusMethodNotAllowed},
		{"GET Accept without event-stream", "GET", ts.URL + "/sse", "", []string{"Accept: application/json"}, http.StatusNotAcceptable},
		{"GET bad origin", "GET", ts.URL + "/sse", "", []string{"Origin: https://evil.example"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			if tt.method == "POST" {
				resp = post(t, tt.url, tt.body, tt.headers...)
			} else {
				resp = do(t, tt.method, tt.url, tt.headers...)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("status %s, want %d; body %s", resp.Status, tt.want, readAll(t, resp.Body))
			}
		})
	}
}

func TestSSEServerRelayCloses(t *testing.T) {
	ts, ps := serveLegacy(t, nil)
	c := dialSSE(t, ts.URL+"/sse")
	p := ps.next(t)
	send(t, c, initReq)
	recv(t, c)
	// What the relay sent just before closing still goes out.
	p.conn.Send(t.Context(), Message{Raw: []byte(`{"jsonrpc":"2.0","method":"bye"}`)})
	p.conn.Close()
	expect(t, c, jsonrpc.KindNotification, "bye", "")
	if err := recvErr(t, c); !errors.Is(err, io.EOF) {
		t.Errorf("client Recv after the server closed = %v, want io.EOF", err)
	}
}

func TestDialSSEErrors(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		check   func(error) bool
	}{
		{
			name:    "not found",
			handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			check: func(err error) bool {
				se, ok := errors.AsType[*StatusError](err)
				return ok && se.StatusCode == http.StatusNotFound
			},
		},
		{
			name: "endpoint on another origin",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "event: endpoint\ndata: http://evil.example/messages\n\n")
			},
			check: func(err error) bool { return strings.Contains(err.Error(), "another origin") },
		},
		{
			name: "stream ends without endpoint",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "event: message\ndata: {}\n\n")
			},
			check: func(err error) bool { return errors.Is(err, io.EOF) },
		},
		{
			name: "no endpoint before the context ends",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			timeout: 50 * time.Millisecond,
			check:   func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(tt.handler)
			t.Cleanup(ts.Close)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			c, err := DialSSE(ctx, ts.URL, nil)
			if err == nil {
				c.Close()
				t.Fatal("DialSSE succeeded")
			}
			if !tt.check(err) {
				t.Errorf("DialSSE error: %v", err)
			}
		})
	}
}

func TestDialSSERelativeEndpoint(t *testing.T) {
	// The endpoint is resolved against the SSE URL.
	srv := NewSSEServer(&SSEServerOptions{Endpoint: "messages"})
	mux := http.NewServeMux()
	mux.Handle("/base/sse", srv)
	mux.Handle("/base/messages", srv)
	ts, ps := serve(t, srv, mux)
	c := dialSSE(t, ts.URL+"/base/sse")
	ps.next(t)
	send(t, c, initReq)
	expect(t, c, jsonrpc.KindResult, "1", "1")
}
