package upstream

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// helperEnv switches the test binary into a stdio MCP server (see
// runHelper), so that the tests start real child processes without another
// program.
const helperEnv = "MCPBROKER_UPSTREAM_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the child process of the tests:
//
//	server     the helper server (see helperServer)
//	chatty     says hello (notifications/message) at once, then serves
//	ready      says "ready" (notifications/message) at once, then serves
//	loud       says more at once than a spare keeps, then serves
//	slowstart  works 100ms (a server's startup cost), says "ready", serves
//	die        exits with status 3 at once
//	demo       the demo server of testsuite/demo, revision 2025-06-18
func runHelper(mode string) int {
	switch mode {
	case "die":
		return 3
	case "demo":
		err := demo.ServeStdio(context.Background(), schemas.V20250618, os.Stdin, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			return 1
		}
		return 0
	}
	s := &helperServer{holds: map[string]*hold{}, asks: map[string]func(*jsonrpc.Message){}}
	switch mode {
	case "server":
	case "chatty":
		s.write(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello before initialize"}}`)
	case "ready":
		s.message("ready")
	case "loud":
		for i := range maxStash + 6 {
			s.message("early " + strconv.Itoa(i))
		}
	case "slowstart":
		time.Sleep(100 * time.Millisecond) // stands for a runtime loading its modules
		s.message("ready")
	default:
		fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
		return 2
	}
	s.serve(os.Stdin)
	return 0
}

// helperServer is a tiny MCP server. It answers initialize (with the
// protocolVersion offered), ping, and tools/call of these tools:
//
//	echo {text}      progress (message text) when the request has a token,
//	                 then the text
//	hold {text}      waits for release {text} (then answers text) or for
//	                 its cancellation (then says "cancelled TEXT" in an
//	                 unrelated notifications/message and answers nothing)
//	release {text}   releases hold {text}
//	sample {text}    asks sampling/createMessage; answers the client's
//	                 text (or, on an error, says "sample error MESSAGE")
//	notify {text}    sends tools/list_changed and a message, then answers
//	flood {n}        sends n messages, then answers
//	stats            answers {"initialize":N,"initialized":N,"pid":N}
//	exit {code}      exits at once
type helperServer struct {
	mu          sync.Mutex
	holds       map[string]*hold
	asks        map[string]func(*jsonrpc.Message) // server request id -> answer handler
	nextAsk     int
	initialize  int
	initialized int
}

// hold is a held tools/call.
type hold struct {
	text    string
	release chan struct{}
	cancel  chan struct{}
	idKey   string
}

func (s *helperServer) write(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	os.Stdout.WriteString(line + "\n")
}

func (s *helperServer) reply(id json.RawMessage, result string) {
	s.write(`{"jsonrpc":"2.0","id":` + string(id) + `,"result":` + result + `}`)
}

func (s *helperServer) text(id json.RawMessage, text string) {
	s.reply(id, `{"content":[{"type":"text","text":`+strconv.Quote(text)+`}],"isError":false}`)
}

func (s *helperServer) message(data string) {
	s.write(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":` + strconv.Quote(data) + `}}`)
}

func (s *helperServer) serve(r io.Reader) {
	in := bufio.NewScanner(r)
	in.Buffer(nil, 1<<20)
	for in.Scan() {
		m, err := jsonrpc.Parse(in.Bytes())
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper: bad line:", err)
			continue
		}
		switch m.Kind {
		case jsonrpc.KindRequest:
			s.request(m)
		case jsonrpc.KindNotification:
			s.notification(m)
		default:
			s.mu.Lock()
			f := s.asks[jsonrpc.IDKey(m.ID)]
			delete(s.asks, jsonrpc.IDKey(m.ID))
			s.mu.Unlock()
			if f != nil {
				f(m)
			}
		}
	}
}

func (s *helperServer) notification(m *jsonrpc.Message) {
	switch m.Method {
	case "notifications/initialized":
		s.mu.Lock()
		s.initialized++
		s.mu.Unlock()
	case "notifications/cancelled":
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		_ = json.Unmarshal(m.Params, &p)
		s.mu.Lock()
		defer s.mu.Unlock()
		for text, h := range s.holds {
			if h.idKey == jsonrpc.IDKey(p.RequestID) {
				delete(s.holds, text)
				close(h.cancel)
			}
		}
	}
}

func (s *helperServer) request(m *jsonrpc.Message) {
	id := json.RawMessage(string(m.ID))
	switch m.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		_ = json.Unmarshal(m.Params, &p)
		s.mu.Lock()
		s.initialize++
		s.mu.Unlock()
		s.reply(id, `{"protocolVersion":`+strconv.Quote(p.ProtocolVersion)+`,"capabilities":{"tools":{},"logging":{}},"serverInfo":{"name":"helper","version":"1"}}`)
		return
	case "ping":
		s.reply(id, `{}`)
		return
	case "tools/call":
	default:
		s.write(string(jsonrpc.ErrorResponse(id, jsonrpc.CodeMethodNotFound, "no method "+m.Method, nil)))
		return
	}
	var p struct {
		Name      string `json:"name"`
		Arguments struct {
			Text string `json:"text"`
			N    int    `json:"n"`
			Code int    `json:"code"`
		} `json:"arguments"`
		Meta struct {
			ProgressToken json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
	}
	_ = json.Unmarshal(m.Params, &p)
	text := p.Arguments.Text
	switch p.Name {
	case "echo":
		if p.Meta.ProgressToken != nil {
			s.write(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":` + string(p.Meta.ProgressToken) + `,"progress":1,"total":1,"message":` + strconv.Quote(text) + `}}`)
		}
		s.text(id, text)
	case "hold":
		h := &hold{text: text, release: make(chan struct{}), cancel: make(chan struct{}), idKey: jsonrpc.IDKey(id)}
		s.mu.Lock()
		s.holds[text] = h
		s.mu.Unlock()
		go func() {
			select {
			case <-h.release:
				s.text(id, text)
			case <-h.cancel:
				s.message("cancelled " + text)
			}
		}()
	case "release":
		s.mu.Lock()
		h := s.holds[text]
		delete(s.holds, text)
		s.mu.Unlock()
		if h != nil {
			close(h.release)
		}
		s.text(id, "released "+text)
	case "sample":
		s.mu.Lock()
		s.nextAsk++
		ask := strconv.Quote("s-" + strconv.Itoa(s.nextAsk))
		s.asks[jsonrpc.IDKey(json.RawMessage(ask))] = func(answer *jsonrpc.Message) {
			if answer.Kind == jsonrpc.KindError {
				var e struct {
					Message string `json:"message"`
				}
				_ = json.Unmarshal(answer.Error, &e)
				s.message("sample error " + e.Message)
				s.reply(id, `{"content":[{"type":"text","text":"no answer"}],"isError":true}`)
				return
			}
			var r struct {
				Content struct {
					Text string `json:"text"`
				} `json:"content"`
			}
			_ = json.Unmarshal(answer.Result, &r)
			s.text(id, r.Content.Text)
		}
		s.mu.Unlock()
		s.write(`{"jsonrpc":"2.0","id":` + ask + `,"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":` + strconv.Quote(text) + `}}],"maxTokens":10}}`)
	case "notify":
		s.write(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`)
		s.message(text)
		s.text(id, "notified")
	case "flood":
		for i := range p.Arguments.N {
			s.message("flood " + strconv.Itoa(i))
		}
		s.text(id, "flooded")
	case "stats":
		s.mu.Lock()
		st := fmt.Sprintf(`{"initialize":%d,"initialized":%d,"pid":%d}`, s.initialize, s.initialized, os.Getpid())
		s.mu.Unlock()
		s.text(id, st)
	case "exit":
		os.Exit(p.Arguments.Code)
	default:
		s.write(string(jsonrpc.ErrorResponse(id, jsonrpc.CodeInvalidParams, "no tool "+p.Name, nil)))
	}
}

// ---- the test side ----

// waitTimeout bounds every wait of a test: a bug shows as a failure, not
// a hung test.
const waitTimeout = 10 * time.Second

// helperCommand is the Command that runs the test binary as a helper.
func helperCommand(mode string) *transport.Command {
	return &transport.Command{
		Argv: []string{os.Args[0]},
		// A race-enabled child would sleep a second at exit.
		Env:    append(os.Environ(), helperEnv+"="+mode, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0"),
		Grace:  time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// starter starts helper processes and keeps count of them. modes, when
// set, picks the mode of the n-th start (counting from 1); mode is the
// default.
type starter struct {
	mode  string
	modes func(n int64) string
	// gate, when set, is called before every start with its number; it
	// may block.
	gate func(ctx context.Context, n int64) error

	calls atomic.Int64 // starts attempted
	live  atomic.Int64 // started and not closed
	peak  atomic.Int64 // most live at once

	// started, when set, gets every Conn started while it has room.
	started chan *countedConn

	mu    sync.Mutex
	conns []*countedConn
}

func (s *starter) start(ctx context.Context) (transport.Conn, error) {
	n := s.calls.Add(1)
	if s.gate != nil {
		if err := s.gate(ctx, n); err != nil {
			return nil, err
		}
	}
	mode := s.mode
	if s.modes != nil {
		mode = s.modes(n)
	}
	c, err := helperCommand(mode).Start(ctx)
	if err != nil {
		return nil, err
	}
	live := s.live.Add(1)
	for {
		p := s.peak.Load()
		if live <= p || s.peak.CompareAndSwap(p, live) {
			break
		}
	}
	cc := &countedConn{Conn: c, s: s, received: make(chan struct{}, maxStash), closed: make(chan struct{})}
	s.mu.Lock()
	s.conns = append(s.conns, cc)
	s.mu.Unlock()
	if s.started != nil {
		select {
		case s.started <- cc:
		default:
		}
	}
	return cc, nil
}

// all returns the Conns started so far.
func (s *starter) all() []*countedConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*countedConn(nil), s.conns...)
}

// countedConn is a started Conn: it keeps the live count and signals what
// it received and its Close.
type countedConn struct {
	transport.Conn
	s        *starter
	received chan struct{} // a token per message Recv returned
	closed   chan struct{}
	once     sync.Once
}

func (c *countedConn) Recv(ctx context.Context) (transport.Message, error) {
	m, err := c.Conn.Recv(ctx)
	if err == nil {
		select {
		case c.received <- struct{}{}:
		default:
		}
	}
	return m, err
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.live.Add(-1)
		close(c.closed)
	})
	return err
}

// logSink is a slog.Handler that keeps the messages logged, so that a test
// can wait for the pool to report something.
type logSink struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every record
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }

func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// count returns how many messages contain s.
func (l *logSink) count(s string) (int, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n, l.changed
}

// wait waits until n messages contain s.
func (l *logSink) wait(t testing.TB, s string, n int) {
	t.Helper()
	timeout := time.NewTimer(waitTimeout)
	defer timeout.Stop()
	for {
		got, changed := l.count(s)
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %d log messages %q (got %d)", n, s, got)
		}
	}
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// newPool returns a pool closed at the end of the test, and its log.
func newPool(t testing.TB, start StartFunc, opts Options) (*Pool, *logSink) {
	t.Helper()
	logs := newLogSink()
	opts.Logger = slog.New(logs)
	p, err := New(start, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("pool log:\n%s", logs)
		}
	})
	return p, logs
}

// dial dials p and closes the Conn at the end of the test.
func dial(t testing.TB, p *Pool) transport.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := p.Dial(ctx)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t testing.TB, c transport.Conn, raw string) {
	t.Helper()
	if err := c.Send(context.Background(), transport.Message{Raw: []byte(raw)}); err != nil {
		t.Fatalf("Send %s: %v", raw, err)
	}
}

func recv(t testing.TB, c transport.Conn) transport.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

// recvErr waits for Recv to fail and returns its error.
func recvErr(t testing.TB, c transport.Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		m, err := c.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("Recv did not fail: %v", err)
			}
			return err
		}
		t.Logf("(before the error) %s", m.Raw)
	}
}

// queued returns what c has ready without waiting.
func queued(c transport.Conn) []transport.Message {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []transport.Message
	for {
		m, err := c.Recv(ctx)
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}

// msg is a decoded message for checks.
type msg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		ProgressToken json.RawMessage `json:"progressToken"`
		Message       string          `json:"message"`
		Data          string          `json:"data"`
		RequestID     json.RawMessage `json:"requestId"`
	} `json:"params"`
	Result struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		ProtocolVersion string `json:"protocolVersion"`
		IsError         bool   `json:"isError"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Related string `json:"-"`
}

func decode(t testing.TB, m transport.Message) msg {
	t.Helper()
	var d msg
	if err := json.Unmarshal(m.Raw, &d); err != nil {
		t.Fatalf("decode %s: %v", m.Raw, err)
	}
	d.Related = string(m.Related)
	return d
}

// text returns the first text content of a tools/call result.
func (m msg) text() string {
	if len(m.Result.Content) == 0 {
		return ""
	}
	return m.Result.Content[0].Text
}

// recvResponse returns the next response c receives, passing the
// notifications and requests before it to skip (when non-nil).
func recvResponse(t testing.TB, c transport.Conn, skip func(msg)) msg {
	t.Helper()
	for {
		d := decode(t, recv(t, c))
		if d.Method == "" {
			return d
		}
		if skip == nil {
			t.Fatalf("unexpected %s before a response", d.Method)
		}
		skip(d)
	}
}

// initialize performs a client handshake on c with the given id.
func initialize(t testing.TB, c transport.Conn, id int, version string) msg {
	t.Helper()
	send(t, c, `{"jsonrpc":"2.0","id":`+strconv.Itoa(id)+`,"method":"initialize","params":{"protocolVersion":"`+version+`","capabilities":{"sampling":{}},"clientInfo":{"name":"test","version":"1"}}}`)
	d := recvResponse(t, c, nil)
	if d.Error != nil {
		t.Fatalf("initialize: error %d %s", d.Error.Code, d.Error.Message)
	}
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return d
}

// toolCall is the text of a tools/call request.
func toolCall(id int, tool, args string, token string) string {
	meta := ""
	if token != "" {
		meta = `,"_meta":{"progressToken":` + token + `}`
	}
	return `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + meta + `}}`
}

// stats asks the helper server for its counters.
func stats(t testing.TB, c transport.Conn, id int) (initialize, initialized, pid int) {
	t.Helper()
	send(t, c, toolCall(id, "stats", `{}`, ""))
	d := recvResponse(t, c, func(msg) {})
	var st struct{ Initialize, Initialized, Pid int }
	if err := json.Unmarshal([]byte(d.text()), &st); err != nil {
		t.Fatalf("stats %q: %v", d.text(), err)
	}
	return st.Initialize, st.Initialized, st.Pid
}

// isEOF reports whether err says the peer is gone.
func isEOF(err error) bool { return errors.Is(err, io.EOF) }
