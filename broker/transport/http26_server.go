package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// DefaultKeepAlive2026 is the interval of SSE keep-alive comments of an
// [HTTP2026Server] whose options set none.
const DefaultKeepAlive2026 = 15 * time.Second

// ErrNoRequest is returned, wrapped, by Send on an [HTTP2026Server]'s Conn
// for a message that belongs to no pending request: its client went away
// (the request was cancelled), it was answered already, or it never was.
var ErrNoRequest = errors.New("transport: no such pending request")

// RequestHeaders is implemented by the Conn of an [HTTP2026Server], whose
// requests come from many HTTP clients: it tells the relay which HTTP
// request a JSON-RPC request came in, for what is per client in a
// stateless protocol (the credentials, REVISIONS.md 4.L1's pool key).
type RequestHeaders interface {
	// RequestHeader returns a copy of the HTTP headers of the POST that
	// carried the pending request with that id (in the Conn's id space),
	// and false when no such request is pending.
	RequestHeader(id json.RawMessage) (http.Header, bool)
}

// HTTP2026ServerOptions configures an [HTTP2026Server]. The zero value is
// usable.
type HTTP2026ServerOptions struct {
	// AllowedOrigins lists the Origin header values accepted from
	// browsers; "*" accepts any. Empty means loopback origins only. A
	// request with another Origin is answered 403. Requests without Origin
	// are always accepted.
	AllowedOrigins []string
	// MaxBodySize bounds a POST body; a larger one is answered 413. Zero
	// means [DefaultMaxBodySize].
	MaxBodySize int64
	// MaxQueued bounds the messages waiting to be written on one request's
	// stream. Zero means [DefaultMaxQueued].
	MaxQueued int
	// KeepAlive is the interval of SSE comment lines on a stream with
	// nothing to write (REVISIONS.md 4.T7); a request whose answer has not
	// begun after that long is answered as SSE from then on. Zero means
	// [DefaultKeepAlive2026]; negative turns keep-alives off.
	KeepAlive time.Duration
	// Revisions lists the revisions served. Zero means 2026-07-28 alone;
	// revisions with a handshake are ignored.
	Revisions []schemas.Revision
	// ParamHeaders, when set, returns the x-mcp-header annotations of a
	// tool (from [ParseParamHeaders] on its input schema), and false when
	// the tool is unknown; the Mcp-Param-* headers of a tools/call of a
	// known tool are then checked with [CheckParamHeaders]. Nil means they
	// are not checked.
	ParamHeaders func(toolName string) ([]ParamHeader, bool)
	// Logger receives diagnostics. Nil means [slog.Default].
	Logger *slog.Logger
}

// HTTP2026Server is the client-facing side of the 2026-07-28 Streamable
// HTTP transport: an [http.Handler] for the MCP endpoint, and one [Conn]
// for the whole endpoint, which [HTTP2026Server.Accept] hands to the
// relay.
//
// # One Conn, namespaced ids
//
// 2026-07-28 has no sessions (REVISIONS.md 4.T1): every POST is a request
// on its own, carrying its revision and capabilities in _meta. So the
// server does not invent sessions: every request from every HTTP client
// reaches Recv of the one Conn, the way requests of one session do on
// [HTTPServer], and the relay answers them with Send, which routes each
// response to the POST still open for its request. The relay keeps one
// loop and one id map for the endpoint, and what is per request (the
// _meta, the credentials through [RequestHeaders]) comes with the request.
//
// Ids of different HTTP clients may collide, so the server rewrites each
// request's JSON-RPC id, on the way in, to a server-unique string id
// ("h26-1", "h26-2", ...; only the id member changes, the rest of the body
// stays byte for byte), and restores the client's id on the way out: in
// the response's id, and in
// _meta["io.modelcontextprotocol/subscriptionId"] of the notifications
// and final result of a subscriptions/listen stream, which equals the
// listen request's id (4.M3, 0.2 rule 3). Everything the relay sends for a
// request names it by the server's id: a response by its id, a
// notification by Message.Related.
//
// # Cancellation
//
// Closing a response stream is how a 2026 client cancels (4.M8). When the
// POST of a request that has not been answered goes away, Recv yields a
// synthesized notification, with Related = the request's server id:
//
//	{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"h26-7","reason":"..."}}
//
// which the relay handles like a client's cancel (for a legacy upstream, a
// notifications/cancelled upstream). Later Sends for that request fail with
// [ErrNoRequest]. The other way round, the relay ends a request's stream
// without a response by sending notifications/cancelled whose requestId
// is the request's server id: the stream closes and the message is not
// written (on HTTP closing the stream is the signal; 4.M3's teardown of a
// subscriptions/listen).
//
// # Requests and statuses
//
//   - Any method with an Origin that is not allowed: 403.
//   - GET and DELETE (4.T2, 4.T3) and other methods but POST: 405 with
//     Allow: POST.
//   - POST whose Accept does not admit application/json and
//     text/event-stream: 406; Content-Type not application/json: 415; body
//     over MaxBodySize: 413; not JSON-RPC: 400 with -32700 or -32600; a
//     batch or a response (2026 clients send neither, 4.J1): 400 -32600.
//   - A request, with its id in the error: MCP-Protocol-Version missing,
//     repeated, or unlike params._meta["io.modelcontextprotocol/protocolVersion"]:
//     400 -32020; that _meta member or
//     "io.modelcontextprotocol/clientCapabilities" missing: 400 -32602
//     (4.L1); a version not in Revisions: 400 -32022 with data
//     {supported, requested} (4.L3); Mcp-Method missing or unlike the
//     method, Mcp-Name missing, malformed or unlike params.name or
//     params.uri (for tools/call, prompts/get, resources/read; Base64
//     sentinel decoded first), or Mcp-Param-* headers that
//     [CheckParamHeaders] refuses: 400 -32020 (4.T5).
//   - A notification: 202 once queued for Recv (with Mcp-Method, when
//     present, equal to the method; header rules for notifications are
//     not defined by 2026-07-28). A client's notifications/cancelled is
//     answered 202 and dropped: without sessions it cannot be told which
//     request it means, and on HTTP closing the stream is the cancel.
//   - A request otherwise goes to Recv, and the answer is
//     application/json when the relay's first message for it is the
//     response, with status 404 when that is an error -32601 (unknown
//     method, 4.T5), 400 when it is -32020, -32021 or -32022 (4.T6), else
//     200; text/event-stream (with X-Accel-Buffering: no, 4.T7) when the
//     relay sends a notification first or the answer has not begun within
//     KeepAlive. SSE events carry no ids (4.T4); keep-alive comments are
//     written every KeepAlive. The stream ends after the response.
//
// Mcp-Session-Id and Last-Event-ID headers are ignored.
type HTTP2026Server struct {
	opts      HTTP2026ServerOptions
	logger    *slog.Logger
	supported []schemas.Revision
	conn      *http26Conn
	accept    chan *http26Conn // holds conn until Accept takes it
	done      chan struct{}
	once      sync.Once
}

// NewHTTP2026Server returns an HTTP2026Server configured by opts (nil for
// the defaults).
func NewHTTP2026Server(opts *HTTP2026ServerOptions) *HTTP2026Server {
	s := &HTTP2026Server{accept: make(chan *http26Conn, 1), done: make(chan struct{})}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MaxBodySize <= 0 {
		s.opts.MaxBodySize = DefaultMaxBodySize
	}
	if s.opts.MaxQueued <= 0 {
		s.opts.MaxQueued = DefaultMaxQueued
	}
	if s.opts.KeepAlive == 0 {
		s.opts.KeepAlive = DefaultKeepAlive2026
	}
	for _, r := range s.opts.Revisions {
		if r.Stateless() && !slices.Contains(s.supported, r) {
			s.supported = append(s.supported, r)
		}
	}
	if len(s.supported) == 0 {
		s.supported = []schemas.Revision{schemas.V20260728}
	}
	s.logger = s.opts.Logger
	if s.logger == nil {
		s.logger = slog.Default()
	}
	c := &http26Conn{srv: s, in: newInbox(serverQueue2026), reqs: make(map[string]*req26)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	s.conn = c
	s.accept <- c
	return s
}

// serverQueue2026 is how many requests an HTTP2026Server's Conn holds
// ahead of Recv; POST handlers wait while it is full.
const serverQueue2026 = 64

// Accept returns the endpoint's Conn the first time it is called; it also
// implements [RequestHeaders]. Later calls wait until the server is closed
// and return [ErrClosed], or ctx's error. Requests POSTed before Accept
// wait for the relay to Recv them.
func (s *HTTP2026Server) Accept(ctx context.Context) (Conn, error) {
	select {
	case <-s.done:
		return nil, ErrClosed
	default:
	}
	select {
	case c := <-s.accept:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrClosed
	}
}

// Close ends the Conn (its Recv returns an error wrapping io.EOF once the
// queued requests are taken; pending requests' streams end, a request not
// yet answered at all gets 503) and makes Accept return ErrClosed. Later
// POSTs get 503. It does not close any listener.
func (s *HTTP2026Server) Close() error {
	s.once.Do(func() { close(s.done) })
	s.conn.terminate(fmt.Errorf("transport: HTTP 2026 server closed: %w", io.EOF), false)
	return nil
}

// ServeHTTP serves the MCP endpoint. See HTTP2026Server for the statuses.
func (s *HTTP2026Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !originAllowed(r, s.opts.AllowedOrigins) {
		writeError(w, http.StatusForbidden, jsonrpc.CodeInvalidRequest, "Forbidden: origin not allowed")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, jsonrpc.CodeInvalidRequest,
			"Method Not Allowed: a 2026-07-28 MCP endpoint takes POST only")
		return
	}
	if !accepts(r, "application/json") || !accepts(r, "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, jsonrpc.CodeInvalidRequest, "Not Acceptable: Accept must admit application/json and text/event-stream")
		return
	}
	if mediaType(r.Header.Get("Content-Type")) != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, jsonrpc.CodeInvalidRequest, "Unsupported Media Type: Content-Type must be application/json")
		return
	}
	body, ok := readBody(w, r, s.opts.MaxBodySize)
	if !ok {
		return
	}
	f, err := jsonrpc.ParseFrame(body)
	if err != nil {
		writeErrorBody(w, http.StatusBadRequest, frameError(err).Response())
		return
	}
	if f.Batch {
		writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "Bad Request: 2026-07-28 has no batches")
		return
	}
	m := f.Messages[0]
	switch {
	case m.IsResponse():
		writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "Bad Request: a 2026-07-28 client sends no responses")
	case m.IsNotification():
		s.serveNotification(w, r, m, body)
	default:
		if je := s.check(r, m); je != nil {
			s.logger.DebugContext(r.Context(), "transport: HTTP 2026 request refused", "method", m.Method, "code", je.Code, "reason", je.Message)
			writeErrorBody(w, http.StatusBadRequest, je.Response())
			return
		}
		s.conn.serveRequest(w, r, m, body)
	}
}

// serveNotification serves the POST of a notification.
func (s *HTTP2026Server) serveNotification(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message, body []byte) {
	if vals := r.Header.Values(HeaderMethod); len(vals) > 0 && (len(vals) > 1 || vals[0] != m.Method) {
		writeError(w, http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: "+HeaderMethod+" does not match the method "+strconv.Quote(m.Method))
		return
	}
	if m.Method == "notifications/cancelled" {
		s.logger.DebugContext(r.Context(), "transport: HTTP 2026 notifications/cancelled dropped (closing the stream cancels)")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if err := s.conn.in.put(r.Context(), item{msg: Message{Raw: body, Trace: traceHeaders(r.Header)}}); err != nil {
		if r.Context().Err() == nil {
			writeError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "Service Unavailable: server closed")
		}
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// mismatch returns a HeaderMismatchError for the request id.
func mismatch(id json.RawMessage, format string, args ...any) *jsonrpc.Error {
	return &jsonrpc.Error{Code: CodeHeaderMismatch, Message: "Header mismatch: " + fmt.Sprintf(format, args...), ID: id}
}

// check validates the headers of a request against its body (see
// HTTP2026Server); it returns the error to answer with 400, or nil.
func (s *HTTP2026Server) check(r *http.Request, m *jsonrpc.Message) *jsonrpc.Error {
	pv := r.Header.Values(HeaderProtocolVersion)
	switch len(pv) {
	case 0:
		return mismatch(m.ID, "missing %s header", HeaderProtocolVersion)
	case 1:
	default:
		return mismatch(m.ID, "%s header given %d times", HeaderProtocolVersion, len(pv))
	}
	ci, err := readCall(m)
	if err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Invalid params: " + err.Error(), ID: m.ID}
	}
	if !ci.hasVersion {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Invalid params: missing params._meta[" + strconv.Quote(metaProtocolVersion) + "]", ID: m.ID}
	}
	if pv[0] != ci.version {
		return mismatch(m.ID, "%s header %q does not match the body's %q", HeaderProtocolVersion, pv[0], ci.version)
	}
	if rev, err := schemas.ParseRevision(ci.version); err != nil || !slices.Contains(s.supported, rev) {
		names := make([]string, len(s.supported))
		for i, r := range s.supported {
			names[i] = r.String()
		}
		return &jsonrpc.Error{Code: CodeUnsupportedProtocolVersion, Message: "Unsupported protocol version " + strconv.Quote(ci.version),
			Data: map[string]any{"supported": names, "requested": ci.version}, ID: m.ID}
	}
	if !ci.hasCaps {
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Invalid params: missing params._meta[" + strconv.Quote(metaClientCapabilities) + "]", ID: m.ID}
	}
	if mv := r.Header.Values(HeaderMethod); len(mv) != 1 || mv[0] != m.Method {
		if len(mv) == 0 {
			return mismatch(m.ID, "missing %s header", HeaderMethod)
		}
		return mismatch(m.ID, "%s header %q does not match the method %q", HeaderMethod, mv[0], m.Method)
	}
	if k := nameKey(m.Method); k != "" {
		nv := r.Header.Values(HeaderName)
		switch len(nv) {
		case 0:
			return mismatch(m.ID, "missing %s header (%s needs it)", HeaderName, m.Method)
		case 1:
		default:
			return mismatch(m.ID, "%s header given %d times", HeaderName, len(nv))
		}
		got, err := DecodeHeaderValue(nv[0])
		if err != nil {
			return mismatch(m.ID, "%s: %v", HeaderName, err)
		}
		if !ci.hasName || got != ci.name {
			return mismatch(m.ID, "%s header %q does not match params.%s", HeaderName, got, k)
		}
	}
	if m.Method == "tools/call" && s.opts.ParamHeaders != nil && ci.hasName {
		if specs, ok := s.opts.ParamHeaders(ci.name); ok {
			if err := CheckParamHeaders(specs, ci.args, r.Header); err != nil {
				return mismatch(m.ID, "%v", err)
			}
		}
	}
	return nil
}

// http26Conn is the Conn of an HTTP2026Server.
type http26Conn struct {
	srv    *HTTP2026Server
	in     *inbox
	ctx    context.Context // ends with the Conn
	cancel context.CancelFunc
	once   sync.Once

	mu     sync.Mutex
	closed bool
	next   uint64
	reqs   map[string]*req26 // pending, by IDKey of the server id
}

// req26 is one pending request and its POST. Its fields after header are
// guarded by the Conn's mu.
type req26 struct {
	key    string          // IDKey of id
	id     json.RawMessage // the server id
	orig   json.RawMessage // the client's id
	header http.Header
	peer   Peer // the client of the POST

	queue [][]byte      // messages to write
	final bool          // the response is queued
	ended bool          // the relay ended the stream without a response
	wake  chan struct{} // closed and replaced on change
}

// notify wakes the POST handler of the request.
func (q *req26) notify() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// terminate ends the Conn: Recv returns err (at once when drop is set)
// and every pending request's handler stops.
func (c *http26Conn) terminate(err error, drop bool) {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.in.finish(err, drop)
		c.cancel()
	})
}

// register records a new request and returns it, with the frame to queue
// for Recv: the body with the server id in place of the client's.
func (c *http26Conn) register(r *http.Request, m *jsonrpc.Message, body []byte) (*req26, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, false
	}
	c.next++
	id := json.RawMessage(`"h26-` + strconv.FormatUint(c.next, 10) + `"`)
	q := &req26{key: jsonrpc.IDKey(id), id: id, orig: bytes.Clone(m.ID), header: r.Header.Clone(), wake: make(chan struct{})}
	q.peer.Address, q.peer.Port = splitHostPort(r.RemoteAddr)
	q.peer.ProtocolVersion = httpVersion(r.ProtoMajor, r.ProtoMinor)
	c.reqs[q.key] = q
	return q, replaceID(body, m, id), true
}

// replaceID returns body (holding the message m, parsed from it) with m's
// id replaced by id; the rest of body is kept byte for byte.
func replaceID(body []byte, m *jsonrpc.Message, id json.RawMessage) []byte {
	off := cap(body) - cap(m.ID)
	if len(m.ID) == 0 || off < 0 || off+len(m.ID) > len(body) || &body[off] != &m.ID[0] {
		// m.ID does not alias body: find the id member.
		start, end, ok := jsonValueAt(body, "id")
		if !ok {
			return body
		}
		return splice(body, start, end, id)
	}
	return splice(body, off, off+len(m.ID), id)
}

// splice returns a copy of b with b[start:end] replaced by v.
func splice(b []byte, start, end int, v []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(v))
	out = append(out, b[:start]...)
	out = append(out, v...)
	return append(out, b[end:]...)
}

// jsonValueAt returns where, in the JSON object raw, the value at the path
// of member names lies (the first such member at each level).
func jsonValueAt(raw []byte, path ...string) (start, end int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	for depth, key := range path {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return 0, 0, false
		}
		found := false
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return 0, 0, false
			}
			if k, _ := tok.(string); k == key {
				found = true
				break
			}
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return 0, 0, false
			}
		}
		if !found {
			return 0, 0, false
		}
		if depth == len(path)-1 {
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				return 0, 0, false
			}
			end = int(dec.InputOffset())
			start = end - len(v)
			return start, end, start >= 0 && bytes.Equal(raw[start:end], v)
		}
	}
	return 0, 0, false
}

// forget removes a request from the pending ones.
func (c *http26Conn) forget(q *req26) {
	c.mu.Lock()
	if c.reqs[q.key] == q {
		delete(c.reqs, q.key)
	}
	c.mu.Unlock()
}

// serveRequest hands a checked request to Recv and writes its answer.
func (c *http26Conn) serveRequest(w http.ResponseWriter, r *http.Request, m *jsonrpc.Message, body []byte) {
	q, raw, ok := c.register(r, m, body)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "Service Unavailable: server closed")
		return
	}
	defer c.forget(q)
	if err := c.in.put(r.Context(), item{msg: Message{Raw: raw, Trace: traceHeaders(r.Header)}}); err != nil {
		if r.Context().Err() == nil {
			writeError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "Service Unavailable: server closed")
		}
		return
	}
	c.writeAnswer(w, r, q)
}

// writeAnswer writes the answer to a request as the relay sends it, until
// the response is written, the relay ends the stream, the client goes
// away (which Recv then reports as a cancellation) or the Conn ends.
func (c *http26Conn) writeAnswer(w http.ResponseWriter, r *http.Request, q *req26) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	started := false
	start := func() bool {
		setSSEHeaders(w.Header())
		rc.SetWriteDeadline(time.Time{}) // streams outlive a server's WriteTimeout
		w.WriteHeader(http.StatusOK)
		started = true
		return rc.Flush() == nil
	}
	var keepAlive <-chan time.Time
	if ka := c.srv.opts.KeepAlive; ka > 0 {
		t := time.NewTicker(ka)
		defer t.Stop()
		keepAlive = t.C
	}
	var buf []byte
	for {
		c.mu.Lock()
		msgs := q.queue
		q.queue = nil
		final, ended, wake := q.final, q.ended, q.wake
		c.mu.Unlock()
		if len(msgs) > 0 {
			if !started && final && len(msgs) == 1 {
				writeAnswerJSON(w, msgs[0])
				return
			}
			if !started && !start() {
				c.cancelled(q, "the client's connection failed")
				return
			}
			buf = buf[:0]
			for _, m := range msgs {
				buf = appendSSE(buf, "", "", m)
			}
			if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
				c.cancelled(q, "writing to the client failed")
				return
			}
			continue
		}
		if final {
			return
		}
		if ended {
			if !started {
				start()
			}
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			c.cancelled(q, "the client closed the HTTP response stream")
			return
		case <-c.ctx.Done():
			if !started {
				writeError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "Service Unavailable: server closed")
			}
			return
		case <-keepAlive:
			if !started && !start() {
				c.cancelled(q, "the client's connection failed")
				return
			}
			if _, err := io.WriteString(w, ":\n\n"); err != nil || rc.Flush() != nil {
				c.cancelled(q, "writing to the client failed")
				return
			}
		}
	}
}

// cancelled reports to Recv that a request's client went away, unless the
// request was answered or ended (or the Conn closed) first.
func (c *http26Conn) cancelled(q *req26, reason string) {
	c.mu.Lock()
	done := q.final || q.ended || c.closed || c.reqs[q.key] != q
	delete(c.reqs, q.key)
	c.mu.Unlock()
	if done {
		return
	}
	params, _ := json.Marshal(map[string]any{"requestId": q.id, "reason": reason})
	raw := []byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":` + string(params) + `}`)
	c.srv.logger.Debug("transport: HTTP 2026 request cancelled by its client", "id", string(q.id), "client_id", string(q.orig))
	c.in.put(c.ctx, item{msg: Message{Raw: raw, Related: q.id}})
}

// writeAnswerJSON answers a POST with one JSON response, with the status
// its error code calls for (see HTTP2026Server).
func writeAnswerJSON(w http.ResponseWriter, body []byte) {
	status := http.StatusOK
	if m, err := jsonrpc.Parse(body); err == nil && m.Kind == jsonrpc.KindError {
		var e struct {
			Code int `json:"code"`
		}
		if json.Unmarshal(m.Error, &e) == nil {
			switch e.Code {
			case jsonrpc.CodeMethodNotFound:
				status = http.StatusNotFound
			case CodeHeaderMismatch, CodeMissingClientCapability, CodeUnsupportedProtocolVersion:
				status = http.StatusBadRequest
			}
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// Recv returns the next request or notification a client POSTed (requests
// with their server ids), or a synthesized notifications/cancelled for a
// request whose client went away. After Close it returns ErrClosed; after
// HTTP2026Server.Close an error wrapping io.EOF.
func (c *http26Conn) Recv(ctx context.Context) (Message, error) {
	return c.in.recv(ctx)
}

// Send routes m to the POST of the request it belongs to: a response by its
// id, a notification by m.Related (both server ids), restoring the
// client's id (see HTTP2026Server). A notifications/cancelled naming a
// pending request ends that request's stream instead. It does not wait for
// the message to be written. It fails with an error wrapping
// [ErrNoRequest] for a message of no pending request (including
// unrelated notifications: 2026 has no stream for them), [ErrQueueFull]
// when too many messages wait on the stream, and for requests and batches,
// which a 2026 server does not send.
func (c *http26Conn) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := jsonrpc.ParseFrame(m.Raw)
	if err != nil {
		return fmt.Errorf("transport: send: %w", err)
	}
	if f.Batch {
		return errors.New("transport: send: 2026-07-28 has no batches")
	}
	msg := f.Messages[0]
	var key string
	switch {
	case msg.IsRequest():
		return fmt.Errorf("transport: send: a 2026-07-28 server sends no requests (%s)", msg.Method)
	case msg.IsResponse():
		key = jsonrpc.IDKey(msg.ID)
	case msg.Method == "notifications/cancelled":
		if id, ok := cancelledID(msg); ok {
			return c.end(jsonrpc.IDKey(id))
		}
		key = jsonrpc.IDKey(m.Related)
	default:
		key = jsonrpc.IDKey(m.Related)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	q := c.reqs[key]
	if q == nil || q.final || q.ended {
		return fmt.Errorf("transport: send %s: %w", msg.Kind, ErrNoRequest)
	}
	if len(q.queue) >= c.srv.opts.MaxQueued {
		return fmt.Errorf("transport: send to request %s: %w", q.id, ErrQueueFull)
	}
	raw := restoreIDs(bytes.Clone(m.Raw), msg.IsResponse(), q)
	if msg.IsResponse() {
		q.final = true
	}
	q.queue = append(q.queue, raw)
	q.notify()
	return nil
}

// end ends the stream of the pending request key without a response.
func (c *http26Conn) end(key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	q := c.reqs[key]
	if q == nil || q.final || q.ended {
		return fmt.Errorf("transport: send notifications/cancelled: %w", ErrNoRequest)
	}
	q.ended = true
	q.notify()
	return nil
}

// restoreIDs puts the client's id back into a message for request q: the
// id of a response, and the subscriptionId in the _meta of its result or
// params when it holds the server id. The rest stays byte for byte.
func restoreIDs(raw []byte, response bool, q *req26) []byte {
	msg, err := jsonrpc.Parse(raw)
	if err != nil {
		return raw
	}
	field := "params"
	if response {
		field = "result"
		if len(msg.ID) > 0 {
			raw = replaceID(raw, msg, q.orig)
		}
	}
	if !bytes.Contains(raw, q.id[1:len(q.id)-1]) {
		return raw
	}
	start, end, ok := jsonValueAt(raw, field, "_meta", metaSubscriptionID)
	if !ok || jsonrpc.IDKey(raw[start:end]) != q.key {
		return raw
	}
	return splice(raw, start, end, q.orig)
}

// RequestHeader implements [RequestHeaders].
func (c *http26Conn) RequestHeader(id json.RawMessage) (http.Header, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.reqs[jsonrpc.IDKey(id)]
	if q == nil {
		return nil, false
	}
	return q.header.Clone(), true
}

// RequestPeer implements [RequestPeerer].
func (c *http26Conn) RequestPeer(id json.RawMessage) (Peer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.reqs[jsonrpc.IDKey(id)]
	if q == nil {
		return Peer{}, false
	}
	return q.peer, true
}

// Close ends the Conn: Recv returns ErrClosed, pending requests' streams
// end (a request not answered at all gets 503) and later POSTs get 503.
func (c *http26Conn) Close() error {
	c.terminate(ErrClosed, true)
	return nil
}
