package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// validator is compiled once for all tests of the package.
var validator = sync.OnceValues(schemas.NewValidator)

func testValidator(tb testing.TB) *schemas.Validator {
	tb.Helper()
	v, err := validator()
	if err != nil {
		tb.Fatalf("NewValidator: %v", err)
	}
	return v
}

// waitTimeout bounds every wait of a test for a message: a relay bug shows
// as a failure, not a hung test.
const waitTimeout = 10 * time.Second

// syncBuffer is a log sink that tests can read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// peer is the test's end of a pipe: the scripted MCP client or server.
type peer struct {
	tb   testing.TB
	name string
	conn *memConn
}

func (p *peer) send(raw string) { p.sendRel(raw, "") }

func (p *peer) sendRel(raw, related string) {
	p.tb.Helper()
	m := transport.Message{Raw: []byte(raw)}
	if related != "" {
		m.Related = json.RawMessage(related)
	}
	if err := p.conn.Send(context.Background(), m); err != nil {
		p.tb.Fatalf("%s send: %v", p.name, err)
	}
}

// recv returns the next frame the relay sent to this peer.
func (p *peer) recv() transport.Message {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	m, err := p.conn.Recv(ctx)
	if err != nil {
		p.tb.Fatalf("%s recv: %v", p.name, err)
	}
	return m
}

// recvObj returns the next frame decoded (numbers as json.Number).
func (p *peer) recvObj() obj {
	p.tb.Helper()
	m := p.recv()
	o, ok := decode(p.tb, m.Raw).(map[string]any)
	if !ok {
		p.tb.Fatalf("%s: want an object, got %s", p.name, m.Raw)
	}
	return o
}

// recvAnswer returns the next response, with the methods of the
// notifications that came before it, in order.
func (p *peer) recvAnswer() (obj, []string) {
	p.tb.Helper()
	var before []string
	for {
		o := p.recvObj()
		if _, ok := o["id"]; ok {
			return o, before
		}
		m := str(o["method"])
		if u := get(o, "params", "uri"); u != nil {
			m += " " + str(u)
		}
		before = append(before, m)
	}
}

// expectEOF waits for the relay to close this pipe.
func (p *peer) expectEOF() {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	m, err := p.conn.Recv(ctx)
	if !errors.Is(err, io.EOF) {
		p.tb.Fatalf("%s: want EOF, got %s, %v", p.name, m.Raw, err)
	}
}

type obj = map[string]any

func decode(tb testing.TB, raw []byte) any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("decode %s: %v", raw, err)
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

// str renders a decoded JSON value compactly (json.Number keeps its text).
func str(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func wantEq(tb testing.TB, what string, got any, want string) {
	tb.Helper()
	if s := str(got); s != want {
		tb.Errorf("%s = %s, want %s", what, s, want)
	}
}

// harness runs one relay session between a scripted client and a
// scripted server.
type harness struct {
	tb     testing.TB
	client *peer // the MCP client the test plays
	server *peer // the MCP server the test plays
	dialed chan struct{}
	// redials receives the server end of each upstream the relay dials
	// after the first (restarts).
	redials chan *peer
	logs    *syncBuffer
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
	err     error
}

type harnessOption func(*harnessConfig)

type harnessConfig struct {
	dialErr error
	// redialErr, when set, decides whether the n-th dial (n >= 2) fails.
	redialErr func(n int) error
	// wrapUp, when set, wraps the first upstream connection.
	wrapUp func(transport.Conn) transport.Conn
	// wrapClient, when set, wraps the client connection.
	wrapClient func(transport.Conn) transport.Conn
}

func withWrapClient(f func(transport.Conn) transport.Conn) harnessOption {
	return func(c *harnessConfig) { c.wrapClient = f }
}

func withWrapUp(f func(transport.Conn) transport.Conn) harnessOption {
	return func(c *harnessConfig) { c.wrapUp = f }
}

func withRedialError(f func(n int) error) harnessOption {
	return func(c *harnessConfig) { c.redialErr = f }
}

func withDialError(err error) harnessOption {
	return func(c *harnessConfig) { c.dialErr = err }
}

func start(tb testing.TB, cfg Config, opts ...harnessOption) *harness {
	tb.Helper()
	var hc harnessConfig
	for _, o := range opts {
		o(&hc)
	}
	testEnd, brokerClient := newPipe()
	serverEnd, brokerUp := newPipe()
	h := &harness{
		tb:      tb,
		client:  &peer{tb: tb, name: "client", conn: testEnd},
		server:  &peer{tb: tb, name: "server", conn: serverEnd},
		dialed:  make(chan struct{}, 1),
		redials: make(chan *peer, 8),
		logs:    &syncBuffer{},
		done:    make(chan error, 1),
	}
	if cfg.Logger == nil {
		var w io.Writer = h.logs
		if t, ok := tb.(*testing.T); ok && testing.Verbose() {
			w = io.MultiWriter(h.logs, t.Output())
		}
		cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var dials atomic.Int32
	dial := func(ctx context.Context) (transport.Conn, error) {
		n := dials.Add(1)
		if n == 1 {
			h.dialed <- struct{}{}
		}
		if hc.dialErr != nil {
			return nil, hc.dialErr
		}
		if n == 1 {
			if hc.wrapUp != nil {
				return hc.wrapUp(brokerUp), nil
			}
			return brokerUp, nil
		}
		// A restart (1.T2): a fresh upstream, announced to the test.
		serverEnd, up := newPipe()
		if hc.redialErr != nil {
			if err := hc.redialErr(int(n)); err != nil {
				return nil, err
			}
		}
		h.redials <- &peer{tb: tb, name: fmt.Sprintf("server#%d", n), conn: serverEnd}
		return up, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	var client transport.Conn = brokerClient
	if hc.wrapClient != nil {
		client = hc.wrapClient(brokerClient)
	}
	go func() { h.done <- Run(ctx, client, dial, cfg) }()
	tb.Cleanup(func() {
		cancel()
		h.wait()
	})
	return h
}

// wait returns Run's result.
func (h *harness) wait() error {
	h.once.Do(func() {
		select {
		case h.err = <-h.done:
		case <-time.After(waitTimeout):
			h.tb.Errorf("Run did not return")
		}
	})
	return h.err
}

// wasDialed reports whether the relay dialed the upstream (so far).
func (h *harness) wasDialed() bool {
	select {
	case <-h.dialed:
		return true
	default:
		return false
	}
}

// handshake plays both ends of the initialize handshake: the client asks
// for clientRev with the given capabilities, the server (which must see
// the offered revision) answers serverRev. It returns what each side saw.
func (h *harness) handshake(clientRev, offered, serverRev, clientCaps, serverCaps string) (clientSaw, serverSaw obj) {
	h.tb.Helper()
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + clientRev +
		`","capabilities":` + clientCaps + `,"clientInfo":{"name":"test-client","version":"1.0"}}}`)
	serverSaw = h.server.recvObj()
	wantEq(h.tb, "upstream initialize method", serverSaw["method"], `"initialize"`)
	wantEq(h.tb, "upstream initialize id", serverSaw["id"], `1`)
	wantEq(h.tb, "offered protocolVersion", get(serverSaw, "params", "protocolVersion"), `"`+offered+`"`)
	h.server.send(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"` + serverRev + `","capabilities":` + serverCaps +
		`,"serverInfo":{"name":"test-server","version":"2.0"}}}`)
	m := h.client.recv()
	wantEq(h.tb, "initialize Related", json.RawMessage(m.Related), `0`)
	clientSaw = decode(h.tb, m.Raw).(obj)
	wantEq(h.tb, "initialize result id", clientSaw["id"], `0`)
	wantEq(h.tb, "client protocolVersion", get(clientSaw, "result", "protocolVersion"), `"`+clientRev+`"`)
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	n := h.server.recvObj()
	wantEq(h.tb, "upstream notification", n["method"], `"notifications/initialized"`)
	return clientSaw, serverSaw
}

// checkValid asserts that raw is a valid message of rev.
func checkValid(tb testing.TB, rev schemas.Revision, raw []byte, from schemas.Sender, method string) {
	tb.Helper()
	if err := testValidator(tb).ValidateBytes(rev, raw, schemas.Check{Method: method, From: from}); err != nil {
		tb.Errorf("%s message is not valid %s: %v\n%s", from, rev, err, raw)
	}
}

// errorCode returns the error code of an error response (nil if none).
func errorCode(o obj) any { return get(o, "error", "code") }

// rawID returns the exact id bytes of a frame.
func rawID(tb testing.TB, raw []byte) string {
	tb.Helper()
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		tb.Fatalf("parse %s: %v", raw, err)
	}
	return string(m.ID)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// loseUpstream closes the upstream with a request pending and waits until
// the client has its "upstream closed" error: the relay knows the
// upstream is gone.
func (h *harness) loseUpstream() {
	h.tb.Helper()
	h.client.send(`{"jsonrpc":"2.0","id":"lost","method":"tools/list"}`)
	h.server.recv()
	h.server.conn.Close()
	e := h.client.recvObj()
	wantEq(h.tb, "lost id", e["id"], `"lost"`)
	wantEq(h.tb, "lost code", errorCode(e), `-32603`)
}
