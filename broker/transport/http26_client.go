package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// RequestCanceller is implemented by Conns that cancel a request by
// themselves, without a message: [DialHTTP2026]'s Conn, on which closing a
// request's response stream is the cancellation (REVISIONS.md 4.M8).
type RequestCanceller interface {
	// CancelRequest aborts the pending request with that id (raw JSON);
	// no response for it reaches Recv afterwards. It reports whether the
	// request was pending.
	CancelRequest(id json.RawMessage) bool
}

// headersKey is the context key of WithHeaders.
type headersKey struct{}

// WithHeaders returns a context that makes the Send of [DialHTTP2026]'s
// Conn add h to the POST it makes, after the headers it derives itself:
// the relay passes the Mcp-Param-* headers of a tools/call this way
// (computed with [ParamHeaderValues] from its cached tools/list, as
// REVISIONS.md 4.T5 asks). Values of a name h holds replace those of the
// same name. Other Conns ignore it.
func WithHeaders(ctx context.Context, h http.Header) context.Context {
	return context.WithValue(ctx, headersKey{}, h)
}

// headersFrom returns the headers WithHeaders put in ctx.
func headersFrom(ctx context.Context) http.Header {
	h, _ := ctx.Value(headersKey{}).(http.Header)
	return h
}

// HeadersFrom returns the headers [WithHeaders] put in ctx, or nil. A Conn
// that wraps another one, or a test's Conn, reads them with it.
func HeadersFrom(ctx context.Context) http.Header { return headersFrom(ctx) }

// HeaderCarrier is implemented by Conns whose Send puts the headers given
// with [WithHeaders] on the request: [DialHTTP2026]'s Conn. The relay
// works out the Mcp-Param-* headers of a tools/call (REVISIONS.md 4.T5)
// only for a Conn that carries them.
type HeaderCarrier interface {
	// CarriesHeaders reports whether Send honours WithHeaders.
	CarriesHeaders() bool
}

// CarriesHeaders implements [HeaderCarrier]: every POST carries them.
func (c *http26ClientConn) CarriesHeaders() bool { return true }

// http26ClientConn is the upstream side of the 2026-07-28 Streamable HTTP
// transport.
type http26ClientConn struct {
	peerInfo // the upstream (PeerAddresser)

	url    string
	opts   ClientOptions
	in     *inbox
	base   context.Context // values of the dial context, never cancelled
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	closed  bool
	rev     schemas.Revision
	pending map[string]*call26 // by IDKey
}

// call26 is one request in flight and its POST.
type call26 struct {
	id     json.RawMessage
	key    string
	cancel context.CancelFunc // aborts the POST

	handoff // the POST's transport error while Send waits; cancelled by CancelRequest too
}

// dropped reports whether what the POST still yields is to be dropped.
func (x *call26) dropped() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.cancelled
}

// DialHTTP2026 returns a Conn speaking the client side of the 2026-07-28
// Streamable HTTP transport with the MCP endpoint at rawURL. The protocol
// is stateless (REVISIONS.md 4.L1, 4.T1): there is no initialize, no
// session id, no GET stream (4.T2) and no DELETE (4.T3); DialHTTP2026 makes
// no request. ctx's values (not its cancellation) reach every request.
// Of opts, HTTPClient, Header, MaxMessageSize and Logger apply.
//
// Each Send is one POST of one message (batches and responses are refused:
// 2026 clients send neither, 4.J1) with Content-Type application/json,
// Accept: application/json, text/event-stream, and the headers of 4.T5
// derived from the body: MCP-Protocol-Version (the request's
// params._meta["io.modelcontextprotocol/protocolVersion"], else the
// revision given to SetRevision, else 2026-07-28), Mcp-Method (the method)
// and, for tools/call and prompts/get, Mcp-Name = params.name, for
// resources/read Mcp-Name = params.uri, encoded with [EncodeHeaderValue].
// The Mcp-Param-* headers depend on the tool's schema, which the relay
// knows: it passes them with [WithHeaders].
//
// A request's Send returns once the body is sent (or the POST failed
// before that, which Send returns). What follows reaches Recv (or the
// function given to Push), each frame with Related = the request's id: a
// JSON answer as one frame; an SSE answer event by event, the
// notifications before the response, until the response (event ids and
// retry times are ignored: 2026 has no resumability, 4.T4); an HTTP
// status other than 2xx as one JSON-RPC error response for the request,
// its error taken from the body when the body is a JSON-RPC error
// response (a 400 with -32020, -32021 or -32022, a 404 with -32601) and
// else -32603 with data {"status": N, "body": "..."} (4.T6, 0.2 rule 6: no
// status means a lost session here); a failure after Send returned, or a
// stream that ends before the response, as a -32603 error response. A
// long-lived request such as subscriptions/listen simply keeps its stream
// open.
//
// Cancellation is closing the request's stream (4.M8): Send of
// notifications/cancelled whose requestId names a pending request aborts
// that request's POST and posts nothing; [RequestCanceller.CancelRequest]
// does the same. Nothing more for a cancelled request reaches Recv. A
// notifications/cancelled for no pending request is dropped. Send of
// another notification POSTs it and waits for the status: 2xx is success,
// anything else a [*StatusError].
//
// The Conn implements [Pusher], [RevisionSetter], [RequestCanceller] and
// [HeaderCarrier]. Close aborts every request; Recv then returns [ErrClosed].
func DialHTTP2026(ctx context.Context, rawURL string, opts *ClientOptions) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	c := &http26ClientConn{
		url:     u.String(),
		opts:    opts.withDefaults(),
		in:      newInbox(clientQueue),
		base:    context.WithoutCancel(ctx),
		pending: make(map[string]*call26),
	}
	c.seeEndpoint(u)
	c.ctx, c.cancel = context.WithCancel(c.base)
	return c, nil
}

// SetRevision records the revision sent in MCP-Protocol-Version when a
// request's _meta names none.
func (c *http26ClientConn) SetRevision(rev schemas.Revision) {
	c.mu.Lock()
	c.rev = rev
	c.mu.Unlock()
}

// Push implements [Pusher].
func (c *http26ClientConn) Push(f func(Message, error)) bool {
	c.in.setPush(f)
	return true
}

// Recv returns the next frame from the server.
func (c *http26ClientConn) Recv(ctx context.Context) (Message, error) {
	return c.in.recv(ctx)
}

// CancelRequest aborts a pending request. See DialHTTP2026.
func (c *http26ClientConn) CancelRequest(id json.RawMessage) bool {
	c.mu.Lock()
	x := c.pending[jsonrpc.IDKey(id)]
	if x != nil {
		delete(c.pending, x.key)
	}
	c.mu.Unlock()
	if x == nil {
		return false
	}
	x.mu.Lock()
	x.cancelled = true
	x.mu.Unlock()
	x.cancel()
	return true
}

// Send POSTs m. See DialHTTP2026.
func (c *http26ClientConn) Send(ctx context.Context, m Message) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	raw := bytes.Clone(m.Raw)
	f, err := jsonrpc.ParseFrame(raw)
	if err != nil {
		return fmt.Errorf("transport: send: %w", err)
	}
	if f.Batch {
		return errors.New("transport: send: 2026-07-28 has no batches")
	}
	msg := f.Messages[0]
	switch {
	case msg.IsResponse():
		return errors.New("transport: send: a 2026-07-28 client sends no responses")
	case msg.Method == "notifications/cancelled":
		if id, ok := cancelledID(msg); ok {
			c.CancelRequest(id)
		}
		return nil
	}
	c.mu.Lock()
	rev := c.rev
	c.mu.Unlock()
	h, err := deriveHeaders(msg, rev)
	if err != nil {
		return fmt.Errorf("transport: send: %w", err)
	}
	for k, v := range headersFrom(ctx) {
		h[http.CanonicalHeaderKey(k)] = v
	}
	injectTrace(ctx, h)
	if msg.IsNotification() {
		return c.notify(ctx, raw, h)
	}

	x := &call26{id: msg.ID, key: jsonrpc.IDKey(msg.ID), handoff: newHandoff()}
	reqCtx, cancelReq := context.WithCancel(c.ctx)
	x.cancel = cancelReq
	body := &sentReader{r: bytes.NewReader(raw), sent: make(chan struct{})}
	req, err := c.newPOST(reqCtx, body, raw, h)
	if err != nil {
		cancelReq()
		return err
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		cancelReq()
		return ErrClosed
	case c.pending[x.key] != nil:
		c.mu.Unlock()
		cancelReq()
		return fmt.Errorf("transport: send: request id %s is already pending", msg.ID)
	}
	c.pending[x.key] = x
	c.wg.Add(1)
	c.mu.Unlock()
	c.opts.Workers.Go(func() {
		defer c.wg.Done()
		defer cancelReq()
		c.post(req, x)
	})

	select {
	case err := <-x.first:
		return err
	case <-body.sent:
		if x.detach(xDetached) {
			return nil
		}
		return <-x.first
	case <-ctx.Done():
		if x.detach(xAbandoned) {
			c.forget(x)
			cancelReq()
			return ctx.Err()
		}
		return <-x.first
	}
}

// cancelledID returns the requestId of a notifications/cancelled.
func cancelledID(m *jsonrpc.Message) (json.RawMessage, bool) {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(m.Params, &p) != nil || len(p.RequestID) == 0 {
		return nil, false
	}
	return p.RequestID, true
}

// newPOST returns a POST of raw to the endpoint with the headers h, the
// options' headers and the content headers.
func (c *http26ClientConn) newPOST(ctx context.Context, body io.Reader, raw []byte, h http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, body)
	if err != nil {
		return nil, fmt.Errorf("transport: %w", err)
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.ContentLength = int64(len(raw))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	return req, nil
}

// notify POSTs a notification and waits for the status.
func (c *http26ClientConn) notify(ctx context.Context, raw []byte, h http.Header) error {
	reqCtx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	req, err := c.newPOST(reqCtx, bytes.NewReader(raw), raw, h)
	if err != nil {
		return err
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err == nil {
		c.seeResponse(resp)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		return fmt.Errorf("transport: POST %s: %w", req.URL.Redacted(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newStatusError(resp)
	}
	drain(resp.Body)
	return nil
}

// forget removes a request from the pending ones, reporting whether it was
// still there.
func (c *http26ClientConn) forget(x *call26) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[x.key] != x {
		return false
	}
	delete(c.pending, x.key)
	return true
}

// post runs the POST of a request after Send started it.
func (c *http26ClientConn) post(req *http.Request, x *call26) {
	defer c.forget(x)
	resp, err := c.opts.HTTPClient.Do(req)
	if err == nil {
		c.seeResponse(resp)
	}
	if err != nil {
		if x.dropped() {
			x.report(nil) // cancelled: Send has nothing to report
			return
		}
		if c.ctx.Err() != nil {
			err = ErrClosed
		}
		c.fail(x, fmt.Errorf("transport: POST %s: %w", req.URL.Redacted(), err))
		return
	}
	x.report(nil)
	defer resp.Body.Close()
	if x.dropped() {
		return
	}
	ct := mediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		c.statusAnswer(x, resp)
	case resp.StatusCode == http.StatusOK && ct == "application/json":
		b, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.opts.MaxMessageSize)+1))
		switch {
		case err != nil:
			c.fail(x, fmt.Errorf("transport: POST %s: reading answer: %w", req.URL.Redacted(), err))
		case len(b) > c.opts.MaxMessageSize:
			c.fail(x, fmt.Errorf("transport: POST %s: answer: %w", req.URL.Redacted(), jsonrpc.ErrTooLarge))
		default:
			if !c.deliver(x, b) {
				c.fail(x, fmt.Errorf("transport: POST %s: the JSON answer is not a response", req.URL.Redacted()))
			}
		}
	case resp.StatusCode == http.StatusOK && ct == "text/event-stream":
		r := newSSEReader(resp.Body, c.opts.MaxMessageSize)
		for {
			ev, err := r.next()
			if err != nil {
				c.fail(x, fmt.Errorf("transport: POST %s: answer stream ended before the response: %w", req.URL.Redacted(), err))
				return
			}
			if ev.name != "" && ev.name != "message" {
				continue
			}
			if c.deliver(x, ev.data) {
				return
			}
		}
	default:
		c.fail(x, fmt.Errorf("transport: POST %s: unexpected answer %d with Content-Type %q",
			req.URL.Redacted(), resp.StatusCode, resp.Header.Get("Content-Type")))
	}
}

// deliver hands one message of a request's answer to Recv, with Related =
// the request's id, and reports whether it was the response, which ends
// the request.
func (c *http26ClientConn) deliver(x *call26, data []byte) bool {
	final := false
	if m, err := jsonrpc.Parse(data); err == nil && m.IsResponse() {
		final = true
		if !c.forget(x) {
			return true // cancelled meanwhile
		}
	}
	if x.dropped() {
		return true
	}
	c.in.put(c.ctx, item{msg: Message{Raw: data, Related: x.id}})
	return final
}

// fail ends a request with err: Send returns it while it waits; otherwise
// a JSON-RPC error response (-32603) reaches Recv, unless the request was
// cancelled or the Conn closed.
func (c *http26ClientConn) fail(x *call26, err error) {
	if x.report(err) {
		c.forget(x)
		return
	}
	if x.dropped() || c.ctx.Err() != nil || !c.forget(x) {
		return
	}
	c.opts.Logger.Debug("transport: HTTP 2026 answer failed", "url", c.url, "id", string(x.id), "err", err)
	c.in.put(c.ctx, item{msg: Message{Raw: jsonrpc.ErrorResponse(x.id, jsonrpc.CodeInternalError, err.Error(), nil), Related: x.id}})
}

// maxStatusBody bounds the body of a non-2xx answer that is read.
const maxStatusBody = 64 << 10

// statusAnswer turns a non-2xx answer to a request into a JSON-RPC error
// response for it (see DialHTTP2026).
func (c *http26ClientConn) statusAnswer(x *call26, resp *http.Response) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody))
	var out []byte
	if m, err := jsonrpc.Parse(b); err == nil && m.Kind == jsonrpc.KindError {
		out = make([]byte, 0, len(m.Error)+len(x.id)+32)
		out = append(out, `{"jsonrpc":"2.0","id":`...)
		out = append(out, x.id...)
		out = append(out, `,"error":`...)
		out = append(out, m.Error...)
		out = append(out, '}')
	} else {
		excerpt := b
		if len(excerpt) > 512 {
			excerpt = excerpt[:512]
		}
		out = jsonrpc.ErrorResponse(x.id, jsonrpc.CodeInternalError,
			"transport: POST "+resp.Request.URL.Redacted()+": HTTP "+strconv.Itoa(resp.StatusCode)+" "+http.StatusText(resp.StatusCode),
			map[string]any{"status": resp.StatusCode, "body": string(excerpt)})
	}
	if !c.forget(x) || x.dropped() {
		return
	}
	c.in.put(c.ctx, item{msg: Message{Raw: out, Related: x.id}})
}

// Close aborts every request. Recv then returns ErrClosed.
func (c *http26ClientConn) Close() error {
	c.once.Do(func() {
		c.in.finish(ErrClosed, true)
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
	})
	return nil
}
