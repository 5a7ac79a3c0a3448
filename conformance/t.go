package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// ClientName is the clientInfo name the runner sends.
const ClientName = "mcpbroker-conformance"

// Keys of a stateless request's params._meta (REVISIONS.md 4.L1).
const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaClientInfo         = "io.modelcontextprotocol/clientInfo"
	metaServerInfo         = "io.modelcontextprotocol/serverInfo"
	metaSubscriptionID     = "io.modelcontextprotocol/subscriptionId"
)

// errSkip and errFail stop a scenario's Run (through panics recovered by
// the runner) once Skip or Fatal was called.
var (
	errSkip  = errors.New("conformance: scenario skipped")
	errFatal = errors.New("conformance: scenario failed")
)

// RPCError is a JSON-RPC error object.
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error implements error.
func (e *RPCError) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// Response is the answer to a request: Result or Error is set.
type Response struct {
	Result json.RawMessage
	Error  *RPCError
}

// Notification is a notification the target sent.
type Notification struct {
	Method string
	Params json.RawMessage
}

// T is what a scenario gets: a session with the target in the revision
// under test, and the record of what went wrong.
type T struct {
	// Rev is the revision under test.
	Rev schemas.Revision
	// Init is the target's initialize result (legacy revisions, when the
	// session was initialized), or its server/discover result (stateless).
	Init json.RawMessage

	target *Target
	v      *schemas.Validator
	conn   transport.Conn

	mu       sync.Mutex
	failures []string
	skip     string
	pending  map[string]chan Response
	methods  map[string]string
	notes    []Notification
	asked    []string // methods of the requests the target sent
	changed  chan struct{}
	nextID   int
	closed   bool
	recvErr  error
}

// Fail records a failure and lets the scenario go on.
func (t *T) Fail(format string, a ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failures = append(t.failures, fmt.Sprintf(format, a...))
}

// Fatal records a failure and stops the scenario.
func (t *T) Fatal(format string, a ...any) {
	t.Fail(format, a...)
	panic(errFatal)
}

// Skip stops the scenario as not applicable to the target (a capability
// it does not declare, a feature it does not offer).
func (t *T) Skip(format string, a ...any) {
	t.mu.Lock()
	t.skip = fmt.Sprintf(format, a...)
	t.mu.Unlock()
	panic(errSkip)
}

// Failed reports whether a failure was recorded.
func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.failures) > 0
}

// open starts the session's connection and its receive loop.
func (t *T) open(ctx context.Context) error {
	conn, err := t.target.dial(ctx, t.Rev)
	if err != nil {
		return err
	}
	t.conn = conn
	t.pending = map[string]chan Response{}
	t.methods = map[string]string{}
	t.changed = make(chan struct{})
	go t.recvLoop(ctx)
	return nil
}

// close ends the session.
func (t *T) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	if t.conn != nil {
		t.conn.Close()
	}
}

// signal wakes up waiters; t.mu must be held.
func (t *T) signal() {
	close(t.changed)
	t.changed = make(chan struct{})
}

func (t *T) recvLoop(ctx context.Context) {
	for {
		m, err := t.conn.Recv(ctx)
		if err != nil {
			if errors.Is(err, jsonrpc.ErrTooLarge) || errors.Is(err, transport.ErrSessionExpired) {
				continue
			}
			t.mu.Lock()
			t.recvErr = err
			for k, ch := range t.pending {
				close(ch)
				delete(t.pending, k)
			}
			t.signal()
			t.mu.Unlock()
			return
		}
		t.receive(ctx, m.Raw)
	}
}

// receive handles one frame from the target.
func (t *T) receive(ctx context.Context, raw []byte) {
	f, err := jsonrpc.ParseFrame(raw)
	if err != nil {
		t.Fail("target sent a frame that is not JSON-RPC: %v: %s", err, clip(raw))
		return
	}
	if f.Batch && !t.Rev.HasBatching() {
		t.Fail("target sent a JSON-RPC batch, which %s does not have: %s", t.Rev, clip(raw))
	}
	for i, m := range f.Messages {
		if m == nil {
			t.Fail("target sent an invalid batch element: %v", f.Errors[i])
			continue
		}
		t.handle(ctx, m)
	}
}

func (t *T) handle(ctx context.Context, m *jsonrpc.Message) {
	switch {
	case m.IsResponse():
		key := jsonrpc.IDKey(m.ID)
		t.mu.Lock()
		method, known := t.methods[key]
		ch := t.pending[key]
		delete(t.pending, key)
		t.mu.Unlock()
		if !known && ch == nil {
			t.Fail("target sent a response to id %s, which no request had", m.ID)
			return
		}
		if method != "" {
			t.validate(m, method)
		}
		var r Response
		if m.Kind == jsonrpc.KindError {
			r.Error = &RPCError{}
			if err := json.Unmarshal(m.Error, r.Error); err != nil {
				t.Fail("error response to %s: %v", method, err)
			}
		} else {
			r.Result = append(json.RawMessage(nil), m.Result...)
		}
		if ch != nil {
			ch <- r
		}
	case m.IsNotification():
		t.validate(m, "")
		t.mu.Lock()
		t.notes = append(t.notes, Notification{Method: m.Method, Params: append(json.RawMessage(nil), m.Params...)})
		t.signal()
		t.mu.Unlock()
	default: // a request of the target
		t.validate(m, "")
		t.mu.Lock()
		t.asked = append(t.asked, m.Method)
		t.signal()
		t.mu.Unlock()
		res, rerr := t.answer(m.Method)
		var out []byte
		if rerr != nil {
			out = jsonrpc.ErrorResponse(m.ID, rerr.Code, rerr.Message, nil)
		} else {
			out, _ = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(m.ID), "result": res})
		}
		if err := t.conn.Send(ctx, transport.Message{Raw: out, Related: m.ID}); err != nil && ctx.Err() == nil {
			t.Fail("answering the target's %s: %v", m.Method, err)
		}
	}
}

// answer builds the runner's answer to a request of the target: a valid
// result for every server-to-client request the revision has.
func (t *T) answer(method string) (any, *RPCError) {
	switch method {
	case "ping":
		return map[string]any{}, nil
	case "roots/list":
		return map[string]any{"roots": []any{map[string]any{"uri": "file:///tmp/conformance", "name": "conformance"}}}, nil
	case "sampling/createMessage":
		return map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": "conformance answer"}, "model": "conformance-model", "stopReason": "endTurn"}, nil
	case "elicitation/create":
		return map[string]any{"action": "decline"}, nil
	}
	return nil, &RPCError{Code: jsonrpc.CodeMethodNotFound, Message: "Method not found: " + method}
}

// validate checks one message of the target against the revision's
// schema; method is the method of the request a response answers.
func (t *T) validate(m *jsonrpc.Message, method string) {
	err := t.v.Validate(t.Rev, m, schemas.Check{Method: method, From: schemas.FromServer})
	prefix := ""
	if err == nil {
		if err = t.validateComplete(m, method); err == nil {
			return
		}
		prefix = "/result"
	}
	what := m.Method
	if method != "" {
		what = "response to " + method
	}
	var ve *schemas.ValidationError
	if errors.As(err, &ve) && len(ve.Issues) > 0 {
		for _, is := range ve.Issues {
			t.Fail("invalid %s: at %s: %s", what, pointer(prefix+is.Path), is.Message)
		}
		return
	}
	t.Fail("invalid %s: %v", what, err)
}

// validateComplete checks a stateless result that is not an
// InputRequiredResult against the method's own result definition: the
// schema's union of the two accepts some results that are neither.
func (t *T) validateComplete(m *jsonrpc.Message, method string) error {
	if !t.Rev.Stateless() || m.Kind != jsonrpc.KindResult || method == "" {
		return nil
	}
	var rt struct {
		ResultType string `json:"resultType"`
	}
	if json.Unmarshal(m.Result, &rt) != nil || rt.ResultType == "input_required" {
		return nil
	}
	mi, ok := t.v.Method(t.Rev, method)
	if !ok || len(mi.Results) == 0 {
		return nil
	}
	if err := t.v.ValidateDef(t.Rev, mi.Results[0], []byte(m.Result)); err != nil {
		return fmt.Errorf("%s: %w", mi.Results[0], err)
	}
	return nil
}

func pointer(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// clip shortens raw bytes for a message.
func clip(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// id returns a fresh request id.
func (t *T) id() json.RawMessage {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	return json.RawMessage(strconv.Itoa(t.nextID))
}

// Call sends a request and waits for its response. On stateless
// revisions it adds params._meta with the runner's metadata when params
// have none. It stops the scenario (Fatal) if the target does not answer.
func (t *T) Call(ctx context.Context, method string, params any) Response {
	r, err := t.CallErr(ctx, method, params)
	if err != nil {
		t.Fatal("%s: %v", method, err)
	}
	return r
}

// CallBatch sends requests as one JSON-RPC batch (2025-03-26) and waits
// for every answer, which may come as one array or one by one.
func (t *T) CallBatch(ctx context.Context, methods ...string) ([]Response, error) {
	var (
		items []any
		chans []chan Response
	)
	t.mu.Lock()
	for _, m := range methods {
		t.nextID++
		id := json.RawMessage(strconv.Itoa(t.nextID))
		ch := make(chan Response, 1)
		t.pending[jsonrpc.IDKey(id)] = ch
		t.methods[jsonrpc.IDKey(id)] = m
		items = append(items, map[string]any{"jsonrpc": "2.0", "id": id, "method": m})
		chans = append(chans, ch)
	}
	t.mu.Unlock()
	raw, err := json.Marshal(items)
	if err != nil {
		return nil, fmt.Errorf("conformance: encode a batch: %w", err)
	}
	if err := t.conn.Send(ctx, transport.Message{Raw: raw}); err != nil {
		return nil, fmt.Errorf("send a batch: %w", err)
	}
	out := make([]Response, len(chans))
	for i, ch := range chans {
		select {
		case r, ok := <-ch:
			if !ok {
				return nil, fmt.Errorf("connection ended before the answer to %s", methods[i])
			}
			out[i] = r
		case <-ctx.Done():
			return nil, fmt.Errorf("no answer to batch element %d (%s): %w", i+1, methods[i], ctx.Err())
		}
	}
	return out, nil
}

// Start sends a request without waiting for its answer (a long-lived
// request such as subscriptions/listen) and returns its id; the answer,
// if one comes, is validated like any other.
func (t *T) Start(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p, err := t.params(params, true)
	if err != nil {
		return nil, err
	}
	id := t.id()
	raw, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": p})
	if err != nil {
		return nil, fmt.Errorf("conformance: encode %s: %w", method, err)
	}
	t.mu.Lock()
	t.pending[jsonrpc.IDKey(id)] = make(chan Response, 1)
	t.methods[jsonrpc.IDKey(id)] = method
	t.mu.Unlock()
	if err := t.conn.Send(ctx, transport.Message{Raw: raw}); err != nil {
		return nil, fmt.Errorf("send %s: %w", method, err)
	}
	return id, nil
}

// WaitNotification waits until a notification that match accepts has
// arrived, the connection ends or ctx ends; ok reports whether one came.
func (t *T) WaitNotification(ctx context.Context, match func(Notification) bool) (n Notification, ok bool) {
	for {
		t.mu.Lock()
		for _, x := range t.notes {
			if match(x) {
				t.mu.Unlock()
				return x, true
			}
		}
		ch, end := t.changed, t.recvErr != nil
		t.mu.Unlock()
		if end {
			return Notification{}, false
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Notification{}, false
		}
	}
}

// CallErr is Call returning a transport failure instead of stopping.
func (t *T) CallErr(ctx context.Context, method string, params any) (Response, error) {
	p, err := t.params(params, true)
	if err != nil {
		return Response{}, err
	}
	id := t.id()
	msg := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if p != nil {
		msg["params"] = p
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return Response{}, fmt.Errorf("conformance: encode %s: %w", method, err)
	}
	return t.roundTrip(ctx, id, method, raw)
}

// CallRaw sends raw bytes as a request with the given id (JSON) and
// waits for the answer; method, if known, selects the result schema.
func (t *T) CallRaw(ctx context.Context, id, method string, raw []byte) (Response, error) {
	return t.roundTrip(ctx, json.RawMessage(id), method, raw)
}

func (t *T) roundTrip(ctx context.Context, id json.RawMessage, method string, raw []byte) (Response, error) {
	ch := make(chan Response, 1)
	key := jsonrpc.IDKey(id)
	if string(id) == "null" {
		key = "null"
	}
	t.mu.Lock()
	if t.recvErr != nil {
		err := t.recvErr
		t.mu.Unlock()
		return Response{}, fmt.Errorf("connection ended: %w", err)
	}
	t.pending[key] = ch
	if key != "null" {
		t.methods[key] = method
	}
	t.mu.Unlock()
	if err := t.conn.Send(ctx, transport.Message{Raw: raw}); err != nil {
		return Response{}, fmt.Errorf("send %s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			t.mu.Lock()
			err := t.recvErr
			t.mu.Unlock()
			return Response{}, fmt.Errorf("connection ended before the answer: %w", err)
		}
		return r, nil
	case <-ctx.Done():
		return Response{}, fmt.Errorf("no answer: %w", ctx.Err())
	}
}

// Notify sends a notification.
func (t *T) Notify(ctx context.Context, method string, params any) error {
	p, err := t.params(params, false)
	if err != nil {
		return err
	}
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if p != nil {
		msg["params"] = p
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("conformance: encode %s: %w", method, err)
	}
	return t.SendRaw(ctx, raw)
}

// SendRaw sends bytes as they are.
func (t *T) SendRaw(ctx context.Context, raw []byte) error {
	if err := t.conn.Send(ctx, transport.Message{Raw: raw}); err != nil {
		return fmt.Errorf("conformance: send: %w", err)
	}
	return nil
}

// params returns params as a JSON object, with the stateless _meta added
// to requests.
func (t *T) params(params any, request bool) (json.RawMessage, error) {
	var obj map[string]any
	switch p := params.(type) {
	case nil:
	case map[string]any:
		obj = p
	case json.RawMessage:
		return p, nil
	default:
		return nil, fmt.Errorf("conformance: params of type %T", params)
	}
	if request && t.Rev.Stateless() {
		if obj == nil {
			obj = map[string]any{}
		}
		if _, ok := obj["_meta"]; !ok {
			obj["_meta"] = t.Meta()
		}
	}
	if obj == nil {
		return nil, nil
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("conformance: encode params: %w", err)
	}
	return raw, nil
}

// ClientCapabilities are the capabilities the runner declares: it answers
// roots, sampling and (from 2025-06-18) elicitation requests.
func (t *T) ClientCapabilities() map[string]any {
	caps := map[string]any{"roots": map[string]any{"listChanged": false}, "sampling": map[string]any{}}
	if t.Rev >= schemas.V20250618 {
		caps["elicitation"] = map[string]any{}
	}
	return caps
}

// Meta returns the params._meta of a stateless request.
func (t *T) Meta() map[string]any {
	return map[string]any{
		metaProtocolVersion:    t.Rev.String(),
		metaClientCapabilities: t.ClientCapabilities(),
		metaClientInfo:         map[string]any{"name": ClientName, "version": "1.0.0"},
	}
}

// InitializeParams returns the params of an initialize request for
// version.
func (t *T) InitializeParams(version string) map[string]any {
	return map[string]any{
		"protocolVersion": version,
		"capabilities":    t.ClientCapabilities(),
		"clientInfo":      map[string]any{"name": ClientName, "version": "1.0.0"},
	}
}

// Handshake initializes the session (legacy revisions): initialize, then
// notifications/initialized. It stops the scenario when the target does
// not agree on the revision.
func (t *T) Handshake(ctx context.Context) {
	r := t.Call(ctx, "initialize", t.InitializeParams(t.Rev.String()))
	if r.Error != nil {
		t.Fatal("initialize failed: %v", r.Error)
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(r.Result, &res); err != nil {
		t.Fatal("initialize result: %v", err)
	}
	if res.ProtocolVersion != t.Rev.String() {
		t.Fatal("initialize asked for %s, the target answered %q", t.Rev, res.ProtocolVersion)
	}
	t.Init = r.Result
	if rs, ok := t.conn.(transport.RevisionSetter); ok {
		rs.SetRevision(t.Rev)
	}
	if err := t.Notify(ctx, "notifications/initialized", nil); err != nil {
		t.Fatal("notifications/initialized: %v", err)
	}
}

// Discover sends server/discover (stateless revisions) and keeps its
// result in Init.
func (t *T) Discover(ctx context.Context) {
	r := t.Call(ctx, "server/discover", nil)
	if r.Error != nil {
		t.Fatal("server/discover failed: %v", r.Error)
	}
	t.Init = r.Result
}

// Capability returns the server's capability of that name (nil when it
// does not declare it).
func (t *T) Capability(name string) map[string]any {
	var res struct {
		Capabilities map[string]map[string]any `json:"capabilities"`
	}
	if json.Unmarshal(t.Init, &res) != nil || res.Capabilities == nil {
		return nil
	}
	c, ok := res.Capabilities[name]
	if !ok {
		return nil
	}
	if c == nil {
		c = map[string]any{}
	}
	return c
}

// Require skips the scenario unless the server declares the capability.
func (t *T) Require(name string) {
	if t.Capability(name) == nil {
		t.Skip("the server does not declare the %s capability", name)
	}
}

// Notifications returns the notifications received so far.
func (t *T) Notifications() []Notification {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Notification(nil), t.notes...)
}

// Asked returns the methods of the requests the target sent so far.
func (t *T) Asked() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.asked...)
}

// Alive reports whether the connection still works.
func (t *T) Alive() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.recvErr
}

// HTTP returns the target's Streamable HTTP endpoint ("" for other
// targets) and a client for raw requests.
func (t *T) HTTP() (string, *http.Client) {
	return t.target.URL, t.target.httpClient()
}

// Post sends one raw HTTP POST to the target's endpoint with the headers
// given (Content-Type and Accept default to what MCP asks for; an empty
// value removes a header) and returns the response with its body read.
func (t *T) Post(ctx context.Context, body []byte, header map[string]string) (*http.Response, []byte) {
	return t.do(ctx, http.MethodPost, body, header)
}

func (t *T) do(ctx context.Context, method string, body []byte, header map[string]string) (*http.Response, []byte) {
	url, client := t.HTTP()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal("HTTP request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal("HTTP %s: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := readBody(ctx, resp)
	if err != nil {
		t.Fatal("HTTP %s: reading the body: %v", method, err)
	}
	return resp, b
}

// readBody reads a JSON body, or an SSE body up to the first response
// event (the stream may stay open after it).
func readBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	ct := resp.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "text/event-stream") {
		var buf bytes.Buffer
		_, err := buf.ReadFrom(http.MaxBytesReader(nil, resp.Body, jsonrpc.DefaultMaxSize))
		return buf.Bytes(), err
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			resp.Body.Close()
		case <-done:
		}
	}()
	var data, last []byte
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				break
			}
			line := bytes.TrimRight(buf[:i], "\r")
			buf = buf[i+1:]
			switch {
			case len(line) == 0:
				if len(data) > 0 {
					last = data
					if m, perr := jsonrpc.Parse(data); perr == nil && m.IsResponse() {
						return data, nil
					}
					data = nil
				}
			case bytes.HasPrefix(line, []byte("data:")):
				d := bytes.TrimPrefix(bytes.TrimPrefix(line, []byte("data:")), []byte(" "))
				if len(data) > 0 {
					data = append(data, '\n')
				}
				data = append(data, d...)
			}
		}
		if err != nil {
			return last, nil
		}
	}
}
