package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// The unit tests of the bridge run it in-process between a scripted
// 2026-07-28 client (the test's end of a pipe, driven by raw JSON) and a
// tiny hand-written legacy (2025-11-25) server behind a real relay, so
// that they can see every message each side receives: ids, counts and
// order.

// validator is compiled once for all tests of the package.
var validator = sync.OnceValues(schemas.NewValidator)

// waitTimeout bounds every wait for a message: a bug shows as a failure,
// not a hung test.
const waitTimeout = 10 * time.Second

// The reserved _meta keys as a 2026-07-28 client writes them.
const (
	kPV    = metaProtocolVersion
	kCaps  = metaClientCaps
	kInfo  = metaClientInfo
	kLevel = metaLogLevel
)

type obj = map[string]any

// rec is one message a side received.
type rec struct {
	m       *jsonrpc.Message
	related json.RawMessage
	sess    *upSession // the upstream session that received it (upstream side)
}

// obj decodes the message (numbers as json.Number).
func (r rec) obj() obj { return decodeObj(r.m.Raw) }

func decodeObj(raw []byte) obj {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v obj
	if err := d.Decode(&v); err != nil {
		panic(fmt.Sprintf("decode %s: %v", raw, err))
	}
	return v
}

// get walks v along keys (strings) and indexes (ints); nil when absent.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// js renders a decoded JSON value compactly.
func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// mailbox collects received messages; tests wait for and take them.
type mailbox struct {
	mu      sync.Mutex
	recs    []rec
	taken   []bool
	changed chan struct{} // closed and replaced on every append
}

func newMailbox() *mailbox { return &mailbox{changed: make(chan struct{})} }

func (b *mailbox) add(r rec) {
	b.mu.Lock()
	b.recs = append(b.recs, r)
	b.taken = append(b.taken, false)
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// wait takes the first message not taken yet that matches.
func (b *mailbox) wait(tb testing.TB, what string, match func(rec) bool) rec {
	tb.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		for i, r := range b.recs {
			if !b.taken[i] && match(r) {
				b.taken[i] = true
				b.mu.Unlock()
				return r
			}
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("timed out waiting for %s; received:\n%s", what, b.dump())
		}
	}
}

// all returns every message (taken or not) that matches.
func (b *mailbox) all(match func(rec) bool) []rec {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []rec
	for _, r := range b.recs {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

func (b *mailbox) dump() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	for i, r := range b.recs {
		fmt.Fprintf(&s, "  %d taken=%v related=%s %s\n", i, b.taken[i], r.related, r.m.Raw)
	}
	return s.String()
}

// Matchers.

func isMethod(method string) func(rec) bool {
	return func(r rec) bool { return r.m.Method == method }
}

func isRequest(method string) func(rec) bool {
	return func(r rec) bool { return r.m.Kind == jsonrpc.KindRequest && r.m.Method == method }
}

func isResponseTo(id json.RawMessage) func(rec) bool {
	key := jsonrpc.IDKey(id)
	return func(r rec) bool { return r.m.IsResponse() && jsonrpc.IDKey(r.m.ID) == key }
}

func and(fs ...func(rec) bool) func(rec) bool {
	return func(r rec) bool {
		for _, f := range fs {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

func inSession(s *upSession) func(rec) bool { return func(r rec) bool { return r.sess == s } }

// ---- the legacy upstream ----

// upstream is a tiny scripted 2025-11-25 server. It answers initialize,
// logging/setLevel, resources/(un)subscribe, tools/list and ping itself
// (unless a hook takes them) and leaves every other request to the test,
// which sees everything any of its sessions received in log.
type upstream struct {
	tb           testing.TB
	caps         string // the server capabilities, JSON
	instructions string
	log          *mailbox
	dials        atomic.Int32
	// hook, when set, sees each request first and reports whether it
	// handled it.
	hook func(s *upSession, m *jsonrpc.Message) bool
	// holdInit, when set, delays every initialize answer until closed.
	holdInit chan struct{}
	// holdLevel, when set, delays every logging/setLevel answer until
	// closed.
	holdLevel chan struct{}
	// answerAll answers every request the defaults do not handle (for
	// the fuzz target).
	answerAll bool
	// failDial makes dialing fail while set.
	failDial atomic.Bool

	mu       sync.Mutex
	sessions []*upSession
}

// upSession is one dialed upstream session.
type upSession struct {
	up     *upstream
	n      int
	conn   *transport.PipeConn
	closed chan struct{} // closed when the session's connection ended
}

const defaultServerCaps = `{"tools":{"listChanged":true},"prompts":{},"resources":{"subscribe":true,"listChanged":true},"logging":{}}`

func newUpstream(tb testing.TB) *upstream {
	return &upstream{tb: tb, caps: defaultServerCaps, instructions: "fake instructions", log: newMailbox()}
}

func (u *upstream) dial(ctx context.Context) (transport.Conn, error) {
	if u.failDial.Load() {
		return nil, errors.New("fake upstream: dial refused")
	}
	brokerSide, serverSide := transport.Pipe()
	u.mu.Lock()
	s := &upSession{up: u, n: len(u.sessions) + 1, conn: serverSide, closed: make(chan struct{})}
	u.sessions = append(u.sessions, s)
	u.mu.Unlock()
	u.dials.Add(1)
	go s.serve()
	return brokerSide, nil
}

func (u *upstream) session(n int) *upSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sessions[n-1]
}

func (u *upstream) numSessions() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.sessions)
}

// initializes counts the initialize requests every session received.
func (u *upstream) initializes() int { return len(u.log.all(isRequest("initialize"))) }

func (s *upSession) serve() {
	defer close(s.closed)
	for {
		tm, err := s.conn.Recv(context.Background())
		if err != nil {
			return
		}
		m, err := jsonrpc.Parse(tm.Raw)
		if err != nil {
			panic(fmt.Sprintf("fake upstream: unreadable %s: %v", tm.Raw, err))
		}
		s.up.log.add(rec{m: m, related: tm.Related, sess: s})
		if m.Kind != jsonrpc.KindRequest {
			continue
		}
		if h := s.up.hook; h != nil && h(s, m) {
			continue
		}
		switch m.Method {
		case "initialize":
			go func() {
				if ch := s.up.holdInit; ch != nil {
					<-ch
				}
				instr, _ := json.Marshal(s.up.instructions)
				s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-11-25","capabilities":%s,"serverInfo":{"name":"fake-upstream","version":"1.0.%d"},"instructions":%s}}`,
					m.ID, s.up.caps, s.n, instr))
			}()
		case "logging/setLevel":
			if ch := s.up.holdLevel; ch != nil {
				go func() {
					<-ch
					s.reply(m.ID, `{}`)
				}()
				break
			}
			s.reply(m.ID, `{}`)
		case "resources/subscribe", "resources/unsubscribe", "ping":
			s.reply(m.ID, `{}`)
		case "tools/list":
			s.reply(m.ID, `{"tools":[{"name":"t","inputSchema":{"type":"object"}}]}`)
		default:
			if s.up.answerAll {
				switch m.Method {
				case "tools/call":
					s.reply(m.ID, `{"content":[{"type":"text","text":"ok"}]}`)
				default:
					s.send(string(jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeMethodNotFound, "fake upstream: no "+m.Method, nil)))
				}
			}
		}
	}
}

func (s *upSession) send(raw string) { s.sendRel(raw, nil) }

func (s *upSession) sendRel(raw string, related json.RawMessage) {
	// A send fails only once the bridge closed the session (the lane
	// ended): what the test then waits for does not come.
	_ = s.conn.Send(context.Background(), transport.Message{Raw: []byte(raw), Related: related})
}

func (s *upSession) reply(id json.RawMessage, result string) {
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result))
}

// request sends a server->client request; related, when set, is the id
// of the client request it belongs to (as on a Streamable HTTP stream).
func (s *upSession) request(id, method, params string, related json.RawMessage) {
	p := ""
	if params != "" {
		p = `,"params":` + params
	}
	s.sendRel(fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"method":%q%s}`, id, method, p), related)
}

func (s *upSession) notify(method, params string, related json.RawMessage) {
	s.sendRel(fmt.Sprintf(`{"jsonrpc":"2.0","method":%q,"params":%s}`, method, params), related)
}

// Server requests of 2025-11-25.
const (
	samplingParams    = `{"messages":[{"role":"user","content":{"type":"text","text":"what now?"}}],"maxTokens":10}`
	elicitationParams = `{"mode":"form","message":"your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}}}}`
)

// ---- the 2026-07-28 client side ----

// clientConn is the bridge's end of the client pipe; like the Conn of a
// transport.HTTP2026Server it tells each request's HTTP headers.
type clientConn struct {
	*transport.PipeConn
	mu      sync.Mutex
	headers map[string]http.Header
}

func (c *clientConn) RequestHeader(id json.RawMessage) (http.Header, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.headers[jsonrpc.IDKey(id)]
	return h.Clone(), ok
}

// clientPeer is the HTTP client every request of the harness comes from.
var clientPeer = transport.Peer{Address: "192.0.2.9", Port: 40000, ProtocolVersion: "2"}

// RequestPeer tells the client of a request, like the Conn of a
// transport.HTTP2026Server: always clientPeer.
func (c *clientConn) RequestPeer(json.RawMessage) (transport.Peer, bool) {
	return clientPeer, true
}

// fakeClock is the clock of the harness's Sealer.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logSink collects the bridge's log lines.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is one Serve between the scripted client and the fake upstream.
type harness struct {
	tb     testing.TB
	up     *upstream
	cfg    Config
	clock  *fakeClock
	conn   *clientConn         // the bridge's end
	client *transport.PipeConn // the test's end
	in     *mailbox            // what the bridge sent the client
	logs   *logSink            // the bridge's and the relay's log
	done   chan error          // Serve's result
	cancel context.CancelFunc  // ends Serve
	ctx    context.Context     // Serve's context
	ids    atomic.Int64        // request ids of the client
	key    sealed.Key          // the Sealer's key
}

// harnessOption adjusts the configuration or the upstream before Serve.
type harnessOption func(h *harness)

func withConfig(f func(*Config)) harnessOption { return func(h *harness) { f(&h.cfg) } }

func withUpstream(f func(*upstream)) harnessOption { return func(h *harness) { f(h.up) } }

const maxAge = time.Minute

func newHarness(tb testing.TB, opts ...harnessOption) *harness {
	tb.Helper()
	v, err := validator()
	if err != nil {
		tb.Fatal(err)
	}
	key, err := sealed.NewRandomKey()
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{
		tb:    tb,
		up:    newUpstream(tb),
		clock: &fakeClock{t: time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)},
		in:    newMailbox(),
		logs:  &logSink{},
		done:  make(chan error, 1),
		key:   key,
	}
	sealer, err := sealed.New(sealed.Options{Keys: []sealed.Key{key}, MaxAge: maxAge, Now: h.clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.cfg = Config{
		Relay:    relay.Config{Validator: v, ServerValidation: relay.Strict, Logger: logger},
		Dial:     h.up.dial,
		Sealer:   sealer,
		Instance: "test-instance",
		Gather:   50 * time.Millisecond,
	}
	for _, o := range opts {
		o(h)
	}
	mine, theirs := transport.Pipe()
	h.client = mine
	h.conn = &clientConn{PipeConn: theirs, headers: map[string]http.Header{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go func() { h.done <- Serve(h.ctx, h.conn, h.cfg) }()
	go func() {
		for {
			tm, err := h.client.Recv(context.Background())
			if err != nil {
				return
			}
			m, err := jsonrpc.Parse(tm.Raw)
			if err != nil {
				h.in.add(rec{m: &jsonrpc.Message{Raw: tm.Raw}, related: tm.Related})
				continue
			}
			h.in.add(rec{m: m, related: tm.Related})
		}
	}()
	tb.Cleanup(func() {
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(waitTimeout):
			tb.Errorf("Serve did not return after its context ended")
		}
		h.client.Close()
		if tb.Failed() {
			tb.Logf("bridge log:\n%s", h.logs.String())
		}
	})
	return h
}

// capsAll are client capabilities that allow every input request.
var capsAll = obj{"sampling": obj{}, "elicitation": obj{}, "roots": obj{}}

// req is a request the scripted client sends.
type req struct {
	id     json.RawMessage
	method string
	params obj
	auth   string // the Authorization header; "" for none
}

// meta returns the reserved _meta of a 2026-07-28 request.
func meta(caps any, more ...any) obj {
	m := obj{kPV: "2026-07-28", kCaps: caps, kInfo: obj{"name": "test-client", "version": "1"}}
	for i := 0; i+1 < len(more); i += 2 {
		m[more[i].(string)] = more[i+1]
	}
	return m
}

// newID returns a fresh client request id (a JSON string).
func (h *harness) newID() json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`"c%d"`, h.ids.Add(1)))
}

// send sends a request with params (to which _meta is added when it has
// none) as principal auth, and returns its id.
func (h *harness) send(method string, params obj, auth string) json.RawMessage {
	h.tb.Helper()
	if params == nil {
		params = obj{}
	}
	if _, ok := params["_meta"]; !ok {
		params["_meta"] = meta(capsAll)
	}
	id := h.newID()
	h.sendReq(req{id: id, method: method, params: params, auth: auth})
	return id
}

func (h *harness) sendReq(r req) {
	h.tb.Helper()
	if r.auth != "" {
		h.conn.mu.Lock()
		h.conn.headers[jsonrpc.IDKey(r.id)] = http.Header{"Authorization": {r.auth}}
		h.conn.mu.Unlock()
	}
	body := obj{"jsonrpc": "2.0", "id": json.RawMessage(r.id), "method": r.method}
	if r.params != nil {
		body["params"] = r.params
	}
	raw, err := json.Marshal(body)
	if err != nil {
		h.tb.Fatal(err)
	}
	h.sendRaw(string(raw))
}

func (h *harness) sendRaw(raw string) {
	h.tb.Helper()
	if err := h.client.Send(context.Background(), transport.Message{Raw: []byte(raw)}); err != nil {
		h.tb.Fatalf("client send: %v", err)
	}
}

// cancelReq sends notifications/cancelled for a client request, as
// transport.HTTP2026Server does when the request's stream closes.
func (h *harness) cancelReq(id json.RawMessage) {
	h.tb.Helper()
	h.sendRaw(fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%s,"reason":"stream closed"}}`, id))
}

// response waits for the response to a client request.
func (h *harness) response(id json.RawMessage) rec {
	h.tb.Helper()
	return h.in.wait(h.tb, "the response to "+string(id), isResponseTo(id))
}

// result waits for the successful response to a client request and
// returns its result.
func (h *harness) result(id json.RawMessage) obj {
	h.tb.Helper()
	r := h.response(id)
	if r.m.Kind != jsonrpc.KindResult {
		h.tb.Fatalf("response to %s: want a result, got %s", id, r.m.Raw)
	}
	res, _ := r.obj()["result"].(obj)
	return res
}

// errorOf waits for the error response to a client request and checks its
// code; it returns the error object.
func (h *harness) errorOf(id json.RawMessage, code int) obj {
	h.tb.Helper()
	r := h.response(id)
	if r.m.Kind != jsonrpc.KindError {
		h.tb.Fatalf("response to %s: want error %d, got %s", id, code, r.m.Raw)
	}
	e, _ := r.obj()["error"].(obj)
	if got := fmt.Sprint(e["code"]); got != fmt.Sprint(code) {
		h.tb.Fatalf("response to %s: want error %d, got %s", id, code, r.m.Raw)
	}
	return e
}

// call sends a request and waits for its result.
func (h *harness) call(method string, params obj, auth string) obj {
	h.tb.Helper()
	return h.result(h.send(method, params, auth))
}

// upRequest waits for the upstream to receive a request of method.
func (h *harness) upRequest(method string) rec {
	h.tb.Helper()
	return h.up.log.wait(h.tb, "an upstream "+method, isRequest(method))
}

// barrier makes sure the bridge's Serve loop has handled everything the
// client sent so far: an unparseable frame is answered on that loop
// itself (-32700).
func (h *harness) barrier() {
	h.tb.Helper()
	h.sendRaw(`{`)
	h.in.wait(h.tb, "the parse error of the barrier", func(r rec) bool {
		return r.m.Kind == jsonrpc.KindError && strings.Contains(string(r.m.Raw), "-32700")
	})
}

// toolCall is the params of a tools/call of the tool t.
func toolCall(m obj, more ...any) obj {
	p := obj{"name": "t", "arguments": obj{}, "_meta": m}
	for i := 0; i+1 < len(more); i += 2 {
		p[more[i].(string)] = more[i+1]
	}
	return p
}

// retryParams returns params plus the MRTR retry fields.
func retryParams(params obj, state any, responses obj) obj {
	p := obj{}
	for k, v := range params {
		p[k] = v
	}
	p["requestState"] = state
	p["inputResponses"] = responses
	return p
}

// inputRequired checks that a result is an InputRequiredResult and
// returns its inputRequests and requestState.
func inputRequired(tb testing.TB, res obj) (obj, string) {
	tb.Helper()
	if res["resultType"] != "input_required" {
		tb.Fatalf("want an InputRequiredResult, got %s", js(res))
	}
	reqs, _ := res["inputRequests"].(obj)
	st, _ := res["requestState"].(string)
	if len(reqs) == 0 || st == "" {
		tb.Fatalf("InputRequiredResult without inputRequests or requestState: %s", js(res))
	}
	return reqs, st
}

// onlyKey returns the one key of m.
func onlyKey(tb testing.TB, m obj) string {
	tb.Helper()
	if len(m) != 1 {
		tb.Fatalf("want one input request, got %s", js(m))
	}
	for k := range m {
		return k
	}
	return ""
}
