package conformance

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// HTTP header names of the Streamable HTTP transport.
const (
	hdrSession  = "Mcp-Session-Id"
	hdrVersion  = "Mcp-Protocol-Version"
	hdrMethod   = "Mcp-Method"
	hdrName     = "Mcp-Name"
	unknownSess = "conformance-unknown-session"
)

// streamable returns the revisions with the Streamable HTTP transport and
// sessions.
func streamable() []schemas.Revision { return between(schemas.V20250326, schemas.V20251125) }

// body encodes a JSON-RPC message.
func body(t *T, id any, method string, params map[string]any) []byte {
	m := map[string]any{"jsonrpc": "2.0", "method": method}
	if id != nil {
		m["id"] = id
	}
	if params != nil {
		m["params"] = params
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal("encode %s: %v", method, err)
	}
	return b
}

// httpSession initializes a Streamable HTTP session with raw requests and
// returns its headers (session id, protocol version); it ends the session
// when the scenario's context ends... by DELETE in the returned cleanup.
func httpSession(ctx context.Context, t *T) (map[string]string, func()) {
	resp, b := t.Post(ctx, body(t, 1, "initialize", t.InitializeParams(t.Rev.String())), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatal("POST initialize: HTTP %d: %s", resp.StatusCode, clip(b))
	}
	t.checkHTTPMessage(b, "initialize")
	h := map[string]string{}
	if sid := resp.Header.Get(hdrSession); sid != "" {
		for _, c := range []byte(sid) {
			if c < 0x21 || c > 0x7e {
				t.Fail("Mcp-Session-Id %q has a character outside visible ASCII", sid)
				break
			}
		}
		h[hdrSession] = sid
	}
	if t.Rev.HasProtocolVersionHeader() {
		h[hdrVersion] = t.Rev.String()
	}
	t.Post(ctx, body(t, nil, "notifications/initialized", nil), h)
	return h, func() {
		if h[hdrSession] != "" {
			t.do(context.WithoutCancel(ctx), http.MethodDelete, nil, h)
		}
	}
}

// head makes a request without a body and returns the response with its
// body closed unread (a GET may open a stream that never ends).
func (t *T) head(ctx context.Context, method string, header map[string]string) *http.Response {
	url, client := t.HTTP()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal("HTTP request: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal("HTTP %s: %v", method, err)
	}
	resp.Body.Close()
	return resp
}

// checkHTTPMessage validates a JSON-RPC message from an HTTP body.
func (t *T) checkHTTPMessage(b []byte, method string) *jsonrpc.Message {
	m, err := jsonrpc.Parse(b)
	if err != nil {
		t.Fail("HTTP body is not a JSON-RPC message: %v: %s", err, clip(b))
		return nil
	}
	if m.IsResponse() {
		t.validate(m, method)
	}
	return m
}

// with returns h plus the extra headers.
func with(h map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// errorCode returns the JSON-RPC error code of a body (0 if none).
func errorCode(b []byte) int {
	var m struct {
		Error *RPCError `json:"error"`
	}
	if json.Unmarshal(b, &m) != nil || m.Error == nil {
		return 0
	}
	return m.Error.Code
}

// contentTypeProbeID is the id of the request whose answer
// http/response-content-type checks.
const contentTypeProbeID = "conformance-content-type"

// probe returns a request that every server of the revision answers
// (ping in a session, server/discover with its mirrored headers in
// 2026-07-28), its method and the headers to POST it with; done ends the
// session.
func probe(ctx context.Context, t *T, id any) (method string, b []byte, h map[string]string, done func()) {
	if t.Rev.Stateless() {
		return "server/discover", body(t, id, "server/discover", map[string]any{"_meta": t.Meta()}),
			map[string]string{hdrVersion: t.Rev.String(), hdrMethod: "server/discover"}, func() {}
	}
	h, done = httpSession(ctx, t)
	return "ping", body(t, id, "ping", nil), h, done
}

// mediaType returns the media type of a Content-Type value, lower case
// and without parameters.
func mediaType(v string) string {
	mt, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// refusedPost is a scenario that POSTs a request with header set to
// value and expects a 4xx (want names the usual status).
func refusedPost(header, value, want string) func(context.Context, *T) {
	return func(ctx context.Context, t *T) {
		_, b, h, done := probe(ctx, t, 2)
		defer done()
		resp, rb := t.Post(ctx, b, with(h, header, value))
		if resp.StatusCode/100 != 4 {
			t.Fail("POST with %s: %s: HTTP %d, want %s: %s", header, value, resp.StatusCode, want, clip(rb))
		}
	}
}

func httpScenarios() []Scenario {
	return []Scenario{
		{
			ID: "http/accept-required", Title: "a POST whose Accept admits neither application/json nor text/event-stream is refused (406)",
			Spec: "basic/transports", Severity: Should, Revisions: from(schemas.V20250326), Transport: HTTPTransport,
			// The spec's MUST is on the client (its Accept lists both
			// types); refusing a client that breaks it is what servers do
			// (406), not what the spec demands: SHOULD.
			Run: refusedPost("Accept", "text/html", "406 (a 4xx)"),
		},
		{
			ID: "http/content-type-required", Title: "a POST whose Content-Type is not application/json is refused (415 or 400)",
			Spec: "basic/transports", Severity: Should, Revisions: from(schemas.V20250326), Transport: HTTPTransport,
			// The body of a POST is a JSON-RPC message; the spec names no
			// status for another Content-Type: SHOULD.
			Run: refusedPost("Content-Type", "text/plain", "415 or 400"),
		},
		{
			ID: "http/response-content-type", Title: "the answer to a POSTed request is application/json or text/event-stream",
			Spec: "basic/transports", Severity: Must, Revisions: from(schemas.V20250326), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				method, b, h, done := probe(ctx, t, contentTypeProbeID)
				defer done()
				resp, rb := t.Post(ctx, b, h)
				if resp.StatusCode != http.StatusOK {
					t.Fatal("POST of a request: HTTP %d: %s", resp.StatusCode, clip(rb))
				}
				switch ct := resp.Header.Get("Content-Type"); mediaType(ct) {
				case "application/json", "text/event-stream":
					t.checkHTTPMessage(rb, method)
				default:
					t.Fail("POST of a request: answered with Content-Type %q, want application/json or text/event-stream", ct)
				}
			},
		},
		{
			ID: "http/session-required", Title: "a request without Mcp-Session-Id on a server that issues sessions gets 400",
			Spec: "basic/transports", Severity: Must, Revisions: streamable(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				h, done := httpSession(ctx, t)
				defer done()
				if h[hdrSession] == "" {
					t.Skip("the server issued no Mcp-Session-Id")
				}
				resp, b := t.Post(ctx, body(t, 2, "ping", nil), with(h, hdrSession, ""))
				if resp.StatusCode != http.StatusBadRequest {
					t.Fail("POST without Mcp-Session-Id: HTTP %d, want 400: %s", resp.StatusCode, clip(b))
				}
			},
		},
		{
			ID: "http/unknown-session", Title: "a request with an unknown Mcp-Session-Id gets 404",
			Spec: "basic/transports", Severity: Must, Revisions: streamable(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				h, done := httpSession(ctx, t)
				defer done()
				if h[hdrSession] == "" {
					t.Skip("the server issued no Mcp-Session-Id")
				}
				resp, b := t.Post(ctx, body(t, 2, "ping", nil), with(h, hdrSession, unknownSess))
				if resp.StatusCode != http.StatusNotFound {
					t.Fail("POST with an unknown Mcp-Session-Id: HTTP %d, want 404: %s", resp.StatusCode, clip(b))
				}
			},
		},
		{
			ID: "http/notification-accepted", Title: "a POSTed notification gets 202 Accepted",
			Spec: "basic/transports", Severity: Must, Revisions: streamable(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				h, done := httpSession(ctx, t)
				defer done()
				resp, b := t.Post(ctx, body(t, nil, "notifications/cancelled", map[string]any{"requestId": 987654}), h)
				if resp.StatusCode != http.StatusAccepted {
					t.Fail("POST of a notification: HTTP %d, want 202: %s", resp.StatusCode, clip(b))
				}
			},
		},
		{
			ID: "http/delete-session", Title: "DELETE ends the session (or is refused with 405); the session id is then unknown",
			Spec: "basic/transports", Severity: Must, Revisions: streamable(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				h, done := httpSession(ctx, t)
				if h[hdrSession] == "" {
					done()
					t.Skip("the server issued no Mcp-Session-Id")
				}
				resp, b := t.do(ctx, http.MethodDelete, nil, h)
				if resp.StatusCode == http.StatusMethodNotAllowed {
					done()
					t.Skip("the server does not let clients end sessions (405)")
				}
				if resp.StatusCode/100 != 2 {
					t.Fatal("DELETE: HTTP %d: %s", resp.StatusCode, clip(b))
				}
				resp, b = t.Post(ctx, body(t, 2, "ping", nil), h)
				if resp.StatusCode != http.StatusNotFound {
					t.Fail("POST after DELETE of the session: HTTP %d, want 404: %s", resp.StatusCode, clip(b))
				}
			},
		},
		{
			ID: "http/protocol-version-header", Title: "an invalid MCP-Protocol-Version header gets 400",
			Spec: "basic/transports", Severity: Must, Revisions: between(schemas.V20250618, schemas.V20251125), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				h, done := httpSession(ctx, t)
				defer done()
				resp, b := t.Post(ctx, body(t, 2, "ping", nil), with(h, hdrVersion, unsupportedVersionRequest))
				if resp.StatusCode != http.StatusBadRequest {
					t.Fail("POST with MCP-Protocol-Version %s: HTTP %d, want 400: %s", unsupportedVersionRequest, resp.StatusCode, clip(b))
				}
			},
		},
		{
			ID: "http/origin", Title: "a request with a foreign Origin header is refused with 403",
			Spec: "basic/transports", Severity: Must, Revisions: from(schemas.V20250326), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				// 2026-07-28 keeps the rule (Streamable HTTP, "Security &
				// Endpoint"); its request is server/discover.
				h := map[string]string{"Origin": "http://conformance.invalid"}
				b := body(t, 1, "initialize", t.InitializeParams(t.Rev.String()))
				if t.Rev.Stateless() {
					b = body(t, 1, "server/discover", map[string]any{"_meta": t.Meta()})
					h = with(h, hdrVersion, t.Rev.String(), hdrMethod, "server/discover")
				}
				resp, rb := t.Post(ctx, b, h)
				if resp.StatusCode != http.StatusForbidden {
					t.Fail("POST with Origin http://conformance.invalid: HTTP %d, want 403: %s", resp.StatusCode, clip(rb))
				}
				if sid := resp.Header.Get(hdrSession); sid != "" {
					t.do(context.WithoutCancel(ctx), http.MethodDelete, nil, map[string]string{hdrSession: sid, hdrVersion: t.Rev.String()})
				}
			},
		},
		{
			ID: "http/get-stream", Title: "GET on the endpoint opens an SSE stream or is refused with 405",
			Spec: "basic/transports", Severity: Must, Revisions: streamable(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				h, done := httpSession(ctx, t)
				defer done()
				resp := t.head(ctx, http.MethodGet, with(h, "Accept", "text/event-stream"))
				ct := resp.Header.Get("Content-Type")
				if resp.StatusCode != http.StatusMethodNotAllowed && (resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream")) {
					t.Fail("GET: HTTP %d with Content-Type %q, want text/event-stream or 405", resp.StatusCode, ct)
				}
			},
		},
		{
			ID: "http/no-get-delete", Title: "GET and DELETE, which 2026-07-28 removed, are answered 405",
			Spec: "basic/transports", Severity: Must, Revisions: stateless(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				for _, m := range []string{http.MethodGet, http.MethodDelete} {
					resp := t.head(ctx, m, map[string]string{"Accept": "text/event-stream", hdrVersion: t.Rev.String()})
					if resp.StatusCode != http.StatusMethodNotAllowed {
						t.Fail("%s: HTTP %d, want 405", m, resp.StatusCode)
					}
				}
			},
		},
		{
			ID: "http/method-header", Title: "a POST without the Mcp-Method header gets 400 and -32020",
			Spec: "basic/transports", Severity: Must, Revisions: stateless(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				resp, b := t.Post(ctx, body(t, 1, "server/discover", map[string]any{"_meta": t.Meta()}), map[string]string{hdrVersion: t.Rev.String()})
				if resp.StatusCode != http.StatusBadRequest || errorCode(b) != codeHeaderMismatch {
					t.Fail("POST without Mcp-Method: HTTP %d, error %d; want 400 and %d: %s", resp.StatusCode, errorCode(b), codeHeaderMismatch, clip(b))
				}
			},
		},
		{
			ID: "http/version-header-mismatch", Title: "an MCP-Protocol-Version header that differs from _meta gets 400 and -32020",
			Spec: "basic/transports", Severity: Must, Revisions: stateless(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				resp, b := t.Post(ctx, body(t, 1, "server/discover", map[string]any{"_meta": t.Meta()}),
					map[string]string{hdrVersion: schemas.V20251125.String(), hdrMethod: "server/discover"})
				if resp.StatusCode != http.StatusBadRequest || errorCode(b) != codeHeaderMismatch {
					t.Fail("POST with MCP-Protocol-Version %s and _meta %s: HTTP %d, error %d; want 400 and %d: %s",
						schemas.V20251125, t.Rev, resp.StatusCode, errorCode(b), codeHeaderMismatch, clip(b))
				}
			},
		},
		{
			ID: "http/name-header-mismatch", Title: "an Mcp-Name header that differs from params.name gets 400 and -32020",
			Spec: "basic/transports", Severity: Must, Revisions: stateless(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				resp, b := t.Post(ctx, body(t, 1, "tools/call", map[string]any{"_meta": t.Meta(), "name": "conformance_tool", "arguments": map[string]any{}}),
					map[string]string{hdrVersion: t.Rev.String(), hdrMethod: "tools/call", hdrName: "conformance_other_tool"})
				if resp.StatusCode != http.StatusBadRequest || errorCode(b) != codeHeaderMismatch {
					t.Fail("POST tools/call of conformance_tool with Mcp-Name conformance_other_tool: HTTP %d, error %d; want 400 and %d: %s",
						resp.StatusCode, errorCode(b), codeHeaderMismatch, clip(b))
				}
			},
		},
		{
			ID: "http/unknown-method-404", Title: "an unknown method gets 404 and -32601",
			Spec: "basic/transports", Severity: Must, Revisions: stateless(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				resp, b := t.Post(ctx, body(t, 1, "conformance/no-such-method", map[string]any{"_meta": t.Meta()}),
					map[string]string{hdrVersion: t.Rev.String(), hdrMethod: "conformance/no-such-method"})
				if resp.StatusCode != http.StatusNotFound || errorCode(b) != jsonrpc.CodeMethodNotFound {
					t.Fail("POST of an unknown method: HTTP %d, error %d; want 404 and -32601: %s", resp.StatusCode, errorCode(b), clip(b))
				}
			},
		},
		{
			ID: "http/notification-accepted-2026", Title: "a POSTed notification gets 202 Accepted",
			Spec: "basic/transports", Severity: Must, Revisions: stateless(), Transport: HTTPTransport,
			Run: func(ctx context.Context, t *T) {
				resp, b := t.Post(ctx, body(t, nil, "notifications/cancelled", map[string]any{"requestId": 987654}),
					map[string]string{hdrVersion: t.Rev.String(), hdrMethod: "notifications/cancelled"})
				if resp.StatusCode != http.StatusAccepted {
					t.Fail("POST of a notification: HTTP %d, want 202: %s", resp.StatusCode, clip(b))
				}
			},
		},
	}
}
