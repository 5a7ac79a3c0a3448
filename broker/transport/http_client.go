package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// ClientOptions configures the HTTP client transports, [DialHTTP] and
// [DialSSE]. The zero value is usable.
type ClientOptions struct {
	// HTTPClient makes the requests. Nil means a new http.Client without
	// a timeout (SSE streams last as long as the session).
	HTTPClient *http.Client
	// Header holds extra headers sent with every request, such as
	// Authorization.
	Header http.Header
	// MaxMessageSize bounds a JSON response body or an SSE event's data.
	// Zero means [jsonrpc.DefaultMaxSize].
	MaxMessageSize int
	// DisableGET keeps DialHTTP from opening the standalone GET stream.
	DisableGET bool
	// LazyGET makes DialHTTP's Conn open the standalone GET stream only
	// when OpenStream is called ([StreamOpener]); the broker uses it so
	// that a session whose client does not listen holds no upstream
	// stream.
	LazyGET bool
	// ReconnectDelay is how long to wait before resuming or reopening an
	// SSE stream when the server set no retry time. Zero means 1s.
	ReconnectDelay time.Duration
	// MaxReconnects is how many attempts in a row to resume or reopen an
	// SSE stream may fail before the client gives up on it. Zero means 5.
	MaxReconnects int
	// Logger receives diagnostics. Nil means [slog.Default].
	Logger *slog.Logger
	// Workers, when set, runs the POST exchanges on reused goroutines
	// (share one between the Conns of a process); nil starts a goroutine
	// per exchange.
	Workers *Workers
}

// withDefaults returns a copy of o (which may be nil) with its defaults
// filled in.
func (o *ClientOptions) withDefaults() ClientOptions {
	var c ClientOptions
	if o != nil {
		c = *o
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = jsonrpc.DefaultMaxSize
	}
	if c.ReconnectDelay <= 0 {
		c.ReconnectDelay = time.Second
	}
	if c.MaxReconnects <= 0 {
		c.MaxReconnects = 5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// clientQueue is how many received frames an HTTP client Conn holds ahead
// of Recv.
const clientQueue = 8

// httpClientConn is the upstream side of the Streamable HTTP transport.
type httpClientConn struct {
	peerInfo // the upstream (PeerAddresser)

	url    string
	opts   ClientOptions
	in     *inbox
	base   context.Context // values of the dial context, never cancelled
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error // of Close

	mu         sync.Mutex
	closed     bool // Close has begun; no new goroutines
	sessionID  string
	rev        schemas.Revision
	expired    bool
	gen        int  // session generation, bumped by initialize and expiry
	getRunning bool // the standalone GET loop runs
	ready      bool // notifications/initialized was sent in generation gen
	getWanted  bool // OpenStream was called (LazyGET)
}

// DialHTTP returns a Conn speaking the client side of the Streamable HTTP
// transport (2025-03-26 to 2025-11-25) with the MCP endpoint at rawURL. It
// makes no request: the session starts with the initialize request the
// relay sends. ctx's values (not its cancellation) reach every request.
//
// Each Send is one POST with Accept: application/json, text/event-stream,
// the Mcp-Session-Id the server gave in answer to initialize, and, once
// SetRevision names a revision that has it, MCP-Protocol-Version.
//
// Send of a frame without requests, and of initialize, waits for the
// response status: 2xx is success; a 404 to a request that carried a
// session id returns an error wrapping [ErrSessionExpired] (the session is
// gone: further Sends fail the same way until the relay sends initialize
// again, which starts a new session); any other status returns a
// [*StatusError] (so that the relay can fall back to HTTP+SSE when
// initialize gets 400, 404 or 405, REVISIONS.md 3.T4). Send of other
// requests returns once the body is sent, so that a slow answer does not
// hold up the relay; a failure after that reaches Recv as one JSON-RPC
// error response (-32603) per unanswered request, and an expired session
// also as a Recv error wrapping ErrSessionExpired, which is not fatal.
//
// Answers reach Recv: a JSON body as one frame, an SSE answer event by
// event; each message gets Related = its id for a response, else the id of
// the (first) request of the POST. Events without data (priming events)
// are dropped. When an SSE answer breaks before it is complete and the
// server gave event ids, the client resumes it with GET and Last-Event-ID
// after the server's retry time (or ReconnectDelay).
//
// Once a notifications/initialized has been sent, the client opens the
// standalone GET stream (unless DisableGET), whose messages reach Recv with
// Related empty (a response's own id for a response), and reopens it when
// it breaks, resuming with Last-Event-ID; a 405 means the server has none.
//
// Close cancels every request and stream and sends DELETE with the session
// id (a 405 answer is fine). Recv then returns [ErrClosed].
func DialHTTP(ctx context.Context, rawURL string, opts *ClientOptions) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	c := &httpClientConn{
		url:  u.String(),
		opts: opts.withDefaults(),
		in:   newInbox(clientQueue),
		base: context.WithoutCancel(ctx),
	}
	c.seeEndpoint(u)
	c.ctx, c.cancel = context.WithCancel(c.base)
	return c, nil
}

// SessionID returns the session id the server gave, or "".
func (c *httpClientConn) SessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// SetRevision records the negotiated revision, sent from now on in the
// MCP-Protocol-Version header when the revision has it.
func (c *httpClientConn) SetRevision(rev schemas.Revision) {
	c.mu.Lock()
	c.rev = rev
	c.mu.Unlock()
}

// newRequest returns a request to the endpoint with the session's headers.
// It also returns the session id it carries.
func (c *httpClientConn) newRequest(ctx context.Context, method string, body io.Reader) (*http.Request, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url, body)
	if err != nil {
		return nil, "", fmt.Errorf("transport: %w", err)
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	c.mu.Lock()
	sid, rev := c.sessionID, c.rev
	c.mu.Unlock()
	if sid != "" {
		req.Header.Set(HeaderSessionID, sid)
	}
	if rev.HasProtocolVersionHeader() {
		req.Header.Set(HeaderProtocolVersion, rev.String())
	}
	return req, sid, nil
}

// expire marks the session sid as gone; it reports whether it was still
// the current one.
func (c *httpClientConn) expire(sid string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sid == "" || c.sessionID != sid || c.expired {
		return false
	}
	c.expired = true
	c.gen++
	return true
}

// expiredError returns the error for a 404 to a request with session sid
// (closing resp's body) and marks the session expired. It reports whether
// that was news, in which case an asynchronous path queues the error for
// Recv (see queueExpired).
func (c *httpClientConn) expiredError(sid string, resp *http.Response) (news bool, err error) {
	err = fmt.Errorf("%w: %w", ErrSessionExpired, newStatusError(resp))
	return c.expire(sid), err
}

// queueExpired queues an expiry error for Recv, which is not fatal.
func (c *httpClientConn) queueExpired(err error) {
	c.in.put(c.ctx, item{err: err})
}

// exchange is one POST and the answer to it.
type exchange struct {
	ids     []json.RawMessage          // the requests of the frame
	pending map[string]json.RawMessage // by IDKey: requests not yet answered
	related json.RawMessage            // the first request's id
	sid     string                     // the session id the POST carried
	isInit  bool
	news    bool // the exchange found the session expired

	handoff // the outcome of the response status, while Send waits
}

// Exchange states.
const (
	xWaiting   = iota // Send waits for the outcome
	xDetached         // Send returned; failures go to Recv
	xAbandoned        // Send gave up; the answer is dropped
)

// handoff passes the outcome of a POST from the goroutine that reads its
// answer to a Send still waiting for it, exactly once: Send either gets it
// or detaches first, and then the reader routes failures elsewhere.
type handoff struct {
	mu    sync.Mutex
	state int        // xWaiting, xDetached or xAbandoned
	first chan error // the outcome, while Send waits
	// cancelled is set when Send abandoned the POST (its context ended)
	// or the POST's request was cancelled: what it still yields is
	// dropped.
	cancelled bool
}

func newHandoff() handoff { return handoff{first: make(chan error, 1)} }

// report hands the outcome (nil: the server answered) to a waiting Send;
// it reports false when Send no longer waits.
func (h *handoff) report(err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != xWaiting {
		return false
	}
	h.state = xDetached
	h.first <- err
	return true
}

// detach makes Send stop waiting: to = xDetached (body sent) or xAbandoned
// (Send's context ended). It reports false when the outcome is already
// reported, which Send then reads from first.
func (h *handoff) detach(to int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != xWaiting {
		return false
	}
	h.state = to
	if to == xAbandoned {
		h.cancelled = true
	}
	return true
}

// abandoned reports whether Send gave up on the exchange.
func (x *exchange) abandoned() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.state == xAbandoned
}

// sentReader is a request body that reports when it has been read to its
// end (or closed), that is, sent.
type sentReader struct {
	r    *bytes.Reader
	once sync.Once
	sent chan struct{}
}

// Read implements io.Reader.
func (s *sentReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.once.Do(func() { close(s.sent) })
	}
	return n, err
}

// Close implements io.Closer.
func (s *sentReader) Close() error {
	s.once.Do(func() { close(s.sent) })
	return nil
}

// Send POSTs m. See DialHTTP.
func (c *httpClientConn) Send(ctx context.Context, m Message) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	raw := bytes.Clone(m.Raw) // the ids kept below alias it
	f, err := jsonrpc.ParseFrame(raw)
	if err != nil {
		return fmt.Errorf("transport: send: %w", err)
	}
	x := &exchange{pending: make(map[string]json.RawMessage), handoff: newHandoff()}
	initialized := false
	for _, msg := range f.Messages {
		switch {
		case msg == nil:
		case msg.IsRequest():
			x.ids = append(x.ids, msg.ID)
			x.pending[jsonrpc.IDKey(msg.ID)] = msg.ID
			x.isInit = x.isInit || msg.Method == "initialize"
		case msg.Method == "notifications/initialized":
			initialized = true
		}
	}
	if len(x.ids) > 0 {
		x.related = x.ids[0]
	}

	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case x.isInit:
		if c.expired || c.sessionID != "" {
			c.sessionID, c.rev, c.expired = "", 0, false
			c.gen++
		}
		c.ready = false
	case c.expired:
		c.mu.Unlock()
		return fmt.Errorf("transport: send: %w", ErrSessionExpired)
	}
	gen := c.gen
	c.mu.Unlock()

	reqCtx, cancelReq := context.WithCancel(c.ctx)
	body := &sentReader{r: bytes.NewReader(raw), sent: make(chan struct{})}
	req, sid, err := c.newRequest(reqCtx, http.MethodPost, body)
	if err != nil {
		cancelReq()
		return err
	}
	x.sid = sid
	req.ContentLength = int64(len(raw))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	injectTrace(ctx, req.Header)

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancelReq()
		return ErrClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	c.opts.Workers.Go(func() {
		defer c.wg.Done()
		defer cancelReq()
		c.post(req, x)
	})

	var sent <-chan struct{}
	if len(x.ids) > 0 && !x.isInit {
		sent = body.sent
	}
	select {
	case err := <-x.first:
		if err == nil && initialized {
			c.mu.Lock()
			c.ready = c.gen == gen
			want := !c.opts.LazyGET || c.getWanted
			c.mu.Unlock()
			if want {
				c.startGET(gen)
			}
		}
		return err
	case <-sent:
		if x.detach(xDetached) {
			return nil
		}
		return <-x.first
	case <-ctx.Done():
		if x.detach(xAbandoned) {
			cancelReq()
			return ctx.Err()
		}
		return <-x.first
	}
}

// post runs one POST exchange after Send started it.
func (c *httpClientConn) post(req *http.Request, x *exchange) {
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		c.fail(x, fmt.Errorf("transport: POST %s: %w", req.URL.Redacted(), err))
		return
	}
	c.seeResponse(resp)
	if sid := resp.Header.Get(HeaderSessionID); sid != "" && x.isInit {
		c.mu.Lock()
		if c.sessionID == "" {
			c.sessionID = sid
		}
		c.mu.Unlock()
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && x.sid != "":
		news, err := c.expiredError(x.sid, resp)
		x.news = news
		c.fail(x, err)
		return
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		c.fail(x, newStatusError(resp))
		return
	case len(x.ids) == 0:
		drain(resp.Body)
		x.report(nil)
		return
	}
	ct := mediaType(resp.Header.Get("Content-Type"))
	if ct != "application/json" && ct != "text/event-stream" {
		err := &StatusError{Method: req.Method, URL: req.URL.Redacted(), StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type")}
		drain(resp.Body)
		c.fail(x, fmt.Errorf("%w: unexpected content type", err))
		return
	}
	x.report(nil)
	if x.abandoned() {
		resp.Body.Close()
		return
	}
	if ct == "application/json" {
		b, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.opts.MaxMessageSize)+1))
		resp.Body.Close()
		switch {
		case err != nil:
			c.fail(x, fmt.Errorf("transport: POST %s: reading answer: %w", req.URL.Redacted(), err))
		case len(b) > c.opts.MaxMessageSize:
			c.fail(x, fmt.Errorf("transport: POST %s: answer: %w", req.URL.Redacted(), jsonrpc.ErrTooLarge))
		default:
			c.deliver(x, b)
			if len(x.pending) > 0 {
				c.fail(x, fmt.Errorf("transport: POST %s: answer does not answer every request", req.URL.Redacted()))
			}
		}
		return
	}
	c.streamAnswer(x, resp.Body)
}

// fail ends an exchange with err: Send returns it while it waits;
// otherwise each request still unanswered gets a JSON-RPC error response
// on Recv, followed by the expiry error when the exchange found the
// session expired.
func (c *httpClientConn) fail(x *exchange, err error) {
	if x.report(err) || x.abandoned() || c.ctx.Err() != nil {
		return
	}
	c.opts.Logger.Debug("transport: HTTP answer failed", "url", c.url, "err", err)
	for _, id := range x.ids {
		if _, ok := x.pending[jsonrpc.IDKey(id)]; !ok {
			continue
		}
		delete(x.pending, jsonrpc.IDKey(id))
		resp := jsonrpc.ErrorResponse(id, jsonrpc.CodeInternalError, err.Error(), nil)
		if c.in.put(c.ctx, item{msg: Message{Raw: resp, Related: id}}) != nil {
			return
		}
	}
	if x.news {
		c.queueExpired(err)
	}
}

// deliver queues one message of an answer (x non-nil) or of the standalone
// stream for Recv.
func (c *httpClientConn) deliver(x *exchange, data []byte) {
	var related json.RawMessage
	if x != nil {
		related = x.related
	}
	if f, err := jsonrpc.ParseFrame(data); err == nil {
		for _, m := range f.Messages {
			if m != nil && m.IsResponse() && x != nil {
				delete(x.pending, jsonrpc.IDKey(m.ID))
			}
		}
		if !f.Batch && f.Messages[0].IsResponse() && f.Messages[0].ID != nil {
			related = f.Messages[0].ID
		}
	}
	c.in.put(c.ctx, item{msg: Message{Raw: data, Related: related}})
}

// readEvents delivers the message events of an SSE body until it ends or,
// for an answer, until every request is answered. lastID and retry carry
// the stream's state across connections. It returns how many events it
// delivered and why it stopped (nil when the answer is complete).
func (c *httpClientConn) readEvents(x *exchange, body io.ReadCloser, lastID *string, retry *time.Duration) (int, error) {
	defer body.Close()
	r := newSSEReader(body, c.opts.MaxMessageSize)
	r.lastID, r.retry = *lastID, *retry
	defer func() { *lastID, *retry = r.lastID, r.retry }()
	n := 0
	for {
		ev, err := r.next()
		if err != nil {
			return n, err
		}
		if ev.name != "" && ev.name != "message" {
			continue
		}
		n++
		c.deliver(x, ev.data)
		if x != nil && len(x.pending) == 0 {
			return n, nil
		}
	}
}

// wait waits for d, or until the Conn is closed (reporting false).
func (c *httpClientConn) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// get opens an SSE stream with GET, resuming after lastID when set. It
// returns the session id the request carried.
func (c *httpClientConn) get(lastID string) (*http.Response, string, error) {
	req, sid, err := c.newRequest(c.ctx, http.MethodGet, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set(HeaderLastEventID, lastID)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, sid, fmt.Errorf("transport: GET %s: %w", req.URL.Redacted(), err)
	}
	return resp, sid, nil
}

// isSSE reports whether resp is a 200 SSE stream.
func isSSE(resp *http.Response) bool {
	return resp.StatusCode == http.StatusOK && mediaType(resp.Header.Get("Content-Type")) == "text/event-stream"
}

// streamAnswer reads the SSE answer to a POST, resuming it with GET and
// Last-Event-ID when it breaks early (REVISIONS.md 1.T3, 3.T1).
func (c *httpClientConn) streamAnswer(x *exchange, body io.ReadCloser) {
	var (
		lastID   string
		retry    time.Duration
		failures int
	)
	for {
		n, err := c.readEvents(x, body, &lastID, &retry)
		if err == nil || c.ctx.Err() != nil {
			return
		}
		if n > 0 {
			failures = 0
		}
		if lastID == "" {
			c.fail(x, fmt.Errorf("transport: answer stream ended before the answer (no event id to resume from): %w", err))
			return
		}
		for body = nil; body == nil; {
			if failures++; failures > c.opts.MaxReconnects {
				c.fail(x, fmt.Errorf("transport: answer stream ended before the answer, resuming failed: %w", err))
				return
			}
			if !c.wait(orDefault(retry, c.opts.ReconnectDelay)) {
				return
			}
			resp, sid, gerr := c.get(lastID)
			switch {
			case gerr != nil:
				err = gerr
			case resp.StatusCode == http.StatusNotFound && sid != "":
				var news bool
				news, err = c.expiredError(sid, resp)
				x.news = news
				c.fail(x, err)
				return
			case resp.StatusCode == http.StatusMethodNotAllowed:
				c.fail(x, fmt.Errorf("transport: answer stream ended before the answer, server cannot resume: %w", newStatusError(resp)))
				return
			case !isSSE(resp):
				err = newStatusError(resp)
			default:
				body = resp.Body
			}
		}
	}
}

// orDefault returns d, or def when d is zero.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Push implements [Pusher]: responses, SSE events and the standalone
// stream's messages go to f from the goroutines that read them.
func (c *httpClientConn) Push(f func(Message, error)) bool {
	c.in.setPush(f)
	return true
}

// OpenStream opens the standalone GET stream of a LazyGET Conn: now if
// notifications/initialized has been sent, else once it is.
func (c *httpClientConn) OpenStream() {
	c.mu.Lock()
	c.getWanted = true
	gen, ready := c.gen, c.ready
	c.mu.Unlock()
	if ready {
		c.startGET(gen)
	}
}

// startGET starts the standalone GET stream of session generation gen,
// unless it runs or is disabled.
func (c *httpClientConn) startGET(gen int) {
	if c.opts.DisableGET {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.getRunning || c.gen != gen || c.closed {
		return
	}
	c.getRunning = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.runGET(gen)
		c.mu.Lock()
		c.getRunning = false
		c.mu.Unlock()
	}()
}

// runGET keeps the standalone GET stream of session generation gen open
// while the session lasts.
func (c *httpClientConn) runGET(gen int) {
	var (
		lastID   string
		retry    time.Duration
		failures int
	)
	for {
		c.mu.Lock()
		stale := c.gen != gen
		c.mu.Unlock()
		if stale || c.ctx.Err() != nil {
			return
		}
		resp, sid, err := c.get(lastID)
		switch {
		case err != nil:
		case resp.StatusCode == http.StatusMethodNotAllowed:
			drain(resp.Body)
			c.opts.Logger.Debug("transport: server offers no standalone SSE stream", "url", c.url)
			return
		case resp.StatusCode == http.StatusNotFound && sid != "":
			if news, err := c.expiredError(sid, resp); news {
				c.queueExpired(err)
			}
			return
		case !isSSE(resp):
			err = newStatusError(resp)
		default:
			var n int
			n, err = c.readEvents(nil, resp.Body, &lastID, &retry)
			if n > 0 {
				failures = 0
			}
		}
		if c.ctx.Err() != nil {
			return
		}
		if failures++; failures > c.opts.MaxReconnects {
			c.opts.Logger.Warn("transport: giving up the standalone SSE stream", "url", c.url, "err", err)
			return
		}
		if !c.wait(orDefault(retry, c.opts.ReconnectDelay)) {
			return
		}
	}
}

// Recv returns the next message from the server.
func (c *httpClientConn) Recv(ctx context.Context) (Message, error) {
	return c.in.recv(ctx)
}

// deleteTimeout bounds the DELETE that Close sends.
const deleteTimeout = 5 * time.Second

// Close ends the session. See DialHTTP.
func (c *httpClientConn) Close() error {
	c.once.Do(func() {
		c.in.finish(ErrClosed, true)
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
		c.mu.Lock()
		sid, expired := c.sessionID, c.expired
		c.mu.Unlock()
		if sid == "" || expired {
			return
		}
		ctx, cancel := context.WithTimeout(c.base, deleteTimeout)
		defer cancel()
		req, _, err := c.newRequest(ctx, http.MethodDelete, nil)
		if err != nil {
			c.err = err
			return
		}
		resp, err := c.opts.HTTPClient.Do(req)
		if err != nil {
			c.err = fmt.Errorf("transport: DELETE %s: %w", req.URL.Redacted(), err)
			return
		}
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode <= 299,
			resp.StatusCode == http.StatusMethodNotAllowed,
			resp.StatusCode == http.StatusNotFound:
			drain(resp.Body)
		default:
			c.err = newStatusError(resp)
		}
	})
	return c.err
}
