package testsuite

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// Test4F2ServeCache runs `mcpbroker serve --upstream-revision 2026-07-28`
// (response cache on by default) in front of the 2026-07-28 demo server
// over HTTP, whose list results carry ttlMs 60000 and a cacheScope of
// "public" or "private", and counts the tools/list requests that reach
// the server (its /stats) while strict legacy clients with various
// Authorization headers list tools: a repeated request is answered by the
// broker; a public result serves every client, a private one only clients
// bound to the same credentials (not an anonymous client of another
// session); a notifications/tools/list_changed from the server (touch)
// makes the next request go to the server again (REVISIONS.md 4.F2, 4.F7).
func Test4F2ServeCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := brokerproc.Build(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"public", "private"} {
		t.Run(scope, func(t *testing.T) {
			t.Parallel()
			demoAddr := brokerproc.DemoServer(t, bin, "2026-07-28", "--cache-scope", scope)
			addr := brokerproc.Serve(t, bin, nil, "--upstream-revision", "2026-07-28", "--server-validation", "strict",
				"--upstream-url", "http://"+demoAddr+demo.PathMCP)
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			t.Cleanup(cancel)
			client := func(auth string) *fixture.Client {
				t.Helper()
				h := http.Header{}
				if auth != "" {
					h.Set("Authorization", auth)
				}
				conn, err := transport.DialHTTP(ctx, "http://"+addr+"/mcp", &transport.ClientOptions{Logger: testLogger(t), Header: h})
				if err != nil {
					t.Fatal(err)
				}
				c := newScenarioClient(t, v, schemas.V20251125, conn)
				if _, err := c.Initialize(ctx); err != nil {
					t.Fatalf("initialize: %v", err)
				}
				return c
			}
			// list lists the tools as c and checks how many tools/list
			// requests the server has had since the start.
			list := func(who string, c *fixture.Client, upstream int) {
				t.Helper()
				var tools struct {
					Tools []struct{ Name string } `json:"tools"`
				}
				mustCall(t, ctx, c, "tools/list", map[string]any{}, &tools)
				if len(tools.Tools) < 5 {
					t.Fatalf("%s: tools/list: %d tools", who, len(tools.Tools))
				}
				if got := demoRequests(ctx, t, demoAddr)["tools/list"]; got != upstream {
					t.Errorf("%s: the server has had %d tools/list requests, want %d", who, got, upstream)
				}
				if vs := c.Violations(); len(vs) > 0 {
					t.Errorf("%s saw invalid messages: %v", who, vs)
				}
			}
			private := 0
			if scope == "private" {
				private = 1
			}
			alice := client("Bearer alice")
			list("alice", alice, 1)
			list("alice again", alice, 1)
			list("alice, another session", client("Bearer alice"), 1)
			list("bob", client("Bearer bob"), 1+private)
			list("anonymous", client(""), 1+2*private)
			list("anonymous, another session", client(""), 1+3*private)

			// The answer to resources/subscribe waits for the broker's new
			// listen to be acknowledged (4.M3): the server's touch then
			// reaches alice's session, which drops the cached tools list.
			mustCall(t, ctx, alice, "resources/subscribe", map[string]any{"uri": "demo://static/readme"}, nil)
			mustTool(t, ctx, alice, "touch", map[string]any{"list": "tools"})
			if _, err := alice.WaitNotification(ctx, func(n fixture.Notification) bool {
				return n.Method == "notifications/tools/list_changed"
			}); err != nil {
				t.Fatalf("no tools/list_changed: %v", err)
			}
			list("alice after list_changed", alice, 2+3*private)
			list("alice after list_changed, again", alice, 2+3*private)
		})
	}
}

// demoRequests returns the demo server's request counts by method (GET
// demo.PathStats).
func demoRequests(ctx context.Context, t *testing.T, demoAddr string) map[string]int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+demoAddr+demo.PathStats, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct {
		Requests map[string]int `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", demo.PathStats, resp.Status, err)
	}
	return stats.Requests
}
