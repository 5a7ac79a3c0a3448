package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/conformance"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/demo/demotest"
)

// The fixture server of the self-tests is the demo server of
// testsuite/demo (a correct server for every revision), either over an
// in-memory connection (a stdio target) whose messages a fault may
// rewrite, or over HTTP behind a proxy whose requests and responses a
// fault may rewrite.

var (
	validatorOnce sync.Once
	validator     *schemas.Validator
	validatorErr  error
)

func sharedValidator(t *testing.T) *schemas.Validator {
	t.Helper()
	validatorOnce.Do(func() { validator, validatorErr = schemas.NewValidator() })
	if validatorErr != nil {
		t.Fatal(validatorErr)
	}
	return validator
}

// call is a request the fixture received.
type call struct {
	Method string
	Params map[string]any
	// Initialized reports whether initialize came before it on the
	// session.
	Initialized bool
}

// msgFault rewrites the fixture's messages.
type msgFault struct {
	// in sees each message the runner sends; it returns true to crash
	// the session (close the connection).
	in func(m map[string]any) bool
	// rewrite changes a message the runner sends before the server sees
	// it.
	rewrite func(m map[string]any)
	// out rewrites a message the server sends: req is the request a
	// response answers (nil for other messages).
	out func(req *call, m map[string]any)
	// batch rewrites a batch (array) the server sends.
	batch func(items []json.RawMessage) []json.RawMessage
}

// faultConn is the server's end of an in-memory connection, with a
// fault applied.
type faultConn struct {
	transport.Conn
	f msgFault

	mu          sync.Mutex
	calls       map[string]*call
	initialized bool
}

func (c *faultConn) Recv(ctx context.Context) (transport.Message, error) {
	m, err := c.Conn.Recv(ctx)
	if err != nil {
		return m, err
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(m.Raw))
	dec.UseNumber()
	if dec.Decode(&obj) != nil {
		return m, nil
	}
	if c.f.in != nil && c.f.in(obj) {
		c.Conn.Close()
		return transport.Message{}, io.EOF
	}
	if c.f.rewrite != nil {
		c.f.rewrite(obj)
		raw, err := json.Marshal(obj)
		if err != nil {
			return m, err
		}
		m.Raw = raw
	}
	method, _ := obj["method"].(string)
	if id, ok := obj["id"]; ok && method != "" {
		params, _ := obj["params"].(map[string]any)
		c.mu.Lock()
		c.calls[idKey(id)] = &call{Method: method, Params: params, Initialized: c.initialized}
		if method == "initialize" {
			c.initialized = true
		}
		c.mu.Unlock()
	}
	return m, nil
}

func idKey(id any) string {
	b, _ := json.Marshal(id)
	return string(b)
}

func (c *faultConn) Send(ctx context.Context, m transport.Message) error {
	if c.f.out == nil && c.f.batch == nil {
		return c.Conn.Send(ctx, m)
	}
	if c.f.batch != nil && bytes.HasPrefix(m.Raw, []byte("[")) {
		var items []json.RawMessage
		if json.Unmarshal(m.Raw, &items) == nil {
			raw, err := json.Marshal(c.f.batch(items))
			if err != nil {
				return err
			}
			m.Raw = raw
		}
		return c.Conn.Send(ctx, m)
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(m.Raw))
	dec.UseNumber()
	if dec.Decode(&obj) != nil {
		return c.Conn.Send(ctx, m)
	}
	var req *call
	if _, isReq := obj["method"]; !isReq {
		if id, ok := obj["id"]; ok {
			c.mu.Lock()
			req = c.calls[idKey(id)]
			c.mu.Unlock()
		}
	}
	if c.f.out != nil {
		c.f.out(req, obj)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	m.Raw = raw
	return c.Conn.Send(ctx, m)
}

// pipeTarget is a stdio-like target: a demo server per session over an
// in-memory connection, with the fault f.
func pipeTarget(t *testing.T, f msgFault) *conformance.Target {
	v := sharedValidator(t)
	return &conformance.Target{
		Kind: conformance.KindStdio,
		Dial: func(ctx context.Context, rev schemas.Revision) (transport.Conn, error) {
			s, err := demo.New(rev, demo.WithValidator(v))
			if err != nil {
				return nil, err
			}
			client, server := transport.Pipe()
			fc := &faultConn{Conn: server, f: f, calls: map[string]*call{}}
			go func() {
				defer server.Close()
				s.Serve(context.WithoutCancel(ctx), fc)
			}()
			return client, nil
		},
	}
}

// httpFault rewrites the HTTP exchanges with the fixture: req may change
// the request (or answer it itself: return true), resp the response.
type httpFault struct {
	req  func(r *http.Request, method string, w http.ResponseWriter) bool
	resp func(r *http.Response, method string)
}

// httpTarget serves a demo server of rev over HTTP on 127.0.0.1 behind a
// proxy with the fault f, for the scenario's lifetime, and returns the
// proxy's MCP URL.
func httpTarget(t *testing.T, rev schemas.Revision, f httpFault) *conformance.Target {
	t.Helper()
	up, _ := url.Parse("http://" + demotest.Serve(t, rev, demo.WithValidator(sharedValidator(t))))
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.FlushInterval = -1
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(r *http.Response) error {
		if f.resp != nil {
			f.resp(r, r.Request.Header.Get("X-Conformance-Method"))
		}
		return nil
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var method string
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			var m struct {
				Method string `json:"method"`
			}
			json.Unmarshal(b, &m)
			method = m.Method
			r.Body = io.NopCloser(bytes.NewReader(b))
			r.ContentLength = int64(len(b))
		}
		if f.req != nil && f.req(r, method, w) {
			return
		}
		r.Header.Set("X-Conformance-Method", method)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return &conformance.Target{Kind: conformance.KindHTTP, URL: proxy.URL + demo.PathMCP}
}

// sseTarget serves a 2024-11-05 demo server with its legacy HTTP+SSE
// transport on 127.0.0.1.
func sseTarget(t *testing.T) *conformance.Target {
	t.Helper()
	addr := demotest.Serve(t, schemas.V20241105, demo.WithValidator(sharedValidator(t)))
	return &conformance.Target{Kind: conformance.KindSSE, URL: "http://" + addr + demo.PathSSE}
}

// paramString returns a string param of the request.
func (c *call) paramString(name string) (string, bool) {
	if c == nil {
		return "", false
	}
	s, ok := c.Params[name].(string)
	return s, ok
}

// paramField returns a param of the request.
func (c *call) paramField(name string) (any, bool) {
	if c == nil {
		return nil, false
	}
	v, ok := c.Params[name]
	return v, ok
}

// rev returns the revision a stateless request names in its _meta, or "".
func (c *call) rev() string {
	meta, _ := c.Params["_meta"].(map[string]any)
	s, _ := meta["io.modelcontextprotocol/protocolVersion"].(string)
	return s
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
