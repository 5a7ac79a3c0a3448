package testsuite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// Test4L3ServeAutoDetect runs `mcpbroker serve --upstream-revision auto`
// in front of the strict demo server at 2024-11-05 and at 2026-07-28, as
// a child over stdio and over Streamable HTTP (REVISIONS.md 4.L3, 4.T8).
// The broker probes with server/discover: the 2026 demo gets the stateless
// bridge (the whole scenario of TestServeLegacyClientsTo2026, and over
// HTTP the route tool with its checked Mcp-Param-* headers); the
// 2024-11-05 demo answers the probe with an error and is initialized, on
// the same process over stdio and with the legacy client over HTTP, and
// the interop scenario runs for clients of the oldest and newest legacy
// revision (over HTTP several sessions, the later ones knowing the
// origin's era). The probe leaves the legacy demo in a good state: over
// HTTP a client of its own holds a session with it afterwards.
func Test4L3ServeAutoDetect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := brokerproc.Build(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range []schemas.Revision{schemas.V20241105, schemas.V20260728} {
		for _, server := range []string{"stdio", "http"} {
			t.Run(fmt.Sprintf("server-%s-%s", sr, server), func(t *testing.T) {
				t.Parallel()
				upstream := []string{"--upstream-revision", "auto", "--server-validation", "strict",
					"--upstream-cmd", bin + " demo-server --revision " + sr.String() + " --slow-timeout 5s"}
				var demoURL string
				if server == "http" {
					demoURL = "http://" + brokerproc.DemoServer(t, bin, sr.String(), "--slow-timeout", "5s") + demo.PathMCP
					upstream = []string{"--upstream-revision", "auto", "--server-validation", "strict", "--upstream-url", demoURL}
				}
				if sr.Stateless() {
					legacyClientsTo2026(t, bin, v, upstream)
					if server == "http" {
						autoRoute(t, bin, upstream)
					}
					return
				}
				addr := brokerproc.Serve(t, bin, nil, upstream...)
				for _, cr := range []schemas.Revision{schemas.V20241105, schemas.V20251125} {
					for _, client := range []string{"http", "stdio"} {
						t.Run(fmt.Sprintf("client-%s-%s", cr, client), func(t *testing.T) {
							ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
							t.Cleanup(cancel)
							runScenario(ctx, t, newScenarioClient(t, v, cr, dialBroker(ctx, t, bin, addr, client, upstream)), sr)
						})
					}
				}
				if server == "http" {
					t.Run("demo-after-the-probes", func(t *testing.T) {
						ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
						defer cancel()
						conn, err := transport.DialHTTP(ctx, demoURL, &transport.ClientOptions{Logger: testLogger(t)})
						if err != nil {
							t.Fatal(err)
						}
						shortSession(ctx, t, sr, conn)
					})
				}
			})
		}
	}
}

// autoRoute calls the 2026 demo's route tool through a broker with
// upstream (auto, over HTTP): the era detected, the Mcp-Param-* headers
// go with the call, and the demo names them.
func autoRoute(t *testing.T, bin string, upstream []string) {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	addr := brokerproc.Serve(t, bin, nil, upstream...)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	c := newScenarioClient(t, v, schemas.V20250618, dialBroker(ctx, t, bin, addr, "http", upstream))
	if _, err := c.Initialize(ctx); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	res := mustTool(t, ctx, c, "route", map[string]any{"region": "eu", "urgent": false})
	if want := demo.RouteChecked + "Mcp-Param-Region,Mcp-Param-Urgent"; !strings.HasSuffix(res.Text(), want) {
		t.Errorf("route: %q, want %q", res.Text(), want)
	}
}
