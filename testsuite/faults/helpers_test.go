// Package faults holds fault-injection tests of the mcpbroker binary: real
// processes and sockets on 127.0.0.1, a broker per test, faults injected
// from the client side (bad HTTP, bad JSON-RPC, disconnects, SIGTERM) and
// from the upstream side (a fake server that crashes or hangs).
package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// brokerBin is the mcpbroker binary built once by TestMain.
var brokerBin string

// validator is shared by every fixture client.
var validator *schemas.Validator

// fakeUpstreamEnv, when set in the environment, turns the test binary into
// the fake upstream server (see fakeUpstream). The broker passes its
// environment to the children it starts, so setting it on the broker
// process is enough.
const fakeUpstreamEnv = "MCPBROKER_FAULTS_FAKE_UPSTREAM"

func TestMain(m *testing.M) {
	if os.Getenv(fakeUpstreamEnv) != "" {
		os.Exit(fakeUpstream(os.Stdin, os.Stdout))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mcpbroker-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	brokerBin = filepath.Join(dir, "mcpbroker")
	out, err := exec.Command("go", "build", "-o", brokerBin, "github.com/mcpbroker/mcpbroker/cmd/mcpbroker").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	if validator, err = schemas.NewValidator(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// fakeUpstream is a minimal MCP server over stdio (newline-delimited
// JSON-RPC). It answers initialize (echoing the offered protocolVersion),
// ping and tools/list; tools/call of "echo" answers its text, of "crash"
// exits the process with status 3 without answering, and of "hang" never
// answers (after a progress notification when the call has a
// progressToken); "junk" writes a line that is not JSON before answering,
// "wrong-id" answers an id that was never sent before answering. Other
// tools echo their text argument. Notifications are ignored.
func fakeUpstream(in io.Reader, out io.Writer) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	enc := json.NewEncoder(out)
	reply := func(id json.RawMessage, result any) {
		_ = enc.Encode(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
	}
	for sc.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				ProtocolVersion string `json:"protocolVersion"`
				Name            string `json:"name"`
				Arguments       struct {
					Text string `json:"text"`
				} `json:"arguments"`
				Meta struct {
					ProgressToken json.RawMessage `json:"progressToken"`
				} `json:"_meta"`
			} `json:"params"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil || m.ID == nil || m.Method == "" {
			continue // a notification, a response or junk
		}
		switch m.Method {
		case "initialize":
			reply(m.ID, map[string]any{
				"protocolVersion": m.Params.ProtocolVersion,
				"capabilities":    map[string]any{"tools": map[string]any{}},
				"serverInfo":      map[string]any{"name": "faults-fake", "version": "0.0.1"},
			})
		case "ping":
			reply(m.ID, map[string]any{})
		case "tools/list":
			tool := func(name string) map[string]any {
				return map[string]any{"name": name, "inputSchema": map[string]any{"type": "object"}}
			}
			reply(m.ID, map[string]any{"tools": []any{tool("echo"), tool("crash"), tool("hang"), tool("junk"), tool("wrong-id")}})
		case "tools/call":
			switch m.Params.Name {
			case "crash":
				return 3
			case "hang":
				// Never answer; report progress 0 first when asked, so
				// that a test knows the call has arrived.
				if m.Params.Meta.ProgressToken != nil {
					_ = enc.Encode(map[string]any{"jsonrpc": "2.0", "method": "notifications/progress",
						"params": map[string]any{"progressToken": m.Params.Meta.ProgressToken, "progress": 0}})
				}
			case "junk":
				// A line that is not JSON-RPC, then the answer.
				fmt.Fprintln(out, "this is not JSON {{{")
				reply(m.ID, map[string]any{"content": []any{map[string]any{"type": "text", "text": m.Params.Arguments.Text}}})
			case "wrong-id":
				// An answer to a request nobody sent, then the answer.
				reply(json.RawMessage(`"no-such-request-id"`), map[string]any{"content": []any{}})
				reply(m.ID, map[string]any{"content": []any{map[string]any{"type": "text", "text": m.Params.Arguments.Text}}})
			default:
				reply(m.ID, map[string]any{"content": []any{map[string]any{"type": "text", "text": m.Params.Arguments.Text}}})
			}
		default:
			_ = enc.Encode(map[string]any{"jsonrpc": "2.0", "id": m.ID,
				"error": map[string]any{"code": jsonrpc.CodeMethodNotFound, "message": "method not found"}})
		}
	}
	return 0
}

// broker is a running `mcpbroker serve`.
type broker struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been waited for
	err    error         // Wait's result, set before exited closes
}

func (b *broker) mcpURL() string { return "http://" + b.addr + "/mcp" }

// startBroker runs `mcpbroker serve --listen 127.0.0.1:0 args...` with the
// extra environment env, and waits until it listens. Cleanup interrupts it
// and waits for it to exit.
func startBroker(t *testing.T, env []string, args ...string) *broker {
	t.Helper()
	cmd := exec.Command(brokerBin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &broker{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	var logDone sync.WaitGroup
	logDone.Add(1)
	go func() {
		defer logDone.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "mcpbroker listening" {
				addr <- line.Addr
				sent = true
			}
			if testing.Verbose() {
				t.Logf("broker: %s", sc.Bytes())
			}
		}
		if !sent {
			close(addr)
		}
	}()
	go func() {
		logDone.Wait() // StderrPipe must be drained before Wait
		b.err = cmd.Wait()
		close(b.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-b.exited:
			return
		default:
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-b.exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-b.exited
			t.Errorf("broker did not exit within 15s of SIGINT")
		}
	})
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("broker exited before listening")
		}
		b.addr = a
	case <-time.After(30 * time.Second):
		t.Fatal("broker did not start listening")
	}
	return b
}

// fakeBroker starts a broker in front of the fake upstream.
func fakeBroker(t *testing.T, args ...string) *broker {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(self, " \t") {
		t.Skipf("test binary path %q has spaces; --upstream-cmd splits on them", self)
	}
	return startBroker(t, []string{fakeUpstreamEnv + "=1"}, append([]string{"--upstream-cmd", self}, args...)...)
}

// testCtx returns a context bounded by 30 s and cancelled at cleanup.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// client opens a strict fixture client session over Streamable HTTP and
// initializes it.
func client(t *testing.T, b *broker) *fixture.Client {
	t.Helper()
	ctx := testCtx(t)
	conn, err := transport.DialHTTP(ctx, b.mcpURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := fixture.NewClient(schemas.V20250618, conn, fixture.WithValidator(validator))
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Initialize(ctx); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

var echoSeq atomic.Int64

// mustEcho calls the echo tool on c and checks the answer: the session
// works.
func mustEcho(t *testing.T, c *fixture.Client, who string) {
	t.Helper()
	text := fmt.Sprintf("%s-%d", who, echoSeq.Add(1))
	res, err := c.CallTool(testCtx(t), "echo", map[string]any{"text": text})
	if err != nil {
		t.Fatalf("%s: echo: %v", who, err)
	}
	if !strings.Contains(res.Text(), text) {
		t.Fatalf("%s: echo answered %q, want %q", who, res.Text(), text)
	}
	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("%s: client saw invalid messages: %v", who, vs)
	}
}

// stillServing checks that the session opened before the fault still
// works and that a new session can be opened and used.
func stillServing(t *testing.T, b *broker, other *fixture.Client) {
	t.Helper()
	mustEcho(t, other, "concurrent session")
	mustEcho(t, client(t, b), "new session")
}

// rawProtocolVersion is the revision the raw HTTP helpers speak.
const rawProtocolVersion = "2025-06-18"

// rawResp is an HTTP answer to a raw POST.
type rawResp struct {
	status int
	header http.Header
	body   []byte
	msgs   []json.RawMessage // JSON-RPC messages in the body (JSON or SSE)
}

// rawPost POSTs body to the broker's /mcp with the headers a well-behaved
// client sends (and the session id when sid is not empty); mod may change
// the request before it is sent.
func rawPost(t *testing.T, b *broker, sid string, body []byte, mod func(*http.Request)) rawResp {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, b.mcpURL(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		req.Header.Set(transport.HeaderSessionID, sid)
		req.Header.Set(transport.HeaderProtocolVersion, rawProtocolVersion)
	}
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST: reading body: %v", err)
	}
	r := rawResp{status: resp.StatusCode, header: resp.Header, body: data}
	switch mt := resp.Header.Get("Content-Type"); {
	case strings.HasPrefix(mt, "text/event-stream"):
		r.msgs = sseData(data)
	case len(bytes.TrimSpace(data)) > 0:
		r.msgs = []json.RawMessage{data}
	}
	return r
}

// sseData returns the data of each event of an SSE body.
func sseData(body []byte) []json.RawMessage {
	var out []json.RawMessage
	var cur []byte
	for line := range strings.SplitSeq(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "data:"):
			d := strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
			if cur != nil {
				cur = append(cur, '\n')
			}
			cur = append(cur, d...)
		case line == "":
			if cur != nil {
				out = append(out, json.RawMessage(cur))
				cur = nil
			}
		}
	}
	if cur != nil {
		out = append(out, json.RawMessage(cur))
	}
	return out
}

// rpcError is the error member of a JSON-RPC error response.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// errorOf returns the error of the response with the given id among msgs
// (any error response when id is nil).
func errorOf(msgs []json.RawMessage, id json.RawMessage) (*rpcError, error) {
	for _, raw := range msgs {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Error  *rpcError       `json:"error"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("not JSON: %q", raw)
		}
		if m.Method != "" {
			continue
		}
		if id != nil && !bytes.Equal(bytes.TrimSpace(m.ID), id) {
			continue
		}
		if m.Error == nil {
			return nil, fmt.Errorf("a result, not an error: %s", raw)
		}
		return m.Error, nil
	}
	return nil, errors.New("no response in the body")
}

// wantStatusCode checks an HTTP status and, when codes is not empty, that
// the body holds a JSON-RPC error whose code is one of codes.
func wantStatusCode(t *testing.T, r rawResp, status int, codes ...int) {
	t.Helper()
	if r.status != status {
		t.Errorf("HTTP status %d, want %d (body %q)", r.status, status, r.body)
		return
	}
	if len(codes) == 0 {
		return
	}
	e, err := errorOf(r.msgs, nil)
	if err != nil {
		t.Errorf("body: %v (body %q)", err, r.body)
		return
	}
	for _, c := range codes {
		if e.Code == c {
			return
		}
	}
	t.Errorf("JSON-RPC error code %d (%q), want one of %v", e.Code, e.Message, codes)
}

// rawSession initializes a session with raw HTTP and returns its id.
func rawSession(t *testing.T, b *broker) string {
	t.Helper()
	init := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"faults-raw","version":"0"}}}`, rawProtocolVersion)
	r := rawPost(t, b, "", []byte(init), nil)
	sid := r.header.Get(transport.HeaderSessionID)
	if r.status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: status %d, session id %q, body %q", r.status, sid, r.body)
	}
	if r := rawPost(t, b, sid, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), nil); r.status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: status %d, body %q", r.status, r.body)
	}
	return sid
}

// rawEcho calls echo over a raw session and checks the answer.
func rawEcho(t *testing.T, b *broker, sid string) {
	t.Helper()
	text := fmt.Sprintf("raw-%d", echoSeq.Add(1))
	r := rawPost(t, b, sid, fmt.Appendf(nil, `{"jsonrpc":"2.0","id":"echo-%s","method":"tools/call","params":{"name":"echo","arguments":{"text":%q}}}`, text, text), nil)
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(text)) {
		t.Fatalf("raw echo: status %d, body %q", r.status, r.body)
	}
}
