package conformance_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/conformance"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// fault is one deliberate defect of the fixture server and the scenarios
// that must catch it (and no other).
type fault struct {
	name string
	// targets are the scenarios that must fail; handshake stands for
	// every scenario that initializes its session.
	targets []string
	// revs restricts the revisions (default: those of the targets).
	revs []schemas.Revision
	msg  *msgFault
	http func() *httpFault // a fresh one per fault run (some keep state)
}

const handshake = "*handshake*"

// lastEventMark carries a GET's Last-Event-ID from a fault's request hook
// to its response hook.
const lastEventMark = "X-Conformance-Last-Event-Id"

func result(m map[string]any) map[string]any { r, _ := m["result"].(map[string]any); return r }
func params(m map[string]any) map[string]any { p, _ := m["params"].(map[string]any); return p }

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	if e == nil {
		return ""
	}
	return toString(e["code"])
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := jsonMarshal(v)
	return string(b)
}

func setError(m map[string]any, code int) {
	delete(m, "result")
	m["error"] = map[string]any{"code": code, "message": "seeded fault"}
}

func setCode(m map[string]any, code int) {
	if e, ok := m["error"].(map[string]any); ok {
		e["code"] = code
	}
}

func setResult(m map[string]any, r map[string]any) {
	delete(m, "error")
	m["result"] = r
}

func isCall(req *call, method string) bool { return req != nil && req.Method == method }

func toolName(req *call) string {
	if req == nil || req.Method != "tools/call" {
		return ""
	}
	n, _ := req.Params["name"].(string)
	return n
}

func textResult(rev string) map[string]any {
	r := map[string]any{"content": []any{map[string]any{"type": "text", "text": "seeded fault"}}}
	if rev == "2026-07-28" {
		r["resultType"] = "complete"
	}
	return r
}

// out builds a message fault from an output rewrite.
func out(f func(req *call, m map[string]any)) *msgFault { return &msgFault{out: f} }

// serverRequests rewrites the server's requests of one method: JSON-RPC
// requests, and the input requests embedded in an InputRequiredResult
// (2026-07-28).
func serverRequests(method string, f func(req map[string]any)) *msgFault {
	return out(func(_ *call, m map[string]any) {
		if m["method"] == method {
			f(m)
		}
		if irs, ok := result(m)["inputRequests"].(map[string]any); ok {
			for _, ir := range irs {
				if r, ok := ir.(map[string]any); ok && r["method"] == method {
					f(r)
				}
			}
		}
	})
}

func faults() []fault {
	v0618 := schemas.V20250618
	return []fault{
		{name: "initialize answers another revision", targets: []string{handshake}, revs: []schemas.Revision{v0618},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "initialize") && req.Params["protocolVersion"] == v0618.String() {
					result(m)["protocolVersion"] = schemas.V20250326.String()
				}
			})},
		{name: "initialize answers an empty server name", targets: []string{"lifecycle/initialize"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "initialize") && result(m) != nil {
					result(m)["serverInfo"].(map[string]any)["name"] = ""
				}
			})},
		{name: "unsupported version echoed", targets: []string{"lifecycle/unsupported-version"}, revs: []schemas.Revision{schemas.V20241105, schemas.V20251125},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "initialize") && result(m) != nil {
					if _, err := schemas.ParseRevision(toString(req.Params["protocolVersion"])); err != nil {
						result(m)["protocolVersion"] = req.Params["protocolVersion"]
					}
				}
			})},
		{name: "unsupported version gets -32602", targets: []string{"lifecycle/unsupported-version"}, revs: []schemas.Revision{schemas.V20260728},
			msg: out(func(_ *call, m map[string]any) {
				if errCode(m) == "-32022" {
					setCode(m, -32602)
				}
			})},
		{name: "ping answers an error", targets: []string{"lifecycle/ping", "cancellation/unknown-request"}, revs: legacyRevs(),
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "ping") {
					setError(m, -32603)
				}
			})},
		{name: "requests before initialize are served", targets: []string{"lifecycle/request-before-initialize"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "tools/list") && !req.Initialized {
					setResult(m, map[string]any{"tools": []any{}})
				}
			})},
		{name: "server/discover omits its own revision", targets: []string{"lifecycle/server-discover"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "server/discover") && result(m) != nil {
					result(m)["supportedVersions"] = []any{"2025-11-25"}
				}
			})},
		{name: "missing _meta gets -32603", targets: []string{"lifecycle/meta-required"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "server/discover") && errCode(m) == "-32602" {
					setCode(m, -32603)
				}
			})},
		{name: "results without serverInfo", targets: []string{"lifecycle/server-info-meta"}, revs: []schemas.Revision{schemas.V20260728},
			msg: out(func(_ *call, m map[string]any) {
				if meta, ok := result(m)["_meta"].(map[string]any); ok {
					delete(meta, "io.modelcontextprotocol/serverInfo")
				}
			})},
		{name: "prompts served but not declared", targets: []string{"lifecycle/capabilities-honoured"},
			msg: out(func(req *call, m map[string]any) {
				if (isCall(req, "initialize") || isCall(req, "server/discover")) && result(m) != nil {
					delete(result(m)["capabilities"].(map[string]any), "prompts")
				}
			})},
		{name: "unknown method gets -32603", targets: []string{"jsonrpc/unknown-method"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "conformance/no-such-method") {
					setCode(m, -32603)
				}
			})},
		{name: "invalid params get -32603", targets: []string{"jsonrpc/invalid-params"},
			msg: out(func(req *call, m map[string]any) {
				_, nameOK := req.paramString("name")
				_, hasCursor := req.paramField("cursor")
				_, cursorOK := req.paramString("cursor")
				if (isCall(req, "tools/call") && !nameOK) || (isCall(req, "tools/list") && hasCursor && !cursorOK) {
					setCode(m, -32603)
				}
			})},
		{name: "batch answered in part", targets: []string{"jsonrpc/batch"},
			msg: &msgFault{batch: func(items []json.RawMessage) []json.RawMessage { return items[:1] }}},
		{name: "parse error gets -32600", targets: []string{"jsonrpc/parse-error"},
			msg: out(func(_ *call, m map[string]any) {
				if errCode(m) == "-32700" {
					setCode(m, -32600)
				}
			})},
		{name: "invalid request gets -32601", targets: []string{"jsonrpc/invalid-request"},
			msg: out(func(_ *call, m map[string]any) {
				if errCode(m) == "-32600" {
					setCode(m, -32601)
				}
			})},
		{name: "tools/list lists a tool twice", targets: []string{"tools/list"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "tools/list") && result(m) != nil {
					tools := result(m)["tools"].([]any)
					result(m)["tools"] = append(tools, tools[0])
				}
			})},
		{name: "tools/list cursor loops", targets: []string{"tools/pagination"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "tools/list") && result(m) != nil {
					result(m)["nextCursor"] = "again"
				}
			})},
		{name: "tools/call result without content", targets: []string{"tools/call", "logging/levels"}, // both call echo
			msg: out(func(req *call, m map[string]any) {
				if toolName(req) == "echo" && result(m) != nil && result(m)["isError"] != true {
					delete(result(m), "content")
				}
			})},
		{name: "unknown tool succeeds", targets: []string{"tools/unknown-tool"},
			msg: out(func(req *call, m map[string]any) {
				if toolName(req) == "conformance_no_such_tool" {
					setResult(m, textResult(req.rev()))
				}
			})},
		{name: "missing tool arguments accepted", targets: []string{"tools/invalid-arguments"},
			msg: out(func(req *call, m map[string]any) {
				if toolName(req) == "echo" {
					if args, _ := req.Params["arguments"].(map[string]any); args["text"] == nil {
						setResult(m, textResult(req.rev()))
					}
				}
			})},
		{name: "structuredContent breaks outputSchema", targets: []string{"tools/structured-content"},
			msg: out(func(req *call, m map[string]any) {
				if toolName(req) == "add" && result(m) != nil {
					result(m)["structuredContent"] = map[string]any{"sum": "two"}
				}
			})},
		{name: "resources/list cursor loops", targets: []string{"resources/list"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "resources/list") && result(m) != nil {
					result(m)["nextCursor"] = "again"
				}
			})},
		{name: "template without uriTemplate", targets: []string{"resources/templates-list"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "resources/templates/list") && result(m) != nil {
					delete(result(m)["resourceTemplates"].([]any)[0].(map[string]any), "uriTemplate")
				}
			})},
		{name: "resources/read answers no contents", targets: []string{"resources/read"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "resources/read") && result(m) != nil {
					result(m)["contents"] = []any{}
				}
			})},
		{name: "unknown resource gets -32603", targets: []string{"resources/not-found"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "resources/read") && errCode(m) != "" {
					setCode(m, -32603)
				}
			})},
		{name: "resources/subscribe fails", targets: []string{"resources/subscribe"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "resources/subscribe") {
					setError(m, -32603)
				}
			})},
		{name: "listen acknowledges a URI not asked for", targets: []string{"resources/listen"},
			msg: out(func(_ *call, m map[string]any) {
				if m["method"] == "notifications/subscriptions/acknowledged" {
					n, _ := params(m)["notifications"].(map[string]any)
					uris, _ := n["resourceSubscriptions"].([]any)
					n["resourceSubscriptions"] = append(uris, "demo://not-requested")
				}
			})},
		{name: "prompts/list lists a prompt twice", targets: []string{"prompts/list"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "prompts/list") && result(m) != nil {
					ps := result(m)["prompts"].([]any)
					result(m)["prompts"] = append(ps, ps[0])
				}
			})},
		{name: "prompt message with role system", targets: []string{"prompts/get"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "prompts/get") && result(m) != nil {
					result(m)["messages"].([]any)[0].(map[string]any)["role"] = "system"
				}
			})},
		{name: "missing prompt argument gets -32603", targets: []string{"prompts/missing-arguments"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "prompts/get") && errCode(m) == "-32602" {
					setCode(m, -32603)
				}
			})},
		{name: "completion values not an array", targets: []string{"completion/complete"},
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "completion/complete") && result(m) != nil {
					result(m)["completion"].(map[string]any)["values"] = "x"
				}
			})},
		{name: "logging/setLevel fails", targets: []string{"logging/set-level", "logging/levels"}, revs: legacyRevs(),
			msg: out(func(req *call, m map[string]any) {
				if isCall(req, "logging/setLevel") {
					setError(m, -32603)
				}
			})},
		{name: "log level error ignored", targets: []string{"logging/levels"},
			msg: &msgFault{rewrite: func(m map[string]any) {
				// The server logs as if the client had asked for debug.
				if m["method"] == "logging/setLevel" && params(m)["level"] == "error" {
					params(m)["level"] = "debug"
				}
				if meta, ok := params(m)["_meta"].(map[string]any); ok && m["method"] == "tools/call" && meta["io.modelcontextprotocol/logLevel"] == "error" {
					meta["io.modelcontextprotocol/logLevel"] = "debug"
				}
			}}},
		{name: "notifications/cancelled crashes the server", targets: []string{"cancellation/unknown-request"},
			msg: &msgFault{in: func(m map[string]any) bool { return m["method"] == "notifications/cancelled" }}},
		{name: "progress with a foreign token", targets: []string{"progress/notifications"},
			msg: out(func(_ *call, m map[string]any) {
				if m["method"] == "notifications/progress" {
					params(m)["progressToken"] = "foreign-token"
				}
			})},
		{name: "sampling request without maxTokens", targets: []string{"client/sampling"},
			msg: serverRequests("sampling/createMessage", func(r map[string]any) {
				delete(params(r), "maxTokens")
			})},
		{name: "elicitation request without message", targets: []string{"client/elicitation"},
			msg: serverRequests("elicitation/create", func(r map[string]any) {
				delete(params(r), "message")
			})},
		{name: "roots/list with a malformed _meta", targets: []string{"client/roots"},
			msg: serverRequests("roots/list", func(r map[string]any) {
				r["params"] = map[string]any{"_meta": 5}
			})},
		{name: "missing client capability gets -32603", targets: []string{"lifecycle/missing-client-capability"},
			msg: out(func(_ *call, m map[string]any) {
				if errCode(m) == "-32021" {
					setCode(m, -32603)
				}
			})},

		// HTTP faults, applied by a proxy in front of the demo server.
		{name: "requests without a session id are served", targets: []string{"http/session-required"},
			http: func() *httpFault {
				var mu sync.Mutex
				var last string
				return &httpFault{
					req: func(r *http.Request, method string, _ http.ResponseWriter) bool {
						mu.Lock()
						defer mu.Unlock()
						if r.Method == http.MethodPost && method != "initialize" && r.Header.Get("Mcp-Session-Id") == "" && last != "" {
							r.Header.Set("Mcp-Session-Id", last)
						}
						return false
					},
					resp: func(r *http.Response, _ string) {
						if sid := r.Header.Get("Mcp-Session-Id"); sid != "" {
							mu.Lock()
							last = sid
							mu.Unlock()
						}
					},
				}
			}},
		{name: "unknown sessions get 400", targets: []string{"http/unknown-session", "http/delete-session"}, revs: streamable(),
			http: func() *httpFault {
				return &httpFault{resp: func(r *http.Response, _ string) {
					if r.StatusCode == http.StatusNotFound {
						r.StatusCode = http.StatusBadRequest
					}
				}}
			}},
		{name: "notifications get 200", targets: []string{"http/notification-accepted"},
			http: func() *httpFault {
				return &httpFault{resp: func(r *http.Response, method string) {
					if r.StatusCode == http.StatusAccepted && method == "notifications/cancelled" {
						r.StatusCode = http.StatusOK
					}
				}}
			}},
		{name: "DELETE does nothing", targets: []string{"http/delete-session"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, w http.ResponseWriter) bool {
					if r.Method == http.MethodDelete {
						w.WriteHeader(http.StatusOK)
						return true
					}
					return false
				}}
			}},
		{name: "invalid MCP-Protocol-Version ignored", targets: []string{"http/protocol-version-header"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, _ http.ResponseWriter) bool {
					if _, err := schemas.ParseRevision(r.Header.Get("Mcp-Protocol-Version")); err != nil {
						r.Header.Del("Mcp-Protocol-Version")
					}
					return false
				}}
			}},
		{name: "Origin not checked", targets: []string{"http/origin"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, _ http.ResponseWriter) bool {
					r.Header.Del("Origin")
					return false
				}}
			}},
		{name: "Accept not checked", targets: []string{"http/accept-required"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, _ http.ResponseWriter) bool {
					a := r.Header.Get("Accept")
					if r.Method == http.MethodPost && !(strings.Contains(a, "application/json") && strings.Contains(a, "text/event-stream")) {
						r.Header.Set("Accept", "application/json, text/event-stream")
					}
					return false
				}}
			}},
		{name: "Content-Type not checked", targets: []string{"http/content-type-required"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, _ http.ResponseWriter) bool {
					if r.Method == http.MethodPost {
						r.Header.Set("Content-Type", "application/json")
					}
					return false
				}}
			}},
		{name: "answer with Content-Type text/plain", targets: []string{"http/response-content-type"},
			http: func() *httpFault {
				// Only the answer to the scenario's own request (by its id):
				// the runner's other sessions need valid answers.
				const mark = "X-Conformance-Fault"
				return &httpFault{
					req: func(r *http.Request, _ string, _ http.ResponseWriter) bool {
						if r.Method == http.MethodPost {
							b, _ := io.ReadAll(r.Body)
							r.Body = io.NopCloser(bytes.NewReader(b))
							if bytes.Contains(b, []byte(`"conformance-content-type"`)) {
								r.Header.Set(mark, "1")
							}
						}
						return false
					},
					resp: func(r *http.Response, _ string) {
						if r.Request.Header.Get(mark) != "" {
							r.Header.Set("Content-Type", "text/plain")
						}
					},
				}
			}},
		{name: "Last-Event-ID replays the event it names", targets: []string{"http/sse-resumption"},
			http: func() *httpFault {
				// The server resumes from the event before the one the
				// client names: the GET replays an event the client had.
				return &httpFault{
					req: func(r *http.Request, _ string, _ http.ResponseWriter) bool {
						if id := r.Header.Get("Last-Event-ID"); r.Method == http.MethodGet && id != "" {
							r.Header.Set(lastEventMark, id)
						}
						return false
					},
					resp: func(r *http.Response, _ string) {
						if id := r.Request.Header.Get(lastEventMark); id != "" {
							r.Body = io.NopCloser(io.MultiReader(strings.NewReader("id: "+id+"\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"replayed\"}}\n\n"), r.Body))
						}
					},
				}
			}},
		{name: "GET answers JSON", targets: []string{"http/get-stream", "http/sse-resumption"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, w http.ResponseWriter) bool {
					if r.Method == http.MethodGet {
						w.Header().Set("Content-Type", "application/json")
						w.Write([]byte("{}"))
						return true
					}
					return false
				}}
			}},
		{name: "GET and DELETE served in 2026", targets: []string{"http/no-get-delete"}, revs: []schemas.Revision{schemas.V20260728},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, w http.ResponseWriter) bool {
					if r.Method == http.MethodGet || r.Method == http.MethodDelete {
						w.WriteHeader(http.StatusOK)
						return true
					}
					return false
				}}
			}},
		{name: "Mcp-Method not required", targets: []string{"http/method-header"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, method string, _ http.ResponseWriter) bool {
					if r.Header.Get("Mcp-Method") == "" && method != "" {
						r.Header.Set("Mcp-Method", method)
					}
					return false
				}}
			}},
		{name: "MCP-Protocol-Version not compared with _meta", targets: []string{"http/version-header-mismatch"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, _ string, _ http.ResponseWriter) bool {
					// Make the header agree with the body, as if the
					// server read only the body.
					var m struct {
						Params struct {
							Meta map[string]any `json:"_meta"`
						} `json:"params"`
					}
					b, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(b))
					json.Unmarshal(b, &m)
					if v, ok := m.Params.Meta["io.modelcontextprotocol/protocolVersion"].(string); ok {
						r.Header.Set("Mcp-Protocol-Version", v)
					}
					return false
				}}
			}},
		{name: "Mcp-Name not compared with the body", targets: []string{"http/name-header-mismatch"},
			http: func() *httpFault {
				return &httpFault{req: func(r *http.Request, method string, _ http.ResponseWriter) bool {
					if method != "tools/call" {
						return false
					}
					var m struct {
						Params struct {
							Name string `json:"name"`
						} `json:"params"`
					}
					b, _ := io.ReadAll(r.Body)
					r.Body = io.NopCloser(bytes.NewReader(b))
					json.Unmarshal(b, &m)
					r.Header.Set("Mcp-Name", m.Params.Name)
					return false
				}}
			}},
		{name: "unknown method gets 200", targets: []string{"http/unknown-method-404"}, revs: []schemas.Revision{schemas.V20260728},
			http: func() *httpFault {
				return &httpFault{resp: func(r *http.Response, _ string) {
					if r.StatusCode == http.StatusNotFound {
						r.StatusCode = http.StatusOK
					}
				}}
			}},
		{name: "notifications get 200 (2026)", targets: []string{"http/notification-accepted-2026"},
			http: func() *httpFault {
				return &httpFault{resp: func(r *http.Response, _ string) {
					if r.StatusCode == http.StatusAccepted {
						r.StatusCode = http.StatusOK
					}
				}}
			}},
	}
}

func legacyRevs() []schemas.Revision {
	return []schemas.Revision{schemas.V20241105, schemas.V20250326, schemas.V20250618, schemas.V20251125}
}

func streamable() []schemas.Revision {
	return []schemas.Revision{schemas.V20250326, schemas.V20250618, schemas.V20251125}
}

// expected returns the scenarios fault f must fail in rev.
func (f *fault) expected(cat []conformance.Scenario, rev schemas.Revision, kind conformance.TargetKind) []string {
	var out []string
	for _, s := range cat {
		if !s.AppliesTo(rev, kind) {
			continue
		}
		if slices.Contains(f.targets, s.ID) || (slices.Contains(f.targets, handshake) && (!s.Raw || s.ID == "lifecycle/initialize") && s.Transport != conformance.HTTPTransport) {
			out = append(out, s.ID)
		}
	}
	sort.Strings(out)
	return out
}

// revisions returns the revisions a fault is run in.
func (f *fault) revisions(cat []conformance.Scenario, kind conformance.TargetKind) []schemas.Revision {
	if f.revs != nil {
		return f.revs
	}
	var out []schemas.Revision
	for _, rev := range schemas.All() {
		if len(f.expected(cat, rev, kind)) > 0 {
			out = append(out, rev)
		}
	}
	return out
}

// TestFaults: every seeded fault makes exactly the scenarios it targets
// fail, in every revision where they apply, and nothing else.
func TestFaults(t *testing.T) {
	cat := conformance.Catalogue()
	for _, f := range faults() {
		t.Run(f.name, func(t *testing.T) {
			kind := conformance.KindStdio
			if f.http != nil {
				kind = conformance.KindHTTP
			}
			revs := f.revisions(cat, kind)
			if len(revs) == 0 {
				t.Fatalf("fault targets %v, which run in no revision", f.targets)
			}
			caught := 0
			for _, rev := range revs {
				var tg *conformance.Target
				if f.msg != nil {
					tg = pipeTarget(t, *f.msg)
				} else {
					tg = httpTarget(t, rev, *f.http())
				}
				rep := run(t, tg, []schemas.Revision{rev})
				var got []string
				for _, x := range rep.Results {
					if x.Status == conformance.Fail || x.Status == conformance.Warn {
						got = append(got, x.ID)
					}
				}
				sort.Strings(got)
				want := f.expected(cat, rev, kind)
				if !slices.Equal(got, want) {
					t.Errorf("%s: failed %v, want %v", rev, got, want)
					for _, x := range rep.Results {
						if x.Status == conformance.Fail || x.Status == conformance.Warn {
							t.Logf("  %s: %s", x.ID, x.Reason)
						}
					}
				}
				caught += len(got)
			}
			if caught == 0 {
				t.Errorf("the fault was caught in no revision")
			}
		})
	}
}

// TestEveryScenarioHasAFault: the catalogue has no scenario without a
// seeded fault that it must catch.
func TestEveryScenarioHasAFault(t *testing.T) {
	covered := map[string]bool{}
	for _, f := range faults() {
		for _, id := range f.targets {
			covered[id] = true
		}
	}
	for _, s := range conformance.Catalogue() {
		if !covered[s.ID] {
			t.Errorf("scenario %s has no seeded fault", s.ID)
		}
	}
}
