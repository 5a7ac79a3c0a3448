package translators

import (
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Test4M5LegacyServerNeverSeesTask: a 2026-07-28 client of a legacy
// server (REVISIONS.md 4.M5, NC→OS). The task field a 2026 client may
// still put on tools/call (legacy TaskMetadata, open params) is stripped
// on the way to a 2025-11-25 (or older) server, which therefore answers
// synchronously; its plain CallToolResult reaches the client as a
// complete result, Tool.execution is stripped from tools/list, and a
// CreateTaskResult, which such a server should never send, is not
// forwarded. Every forwarded message is valid in its target revision.
func Test4M5LegacyServerNeverSeesTask(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}},"progressToken":"p1"}`
	for _, server := range []schemas.Revision{schemas.V20251125, schemas.V20250618} {
		for _, tc := range []struct {
			name   string
			dir    Direction
			method string // of the request a response answers
			raw    string
			want   OutcomeKind
			check  func(t *testing.T, out string)
		}{
			{
				name: "task-augmented call", dir: ClientToServer,
				raw:  `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{"n":1},"task":{"ttl":60000},` + meta + `}}`,
				want: Forward,
				check: func(t *testing.T, out string) {
					n := NewJSON(out).Get("params")
					if n.Has("task") {
						t.Errorf("the legacy server sees the task field: %s", out)
					}
					if got := n.Get("_meta").Get("progressToken").Str(); got != "p1" {
						t.Errorf("progressToken %q lost: %s", got, out)
					}
					if strings.Contains(out, "io.modelcontextprotocol/") {
						t.Errorf("reserved _meta keys reached the legacy server: %s", out)
					}
				},
			},
			{
				name: "plain result", dir: ServerToClient, method: "tools/call",
				raw:  `{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"done"}],"isError":false}}`,
				want: Forward,
				check: func(t *testing.T, out string) {
					r := NewJSON(out).Get("result")
					if r.Get("resultType").Str() != "complete" || r.Has("task") || r.Has("taskId") {
						t.Errorf("the 2026 client does not get a plain complete result: %s", out)
					}
				},
			},
			{
				name: "tools/list", dir: ServerToClient, method: "tools/list",
				raw:  `{"jsonrpc":"2.0","id":8,"result":{"tools":[{"name":"slow","inputSchema":{"type":"object"},"execution":{"taskSupport":"optional"}}]}}`,
				want: Forward,
				check: func(t *testing.T, out string) {
					if strings.Contains(out, "execution") {
						t.Errorf("Tool.execution reached the 2026 client: %s", out)
					}
				},
			},
			{
				name: "CreateTaskResult", dir: ServerToClient, method: "tools/call",
				raw:  `{"jsonrpc":"2.0","id":7,"result":{"task":{"taskId":"t1","status":"working","createdAt":"2025-11-25T10:30:00Z","lastUpdatedAt":"2025-11-25T10:30:00Z","ttl":60000}}}`,
				want: Emulate,
			},
		} {
			if server < schemas.V20251125 && tc.name == "CreateTaskResult" {
				continue // no such result before 2025-11-25
			}
			t.Run(server.String()+"/"+tc.name, func(t *testing.T) {
				from, to := schemas.V20260728, server
				if tc.dir == ServerToClient {
					from, to = server, schemas.V20260728
				}
				c, err := NewChain(from, to)
				if err != nil {
					t.Fatal(err)
				}
				m, err := jsonrpc.Parse([]byte(tc.raw))
				if err != nil {
					t.Fatal(err)
				}
				sender := schemas.FromClient
				if tc.dir == ServerToClient {
					sender = schemas.FromServer
				}
				if err := v.ValidateBytes(from, m.Raw, schemas.Check{Method: tc.method, From: sender}); err != nil {
					t.Fatalf("test message invalid in %s: %v", from, err)
				}
				ctx := Context{Method: tc.method}.Defaults()
				o := c.Translate(m, tc.dir, &ctx)
				if o.Kind != tc.want {
					t.Fatalf("outcome %s (%s: %s), want %s", o.Kind, o.Row, o.Reason, tc.want)
				}
				if o.Kind != Forward {
					if o.Row != "4.M5" {
						t.Errorf("row %s, want 4.M5", o.Row)
					}
					return
				}
				if err := v.ValidateBytes(to, o.Message, schemas.Check{Method: tc.method, From: sender}); err != nil {
					t.Errorf("output invalid in %s: %v\n%s", to, err, o.Message)
				}
				tc.check(t, string(o.Message))
			})
		}
	}
}
