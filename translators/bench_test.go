package translators

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

func benchCallTool() []byte {
	return []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"search_issues","arguments":` +
		`{"query":"label:bug state:open","limit":25,"sort":"updated","include_closed":false},"_meta":{"progressToken":"tok-42"}}}`)
}

// benchToolsList is a 2024-11-05 tools/list result with n realistic tools.
func benchToolsList(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":3,"result":{"tools":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"tool_%02d_search","description":%q,"inputSchema":{"type":"object","properties":{`+
			`"query":{"type":"string","description":"Search expression"},"limit":{"type":"integer","minimum":1,"maximum":100,"default":20},`+
			`"sort":{"type":"string","enum":["created","updated","comments"]},"include_closed":{"type":"boolean"},`+
			`"labels":{"type":"array","items":{"type":"string"}}},"required":["query"]}}`,
			i, strings.Repeat("Searches the issue tracker for matching items and returns a page of results. ", 3))
	}
	b.WriteString(`],"nextCursor":"page-2"}}`)
	return []byte(b.String())
}

// BenchmarkTranslate measures one hop and the full chain for a tools/call
// request (c2s, up) and a 50-tool tools/list result (s2c, up), parsing
// included. Targets: one hop of the request within 5 µs; the result within
// 2x BenchmarkUnmarshalToolsList.
func BenchmarkTranslate(b *testing.B) {
	cases := []struct {
		name     string
		msg      []byte
		dir      Direction
		method   string
		from, to schemas.Revision
	}{
		{"tools-call/one-hop-2025-11-25-to-2026-07-28", benchCallTool(), ClientToServer, "", schemas.V20251125, schemas.V20260728},
		{"tools-call/one-hop", benchCallTool(), ClientToServer, "", schemas.V20241105, schemas.V20250326},
		{"tools-call/chain-2024-to-2026", benchCallTool(), ClientToServer, "", schemas.V20241105, schemas.V20260728},
		{"tools-list-50/one-hop", benchToolsList(50), ServerToClient, "tools/list", schemas.V20241105, schemas.V20250326},
		{"tools-list-50/one-hop-2025-06-18-to-2025-11-25", benchToolsList(50), ServerToClient, "tools/list", schemas.V20250618, schemas.V20251125},
		{"tools-list-50/one-hop-2025-11-25-to-2025-06-18", benchToolsList(50), ServerToClient, "tools/list", schemas.V20251125, schemas.V20250618},
		{"tools-list-50/chain-2024-to-2026", benchToolsList(50), ServerToClient, "tools/list", schemas.V20241105, schemas.V20260728},
	}
	for _, c := range cases {
		chain, err := NewChain(c.from, c.to)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			ctx := Context{Method: c.method}.Defaults()
			b.SetBytes(int64(len(c.msg)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := jsonrpc.Parse(c.msg)
				if err != nil {
					b.Fatal(err)
				}
				if o := chain.Translate(m, c.dir, &ctx); o.Kind != Forward {
					b.Fatalf("outcome %v %s", o.Kind, o.Row)
				}
			}
		})
	}
}

// BenchmarkUnmarshalToolsList is the baseline of the translation target: a
// plain json.Unmarshal of the 50-tool result.
func BenchmarkUnmarshalToolsList(b *testing.B) {
	msg := benchToolsList(50)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		var x any
		if err := json.Unmarshal(msg, &x); err != nil {
			b.Fatal(err)
		}
	}
}
