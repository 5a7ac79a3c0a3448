package demo_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// testTimeout bounds every test; nothing waits for it unless a test fails.
const testTimeout = 30 * time.Second

// validator is shared by all tests: compiling the schemas takes a while.
var validator = sync.OnceValues(schemas.NewValidator)

func sharedValidator(t *testing.T) *schemas.Validator {
	t.Helper()
	v, err := validator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// revisions are the revisions the demo server speaks.
func revisions() []schemas.Revision {
	return []schemas.Revision{schemas.V20241105, schemas.V20250326, schemas.V20250618, schemas.V20251125}
}

// requestLog records the server's RequestInfo hooks and lets a test await
// one.
type requestLog struct {
	mu      sync.Mutex
	infos   []demo.RequestInfo
	changed chan struct{}
}

func newRequestLog() *requestLog { return &requestLog{changed: make(chan struct{})} }

func (l *requestLog) add(ri demo.RequestInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.infos = append(l.infos, ri)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *requestLog) wait(ctx context.Context, match func(demo.RequestInfo) bool) (demo.RequestInfo, error) {
	for {
		l.mu.Lock()
		infos, changed := l.infos, l.changed
		l.mu.Unlock()
		for _, ri := range infos {
			if match(ri) {
				return ri, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return demo.RequestInfo{}, ctx.Err()
		}
	}
}

// harness is a demo server and a fixture client of one revision,
// connected by an in-memory pipe.
type harness struct {
	ctx      context.Context
	rev      schemas.Revision
	client   *fixture.Client
	requests *requestLog
}

// start connects a server and a client of revision rev. Cleanup closes the
// client, checks that the server ended cleanly, and that the client
// received no invalid message and no response it did not wait for.
func start(t *testing.T, rev schemas.Revision, sopts []demo.Option, copts ...fixture.Option) *harness {
	t.Helper()
	v := sharedValidator(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	h := &harness{ctx: ctx, rev: rev, requests: newRequestLog()}
	srv, err := demo.New(rev, append([]demo.Option{demo.WithValidator(v), demo.WithRequestHook(h.requests.add)}, sopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	sconn, cconn := fixture.Pipe()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), sconn) }()
	h.client, err = fixture.NewClient(rev, cconn, append([]fixture.Option{fixture.WithValidator(v)}, copts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.client.Close(); err != nil {
			t.Errorf("client: %v", err)
		}
		// t.Context() is already cancelled when Cleanup runs.
		timer := time.NewTimer(testTimeout)
		defer timer.Stop()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-timer.C:
			t.Errorf("Serve did not return after the client left")
		}
		sconn.Close()
		for _, err := range h.client.Violations() {
			t.Errorf("the client received an invalid message: %v", err)
		}
		for _, id := range h.client.Unmatched() {
			t.Errorf("the client received a response to no pending request: id %s", id)
		}
	})
	return h
}

// startInit is start followed by a successful Initialize.
func startInit(t *testing.T, rev schemas.Revision, sopts []demo.Option, copts ...fixture.Option) *harness {
	t.Helper()
	h := start(t, rev, sopts, copts...)
	if _, err := h.client.Initialize(h.ctx); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	return h
}

// call calls method and decodes the result into a generic value.
func (h *harness) call(t *testing.T, method string, params any) map[string]any {
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
func (h *harness) tool(t *testing.T, name string, args any) *fixture.ToolResult {
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

// wantCode checks that err is a JSON-RPC error response with the code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var je *jsonrpc.Error
	if !errors.As(err, &je) {
		t.Fatalf("want a JSON-RPC error %d, got %T %v", code, err, err)
	}
	if je.Code != code {
		t.Fatalf("error code %d (%s), want %d", je.Code, je.Message, code)
	}
}

// notifications returns the client's notifications of one method.
func notifications(c *fixture.Client, method string) []map[string]any {
	var out []map[string]any
	for _, n := range c.Notifications() {
		if n.Method != method {
			continue
		}
		var p map[string]any
		if json.Unmarshal(n.Params, &p) == nil {
			out = append(out, p)
		}
	}
	return out
}

func TestDemo(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, rev schemas.Revision)
	}{
		{"initialize", testInitialize},
		{"negotiation", testNegotiation},
		{"lifecycle", testLifecycle},
		{"tools/list", testToolsList},
		{"echo and logging", testEchoLogging},
		{"add", testAdd},
		{"sample", testSample},
		{"elicit", testElicit},
		{"progress", testProgress},
		{"slow cancelled", testSlowCancelled},
		{"slow times out", testSlowTimeout},
		{"content", testContent},
		{"roots", testRoots},
		{"ping both ways", testPing},
		{"resources", testResources},
		{"subscriptions", testSubscriptions},
		{"prompts", testPrompts},
		{"completion", testCompletion},
		{"unknown method", testUnknownMethod},
		{"invalid message", testInvalidMessage},
		{"not strict", testNotStrict},
	}
	for _, rev := range revisions() {
		t.Run(rev.String(), func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, rev)
				})
			}
		})
	}
}

func testInitialize(t *testing.T, rev schemas.Revision) {
	h := start(t, rev, nil)
	res, err := h.client.Initialize(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.ProtocolVersion != rev.String() {
		t.Errorf("protocolVersion %q, want %q", res.ProtocolVersion, rev)
	}
	want := []string{"logging", "prompts", "resources", "tools"}
	if rev >= schemas.V20250326 {
		want = append(want, "completions")
	}
	var got []string
	for k := range res.Capabilities {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("capabilities %v, want %v", got, want)
	}
	var resources struct {
		Subscribe bool `json:"subscribe"`
	}
	if err := json.Unmarshal(res.Capabilities["resources"], &resources); err != nil || !resources.Subscribe {
		t.Errorf("resources capability %s, want subscribe", res.Capabilities["resources"])
	}
	if (res.ServerInfo.Title != "") != (rev >= schemas.V20250618) {
		t.Errorf("serverInfo.title %q in %s", res.ServerInfo.Title, rev)
	}
	if res.ServerInfo.Name == "" || res.Instructions == "" {
		t.Errorf("serverInfo %+v, instructions %q", res.ServerInfo, res.Instructions)
	}
}

func testNegotiation(t *testing.T, rev schemas.Revision) {
	requested := []string{"2099-01-01", "1999-12-31", "not a date", schemas.DraftAlias}
	for _, r := range schemas.All() {
		requested = append(requested, r.String())
	}
	for _, req := range requested {
		t.Run(req, func(t *testing.T) {
			h := start(t, rev, nil, fixture.WithProtocolVersion(req))
			res, err := h.client.Initialize(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.ProtocolVersion != rev.String() {
				t.Errorf("asked for %s: server answered %s, want its own %s", req, res.ProtocolVersion, rev)
			}
		})
	}
}

func testLifecycle(t *testing.T, rev schemas.Revision) {
	h := start(t, rev, nil)
	if _, err := h.client.Call(h.ctx, "ping", nil); err != nil {
		t.Errorf("ping before initialize: %v", err)
	}
	_, err := h.client.Call(h.ctx, "tools/list", nil)
	wantCode(t, err, jsonrpc.CodeInvalidRequest)
	if _, err := h.client.Initialize(h.ctx); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.Call(h.ctx, "initialize", map[string]any{
		"protocolVersion": rev.String(), "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "again", "version": "1"},
	})
	wantCode(t, err, jsonrpc.CodeInvalidRequest)
	h.call(t, "tools/list", nil)
}

func testToolsList(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	var res struct {
		Tools []struct {
			Name         string         `json:"name"`
			Title        string         `json:"title"`
			InputSchema  map[string]any `json:"inputSchema"`
			OutputSchema map[string]any `json:"outputSchema"`
			Annotations  map[string]any `json:"annotations"`
		} `json:"tools"`
	}
	raw, err := h.client.Call(h.ctx, "tools/list", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	want := []string{"add", "content", "echo", "ping_client", "progress", "roots", "sample", "slow", "touch"}
	if rev >= schemas.V20250618 {
		want = append(want, "elicit")
	}
	if rev == schemas.V20251125 {
		want = append(want, "url_login")
	}
	var got []string
	for _, tool := range res.Tools {
		got = append(got, tool.Name)
		if tool.InputSchema["type"] != "object" {
			t.Errorf("%s: inputSchema %v", tool.Name, tool.InputSchema)
		}
		if (tool.Title != "") != (rev >= schemas.V20250618) {
			t.Errorf("%s: title %q in %s", tool.Name, tool.Title, rev)
		}
		if (tool.Annotations != nil) != (rev >= schemas.V20250326) {
			t.Errorf("%s: annotations %v in %s", tool.Name, tool.Annotations, rev)
		}
		if wantOut := tool.Name == "add" && rev >= schemas.V20250618; (tool.OutputSchema != nil) != wantOut {
			t.Errorf("%s: outputSchema %v in %s", tool.Name, tool.OutputSchema, rev)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("tools %v, want %v", got, want)
	}
}

func testEchoLogging(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	if r := h.tool(t, "echo", map[string]any{"text": "before"}); r.Text() != "before" {
		t.Errorf("echo: %q", r.Text())
	}
	// A log notification precedes the response on the same ordered
	// stream, so after the call returns it has arrived if it was sent.
	if n := notifications(h.client, "notifications/message"); len(n) != 0 {
		t.Errorf("log messages before logging/setLevel: %v", n)
	}
	h.call(t, "logging/setLevel", map[string]any{"level": "info"})
	if r := h.tool(t, "echo", map[string]any{"text": "hello"}); r.Text() != "hello" {
		t.Errorf("echo: %q", r.Text())
	}
	msgs := notifications(h.client, "notifications/message")
	if len(msgs) != 1 || msgs[0]["level"] != "info" || msgs[0]["data"] != "echo: hello" {
		t.Errorf("log messages %v, want one info message", msgs)
	}
	h.call(t, "logging/setLevel", map[string]any{"level": "warning"})
	h.tool(t, "echo", map[string]any{"text": "quiet"})
	if msgs := notifications(h.client, "notifications/message"); len(msgs) != 1 {
		t.Errorf("log messages at level warning: %v", msgs)
	}
}

func testAdd(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	r := h.tool(t, "add", map[string]any{"a": 2, "b": 3.5})
	if r.Text() != "5.5" {
		t.Errorf("add: %q", r.Text())
	}
	if rev >= schemas.V20250618 {
		if r.StructuredContent["sum"] != 5.5 {
			t.Errorf("structuredContent %v", r.StructuredContent)
		}
	} else if r.StructuredContent != nil {
		t.Errorf("structuredContent in %s: %v", rev, r.StructuredContent)
	}
	// Invalid arguments: a tool error from 2025-11-25 on, else -32602.
	r, err := h.client.CallTool(h.ctx, "add", map[string]any{"a": "two"})
	if rev >= schemas.V20251125 {
		if err != nil || !r.IsError {
			t.Errorf("add with invalid arguments: %v, %+v; want a tool error", err, r)
		}
	} else {
		wantCode(t, err, jsonrpc.CodeInvalidParams)
	}
	_, err = h.client.CallTool(h.ctx, "no_such_tool", nil)
	wantCode(t, err, jsonrpc.CodeInvalidParams)
}

func testSample(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil, fixture.WithSamplingText("Bonjour"))
	if r := h.tool(t, "sample", map[string]any{"prompt": "Say hello in French"}); r.Text() != "Bonjour" {
		t.Errorf("sample: %q", r.Text())
	}
	reqs := h.client.ServerRequests()
	if len(reqs) != 1 || reqs[0].Method != "sampling/createMessage" {
		t.Errorf("server requests %v", reqs)
	}
	// rounds asks that many times (in 2026-07-28, one round trip each).
	if r := h.tool(t, "sample", map[string]any{"rounds": 2}); r.Text() != "Bonjour\nBonjour" {
		t.Errorf("sample, 2 rounds: %q", r.Text())
	}
	if reqs := h.client.ServerRequests(); len(reqs) != 3 {
		t.Errorf("server requests %v", reqs)
	}

	// A client without the sampling capability gets no sampling request.
	h2 := startInit(t, rev, nil, fixture.WithCapabilities(map[string]any{}))
	r, err := h2.client.CallTool(h2.ctx, "sample", nil)
	if err != nil || !r.IsError {
		t.Errorf("sample without the capability: %v, %+v; want a tool error", err, r)
	}
	if reqs := h2.client.ServerRequests(); len(reqs) != 0 {
		t.Errorf("server requests %v", reqs)
	}
}

func testElicit(t *testing.T, rev schemas.Revision) {
	if rev < schemas.V20250618 {
		h := startInit(t, rev, nil)
		_, err := h.client.CallTool(h.ctx, "elicit", nil)
		wantCode(t, err, jsonrpc.CodeInvalidParams) // no such tool
		return
	}
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
			h := startInit(t, rev, nil, fixture.WithElicitation(tt.action, tt.content))
			r := h.tool(t, "elicit", map[string]any{"message": "Who are you?"})
			if r.StructuredContent["action"] != tt.action {
				t.Errorf("answer %v, want action %s", r.StructuredContent, tt.action)
			}
			if tt.content != nil {
				c, _ := r.StructuredContent["content"].(map[string]any)
				if c["name"] != tt.content["name"] {
					t.Errorf("content %v, want %v", c, tt.content)
				}
			}
			reqs := h.client.ServerRequests()
			if len(reqs) != 1 || reqs[0].Method != "elicitation/create" {
				t.Fatalf("server requests %v", reqs)
			}
			var p map[string]any
			if err := json.Unmarshal(reqs[0].Params, &p); err != nil {
				t.Fatal(err)
			}
			if _, hasMode := p["mode"]; hasMode != (rev >= schemas.V20251125) {
				t.Errorf("elicitation params %v in %s", p, rev)
			}
		})
	}
	t.Run("sample", func(t *testing.T) {
		h := startInit(t, rev, nil, fixture.WithSamplingText("Bonjour"), fixture.WithElicitation("accept", map[string]any{"name": "Grace"}))
		r := h.tool(t, "elicit", map[string]any{"message": "Who are you?", "sample": true})
		if r.StructuredContent["action"] != "accept" || r.StructuredContent["sampled"] != "Bonjour" {
			t.Errorf("answer %v, want accept and sampled Bonjour", r.StructuredContent)
		}
		reqs := h.client.ServerRequests()
		if len(reqs) != 2 || reqs[0].Method != "sampling/createMessage" || reqs[1].Method != "elicitation/create" {
			t.Errorf("server requests %v, want sampling then elicitation", reqs)
		}
	})
}

func testProgress(t *testing.T, rev schemas.Revision) {
	for _, token := range []any{"tok-1", 7} {
		h := startInit(t, rev, nil)
		h.call(t, "tools/call", map[string]any{"name": "progress", "_meta": map[string]any{"progressToken": token}})
		got := notifications(h.client, "notifications/progress")
		if len(got) != 3 {
			t.Fatalf("progress notifications %v, want 3", got)
		}
		for i, p := range got {
			tok := p["progressToken"]
			if f, ok := tok.(float64); ok {
				tok = int(f)
			}
			if tok != token || p["progress"] != float64(i+1) || p["total"] != float64(3) {
				t.Errorf("progress %d: %v", i, p)
			}
			if _, ok := p["message"]; ok != (rev >= schemas.V20250326) {
				t.Errorf("progress message in %s: %v", rev, p)
			}
		}
	}
	// Without a token, no notification.
	h := startInit(t, rev, nil)
	h.tool(t, "progress", nil)
	if got := notifications(h.client, "notifications/progress"); len(got) != 0 {
		t.Errorf("progress without a token: %v", got)
	}
}

func testSlowCancelled(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	h.call(t, "logging/setLevel", map[string]any{"level": "info"})
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Call(ctx, "tools/call", map[string]any{"name": "slow", "_meta": map[string]any{"progressToken": "slow-1"}})
		errc <- err
	}()
	// The server reports progress 0 once it is waiting.
	if _, err := h.client.WaitNotification(h.ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/progress" && strings.Contains(string(n.Params), `"slow-1"`)
	}); err != nil {
		t.Fatal(err)
	}
	cancel() // the client sends notifications/cancelled
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
	// The server logs the cancellation to the client.
	if _, err := h.client.WaitNotification(h.ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/message" && strings.Contains(string(n.Params), demo.CancelledLogPrefix+"tools/call")
	}); err != nil {
		t.Errorf("no log message about the cancellation: %v", err)
	}
	// Any response to slow was sent before the hook ran, so it would
	// arrive before the answer to this ping; Cleanup checks Unmatched.
	h.call(t, "ping", nil)
}

func testSlowTimeout(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, []demo.Option{demo.WithSlowTimeout(time.Millisecond)})
	if r := h.tool(t, "slow", nil); !strings.HasPrefix(r.Text(), "slow: finished") {
		t.Errorf("slow: %q", r.Text())
	}
}

func testContent(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	r := h.tool(t, "content", nil)
	var got []string
	for _, c := range r.Content {
		got = append(got, c.Type)
	}
	want := map[schemas.Revision][]string{
		schemas.V20241105: {"text", "image", "resource", "resource"},
		schemas.V20250326: {"text", "image", "audio", "resource", "resource"},
		schemas.V20250618: {"text", "image", "audio", "resource_link", "resource", "resource"},
		schemas.V20251125: {"text", "image", "audio", "resource_link", "resource", "resource"},
	}[rev]
	if !slices.Equal(got, want) {
		t.Errorf("content types %v, want %v", got, want)
	}
	// Each block also matches its own definition of the revision.
	v := sharedValidator(t)
	defs := map[string]string{"text": "TextContent", "image": "ImageContent", "audio": "AudioContent", "resource_link": "ResourceLink", "resource": "EmbeddedResource"}
	raw, err := h.client.Call(h.ctx, "tools/call", map[string]any{"name": "content"})
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Content []json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	for i, block := range res.Content {
		if err := v.ValidateDef(rev, defs[got[i]], []byte(block)); err != nil {
			t.Errorf("block %d: %v", i, err)
		}
	}
}

func testRoots(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil, fixture.WithRoots([]fixture.Root{{URI: "file:///a", Name: "A"}, {URI: "file:///b"}}))
	if r := h.tool(t, "roots", nil); r.Text() != "file:///a A\nfile:///b" {
		t.Errorf("roots: %q", r.Text())
	}
	if reqs := h.client.ServerRequests(); len(reqs) != 1 || reqs[0].Method != "roots/list" {
		t.Errorf("server requests %v", reqs)
	}
}

func testPing(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	if res := h.call(t, "ping", nil); len(res) != 0 {
		t.Errorf("ping result %v", res)
	}
	if r := h.tool(t, "ping_client", nil); r.Text() != "pong" {
		t.Errorf("ping_client: %q", r.Text())
	}
	if reqs := h.client.ServerRequests(); len(reqs) != 1 || reqs[0].Method != "ping" {
		t.Errorf("server requests %v", reqs)
	}
}

func testResources(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	var uris []string
	for _, r := range h.call(t, "resources/list", nil)["resources"].([]any) {
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
		c := res["contents"].([]any)[0].(map[string]any)
		if s, _ := c[tt.field].(string); c["uri"] != tt.uri || !strings.HasPrefix(s, tt.want) {
			t.Errorf("read %s: %v", tt.uri, c)
		}
	}
	_, err := h.client.Call(h.ctx, "resources/read", map[string]any{"uri": "demo://nothing"})
	wantCode(t, err, -32002)
}

func testSubscriptions(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	const readme = "demo://static/readme"
	if r := h.tool(t, "touch", nil); !strings.Contains(r.Text(), "subscribed: false") {
		t.Errorf("touch: %q", r.Text())
	}
	h.call(t, "resources/subscribe", map[string]any{"uri": readme})
	h.tool(t, "touch", map[string]any{"uri": readme})
	n, err := h.client.WaitNotification(h.ctx, func(n fixture.Notification) bool {
		return n.Method == "notifications/resources/updated"
	})
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ URI string }
	if err := json.Unmarshal(n.Params, &p); err != nil || p.URI != readme {
		t.Errorf("updated %s", n.Params)
	}
	h.call(t, "resources/unsubscribe", map[string]any{"uri": readme})
	h.tool(t, "touch", nil)
	if got := notifications(h.client, "notifications/resources/updated"); len(got) != 1 {
		t.Errorf("updates after unsubscribe: %v", got)
	}
	_, err = h.client.Call(h.ctx, "resources/subscribe", map[string]any{"uri": "demo://nothing"})
	wantCode(t, err, -32002)
}

func testPrompts(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	prompts := h.call(t, "prompts/list", nil)["prompts"].([]any)
	if len(prompts) != 1 || prompts[0].(map[string]any)["name"] != "greet" {
		t.Errorf("prompts %v", prompts)
	}
	res := h.call(t, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]any{"name": "Ada"}})
	msg := res["messages"].([]any)[0].(map[string]any)
	if text := msg["content"].(map[string]any)["text"].(string); !strings.Contains(text, "Ada") {
		t.Errorf("greet: %v", msg)
	}
	_, err := h.client.Call(h.ctx, "prompts/get", map[string]any{"name": "greet"})
	wantCode(t, err, jsonrpc.CodeInvalidParams)
	_, err = h.client.Call(h.ctx, "prompts/get", map[string]any{"name": "nope"})
	wantCode(t, err, jsonrpc.CodeInvalidParams)
}

func testCompletion(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	tests := []struct {
		ref      map[string]any
		arg      string
		value    string
		want     []string
		wantCode int
	}{
		{map[string]any{"type": "ref/prompt", "name": "greet"}, "name", "a", []string{"Ada", "Alan", "Alice"}, 0},
		{map[string]any{"type": "ref/prompt", "name": "greet"}, "name", "x", []string{}, 0},
		{map[string]any{"type": "ref/resource", "uri": "demo://items/{id}"}, "id", "4", []string{"42"}, 0},
		{map[string]any{"type": "ref/prompt", "name": "nope"}, "name", "", nil, jsonrpc.CodeInvalidParams},
	}
	for _, tt := range tests {
		params := map[string]any{"ref": tt.ref, "argument": map[string]any{"name": tt.arg, "value": tt.value}}
		if tt.wantCode != 0 {
			_, err := h.client.Call(h.ctx, "completion/complete", params)
			wantCode(t, err, tt.wantCode)
			continue
		}
		res := h.call(t, "completion/complete", params)
		var got []string
		for _, v := range res["completion"].(map[string]any)["values"].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("complete %v %s=%q: %v, want %v", tt.ref, tt.arg, tt.value, got, tt.want)
		}
	}
}

func testUnknownMethod(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	raws := []string{
		`{"jsonrpc":"2.0","id":"u1","method":"foo/bar","params":{}}`,
		`{"jsonrpc":"2.0","id":"u2","method":"roots/list"}`,                  // a server request, sent by the client
		`{"jsonrpc":"2.0","id":"u3","method":"tasks/list"}`,                  // 2025-11-25 has it; the demo has no tasks
		`{"jsonrpc":"2.0","id":"u4","method":"server/discover","params":{}}`, // 2026-07-28 only
	}
	for _, raw := range raws {
		_, err := h.client.CallRaw(h.ctx, []byte(raw))
		wantCode(t, err, jsonrpc.CodeMethodNotFound)
	}
}

func testInvalidMessage(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, nil)
	tests := []struct {
		raw  string
		code int
	}{
		{`{"jsonrpc":"2.0","id":"i1","method":"tools/call","params":{"name":42}}`, jsonrpc.CodeInvalidParams},
		{`{"jsonrpc":"2.0","id":"i2","method":"resources/read","params":{}}`, jsonrpc.CodeInvalidParams},
		{`{"jsonrpc":"2.0","id":"i3","method":"logging/setLevel","params":{"level":"loud"}}`, jsonrpc.CodeInvalidParams},
	}
	for _, tt := range tests {
		_, err := h.client.CallRaw(h.ctx, []byte(tt.raw))
		wantCode(t, err, tt.code)
	}
	// An invalid notification gets no answer; the session goes on.
	if err := h.client.SendRaw(h.ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`)); err != nil {
		t.Fatal(err)
	}
	h.call(t, "ping", nil)
}

func testNotStrict(t *testing.T, rev schemas.Revision) {
	h := startInit(t, rev, []demo.Option{demo.WithStrict(false)})
	_, err := h.client.CallRaw(h.ctx, []byte(`{"jsonrpc":"2.0","id":"n1","method":"foo/bar"}`))
	wantCode(t, err, jsonrpc.CodeMethodNotFound)
	_, err = h.client.CallRaw(h.ctx, []byte(`{"jsonrpc":"2.0","id":"n2","method":"tools/call","params":{"name":42}}`))
	wantCode(t, err, jsonrpc.CodeInvalidParams)
	h.tool(t, "echo", map[string]any{"text": "still works"})
}

func TestNewUnsupportedRevision(t *testing.T) {
	for _, rev := range []schemas.Revision{0, schemas.Latest + 1} {
		if _, err := demo.New(rev); !errors.Is(err, demo.ErrUnsupportedRevision) {
			t.Errorf("New(%s): %v, want ErrUnsupportedRevision", rev, err)
		}
	}
}
