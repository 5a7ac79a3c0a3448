package testsuite

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// The transport rows of REVISIONS.md section 4 (4.T1 to 4.T8) as a
// 2026-07-28 client sees them through the real binary: `mcpbroker serve`
// in front of a strict demo server (a stdio child; 2025-11-25 unless the
// row is about a 2026-07-28 upstream), with raw HTTP requests and raw
// stdio lines, so that statuses, headers and SSE fields are seen as they
// are on the wire; a legacy client of the same endpoint beside it where
// the row says what stays for it. Each test is named by its row.

// serve26 runs `mcpbroker serve` in front of the strict demo server of
// revision sr over stdio; it returns the binary, the /mcp URL and the
// upstream flags.
func serve26(t *testing.T, sr schemas.Revision) (bin, url string, upstream []string) {
	t.Helper()
	bin = buildBinary(t)
	upstream = []string{"--server-validation", "strict", "--upstream-cmd", bin + " demo-server --revision " + sr.String() + " --slow-timeout 30s"}
	if sr.Stateless() {
		upstream = append(upstream, "--upstream-revision", sr.String())
	}
	addr := brokerproc.Serve(t, bin, nil, upstream...)
	return bin, "http://" + addr + demo.PathMCP, upstream
}

// req26 returns a 2026-07-28 request with the _meta every request carries
// (protocolVersion, clientCapabilities, clientInfo) added to params where
// params' own _meta lacks them.
func req26(id any, method string, params map[string]any) []byte {
	p := map[string]any{}
	for k, v := range params {
		p[k] = v
	}
	meta := map[string]any{}
	if m, ok := p["_meta"].(map[string]any); ok {
		for k, v := range m {
			meta[k] = v
		}
	}
	for k, v := range map[string]any{
		"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
		"io.modelcontextprotocol/clientCapabilities": map[string]any{},
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "raw-2026", "version": "1.0.0"},
	} {
		if _, ok := meta[k]; !ok {
			meta[k] = v
		}
	}
	p["_meta"] = meta
	raw, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": p})
	if err != nil {
		panic(err)
	}
	return raw
}

// headers26 returns the headers a 2026-07-28 client sends with a request
// of method (4.T5); name, when not empty, is its Mcp-Name.
func headers26(method, name string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("MCP-Protocol-Version", "2026-07-28")
	h.Set("Mcp-Method", method)
	if name != "" {
		h.Set("Mcp-Name", name)
	}
	return h
}

// rawAnswer is an HTTP answer read to its end.
type rawAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends an HTTP request and reads the whole answer.
func do(ctx context.Context, t *testing.T, method, url string, h http.Header, body []byte) rawAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return rawAnswer{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// isSSE reports whether the answer is an event stream.
func (a rawAnswer) isSSE() bool {
	return strings.HasPrefix(a.Header.Get("Content-Type"), "text/event-stream")
}

// messages returns the JSON-RPC messages of the answer: the body of a
// JSON answer, or the data of each event of an SSE answer.
func (a rawAnswer) messages() []*jsonrpc.Message {
	var out []*jsonrpc.Message
	add := func(b []byte) {
		if m, err := jsonrpc.Parse(b); err == nil {
			out = append(out, m)
		}
	}
	if !a.isSSE() {
		add(a.Body)
		return out
	}
	var data []string
	for _, line := range strings.Split(string(a.Body), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "":
			if len(data) > 0 {
				add([]byte(strings.Join(data, "\n")))
			}
			data = nil
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if len(data) > 0 {
		add([]byte(strings.Join(data, "\n")))
	}
	return out
}

// fields returns the names of the SSE fields of the answer, once each, in
// order of appearance ("" for comment lines).
func (a rawAnswer) fields() []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(a.Body), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// response returns the answer's response to the request id, or nil.
func (a rawAnswer) response(id string) *jsonrpc.Message {
	for _, m := range a.messages() {
		if m.IsResponse() && jsonrpc.IDKey(m.ID) == jsonrpc.IDKey(json.RawMessage(id)) {
			return m
		}
	}
	return nil
}

// errorCode returns the code of an error response, or 0.
func errorCode(m *jsonrpc.Message) int {
	if m == nil || m.Kind != jsonrpc.KindError {
		return 0
	}
	var e struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(m.Error, &e)
	return e.Code
}

// expectError checks that the answer is status with a JSON-RPC error body
// of code answering the request id (4.T6: the body tells the eras apart).
func expectError(t *testing.T, what string, a rawAnswer, status, code int, id string) {
	t.Helper()
	if a.Status != status {
		t.Errorf("%s: HTTP %d, want %d (body %s)", what, a.Status, status, a.Body)
	}
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	m, err := jsonrpc.Parse(a.Body)
	if err != nil || m.Kind != jsonrpc.KindError {
		t.Errorf("%s: body %q is no JSON-RPC error", what, a.Body)
		return
	}
	if got := errorCode(m); got != code {
		t.Errorf("%s: error %d, want %d (%s)", what, got, code, m.Error)
	}
	if jsonrpc.IDKey(m.ID) != jsonrpc.IDKey(json.RawMessage(id)) {
		t.Errorf("%s: error for id %s, want %s", what, m.ID, id)
	}
}

// legacySession opens a 2025-11-25 session at url with a raw initialize
// and notifications/initialized, and returns its Mcp-Session-Id.
func legacySession(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	a := do(ctx, t, http.MethodPost, url, h, []byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw-legacy","version":"1.0.0"}}}`))
	sid := a.Header.Get("Mcp-Session-Id")
	if a.Status != http.StatusOK || sid == "" || a.response("1") == nil {
		t.Fatalf("legacy initialize: HTTP %d, session %q, body %s", a.Status, sid, a.Body)
	}
	h = legacyHeaders(sid)
	if a := do(ctx, t, http.MethodPost, url, h, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)); a.Status != http.StatusAccepted {
		t.Fatalf("legacy notifications/initialized: HTTP %d %s", a.Status, a.Body)
	}
	return sid
}

// legacyHeaders returns the headers of a 2025-11-25 client's requests in
// session sid.
func legacyHeaders(sid string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("MCP-Protocol-Version", "2025-11-25")
	h.Set("Mcp-Session-Id", sid)
	return h
}

// Test4T2GetIs405: a GET on /mcp by a 2026-07-28 client (MCP-Protocol-Version:
// 2026-07-28) is answered 405 with Allow: POST (4.T2: the GET endpoint is
// removed), while a legacy session's GET still opens its stream.
func Test4T2GetIs405(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, url, _ := serve26(t, schemas.V20251125)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	h := http.Header{}
	h.Set("Accept", "text/event-stream")
	h.Set("MCP-Protocol-Version", "2026-07-28")
	a := do(ctx, t, http.MethodGet, url, h, nil)
	if a.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET by a 2026-07-28 client: HTTP %d, want 405 (body %s)", a.Status, a.Body)
	}
	if allow := a.Header.Get("Allow"); allow != http.MethodPost {
		t.Errorf("GET by a 2026-07-28 client: Allow %q, want POST", allow)
	}

	// A legacy session's GET still opens the standalone stream.
	sid := legacySession(ctx, t, url)
	gctx, gcancel := context.WithTimeout(ctx, 5*time.Second)
	defer gcancel()
	req, err := http.NewRequestWithContext(gctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = legacyHeaders(sid)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("legacy GET: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("legacy GET: HTTP %d %s, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// Test4T3DeleteIs405: a DELETE by a 2026-07-28 client is answered 405 by
// the broker itself (4.T3: DELETE is removed; there is no session to end),
// while a legacy session's DELETE still ends that session (later requests
// in it get the legacy 404).
func Test4T3DeleteIs405(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, url, _ := serve26(t, schemas.V20251125)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	h := http.Header{}
	h.Set("MCP-Protocol-Version", "2026-07-28")
	a := do(ctx, t, http.MethodDelete, url, h, nil)
	if a.Status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE by a 2026-07-28 client: HTTP %d, want 405 (body %s)", a.Status, a.Body)
	}
	if allow := a.Header.Get("Allow"); allow != http.MethodPost {
		t.Errorf("DELETE by a 2026-07-28 client: Allow %q, want POST", allow)
	}
	// Even with a session id of a live legacy session: the era is the
	// header's.
	sid := legacySession(ctx, t, url)
	h.Set("Mcp-Session-Id", sid)
	if a := do(ctx, t, http.MethodDelete, url, h, nil); a.Status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE by a 2026-07-28 client naming a legacy session: HTTP %d, want 405", a.Status)
	}
	lh := legacyHeaders(sid)
	ping := []byte(`{"jsonrpc":"2.0","id":"p1","method":"ping"}`)
	if a := do(ctx, t, http.MethodPost, url, lh, ping); a.Status != http.StatusOK || a.response(`"p1"`) == nil {
		t.Fatalf("the legacy session after a 2026 DELETE: HTTP %d %s, want it alive", a.Status, a.Body)
	}
	// The legacy session's own DELETE ends it.
	if a := do(ctx, t, http.MethodDelete, url, lh, nil); a.Status < 200 || a.Status > 299 {
		t.Errorf("legacy DELETE: HTTP %d %s, want 2xx", a.Status, a.Body)
	}
	if a := do(ctx, t, http.MethodPost, url, lh, ping); a.Status != http.StatusNotFound {
		t.Errorf("a request in the deleted legacy session: HTTP %d, want 404", a.Status)
	}
}

// Test4T4NoEventIDs: the SSE answer to a 2026-07-28 client's long call
// (the progress tool: three progress notifications, then the result)
// carries no event ids and no retry field (4.T4: resumability removed),
// while the same call by a legacy client gets event ids (which it may
// resume from).
func Test4T4NoEventIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, url, _ := serve26(t, schemas.V20251125)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	a := do(ctx, t, http.MethodPost, url, headers26("tools/call", "progress"),
		req26("c1", "tools/call", map[string]any{"name": "progress", "arguments": map[string]any{}, "_meta": map[string]any{"progressToken": "t1"}}))
	if a.Status != http.StatusOK || !a.isSSE() {
		t.Fatalf("2026-07-28 progress call: HTTP %d %s, want an event stream: %s", a.Status, a.Header.Get("Content-Type"), a.Body)
	}
	if m := a.response(`"c1"`); m == nil || m.Kind != jsonrpc.KindResult {
		t.Errorf("2026-07-28 progress call: no result on the stream: %s", a.Body)
	}
	progress := 0
	for _, m := range a.messages() {
		if m.Method == "notifications/progress" {
			progress++
		}
	}
	if progress != 3 {
		t.Errorf("2026-07-28 progress call: %d progress notifications, want 3", progress)
	}
	for _, f := range a.fields() {
		if f == "id" || f == "retry" {
			t.Errorf("the stream toward a 2026-07-28 client has an SSE %s field (4.T4): %s", f, a.Body)
		}
	}
	if a.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("the stream toward a 2026-07-28 client lacks X-Accel-Buffering: no (4.T7)")
	}

	sid := legacySession(ctx, t, url)
	a = do(ctx, t, http.MethodPost, url, legacyHeaders(sid),
		[]byte(`{"jsonrpc":"2.0","id":"l1","method":"tools/call","params":{"name":"progress","arguments":{},"_meta":{"progressToken":"t1"}}}`))
	if a.Status != http.StatusOK || !a.isSSE() {
		t.Fatalf("legacy progress call: HTTP %d %s, want an event stream: %s", a.Status, a.Header.Get("Content-Type"), a.Body)
	}
	if a.response(`"l1"`) == nil {
		t.Errorf("legacy progress call: no response on the stream: %s", a.Body)
	}
	ids := 0
	for _, line := range strings.Split(string(a.Body), "\n") {
		if strings.HasPrefix(line, "id:") {
			ids++
		}
	}
	if ids < 4 {
		t.Errorf("the stream toward a legacy client has %d event ids, want one per event (4)", ids)
	}
}

// Test4T5HeaderMismatch: a 2026-07-28 request whose mirrored headers
// disagree with its body, or lack one, is refused by the broker with HTTP
// 400 and -32020 (4.T5), the request's id in the error; the same request
// with the right headers (Mcp-Name in the Base64 sentinel form too) is
// served.
func Test4T5HeaderMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, url, _ := serve26(t, schemas.V20251125)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	echo := req26(7, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "hi"}})
	for _, tc := range []struct {
		name string
		edit func(h http.Header)
		body []byte
	}{
		{"method-differs", func(h http.Header) { h.Set("Mcp-Method", "tools/list") }, echo},
		{"method-missing", func(h http.Header) { h.Del("Mcp-Method") }, echo},
		{"method-twice", func(h http.Header) { h.Add("Mcp-Method", "tools/call") }, echo},
		{"name-differs", func(h http.Header) { h.Set("Mcp-Name", "add") }, echo},
		{"name-missing", func(h http.Header) { h.Del("Mcp-Name") }, echo},
		{"name-bad-base64", func(h http.Header) { h.Set("Mcp-Name", "=?base64?not base64!?=") }, echo},
		{"uri-differs", func(h http.Header) { h.Set("Mcp-Method", "resources/read"); h.Set("Mcp-Name", "demo://static/logo") },
			req26(7, "resources/read", map[string]any{"uri": "demo://static/readme"})},
		{"prompt-name-differs", func(h http.Header) { h.Set("Mcp-Method", "prompts/get"); h.Set("Mcp-Name", "other") },
			req26(7, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]any{"name": "Ada"}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := headers26("tools/call", "echo")
			tc.edit(h)
			expectError(t, tc.name, do(ctx, t, http.MethodPost, url, h, tc.body), http.StatusBadRequest, transport.CodeHeaderMismatch, "7")
		})
	}
	t.Run("matching", func(t *testing.T) {
		for _, name := range []string{"echo", "=?base64?ZWNobw==?="} {
			a := do(ctx, t, http.MethodPost, url, headers26("tools/call", name), echo)
			if m := a.response("7"); a.Status != http.StatusOK || m == nil || m.Kind != jsonrpc.KindResult {
				t.Errorf("Mcp-Name %q: HTTP %d %s, want the result", name, a.Status, a.Body)
			}
		}
	})
}

// Test4T5MetaVersionMismatch: a 2026-07-28 client's request whose _meta
// protocolVersion differs from its MCP-Protocol-Version header is refused
// over HTTP with 400 and -32020 (4.T5: the header MUST equal the _meta;
// transport.HTTP2026Server's check); a legacy header with a 2026-07-28
// _meta goes to the legacy endpoint, which refuses it (-32600, no
// session). Over stdio, which has no header, a
// later request naming a revision the broker does not serve to that
// client is refused with -32022 (4.L3) and the connection goes on.
func Test4T5MetaVersionMismatch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin, url, upstream := serve26(t, schemas.V20251125)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	for _, meta := range []string{"2025-11-25", "2024-11-05", "2099-01-01"} {
		body := req26(3, "tools/list", map[string]any{"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": meta}})
		expectError(t, "header 2026-07-28, _meta "+meta, do(ctx, t, http.MethodPost, url, headers26("tools/list", ""), body),
			http.StatusBadRequest, transport.CodeHeaderMismatch, "3")
	}
	// The other way round: a legacy MCP-Protocol-Version header on a
	// request outside any session whose _meta names 2026-07-28 is not a
	// legacy client's request (those start with initialize) but a header
	// that disagrees with _meta: 400 + -32020 with the request's id (4.T5,
	// 4.T6), never served.
	h := headers26("tools/list", "")
	h.Set("MCP-Protocol-Version", "2025-11-25")
	expectError(t, "header 2025-11-25, _meta 2026-07-28", do(ctx, t, http.MethodPost, url, h, req26(3, "tools/list", nil)),
		http.StatusBadRequest, transport.CodeHeaderMismatch, "3")
	// No _meta protocolVersion at all: 4.L1's missing _meta, -32602.
	noMeta := []byte(`{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}}`)
	expectError(t, "no _meta protocolVersion", do(ctx, t, http.MethodPost, url, headers26("tools/list", ""), noMeta),
		http.StatusBadRequest, jsonrpc.CodeInvalidParams, "4")

	t.Run("stdio", func(t *testing.T) {
		s := startStdio26(ctx, t, bin, upstream)
		s.send(req26(1, "server/discover", nil))
		if m := s.response(ctx, "1"); m.Kind != jsonrpc.KindResult {
			t.Fatalf("server/discover: %s", m.Raw)
		}
		s.send(req26(2, "tools/list", map[string]any{"_meta": map[string]any{"io.modelcontextprotocol/protocolVersion": "2025-11-25"}}))
		if m := s.response(ctx, "2"); errorCode(m) != transport.CodeUnsupportedProtocolVersion {
			t.Errorf("a stdio request with _meta protocolVersion 2025-11-25 after 2026-07-28 ones: %s, want -32022 (4.L3)", m.Raw)
		}
		s.send(req26(3, "tools/list", nil))
		if m := s.response(ctx, "3"); m.Kind != jsonrpc.KindResult {
			t.Errorf("tools/list after the refused request: %s", m.Raw)
		}
		s.check(t)
	})
}

// Test4T6NoLegacy404: a 2026-07-28 client never gets the legacy era's 404
// (session unknown: "initialize again") or any answer without a JSON-RPC
// body (4.T6). An Mcp-Session-Id it sends, unknown or stale, is ignored
// (4.T1), and no session id is minted for it; its errors come as JSON-RPC
// error bodies with the modern statuses: 400 for a missing _meta member,
// 404 with -32601 only for an unknown method (4.T5), 200 for errors of
// the call itself.
func Test4T6NoLegacy404(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, url, _ := serve26(t, schemas.V20251125)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()

	// An unknown session id, and that of a deleted legacy session.
	sid := legacySession(ctx, t, url)
	if a := do(ctx, t, http.MethodDelete, url, legacyHeaders(sid), nil); a.Status < 200 || a.Status > 299 {
		t.Fatalf("legacy DELETE: HTTP %d", a.Status)
	}
	for _, s := range []string{"no-such-session", sid} {
		h := headers26("tools/call", "echo")
		h.Set("Mcp-Session-Id", s)
		a := do(ctx, t, http.MethodPost, url, h, req26(1, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "hi"}}))
		if m := a.response("1"); a.Status != http.StatusOK || m == nil || m.Kind != jsonrpc.KindResult {
			t.Errorf("a 2026-07-28 request with Mcp-Session-Id %q: HTTP %d %s, want the result (4.T1: ignored)", s, a.Status, a.Body)
		}
		if got := a.Header.Get("Mcp-Session-Id"); got != "" {
			t.Errorf("the broker answered a 2026-07-28 client with Mcp-Session-Id %q (4.T1)", got)
		}
	}

	// Errors: each with a JSON-RPC body; 404 only with -32601.
	for _, tc := range []struct {
		name         string
		method, hdr  string
		body         []byte
		status, code int
	}{
		{"unknown-method", "no/such", "", req26(2, "no/such", nil), http.StatusNotFound, jsonrpc.CodeMethodNotFound},
		{"no-client-capabilities", "tools/list", "", []byte(`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`),
			http.StatusBadRequest, jsonrpc.CodeInvalidParams},
		{"unknown-resource", "resources/read", "demo://no/such", req26(2, "resources/read", map[string]any{"uri": "demo://no/such"}),
			http.StatusOK, jsonrpc.CodeInvalidParams},
		{"invalid-params", "tools/call", "echo", req26(2, "tools/call", map[string]any{"name": "echo", "arguments": "not an object"}),
			http.StatusOK, jsonrpc.CodeInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(ctx, t, http.MethodPost, url, headers26(tc.method, tc.hdr), tc.body)
			expectError(t, tc.name, a, tc.status, tc.code, "2")
		})
	}
}

// Test4T7KeepAlive: a quiet stream toward a 2026-07-28 client carries SSE
// comment keep-alives (4.T7): a slow call that sends nothing for a while
// turns into an event stream (with X-Accel-Buffering: no) whose first
// bytes are a comment, and so does an open subscriptions/listen after its
// acknowledgement. serve has no flag for the interval: the 2026 endpoint
// uses transport.DefaultKeepAlive2026 (15s), so this test waits that
// long. The row's other column: toward legacy clients of a 2026-07-28
// server the broker emits both too, so a legacy client's standalone GET
// stream (answered by the broker, 4.T2) gets keep-alives within the same
// time.
func Test4T7KeepAlive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary, and waits for a 15s keep-alive")
	}
	t.Parallel()
	_, url, _ := serve26(t, schemas.V20251125)
	_, url26, _ := serve26(t, schemas.V20260728)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	sid := legacySession(ctx, t, url26)
	streams := []struct {
		name string
		req  func(ctx context.Context) (*http.Request, error)
	}{
		{"slow-call", func(ctx context.Context) (*http.Request, error) {
			return post26(ctx, url, "tools/call", "slow", req26("k1", "tools/call", map[string]any{"name": "slow", "arguments": map[string]any{}}))
		}},
		{"listen", func(ctx context.Context) (*http.Request, error) {
			return post26(ctx, url, "subscriptions/listen", "", req26("k2", "subscriptions/listen", map[string]any{
				"notifications": map[string]any{"resourceSubscriptions": []string{"demo://static/readme"}}}))
		}},
		{"legacy-get-stream", func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url26, nil)
			if err == nil {
				req.Header = legacyHeaders(sid)
				req.Header.Set("Accept", "text/event-stream")
			}
			return req, err
		}},
	}
	// The streams wait together (whatever -parallel allows); each
	// subtest then reports its own.
	wait := transport.DefaultKeepAlive2026 + 10*time.Second
	results := make([][]string, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Go(func() {
			rctx, rcancel := context.WithTimeout(ctx, wait)
			defer rcancel() // closing the stream cancels the call (4.M8)
			req, err := s.req(rctx)
			if err != nil {
				results[i] = []string{err.Error()}
				return
			}
			results[i] = readKeepAlive(req)
		})
	}
	wg.Wait()
	for i, s := range streams {
		t.Run(s.name, func(t *testing.T) {
			for _, line := range results[i] {
				if strings.HasPrefix(line, "ok: ") {
					t.Log(strings.TrimPrefix(line, "ok: "))
				} else {
					t.Error(line)
				}
			}
		})
	}
}

// post26 returns the POST of a 2026-07-28 request with its headers.
func post26(ctx context.Context, url, method, name string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err == nil {
		req.Header = headers26(method, name)
	}
	return req, err
}

// readKeepAlive sends req and reads its event stream until an SSE comment
// line, which must come before req's context ends; no line toward a
// 2026-07-28 client may be an id or retry field. It returns the problems
// found, and a line starting "ok: " when the comment came.
func readKeepAlive(req *http.Request) []string {
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", req.Method, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return []string{fmt.Sprintf("HTTP %d %s, want an event stream", resp.StatusCode, resp.Header.Get("Content-Type"))}
	}
	var problems []string
	if resp.Header.Get("X-Accel-Buffering") != "no" {
		problems = append(problems, "no X-Accel-Buffering: no (4.T7)")
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return append(problems, fmt.Sprintf("no keep-alive comment within %v: %v", time.Since(start).Round(time.Millisecond), err))
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, ":") {
			return append(problems, fmt.Sprintf("ok: keep-alive comment %q after %v", line, time.Since(start).Round(time.Millisecond)))
		}
		if req.Header.Get("MCP-Protocol-Version") == "2026-07-28" && (strings.HasPrefix(line, "id:") || strings.HasPrefix(line, "retry:")) {
			problems = append(problems, fmt.Sprintf("SSE field %q toward a 2026-07-28 client (4.T4)", line))
		}
	}
}

// Test4T8Stdio: a 2026-07-28 client over stdio through `serve --stdio`,
// whose first message is a 2026-07-28 request (not initialize): serve
// serves it as a 2026-07-28 client (the bridge), whether that first
// request is server/discover or another; the broker writes no request to
// it (4.T8: the server MUST NOT write requests; the legacy server's
// sampling becomes an InputRequiredResult), every line it writes is a
// valid 2026-07-28 message, and after a notifications/cancelled (4.M8 on
// stdio) the connection goes on and the call gets no response (that the
// cancel reaches the server is cancelCall2026's, in the matrix).
func Test4T8Stdio(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	upstream := []string{"--server-validation", "strict", "--upstream-cmd", bin + " demo-server --revision 2025-11-25 --slow-timeout 30s"}
	for _, first := range []string{"server/discover", "tools/call"} {
		t.Run("first-"+strings.ReplaceAll(first, "/", "-"), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			defer cancel()
			s := startStdio26(ctx, t, bin, upstream)
			if first == "server/discover" {
				s.send(req26(1, "server/discover", nil))
				var d struct {
					SupportedVersions []string `json:"supportedVersions"`
				}
				m := s.response(ctx, "1")
				if m.Kind != jsonrpc.KindResult || json.Unmarshal(m.Result, &d) != nil || !slices.Contains(d.SupportedVersions, "2026-07-28") {
					t.Fatalf("server/discover: %s", m.Raw)
				}
			} else {
				s.send(req26(1, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "first"}}))
				if m := s.response(ctx, "1"); m.Kind != jsonrpc.KindResult || !strings.Contains(string(m.Result), "first") {
					t.Fatalf("tools/call as the first message: %s", m.Raw)
				}
			}
			// The legacy server's sampling request: an InputRequiredResult,
			// not a request on the client's stdin.
			caps := map[string]any{"io.modelcontextprotocol/clientCapabilities": map[string]any{"sampling": map[string]any{}}}
			s.send(req26(2, "tools/call", map[string]any{"name": "sample", "arguments": map[string]any{"prompt": "x"}, "_meta": caps}))
			var ir struct {
				ResultType    string                     `json:"resultType"`
				InputRequests map[string]json.RawMessage `json:"inputRequests"`
				RequestState  string                     `json:"requestState"`
			}
			if m := s.response(ctx, "2"); m.Kind != jsonrpc.KindResult || json.Unmarshal(m.Result, &ir) != nil || ir.ResultType != "input_required" || len(ir.InputRequests) != 1 {
				t.Fatalf("sample: %s, want an InputRequiredResult with one input request", m.Raw)
			}
			responses := map[string]any{}
			for k := range ir.InputRequests {
				responses[k] = map[string]any{"role": "assistant", "content": map[string]any{"type": "text", "text": "answered"}, "model": "m", "stopReason": "endTurn"}
			}
			s.send(req26(3, "tools/call", map[string]any{"name": "sample", "arguments": map[string]any{"prompt": "x"}, "_meta": caps,
				"inputResponses": responses, "requestState": ir.RequestState}))
			if m := s.response(ctx, "3"); m.Kind != jsonrpc.KindResult || !strings.Contains(string(m.Result), "answered") {
				t.Errorf("sample retry: %s", m.Raw)
			}
			// Cancellation: notifications/cancelled; the call gets no
			// response, later ones do.
			s.send(req26(4, "tools/call", map[string]any{"name": "slow", "arguments": map[string]any{}, "_meta": map[string]any{"progressToken": "p4"}}))
			s.waitFor(ctx, func(m *jsonrpc.Message) bool { return m.Method == "notifications/progress" })
			s.send([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":4,"reason":"test"}}`))
			s.send(req26(5, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "after"}}))
			if m := s.response(ctx, "5"); m.Kind != jsonrpc.KindResult {
				t.Errorf("echo after the cancel: %s", m.Raw)
			}
			s.send(req26(6, "ping", nil))
			s.response(ctx, "6")
			if m := s.seen("4"); m != nil {
				t.Errorf("the cancelled call got a response: %s", m.Raw)
			}
			s.check(t)
		})
	}
}

// Test4T8StdioEOF: a 2026-07-28 stdio client that writes its request and
// closes its standard input (echo '...' | mcpbroker serve --stdio) gets
// the answer, and serve then exits with status 0, as it does for a legacy
// client that does the same with initialize.
func Test4T8StdioEOF(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	upstream := []string{"--server-validation", "strict", "--upstream-cmd", bin + " demo-server --revision 2025-11-25"}
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"legacy", []byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)},
		{"2026-07-28", req26(1, "server/discover", nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--stdio"}, upstream...)...)
			cmd.Stdin = bytes.NewReader(append(tc.req, '\n'))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("serve --stdio: %v; stderr ends: %s", err, lastLines(stderr.String(), 2))
			}
			m, perr := jsonrpc.Parse(bytes.TrimSpace(out))
			if perr != nil || m.Kind != jsonrpc.KindResult {
				t.Errorf("the answer to the request before EOF: %s, want its result", out)
			}
		})
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stdio26 is a raw 2026-07-28 client of a `serve --stdio` process: it
// writes lines and reads every line the broker writes, validating each
// against 2026-07-28 (from the server).
type stdio26 struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan []byte
	v     *schemas.Validator

	methods  map[string]string // method of each request sent, by IDKey
	got      []*jsonrpc.Message
	problems []string
}

// startStdio26 starts `bin serve --stdio upstream...`; cleanup closes its
// standard input and waits for it.
func startStdio26(ctx context.Context, t *testing.T, bin string, upstream []string) *stdio26 {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--stdio"}, upstream...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &stdio26{t: t, stdin: stdin, lines: make(chan []byte, 64), v: v, methods: map[string]string{}}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.lines <- bytes.Clone(sc.Bytes())
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				// Test4T8StdioEOF's to judge.
				t.Logf("serve --stdio: %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("serve --stdio did not exit when its standard input closed")
		}
	})
	return s
}

// send writes one line.
func (s *stdio26) send(raw []byte) {
	s.t.Helper()
	if m, err := jsonrpc.Parse(raw); err == nil && m.Kind == jsonrpc.KindRequest {
		s.methods[jsonrpc.IDKey(m.ID)] = m.Method
	}
	if _, err := s.stdin.Write(append(raw, '\n')); err != nil {
		s.t.Fatalf("write to serve --stdio: %v", err)
	}
}

// waitFor reads lines until one satisfies match, and returns it.
func (s *stdio26) waitFor(ctx context.Context, match func(*jsonrpc.Message) bool) *jsonrpc.Message {
	s.t.Helper()
	for _, m := range s.got {
		if match(m) {
			return m
		}
	}
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("serve --stdio closed its standard output")
			}
			m, err := jsonrpc.Parse(line)
			if err != nil {
				s.problems = append(s.problems, "not JSON-RPC: "+string(line))
				continue
			}
			if m.Kind == jsonrpc.KindRequest {
				s.problems = append(s.problems, "the broker wrote a request to a 2026-07-28 client (4.T8): "+string(line))
			}
			check := schemas.Check{From: schemas.FromServer}
			if m.IsResponse() {
				check.Method = s.methods[jsonrpc.IDKey(m.ID)]
			}
			if err := s.v.Validate(schemas.V20260728, m, check); err != nil {
				s.problems = append(s.problems, "invalid: "+err.Error())
			}
			s.got = append(s.got, m)
			if match(m) {
				return m
			}
		case <-ctx.Done():
			s.t.Fatalf("waiting for a message from serve --stdio: %v", ctx.Err())
		}
	}
}

// response waits for the response to the request id (a JSON value).
func (s *stdio26) response(ctx context.Context, id string) *jsonrpc.Message {
	s.t.Helper()
	return s.waitFor(ctx, func(m *jsonrpc.Message) bool {
		return m.IsResponse() && jsonrpc.IDKey(m.ID) == jsonrpc.IDKey(json.RawMessage(id))
	})
}

// seen returns the response to id received so far, or nil.
func (s *stdio26) seen(id string) *jsonrpc.Message {
	for _, m := range s.got {
		if m.IsResponse() && jsonrpc.IDKey(m.ID) == jsonrpc.IDKey(json.RawMessage(id)) {
			return m
		}
	}
	return nil
}

// check reports the problems found in what the broker wrote.
func (s *stdio26) check(t *testing.T) {
	t.Helper()
	for _, p := range s.problems {
		t.Error(p)
	}
}
