package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/session"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// SSEServerOptions configures an [SSEServer]. The zero value is usable.
type SSEServerOptions struct {
	// AllowedOrigins is as for [HTTPServerOptions.AllowedOrigins].
	AllowedOrigins []string
	// MaxBodySize bounds a POST body; a larger one is answered 413. Zero
	// means [DefaultMaxBodySize].
	MaxBodySize int64
	// Endpoint is the URL (usually an absolute path such as "/messages")
	// that the endpoint event tells clients to POST to; the server adds a
	// session query parameter. Empty means the path of the GET request:
	// the SSEServer then serves GET and POST on one path. Either way the
	// SSEServer must also be routed the POSTs.
	Endpoint string
	// MaxQueued bounds the messages waiting to be written on a session's
	// stream; Send blocks while it is full. Zero means [DefaultMaxQueued].
	MaxQueued int
	// KeepAlive, when positive, is the interval of SSE comment lines
	// written on an idle stream.
	KeepAlive time.Duration
	// IdleTimeout ends a session that has had no request in flight for
	// that long, as for [HTTPServerOptions.IdleTimeout]. The session's
	// open GET stream counts as a request in flight, and the session ends
	// when that stream does, so this is a backstop: a session the server
	// still streams to never expires. Zero means sessions never expire.
	IdleTimeout time.Duration
	// MaxSessions is as for [HTTPServerOptions.MaxSessions]: at the limit
	// a new session evicts the least recently used one, whose stream
	// then ends. Zero means [session.DefaultMaxSessions].
	MaxSessions int
	// BindHeaders is as for [HTTPServerOptions.BindHeaders]: the headers
	// of the GET that opens a session bind it, and a POST for the session
	// with other values is answered 403. Nil means [DefaultBindHeader];
	// an empty non-nil slice turns binding off.
	BindHeaders []string
	// Logger receives diagnostics. Nil means [slog.Default].
	Logger *slog.Logger
}

// sessionParam is the query parameter that names a legacy session.
const sessionParam = "session"

// SSEServer is the client-facing side of the legacy HTTP+SSE transport of
// 2024-11-05: an [http.Handler] that serves both the SSE stream (GET) and
// the message endpoint (POST), turning each stream into a [Conn] that
// [SSEServer.Accept] hands to the relay.
//
// GET opens a session: once the relay accepts it, the answer is a
// text/event-stream whose first event is "endpoint", with data the POST URL
// carrying the session key (Endpoint?session=KEY). Everything the relay
// Sends follows as "event: message". The session ends when the client
// drops the stream (Recv returns an error wrapping io.EOF) or the relay
// closes the Conn (the stream ends). Legacy streams cannot be resumed.
//
// POST to the endpoint URL delivers one frame to Recv and is answered 202.
// Statuses: 403 for an Origin that is not allowed (any method) and for a
// POST whose BindHeaders (Authorization) differ from those of the GET that
// opened the session; 405 for methods other than GET and POST; 406 for a
// GET whose Accept does not admit text/event-stream; 400 for a POST
// without a session parameter or with a body that is not a JSON-RPC
// message (the JSON-RPC error is the body); 404 for an unknown, ended or
// evicted session; 415 for a Content-Type other than application/json; 413
// for a body over MaxBodySize.
type SSEServer struct {
	opts     SSEServerOptions
	logger   *slog.Logger
	bind     binder
	accept   chan *sseSession
	done     chan struct{}
	once     sync.Once
	sessions *session.Registry[*sseSession]
}

// NewSSEServer returns an SSEServer configured by opts (nil for the
// defaults). With an IdleTimeout it starts goroutines that Close stops
// (except the LRU's sweeper: see [session.Registry]).
func NewSSEServer(opts *SSEServerOptions) *SSEServer {
	s := &SSEServer{
		accept: make(chan *sseSession),
		done:   make(chan struct{}),
	}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.MaxBodySize <= 0 {
		s.opts.MaxBodySize = DefaultMaxBodySize
	}
	if s.opts.MaxQueued <= 0 {
		s.opts.MaxQueued = DefaultMaxQueued
	}
	if s.opts.MaxSessions <= 0 {
		s.opts.MaxSessions = session.DefaultMaxSessions
	}
	if s.opts.IdleTimeout > 0 {
		s.opts.IdleTimeout = max(s.opts.IdleTimeout, session.MinIdleTTL)
	}
	s.logger = s.opts.Logger
	if s.logger == nil {
		s.logger = slog.Default()
	}
	s.bind = newBinder(s.opts.BindHeaders)
	s.sessions = session.New(session.Options[*sseSession]{
		MaxSessions: s.opts.MaxSessions,
		IdleTTL:     s.opts.IdleTimeout,
		Busy:        (*sseSession).busy,
		OnEnd: func(id string, sess *sseSession, why session.Reason) {
			sess.terminate(endError("SSE", id, why, s.opts.MaxSessions, s.opts.IdleTimeout), false)
		},
		Logger: s.logger,
	})
	return s
}

// Accept waits for the next session and returns its Conn, which also
// implements [SessionIDer]. A GET waits until its session is accepted. It
// returns ctx's error, or [ErrClosed] once the server is closed.
func (s *SSEServer) Accept(ctx context.Context) (Conn, error) {
	select {
	case sess := <-s.accept:
		return sess, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrClosed
	}
}

// Close ends every session and makes Accept return ErrClosed. It does not
// close any listener.
func (s *SSEServer) Close() error {
	s.once.Do(func() { close(s.done) })
	s.sessions.Close()
	return nil
}

// ServeHTTP serves the SSE stream (GET) and the message endpoint (POST).
func (s *SSEServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !originAllowed(r, s.opts.AllowedOrigins) {
		writeError(w, http.StatusForbidden, jsonrpc.CodeInvalidRequest, "Forbidden: origin not allowed")
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.serveGET(w, r)
	case http.MethodPost:
		s.servePOST(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, jsonrpc.CodeInvalidRequest, "Method Not Allowed")
	}
}

// endpointURL returns the endpoint event's data for session key.
func (s *SSEServer) endpointURL(r *http.Request, key string) string {
	ep := s.opts.Endpoint
	if ep == "" {
		ep = r.URL.EscapedPath()
	}
	sep := "?"
	if strings.Contains(ep, "?") {
		sep = "&"
	}
	return ep + sep + sessionParam + "=" + url.QueryEscape(key)
}

// serveGET opens a session and writes its stream.
func (s *SSEServer) serveGET(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, jsonrpc.CodeInvalidRequest, "Not Acceptable: Accept must admit text/event-stream")
		return
	}
	sess := &sseSession{
		srv:    s,
		key:    newSessionID(),
		cred:   s.bind.credentials(r),
		in:     newInbox(serverQueue),
		out:    make(chan []byte, s.opts.MaxQueued),
		done:   make(chan struct{}),
		active: 1, // this GET, for the session's whole life
	}
	sess.seeRequest(r)
	if err := s.sessions.Add(sess.key, sess); err != nil {
		writeError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "Service Unavailable: server closed")
		return
	}
	ctx := r.Context()
	select {
	case s.accept <- sess:
	case <-ctx.Done():
		sess.terminate(ErrClosed, true)
		return
	case <-s.done:
		sess.terminate(ErrClosed, true)
		writeError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "Service Unavailable: server closed")
		return
	}
	s.logger.Debug("transport: SSE session started", "session", sess.key)

	rc := http.NewResponseController(w)
	setSSEHeaders(w.Header())
	rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	buf := appendSSE(nil, "", "endpoint", []byte(s.endpointURL(r, sess.key)))
	if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
		sess.terminate(fmt.Errorf("transport: SSE session %s: client went away: %w", sess.key, io.EOF), false)
		return
	}
	var keepAlive <-chan time.Time
	if ka := s.opts.KeepAlive; ka > 0 {
		t := time.NewTicker(ka)
		defer t.Stop()
		keepAlive = t.C
	}
	for {
		buf = buf[:0]
		select {
		case data := <-sess.out:
			buf = appendSSE(buf, "", "message", data)
			// Write what else is queued in the same flush.
			for more := true; more; {
				select {
				case data := <-sess.out:
					buf = appendSSE(buf, "", "message", data)
				default:
					more = false
				}
			}
		case <-keepAlive:
			buf = append(buf, ": keep-alive\n\n"...)
		case <-ctx.Done():
			sess.terminate(fmt.Errorf("transport: SSE session %s: client went away: %w", sess.key, io.EOF), false)
			return
		case <-sess.done:
			// Write what the relay sent before it closed the session.
			for more := true; more; {
				select {
				case data := <-sess.out:
					buf = appendSSE(buf, "", "message", data)
				default:
					more = false
				}
			}
			if len(buf) > 0 {
				w.Write(buf)
				rc.Flush()
			}
			return
		}
		if _, err := w.Write(buf); err != nil || rc.Flush() != nil {
			sess.terminate(fmt.Errorf("transport: SSE session %s: client went away: %w", sess.key, io.EOF), false)
			return
		}
	}
}

// servePOST delivers a POSTed frame to its session.
func (s *SSEServer) servePOST(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get(sessionParam)
	if key == "" {
		writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "Bad Request: missing "+sessionParam+" parameter")
		return
	}
	sess, ok := s.sessions.Peek(key)
	if !ok {
		writeError(w, http.StatusNotFound, jsonrpc.CodeInvalidRequest, "Not Found: unknown or ended session")
		return
	}
	if !s.bind.allows(w, r, s.logger, key, sess.cred) {
		return
	}
	if !sess.begin() {
		writeError(w, http.StatusNotFound, jsonrpc.CodeInvalidRequest, "Not Found: unknown or ended session")
		return
	}
	s.sessions.Touch(key)
	defer sess.end()
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
	sess.seeRequest(r)
	msg := Message{Raw: body, Trace: traceHeaders(r.Header)}
	if !f.Batch && f.Messages[0].IsResponse() {
		msg.Related = f.Messages[0].ID
	}
	if err := sess.in.put(r.Context(), item{msg: msg}); err != nil {
		if r.Context().Err() == nil {
			writeError(w, http.StatusNotFound, jsonrpc.CodeInvalidRequest, "Not Found: session ended")
		}
		return
	}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "Accepted")
}

// sseSession is one legacy HTTP+SSE session, and its Conn.
type sseSession struct {
	peerInfo // the client, as of its latest request (PeerAddresser)

	srv  *SSEServer
	key  string
	cred credentials // of the GET that opened the session
	in   *inbox
	out  chan []byte
	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	ended  bool
	active int // requests in flight, the GET stream included
}

// SessionID returns the session key of the endpoint URL.
func (sess *sseSession) SessionID() string { return sess.key }

// begin records a POST in flight; it reports false when the session has
// ended.
func (sess *sseSession) begin() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return false
	}
	sess.active++
	return true
}

// end records the end of a POST in flight, touching the session when no
// request is left in flight.
func (sess *sseSession) end() {
	sess.mu.Lock()
	sess.active--
	idle := sess.active == 0 && !sess.ended
	sess.mu.Unlock()
	if idle {
		sess.srv.sessions.Touch(sess.key)
	}
}

// busy reports whether a request is in flight (the GET stream counts).
// The session registry calls it under its lock.
func (sess *sseSession) busy() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.active > 0
}

// terminate ends the session; Recv returns err (at once when drop is set).
func (sess *sseSession) terminate(err error, drop bool) {
	sess.once.Do(func() {
		sess.mu.Lock()
		sess.ended = true
		sess.mu.Unlock()
		close(sess.done)
		sess.srv.sessions.Remove(sess.key)
		sess.in.finish(err, drop)
		sess.srv.logger.Debug("transport: SSE session ended", "session", sess.key, "reason", err)
	})
}

// Recv returns the next frame the client POSTed, or an error wrapping
// io.EOF once the client dropped the stream.
func (sess *sseSession) Recv(ctx context.Context) (Message, error) {
	return sess.in.recv(ctx)
}

// Send queues m to go out as an "event: message" on the session's stream,
// waiting while MaxQueued messages are queued. Related is not used: the
// legacy transport has one stream.
func (sess *sseSession) Send(ctx context.Context, m Message) error {
	select {
	case <-sess.done:
		return fmt.Errorf("transport: SSE session %s: %w", sess.key, ErrClosed)
	default:
	}
	select {
	case sess.out <- bytes.Clone(m.Raw):
		return nil
	case <-sess.done:
		return fmt.Errorf("transport: SSE session %s: %w", sess.key, ErrClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the session and its stream; Recv returns ErrClosed.
func (sess *sseSession) Close() error {
	sess.terminate(ErrClosed, true)
	return nil
}
