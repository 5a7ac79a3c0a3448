package testsuite

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// Test4T5ParamHeadersThroughBroker: legacy clients call the route tool of
// the strict 2026-07-28 demo behind `mcpbroker serve --upstream-revision
// 2026-07-28 --upstream-url` (REVISIONS.md 4.T5). The broker does not
// know the tool at the first call: it lists the tools, then sends the call
// with the Mcp-Param-* headers its x-mcp-header annotations ask for (a
// non-ASCII region in the Base64 sentinel), which the demo checks and
// names in its answer. A direct call without the headers gets -32020: the
// demo's check is real.
func Test4T5ParamHeadersThroughBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := brokerproc.Build(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	demoURL := "http://" + brokerproc.DemoServer(t, bin, "2026-07-28") + demo.PathMCP

	t.Run("the demo checks", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
		defer cancel()
		c, err := fixture.NewClient(schemas.V20260728, fixture.DialHTTP2026(demoURL), fixture.WithValidator(v))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.CallTool(ctx, "route", map[string]any{"region": "eu"})
		var je *jsonrpc.Error
		if !errors.As(err, &je) || je.Code != fixture.CodeHeaderMismatch {
			t.Fatalf("route without Mcp-Param-Region: %v, want -32020", err)
		}
	})

	upstream := []string{"--upstream-revision", "2026-07-28", "--server-validation", "strict", "--upstream-url", demoURL}
	addr := brokerproc.Serve(t, bin, nil, upstream...)
	for _, cr := range []schemas.Revision{schemas.V20241105, schemas.V20251125} {
		for _, kind := range []string{"http", "stdio"} {
			t.Run(fmt.Sprintf("client-%s-%s", cr, kind), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
				t.Cleanup(cancel)
				c := newScenarioClient(t, v, cr, dialBroker(ctx, t, bin, addr, kind, upstream))
				if _, err := c.Initialize(ctx); err != nil {
					t.Fatalf("initialize: %v", err)
				}
				// No tools/list yet: the broker lists them itself.
				res := mustTool(t, ctx, c, "route", map[string]any{"region": "Zürich", "priority": 3, "urgent": true})
				want := demo.RouteChecked + "Mcp-Param-Priority,Mcp-Param-Region,Mcp-Param-Urgent"
				if !strings.Contains(res.Text(), "region=Zürich") || !strings.HasSuffix(res.Text(), want) {
					t.Errorf("route: %q, want region=Zürich and %q", res.Text(), want)
				}
				// The annotations reach the legacy client (PASS).
				var tools struct {
					Tools []struct {
						Name        string         `json:"name"`
						InputSchema map[string]any `json:"inputSchema"`
					} `json:"tools"`
				}
				mustCall(t, ctx, c, "tools/list", map[string]any{}, &tools)
				found := false
				for _, tool := range tools.Tools {
					if tool.Name == "route" {
						found = true
						if !strings.Contains(fmt.Sprint(tool.InputSchema), "x-mcp-header") {
							t.Errorf("route's inputSchema lost x-mcp-header: %v", tool.InputSchema)
						}
					}
				}
				if !found {
					t.Errorf("no route in tools/list")
				}
				res = mustTool(t, ctx, c, "route", map[string]any{"region": "eu", "note": "only region"})
				if want := demo.RouteChecked + "Mcp-Param-Region"; !strings.HasSuffix(res.Text(), want) {
					t.Errorf("route: %q, want %q", res.Text(), want)
				}
				if vs := c.Violations(); len(vs) > 0 {
					t.Errorf("client saw invalid messages: %v", vs)
				}
			})
		}
	}
}
