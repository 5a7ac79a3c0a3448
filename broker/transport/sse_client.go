package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// sseClientConn is the upstream side of the legacy HTTP+SSE transport.
type sseClientConn struct {
	peerInfo // the upstream (PeerAddresser)

	opts     ClientOptions
	endpoint string
	in       *inbox
	cancel   context.CancelFunc // ends the stream
	done     chan struct{}      // closed when the reading goroutine returns
	closed   chan struct{}
	once     sync.Once
}

// DialSSE returns a Conn speaking the client side of the legacy HTTP+SSE
// transport of 2024-11-05 with the server whose SSE URL is rawURL.
//
// It GETs rawURL and waits, within ctx, for the "endpoint" event, whose
// data it resolves against rawURL; the endpoint must have the same scheme
// and host as rawURL. ctx bounds only the dial; its values (not its
// cancellation) reach every request. The stream then lives until Close or
// until the server ends it, after which Recv returns an error wrapping
// io.EOF.
//
// Recv returns the data of each "message" event (Related is a response's
// own id). Send POSTs the frame to the endpoint with Content-Type
// application/json and returns once the server answers: any 2xx (usually
// 202) is success, any other status a [*StatusError]. Close ends the
// stream; Recv then returns [ErrClosed].
func DialSSE(ctx context.Context, rawURL string, opts *ClientOptions) (Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	base, err := parseEndpoint(rawURL)
	if err != nil {
		return nil, err
	}
	c := &sseClientConn{
		opts:   opts.withDefaults(),
		in:     newInbox(clientQueue),
		done:   make(chan struct{}),
		closed: make(chan struct{}),
	}
	c.seeEndpoint(base)
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	stop := context.AfterFunc(ctx, cancel) // only while dialling
	fail := func(err error) (Conn, error) {
		stop()
		cancel()
		if ctx.Err() != nil {
			err = fmt.Errorf("transport: dial %s: %w", base.Redacted(), ctx.Err())
		}
		return nil, err
	}

	req, err := http.NewRequestWithContext(streamCtx, http.MethodGet, base.String(), nil)
	if err != nil {
		return fail(fmt.Errorf("transport: dial %s: %w", base.Redacted(), err))
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return fail(fmt.Errorf("transport: dial %s: %w", base.Redacted(), err))
	}
	c.seeResponse(resp)
	if !isSSE(resp) {
		return fail(fmt.Errorf("transport: dial: %w", newStatusError(resp)))
	}
	r := newSSEReader(resp.Body, c.opts.MaxMessageSize)
	for c.endpoint == "" {
		ev, err := r.next()
		if err != nil {
			resp.Body.Close()
			return fail(fmt.Errorf("transport: dial %s: no endpoint event: %w", base.Redacted(), err))
		}
		if ev.name != "endpoint" {
			continue
		}
		ref, err := url.Parse(string(bytes.TrimSpace(ev.data)))
		if err != nil {
			resp.Body.Close()
			return fail(fmt.Errorf("transport: dial %s: bad endpoint %q: %w", base.Redacted(), ev.data, err))
		}
		ep := base.ResolveReference(ref)
		if ep.Scheme != base.Scheme || ep.Host != base.Host {
			resp.Body.Close()
			return fail(fmt.Errorf("transport: dial %s: endpoint %s is on another origin", base.Redacted(), ep.Redacted()))
		}
		c.endpoint = ep.String()
	}
	if !stop() {
		resp.Body.Close()
		return fail(ctx.Err())
	}
	go c.read(r, resp.Body)
	return c, nil
}

// read delivers the message events of the stream until it ends.
func (c *sseClientConn) read(r *sseReader, body io.ReadCloser) {
	defer close(c.done)
	defer body.Close()
	for {
		ev, err := r.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: %w", io.EOF, err)
			}
			c.in.finish(fmt.Errorf("transport: SSE stream ended: %w", err), false)
			return
		}
		if ev.name != "" && ev.name != "message" {
			continue
		}
		msg := Message{Raw: ev.data}
		if f, err := jsonrpc.ParseFrame(ev.data); err == nil && !f.Batch && f.Messages[0].IsResponse() {
			msg.Related = f.Messages[0].ID
		}
		if c.in.put(context.Background(), item{msg: msg}) != nil {
			return
		}
	}
}

// SessionID returns the session key of the endpoint URL (its "session"
// or, as the TypeScript SDK names it, "sessionId" parameter), or "".
func (c *sseClientConn) SessionID() string {
	u, err := url.Parse(c.endpoint)
	if err != nil {
		return ""
	}
	if k := u.Query().Get(sessionParam); k != "" {
		return k
	}
	return u.Query().Get("sessionId")
}

// Recv returns the next message event.
func (c *sseClientConn) Recv(ctx context.Context) (Message, error) {
	return c.in.recv(ctx)
}

// Send POSTs m to the endpoint. See DialSSE.
func (c *sseClientConn) Send(ctx context.Context, m Message) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(m.Raw))
	if err != nil {
		return fmt.Errorf("transport: %w", err)
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	injectTrace(ctx, req.Header)
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("transport: POST %s: %w", req.URL.Redacted(), err)
	}
	c.seeResponse(resp)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newStatusError(resp)
	}
	drain(resp.Body)
	return nil
}

// Close ends the stream.
func (c *sseClientConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.in.finish(ErrClosed, true)
		c.cancel()
		<-c.done
	})
	return nil
}
