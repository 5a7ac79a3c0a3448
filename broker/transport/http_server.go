package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/session"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// HTTPServerOptions configures an [HTTPServer]. The zero value is usable.
type HTTPServerOptions struct {
	// AllowedOrigins lists the Origin header values accepted from
	// browsers; "*" accepts any. Empty means loopback origins only. A
	// request with another Origin is answered 403 (REVISIONS.md 1.T5,
	// 3.T2). Requests without Origin are always accepted.
	AllowedOrigins []string
	// MaxBodySize bounds a POST body; a larger one is answered 413. Zero
	// means [DefaultMaxBodySize].
	MaxBodySize int64
	// DisableGET answers GET with 405: the server then offers no
	// standalone stream, and unrelated messages the relay sends are
	// refused with [ErrQueueFull] once MaxQueued of them wait.
	DisableGET bool
	// MaxQueued bounds the messages waiting on one stream to be written.
	// Zero means [DefaultMaxQueued].
	MaxQueued int
	// ReplayEvents is how many written events each stream keeps for
	// Last-Event-ID replay. Zero means [DefaultReplayEvents].
	ReplayEvents int
	// IdleTimeout ends a session that has had no request in flight (an
	// open GET stream counts) for that long; its id then gets 404 and its
	// Conn's Recv an error wrapping io.EOF. The session registry's sweep
	// ends it within about IdleTimeout/100 after the timeout; a request
	// for it arriving in between ends it at once and gets 404. Zero means
	// sessions never expire; a positive value under [session.MinIdleTTL]
	// is raised to it.
	IdleTimeout time.Duration
	// MaxSessions bounds the live sessions. A new session beyond it
	// evicts the least recently used one (preferring one with no request
	// in flight), whose Conn's Recv then returns an error wrapping io.EOF
	// and whose id gets 404. Zero means [session.DefaultMaxSessions].
	MaxSessions int
	// BindHeaders names the request headers a session is bound to: the
	// SHA-256 of their values in the initialize request is kept, and a
	// later request for the session whose values differ is answered 403
	// without touching the session. Nil means [DefaultBindHeader]
	// (Authorization); an empty non-nil slice turns binding off.
	BindHeaders []string
	// KeepAlive, when positive, is the interval of SSE comment lines
	// written on idle streams so that proxies keep them open.
	KeepAlive time.Duration
	// Logger receives diagnostics. Nil means [slog.Default].
	Logger *slog.Logger
}

// HTTPServer is the client-facing side of the Streamable HTTP transport
// (revisions 2025-03-26 to 2025-11-25): an [http.Handler] for the MCP
// endpoint that turns each session into a [Conn], which [HTTPServer.Accept]
// hands to the relay.
//
// Requests are answered as follows:
//
//   - Any method, with an Origin that is not allowed: 403.
//   - Methods other than POST, GET and DELETE: 405 with an Allow header.
//   - POST whose Accept header does not admit both application/json and
//     text/event-stream: 406 (wildcards count; no Accept header at all
//     admits everything). Content-Type other than
//     application/json: 415. Body over MaxBodySize: 413. Body that is not a
//     JSON-RPC message or batch: 400 with the JSON-RPC error (-32700 or
//     -32600) as body.
//   - POST without Mcp-Session-Id: only a single initialize request is
//     accepted (else 400). It creates a session with a fresh id (26
//     characters from crypto/rand, visible ASCII), which the answer carries
//     in Mcp-Session-Id, unless the relay answers the initialize with a
//     JSON-RPC error as JSON (the session then ends at once).
//   - Any request with an Mcp-Session-Id the server does not know (never
//     minted, deleted, expired, evicted): 404. GET and DELETE without one:
//     400.
//   - Any request with an Mcp-Session-Id whose BindHeaders (Authorization)
//     differ from those of the session's initialize request: 403, the
//     session unaffected.
//   - Once the relay has called SetRevision on the session's Conn, a
//     MCP-Protocol-Version header that [schemas.InterpretHeader] finds
//     invalid: 400.
//   - POST holding only notifications and responses: 202 once the frame is
//     queued for Recv.
//   - POST holding requests: the frame goes to Recv; the answer is
//     application/json when the relay's first message for it is the whole
//     answer, text/event-stream when the relay sends related requests or
//     notifications first (Message.Related = the request's id) or answers
//     the requests of a batch one by one. A request id already pending in
//     the session: 400.
//   - GET: the standalone SSE stream, which carries what the relay sends
//     without Related (or Related to a request already answered); messages
//     wait in a bounded queue while no GET is open. GET is 405 when
//     DisableGET is set, 406 when Accept does not admit text/event-stream,
//     409 when a standalone stream is already open and the GET does not
//     resume it.
//   - GET with Last-Event-ID: resumes the stream that event belongs to
//     (the standalone stream or a request's stream) after it, replaying
//     what the stream kept (the ReplayEvents latest written events) and
//     taking over from a connection still attached; an id of a stream no
//     longer kept is treated as a plain GET.
//   - DELETE: ends the session (Recv returns io.EOF), 204.
//
// SSE events carry ids of the form "<stream>-<seq>", unique in the
// session. Batches (2025-03-26) reach Recv as one frame; the relay answers
// them with one array (or element by element). Responses are routed by id
// to the request's stream; a response with a null id (answering an invalid
// batch element) goes to the oldest stream still waiting for one.
type HTTPServer struct {
	opts     HTTPServerOptions
	logger   *slog.Logger
	bind     binder
	accept   chan *httpSession
	done     chan struct{}
	once     sync.Once
	sessions *session.Registry[*httpSession]
}

// NewHTTPServer returns an HTTPServer configured by opts (nil for the
// defaults). With an IdleTimeout it starts goroutines that Close stops
// (except the LRU's sweeper: see [session.Registry]).
func NewHTTPServer(opts *HTTPServerOptions) *HTTPServer {
	s := &HTTPServer{
		accept: make(chan *httpSession),
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
	if s.opts.ReplayEvents <= 0 {
		s.opts.ReplayEvents = DefaultReplayEvents
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
	s.sessions = session.New(session.Options[*httpSession]{
		MaxSessions: s.opts.MaxSessions,
		IdleTTL:     s.opts.IdleTimeout,
		Busy:        (*httpSession).busy,
		OnEnd: func(id string, sess *httpSession, why session.Reason) {
			sess.terminate(endError("HTTP", id, why, s.opts.MaxSessions, s.opts.IdleTimeout), false)
		},
		Logger: s.logger,
	})
	return s
}

// Accept waits for the next session and returns its Conn, which also
// implements [RevisionSetter] and [SessionIDer]. The first frame Recv
// returns is the initialize request. An initialize POST waits until its
// session is accepted (or its client gives up). Accept returns ctx's error,
// or [ErrClosed] once the server is closed.
func (s *HTTPServer) Accept(ctx context.Context) (Conn, error) {
	select {
	case sess := <-s.accept:
		return sess, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrClosed
	}
}

// Close ends every session (their Conns' Recv return an error wrapping
// io.EOF) and makes Accept return ErrClosed. Later requests get 404 (with a
// session id) or 503 (initialize). It does not close any listener.
func (s *HTTPServer) Close() error {
	s.once.Do(func() { close(s.done) })
	s.sessions.Close()
	return nil
}

// ServeHTTP serves the MCP endpoint. See HTTPServer for the statuses.
func (s *HTTPServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !originAllowed(r, s.opts.AllowedOrigins) {
		writeError(w, http.StatusForbidden, jsonrpc.CodeInvalidRequest, "Forbidden: origin not allowed")
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.servePOST(w, r)
	case http.MethodGet:
		if s.opts.DisableGET {
			w.Header().Set("Allow", "POST, DELETE")
			writeError(w, http.StatusMethodNotAllowed, jsonrpc.CodeInvalidRequest, "Method Not Allowed: no standalone SSE stream")
			return
		}
		s.serveGET(w, r)
	case http.MethodDelete:
		s.serveDELETE(w, r)
	default:
		if s.opts.DisableGET {
			w.Header().Set("Allow", "POST, DELETE")
		} else {
			w.Header().Set("Allow", "GET, POST, DELETE")
		}
		writeError(w, http.StatusMethodNotAllowed, jsonrpc.CodeInvalidRequest, "Method Not Allowed")
	}
}

// lookup returns the session named by the request's Mcp-Session-Id after
// checking the request's credentials and MCP-Protocol-Version, having
// answered the request itself (400, 403, 404) when it returns nil. It
// records a request in flight and touches the session (the session
// registry's idle TTL restarts); the caller must call end on the session.
func (s *HTTPServer) lookup(w http.ResponseWriter, r *http.Request) *httpSession {
	id := r.Header.Get(HeaderSessionID)
	if id == "" {
		writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "Bad Request: missing "+HeaderSessionID+" header")
		return nil
	}
	sess, ok := s.sessions.Peek(id)
	if !ok {
		writeError(w, http.StatusNotFound, jsonrpc.CodeInvalidRequest, "Not Found: unknown or expired session")
		return nil
	}
	if !s.bind.allows(w, r, s.logger, id, sess.cred) {
		return nil
	}
	if !sess.begin() {
		writeError(w, http.StatusNotFound, jsonrpc.CodeInvalidRequest, "Not Found: unknown or expired session")
		return nil
	}
	s.sessions.Touch(id)
	if !sess.versionOK(r.Header.Get(HeaderProtocolVersion)) {
		sess.end()
		writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest,
			"Bad Request: unsupported "+HeaderProtocolVersion+" "+strconv.Quote(r.Header.Get(HeaderProtocolVersion)))
		return nil
	}
	return sess
}

// servePOST serves a POST of one frame.
func (s *HTTPServer) servePOST(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "application/json") || !accepts(r, "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, jsonrpc.CodeInvalidRequest, "Not Acceptable: Accept must admit application/json and text/event-stream")
		return
	}
	if mediaType(r.Header.Get("Content-Type")) != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, jsonrpc.CodeInvalidRequest, "Unsupported Media Type: Content-Type must be application/json")
		return
	}
	var sess *httpSession
	if r.Header.Get(HeaderSessionID) != "" {
		if sess = s.lookup(w, r); sess == nil {
			return
		}
		defer sess.end()
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
	newSession := false
	if sess == nil {
		if f.Batch || f.Messages[0].Method != "initialize" || !f.Messages[0].IsRequest() {
			writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "Bad Request: missing "+HeaderSessionID+" header")
			return
		}
		if sess = s.newSession(r, s.bind.credentials(r)); sess == nil {
			writeError(w, http.StatusServiceUnavailable, jsonrpc.CodeInternalError, "Service Unavailable: server closed")
			return
		}
		defer sess.end()
		newSession = true
	}

	var keys []string
	nulls := 0
	for i, m := range f.Messages {
		switch {
		case m == nil:
			if id := f.Errors[i].ID; id != nil && jsonrpc.IDKey(id) != "null" {
				keys = append(keys, jsonrpc.IDKey(id))
			} else {
				nulls++
			}
		case m.IsRequest():
			keys = append(keys, jsonrpc.IDKey(m.ID))
		}
	}
	sess.seeRequest(r)
	msg := Message{Raw: body, Trace: traceHeaders(r.Header)}
	if len(keys) == 0 && nulls == 0 {
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
		return
	}
	st, tok, err := sess.openStream(keys, nulls)
	if err != nil {
		writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "Bad Request: "+err.Error())
		return
	}
	if err := sess.in.put(r.Context(), item{msg: msg}); err != nil {
		sess.abandon(st)
		if r.Context().Err() == nil {
			writeError(w, http.StatusNotFound, jsonrpc.CodeInvalidRequest, "Not Found: session ended")
		}
		return
	}
	sess.serveStream(w, r, st, tok, 0, true, newSession)
}

// readBody reads the request body up to limit bytes, having answered the
// request (413, 400) when it reports false.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, jsonrpc.CodeInvalidRequest, "Request Entity Too Large")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, jsonrpc.CodeInvalidRequest, "Request Entity Too Large")
		} else {
			writeError(w, http.StatusBadRequest, jsonrpc.CodeInvalidRequest, "Bad Request: reading body: "+err.Error())
		}
		return nil, false
	}
	return body, true
}

// frameError returns the *jsonrpc.Error in err (which ParseFrame returned).
func frameError(err error) *jsonrpc.Error {
	if je, ok := errors.AsType[*jsonrpc.Error](err); ok {
		return je
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: err.Error()}
}

// newSession creates a session bound to cred, with the initialize request
// in flight, registers it (which may evict another) and offers it to
// Accept. It returns nil when the server is closed or the request r (the
// initialize's POST, whose client it records) ends first.
func (s *HTTPServer) newSession(r *http.Request, cred credentials) *httpSession {
	ctx := r.Context()
	sess := &httpSession{
		srv:     s,
		id:      newSessionID(),
		cred:    cred,
		in:      newInbox(serverQueue),
		done:    make(chan struct{}),
		streams: make(map[int64]*stream),
		byKey:   make(map[string]*stream),
		active:  1,
	}
	sess.streams[0] = &stream{wake: make(chan struct{})}
	sess.nextStream = 1
	sess.seeRequest(r) // before Accept: the relay reads it at once
	if err := s.sessions.Add(sess.id, sess); err != nil {
		return nil // closed
	}
	select {
	case s.accept <- sess:
		s.logger.Debug("transport: HTTP session started", "session", sess.id)
		return sess
	case <-ctx.Done():
	case <-s.done:
	}
	sess.terminate(ErrClosed, true)
	return nil
}

// serveGET serves a GET: the standalone stream or a resumed one.
func (s *HTTPServer) serveGET(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, jsonrpc.CodeInvalidRequest, "Not Acceptable: Accept must admit text/event-stream")
		return
	}
	sess := s.lookup(w, r)
	if sess == nil {
		return
	}
	defer sess.end()
	st, tok, cursor, ok := sess.attachGET(r.Header.Get(HeaderLastEventID))
	if !ok {
		writeError(w, http.StatusConflict, jsonrpc.CodeInvalidRequest, "Conflict: a standalone SSE stream is already open for this session")
		return
	}
	sess.listened()
	sess.serveStream(w, r, st, tok, cursor, false, false)
}

// OnStream registers f, called once in a goroutine of its own when the
// client first opens its standalone GET stream (at once if it has). It
// implements [StreamWatcher].
func (sess *httpSession) OnStream(f func()) {
	sess.mu.Lock()
	if !sess.listening {
		sess.onStream = f
		sess.mu.Unlock()
		return
	}
	sess.mu.Unlock()
	go f()
}

// listened records that the client opened its standalone stream.
func (sess *httpSession) listened() {
	sess.mu.Lock()
	if sess.listening {
		sess.mu.Unlock()
		return
	}
	sess.listening = true
	f := sess.onStream
	sess.onStream = nil
	sess.mu.Unlock()
	if f != nil {
		go f()
	}
}

// serveDELETE ends a session.
func (s *HTTPServer) serveDELETE(w http.ResponseWriter, r *http.Request) {
	sess := s.lookup(w, r)
	if sess == nil {
		return
	}
	sess.terminate(fmt.Errorf("transport: session %s deleted by the client: %w", sess.id, io.EOF), false)
	sess.end()
	w.WriteHeader(http.StatusNoContent)
}

// retainedStreams is how many answered request streams a session keeps
// for Last-Event-ID replay.
const retainedStreams = 32

// httpSession is one Streamable HTTP session, and its Conn.
type httpSession struct {
	peerInfo // the client, as of its latest POST (PeerAddresser)

	srv  *HTTPServer
	id   string
	cred credentials // of the initialize request
	in   *inbox
	done chan struct{} // closed when the session ends

	mu         sync.Mutex
	ended      bool
	rev        schemas.Revision
	streams    map[int64]*stream  // by number; 0 is the standalone stream
	byKey      map[string]*stream // pending request id keys
	open       []*stream          // request streams not yet answered, oldest first
	retired    []int64            // answered request streams kept for replay, oldest first
	nextStream int64
	active     int    // requests in flight
	listening  bool   // the client has opened the standalone stream
	onStream   func() // called once when it does (StreamWatcher)
}

// stream is one SSE stream of a session: the standalone stream or the
// stream answering one POST. Its fields are guarded by the session's mu.
type stream struct {
	num      int64
	keys     map[string]struct{} // request ids still to answer
	nulls    int                 // null-id error responses still to send
	events   []event             // kept events, seq ascending
	nextSeq  int64               // seq of the next event, from 1
	written  int64               // highest seq written to a connection
	complete bool                // every request answered
	wake     chan struct{}       // closed and replaced on change
	owner    chan struct{}       // token of the attached connection; closed to detach it
}

// event is one message on a stream.
type event struct {
	seq  int64
	data []byte
}

// pending returns how many events wait to be written.
func (st *stream) pending() int {
	return int(st.nextSeq - 1 - st.written)
}

// push appends an event and wakes the attached connection.
func (st *stream) push(data []byte) {
	if st.nextSeq == 0 {
		st.nextSeq = 1
	}
	st.events = append(st.events, event{seq: st.nextSeq, data: data})
	st.nextSeq++
	st.notify()
}

// notify wakes whoever waits on the stream.
func (st *stream) notify() {
	close(st.wake)
	st.wake = make(chan struct{})
}

// after returns the kept events with a seq above cursor.
func (st *stream) after(cursor int64) []event {
	i, _ := slices.BinarySearchFunc(st.events, cursor+1, func(e event, seq int64) int {
		return int(e.seq - seq)
	})
	return st.events[i:]
}

// eventID returns the SSE event id of an event.
func eventID(streamNum, seq int64) string {
	return strconv.FormatInt(streamNum, 10) + "-" + strconv.FormatInt(seq, 10)
}

// parseEventID parses an event id made by eventID.
func parseEventID(id string) (streamNum, seq int64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	if !found {
		return 0, 0, false
	}
	n, err1 := strconv.ParseInt(a, 10, 64)
	q, err2 := strconv.ParseInt(b, 10, 64)
	return n, q, err1 == nil && err2 == nil && n >= 0 && q >= 0
}

// SessionID returns the session's Mcp-Session-Id.
func (sess *httpSession) SessionID() string { return sess.id }

// SetRevision records the negotiated revision; from then on requests whose
// MCP-Protocol-Version is invalid for it are answered 400.
func (sess *httpSession) SetRevision(rev schemas.Revision) {
	sess.mu.Lock()
	sess.rev = rev
	sess.mu.Unlock()
}

// versionOK reports whether a MCP-Protocol-Version header value is
// acceptable (REVISIONS.md 2.T2).
func (sess *httpSession) versionOK(header string) bool {
	sess.mu.Lock()
	rev := sess.rev
	sess.mu.Unlock()
	return rev == 0 || schemas.InterpretHeader(rev, header) != schemas.HeaderInvalid
}

// begin records a request in flight, which keeps the session from
// expiring; it reports false when the session has ended.
func (sess *httpSession) begin() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return false
	}
	sess.active++
	return true
}

// end records the end of a request in flight. When it was the last one,
// the session is touched: its idle time counts from now.
func (sess *httpSession) end() {
	sess.mu.Lock()
	sess.active--
	idle := sess.active == 0 && !sess.ended
	sess.mu.Unlock()
	if idle {
		sess.srv.sessions.Touch(sess.id)
	}
}

// busy reports whether a request is in flight (an open GET stream
// counts). The session registry calls it under its lock.
func (sess *httpSession) busy() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.active > 0
}

// terminate ends the session: its id is forgotten, its connections end and
// Recv returns err (at once when drop is set, else after the queued frames).
func (sess *httpSession) terminate(err error, drop bool) {
	sess.mu.Lock()
	if sess.ended {
		sess.mu.Unlock()
		return
	}
	sess.ended = true
	close(sess.done)
	sess.mu.Unlock()
	sess.srv.sessions.Remove(sess.id)
	sess.in.finish(err, drop)
	sess.srv.logger.Debug("transport: HTTP session ended", "session", sess.id, "reason", err)
}

// openStream creates the stream answering a POST with requests, attached
// to the POST's connection.
func (sess *httpSession) openStream(keys []string, nulls int) (*stream, chan struct{}, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	st := &stream{num: sess.nextStream, keys: make(map[string]struct{}, len(keys)), nulls: nulls, wake: make(chan struct{})}
	for _, k := range keys {
		if _, dup := st.keys[k]; dup || sess.byKey[k] != nil {
			return nil, nil, fmt.Errorf("request id %s is already pending", k)
		}
		st.keys[k] = struct{}{}
	}
	sess.nextStream++
	for k := range st.keys {
		sess.byKey[k] = st
	}
	sess.streams[st.num] = st
	sess.open = append(sess.open, st)
	st.owner = make(chan struct{})
	return st, st.owner, nil
}

// abandon forgets a stream whose frame never reached Recv.
func (sess *httpSession) abandon(st *stream) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	for k := range st.keys {
		delete(sess.byKey, k)
	}
	delete(sess.streams, st.num)
	sess.open = slices.DeleteFunc(sess.open, func(o *stream) bool { return o == st })
}

// attachGET picks the stream a GET serves: the one its Last-Event-ID
// names, if kept, or the standalone stream, and attaches the GET to it. It
// reports false when the standalone stream is taken and the GET does not
// resume it.
func (sess *httpSession) attachGET(lastEventID string) (st *stream, tok chan struct{}, cursor int64, ok bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if num, seq, valid := parseEventID(lastEventID); valid && sess.streams[num] != nil {
		st = sess.streams[num]
		cursor = min(seq, st.nextSeq-1)
		cursor = max(cursor, 0)
	} else {
		st = sess.streams[0]
		if st.owner != nil {
			return nil, nil, 0, false
		}
		cursor = st.written
	}
	if st.owner != nil {
		close(st.owner) // the previous connection stops writing
	}
	st.owner = make(chan struct{})
	return st, st.owner, cursor, true
}

// detach releases a stream from a connection.
func (sess *httpSession) detach(st *stream, tok chan struct{}) {
	sess.mu.Lock()
	if st.owner == tok {
		st.owner = nil
	}
	sess.mu.Unlock()
}

// markWritten records that a connection wrote the stream's events up to
// seq, and drops written events beyond the replay buffer.
func (sess *httpSession) markWritten(st *stream, seq int64) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	st.written = max(st.written, seq)
	keep := sess.srv.opts.ReplayEvents
	n := 0
	for n < len(st.events) && st.events[n].seq <= st.written {
		n++
	}
	if n > keep {
		drop := n - keep
		clear(st.events[:drop])
		st.events = st.events[drop:]
	}
}

// serveStream writes a stream to an HTTP response, starting after the
// event cursor, until the stream is complete, the connection goes away,
// another connection takes the stream over (tok closes) or the session
// ends. A POST's stream is answered as JSON when its first message is the
// whole answer.
func (sess *httpSession) serveStream(w http.ResponseWriter, r *http.Request, st *stream, tok chan struct{}, cursor int64, post, newSession bool) {
	defer sess.detach(st, tok)
	ctx := r.Context()
	rc := http.NewResponseController(w)
	started := false
	start := func() bool {
		setSSEHeaders(w.Header())
		if newSession {
			w.Header().Set(HeaderSessionID, sess.id)
		}
		rc.SetWriteDeadline(time.Time{}) // streams outlive a server's WriteTimeout
		w.WriteHeader(http.StatusOK)
		started = true
		return rc.Flush() == nil
	}
	if !post && !start() {
		return
	}
	var keepAlive <-chan time.Time
	if ka := sess.srv.opts.KeepAlive; ka > 0 {
		t := time.NewTicker(ka)
		defer t.Stop()
		keepAlive = t.C
	}
	var buf []byte
	for {
		sess.mu.Lock()
		evs := slices.Clone(st.after(cursor))
		complete, wake := st.complete, st.wake
		sess.mu.Unlock()
		if len(evs) > 0 {
			if !started && complete && len(evs) == 1 && cursor == 0 {
				sess.writeJSON(w, evs[0].data, newSession)
				sess.markWritten(st, evs[0].seq)
				return
			}
			if !started && !start() {
				return
			}
			buf = buf[:0]
			for _, ev := range evs {
				buf = appendSSE(buf, eventID(st.num, ev.seq), "", ev.data)
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			cursor = evs[len(evs)-1].seq
			sess.markWritten(st, cursor)
			continue
		}
		if complete {
			return
		}
		select {
		case <-wake:
		case <-tok:
			return
		case <-ctx.Done():
			return
		case <-sess.done:
			if !started {
				writeError(w, http.StatusNotFound, jsonrpc.CodeInvalidRequest, "Not Found: session ended")
			}
			return
		case <-keepAlive:
			if started {
				if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	}
}

// writeJSON answers a POST with one JSON body. For the initialize POST that
// created the session, the session id goes in the header unless the answer
// is an error, which ends the session.
func (sess *httpSession) writeJSON(w http.ResponseWriter, body []byte, newSession bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	failed := false
	if newSession {
		m, err := jsonrpc.Parse(body)
		failed = err == nil && m.Kind == jsonrpc.KindError
		if !failed {
			h.Set(HeaderSessionID, sess.id)
		}
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	if failed {
		sess.terminate(fmt.Errorf("transport: session %s: initialize failed: %w", sess.id, io.EOF), false)
	}
}

// Recv returns the next frame the client POSTed. After DELETE (or idle
// expiry, eviction at the session limit, or HTTPServer.Close) it returns an
// error wrapping io.EOF.
func (sess *httpSession) Recv(ctx context.Context) (Message, error) {
	return sess.in.recv(ctx)
}

// Send routes m to the client: a response (or batch of responses) to the
// stream of the POST that carried its request; a request or notification
// to the stream of the request m.Related names while it is unanswered,
// else to the standalone stream. It does not wait for the message to be
// written. It fails with [ErrQueueFull] when too many messages wait on the
// stream, and for a response to no pending request.
func (sess *httpSession) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := jsonrpc.ParseFrame(m.Raw)
	if err != nil {
		return fmt.Errorf("transport: send: %w", err)
	}
	var (
		keys    []string
		nulls   int
		hasResp bool
	)
	for _, msg := range f.Messages {
		if msg == nil || !msg.IsResponse() {
			continue
		}
		hasResp = true
		if k := jsonrpc.IDKey(msg.ID); k != "" && k != "null" {
			keys = append(keys, k)
		} else {
			nulls++
		}
	}
	raw := bytes.Clone(m.Raw)
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return fmt.Errorf("transport: session %s: %w", sess.id, ErrClosed)
	}
	if !hasResp {
		st := sess.streams[0]
		if len(m.Related) > 0 {
			if rs := sess.byKey[jsonrpc.IDKey(m.Related)]; rs != nil {
				st = rs
			}
		}
		if st.pending() >= sess.srv.opts.MaxQueued {
			return fmt.Errorf("transport: session %s, stream %d: %w", sess.id, st.num, ErrQueueFull)
		}
		st.push(raw)
		return nil
	}
	var st *stream
	for _, k := range keys {
		if st = sess.byKey[k]; st != nil {
			break
		}
	}
	if st == nil && nulls > 0 {
		for _, o := range sess.open {
			if o.nulls > 0 {
				st = o
				break
			}
		}
	}
	if st == nil {
		return fmt.Errorf("transport: session %s: send: response to no pending request", sess.id)
	}
	for _, k := range keys {
		if sess.byKey[k] == st {
			delete(sess.byKey, k)
			delete(st.keys, k)
		}
	}
	st.nulls = max(st.nulls-nulls, 0)
	st.push(raw)
	if len(st.keys) == 0 && st.nulls == 0 {
		st.complete = true
		sess.open = slices.DeleteFunc(sess.open, func(o *stream) bool { return o == st })
		sess.retired = append(sess.retired, st.num)
		if len(sess.retired) > retainedStreams {
			delete(sess.streams, sess.retired[0])
			sess.retired = slices.Delete(sess.retired, 0, 1)
		}
	}
	return nil
}

// Close ends the session; its id gets 404 from now on and Recv returns
// ErrClosed.
func (sess *httpSession) Close() error {
	sess.terminate(ErrClosed, true)
	return nil
}
