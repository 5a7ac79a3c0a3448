package demo_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// meta26 is a valid 2026-07-28 request _meta, as JSON.
const meta26 = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// post26 POSTs body to url with the headers (nil values are left out)
// and returns the status, the JSON-RPC error code of the body (0 when it
// is no error response) and the response headers.
func post26(ctx context.Context, t *testing.T, method, url, body string, headers map[string]string) (int, int, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, resp.Header
}

// TestServeHTTP2026 checks the stateless Streamable HTTP transport of
// 2026-07-28 with hand-made requests (REVISIONS.md 4.T1 to 4.T6).
func TestServeHTTP2026(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	base, stop := serveHTTP(t, v2026)
	url := base + demo.PathMCP
	echo := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},` + meta26 + `}}`
	read := `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"demo://items/é",` + meta26 + `}}`
	good := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for k, v := range good {
			h[k] = v
		}
		h[k] = v
		return h
	}
	b64 := func(s string) string { return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }
	tests := []struct {
		name       string
		method     string
		body       string
		headers    map[string]string
		wantStatus int
		wantCode   int
	}{
		{"tools/call", "POST", echo, good, 200, 0},
		{"Base64 Mcp-Name", "POST", echo, with("Mcp-Name", b64("echo")), 200, 0},
		{"Base64 non-ASCII Mcp-Name", "POST", read, map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "resources/read", "Mcp-Name": b64("demo://items/é")}, 200, 0},
		{"GET", "GET", "", good, 405, -32600},
		{"DELETE", "DELETE", "", good, 405, -32600},
		{"no MCP-Protocol-Version", "POST", echo, with("Mcp-Protocol-Version", ""), 400, -32020},
		{"MCP-Protocol-Version not the body's", "POST", echo, with("Mcp-Protocol-Version", "2025-11-25"), 400, -32020},
		{"no Mcp-Method", "POST", echo, with("Mcp-Method", ""), 400, -32020},
		{"Mcp-Method not the body's", "POST", echo, with("Mcp-Method", "tools/list"), 400, -32020},
		{"no Mcp-Name", "POST", echo, with("Mcp-Name", ""), 400, -32020},
		{"Mcp-Name not the body's", "POST", echo, with("Mcp-Name", "add"), 400, -32020},
		{"bad Base64 Mcp-Name", "POST", echo, with("Mcp-Name", "=?base64?!!?="), 400, -32020},
		{"unsupported version, agreeing header", "POST",
			`{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}}}`,
			map[string]string{"Mcp-Protocol-Version": "2025-11-25", "Mcp-Method": "tools/list"}, 400, -32022},
		{"missing _meta", "POST", `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{}}`,
			map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}, 400, -32602},
		{"unknown method", "POST", `{"jsonrpc":"2.0","id":5,"method":"ping","params":{` + meta26 + `}}`,
			map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "ping"}, 404, -32601},
		{"notification", "POST", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}`,
			map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "notifications/cancelled"}, 202, 0},
		{"notification of another version", "POST", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}`,
			map[string]string{"Mcp-Protocol-Version": "2025-06-18", "Mcp-Method": "notifications/cancelled"}, 400, -32022},
		{"a response", "POST", `{"jsonrpc":"2.0","id":6,"result":{}}`, good, 400, -32600},
		{"not JSON", "POST", `{"jsonrpc":`, good, 400, -32700},
		{"not acceptable", "POST", echo, with("Accept", "application/json"), 406, -32600},
		{"foreign Origin", "POST", echo, with("Origin", "http://conformance.invalid"), 403, -32600},
		{"foreign Origin on GET", "GET", "", with("Origin", "http://conformance.invalid"), 403, -32600},
		{"loopback Origin", "POST", echo, with("Origin", "http://127.0.0.1:8080"), 200, 0},
		{"localhost Origin", "POST", echo, with("Origin", "http://localhost:3000"), 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code, h := post26(ctx, t, tt.method, url, tt.body, tt.headers)
			if status != tt.wantStatus || code != tt.wantCode {
				t.Errorf("status %d code %d, want %d %d", status, code, tt.wantStatus, tt.wantCode)
			}
			if sid := h.Get(transport.HeaderSessionID); sid != "" {
				t.Errorf("%s %q (2026-07-28 has no sessions)", transport.HeaderSessionID, sid)
			}
		})
	}

	// The fixture client sees a mismatch as the -32020 error it is.
	conn := fixture.DialHTTP2026(url, fixture.WithHeaderEdit(func(h http.Header, m *jsonrpc.Message) {
		if m.Method == "tools/call" {
			h.Set(fixture.HeaderName, "add")
		}
	}))
	c, err := fixture.NewClient(v2026, conn, fixture.WithValidator(sharedValidator(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.CallTool(ctx, "echo", map[string]any{"text": "x"})
	codeOf(t, err, fixture.CodeHeaderMismatch)
	if xs := conn.Exchanges(); len(xs) != 1 || xs[0].Status != 400 {
		t.Errorf("exchanges %+v", xs)
	}
	if _, err := c.Call(ctx, "tools/list", nil); err != nil {
		t.Errorf("tools/list: %v", err)
	}
	for _, err := range c.Violations() {
		t.Errorf("violation: %v", err)
	}

	if status, _, _ := post26(ctx, t, "GET", base+demo.PathHealth, "", nil); status != 200 {
		t.Errorf("GET %s: %d", demo.PathHealth, status)
	}
	if err := stop(); err != nil {
		t.Errorf("ServeHTTP: %v", err)
	}
}

// TestServeHTTP2026Disconnect: closing the answer of a POST cancels its
// request (4.M8).
func TestServeHTTP2026Disconnect(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	log := newRequestLog()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- demo.ServeHTTP(sctx, v2026, ln, demo.WithValidator(sharedValidator(t)), demo.WithRequestHook(log.add))
	}()
	t.Cleanup(func() { stop(); <-served })
	url := "http://" + ln.Addr().String() + demo.PathMCP
	slow := `{"jsonrpc":"2.0","id":"s1","method":"tools/call","params":{"name":"slow",` + meta26[:len(meta26)-1] + `,"progressToken":"p"}}}`
	headers := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "slow"}

	rctx, rcancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(rctx, "POST", url, strings.NewReader(slow))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// The progress notification switched the answer to an event stream.
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("answer %s %q", ct, resp.Header.Get("X-Accel-Buffering"))
	}
	buf := make([]byte, 1)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	rcancel()
	resp.Body.Close()
	ri, err := log.wait(ctx, func(ri demo.RequestInfo) bool { return ri.Method == "tools/call" })
	if err != nil {
		t.Fatal(err)
	}
	if !ri.Cancelled || ri.Responded {
		t.Errorf("slow after the client closed the stream: %+v", ri)
	}
}
