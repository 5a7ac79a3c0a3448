package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// rawClient is a lean Streamable HTTP MCP client: one session, one HTTP
// transport of its own (so one keep-alive TCP connection, like a separate
// client process), requests written from prepared bytes, answers read as
// JSON or SSE with no JSON decoding. It opens the standalone GET stream
// only when asked (openGET). It is the same for the direct and the
// brokered paths, so its own cost cancels out of their difference. It is
// not safe for concurrent use.
type rawClient struct {
	url string
	rev schemas.Revision
	hc  *http.Client
	sid string
	id  int64
	req []byte        // request body buffer
	ans []byte        // answer buffer
	get io.ReadCloser // the standalone GET stream's body, once open

	// sse counts the answers that came as text/event-stream rather than
	// application/json.
	sse int
}

// clientConns counts the open TCP connections of every rawClient.
var clientConns gauge

// dialCounted dials a TCP connection counted in clientConns.
func dialCounted(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	clientConns.add(1)
	return &countedConn{Conn: c}, nil
}

// countedConn is a connection counted in clientConns until closed.
type countedConn struct {
	net.Conn
	once sync.Once
}

// Close closes the connection.
func (c *countedConn) Close() error {
	c.once.Do(func() { clientConns.add(-1) })
	return c.Conn.Close()
}

// closeTimeout bounds the DELETE that Close sends.
const closeTimeout = 5 * time.Second

// echoText is the argument of the echo calls.
const echoText = "bench"

// dialRaw opens an initialized session at url, speaking revision rev:
// initialize, notifications/initialized, then a ping, whose answer shows
// that the server (the broker) has handled the notification.
func dialRaw(ctx context.Context, url string, rev schemas.Revision) (*rawClient, error) {
	c := &rawClient{
		url: url,
		rev: rev,
		hc: &http.Client{Transport: &http.Transport{
			DialContext:         dialCounted,
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
		}},
	}
	if rev.Stateless() {
		// 2026-07-28: no handshake; server/discover shows the endpoint
		// answers (and, through the bridge, opens the pooled session).
		discover := `{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{"_meta":` + meta2026 + `}}`
		if _, err := c.post(ctx, []byte(discover), true); err != nil {
			c.Close()
			return nil, fmt.Errorf("server/discover at %s: %w", url, err)
		}
		return c, nil
	}
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + rev.String() +
		`","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`
	ans, err := c.post(ctx, []byte(init), true)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("initialize at %s: %w", url, err)
	}
	if !bytes.Contains(ans, []byte(`"protocolVersion":"`+rev.String()+`"`)) {
		c.Close()
		return nil, fmt.Errorf("initialize at %s: unexpected answer %s", url, ans)
	}
	if c.sid == "" {
		c.Close()
		return nil, fmt.Errorf("initialize at %s: no %s", url, transport.HeaderSessionID)
	}
	if _, err := c.post(ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), false); err != nil {
		c.Close()
		return nil, fmt.Errorf("initialized at %s: %w", url, err)
	}
	if _, err := c.post(ctx, []byte(`{"jsonrpc":"2.0","id":"ping","method":"ping"}`), true); err != nil {
		c.Close()
		return nil, fmt.Errorf("ping at %s: %w", url, err)
	}
	return c, nil
}

// meta2026 is the request _meta of the benchmark's 2026-07-28 client.
const meta2026 = `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},` +
	`"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}`

// callEcho makes one tools/call of the demo's echo tool.
func (c *rawClient) callEcho(ctx context.Context) error {
	c.id++
	c.req = append(c.req[:0], `{"jsonrpc":"2.0","id":`...)
	c.req = strconv.AppendInt(c.req, c.id, 10)
	if c.rev.Stateless() {
		c.req = append(c.req, `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"`+echoText+`"},"_meta":`+meta2026+`}}`...)
	} else {
		c.req = append(c.req, `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"`+echoText+`"}}}`...)
	}
	ans, err := c.post(ctx, c.req, true)
	if err != nil {
		return fmt.Errorf("tools/call echo at %s: %w", c.url, err)
	}
	if !bytes.Contains(ans, []byte(`"text":"`+echoText+`"`)) || bytes.Contains(ans, []byte(`"isError":true`)) {
		return fmt.Errorf("tools/call echo at %s: unexpected answer %s", c.url, ans)
	}
	return nil
}

// post sends one frame. For a request (answered set) it returns the answer
// (the first SSE message event, or the JSON body); for notifications it
// expects 202.
func (c *rawClient) post(ctx context.Context, body []byte, answered bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["Accept"] = []string{"application/json, text/event-stream"}
	if c.rev.Stateless() {
		// 4.T5: the headers mirror the body (only the two methods the
		// benchmark sends).
		h[transport.HeaderProtocolVersion] = []string{c.rev.String()}
		if bytes.Contains(body, []byte(`"method":"tools/call"`)) {
			h[transport.HeaderMethod] = []string{"tools/call"}
			h[transport.HeaderName] = []string{"echo"}
		} else {
			h[transport.HeaderMethod] = []string{"server/discover"}
		}
	}
	if c.sid != "" {
		h[transport.HeaderSessionID] = []string{c.sid}
		if c.rev.HasProtocolVersionHeader() {
			h[transport.HeaderProtocolVersion] = []string{c.rev.String()}
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if c.sid == "" {
		c.sid = resp.Header.Get(transport.HeaderSessionID)
	}
	if !answered {
		if resp.StatusCode != http.StatusAccepted {
			return nil, statusError(resp)
		}
		_, err := io.Copy(io.Discard, resp.Body)
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		buf := bytes.NewBuffer(c.ans[:0])
		_, err := buf.ReadFrom(resp.Body)
		c.ans = buf.Bytes()
		return c.ans, err
	case "text/event-stream":
		c.sse++
		return c.readEvent(resp.Body)
	}
	return nil, fmt.Errorf("unexpected Content-Type %q", resp.Header.Get("Content-Type"))
}

// readEvent returns the data of the first SSE message event of body that
// holds a response (the demo sends no notification or request before the
// answer to echo, but a broker might).
func (c *rawClient) readEvent(body io.Reader) ([]byte, error) {
	r := bufio.NewReader(body)
	c.ans = c.ans[:0]
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("SSE answer: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if bytes.Contains(c.ans, []byte(`"result"`)) || bytes.Contains(c.ans, []byte(`"error"`)) {
				return c.ans, nil
			}
			c.ans = c.ans[:0]
		case bytes.HasPrefix(line, []byte("data:")):
			if len(c.ans) > 0 {
				c.ans = append(c.ans, '\n')
			}
			c.ans = append(c.ans, bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))...)
		}
	}
}

// openGET opens the standalone SSE stream, as transport.DialHTTP and the
// TypeScript SDK's client do after notifications/initialized, and leaves
// it open (nothing reads it) until Close. It returns once the server has
// answered with the stream's headers.
func (c *rawClient) openGET(ctx context.Context) error {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(transport.HeaderSessionID, c.sid)
	if c.rev.HasProtocolVersionHeader() {
		req.Header.Set(transport.HeaderProtocolVersion, c.rev.String())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", c.url, err)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		defer resp.Body.Close()
		return fmt.Errorf("GET %s: %w", c.url, statusError(resp))
	}
	c.get = resp.Body
	return nil
}

// statusError returns an error describing an unexpected response.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("HTTP %s: %s", resp.Status, b)
}

// Close ends the session with DELETE and closes the client's connection.
func (c *rawClient) Close() error {
	defer c.hc.CloseIdleConnections()
	if c.get != nil {
		c.get.Close()
	}
	if c.sid == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set(transport.HeaderSessionID, c.sid)
	if c.rev.HasProtocolVersionHeader() {
		req.Header.Set(transport.HeaderProtocolVersion, c.rev.String())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("DELETE %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return statusError(resp)
	}
	return nil
}
