package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// sharedPool returns a shared-mode pool over helper processes.
func sharedPool(t *testing.T, opts Options) (*Pool, *starter, *logSink) {
	t.Helper()
	s := &starter{mode: "server"}
	opts.Mode = Shared
	p, logs := newPool(t, s.start, opts)
	return p, s, logs
}

// dialAll dials n virtual Conns and initializes them all at once (with
// the same id, 1): the first initialize goes to the server, the others
// wait for its answer.
func dialAll(t *testing.T, p *Pool, n int) []transport.Conn {
	t.Helper()
	conns := make([]transport.Conn, n)
	for i := range conns {
		conns[i] = dial(t, p)
	}
	for _, c := range conns {
		send(t, c, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"test","version":"1"}}}`)
	}
	for i, c := range conns {
		m := recv(t, c)
		d := decode(t, m)
		if string(d.ID) != "1" || d.Related != "1" || d.Error != nil || d.Result.ProtocolVersion != "2025-06-18" {
			t.Fatalf("client %d: initialize answer %s (related %s)", i, m.Raw, m.Related)
		}
		send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	}
	return conns
}

// TestSharedNoCrossTalk: three clients using the same ids (1, 2, 3) and
// the same progress token each get exactly their own responses and
// progress; the server saw one initialize and one initialized.
func TestSharedNoCrossTalk(t *testing.T) {
	p, s, _ := sharedPool(t, Options{})
	conns := dialAll(t, p, 3)
	for i, c := range conns {
		for id := 2; id <= 3; id++ {
			send(t, c, toolCall(id, "echo", fmt.Sprintf(`{"text":"c%d-%d"}`, i, id), `"tok"`))
		}
	}
	for i, c := range conns {
		got := map[string]string{} // what -> text
		for range 4 {
			d := decode(t, recv(t, c))
			switch d.Method {
			case "notifications/progress":
				if string(d.Params.ProgressToken) != `"tok"` {
					t.Errorf("client %d: progress token %s, want \"tok\"", i, d.Params.ProgressToken)
				}
				if want := fmt.Sprintf("c%d-%s", i, d.Related); d.Params.Message != want {
					t.Errorf("client %d: progress %q related to request %s, want %q", i, d.Params.Message, d.Related, want)
				}
				got["progress "+d.Related] = d.Params.Message
			case "":
				if d.Related != string(d.ID) {
					t.Errorf("client %d: response %s has Related %s", i, d.ID, d.Related)
				}
				got["response "+string(d.ID)] = d.text()
			default:
				t.Errorf("client %d: unexpected %s", i, d.Method)
			}
		}
		for _, k := range []string{"progress 2", "progress 3", "response 2", "response 3"} {
			id := k[len(k)-1:]
			if want := fmt.Sprintf("c%d-%s", i, id); got[k] != want {
				t.Errorf("client %d: %s = %q, want %q", i, k, got[k], want)
			}
		}
	}
	for i, c := range conns {
		if q := queued(c); len(q) != 0 {
			t.Errorf("client %d got %d more messages, first %s", i, len(q), q[0].Raw)
		}
	}
	initialize, initialized, _ := stats(t, conns[2], 4)
	if initialize != 1 || initialized != 1 {
		t.Errorf("server saw %d initialize and %d initialized, want 1 and 1", initialize, initialized)
	}
	if st := p.Stats(); st.Started != 1 || st.Open != 1 || st.SharedClients != 3 {
		t.Errorf("stats %+v, want 1 started, 1 open, 3 clients", st)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("%d processes started, want 1", n)
	}
}

// pipeServer is the test's end of a fake shared upstream.
type pipeServer struct {
	t    *testing.T
	conn *fixture.PipeConn
}

// pipePool returns a shared pool whose upstream is an in-memory pipe,
// with the test playing the server on the other end. wrap, when set,
// wraps the pool's end.
func pipePool(t *testing.T, wrap func(transport.Conn) transport.Conn) (*Pool, *pipeServer) {
	t.Helper()
	ours, theirs := fixture.Pipe()
	t.Cleanup(func() { theirs.Close() })
	used := false
	start := func(context.Context) (transport.Conn, error) {
		if used {
			return nil, errors.New("pipe already used")
		}
		used = true
		if wrap != nil {
			return wrap(ours), nil
		}
		return ours, nil
	}
	p, _ := newPool(t, start, Options{Mode: Shared})
	return p, &pipeServer{t: t, conn: theirs}
}

func (s *pipeServer) recv() msg {
	s.t.Helper()
	return decode(s.t, recv(s.t, s.conn))
}

func (s *pipeServer) send(raw, related string) {
	s.t.Helper()
	m := transport.Message{Raw: []byte(raw)}
	if related != "" {
		m.Related = json.RawMessage(related)
	}
	if err := s.conn.Send(context.Background(), m); err != nil {
		s.t.Fatalf("server send: %v", err)
	}
}

func initRequest(id, version string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"initialize","params":{"protocolVersion":"` + version + `","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`
}

// TestSharedInitialize: only the first initialize reaches the server;
// later ones get the cached result, or an error when they offer a revision
// the shared session does not speak; notifications/initialized reaches the
// server once.
func TestSharedInitialize(t *testing.T) {
	for _, tc := range []struct {
		name            string
		first, answered string // offered by the first client, answered by the server
		later           string // offered by a later client
		ok              bool
	}{
		{"same offer", "2025-06-18", "2025-06-18", "2025-06-18", true},
		{"offer the answered revision", "2025-11-25", "2025-06-18", "2025-06-18", true},
		{"offer the first offer", "2025-11-25", "2025-06-18", "2025-11-25", true},
		{"other revision", "2025-06-18", "2025-06-18", "2024-11-05", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, srv := pipePool(t, nil)
			a, b := dial(t, p), dial(t, p)
			send(t, a, initRequest("1", tc.first))
			send(t, b, initRequest(`"b-init"`, tc.later)) // waits for a's
			in := srv.recv()
			if in.Method != "initialize" || string(in.ID) != "1" {
				t.Fatalf("server got %+v, want initialize with id 1", in)
			}
			srv.send(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"`+tc.answered+`","capabilities":{"tools":{}},"serverInfo":{"name":"pipe","version":"1"}}}`, "")
			if d := decode(t, recv(t, a)); string(d.ID) != "1" || d.Result.ProtocolVersion != tc.answered {
				t.Errorf("first client: %+v", d)
			}
			check := func(who string, c transport.Conn, id string) {
				t.Helper()
				m := recv(t, c)
				d := decode(t, m)
				if string(d.ID) != id || string(m.Related) != id {
					t.Errorf("%s: answer %s (related %s), want id %s", who, m.Raw, m.Related, id)
				}
				switch {
				case tc.ok && (d.Error != nil || d.Result.ProtocolVersion != tc.answered):
					t.Errorf("%s: %s, want the cached result", who, m.Raw)
				case !tc.ok && (d.Error == nil || d.Error.Code != -32602 || !strings.Contains(d.Error.Message, "shared mode fixes the revision")):
					t.Errorf("%s: %s, want a -32602 error about shared mode", who, m.Raw)
				}
			}
			check("waiting client", b, `"b-init"`)
			c := dial(t, p)
			send(t, c, initRequest("7", tc.later))
			check("later client", c, "7")

			send(t, a, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			send(t, b, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			send(t, b, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
			if d := srv.recv(); d.Method != "notifications/initialized" {
				t.Errorf("server got %s, want notifications/initialized", d.Method)
			}
			if d := srv.recv(); d.Method != "ping" || string(d.ID) != "2" {
				t.Errorf("server got %s %s, want the ping (with shared id 2) and no second initialized", d.Method, d.ID)
			}
		})
	}
}

// TestSharedInitializeRefused: when the server refuses the first
// initialize, the waiting ones get the error too, and a later one is sent
// to the server again.
func TestSharedInitializeRefused(t *testing.T) {
	p, srv := pipePool(t, nil)
	a, b := dial(t, p), dial(t, p)
	send(t, a, initRequest("1", "2025-06-18"))
	send(t, b, initRequest("1", "2025-06-18"))
	srv.recv()
	srv.send(`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"go away"}}`, "")
	for _, c := range []transport.Conn{a, b} {
		if d := decode(t, recv(t, c)); d.Error == nil || d.Error.Message != "go away" || string(d.ID) != "1" {
			t.Errorf("answer %+v, want the server's error", d)
		}
	}
	send(t, b, initRequest("5", "2025-06-18"))
	if d := srv.recv(); d.Method != "initialize" || string(d.ID) != "2" {
		t.Errorf("server got %s %s, want initialize again", d.Method, d.ID)
	}
}

// TestSharedCancel: a client's notifications/cancelled reaches the server
// with the shared id of that client's request, not another client's
// request with the same id.
func TestSharedCancel(t *testing.T) {
	p, _, _ := sharedPool(t, Options{})
	conns := dialAll(t, p, 2)
	a, b := conns[0], conns[1]
	send(t, a, toolCall(2, "hold", `{"text":"a"}`, ""))
	send(t, b, toolCall(2, "hold", `{"text":"b"}`, ""))
	send(t, a, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"changed my mind"}}`)
	for i, c := range conns {
		if d := decode(t, recv(t, c)); d.Method != "notifications/message" || d.Params.Data != "cancelled a" {
			t.Errorf("client %d: %+v, want the server's \"cancelled a\"", i, d)
		}
	}
	send(t, b, toolCall(3, "release", `{"text":"b"}`, ""))
	got := map[string]string{}
	for range 2 {
		d := recvResponse(t, b, nil)
		got[string(d.ID)] = d.text()
	}
	if got["2"] != "b" || got["3"] != "released b" {
		t.Errorf("b's answers %v", got)
	}
	// a's request 2 gets no answer: the next one a sees answers request 4.
	send(t, a, toolCall(4, "echo", `{"text":"after"}`, ""))
	if d := recvResponse(t, a, nil); string(d.ID) != "4" || d.text() != "after" {
		t.Errorf("a's next answer %+v, want the echo of request 4", d)
	}
}

// TestSharedBroadcast: notifications the server sends without naming a
// request reach every client.
func TestSharedBroadcast(t *testing.T) {
	p, _, _ := sharedPool(t, Options{})
	conns := dialAll(t, p, 3)
	send(t, conns[1], toolCall(2, "notify", `{"text":"hi all"}`, ""))
	for i, c := range conns {
		want := []string{"notifications/tools/list_changed", "notifications/message"}
		for _, w := range want {
			m := recv(t, c)
			d := decode(t, m)
			if d.Method != w || len(m.Related) != 0 {
				t.Errorf("client %d: %s (related %s), want %s", i, m.Raw, m.Related, w)
			}
			if w == "notifications/message" && d.Params.Data != "hi all" {
				t.Errorf("client %d: message %q", i, d.Params.Data)
			}
		}
	}
	if d := recvResponse(t, conns[1], nil); string(d.ID) != "2" || d.text() != "notified" {
		t.Errorf("notify answer %+v", d)
	}
	for i, c := range conns {
		if q := queued(c); len(q) != 0 {
			t.Errorf("client %d got %s too", i, q[0].Raw)
		}
	}
}

// TestSharedServerRequest: over stdio (no related id) a server request
// goes to the client whose request is pending, and its answer reaches the
// server.
func TestSharedServerRequest(t *testing.T) {
	p, _, _ := sharedPool(t, Options{})
	conns := dialAll(t, p, 2)
	a, b := conns[0], conns[1]
	send(t, b, toolCall(2, "sample", `{"text":"what?"}`, ""))
	m := recv(t, b)
	ask := decode(t, m)
	if ask.Method != "sampling/createMessage" || string(m.Related) != "2" {
		t.Fatalf("b got %s (related %s), want the sampling request related to its request 2", m.Raw, m.Related)
	}
	send(t, b, `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"role":"assistant","content":{"type":"text","text":"from b"},"model":"m"}}`)
	if d := recvResponse(t, b, nil); string(d.ID) != "2" || d.text() != "from b" {
		t.Errorf("b's answer %+v, want the sampling text", d)
	}
	if q := queued(a); len(q) != 0 {
		t.Errorf("a got %s", q[0].Raw)
	}
}

// TestSharedServerRequestRouting covers the routing rules of server
// requests with a scripted server: the related id when the transport gives
// one, else the most recently sent pending request, else the most recently
// active client; ping is answered by the pool.
func TestSharedServerRequestRouting(t *testing.T) {
	p, srv := pipePool(t, nil)
	a, b := dial(t, p), dial(t, p)
	send(t, a, initRequest("1", "2025-06-18"))
	srv.recv()
	srv.send(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"pipe","version":"1"}}}`, "")
	recv(t, a)
	send(t, b, initRequest("1", "2025-06-18"))
	recv(t, b)

	send(t, a, toolCall(10, "x", `{}`, ""))
	aID := srv.recv().ID
	send(t, b, toolCall(10, "x", `{}`, ""))
	bID := srv.recv().ID
	if string(aID) == string(bID) {
		t.Fatalf("both requests 10 have shared id %s", aID)
	}

	for _, tc := range []struct {
		name, related string
		want          transport.Conn
		wantRelated   string
	}{
		{"related to a's request", string(aID), a, "10"},
		{"no related: the latest pending request (b's)", "", b, "10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.send(`{"jsonrpc":"2.0","id":"q","method":"roots/list"}`, tc.related)
			m := recv(t, tc.want)
			if d := decode(t, m); d.Method != "roots/list" || string(m.Related) != tc.wantRelated {
				t.Errorf("got %s (related %s)", m.Raw, m.Related)
			}
			send(t, tc.want, `{"jsonrpc":"2.0","id":"q","result":{"roots":[]}}`)
			in := recv(t, srv.conn)
			if d := decode(t, in); string(d.ID) != `"q"` || string(in.Related) != `"q"` {
				t.Errorf("server got %s (related %s), want the answer to q", in.Raw, in.Related)
			}
			for _, c := range []transport.Conn{a, b} {
				if q := queued(c); len(q) != 0 {
					t.Errorf("also delivered: %s", q[0].Raw)
				}
			}
		})
	}

	// Finish both requests; the latest active client is then a (it sent
	// the last message).
	srv.send(`{"jsonrpc":"2.0","id":`+string(bID)+`,"result":{}}`, "")
	if d := decode(t, recv(t, b)); string(d.ID) != "10" {
		t.Errorf("b's answer %+v", d)
	}
	srv.send(`{"jsonrpc":"2.0","id":`+string(aID)+`,"result":{}}`, "")
	if d := decode(t, recv(t, a)); string(d.ID) != "10" {
		t.Errorf("a's answer %+v", d)
	}
	send(t, a, `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`)
	srv.recv()
	srv.send(`{"jsonrpc":"2.0","id":"r","method":"roots/list"}`, "")
	if m := recv(t, a); decode(t, m).Method != "roots/list" || len(m.Related) != 0 {
		t.Errorf("a got %s (related %s), want the unrelated roots/list", m.Raw, m.Related)
	}
	// A client may not answer a request it did not get.
	send(t, b, `{"jsonrpc":"2.0","id":"r","result":{"roots":[]}}`)

	// ping is answered by the pool.
	srv.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`, "")
	if d := srv.recv(); string(d.ID) != `"p"` || d.Method != "" {
		t.Errorf("server got %+v, want the answer to its ping", d)
	}
	for _, c := range []transport.Conn{a, b} {
		if q := queued(c); len(q) != 0 {
			t.Errorf("also delivered: %s", q[0].Raw)
		}
	}

	// With no client left, a server request gets an error.
	a.Close()
	if d := srv.recv(); d.Error == nil || string(d.ID) != `"r"` {
		t.Errorf("server got %+v, want an error for r (its client closed)", d)
	}
	b.Close()
	srv.send(`{"jsonrpc":"2.0","id":"s","method":"roots/list"}`, "")
	if d := srv.recv(); d.Error == nil || string(d.ID) != `"s"` || !strings.Contains(d.Error.Message, "no client session") {
		t.Errorf("server got %+v, want an error for s", d)
	}
}

// TestSharedCrash: when the shared child dies, every client's Recv ends
// with io.EOF and the next Dial starts a fresh child.
func TestSharedCrash(t *testing.T) {
	p, s, _ := sharedPool(t, Options{})
	conns := dialAll(t, p, 3)
	_, _, pid := stats(t, conns[0], 2)
	send(t, conns[1], toolCall(2, "hold", `{"text":"x"}`, ""))
	send(t, conns[2], toolCall(2, "exit", `{"code":7}`, ""))
	for i, c := range conns {
		if err := recvErr(t, c); !isEOF(err) {
			t.Errorf("client %d: Recv error %v, want io.EOF", i, err)
		}
		if err := c.Send(context.Background(), transport.Message{Raw: []byte(toolCall(9, "echo", `{}`, ""))}); err == nil {
			t.Errorf("client %d: Send after the crash succeeded", i)
		}
	}
	if st := p.Stats(); st.Open != 0 || st.SharedClients != 0 {
		t.Errorf("after the crash: %+v, want nothing open", st)
	}
	c := dial(t, p)
	initialize(t, c, 1, "2025-06-18")
	initializes, _, newPid := stats(t, c, 2)
	if newPid == pid || initializes != 1 {
		t.Errorf("after the crash: pid %d (was %d), %d initialize; want a fresh child", newPid, pid, initializes)
	}
	if n := s.calls.Load(); n != 2 {
		t.Errorf("%d starts, want 2", n)
	}
}

// TestSharedSlowConsumer: a client that does not read is ended when its
// queue overflows; the others go on.
func TestSharedSlowConsumer(t *testing.T) {
	const queue = 8
	p, _, logs := sharedPool(t, Options{Queue: queue})
	conns := dialAll(t, p, 2)
	slow, fast := conns[0], conns[1]
	// Rounds of queue/2 broadcasts: the fast client reads each round
	// before the next, the slow one never reads and overflows in round 3.
	for round := range 4 {
		send(t, fast, toolCall(10+round, "flood", `{"n":`+strconv.Itoa(queue/2)+`}`, ""))
		messages := 0
		d := recvResponse(t, fast, func(msg) { messages++ })
		if messages != queue/2 || d.text() != "flooded" {
			t.Fatalf("round %d: fast client got %d messages and %+v, want %d and the answer", round, messages, d, queue/2)
		}
	}
	if err := recvErr(t, slow); !errors.Is(err, ErrQueueOverflow) {
		t.Errorf("slow client: Recv error %v, want ErrQueueOverflow", err)
	}
	logs.wait(t, "does not keep up", 1)
	if n, _ := logs.count("does not keep up"); n != 1 {
		t.Errorf("%d clients ended as too slow, want 1", n)
	}
	if st := p.Stats(); st.SharedClients != 1 {
		t.Errorf("stats %+v, want 1 client left", st)
	}
	send(t, fast, toolCall(3, "echo", `{"text":"still here"}`, ""))
	if d := recvResponse(t, fast, nil); d.text() != "still here" {
		t.Errorf("fast client after the overflow: %+v", d)
	}
}

// TestSharedClose: closing a client cancels its pending requests upstream
// and answers its pending server requests with an error; the shared child
// stays up for the others.
func TestSharedClose(t *testing.T) {
	p, s, _ := sharedPool(t, Options{})
	conns := dialAll(t, p, 2)
	a, b := conns[0], conns[1]
	send(t, a, toolCall(2, "hold", `{"text":"a"}`, ""))
	send(t, a, toolCall(3, "sample", `{"text":"q"}`, ""))
	if d := decode(t, recv(t, a)); d.Method != "sampling/createMessage" {
		t.Fatalf("a got %+v, want the sampling request", d)
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := a.Recv(context.Background()); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
	got := map[string]bool{}
	for range 2 {
		d := decode(t, recv(t, b))
		got[d.Params.Data] = true
	}
	if !got["cancelled a"] || !got["sample error mcpbroker: the client session ended"] {
		t.Errorf("b saw %v, want the cancellation of a's hold and the sampling error", got)
	}
	send(t, b, toolCall(4, "echo", `{"text":"b"}`, ""))
	if d := recvResponse(t, b, nil); string(d.ID) != "4" || d.text() != "b" {
		t.Errorf("b's answer %+v", d)
	}
	if st := p.Stats(); st.SharedClients != 1 || st.Open != 1 || s.calls.Load() != 1 {
		t.Errorf("stats %+v, starts %d; want 1 client on the same child", st, s.calls.Load())
	}
}

// TestSharedStartFailure: a failed start fails the Dials waiting for it;
// the next Dial tries again.
func TestSharedStartFailure(t *testing.T) {
	boom := errors.New("boom")
	var calls int
	var mu sync.Mutex
	start := func(context.Context) (transport.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return nil, boom
		}
		c, _ := fixture.Pipe()
		return c, nil
	}
	p, _ := newPool(t, start, Options{Mode: Shared})
	if _, err := p.Dial(context.Background()); !errors.Is(err, boom) {
		t.Errorf("first Dial: %v, want boom", err)
	}
	if st := p.Stats(); st.SharedClients != 0 {
		t.Errorf("stats %+v after a failed Dial", st)
	}
	dial(t, p)
	if st := p.Stats(); st.SharedClients != 1 || st.Open != 1 || st.Started != 1 {
		t.Errorf("stats %+v, want 1 client, 1 open, 1 started", st)
	}
}

// TestSharedMax caps the clients of the shared upstream.
func TestSharedMax(t *testing.T) {
	p, _, _ := sharedPool(t, Options{Max: 2})
	a := dial(t, p)
	dial(t, p)
	if _, err := p.Dial(context.Background()); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("third Dial: %v, want ErrPoolExhausted", err)
	}
	a.Close()
	dial(t, p)
}

// revConnStub is an upstream Conn with the optional interfaces, counting
// SetRevision calls.
type revConnStub struct {
	transport.Conn
	mu      sync.Mutex
	revs    []schemas.Revision
	opened  int
	headers []http.Header // transport.HeadersFrom of each Send
}

func (c *revConnStub) CarriesHeaders() bool { return true }

func (c *revConnStub) Send(ctx context.Context, m transport.Message) error {
	c.mu.Lock()
	c.headers = append(c.headers, transport.HeadersFrom(ctx))
	c.mu.Unlock()
	return c.Conn.Send(ctx, m)
}

func (c *revConnStub) sentHeaders() []http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.headers)
}

func (c *revConnStub) SetRevision(rev schemas.Revision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revs = append(c.revs, rev)
}

func (c *revConnStub) SessionID() string { return "sid-1" }

func (c *revConnStub) OpenStream() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opened++
}

func (c *revConnStub) openedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened
}

func (c *revConnStub) set() []schemas.Revision {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]schemas.Revision(nil), c.revs...)
}

// TestOptionalInterfaces: the Conns handed out implement SetRevision,
// SessionID and CarriesHeaders when the upstream does, and the headers of
// transport.WithHeaders reach the upstream's Send (REVISIONS.md 4.T5); in
// shared mode SetRevision reaches the upstream once.
func TestOptionalInterfaces(t *testing.T) {
	for _, mode := range []Mode{PerSession, Shared} {
		t.Run(mode.String(), func(t *testing.T) {
			var stub *revConnStub
			start := func(context.Context) (transport.Conn, error) {
				c, _ := fixture.Pipe()
				stub = &revConnStub{Conn: c}
				return stub, nil
			}
			p, _ := newPool(t, start, Options{Mode: mode})
			a, b := dial(t, p), dial(t, p)
			for _, c := range []transport.Conn{a, b} {
				// The relay compares Conns (==): that must not panic.
				if any(c) != any(c) {
					t.Fatalf("%T does not equal itself", c)
				}
				rs, ok := c.(transport.RevisionSetter)
				if !ok {
					t.Fatalf("%T is no RevisionSetter", c)
				}
				rs.SetRevision(schemas.V20250618)
				c.(transport.StreamOpener).OpenStream()
				if si, ok := c.(transport.SessionIDer); !ok || si.SessionID() != "sid-1" {
					t.Errorf("%T: no SessionID sid-1", c)
				}
				if hc, ok := c.(transport.HeaderCarrier); !ok || !hc.CarriesHeaders() {
					t.Errorf("%T: does not carry headers", c)
				}
			}
			// b is the session of the last stub started.
			h := http.Header{"Mcp-Param-Region": {"eu"}}
			if err := b.Send(transport.WithHeaders(context.Background(), h), transport.Message{Raw: []byte(toolCall(7, "route", `{"region":"eu"}`, ""))}); err != nil {
				t.Fatal(err)
			}
			if sent := stub.sentHeaders(); len(sent) != 1 || sent[0].Get("Mcp-Param-Region") != "eu" {
				t.Errorf("headers the upstream's Send got: %v", sent)
			}
			want := 1 // per-session: each of the two stubs got one
			if got := len(stub.set()); got != want {
				t.Errorf("the upstream got SetRevision %d times, want %d", got, want)
			}
			if stub.openedCount() == 0 {
				t.Error("OpenStream did not reach the upstream")
			}
			// Over a Conn without the optional interfaces they are no-ops.
			pc, _ := fixture.Pipe()
			x := expose(pc, pc, nil, nil)
			x.(transport.RevisionSetter).SetRevision(schemas.V20250618)
			x.(transport.StreamOpener).OpenStream()
			if id := x.(transport.SessionIDer).SessionID(); id != "" {
				t.Errorf("SessionID of a Conn without one = %q", id)
			}
			if x.(transport.HeaderCarrier).CarriesHeaders() {
				t.Error("a Conn without CarriesHeaders carries headers")
			}
			if p := x.(transport.PeerAddresser).Peer(); p != (transport.Peer{}) {
				t.Errorf("Peer of a Conn without one = %+v", p)
			}
			wantPeer := transport.Peer{Address: "mcp.example.com", Port: 443, ProtocolVersion: "2"}
			if p := expose(pc, peered{pc, wantPeer}, nil, nil).(transport.PeerAddresser).Peer(); p != wantPeer {
				t.Errorf("Peer of a Conn with one = %+v, want %+v", p, wantPeer)
			}
		})
	}
}

// TestSharedBatch: a batch from a client is sent element by element with
// shared ids; a batch from the server is split and routed element by
// element.
func TestSharedBatch(t *testing.T) {
	p, srv := pipePool(t, nil)
	a, b := dial(t, p), dial(t, p)
	send(t, a, `[`+toolCall(1, "x", `{}`, `"t"`)+`,{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]`)
	send(t, b, toolCall(1, "x", `{}`, `"t"`))
	var ids []string
	for _, want := range []string{"tools/call", "notifications/roots/list_changed", "tools/call"} {
		d := srv.recv()
		if d.Method != want {
			t.Fatalf("server got %s, want %s", d.Method, want)
		}
		if d.ID != nil {
			ids = append(ids, string(d.ID))
		}
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("shared ids %v, want two distinct", ids)
	}
	srv.send(`[{"jsonrpc":"2.0","id":`+ids[1]+`,"result":{"to":"b"}},{"jsonrpc":"2.0","id":`+ids[0]+`,"result":{"to":"a"}}]`, "")
	for name, c := range map[string]transport.Conn{"a": a, "b": b} {
		m := recv(t, c)
		if want := `{"jsonrpc":"2.0","id":1,"result":{"to":"` + name + `"}}`; string(m.Raw) != want || string(m.Related) != "1" {
			t.Errorf("%s got %s (related %s), want %s", name, m.Raw, m.Related, want)
		}
	}
}

// peered is a Conn that says where its peer is.
type peered struct {
	transport.Conn
	peer transport.Peer
}

func (c peered) Peer() transport.Peer { return c.peer }
