package demo_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// The 2026-07-28 (stateless) demo server with the 2026-07-28 fixture
// client, both strict, over three transports.

const v2026 = schemas.V20260728

// Transports the 2026 tests run over.
const (
	overPipe  = "pipe"  // fixture.Pipe and Server.Serve
	overStdio = "stdio" // NDJSON on io.Pipes and ServeStdio
	overHTTP  = "http"  // ServeHTTP on 127.0.0.1 and fixture.DialHTTP2026
)

func transports26() []string { return []string{overPipe, overStdio, overHTTP} }

// harness26 is a 2026-07-28 demo server and fixture client.
type harness26 struct {
	ctx      context.Context
	over     string
	client   *fixture.Client
	requests *requestLog
	http     *fixture.HTTPConn // over HTTP
	url      string            // over HTTP: the MCP endpoint
	// stop stops the server (it then ends its open listens) and returns
	// what Serve, ServeStdio or ServeHTTP returned.
	stop func() error
}

// start26 starts a 2026-07-28 demo server and a fixture client connected
// over the transport. Cleanup closes the client and the server and checks
// that the client received no invalid message and no response it did not
// wait for.
func start26(t *testing.T, over string, sopts []demo.Option, copts ...fixture.Option) *harness26 {
	t.Helper()
	return start26Wrapped(t, over, nil, sopts, copts...)
}

// start26Wrapped is start26 with the client's Conn wrapped by wrap (when
// not nil).
func start26Wrapped(t *testing.T, over string, wrap func(transport.Conn) transport.Conn, sopts []demo.Option, copts ...fixture.Option) *harness26 {
	t.Helper()
	v := sharedValidator(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	h := &harness26{ctx: ctx, over: over, requests: newRequestLog()}
	sopts = append([]demo.Option{demo.WithValidator(v), demo.WithRequestHook(h.requests.add)}, sopts...)
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	var conn transport.Conn
	switch over {
	case overPipe:
		srv, err := demo.New(v2026, sopts...)
		if err != nil {
			t.Fatal(err)
		}
		sconn, cconn := fixture.Pipe()
		go func() { served <- srv.Serve(serveCtx, sconn) }()
		conn = cconn
	case overStdio:
		serverIn, clientOut := io.Pipe()
		clientIn, serverOut := io.Pipe()
		go func() { served <- demo.ServeStdio(serveCtx, v2026, serverIn, serverOut, sopts...) }()
		conn = fixture.NewStdioConn(clientIn, clientOut, 0)
	case overHTTP:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { served <- demo.ServeHTTP(serveCtx, v2026, ln, sopts...) }()
		h.url = "http://" + ln.Addr().String() + demo.PathMCP
		h.http = fixture.DialHTTP2026(h.url)
		conn = h.http
	default:
		t.Fatalf("no transport %q", over)
	}
	var stopErr error
	stopped := false
	h.stop = func() error {
		if stopped {
			return stopErr
		}
		stopped = true
		stopServe()
		timer := time.NewTimer(testTimeout)
		defer timer.Stop()
		select {
		case stopErr = <-served:
		case <-timer.C:
			t.Fatal("the server did not stop")
		}
		return stopErr
	}
	if wrap != nil {
		conn = wrap(conn)
	}
	var err error
	h.client, err = fixture.NewClient(v2026, conn, append([]fixture.Option{fixture.WithValidator(v)}, copts...)...)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.client.Close(); err != nil {
			t.Errorf("client: %v", err)
		}
		if err := h.stop(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server: %v", err)
		}
		for _, err := range h.client.Violations() {
			t.Errorf("the client received an invalid message: %v", err)
		}
		for _, id := range h.client.Unmatched() {
			t.Errorf("the client received a response to no pending request: id %s", id)
		}
	})
	return h
}

// call26 calls method (Call: _meta added, input rounds run) and decodes
// the result.
func (h *harness26) call(t *testing.T, method string, params any) map[string]any {
	t.Helper()
	raw, err := h.client.Call(h.ctx, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	var res map[string]any
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("%s result: %v", method, err)
	}
	return res
}

// tool calls a tool that must succeed (isError false).
func (h *harness26) tool(t *testing.T, name string, args any) *fixture.ToolResult {
	t.Helper()
	r, err := h.client.CallTool(h.ctx, name, args)
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	if r.IsError {
		t.Fatalf("tools/call %s: tool error: %s", name, r.Text())
	}
	return r
}

// wantComplete checks what every complete 2026 result carries, and the
// caching hints when ttlMs >= 0 (none when ttlMs < 0).
func wantComplete(t *testing.T, what string, res map[string]any, ttlMs float64, scope string) {
	t.Helper()
	if res["resultType"] != "complete" {
		t.Errorf("%s: resultType %v", what, res["resultType"])
	}
	meta, _ := res["_meta"].(map[string]any)
	info, _ := meta[fixture.MetaServerInfo].(map[string]any)
	if info["name"] != "mcpbroker-demo" {
		t.Errorf("%s: _meta %v, want serverInfo", what, res["_meta"])
	}
	if ttlMs < 0 {
		if _, ok := res["ttlMs"]; ok {
			t.Errorf("%s: ttlMs %v on a result that has none", what, res["ttlMs"])
		}
		return
	}
	if res["ttlMs"] != ttlMs || res["cacheScope"] != scope {
		t.Errorf("%s: ttlMs %v cacheScope %v, want %v %s", what, res["ttlMs"], res["cacheScope"], ttlMs, scope)
	}
}

// codeOf checks that err is a JSON-RPC error with the code and returns it.
func codeOf(t *testing.T, err error, code int) *jsonrpc.Error {
	t.Helper()
	var je *jsonrpc.Error
	if !errors.As(err, &je) {
		t.Fatalf("want a JSON-RPC error %d, got %T %v", code, err, err)
	}
	if je.Code != code {
		t.Fatalf("error code %d (%s), want %d", je.Code, je.Message, code)
	}
	return je
}

// lastStatus returns the HTTP status of the last POST of method (0 when
// not over HTTP).
func (h *harness26) lastStatus(method string) int {
	if h.http == nil {
		return 0
	}
	xs := h.http.Exchanges()
	for i := len(xs) - 1; i >= 0; i-- {
		if xs[i].Method == method {
			return xs[i].Status
		}
	}
	return -1
}

// wantStatus checks the HTTP status of the last POST of method, over HTTP.
func (h *harness26) wantStatus(t *testing.T, method string, status int) {
	t.Helper()
	if got := h.lastStatus(method); h.http != nil && got != status {
		t.Errorf("%s over HTTP: status %d, want %d", method, got, status)
	}
}

func TestDemo2026(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, over string)
	}{
		{"discover", testDiscover26},
		{"tools/list", testToolsList26},
		{"cache hints", testCacheHints26},
		{"echo and logging", testEchoLogging26},
		{"add", testAdd26},
		{"content", testContent26},
		{"sample", testSample26},
		{"elicit", testElicit26},
		{"roots", testRoots26},
		{"input rounds", testInputRounds26},
		{"forged requestState", testForgedState26},
		{"progress", testProgress26},
		{"slow cancelled", testSlowCancelled26},
		{"slow times out", testSlowTimeout26},
		{"resources", testResources26},
		{"listen", testListen26},
		{"listen ended by the server", testListenEnded26},
		{"prompts", testPrompts26},
		{"completion", testCompletion26},
		{"missing _meta", testMissingMeta26},
		{"unsupported version", testUnsupportedVersion26},
		{"unknown method", testUnknownMethod26},
	}
	for _, over := range transports26() {
		t.Run(over, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, over)
				})
			}
		})
	}
}

func testDiscover26(t *testing.T, over string) {
	h := start26(t, over, nil)
	res, err := h.client.Initialize(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ProtocolVersion != "2026-07-28" || !slices.Equal(res.SupportedVersions, []string{"2026-07-28"}) {
		t.Errorf("protocolVersion %q, supportedVersions %v", res.ProtocolVersion, res.SupportedVersions)
	}
	var got []string
	for k := range res.Capabilities {
		got = append(got, k)
	}
	slices.Sort(got)
	if want := []string{"completions", "logging", "prompts", "resources", "tools"}; !slices.Equal(got, want) {
		t.Errorf("capabilities %v, want %v", got, want)
	}
	var resources struct{ Subscribe, ListChanged bool }
	if err := json.Unmarshal(res.Capabilities["resources"], &resources); err != nil || !resources.Subscribe || !resources.ListChanged {
		t.Errorf("resources capability %s", res.Capabilities["resources"])
	}
	if res.ServerInfo.Name != "mcpbroker-demo" || !strings.Contains(res.ServerInfo.Title, "2026-07-28") || res.Instructions == "" {
		t.Errorf("serverInfo %+v, instructions %q", res.ServerInfo, res.Instructions)
	}
	if res.TTLMs != 60000 || res.CacheScope != "public" {
		t.Errorf("ttlMs %d cacheScope %q", res.TTLMs, res.CacheScope)
	}
}

func testToolsList26(t *testing.T, over string) {
	h := start26(t, over, nil)
	res := h.call(t, "tools/list", nil)
	wantComplete(t, "tools/list", res, 60000, "public")
	var names []string
	for _, x := range res["tools"].([]any) {
		tool := x.(map[string]any)
		names = append(names, tool["name"].(string))
		if tool["title"] == nil || tool["annotations"] == nil {
			t.Errorf("%v: no title or annotations", tool["name"])
		}
		if _, ok := tool["execution"]; ok {
			t.Errorf("%v: execution (removed in 2026-07-28, 4.M5)", tool["name"])
		}
	}
	// ping_client needs a server-to-client request, which 2026 has not.
	want := []string{"add", "content", "echo", "elicit", "progress", "roots", "route", "sample", "slow", "touch"}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("tools %v, want %v", names, want)
	}
	_, err := h.client.CallTool(h.ctx, "ping_client", nil)
	codeOf(t, err, jsonrpc.CodeInvalidParams)
}

func testCacheHints26(t *testing.T, over string) {
	h := start26(t, over, []demo.Option{demo.WithCacheHints(1500*time.Millisecond, "private")})
	for _, method := range []string{"tools/list", "resources/list", "resources/templates/list", "prompts/list", "server/discover"} {
		wantComplete(t, method, h.call(t, method, nil), 1500, "private")
	}
	// A read is stale at once; other results carry no hints.
	wantComplete(t, "resources/read", h.call(t, "resources/read", map[string]any{"uri": "demo://static/readme"}), 0, "private")
	wantComplete(t, "tools/call", h.call(t, "tools/call", map[string]any{"name": "add", "arguments": map[string]any{"a": 1, "b": 2}}), -1, "")
	wantComplete(t, "prompts/get", h.call(t, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]any{"name": "Ada"}}), -1, "")
	if _, err := demo.New(v2026, demo.WithCacheHints(0, "shared")); err == nil {
		t.Error("New with cache scope shared: no error")
	}
}

func testEchoLogging26(t *testing.T, over string) {
	h := start26(t, over, nil)
	tests := []struct {
		level string // _meta logLevel; "" for none
		logs  bool
	}{
		{"", false},
		{"debug", true},
		{"info", true},
		{"warning", false},
	}
	want := 0
	for _, tt := range tests {
		text := "hello " + tt.level
		params := map[string]any{"name": "echo", "arguments": map[string]any{"text": text}}
		if tt.level != "" {
			params["_meta"] = map[string]any{fixture.MetaLogLevel: tt.level}
		}
		res := h.call(t, "tools/call", params)
		if c := res["content"].([]any)[0].(map[string]any); c["text"] != text {
			t.Errorf("echo: %v", c)
		}
		// The log message comes on the request's own stream, before the
		// response: it has arrived if it was sent.
		if tt.logs {
			want++
		}
		msgs := notifications(h.client, "notifications/message")
		if len(msgs) != want {
			t.Fatalf("level %q: log messages %v, want %d", tt.level, msgs, want)
		}
		if tt.logs {
			if last := msgs[len(msgs)-1]; last["data"] != "echo: "+text || last["level"] != "info" {
				t.Errorf("log message %v", last)
			}
		}
	}
	// WithLogLevel puts the level on every request.
	h2 := start26(t, over, nil, fixture.WithLogLevel("info"))
	h2.tool(t, "echo", map[string]any{"text": "x"})
	if msgs := notifications(h2.client, "notifications/message"); len(msgs) != 1 {
		t.Errorf("WithLogLevel(info): log messages %v", msgs)
	}
}

func testAdd26(t *testing.T, over string) {
	h := start26(t, over, nil)
	r := h.tool(t, "add", map[string]any{"a": 2, "b": 3.5})
	if r.Text() != "5.5" || r.StructuredContent["sum"] != 5.5 {
		t.Errorf("add: %q %v", r.Text(), r.StructuredContent)
	}
	// Invalid arguments are a tool error the model can see (2025-11-25 on).
	if r, err := h.client.CallTool(h.ctx, "add", map[string]any{"a": "two"}); err != nil || !r.IsError {
		t.Errorf("add with invalid arguments: %v, %+v; want a tool error", err, r)
	}
	_, err := h.client.CallTool(h.ctx, "no_such_tool", nil)
	codeOf(t, err, jsonrpc.CodeInvalidParams)
	h.wantStatus(t, "tools/call", 200)
}

func testContent26(t *testing.T, over string) {
	h := start26(t, over, nil)
	r := h.tool(t, "content", nil)
	var got []string
	for _, c := range r.Content {
		got = append(got, c.Type)
	}
	if want := []string{"text", "image", "audio", "resource_link", "resource", "resource"}; !slices.Equal(got, want) {
		t.Errorf("content types %v, want %v", got, want)
	}
	var res struct {
		Content []json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(r.Raw, &res); err != nil {
		t.Fatal(err)
	}
	defs := map[string]string{"text": "TextContent", "image": "ImageContent", "audio": "AudioContent", "resource_link": "ResourceLink", "resource": "EmbeddedResource"}
	for i, block := range res.Content {
		if err := sharedValidator(t).ValidateDef(v2026, defs[got[i]], []byte(block)); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}
}

// serverRequests returns the methods of the requests the client answered
// (in 2026: the input requests of InputRequiredResults).
func serverRequests(c *fixture.Client) []string {
	var out []string
	for _, r := range c.ServerRequests() {
		out = append(out, r.Method)
	}
	return out
}

func testSample26(t *testing.T, over string) {
	h := start26(t, over, nil, fixture.WithSamplingText("Bonjour"))
	if r := h.tool(t, "sample", map[string]any{"prompt": "Say hello in French"}); r.Text() != "Bonjour" {
		t.Errorf("sample: %q", r.Text())
	}
	if got := serverRequests(h.client); !slices.Equal(got, []string{"sampling/createMessage"}) {
		t.Errorf("input requests %v", got)
	}
	if id := string(h.client.ServerRequests()[0].ID); id != `"sample-1"` {
		t.Errorf("input request key %s", id)
	}

	// The first round, as the server answers it.
	raw, err := h.client.CallOnce(h.ctx, "tools/call", map[string]any{"name": "sample", "arguments": map[string]any{"prompt": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	var irr map[string]any
	if err := json.Unmarshal(raw, &irr); err != nil {
		t.Fatal(err)
	}
	if irr["resultType"] != "input_required" || irr["requestState"] == "" || irr["ttlMs"] != nil {
		t.Errorf("first round %s", raw)
	}
	ask, _ := irr["inputRequests"].(map[string]any)["sample-1"].(map[string]any)
	if ask["method"] != "sampling/createMessage" || ask["jsonrpc"] != nil || ask["id"] != nil {
		t.Errorf("input request %v: want a bare {method, params}", ask)
	}

	// Without the capability: -32021 naming it (HTTP 400).
	h2 := start26(t, over, nil, fixture.WithCapabilities(map[string]any{"roots": map[string]any{}}))
	_, err = h2.client.CallTool(h2.ctx, "sample", nil)
	je := codeOf(t, err, fixture.CodeMissingRequiredClientCapability)
	if !strings.Contains(string(je.Data.(json.RawMessage)), `"requiredCapabilities":{"sampling":{}}`) {
		t.Errorf("-32021 data %s", je.Data)
	}
	h2.wantStatus(t, "tools/call", 400)
	if got := serverRequests(h2.client); len(got) != 0 {
		t.Errorf("input requests %v", got)
	}
}

func testElicit26(t *testing.T, over string) {
	tests := []struct {
		action  string
		content map[string]any
	}{
		{"accept", map[string]any{"name": "Grace"}},
		{"decline", nil},
		{"cancel", nil},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			h := start26(t, over, nil, fixture.WithElicitation(tt.action, tt.content))
			r := h.tool(t, "elicit", map[string]any{"message": "Who are you?"})
			if r.StructuredContent["action"] != tt.action {
				t.Errorf("answer %v, want action %s", r.StructuredContent, tt.action)
			}
			if tt.content != nil {
				if c, _ := r.StructuredContent["content"].(map[string]any); c["name"] != tt.content["name"] {
					t.Errorf("content %v, want %v", c, tt.content)
				}
			}
			reqs := h.client.ServerRequests()
			if len(reqs) != 1 || reqs[0].Method != "elicitation/create" || !strings.Contains(string(reqs[0].Params), `"mode":"form"`) {
				t.Errorf("input requests %v", reqs)
			}
		})
	}
	t.Run("url only", func(t *testing.T) {
		h := start26(t, over, nil, fixture.WithCapabilities(map[string]any{"elicitation": map[string]any{"url": map[string]any{}}}))
		_, err := h.client.CallTool(h.ctx, "elicit", nil)
		codeOf(t, err, fixture.CodeMissingRequiredClientCapability)
	})
	// With sample: both input requests in one InputRequiredResult, and the
	// answer once both are answered.
	t.Run("sample", func(t *testing.T) {
		h := start26(t, over, nil, fixture.WithSamplingText("Bonjour"), fixture.WithElicitation("accept", map[string]any{"name": "Grace"}))
		raw, err := h.client.CallOnce(h.ctx, "tools/call", map[string]any{"name": "elicit", "arguments": map[string]any{"sample": true}})
		if err != nil {
			t.Fatal(err)
		}
		var irr struct {
			InputRequests map[string]struct {
				Method string `json:"method"`
			} `json:"inputRequests"`
		}
		if err := json.Unmarshal(raw, &irr); err != nil || irr.InputRequests["sample-1"].Method != "sampling/createMessage" ||
			irr.InputRequests["elicit-1"].Method != "elicitation/create" || len(irr.InputRequests) != 2 {
			t.Fatalf("first round: %s, want sampling and elicitation together", raw)
		}
		r := h.tool(t, "elicit", map[string]any{"sample": true})
		if r.StructuredContent["action"] != "accept" || r.StructuredContent["sampled"] != "Bonjour" {
			t.Errorf("answer %v, want accept and sampled Bonjour", r.StructuredContent)
		}
		if got := serverRequests(h.client); len(got) != 2 {
			t.Errorf("input requests %v, want one round of two", got)
		}
		h2 := start26(t, over, nil, fixture.WithCapabilities(map[string]any{"elicitation": map[string]any{}}))
		_, err = h2.client.CallTool(h2.ctx, "elicit", map[string]any{"sample": true})
		codeOf(t, err, fixture.CodeMissingRequiredClientCapability)
	})
}

func testRoots26(t *testing.T, over string) {
	h := start26(t, over, nil, fixture.WithRoots([]fixture.Root{{URI: "file:///a", Name: "A"}, {URI: "file:///b"}}))
	if r := h.tool(t, "roots", nil); r.Text() != "file:///a A\nfile:///b" {
		t.Errorf("roots: %q", r.Text())
	}
	if got := serverRequests(h.client); !slices.Equal(got, []string{"roots/list"}) {
		t.Errorf("input requests %v", got)
	}
	h2 := start26(t, over, nil, fixture.WithCapabilities(map[string]any{}))
	_, err := h2.client.CallTool(h2.ctx, "roots", nil)
	codeOf(t, err, fixture.CodeMissingRequiredClientCapability)
}

// testInputRounds26: sample with rounds needs one round trip per round,
// its answers so far travelling in the requestState.
func testInputRounds26(t *testing.T, over string) {
	h := start26(t, over, nil, fixture.WithSamplingText("ja"))
	if r := h.tool(t, "sample", map[string]any{"rounds": 3}); r.Text() != "ja\nja\nja" {
		t.Errorf("sample, 3 rounds: %q", r.Text())
	}
	var keys []string
	for _, r := range h.client.ServerRequests() {
		keys = append(keys, string(r.ID))
	}
	if want := []string{`"sample-1"`, `"sample-2"`, `"sample-3"`}; !slices.Equal(keys, want) {
		t.Errorf("input request keys %v, want %v", keys, want)
	}
	// The client gives up after its maximum.
	h2 := start26(t, over, nil, fixture.WithMaxRounds(2))
	if _, err := h2.client.CallTool(h2.ctx, "sample", map[string]any{"rounds": 3}); !errors.Is(err, fixture.ErrTooManyRounds) {
		t.Errorf("3 rounds with at most 2: %v, want ErrTooManyRounds", err)
	}
	if r, err := h.client.CallTool(h.ctx, "sample", map[string]any{"rounds": 6}); err != nil || !r.IsError {
		t.Errorf("6 rounds: %v %+v, want a tool error", err, r)
	}
}

// firstRound calls a tool once and returns the requestState of the
// InputRequiredResult it must answer.
func (h *harness26) firstRound(t *testing.T, tool string, args map[string]any) string {
	t.Helper()
	raw, err := h.client.CallOnce(h.ctx, "tools/call", map[string]any{"name": tool, "arguments": args})
	if err != nil {
		t.Fatal(err)
	}
	var irr struct {
		ResultType   string `json:"resultType"`
		RequestState string `json:"requestState"`
	}
	if err := json.Unmarshal(raw, &irr); err != nil || irr.ResultType != "input_required" || irr.RequestState == "" {
		t.Fatalf("%s: %s, want an InputRequiredResult with a requestState", tool, raw)
	}
	return irr.RequestState
}

// retry sends a retry of tools/call by hand and returns its raw result.
func (h *harness26) retry(tool string, args map[string]any, state *string, responses map[string]any) (json.RawMessage, error) {
	params := map[string]any{"name": tool, "arguments": args}
	if state != nil {
		params["requestState"] = *state
	}
	if responses != nil {
		params["inputResponses"] = responses
	}
	return h.client.CallOnce(h.ctx, "tools/call", params)
}

// flip changes the character at i of s.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func testForgedState26(t *testing.T, over string) {
	h := start26(t, over, nil)
	args := map[string]any{"prompt": "p"}
	state := h.firstRound(t, "sample", args)
	elicitState := h.firstRound(t, "elicit", map[string]any{})
	sampled := map[string]any{"sample-1": map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": "ok"}, "model": "m"}}
	elicited := map[string]any{"sample-1": map[string]any{"action": "cancel"}}
	dot := strings.IndexByte(state, '.')
	str := func(s string) *string { return &s }
	tests := []struct {
		name      string
		tool      string
		args      map[string]any
		state     *string
		responses map[string]any
	}{
		{"bad signature", "sample", args, str(flip(state, len(state)-2)), sampled},
		{"changed payload", "sample", args, str(flip(state, dot/2)), sampled},
		{"no token", "sample", args, str("forged"), sampled},
		{"another tool's", "sample", args, &elicitState, sampled},
		{"other arguments", "sample", map[string]any{"prompt": "q"}, &state, sampled},
		{"responses without state", "sample", args, nil, sampled},
		{"unasked key", "sample", args, &state, map[string]any{"other": sampled["sample-1"]}},
		{"answer of another kind", "sample", args, &state, elicited},
		{"state for a tool that asks nothing", "echo", map[string]any{"text": "x"}, &state, nil},
	}
	for _, tt := range tests {
		_, err := h.retry(tt.tool, tt.args, tt.state, tt.responses)
		var je *jsonrpc.Error
		if !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams {
			t.Errorf("%s: %v, want -32602", tt.name, err)
		}
	}
	// The genuine retry works, and a retry without the answer is asked
	// again.
	raw, err := h.retry("sample", args, &state, sampled)
	if err != nil || !strings.Contains(string(raw), `"text":"ok"`) || !strings.Contains(string(raw), `"resultType":"complete"`) {
		t.Errorf("genuine retry: %s, %v", raw, err)
	}
	raw, err = h.retry("sample", args, &state, nil)
	if err != nil || !strings.Contains(string(raw), `"resultType":"input_required"`) {
		t.Errorf("retry without the answer: %s, %v; want another InputRequiredResult", raw, err)
	}

	// An expired state.
	h2 := start26(t, over, []demo.Option{demo.WithRequestStateTTL(-time.Second)})
	state2 := h2.firstRound(t, "sample", args)
	_, err = h2.retry("sample", args, &state2, sampled)
	if je := codeOf(t, err, jsonrpc.CodeInvalidParams); !strings.Contains(je.Message, "expired") {
		t.Errorf("expired state: %v", je)
	}
}

func testProgress26(t *testing.T, over string) {
	h := start26(t, over, nil)
	for _, token := range []any{"tok-1", 7} {
		h.call(t, "tools/call", map[string]any{"name": "progress", "_meta": map[string]any{"progressToken": token}})
	}
	got := notifications(h.client, "notifications/progress")
	if len(got) != 6 {
		t.Fatalf("progress notifications %v, want 6", got)
	}
	for i, p := range got {
		tok := p["progressToken"]
		if f, ok := tok.(float64); ok {
			tok = int(f)
		}
		if want := []any{"tok-1", 7}[i/3]; tok != want || p["progress"] != float64(i%3+1) || p["total"] != float64(3) || p["message"] == nil {
			t.Errorf("progress %d: %v", i, p)
		}
	}
	h.tool(t, "progress", nil)
	if got := notifications(h.client, "notifications/progress"); len(got) != 6 {
		t.Errorf("progress without a token: %v", got[6:])
	}
}

// testSlowCancelled26: cancellation is notifications/cancelled on stdio
// and closing the request's stream over HTTP (4.M8); either way the
// server stops the request and sends nothing.
func testSlowCancelled26(t *testing.T, over string) {
	h := start26(t, over, nil)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Call(ctx, "tools/call", map[string]any{"name": "slow", "_meta": map[string]any{"progressToken": "slow-1"}})
		errc <- err
	}()
	if _, err := h.client.WaitNotification(h.ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"slow-1"`)
	}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	ri, err := h.requests.wait(h.ctx, func(ri demo.RequestInfo) bool { return ri.Method == "tools/call" })
	if err != nil {
		t.Fatal(err)
	}
	if !ri.Cancelled || ri.Responded {
		t.Errorf("slow: %+v, want cancelled without a response", ri)
	}
	// 2026 logs only on the request's own stream: there is no message
	// about the cancellation.
	h.tool(t, "echo", map[string]any{"text": "after"})
	if msgs := notifications(h.client, "notifications/message"); len(msgs) != 0 {
		t.Errorf("log messages %v", msgs)
	}
}

func testSlowTimeout26(t *testing.T, over string) {
	h := start26(t, over, []demo.Option{demo.WithSlowTimeout(time.Millisecond)})
	if r := h.tool(t, "slow", nil); !strings.HasPrefix(r.Text(), "slow: finished") {
		t.Errorf("slow: %q", r.Text())
	}
}

func testResources26(t *testing.T, over string) {
	h := start26(t, over, nil)
	res := h.call(t, "resources/list", nil)
	wantComplete(t, "resources/list", res, 60000, "public")
	var uris []string
	for _, r := range res["resources"].([]any) {
		uris = append(uris, r.(map[string]any)["uri"].(string))
	}
	if !slices.Equal(uris, []string{"demo://static/readme", "demo://static/logo"}) {
		t.Errorf("resources %v", uris)
	}
	tmpl := h.call(t, "resources/templates/list", nil)["resourceTemplates"].([]any)
	if len(tmpl) != 1 || tmpl[0].(map[string]any)["uriTemplate"] != "demo://items/{id}" {
		t.Errorf("templates %v", tmpl)
	}
	tests := []struct {
		uri, field, want string
	}{
		{"demo://static/readme", "text", "mcpbroker demo server"},
		{"demo://static/logo", "blob", "iVBOR"},
		{"demo://items/42", "text", "Item 42"},
	}
	for _, tt := range tests {
		res := h.call(t, "resources/read", map[string]any{"uri": tt.uri})
		wantComplete(t, "resources/read", res, 0, "public")
		c := res["contents"].([]any)[0].(map[string]any)
		if s, _ := c[tt.field].(string); c["uri"] != tt.uri || !strings.HasPrefix(s, tt.want) {
			t.Errorf("read %s: %v", tt.uri, c)
		}
	}
	// Not found is -32602 in 2026 (4.E1), with the URI.
	_, err := h.client.Call(h.ctx, "resources/read", map[string]any{"uri": "demo://nothing"})
	if je := codeOf(t, err, jsonrpc.CodeInvalidParams); !strings.Contains(string(je.Data.(json.RawMessage)), "demo://nothing") {
		t.Errorf("not found: data %s", je.Data)
	}
	h.wantStatus(t, "resources/read", 200)
	_, err = h.client.Call(h.ctx, "resources/read", map[string]any{"uri": "demo://static/readme", "requestState": "x"})
	codeOf(t, err, jsonrpc.CodeInvalidParams)
}

// onStream returns a matcher of notifications of method on the listen
// stream sub whose params contain want.
func onStream(sub *fixture.Subscription, method, want string) func(fixture.Notification) bool {
	return func(n fixture.Notification) bool {
		var p struct {
			Meta map[string]json.RawMessage `json:"_meta"`
		}
		return n.Method == method && json.Unmarshal(n.Params, &p) == nil &&
			jsonrpc.IDKey(p.Meta[fixture.MetaSubscriptionID]) == jsonrpc.IDKey(sub.ID) && strings.Contains(string(n.Params), want)
	}
}

// count returns how many notifications match.
func count(c *fixture.Client, match func(fixture.Notification) bool) int {
	n := 0
	for _, x := range c.Notifications() {
		if match(x) {
			n++
		}
	}
	return n
}

func testListen26(t *testing.T, over string) {
	const readme, logo, item = "demo://static/readme", "demo://static/logo", "demo://items/42"
	h := start26(t, over, nil)
	sub, err := h.client.Listen(h.ctx, fixture.SubscriptionFilter{ToolsListChanged: true, ResourceSubscriptions: []string{readme, "demo://nothing", item}})
	if err != nil {
		t.Fatal(err)
	}
	// Unknown resources are left out of the acknowledgement.
	if a := sub.Acknowledged; !a.ToolsListChanged || a.PromptsListChanged || !slices.Equal(a.ResourceSubscriptions, []string{readme, item}) {
		t.Errorf("acknowledged %+v", a)
	}
	if r := h.tool(t, "touch", map[string]any{"uri": readme}); !strings.Contains(r.Text(), "subscribed: true") {
		t.Errorf("touch: %q", r.Text())
	}
	if _, err := h.client.WaitNotification(h.ctx, onStream(sub, "notifications/resources/updated", readme)); err != nil {
		t.Fatal(err)
	}
	// Only what the stream asked for comes on it: the notifications go
	// out in order, so once the last one is there the others would be.
	if r := h.tool(t, "touch", map[string]any{"uri": logo, "list": "prompts"}); !strings.Contains(r.Text(), "subscribed: false") {
		t.Errorf("touch: %q", r.Text())
	}
	h.tool(t, "touch", map[string]any{"uri": item, "list": "tools", "later": true})
	if _, err := h.client.WaitNotification(h.ctx, onStream(sub, "notifications/tools/list_changed", "")); err != nil {
		t.Fatal(err)
	}
	if n := count(h.client, onStream(sub, "notifications/resources/updated", item)); n != 1 {
		t.Errorf("%d updates of %s, want 1", n, item)
	}
	if n := count(h.client, onStream(sub, "notifications/resources/updated", logo)) + len(notifications(h.client, "notifications/prompts/list_changed")); n != 0 {
		t.Errorf("notifications the stream did not ask for: %v", h.client.Notifications())
	}

	// A second stream gets its own notifications only.
	sub2, err := h.client.Listen(h.ctx, fixture.SubscriptionFilter{PromptsListChanged: true, ResourcesListChanged: true})
	if err != nil {
		t.Fatal(err)
	}
	h.tool(t, "touch", map[string]any{"list": "prompts"})
	if _, err := h.client.WaitNotification(h.ctx, onStream(sub2, "notifications/prompts/list_changed", "")); err != nil {
		t.Fatal(err)
	}
	if n := count(h.client, onStream(sub, "notifications/prompts/list_changed", "")); n != 0 {
		t.Errorf("the first stream got prompts/list_changed")
	}

	// The client ends a stream (notifications/cancelled on stdio, closing
	// it over HTTP): the server sends nothing more on it.
	sub.Close()
	if _, err := sub.Result(); !errors.Is(err, context.Canceled) {
		t.Errorf("closed subscription: %v", err)
	}
	ri, err := h.requests.wait(h.ctx, func(ri demo.RequestInfo) bool {
		return ri.Method == "subscriptions/listen" && jsonrpc.IDKey(ri.ID) == jsonrpc.IDKey(sub.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !ri.Cancelled || ri.Responded {
		t.Errorf("closed listen: %+v, want cancelled without a response", ri)
	}
	if r := h.tool(t, "touch", map[string]any{"uri": readme}); !strings.Contains(r.Text(), "subscribed: false") {
		t.Errorf("touch after the stream closed: %q", r.Text())
	}
	sub2.Close()
}

// testListenEnded26: a server that stops ends its listens with a
// SubscriptionsListenResult naming the stream (4.M3).
func testListenEnded26(t *testing.T, over string) {
	h := start26(t, over, nil)
	sub, err := h.client.Listen(h.ctx, fixture.SubscriptionFilter{ResourcesListChanged: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("stop: %v", err)
	}
	raw, err := sub.Result()
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var res struct {
		ResultType string                     `json:"resultType"`
		Meta       map[string]json.RawMessage `json:"_meta"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.ResultType != "complete" ||
		jsonrpc.IDKey(res.Meta[fixture.MetaSubscriptionID]) != jsonrpc.IDKey(sub.ID) || res.Meta[fixture.MetaServerInfo] == nil {
		t.Errorf("final result %s", raw)
	}
}

func testPrompts26(t *testing.T, over string) {
	h := start26(t, over, nil)
	res := h.call(t, "prompts/list", nil)
	wantComplete(t, "prompts/list", res, 60000, "public")
	if prompts := res["prompts"].([]any); len(prompts) != 1 || prompts[0].(map[string]any)["name"] != "greet" {
		t.Errorf("prompts %v", prompts)
	}
	res = h.call(t, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]any{"name": "Ada"}})
	msg := res["messages"].([]any)[0].(map[string]any)
	if text := msg["content"].(map[string]any)["text"].(string); !strings.Contains(text, "Ada") {
		t.Errorf("greet: %v", msg)
	}
	for _, params := range []map[string]any{{"name": "greet"}, {"name": "nope"}} {
		_, err := h.client.Call(h.ctx, "prompts/get", params)
		codeOf(t, err, jsonrpc.CodeInvalidParams)
	}
}

func testCompletion26(t *testing.T, over string) {
	h := start26(t, over, nil)
	res := h.call(t, "completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/prompt", "name": "greet"}, "argument": map[string]any{"name": "name", "value": "a"},
	})
	wantComplete(t, "completion/complete", res, -1, "")
	var got []string
	for _, v := range res["completion"].(map[string]any)["values"].([]any) {
		got = append(got, v.(string))
	}
	if !slices.Equal(got, []string{"Ada", "Alan", "Alice"}) {
		t.Errorf("completion %v", got)
	}
	res = h.call(t, "completion/complete", map[string]any{
		"ref": map[string]any{"type": "ref/resource", "uri": "demo://items/{id}"}, "argument": map[string]any{"name": "id", "value": "4"},
	})
	if v := res["completion"].(map[string]any)["values"].([]any); len(v) != 1 || v[0] != "42" {
		t.Errorf("completion %v", v)
	}
}

func testMissingMeta26(t *testing.T, over string) {
	h := start26(t, over, nil)
	raws := []string{
		`{"jsonrpc":"2.0","id":"m1","method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":"m2","method":"tools/list","params":{}}`,
		`{"jsonrpc":"2.0","id":"m3","method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
		`{"jsonrpc":"2.0","id":"m4","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}}`,
	}
	for _, raw := range raws {
		_, err := h.client.CallRaw(h.ctx, []byte(raw))
		codeOf(t, err, jsonrpc.CodeInvalidParams)
		if h.http != nil {
			var m struct{ Method string }
			json.Unmarshal([]byte(raw), &m)
			h.wantStatus(t, m.Method, 400)
		}
	}
}

func testUnsupportedVersion26(t *testing.T, over string) {
	for _, v := range []string{"2025-11-25", "1900-01-01", "draft"} {
		h := start26(t, over, nil, fixture.WithProtocolVersion(v))
		_, err := h.client.Initialize(h.ctx)
		je := codeOf(t, err, fixture.CodeUnsupportedProtocolVersion)
		var data struct {
			Supported []string `json:"supported"`
			Requested string   `json:"requested"`
		}
		if err := json.Unmarshal(je.Data.(json.RawMessage), &data); err != nil || !slices.Equal(data.Supported, []string{"2026-07-28"}) || data.Requested != v {
			t.Errorf("-32022 data %s", je.Data)
		}
		h.wantStatus(t, "server/discover", 400)
	}
	// The version is judged before the rest of the request.
	h := start26(t, over, nil)
	_, err := h.client.CallRaw(h.ctx, []byte(`{"jsonrpc":"2.0","id":"v1","method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01"},"cursor":7}}`))
	codeOf(t, err, fixture.CodeUnsupportedProtocolVersion)
}

func testUnknownMethod26(t *testing.T, over string) {
	h := start26(t, over, nil)
	const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	raws := []string{
		`{"jsonrpc":"2.0","id":"u1","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`,
		`{"jsonrpc":"2.0","id":"u2","method":"ping","params":{` + meta + `}}`,
		`{"jsonrpc":"2.0","id":"u3","method":"logging/setLevel","params":{"level":"info",` + meta + `}}`,
		`{"jsonrpc":"2.0","id":"u4","method":"resources/subscribe","params":{"uri":"demo://static/readme",` + meta + `}}`,
		`{"jsonrpc":"2.0","id":"u5","method":"foo/bar","params":{` + meta + `}}`,
	}
	for _, raw := range raws {
		_, err := h.client.CallRaw(h.ctx, []byte(raw))
		codeOf(t, err, jsonrpc.CodeMethodNotFound)
		if h.http != nil {
			var m struct{ Method string }
			json.Unmarshal([]byte(raw), &m)
			h.wantStatus(t, m.Method, 404)
		}
	}
}
