package demo_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// Test4T5DemoParamHeaders: the 2026 demo's route tool declares
// x-mcp-header on region, priority and urgent, and over HTTP the demo
// checks the Mcp-Param-* headers of its calls (REVISIONS.md 4.T5): right
// ones are named in the answer, a missing, extra or different one is 400
// with -32020. Over other transports there are no headers to check.
func Test4T5DemoParamHeaders(t *testing.T) {
	t.Parallel()
	t.Run("tools/list", func(t *testing.T) {
		h := start26(t, overPipe, nil)
		res := h.call(t, "tools/list", nil)
		for _, x := range res["tools"].([]any) {
			tool := x.(map[string]any)
			if tool["name"] != "route" {
				continue
			}
			schema, err := json.Marshal(tool["inputSchema"])
			if err != nil {
				t.Fatal(err)
			}
			specs, err := transport.ParseParamHeaders(schema)
			if err != nil || len(specs) != 3 {
				t.Fatalf("route's annotations: %v, %v", specs, err)
			}
			return
		}
		t.Fatalf("no route tool in %v", res["tools"])
	})
	t.Run("stdio", func(t *testing.T) {
		h := start26(t, overStdio, nil)
		if r := h.tool(t, "route", map[string]any{"region": "eu", "priority": 2}); !strings.HasSuffix(r.Text(), demo.RouteNoHTTP) {
			t.Errorf("route over stdio: %q", r.Text())
		}
	})

	base, stop := serveHTTP(t, v2026)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("ServeHTTP: %v", err)
		}
	})
	// The header edit of the POST being sent: the test case's.
	var mu sync.Mutex
	var edit func(http.Header)
	conn := fixture.DialHTTP2026(base+demo.PathMCP, fixture.WithHeaderEdit(func(h http.Header, m *jsonrpc.Message) {
		mu.Lock()
		defer mu.Unlock()
		if m.Method == "tools/call" && edit != nil {
			edit(h)
		}
	}))
	c, err := fixture.NewClient(v2026, conn, fixture.WithValidator(sharedValidator(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	set := func(kv ...string) func(http.Header) {
		return func(h http.Header) {
			for i := 0; i < len(kv); i += 2 {
				h.Set(kv[i], kv[i+1])
			}
		}
	}
	for _, tc := range []struct {
		name    string
		args    map[string]any
		headers func(http.Header)
		want    string // the answer's end, or "" for -32020
	}{
		{"all three", map[string]any{"region": "Zürich", "priority": 3, "urgent": true, "note": "x"},
			set("Mcp-Param-Region", transport.EncodeHeaderValue("Zürich"), "Mcp-Param-Priority", "3", "Mcp-Param-Urgent", "true"),
			demo.RouteChecked + "Mcp-Param-Priority,Mcp-Param-Region,Mcp-Param-Urgent"},
		{"one", map[string]any{"region": "eu"}, set("Mcp-Param-Region", "eu"), demo.RouteChecked + "Mcp-Param-Region"},
		{"plain value in Base64", map[string]any{"region": "eu"}, set("Mcp-Param-Region", "=?base64?ZXU=?="), demo.RouteChecked + "Mcp-Param-Region"},
		{"missing", map[string]any{"region": "eu", "priority": 1}, set("Mcp-Param-Region", "eu"), ""},
		{"different", map[string]any{"region": "eu"}, set("Mcp-Param-Region", "us"), ""},
		{"not numerically equal", map[string]any{"region": "eu", "priority": 1}, set("Mcp-Param-Region", "eu", "Mcp-Param-Priority", "2"), ""},
		{"for an absent argument", map[string]any{"region": "eu"}, set("Mcp-Param-Region", "eu", "Mcp-Param-Urgent", "true"), ""},
		{"none", map[string]any{"region": "eu"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			edit = tc.headers
			mu.Unlock()
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			r, err := c.CallTool(ctx, "route", tc.args)
			if tc.want == "" {
				codeOf(t, err, fixture.CodeHeaderMismatch)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(r.Text(), tc.want) {
				t.Errorf("answer %q, want it to end with %q", r.Text(), tc.want)
			}
		})
	}
	// Tools without annotations need no Mcp-Param header.
	mu.Lock()
	edit = nil
	mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if r, err := c.CallTool(ctx, "echo", map[string]any{"text": "plain"}); err != nil || r.Text() != "plain" {
		t.Errorf("echo: %v, %v", r, err)
	}
	for _, err := range c.Violations() {
		t.Errorf("violation: %v", err)
	}
}
