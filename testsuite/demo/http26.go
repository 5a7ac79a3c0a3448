package demo

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// The stateless Streamable HTTP transport of 2026-07-28 (REVISIONS.md
// 4.T1 to 4.T8), as the demo serves it at PathMCP:
//
//   - A request whose Origin header names a host other than a loopback
//     one gets 403 (the transport's Origin rule, kept by 2026-07-28).
//   - POST only; GET and DELETE get 405 (4.T2, 4.T3). No Mcp-Session-Id is
//     minted or read (4.T1).
//   - Every POST carries one JSON-RPC request or notification (a client
//     sends no responses, 4.J1; no batches) and is independent of every
//     other: it is answered by a session.Peer of its own.
//   - Mirrored headers (4.T5): MCP-Protocol-Version must be present and
//     equal the body's _meta protocolVersion, Mcp-Method must equal the
//     method, and Mcp-Name params.name (tools/call, prompts/get) or
//     params.uri (resources/read); Base64 sentinel values
//     (=?base64?...?=) are decoded first. The Mcp-Param-* headers of a
//     tools/call must mirror the arguments its tool's inputSchema
//     annotates with x-mcp-header (the route tool), as
//     transport.CheckParamHeaders checks. A missing, repeated or
//     mismatched header is 400 with -32020.
//   - Statuses (4.T6): a notification gets 202. An error found before the
//     request is handled is 400 (-32020, -32022, -32602 for missing
//     _meta, ...) or 404 for an unknown method (-32601). A response that
//     comes first goes out as application/json: 400 for -32020, -32021
//     and -32022, 404 for -32601, else 200. Anything the server sends
//     before the response (progress, log messages, the listen stream)
//     switches the answer to text/event-stream, with X-Accel-Buffering: no
//     and ": keep-alive" comments (4.T7); the events carry no id and
//     no retry (4.T4).
//   - Closing the response stream is the client's cancellation (4.M8): the
//     request is cancelled as a notifications/cancelled would on stdio, and
//     nothing is sent. A notifications/cancelled POSTed over HTTP is
//     accepted (202) and ignored.

// keepAliveInterval is how often an open SSE answer gets a comment.
const keepAliveInterval = 15 * time.Second

// serveHTTPStateless is ServeHTTP for 2026-07-28.
func serveHTTPStateless(ctx context.Context, s *Server, ln net.Listener) error {
	ending := make(chan struct{})
	st := &stateless{srv: s, ending: ending, listens: newCounter()}
	// Requests outlive ctx a little: open listens answer first.
	reqCtx, stopRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRequests()
	h := &statelessHTTP{st: st, ctx: reqCtx, keepAlive: keepAliveInterval}
	mux := http.NewServeMux()
	mux.Handle(PathMCP, h)
	mux.HandleFunc(PathStats, s.serveStats)
	mux.HandleFunc(PathHealth, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	addr := ln.Addr().String()
	srv := &http.Server{Handler: s.protect(mux, addr), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("demo-server listening", "addr", addr, "revision", s.rev.String(), "streamable_http", "http://"+addr+PathMCP)
	var err error
	select {
	case err = <-serveErr:
		err = fmt.Errorf("demo: serve HTTP: %w", err)
	case <-ctx.Done():
	}
	close(ending)
	st.drain()
	stopRequests()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	s.log.Info("demo-server stopped", "addr", addr)
	return err
}

// statelessHTTP is the http.Handler of the 2026-07-28 MCP endpoint.
type statelessHTTP struct {
	st        *stateless
	ctx       context.Context // ends when the server stops its requests
	keepAlive time.Duration
}

// httpError writes a JSON-RPC error response with an HTTP status.
func httpError(w http.ResponseWriter, status int, id json.RawMessage, code int, message string, data any) {
	writeJSON(w, status, jsonrpc.ErrorResponse(id, code, message, data))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// accepts reports whether the Accept header admits the media type.
func accepts(r *http.Request, mt string) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			m, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && (m == mt || m == "*/*" || m == strings.SplitN(mt, "/", 2)[0]+"/*") {
				return true
			}
		}
	}
	return false
}

// statusOf is the HTTP status of a JSON-RPC error answered before any
// stream began (REVISIONS.md 4.T5, 4.T6).
func statusOf(code int) int {
	switch code {
	case jsonrpc.CodeMethodNotFound:
		return http.StatusNotFound
	case fixture.CodeHeaderMismatch, fixture.CodeMissingRequiredClientCapability, fixture.CodeUnsupportedProtocolVersion:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// localOrigin reports whether a request's Origin header is absent or
// names a loopback host (localhost, 127.0.0.0/8, ::1): the demo listens
// on the loopback interface, so a page of any other origin reaching it
// is a DNS rebinding attack.
func localOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Hostname(), "localhost") {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP serves one POST.
func (h *statelessHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.st.srv
	if !localOrigin(r) {
		// Servers MUST validate Origin and answer an invalid one 403,
		// with a body that MAY be an id-less JSON-RPC error.
		httpError(w, http.StatusForbidden, nil, jsonrpc.CodeInvalidRequest, "Forbidden: Origin "+r.Header.Get("Origin")+" is not allowed", nil)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, nil, jsonrpc.CodeInvalidRequest, "Method Not Allowed: 2026-07-28 has only POST", nil)
		return
	}
	if !accepts(r, "application/json") || !accepts(r, "text/event-stream") {
		httpError(w, http.StatusNotAcceptable, nil, jsonrpc.CodeInvalidRequest, "Not Acceptable: Accept must admit application/json and text/event-stream", nil)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		httpError(w, http.StatusUnsupportedMediaType, nil, jsonrpc.CodeInvalidRequest, "Unsupported Media Type: Content-Type must be application/json", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, transport.DefaultMaxBodySize))
	if err != nil {
		httpError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.CodeInvalidRequest, "Request Entity Too Large", nil)
		return
	}
	m, err := jsonrpc.Parse(body)
	if err != nil {
		var je *jsonrpc.Error
		errors.As(err, &je)
		writeJSON(w, http.StatusBadRequest, je.Response())
		return
	}
	if m.IsResponse() {
		httpError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "Invalid Request: a client sends no responses in "+s.rev.String(), nil)
		return
	}
	if code, msg := checkHeaders(s.rev, r.Header, m); code != 0 {
		httpError(w, http.StatusBadRequest, m.ID, code, msg, nil)
		return
	}
	checked, code, msg := s.checkParamHeaders(r.Header, m)
	if code != 0 {
		httpError(w, http.StatusBadRequest, m.ID, code, msg, nil)
		return
	}
	if m.IsRequest() {
		if v, ok := requestedVersion(m.Params); ok && v != s.rev.String() {
			je := unsupportedVersion(s.rev, v)
			httpError(w, http.StatusBadRequest, m.ID, je.Code, je.Message, je.Data)
			return
		}
	}
	if s.strict {
		if err := s.validator.Validate(s.rev, m, schemas.Check{From: schemas.FromClient}); err != nil {
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				httpError(w, http.StatusInternalServerError, m.ID, jsonrpc.CodeInternalError, err.Error(), nil)
				return
			}
			status := http.StatusBadRequest
			if ve.Code() == jsonrpc.CodeMethodNotFound {
				status = http.StatusNotFound
			}
			httpError(w, status, m.ID, ve.Code(), ve.Error(), map[string]any{"issues": ve.Issues})
			return
		}
	}
	if m.IsNotification() {
		// On HTTP a client cancels by closing the stream (4.M8); a
		// notifications/cancelled names a request of another POST,
		// which nothing here can reach.
		s.log.Debug("demo: notification over HTTP ignored", "method", m.Method)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !m.IsRequest() {
		httpError(w, http.StatusBadRequest, nil, jsonrpc.CodeInvalidRequest, "Invalid Request", nil)
		return
	}
	pc := &postConn{
		w: w, rc: http.NewResponseController(w), reqCtx: r.Context(), log: s.log,
		id: m.ID, request: body, keepAlive: h.keepAlive, finished: make(chan struct{}),
	}
	peer := h.st.newPeer(pc, checked, func(*session.Request, session.Outcome) { pc.finish() })
	if err := peer.Run(h.ctx); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("demo: request failed", "err", err)
	}
	pc.close()
}

// checkHeaders checks the headers that mirror the body (4.T5). It
// returns -32020 and a message, or 0.
func checkHeaders(rev schemas.Revision, h http.Header, m *jsonrpc.Message) (int, string) {
	single := func(name string) (string, string) {
		vs := h.Values(name)
		switch len(vs) {
		case 0:
			return "", "Header mismatch: missing " + name + " header"
		case 1:
			return vs[0], ""
		}
		return "", "Header mismatch: repeated " + name + " header"
	}
	pv, problem := single(transport.HeaderProtocolVersion)
	if problem != "" {
		return fixture.CodeHeaderMismatch, problem
	}
	method, problem := single(fixture.HeaderMethod)
	if problem != "" {
		return fixture.CodeHeaderMismatch, problem
	}
	if method != m.Method {
		return fixture.CodeHeaderMismatch, fmt.Sprintf("Header mismatch: %s header value %q does not match body value %q", fixture.HeaderMethod, method, m.Method)
	}
	var p map[string]json.RawMessage
	_ = json.Unmarshal(m.Params, &p)
	var meta struct {
		Version *string `json:"io.modelcontextprotocol/protocolVersion"`
	}
	_ = json.Unmarshal(p["_meta"], &meta)
	switch {
	case meta.Version != nil && *meta.Version != pv:
		return fixture.CodeHeaderMismatch, fmt.Sprintf("Header mismatch: %s header value %q does not match body value %q", transport.HeaderProtocolVersion, pv, *meta.Version)
	case m.IsNotification() && pv != rev.String():
		// A notification has no _meta version: the header is all there is.
		return fixture.CodeUnsupportedProtocolVersion, "Unsupported protocol version: " + pv
	}
	if member := fixture.NameHeaderMember(m.Method); member != "" {
		var body string
		if json.Unmarshal(p[member], &body) == nil {
			name, problem := single(fixture.HeaderName)
			if problem != "" {
				return fixture.CodeHeaderMismatch, problem
			}
			decoded, ok := decodeHeaderValue(name)
			if !ok {
				return fixture.CodeHeaderMismatch, fmt.Sprintf("Header mismatch: malformed %s header %q", fixture.HeaderName, name)
			}
			if decoded != body {
				return fixture.CodeHeaderMismatch, fmt.Sprintf("Header mismatch: %s header value %q does not match body value %q", fixture.HeaderName, name, body)
			}
		}
	}
	return 0, ""
}

// decodeHeaderValue decodes a header value that may use the Base64
// sentinel =?base64?<standard Base64 of UTF-8>?= (4.T5).
func decodeHeaderValue(v string) (string, bool) {
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, true
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(inner)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// postConn is the transport.Conn of one POST: Recv yields its request
// once, Send writes the answer (JSON, or SSE once something precedes the
// response). When the client goes away before the response, Recv yields a
// notifications/cancelled for the request, so that the Peer cancels it as
// on stdio.
type postConn struct {
	w         http.ResponseWriter
	rc        *http.ResponseController
	reqCtx    context.Context
	log       *slog.Logger
	id        json.RawMessage
	request   []byte
	keepAlive time.Duration

	finished   chan struct{} // closed by finish: nothing more to receive
	finishOnce sync.Once

	mu        sync.Mutex
	delivered bool // the request went to Recv
	cancelled bool // the synthetic notifications/cancelled went to Recv
	started   bool // the status line is written
	sse       bool
	responded bool
	closed    bool // the handler has returned: w is off limits
}

var _ transport.Conn = (*postConn)(nil)

// finish ends the exchange: Recv returns io.EOF from now on.
func (c *postConn) finish() { c.finishOnce.Do(func() { close(c.finished) }) }

// Recv returns the request, then (if the client goes away first) a
// notifications/cancelled for it, then io.EOF once the request is done.
func (c *postConn) Recv(ctx context.Context) (transport.Message, error) {
	c.mu.Lock()
	if !c.delivered {
		c.delivered = true
		c.mu.Unlock()
		return transport.Message{Raw: c.request}, nil
	}
	c.mu.Unlock()
	gone := c.reqCtx.Done()
	for {
		select {
		case <-c.finished:
			return transport.Message{}, io.EOF
		case <-ctx.Done():
			return transport.Message{}, ctx.Err()
		case <-gone:
			gone = nil
			c.mu.Lock()
			send := !c.responded && !c.cancelled
			c.cancelled = true
			c.mu.Unlock()
			if send {
				raw, err := json.Marshal(map[string]any{
					"jsonrpc": "2.0", "method": "notifications/cancelled",
					"params": map[string]any{"requestId": c.id, "reason": "the client closed the HTTP stream"},
				})
				if err != nil {
					return transport.Message{}, fmt.Errorf("demo: %w", err)
				}
				return transport.Message{Raw: raw}, nil
			}
		}
	}
}

// Send writes m to the POST's answer.
func (c *postConn) Send(ctx context.Context, m transport.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, err := jsonrpc.Parse(m.Raw)
	if err != nil {
		return fmt.Errorf("demo: send: %w", err)
	}
	isResponse := msg.IsResponse() && jsonrpc.IDKey(msg.ID) == jsonrpc.IDKey(c.id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.responded {
		return transport.ErrClosed
	}
	if isResponse {
		c.responded = true
		defer c.finish()
	}
	if !c.started {
		c.started = true
		if isResponse {
			status := http.StatusOK
			if msg.Kind == jsonrpc.KindError {
				var e struct {
					Code int `json:"code"`
				}
				if json.Unmarshal(msg.Error, &e) == nil {
					status = statusOf(e.Code)
				}
			}
			writeJSON(c.w, status, m.Raw)
			return nil
		}
		c.startSSE()
	}
	if _, err := fmt.Fprintf(c.w, "event: message\ndata: %s\n\n", m.Raw); err != nil {
		return fmt.Errorf("demo: send: %w", err)
	}
	if err := c.rc.Flush(); err != nil {
		return fmt.Errorf("demo: send: %w", err)
	}
	return nil
}

// startSSE begins an event-stream answer and its keep-alive comments.
// c.mu is held.
func (c *postConn) startSSE() {
	c.sse = true
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	c.rc.Flush()
	go func() {
		t := time.NewTicker(c.keepAlive)
		defer t.Stop()
		for {
			select {
			case <-c.finished:
				return
			case <-t.C:
				c.mu.Lock()
				if !c.closed && !c.responded {
					fmt.Fprint(c.w, ": keep-alive\n\n")
					c.rc.Flush()
				}
				c.mu.Unlock()
			}
		}
	}()
}

// close is called when the POST's handler returns: a request that got no
// answer at all (the server stopped) gets 503.
func (c *postConn) close() {
	c.finish()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started && c.reqCtx.Err() == nil {
		c.started = true
		httpError(c.w, http.StatusServiceUnavailable, c.id, jsonrpc.CodeInternalError, "Service Unavailable: the server is stopping", nil)
	}
	c.closed = true
}

// Close implements transport.Conn; the POST ends when its handler
// returns.
func (c *postConn) Close() error {
	c.finish()
	return nil
}
