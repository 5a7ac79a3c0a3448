package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// helperEnv switches the test binary into a tiny stdio MCP peer (see
// runHelper), so that Command tests need no other program.
const helperEnv = "MCPBROKER_TRANSPORT_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the child process of the Command tests:
//
//	echo      echoes each line, logs its length on stderr, exits 0 at EOF
//	crash     reads one line, says so on stderr, exits with status 3
//	stubborn  announces its pid, then ignores stdin EOF and SIGTERM
//	term      announces its pid, ignores stdin EOF, exits 0 on SIGTERM
func runHelper(mode string) int {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	announce := func() {
		fmt.Fprintf(os.Stdout, `{"jsonrpc":"2.0","method":"ready","params":{"pid":%d}}`+"\n", os.Getpid())
	}
	switch mode {
	case "echo":
		for in.Scan() {
			fmt.Fprintf(os.Stderr, "got %d bytes\n", len(in.Bytes()))
			os.Stdout.Write(append(in.Bytes(), '\n'))
		}
		return 0
	case "crash":
		in.Scan()
		fmt.Fprintln(os.Stderr, "helper: crashing on purpose")
		return 3
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		announce()
		select {}
	case "term":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		announce()
		<-c
		return 0
	}
	fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
	return 2
}

// peer stands in for the relay on the server side of a transport: it
// answers what a Conn receives.
//
//	initialize        result with protocolVersion 2025-06-18; an error
//	                  when the params contain "fail"
//	test/progress     a related notifications/progress, then the result
//	test/ask          a related server request (roots/list); the result,
//	                  holding the client's answer, once that arrives
//	test/hold         a related notification, then the result once release
//	                  is signalled
//	other requests    result {"echo": params}
//	batch             an array with one result per request
//	test/broadcast    (notification) an unrelated notifications/message
//
// Every notification's method goes to notes.
type peer struct {
	conn    Conn
	notes   chan string
	release chan struct{}
	done    chan struct{}
	err     error // Recv's final error, once done is closed
}

// startPeer runs a peer on conn until its Recv fails.
func startPeer(conn Conn) *peer {
	p := &peer{conn: conn, notes: make(chan string, 64), release: make(chan struct{}, 8), done: make(chan struct{})}
	go p.run()
	return p
}

// wait returns the peer's final Recv error.
func (p *peer) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(10 * time.Second):
		t.Fatal("peer did not stop")
		return nil
	}
}

func (p *peer) run() {
	defer close(p.done)
	ctx := context.Background()
	asks := make(map[string]json.RawMessage) // server request id -> client request id
	n := 0
	send := func(raw string, related json.RawMessage) {
		p.conn.Send(ctx, Message{Raw: []byte(raw), Related: related})
	}
	for {
		m, err := p.conn.Recv(ctx)
		if err != nil {
			if errors.Is(err, jsonrpc.ErrTooLarge) {
				continue
			}
			p.err = err
			return
		}
		f, err := jsonrpc.ParseFrame(m.Raw)
		if err != nil {
			continue
		}
		if f.Batch {
			var parts []string
			for _, msg := range f.Messages {
				if msg != nil && msg.IsRequest() {
					parts = append(parts, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"echo":%s}}`, msg.ID, orNull(msg.Params)))
				}
			}
			if len(parts) > 0 {
				send("["+strings.Join(parts, ",")+"]", nil)
			}
			continue
		}
		msg := f.Messages[0]
		switch {
		case msg.IsNotification():
			select {
			case p.notes <- msg.Method:
			default:
			}
			if msg.Method == "test/broadcast" {
				send(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello"}}`, nil)
			}
		case msg.IsResponse():
			if orig, ok := asks[jsonrpc.IDKey(msg.ID)]; ok {
				delete(asks, jsonrpc.IDKey(msg.ID))
				send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"answer":%s}}`, orig, orNull(msg.Result)), orig)
			}
		case msg.Method == "initialize":
			if bytes.Contains(msg.Params, []byte("fail")) {
				send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32602,"message":"no"}}`, msg.ID), msg.ID)
				continue
			}
			send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"peer","version":"1"}}}`, msg.ID), msg.ID)
		case msg.Method == "test/progress":
			send(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`, msg.ID)
			send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, msg.ID), msg.ID)
		case msg.Method == "test/ask":
			n++
			sid := fmt.Sprintf(`"ask-%d"`, n)
			asks[jsonrpc.IDKey(json.RawMessage(sid))] = bytes.Clone(msg.ID)
			send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"roots/list"}`, sid), msg.ID)
		case msg.Method == "test/hold":
			id := bytes.Clone(msg.ID)
			send(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":2,"progress":1}}`, id)
			go func() {
				select {
				case <-p.release:
					send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"held":true}}`, id), id)
				case <-time.After(10 * time.Second):
				}
			}()
		default:
			send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"echo":%s}}`, msg.ID, orNull(msg.Params)), msg.ID)
		}
	}
}

// orNull returns raw, or null when it is empty.
func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// peers accepts the sessions of a server and runs a peer on each.
type peers struct {
	ch chan *peer
}

// next returns the peer of the next session.
func (ps *peers) next(t *testing.T) *peer {
	t.Helper()
	select {
	case p := <-ps.ch:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no session accepted")
		return nil
	}
}

// acceptor is what HTTPServer and SSEServer have in common.
type acceptor interface {
	http.Handler
	Accept(ctx context.Context) (Conn, error)
	Close() error
}

// serve runs srv on a test HTTP server on 127.0.0.1 with a peer for every
// session. h, when not nil, is the handler served instead of srv (srv must
// be reachable through it).
func serve(t *testing.T, srv acceptor, h http.Handler) (*httptest.Server, *peers) {
	t.Helper()
	if h == nil {
		h = srv
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	// Cleanups run last-registered first: close srv (ending its sessions
	// and Accept), wait for the peers, then stop the HTTP server.
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(func() { srv.Close() })
	ps := &peers{ch: make(chan *peer, 16)}
	wg.Go(func() {
		for {
			c, err := srv.Accept(context.Background())
			if err != nil {
				return
			}
			p := startPeer(c)
			wg.Go(func() { <-p.done })
			ps.ch <- p
		}
	})
	return ts, ps
}

// recv receives one message within a few seconds.
func recv(t *testing.T, c Conn) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

// recvErr waits for Recv to fail and returns the error.
func recvErr(t *testing.T, c Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Recv(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatal("Recv did not fail")
			}
			return err
		}
		t.Logf("Recv (draining): %s", m.Raw)
	}
}

// send sends raw on c.
func send(t *testing.T, c Conn, raw string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Send(ctx, Message{Raw: []byte(raw)}); err != nil {
		t.Fatalf("Send(%s): %v", raw, err)
	}
}

// parse parses one message or fails the test.
func parse(t *testing.T, raw []byte) *jsonrpc.Message {
	t.Helper()
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return m
}

// initReq is an initialize request with id 1.
const initReq = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`

// post sends a POST to url with the usual MCP headers plus extra ones
// ("Name: value" strings; an empty value removes the header).
func post(t *testing.T, url, body string, extra ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	setHeaders(req, extra)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// do sends a request with the given method and headers.
func do(t *testing.T, method, url string, extra ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	setHeaders(req, extra)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// setHeaders applies "Name: value" strings to req.
func setHeaders(req *http.Request, extra []string) {
	for _, h := range extra {
		k, v, _ := strings.Cut(h, ":")
		if v = strings.TrimSpace(v); v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
}

// readAll reads a response body.
func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
