package schemas_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// callToolRequest returns a realistic tools/call request of revision r.
func callToolRequest(r schemas.Revision) []byte {
	meta := `"_meta":{"progressToken":"tok-42"}`
	if r.Stateless() {
		meta = `"_meta":{"progressToken":"tok-42","io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
			`"io.modelcontextprotocol/clientCapabilities":{"sampling":{},"elicitation":{"form":{}}},` +
			`"io.modelcontextprotocol/clientInfo":{"name":"bench-client","version":"1.2.3"}}`
	}
	return []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"search_issues","arguments":` +
		`{"query":"label:bug state:open","limit":25,"sort":"updated","include_closed":false},` + meta + `}}`)
}

// toolsListResult returns a tools/list result with n realistic tools,
// using every field revision r has.
func toolsListResult(r schemas.Revision, n int) []byte {
	tools := make([]map[string]any, n)
	for i := range tools {
		t := map[string]any{
			"name":        fmt.Sprintf("tool_%02d_search", i),
			"description": strings.Repeat("Searches the issue tracker for matching items and returns a page of results. ", 3),
			"inputSchema": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"query":          map[string]any{"type": "string", "description": "Search expression"},
					"limit":          map[string]any{"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
					"sort":           map[string]any{"type": "string", "enum": []any{"created", "updated", "comments"}},
					"include_closed": map[string]any{"type": "boolean"},
					"labels":         map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
				},
				"required": []any{"query"},
			},
		}
		if r >= schemas.V20250326 {
			t["annotations"] = map[string]any{"title": "Search", "readOnlyHint": true, "openWorldHint": false}
		}
		if r >= schemas.V20250618 {
			t["title"] = fmt.Sprintf("Search %d", i)
			t["outputSchema"] = map[string]any{"type": "object", "properties": map[string]any{
				"total": map[string]any{"type": "integer"}, "items": map[string]any{"type": "array"}}, "required": []any{"total"}}
			t["_meta"] = map[string]any{"com.example/owner": "team-a"}
		}
		if r >= schemas.V20251125 {
			t["icons"] = []any{map[string]any{"src": "https://example.com/icon.png", "mimeType": "image/png", "sizes": []any{"48x48"}}}
		}
		if r == schemas.V20251125 {
			t["execution"] = map[string]any{"taskSupport": "optional"}
		}
		tools[i] = t
	}
	res := map[string]any{"tools": tools, "nextCursor": "page-2"}
	if r.Stateless() {
		res["resultType"] = "complete"
		res["ttlMs"] = 60000
		res["cacheScope"] = "public"
	}
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 3, "result": res})
	if err != nil {
		panic(err)
	}
	return b
}

func newValidator(tb testing.TB) *schemas.Validator {
	tb.Helper()
	v, err := schemas.NewValidator()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestBenchMessagesValid(t *testing.T) {
	v := newValidator(t)
	for _, r := range schemas.All() {
		if err := v.ValidateBytes(r, callToolRequest(r), schemas.Check{}); err != nil {
			t.Errorf("%s tools/call: %v", r, err)
		}
		if err := v.ValidateBytes(r, toolsListResult(r, 50), schemas.Check{Method: "tools/list"}); err != nil {
			t.Errorf("%s tools/list result: %v", r, err)
		}
	}
}

// BenchmarkValidate measures parse + validate of one message, decoding
// included, per revision (targets: 10 µs for the request, 500 µs for the
// 50-tool result).
func BenchmarkValidate(b *testing.B) {
	v := newValidator(b)
	for _, r := range schemas.All() {
		for _, tc := range []struct {
			name   string
			msg    []byte
			method string
		}{
			{"tools-call-request", callToolRequest(r), ""},
			{"tools-list-result-50", toolsListResult(r, 50), "tools/list"},
		} {
			b.Run(tc.name+"/"+r.String(), func(b *testing.B) {
				b.SetBytes(int64(len(tc.msg)))
				b.ReportAllocs()
				for b.Loop() {
					m, err := jsonrpc.Parse(tc.msg)
					if err != nil {
						b.Fatal(err)
					}
					if err := v.Validate(r, m, schemas.Check{Method: tc.method}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkUnmarshalBaseline is plain encoding/json decoding of the same
// messages into any, for comparison.
func BenchmarkUnmarshalBaseline(b *testing.B) {
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"tools-call-request", callToolRequest(schemas.V20250618)},
		{"tools-list-result-50", toolsListResult(schemas.V20250618, 50)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var x any
				if err := json.Unmarshal(tc.msg, &x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
