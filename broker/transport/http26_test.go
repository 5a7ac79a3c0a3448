package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// meta26 is the _meta member of a valid 2026-07-28 request.
const meta26 = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// req26Body returns a 2026-07-28 request; extra holds params members (with a
// trailing comma) besides _meta.
func req26Body(id, method, extra string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":{%s%s}}`, id, method, extra, meta26)
}

// serve26 runs an HTTP2026Server with opts on 127.0.0.1 and returns it
// with its accepted Conn.
func serve26(t *testing.T, opts *HTTP2026ServerOptions) (*httptest.Server, *HTTP2026Server, Conn) {
	t.Helper()
	srv := NewHTTP2026Server(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() }) // runs before ts.Close: ends the handlers
	conn, err := srv.Accept(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ts, srv, conn
}

// dial26 returns a DialHTTP2026 Conn to url, closed at the end of the test.
func dial26(t *testing.T, url string) Conn {
	t.Helper()
	c, err := DialHTTP2026(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// post26 POSTs body with the headers of a valid 2026 request for method
// plus extra ones ("Name: value"; an empty value removes the header).
func post26(t *testing.T, url, method, body string, extra ...string) *http.Response {
	t.Helper()
	return post(t, url, body, append([]string{"Mcp-Protocol-Version: 2026-07-28", "Mcp-Method: " + method}, extra...)...)
}

// errorOf returns the code and id of a JSON-RPC error response.
func errorOf(t *testing.T, raw []byte) (code int, id string) {
	t.Helper()
	m := parse(t, raw)
	if m.Kind != jsonrpc.KindError {
		t.Fatalf("not an error response: %s", raw)
	}
	var e struct {
		Code int `json:"code"`
	}
	if err := json.Unmarshal(m.Error, &e); err != nil {
		t.Fatal(err)
	}
	return e.Code, string(m.ID)
}

func TestHTTP2026RoundTrip(t *testing.T) {
	ts, _, conn := serve26(t, nil)
	p := startPeer(conn)
	c := dial26(t, ts.URL)
	tests := []struct {
		name   string
		req    string
		frames []string // substrings of the frames Recv returns, in order
	}{
		{name: "JSON answer", req: req26Body(`"a"`, "tools/list", ``),
			frames: []string{`"id":"a","result":{"echo":{`}},
		{name: "SSE answer", req: req26Body(`7`, "test/progress", ``),
			frames: []string{`"method":"notifications/progress"`, `"id":7,"result":{}`}},
		{name: "tools/call", req: req26Body(`8`, "tools/call", `"name":"get_weather","arguments":{"location":"Seattle"},`),
			frames: []string{`"id":8,"result":{"echo":{"name":"get_weather"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send(t, c, tt.req)
			id := parse(t, []byte(tt.req)).ID
			for _, want := range tt.frames {
				m := recv(t, c)
				if !strings.Contains(string(m.Raw), want) {
					t.Fatalf("frame %s, want it to contain %s", m.Raw, want)
				}
				if string(m.Related) != string(id) {
					t.Fatalf("Related = %s, want %s", m.Related, id)
				}
			}
		})
	}
	c.Close()
	select {
	case n := <-p.notes:
		t.Fatalf("the relay got notification %s", n)
	default:
	}
}

func TestHTTP2026AnswerFormats(t *testing.T) {
	ts, _, conn := serve26(t, nil)
	startPeer(conn)
	tests := []struct {
		name, method, ct string
		status           int
	}{
		{name: "JSON", method: "tools/list", ct: "application/json", status: 200},
		{name: "SSE after a notification", method: "test/progress", ct: "text/event-stream", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := post26(t, ts.URL, tt.method, req26Body(`1`, tt.method, ``))
			if resp.StatusCode != tt.status || mediaType(resp.Header.Get("Content-Type")) != tt.ct {
				t.Fatalf("status %d, Content-Type %q; want %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, tt.ct)
			}
			if resp.Header.Get(HeaderSessionID) != "" {
				t.Fatal("a 2026 answer carries a session id")
			}
			body := string(readAll(t, resp.Body))
			if tt.ct == "text/event-stream" {
				if resp.Header.Get("X-Accel-Buffering") != "no" {
					t.Fatal("SSE answer without X-Accel-Buffering: no")
				}
				if strings.Contains(body, "id:") || strings.Contains(body, "retry:") {
					t.Fatalf("SSE answer with event ids or retry (4.T4): %q", body)
				}
			}
			if !strings.Contains(body, `"id":1,"result"`) {
				t.Fatalf("body %q lacks the response with the client's id", body)
			}
		})
	}
}

func TestHTTP2026SameIDFromTwoClients(t *testing.T) {
	ts, _, conn := serve26(t, nil)
	c1, c2 := dial26(t, ts.URL), dial26(t, ts.URL)
	send(t, c1, req26Body(`1`, "tools/call", `"name":"one",`))
	send(t, c2, req26Body(`1`, "tools/call", `"name":"two",`))
	// Both are pending at once; answer them in reverse order, each with
	// the tool name it asked for.
	var ids []json.RawMessage
	names := map[string]string{}
	for range 2 {
		m := parse(t, recv(t, conn).Raw)
		if string(m.ID) == "1" {
			t.Fatalf("the relay sees the client's id: %s", m.Raw)
		}
		var p struct {
			Name string `json:"name"`
		}
		json.Unmarshal(m.Params, &p)
		ids = append(ids, m.ID)
		names[jsonrpc.IDKey(m.ID)] = p.Name
	}
	if jsonrpc.IDKey(ids[0]) == jsonrpc.IDKey(ids[1]) {
		t.Fatalf("both requests have id %s", ids[0])
	}
	for i := len(ids) - 1; i >= 0; i-- {
		answer := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"tool":%q}}`, ids[i], names[jsonrpc.IDKey(ids[i])])
		if err := conn.Send(context.Background(), Message{Raw: []byte(answer), Related: ids[i]}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		c    Conn
		want string
	}{{c1, `{"jsonrpc":"2.0","id":1,"result":{"tool":"one"}}`}, {c2, `{"jsonrpc":"2.0","id":1,"result":{"tool":"two"}}`}} {
		if m := recv(t, tc.c); string(m.Raw) != tc.want {
			t.Fatalf("got %s, want %s", m.Raw, tc.want)
		}
	}
}

func TestHTTP2026ServerRefuses(t *testing.T) {
	const tool = `"name":"run","arguments":{"region":"us"},`
	ts, _, conn := serve26(t, &HTTP2026ServerOptions{
		MaxBodySize: 2048,
		ParamHeaders: func(name string) ([]ParamHeader, bool) {
			if name != "run" {
				return nil, false
			}
			return []ParamHeader{{Name: "Region", Path: []string{"region"}, Type: "string"}}, true
		},
	})
	startPeer(conn)
	tests := []struct {
		name    string
		method  string // HTTP method; POST when empty
		mcp     string // the Mcp-Method of a POST
		body    string
		headers []string
		status  int
		code    int    // the JSON-RPC error code, when the body is one
		id      string // the error's id
		allow   string
	}{
		{name: "GET", method: http.MethodGet, status: 405, code: -32600, id: "null", allow: "POST"},
		{name: "DELETE", method: http.MethodDelete, status: 405, code: -32600, id: "null", allow: "POST"},
		{name: "PUT", method: http.MethodPut, status: 405, code: -32600, id: "null", allow: "POST"},
		{name: "foreign origin", mcp: "tools/list", body: req26Body(`1`, "tools/list", ``), headers: []string{"Origin: https://evil.example"}, status: 403, code: -32600, id: "null"},
		{name: "Accept", mcp: "tools/list", body: req26Body(`1`, "tools/list", ``), headers: []string{"Accept: application/json"}, status: 406, code: -32600, id: "null"},
		{name: "Content-Type", mcp: "tools/list", body: req26Body(`1`, "tools/list", ``), headers: []string{"Content-Type: text/plain"}, status: 415, code: -32600, id: "null"},
		{name: "oversized", mcp: "tools/list", body: req26Body(`1`, "tools/list", `"pad":"`+strings.Repeat("x", 4096)+`",`), status: 413, code: -32600, id: "null"},
		{name: "not JSON", mcp: "tools/list", body: `{"jsonrpc":`, status: 400, code: -32700, id: "null"},
		{name: "batch", mcp: "tools/list", body: `[` + req26Body(`1`, "tools/list", ``) + `]`, status: 400, code: -32600, id: "null"},
		{name: "response", mcp: "tools/list", body: `{"jsonrpc":"2.0","id":1,"result":{}}`, status: 400, code: -32600, id: "null"},
		{name: "no MCP-Protocol-Version", mcp: "tools/list", body: req26Body(`1`, "tools/list", ``), headers: []string{"Mcp-Protocol-Version:"}, status: 400, code: -32020, id: "1"},
		{name: "garbage MCP-Protocol-Version", mcp: "tools/list", body: req26Body(`2`, "tools/list", ``), headers: []string{"Mcp-Protocol-Version: yesterday"}, status: 400, code: -32020, id: "2"},
		{name: "other MCP-Protocol-Version", mcp: "tools/list", body: req26Body(`3`, "tools/list", ``), headers: []string{"Mcp-Protocol-Version: 2025-11-25"}, status: 400, code: -32020, id: "3"},
		{name: "unsupported version", mcp: "tools/list", body: `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-06-18","io.modelcontextprotocol/clientCapabilities":{}}}}`,
			headers: []string{"Mcp-Protocol-Version: 2025-06-18"}, status: 400, code: -32022, id: "4"},
		{name: "no _meta version", mcp: "tools/list", body: `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`, status: 400, code: -32602, id: "5"},
		{name: "no client capabilities", mcp: "tools/list", body: `{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, status: 400, code: -32602, id: "6"},
		{name: "no Mcp-Method", mcp: "tools/list", body: req26Body(`"m"`, "tools/list", ``), headers: []string{"Mcp-Method:"}, status: 400, code: -32020, id: `"m"`},
		{name: "other Mcp-Method", mcp: "prompts/list", body: req26Body(`7`, "tools/list", ``), status: 400, code: -32020, id: "7"},
		{name: "Mcp-Method case", mcp: "Tools/List", body: req26Body(`8`, "tools/list", ``), status: 400, code: -32020, id: "8"},
		{name: "no Mcp-Name", mcp: "tools/call", body: req26Body(`9`, "tools/call", `"name":"x",`), status: 400, code: -32020, id: "9"},
		{name: "other Mcp-Name", mcp: "prompts/get", body: req26Body(`10`, "prompts/get", `"name":"x",`), headers: []string{"Mcp-Name: y"}, status: 400, code: -32020, id: "10"},
		{name: "Mcp-Name for resources/read", mcp: "resources/read", body: req26Body(`11`, "resources/read", `"uri":"file:///a",`), headers: []string{"Mcp-Name: file:///b"}, status: 400, code: -32020, id: "11"},
		{name: "bad Base64 Mcp-Name", mcp: "tools/call", body: req26Body(`12`, "tools/call", `"name":"x",`), headers: []string{"Mcp-Name: =?base64?%%%?="}, status: 400, code: -32020, id: "12"},
		{name: "Base64 Mcp-Name", mcp: "prompts/get", body: req26Body(`13`, "prompts/get", `"name":"résumé",`), headers: []string{"Mcp-Name: =?base64?csOpc3Vtw6k=?="}, status: 200},
		{name: "Mcp-Param missing", mcp: "tools/call", body: req26Body(`14`, "tools/call", tool), headers: []string{"Mcp-Name: run"}, status: 400, code: -32020, id: "14"},
		{name: "Mcp-Param differs", mcp: "tools/call", body: req26Body(`15`, "tools/call", tool), headers: []string{"Mcp-Name: run", "Mcp-Param-Region: eu"}, status: 400, code: -32020, id: "15"},
		{name: "Mcp-Param matches", mcp: "tools/call", body: req26Body(`16`, "tools/call", tool), headers: []string{"Mcp-Name: run", "Mcp-Param-Region: us"}, status: 200},
		{name: "unknown tool's Mcp-Param unchecked", mcp: "tools/call", body: req26Body(`17`, "tools/call", `"name":"other","arguments":{"region":"us"},`), headers: []string{"Mcp-Name: other"}, status: 200},
		{name: "session id ignored", mcp: "tools/list", body: req26Body(`18`, "tools/list", ``), headers: []string{"Mcp-Session-Id: abc", "Last-Event-ID: 1-1"}, status: 200},
		{name: "notification", mcp: "test/note", body: `{"jsonrpc":"2.0","method":"test/note"}`, status: 202},
		{name: "notification without headers", body: `{"jsonrpc":"2.0","method":"test/note"}`, headers: []string{"Mcp-Method:", "Mcp-Protocol-Version:"}, status: 202},
		{name: "notification with other Mcp-Method", mcp: "x", body: `{"jsonrpc":"2.0","method":"test/note"}`, status: 400, code: -32020, id: "null"},
		{name: "client notifications/cancelled", mcp: "notifications/cancelled", body: `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`, status: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			if tt.method != "" {
				resp = do(t, tt.method, ts.URL, tt.headers...)
			} else {
				resp = post26(t, ts.URL, tt.mcp, tt.body, tt.headers...)
			}
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Fatalf("Allow %q, want %q", got, tt.allow)
			}
			if tt.code == 0 {
				if tt.status == 200 && !strings.Contains(string(body), `"result"`) {
					t.Fatalf("body %s is not a result", body)
				}
				return
			}
			code, id := errorOf(t, body)
			if code != tt.code || id != tt.id {
				t.Fatalf("error %d with id %s, want %d with id %s (body %s)", code, id, tt.code, tt.id, body)
			}
			if code == CodeUnsupportedProtocolVersion && !strings.Contains(string(body), `"data":{"requested":"2025-06-18","supported":["2026-07-28"]}`) {
				t.Fatalf("-32022 without its data: %s", body)
			}
		})
	}
}

// relay26 is a test relay on a server Conn that hands every frame it
// receives to the test.
func relay26(t *testing.T, conn Conn) <-chan *jsonrpc.Message {
	t.Helper()
	ch := make(chan *jsonrpc.Message, 16)
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		defer close(ch)
		for {
			m, err := conn.Recv(context.Background())
			if err != nil {
				return
			}
			msg, err := jsonrpc.Parse(m.Raw)
			if err != nil {
				t.Errorf("relay got %s: %v", m.Raw, err)
				return
			}
			if msg.IsNotification() && msg.Method == "notifications/cancelled" && string(m.Related) == "" {
				t.Errorf("synthesized cancel without Related: %s", m.Raw)
			}
			ch <- msg
		}
	}()
	return ch
}

// next returns the next frame the test relay got.
func next(t *testing.T, ch <-chan *jsonrpc.Message) *jsonrpc.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the relay's Conn ended")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the relay got nothing")
		return nil
	}
}

// sendTo sends raw on a server Conn.
func sendTo(t *testing.T, conn Conn, raw string, related json.RawMessage) {
	t.Helper()
	if err := conn.Send(context.Background(), Message{Raw: []byte(raw), Related: related}); err != nil {
		t.Fatalf("Send(%s): %v", raw, err)
	}
}

func TestHTTP2026StatusOfErrors(t *testing.T) {
	ts, _, conn := serve26(t, nil)
	got := relay26(t, conn)
	tests := []struct {
		name   string
		code   int
		status int
	}{
		{name: "unknown method", code: -32601, status: 404},
		{name: "unsupported version", code: -32022, status: 400},
		{name: "missing capability", code: -32021, status: 400},
		{name: "header mismatch", code: -32020, status: 400},
		{name: "invalid params", code: -32602, status: 200},
		{name: "internal", code: -32603, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			done := make(chan struct{})
			go func() {
				defer close(done)
				resp = post26(t, ts.URL, "x/y", req26Body(`"q"`, "x/y", ``))
			}()
			m := next(t, got)
			sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":"no"}}`, m.ID, tt.code), m.ID)
			<-done
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if code, id := errorOf(t, body); code != tt.code || id != `"q"` {
				t.Fatalf("error %d with id %s, want %d with the client's id", code, id, tt.code)
			}
		})
	}
}

func TestHTTP2026ClientSeesStatusErrors(t *testing.T) {
	ts, _, conn := serve26(t, &HTTP2026ServerOptions{MaxBodySize: 1024})
	got := relay26(t, conn)
	c := dial26(t, ts.URL)
	// An unsupported version in the body: the server answers 400 -32022.
	send(t, c, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-06-18","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	if code, id := errorOf(t, recv(t, c).Raw); code != CodeUnsupportedProtocolVersion || id != "1" {
		t.Fatalf("error %d id %s, want -32022 for id 1", code, id)
	}
	// Too large: 413 with a JSON-RPC error body.
	send(t, c, req26Body(`2`, "tools/list", `"pad":"`+strings.Repeat("x", 2048)+`",`))
	if code, id := errorOf(t, recv(t, c).Raw); code != jsonrpc.CodeInvalidRequest || id != "2" {
		t.Fatalf("error %d id %s, want -32600 for id 2", code, id)
	}
	// Unknown method: the relay answers -32601, the server 404, and the
	// client a JSON-RPC error, not a lost session.
	send(t, c, req26Body(`3`, "no/such", ``))
	m := next(t, got)
	sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"Method not found"}}`, m.ID), m.ID)
	if code, id := errorOf(t, recv(t, c).Raw); code != jsonrpc.CodeMethodNotFound || id != "3" {
		t.Fatalf("error %d id %s, want -32601 for id 3", code, id)
	}
}

func TestHTTP2026ClientStatuses(t *testing.T) {
	type seen struct {
		header http.Header
		body   string
	}
	requests := make(chan seen, 8)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		code    int
		check   func(t *testing.T, raw []byte)
	}{
		{name: "404 text", code: -32603,
			handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusNotFound) },
			check: func(t *testing.T, raw []byte) {
				if !strings.Contains(string(raw), `"data":{"body":"nope\n","status":404}`) {
					t.Fatalf("no status in %s", raw)
				}
			}},
		{name: "400 modern error with null id", code: -32022,
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeErrorBody(w, 400, jsonrpc.ErrorResponse(nil, -32022, "unsupported", map[string]any{"supported": []string{"2026-07-28"}}))
			}},
		{name: "202 to a request", code: -32603,
			handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }},
		{name: "SSE ends before the response", code: -32603,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "id: 1\nretry: 10\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n")
			}},
		{name: "JSON that is no response", code: -32603,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"jsonrpc":"2.0","method":"x"}`)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				requests <- seen{r.Header.Clone(), string(b)}
				tt.handler(w, r)
			}))
			t.Cleanup(ts.Close)
			c := dial26(t, ts.URL)
			send(t, c, req26Body(`"r"`, "tools/list", ``))
			var last Message
			for {
				last = recv(t, c)
				if parse(t, last.Raw).IsResponse() {
					break
				}
			}
			if code, id := errorOf(t, last.Raw); code != tt.code || id != `"r"` || string(last.Related) != `"r"` {
				t.Fatalf("got %s (Related %s), want error %d for \"r\"", last.Raw, last.Related, tt.code)
			}
			if tt.check != nil {
				tt.check(t, last.Raw)
			}
			if s := <-requests; s.header.Get("Mcp-Method") != "tools/list" || s.header.Get("Mcp-Protocol-Version") != "2026-07-28" {
				t.Fatalf("request headers %v", s.header)
			}
		})
	}
}

func TestHTTP2026ClientSend(t *testing.T) {
	var (
		mu   sync.Mutex
		last http.Header
	)
	status := make(chan int, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(<-status)
	}))
	t.Cleanup(ts.Close)
	c := dial26(t, ts.URL)
	ctx := context.Background()

	if hc, ok := c.(HeaderCarrier); !ok || !hc.CarriesHeaders() {
		t.Errorf("%T does not say it carries the headers of WithHeaders", c)
	}
	status <- http.StatusAccepted
	hctx := WithHeaders(ctx, http.Header{"Mcp-Param-Region": {"us"}})
	if got := HeadersFrom(hctx).Get("Mcp-Param-Region"); got != "us" || HeadersFrom(ctx) != nil {
		t.Errorf("HeadersFrom: %q, %v", got, HeadersFrom(ctx))
	}
	if err := c.Send(hctx, Message{Raw: []byte(`{"jsonrpc":"2.0","method":"test/note"}`)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if last.Get("Mcp-Param-Region") != "us" || last.Get("Mcp-Method") != "test/note" || last.Get("Mcp-Session-Id") != "" {
		t.Fatalf("headers %v", last)
	}
	mu.Unlock()

	status <- http.StatusInternalServerError
	err := c.Send(ctx, Message{Raw: []byte(`{"jsonrpc":"2.0","method":"test/note"}`)})
	if se, ok := errors.AsType[*StatusError](err); !ok || se.StatusCode != 500 {
		t.Fatalf("err = %v, want a 500 StatusError", err)
	}

	for _, raw := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
		`[` + req26Body(`1`, "tools/list", ``) + `]`,
		`{"jsonrpc":`,
	} {
		if err := c.Send(ctx, Message{Raw: []byte(raw)}); err == nil {
			t.Fatalf("Send(%s) succeeded", raw)
		}
	}
	// A cancel for no pending request is dropped, not posted.
	if err := c.Send(ctx, Message{Raw: []byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":99}}`)}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := c.Send(ctx, Message{Raw: []byte(`{"jsonrpc":"2.0","method":"test/note"}`)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestHTTP2026ParamHeadersEndToEnd(t *testing.T) {
	const schema = `{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}`
	specs, err := ParseParamHeaders(json.RawMessage(schema))
	if err != nil {
		t.Fatal(err)
	}
	ts, _, conn := serve26(t, &HTTP2026ServerOptions{
		ParamHeaders: func(string) ([]ParamHeader, bool) { return specs, true },
	})
	startPeer(conn)
	c := dial26(t, ts.URL)
	args := json.RawMessage(`{"region":"Zürich"}`)
	vals, err := ParamHeaderValues(specs, args)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		h    http.Header
		code int // 0: a result
	}{
		{name: "derived", h: http.Header{"Mcp-Param-Region": {vals["Mcp-Param-Region"]}}},
		{name: "missing", h: nil, code: CodeHeaderMismatch},
		{name: "wrong", h: http.Header{"Mcp-Param-Region": {"Zurich"}}, code: CodeHeaderMismatch},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req := req26Body(fmt.Sprint(i), "tools/call", `"name":"where","arguments":`+string(args)+`,`)
			if err := c.Send(WithHeaders(ctx, tt.h), Message{Raw: []byte(req)}); err != nil {
				t.Fatal(err)
			}
			m := parse(t, recv(t, c).Raw)
			if tt.code == 0 {
				if m.Kind != jsonrpc.KindResult {
					t.Fatalf("got %s, want a result", m.Raw)
				}
				return
			}
			if code, _ := errorOf(t, m.Raw); code != tt.code {
				t.Fatalf("got %s, want error %d", m.Raw, tt.code)
			}
		})
	}
}

func TestHTTP2026ClientCancels(t *testing.T) {
	tests := []struct {
		name   string
		cancel func(t *testing.T, c Conn, id string)
	}{
		{name: "notifications/cancelled", cancel: func(t *testing.T, c Conn, id string) {
			send(t, c, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":`+id+`,"reason":"user"}}`)
		}},
		{name: "CancelRequest", cancel: func(t *testing.T, c Conn, id string) {
			if !c.(RequestCanceller).CancelRequest(json.RawMessage(id)) {
				t.Fatal("CancelRequest: not pending")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _, conn := serve26(t, nil)
			got := relay26(t, conn)
			c := dial26(t, ts.URL)
			send(t, c, req26Body(`7`, "tools/call", `"name":"slow",`))
			m := next(t, got)
			serverID := m.ID
			if h, ok := conn.(RequestHeaders).RequestHeader(serverID); !ok || h.Get("Mcp-Name") != "slow" {
				t.Fatalf("RequestHeader = %v, %v", h, ok)
			}
			// A notification first, so that the answer is an open SSE stream.
			sendTo(t, conn, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}`, serverID)
			if n := recv(t, c); !strings.Contains(string(n.Raw), "notifications/progress") {
				t.Fatalf("got %s", n.Raw)
			}
			tt.cancel(t, c, `7`)
			cn := next(t, got)
			var p struct {
				RequestID json.RawMessage `json:"requestId"`
			}
			json.Unmarshal(cn.Params, &p)
			if cn.Method != "notifications/cancelled" || jsonrpc.IDKey(p.RequestID) != jsonrpc.IDKey(serverID) {
				t.Fatalf("the relay got %s, want notifications/cancelled for %s", cn.Raw, serverID)
			}
			err := conn.Send(context.Background(), Message{Raw: fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%s,"result":{}}`, serverID)})
			if !errors.Is(err, ErrNoRequest) {
				t.Fatalf("answering a cancelled request: %v, want ErrNoRequest", err)
			}
			// Nothing more for 7 reaches the client: the next frame answers 8.
			send(t, c, req26Body(`8`, "tools/list", ``))
			m = next(t, got)
			sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"n":8}}`, m.ID), m.ID)
			if r := recv(t, c); string(r.Raw) != `{"jsonrpc":"2.0","id":8,"result":{"n":8}}` {
				t.Fatalf("got %s, want the answer to 8", r.Raw)
			}
		})
	}
}

func TestHTTP2026Listen(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, conn Conn, id json.RawMessage)
		last string // what the client gets last
	}{
		{name: "final result", last: `{"jsonrpc":"2.0","id":"L","result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":"L"}}}`,
			end: func(t *testing.T, conn Conn, id json.RawMessage) {
				sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":%s}}}`, id, id), id)
			}},
		{name: "teardown", last: `-32603`,
			end: func(t *testing.T, conn Conn, id json.RawMessage) {
				sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%s}}`, id), nil)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _, conn := serve26(t, &HTTP2026ServerOptions{KeepAlive: time.Millisecond})
			got := relay26(t, conn)
			c := dial26(t, ts.URL)
			send(t, c, req26Body(`"L"`, "subscriptions/listen", `"notifications":{"toolsListChanged":true},`))
			id := next(t, got).ID
			sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/subscriptionId":%s}}}`, id), id)
			sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":%s}}}`, id), id)
			for _, method := range []string{"notifications/subscriptions/acknowledged", "notifications/tools/list_changed"} {
				m := recv(t, c)
				if string(m.Related) != `"L"` || !strings.Contains(string(m.Raw), method) ||
					!strings.Contains(string(m.Raw), `"_meta":{"io.modelcontextprotocol/subscriptionId":"L"}`) {
					t.Fatalf("got %s (Related %s), want %s for subscription \"L\"", m.Raw, m.Related, method)
				}
			}
			tt.end(t, conn, id)
			if m := recv(t, c); !strings.Contains(string(m.Raw), tt.last) || string(m.Related) != `"L"` {
				t.Fatalf("got %s, want %s", m.Raw, tt.last)
			}
		})
	}
}

func TestHTTP2026KeepAlive(t *testing.T) {
	ts, _, conn := serve26(t, &HTTP2026ServerOptions{KeepAlive: 5 * time.Millisecond})
	got := relay26(t, conn)
	resp := make(chan *http.Response, 1)
	go func() {
		resp <- post26(t, ts.URL, "tools/call", req26Body(`1`, "tools/call", `"name":"slow",`), "Mcp-Name: slow")
	}()
	m := next(t, got)
	r := <-resp
	if mediaType(r.Header.Get("Content-Type")) != "text/event-stream" || r.Header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("a slow answer is not SSE: %v", r.Header)
	}
	br := bufio.NewReader(r.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != ":\n" {
		t.Fatalf("first line %q, %v; want a keep-alive comment", line, err)
	}
	sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"done":true}}`, m.ID), m.ID)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), `data: {"jsonrpc":"2.0","id":1,"result":{"done":true}}`) {
		t.Fatalf("stream %q lacks the response", rest)
	}
}

func TestHTTP2026ServerClose(t *testing.T) {
	ts, srv, conn := serve26(t, nil)
	got := relay26(t, conn)
	c := dial26(t, ts.URL)
	send(t, c, req26Body(`1`, "tools/list", ``))
	next(t, got)
	srv.Close()
	if code, id := errorOf(t, recv(t, c).Raw); code != jsonrpc.CodeInternalError || id != "1" {
		t.Fatalf("pending request: error %d id %s, want -32603 for 1", code, id)
	}
	if _, ok := <-got; ok {
		t.Fatal("the relay's Conn still yields frames")
	}
	if err := recvErr(t, conn); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after Close: %v, want io.EOF", err)
	}
	if _, err := srv.Accept(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	resp := post26(t, ts.URL, "tools/list", req26Body(`2`, "tools/list", ``))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST after Close: %d", resp.StatusCode)
	}
	if err := conn.Send(context.Background(), Message{Raw: []byte(`{"jsonrpc":"2.0","id":"h26-1","result":{}}`)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestHTTP2026ServerSendRefuses(t *testing.T) {
	ts, _, conn := serve26(t, nil)
	got := relay26(t, conn)
	respc := make(chan *http.Response, 1)
	go func() { respc <- post26(t, ts.URL, "tools/list", req26Body(`1`, "tools/list", ``)) }()
	m := next(t, got)
	tests := []struct {
		name    string
		raw     string
		related json.RawMessage
		want    error
	}{
		{name: "unrelated notification", raw: `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`, want: ErrNoRequest},
		{name: "response to nobody", raw: `{"jsonrpc":"2.0","id":"h26-999","result":{}}`, want: ErrNoRequest},
		{name: "server request", raw: `{"jsonrpc":"2.0","id":5,"method":"roots/list"}`, related: m.ID},
		{name: "batch", raw: `[{"jsonrpc":"2.0","method":"x"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := conn.Send(context.Background(), Message{Raw: []byte(tt.raw), Related: tt.related})
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	sendTo(t, conn, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, m.ID), m.ID)
	resp := <-respc
	if body := readAll(t, resp.Body); !strings.Contains(string(body), `"id":1,"result":{}`) {
		t.Fatalf("body %s", body)
	}
}

func TestHTTP2026Push(t *testing.T) {
	ts, _, conn := serve26(t, nil)
	startPeer(conn)
	c := dial26(t, ts.URL)
	frames := make(chan Message, 4)
	if !c.(Pusher).Push(func(m Message, err error) {
		if err == nil {
			frames <- m
		}
	}) {
		t.Fatal("Push refused")
	}
	send(t, c, req26Body(`1`, "test/progress", ``))
	for _, want := range []string{"notifications/progress", `"id":1,"result"`} {
		select {
		case m := <-frames:
			if !strings.Contains(string(m.Raw), want) || string(m.Related) != "1" {
				t.Fatalf("pushed %s (Related %s), want %s", m.Raw, m.Related, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("nothing pushed")
		}
	}
}

func TestReplaceID(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"m"}`, `{"jsonrpc":"2.0","id":"h26-1","method":"m"}`},
		{`{"params":{"id":2}, "id" : "a\"b" ,"jsonrpc":"2.0","method":"m"}`, `{"params":{"id":2}, "id" : "h26-1" ,"jsonrpc":"2.0","method":"m"}`},
	}
	for _, tt := range tests {
		b := []byte(tt.in)
		m := parse(t, b)
		if got := replaceID(b, m, json.RawMessage(`"h26-1"`)); string(got) != tt.want {
			t.Errorf("replaceID(%s) = %s, want %s", tt.in, got, tt.want)
		}
		// An id that does not alias the body is looked up.
		m.ID = json.RawMessage(string(m.ID))
		if got := replaceID(b, m, json.RawMessage(`"h26-1"`)); string(got) != tt.want {
			t.Errorf("replaceID(%s) with a copied id = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzRestoreIDs checks that putting the client's id back into what the
// relay sends never breaks the message: the output parses, a response
// carries the client's id, and a subscriptionId that held the server id
// holds the client's.
func FuzzRestoreIDs(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":"h26-1","result":{"_meta":{"io.modelcontextprotocol/subscriptionId":"h26-1"}}}`), true)
	f.Add([]byte(`{"jsonrpc":"2.0","method":"n","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"h26-1"}}}`), false)
	f.Add([]byte(`{"result":{"_meta":{"io.modelcontextprotocol/subscriptionId" : "h\u0032" ,"x":1}},"id" :"h26-1", "jsonrpc":"2.0"}`), true)
	f.Add([]byte(`{"jsonrpc":"2.0","id":"h26-1","error":{"code":1,"message":"h26-1"}}`), true)
	f.Fuzz(func(t *testing.T, raw []byte, response bool) {
		q := &req26{key: `"h26-1"`, id: json.RawMessage(`"h26-1"`), orig: json.RawMessage(`"o"`)}
		in, err := jsonrpc.Parse(raw)
		if err != nil || in.IsResponse() != response {
			return
		}
		out := restoreIDs(append([]byte(nil), raw...), response, q)
		m, err := jsonrpc.Parse(out)
		if err != nil {
			t.Fatalf("restoreIDs(%s) = %s, which does not parse: %v", raw, out, err)
		}
		if m.Kind != in.Kind || m.Method != in.Method {
			t.Fatalf("restoreIDs(%s) = %s changed the message", raw, out)
		}
		if response && len(in.ID) > 0 && string(m.ID) != `"o"` {
			t.Fatalf("restoreIDs(%s) = %s: id %s", raw, out, m.ID)
		}
	})
}
