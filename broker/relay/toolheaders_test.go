package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// headerConn is an upstream Conn that carries headers
// (transport.HeaderCarrier), as the 2026 Streamable HTTP client does: it
// records the headers transport.WithHeaders gave each request's Send.
type headerConn struct {
	transport.Conn
	carries bool

	mu   sync.Mutex
	sent map[string]http.Header // by the request's id, as IDKey
}

func (c *headerConn) CarriesHeaders() bool { return c.carries }

func (c *headerConn) Send(ctx context.Context, m transport.Message) error {
	if msg, err := jsonrpc.Parse(m.Raw); err == nil && msg.Kind == jsonrpc.KindRequest {
		c.mu.Lock()
		c.sent[jsonrpc.IDKey(msg.ID)] = transport.HeadersFrom(ctx).Clone()
		c.mu.Unlock()
	}
	return c.Conn.Send(ctx, m)
}

// headers returns the headers the request with that id was sent with.
func (c *headerConn) headers(id any) http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[jsonrpc.IDKey(json.RawMessage(str(id)))]
}

// routeTool is a tools/list entry whose region, priority and urgent
// arguments are mirrored into headers (the names given).
func routeTool(region, priority, urgent string) string {
	return `{"name":"route","inputSchema":{"type":"object","properties":{` +
		`"region":{"type":"string","x-mcp-header":"` + region + `"},` +
		`"priority":{"type":"integer","x-mcp-header":"` + priority + `"},` +
		`"urgent":{"type":"boolean","x-mcp-header":"` + urgent + `"},` +
		`"note":{"type":"string"}}}}`
}

// badTool has an annotation 4.T5 forbids (on an object property).
const badTool = `{"name":"bad","inputSchema":{"type":"object","properties":{"where":{"type":"object","x-mcp-header":"Where"}}}}`

// plainTool has no annotation.
const plainTool = `{"name":"echo","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}`

// startStateless runs a session to a stateless upstream whose Conn is up
// (carrying headers or not) and completes its handshake.
func startStateless(t *testing.T, carries bool) (*harness, *headerConn) {
	t.Helper()
	return startStatelessWith(t, Config{}, carries)
}

// startStatelessWith is startStateless with cfg (its Validator and
// UpstreamRevision set here).
func startStatelessWith(t *testing.T, cfg Config, carries bool) (*harness, *headerConn) {
	t.Helper()
	cfg.Validator, cfg.UpstreamRevision = testValidator(t), schemas.V20260728
	up := &headerConn{carries: carries, sent: map[string]http.Header{}}
	h := start(t, cfg, withWrapUp(func(c transport.Conn) transport.Conn {
		up.Conn = c
		return up
	}))
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	d := h.server.recvObj()
	wantEq(t, "probe", d["method"], `"server/discover"`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private"}}`)
	if init := h.client.recvObj(); get(init, "result", "protocolVersion") == nil {
		t.Fatalf("initialize: %v", init)
	}
	return h, up
}

// answerList answers the broker's own tools/list req with the tools (and
// a nextCursor when not empty), checking the _meta it must carry (4.L1).
func answerList(t *testing.T, h *harness, req obj, next string, tools ...string) {
	t.Helper()
	wantEq(t, "broker's list", req["method"], `"tools/list"`)
	wantEq(t, "list _meta version", get(req, "params", "_meta", metaProtocolVersion), `"2026-07-28"`)
	checkValid(t, schemas.V20260728, mustJSON(t, req), schemas.FromClient, "")
	res := `{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[` + strings.Join(tools, ",") + `]`
	if next != "" {
		res += `,"nextCursor":"` + next + `"`
	}
	res += `}`
	h.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":` + res + `}`)
}

// wantHeaders checks the Mcp-Param-* headers of a request.
func wantHeaders(t *testing.T, what string, got http.Header, want map[string]string) {
	t.Helper()
	params := map[string]string{}
	for k, v := range got {
		if strings.HasPrefix(k, transport.HeaderParamPrefix) {
			params[k] = strings.Join(v, ",")
		}
	}
	if len(params) != len(want) {
		t.Errorf("%s: headers %v, want %v", what, params, want)
		return
	}
	for k, v := range want {
		if params[k] != v {
			t.Errorf("%s: %s = %q, want %q (all: %v)", what, k, params[k], v, params)
		}
	}
}

// Test4T5ToolHeaderCache: what the cache learns from tools/list results:
// a page adds to it, the broker's full list replaces it, invalid
// annotations are reported (the tool is to be hidden), and every list
// forgets the names a fetch did not find.
func Test4T5ToolHeaderCache(t *testing.T) {
	nodes := func(tools ...string) []*translators.Node {
		var out []*translators.Node
		for _, x := range tools {
			out = append(out, translators.NewJSON(x))
		}
		return out
	}
	type step struct {
		tools []string
		full  bool
		bad   []string // tools reported invalid
	}
	for _, tc := range []struct {
		name    string
		steps   []step
		known   map[string][]string // tool -> header keys, after the steps
		unknown []string
		invalid []string
	}{
		{
			name:  "one page",
			steps: []step{{tools: []string{routeTool("Region", "Priority", "Urgent"), plainTool}}},
			known: map[string][]string{"route": {"Mcp-Param-Priority", "Mcp-Param-Region", "Mcp-Param-Urgent"}, "echo": nil},
		},
		{
			name:    "pages add up",
			steps:   []step{{tools: []string{plainTool}}, {tools: []string{routeTool("A", "B", "C")}}},
			known:   map[string][]string{"echo": nil, "route": {"Mcp-Param-B", "Mcp-Param-A", "Mcp-Param-C"}},
			unknown: []string{"bad"},
		},
		{
			name:    "a page refreshes a tool",
			steps:   []step{{tools: []string{routeTool("A", "B", "C")}}, {tools: []string{routeTool("Zone", "B", "C")}}},
			known:   map[string][]string{"route": {"Mcp-Param-B", "Mcp-Param-Zone", "Mcp-Param-C"}},
			unknown: []string{"echo"},
		},
		{
			name:    "a full list replaces",
			steps:   []step{{tools: []string{plainTool, routeTool("A", "B", "C")}}, {tools: []string{plainTool}, full: true}},
			known:   map[string][]string{"echo": nil},
			unknown: []string{"route"},
		},
		{
			name:    "invalid annotations",
			steps:   []step{{tools: []string{badTool, plainTool, routeTool("Dup", "dup", "C")}, bad: []string{"bad", "route"}}},
			known:   map[string][]string{"echo": nil},
			invalid: []string{"bad", "route"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h toolHeaders
			for i, st := range tc.steps {
				bad := h.learn(nodes(st.tools...), st.full)
				var names []string
				for n, err := range bad {
					if !errors.Is(err, transport.ErrInvalidAnnotation) {
						t.Errorf("step %d: %s: %v, want ErrInvalidAnnotation", i, n, err)
					}
					names = append(names, n)
				}
				slices.Sort(names)
				if !slices.Equal(names, st.bad) {
					t.Errorf("step %d: invalid %v, want %v", i, names, st.bad)
				}
			}
			for name, keys := range tc.known {
				e, ok := h.lookup(name)
				if !ok || e.err != nil {
					t.Errorf("%s: known %v, err %v", name, ok, e.err)
					continue
				}
				var got []string
				for _, p := range e.specs {
					got = append(got, p.HeaderKey())
				}
				if !slices.Equal(got, keys) {
					t.Errorf("%s: headers %v, want %v", name, got, keys)
				}
			}
			for _, name := range tc.unknown {
				if _, ok := h.lookup(name); ok {
					t.Errorf("%s: known, want unknown", name)
				}
			}
			for _, name := range tc.invalid {
				if e, ok := h.lookup(name); !ok || e.err == nil {
					t.Errorf("%s: known %v, err %v; want an invalid entry", name, ok, e.err)
				}
			}
		})
	}

	t.Run("missing names are forgotten by the next list", func(t *testing.T) {
		var h toolHeaders
		h.markMissing("nope")
		if h.shouldFetch("nope") {
			t.Error("shouldFetch after markMissing")
		}
		h.learn(nodes(plainTool), false)
		if !h.shouldFetch("nope") {
			t.Error("a list did not forget the missing name")
		}
	})
}

// Test4T5FetchCoalesced: a caller that finds the broker's tools/list in
// progress waits for it (and gets its error) instead of listing again.
func Test4T5FetchCoalesced(t *testing.T) {
	var h toolHeaders
	joined := make(chan struct{})
	h.onJoin = func() { close(joined) }
	release := make(chan struct{})
	started := make(chan struct{})
	errList := errors.New("listing failed")
	var lists int
	first := make(chan error, 1)
	go func() {
		first <- h.fetch(context.Background(), func(context.Context) error {
			lists++
			close(started)
			<-release
			return errList
		})
	}()
	<-started
	second := make(chan error, 1)
	go func() {
		second <- h.fetch(context.Background(), func(context.Context) error {
			t.Error("a second list while one is in progress")
			return nil
		})
	}()
	<-joined
	close(release)
	for i, ch := range []chan error{first, second} {
		if err := <-ch; !errors.Is(err, errList) {
			t.Errorf("fetch %d: %v, want the list's error", i, err)
		}
	}
	if lists != 1 {
		t.Errorf("%d lists, want 1", lists)
	}
	// The next fetch lists again.
	if err := h.fetch(context.Background(), func(context.Context) error { lists++; return nil }); err != nil || lists != 2 {
		t.Errorf("fetch after: %v, %d lists", err, lists)
	}
}

// Test4T5UnknownToolFetch: a tools/call of a tool the cache does not know
// makes the broker list the upstream's tools (every page, with the 2026
// _meta) before sending it with the tool's Mcp-Param-* headers (a
// non-ASCII value in the Base64 sentinel); a name the list lacks is
// listed for once, then sent as it is.
func Test4T5UnknownToolFetch(t *testing.T) {
	h, up := startStateless(t, true)
	h.client.send(`{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"route","arguments":{"region":"Zürich","priority":3,"urgent":true,"note":"n"}}}`)
	answerList(t, h, h.server.recvObj(), "page-2", plainTool)
	p2 := h.server.recvObj()
	wantEq(t, "second page cursor", get(p2, "params", "cursor"), `"page-2"`)
	answerList(t, h, p2, "", routeTool("Region", "Priority", "Urgent"))
	call := h.server.recvObj()
	wantEq(t, "call", call["method"], `"tools/call"`)
	wantHeaders(t, "route", up.headers(call["id"]), map[string]string{
		"Mcp-Param-Region":   transport.EncodeHeaderValue("Zürich"),
		"Mcp-Param-Priority": "3",
		"Mcp-Param-Urgent":   "true",
	})
	if v := up.headers(call["id"]).Get("Mcp-Param-Region"); !strings.HasPrefix(v, "=?base64?") {
		t.Errorf("non-ASCII region sent as %q, want the Base64 sentinel", v)
	}
	h.server.send(`{"jsonrpc":"2.0","id":` + str(call["id"]) + `,"result":{"resultType":"complete","content":[{"type":"text","text":"routed"}]}}`)
	wantEq(t, "answer", get(h.client.recvObj(), "result", "content", 0, "text"), `"routed"`)

	// A known tool goes at once; an absent argument has no header.
	h.client.send(`{"jsonrpc":"2.0","id":"c2","method":"tools/call","params":{"name":"route","arguments":{"region":"eu"}}}`)
	call = h.server.recvObj()
	wantEq(t, "known tool sent at once", call["method"], `"tools/call"`)
	wantHeaders(t, "route again", up.headers(call["id"]), map[string]string{"Mcp-Param-Region": "eu"})
	h.server.send(`{"jsonrpc":"2.0","id":` + str(call["id"]) + `,"result":{"resultType":"complete","content":[]}}`)
	h.client.recvObj()

	// A tool the server does not list: one list, then the call as it is;
	// the next call of it does not list again.
	h.client.send(`{"jsonrpc":"2.0","id":"c3","method":"tools/call","params":{"name":"nope","arguments":{}}}`)
	answerList(t, h, h.server.recvObj(), "", plainTool, routeTool("Region", "Priority", "Urgent"))
	for _, id := range []string{`"c3"`, `"c4"`} {
		if id == `"c4"` {
			h.client.send(`{"jsonrpc":"2.0","id":"c4","method":"tools/call","params":{"name":"nope","arguments":{}}}`)
		}
		call = h.server.recvObj()
		wantEq(t, "unknown tool sent", call["method"], `"tools/call"`)
		wantHeaders(t, "unknown tool", up.headers(call["id"]), nil)
		h.server.send(`{"jsonrpc":"2.0","id":` + str(call["id"]) + `,"error":{"code":-32602,"message":"Unknown tool: nope"}}`)
		e := h.client.recvObj()
		wantEq(t, "unknown tool answer", e["id"], id)
		wantEq(t, "unknown tool code", errorCode(e), `-32602`)
	}
}

// Test4T5ListRefresh: the client's own tools/list fills the cache (no
// list of the broker's before the next call) and loses the tools whose
// annotations are invalid, which cannot be called; an argument of the
// wrong type for its header is refused with -32602 before it is sent.
func Test4T5ListRefresh(t *testing.T) {
	h, up := startStateless(t, true)
	h.client.send(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
	req := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[` + plainTool + `,` + badTool + `,` + routeTool("Region", "Priority", "Urgent") + `]}}`)
	m := h.client.recv()
	checkValid(t, schemas.V20251125, m.Raw, schemas.FromServer, "tools/list")
	var names []string
	for _, x := range get(decode(t, m.Raw), "result", "tools").([]any) {
		names = append(names, str(get(x, "name")))
	}
	if !slices.Equal(names, []string{`"echo"`, `"route"`}) {
		t.Errorf("tools given to the client: %v, want echo and route (bad has an invalid annotation)", names)
	}

	h.client.send(`{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"route","arguments":{"region":"eu","urgent":false}}}`)
	call := h.server.recvObj()
	wantEq(t, "no list before a known tool", call["method"], `"tools/call"`)
	wantHeaders(t, "route", up.headers(call["id"]), map[string]string{"Mcp-Param-Region": "eu", "Mcp-Param-Urgent": "false"})
	h.server.send(`{"jsonrpc":"2.0","id":` + str(call["id"]) + `,"result":{"resultType":"complete","content":[]}}`)
	h.client.recvObj()

	for _, tc := range []struct{ id, params, want string }{
		{`"bad"`, `{"name":"bad","arguments":{"where":{}}}`, "invalid x-mcp-header annotation"},
		{`"type"`, `{"name":"route","arguments":{"region":7}}`, "cannot be sent as its Mcp-Param header"},
		{`"range"`, `{"name":"route","arguments":{"priority":9007199254740993}}`, "cannot be sent as its Mcp-Param header"},
	} {
		h.client.send(`{"jsonrpc":"2.0","id":` + tc.id + `,"method":"tools/call","params":` + tc.params + `}`)
		e := h.client.recvObj()
		wantEq(t, "refused id", e["id"], tc.id)
		wantEq(t, "refused code", errorCode(e), `-32602`)
		if msg := str(get(e, "error", "message")); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %s, want %q", tc.id, msg, tc.want)
		}
	}
	// Nothing of those reached the server: the next thing it sees is this.
	h.client.send(`{"jsonrpc":"2.0","id":"after","method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`)
	call = h.server.recvObj()
	wantEq(t, "after the refusals", get(call, "params", "name"), `"echo"`)
	wantHeaders(t, "echo", up.headers(call["id"]), nil)
}

// Test4T5HeaderMismatch: a -32020 answer to a tools/call (the server's
// annotations changed) makes the broker list the tools again and resend
// the call once, under a new id, with the fresh headers; a second -32020
// reaches the client as an error (-32603 with the original, 4.E1), with
// no further resend.
func Test4T5HeaderMismatch(t *testing.T) {
	h, up := startStateless(t, true)
	h.client.send(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
	req := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"resultType":"complete","ttlMs":0,"cacheScope":"private","tools":[` + routeTool("Region", "Priority", "Urgent") + `]}}`)
	h.client.recvObj()

	h.client.send(`{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"route","arguments":{"region":"eu"}}}`)
	first := h.server.recvObj()
	wantHeaders(t, "first send", up.headers(first["id"]), map[string]string{"Mcp-Param-Region": "eu"})
	h.server.send(`{"jsonrpc":"2.0","id":` + str(first["id"]) + `,"error":{"code":-32020,"message":"Header mismatch: missing Mcp-Param-Zone"}}`)
	answerList(t, h, h.server.recvObj(), "", routeTool("Zone", "Priority", "Urgent"))
	second := h.server.recvObj()
	wantEq(t, "resent", second["method"], `"tools/call"`)
	if str(second["id"]) == str(first["id"]) {
		t.Errorf("resent under the same id %s", str(first["id"]))
	}
	wantEq(t, "resent arguments", get(second, "params", "arguments"), `{"region":"eu"}`)
	wantHeaders(t, "resend", up.headers(second["id"]), map[string]string{"Mcp-Param-Zone": "eu"})
	h.server.send(`{"jsonrpc":"2.0","id":` + str(second["id"]) + `,"error":{"code":-32020,"message":"Header mismatch again"}}`)
	e := h.client.recv()
	checkValid(t, schemas.V20251125, e.Raw, schemas.FromServer, "tools/call")
	o := decode(t, e.Raw).(obj)
	wantEq(t, "error id", o["id"], `"c"`)
	// 4.E1: -32020 reaches a legacy client as -32603, the original in data.
	wantEq(t, "error code", errorCode(o), `-32603`)
	if !strings.Contains(string(e.Raw), "-32020") {
		t.Errorf("the original error is lost: %s", e.Raw)
	}
	// No third send: the next message the server sees is the next call.
	h.client.send(`{"jsonrpc":"2.0","id":"next","method":"tools/call","params":{"name":"route","arguments":{"region":"us"}}}`)
	next := h.server.recvObj()
	wantEq(t, "next call", get(next, "params", "arguments", "region"), `"us"`)
	wantHeaders(t, "next call", up.headers(next["id"]), map[string]string{"Mcp-Param-Zone": "us"})
}

// Test4T5NoHeadersOverStdio: an upstream Conn that carries no headers
// (stdio) gets no list of the broker's and no header work: a call of an
// unknown tool goes at once.
func Test4T5NoHeadersOverStdio(t *testing.T) {
	h, up := startStateless(t, false)
	h.client.send(`{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"route","arguments":{"region":"eu"}}}`)
	call := h.server.recvObj()
	wantEq(t, "sent at once", call["method"], `"tools/call"`)
	wantHeaders(t, "stdio", up.headers(call["id"]), nil)
}
