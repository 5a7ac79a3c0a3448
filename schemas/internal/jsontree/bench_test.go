package jsontree_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas/internal/jsontree"
)

// toolsCallRequest returns a realistic tools/call request of about 200
// bytes.
func toolsCallRequest() []byte {
	return []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"search_issues",` +
		`"arguments":{"query":"label:bug state:open","limit":25,"sort":"updated","include_closed":false},` +
		`"_meta":{"progressToken":"tok-42"}}}`)
}

// toolsListResult returns a tools/list response with n realistic tools:
// name, title, a 200-character description, an input schema of five
// properties (with enum, minimum/maximum, an array and defaults),
// annotations, an output schema, icons and _meta, in the key order a
// server would write them.
func toolsListResult(n int) []byte {
	desc := strings.Repeat("Searches the tracker for items that match a query. ", 4)[:200]
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":3,"result":{"tools":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"tool_%02d_search","title":"Search %d","description":%q,`, i, i, desc)
		b.WriteString(`"inputSchema":{"type":"object","properties":{` +
			`"query":{"type":"string","description":"Search expression, e.g. \"label:bug\"","minLength":1},` +
			`"limit":{"type":"integer","minimum":1,"maximum":100,"default":20},` +
			`"sort":{"type":"string","enum":["created","updated","comments"],"default":"updated"},` +
			`"include_closed":{"type":"boolean","default":false},` +
			`"labels":{"type":"array","items":{"type":"string"},"maxItems":10}},` +
			`"required":["query"],"additionalProperties":false},`)
		b.WriteString(`"outputSchema":{"type":"object","properties":{"total":{"type":"integer"},` +
			`"items":{"type":"array","items":{"type":"object"}},"score":{"type":"number","minimum":0.5}},"required":["total","items"]},`)
		b.WriteString(`"annotations":{"title":"Search","readOnlyHint":true,"destructiveHint":false,"idempotentHint":true,"openWorldHint":false},`)
		b.WriteString(`"icons":[{"src":"https://example.com/icons/search.png","mimeType":"image/png","sizes":["48x48","96x96"]}],`)
		b.WriteString(`"_meta":{"com.example/owner":"team-a"}}`)
	}
	b.WriteString(`],"nextCursor":"page-2"}}`)
	return []byte(b.String())
}

func benchMessages() []struct {
	name string
	msg  []byte
} {
	return []struct {
		name string
		msg  []byte
	}{
		{"tools-call-request", toolsCallRequest()},
		{"tools-list-result-50", toolsListResult(50)},
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, tc := range benchMessages() {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jsontree.Decode(tc.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStdlib is encoding/json's Decoder with UseNumber on the same
// messages, the baseline Decode replaces.
func BenchmarkStdlib(b *testing.B) {
	for _, tc := range benchMessages() {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.msg)))
			b.ReportAllocs()
			for b.Loop() {
				d := json.NewDecoder(bytes.NewReader(tc.msg))
				d.UseNumber()
				var v any
				if err := d.Decode(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestBenchMessageSizes(t *testing.T) {
	if n := len(toolsCallRequest()); n < 150 || n > 260 {
		t.Errorf("tools/call request is %d bytes, want about 200", n)
	}
	if n := len(toolsListResult(50)); n < 25000 || n > 80000 {
		t.Errorf("tools/list result is %d bytes", n)
	}
}
