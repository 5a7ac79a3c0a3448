package testsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/conformance"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/prereq"
)

var updateConformance = flag.Bool("update-conformance", false, "rewrite testdata/conformance/*.txt from the runs against the npm servers")

// npmDir holds the pinned npm servers (make npm-deps installs them).
const npmDir = "npm"

// requireNPMServers skips (under CI=true: fails) without node or the
// pinned npm packages.
func requireNPMServers(t *testing.T) string {
	t.Helper()
	return prereq.NodeModules(t, "run `make npm-deps` to enable the conformance runs against real servers", npmDir,
		"node_modules/sdk-old/package.json", "node_modules/sdk-new/package.json", "node_modules/@modelcontextprotocol/server-everything/dist/index.js")
}

// TestConformanceRealServers runs `mcpbroker conformance` (the built
// binary, as CI would) against real servers from npm, and with
// --client-cmd against the newest SDK's client, and compares the
// results (scenario, revision, status) with testdata/conformance/*.txt;
// docs/conformance.md explains every failure.
func TestConformanceRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node servers")
	}
	node := requireNPMServers(t)
	bin := buildBinary(t)
	everything := filepath.Join(npmDir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js")
	tests := []struct {
		name   string
		target func(t *testing.T) []string
	}{
		{"sdk-1.0.4-stdio", func(*testing.T) []string {
			return []string{"--target-cmd", node + " " + filepath.Join(npmDir, "old-server.mjs")}
		}},
		{"sdk-1.32.2-stdio", func(*testing.T) []string {
			return []string{"--target-cmd", node + " " + filepath.Join(npmDir, "new-server.mjs")}
		}},
		{"server-everything-stdio", func(*testing.T) []string {
			// One revision only: the server takes seconds to start, and
			// the runner starts it for every scenario.
			return []string{"--target-cmd", node + " " + everything + " stdio", "--revision", "2025-11-25", "--timeout", "30s"}
		}},
		{"server-everything-http", func(t *testing.T) []string {
			// A longer timeout: under a loaded CI machine its roots round
			// trip once took more than the default 10 s.
			return []string{"--target-url", "http://127.0.0.1:" + startEverythingHTTP(t, node, everything) + "/mcp", "--timeout", "30s"}
		}},
		{"client-sdk-1.32.2-http", func(*testing.T) []string {
			return []string{"--client-cmd", node + " " + filepath.Join(npmDir, "client.mjs") + " sdk-new http", "--timeout", "60s"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Mostly waiting for node to start: run the servers side by side.
			t.Parallel()
			runConformanceGolden(t, bin, tt.name, tt.target(t)...)
		})
	}
}

// TestConformanceThroughBroker runs `mcpbroker conformance` against
// `mcpbroker serve` in front of its built-in 2024-11-05 demo server, over
// Streamable HTTP (every revision, 2026-07-28 included, by negotiation)
// and over legacy HTTP+SSE: the legacy server, through the broker, as a
// server of each revision. The results are golden like the real servers'.
func TestConformanceThroughBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the broker binary")
	}
	bin := buildBinary(t)
	addr := brokerproc.Serve(t, bin, nil)
	runConformanceGolden(t, bin, "broker-demo-2024-11-05-http", "--target-url", "http://"+addr+"/mcp")
	runConformanceGolden(t, bin, "broker-demo-2024-11-05-sse", "--target-sse-url", "http://"+addr+"/sse")
}

// runConformanceGolden runs the conformance command with the target
// arguments and compares its results with testdata/conformance/NAME.txt.
func runConformanceGolden(t *testing.T, bin, name string, target ...string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	// A --timeout in target overrides this one.
	args := append([]string{"conformance", "--json", out, "--timeout", "10s"}, target...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 0 && code != 1 {
		t.Fatalf("exit %d (%v):\n%s\n%s", code, err, stdout.String(), stderr.String())
	}
	t.Logf("\n%s", stdout.String())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep conformance.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, x := range rep.Results {
		fmt.Fprintf(&got, "%-38s %s  %-6s  %s\n", x.ID, x.Revision, x.Severity, x.Status)
	}
	fmt.Fprintf(&got, "revisions %s: %s\n", strings.Join(rep.Revisions, " "), rep.Summary())
	path := filepath.Join("testdata", "conformance", name+".txt")
	if *updateConformance {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (rerun with -update-conformance)", err)
	}
	if got.String() != string(want) {
		t.Errorf("results differ from %s (rerun with -update-conformance if the change is right):\n%s", path, got.String())
	}
}
