package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/conformance"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/demo/demotest"
)

// childEnv makes the test binary run `demo-server --revision <value>` on
// stdio instead of the tests, so that --target-cmd has a real process to
// start.
const childEnv = "MCPBROKER_TEST_CONFORMANCE_CHILD"

// clientChildEnv makes the test binary an MCP client of the URL in its
// last argument, speaking the revision given as the value, with the
// broker's own Streamable HTTP client transport.
const clientChildEnv = "MCPBROKER_TEST_CONFORMANCE_CLIENT"

func TestMain(m *testing.M) {
	if rev := os.Getenv(childEnv); rev != "" {
		os.Exit(run(context.Background(), []string{"demo-server", "--revision", rev}, os.Stdin, os.Stdout, os.Stderr))
	}
	if rev := os.Getenv(clientChildEnv); rev != "" {
		if err := brokerClient(schemas.MustParseRevision(rev), os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// brokerClient initializes a session with transport.DialHTTP, lists the
// tools and ends the session.
func brokerClient(rev schemas.Revision, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := transport.DialHTTP(ctx, url, &transport.ClientOptions{DisableGET: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	call := func(raw string) error {
		if err := conn.Send(ctx, transport.Message{Raw: []byte(raw)}); err != nil {
			return err
		}
		m, err := conn.Recv(ctx)
		if err != nil {
			return err
		}
		if bytes.Contains(m.Raw, []byte(`"error"`)) {
			return fmt.Errorf("error response: %s", m.Raw)
		}
		return nil
	}
	if err := call(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + rev.String() + `","capabilities":{},"clientInfo":{"name":"broker-client","version":"1"}}}`); err != nil {
		return err
	}
	conn.(transport.RevisionSetter).SetRevision(rev)
	if err := conn.Send(ctx, transport.Message{Raw: []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)}); err != nil {
		return err
	}
	return call(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
}

// runConformanceCLI runs the command line and returns its exit code and stdout.
func runConformanceCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return code, out.String()
}

// demoHTTP serves a demo server of rev on 127.0.0.1, optionally behind a
// proxy that rewrites responses, and returns its MCP URL.
func demoHTTP(t *testing.T, rev schemas.Revision, rewrite func(*http.Response) error) string {
	t.Helper()
	addr := demotest.Serve(t, rev)
	if rewrite == nil {
		return "http://" + addr + demo.PathMCP
	}
	up, _ := url.Parse("http://" + addr)
	rp := httputil.NewSingleHostReverseProxy(up)
	rp.FlushInterval = -1
	rp.ModifyResponse = rewrite
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)
	return proxy.URL + demo.PathMCP
}

func TestConformanceUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no target", []string{"conformance"}},
		{"two targets", []string{"conformance", "--target-url", "http://127.0.0.1:1/mcp", "--target-cmd", "x"}},
		{"bad revision", []string{"conformance", "--target-url", "http://127.0.0.1:1/mcp", "--revision", "2020-01-01"}},
		{"bad command line", []string{"conformance", "--target-cmd", `node "server.mjs`}},
		{"no scenario", []string{"conformance", "--target-url", "http://127.0.0.1:1/mcp", "--scenario", "nothing/*"}},
		{"unreachable", []string{"conformance", "--target-url", "http://127.0.0.1:1/mcp", "--timeout", "2s"}},
		{"unreachable revision", []string{"conformance", "--target-url", "http://127.0.0.1:1/mcp", "--timeout", "2s", "--revision", "2025-06-18"}},
		{"command not found", []string{"conformance", "--target-cmd", "/nonexistent/mcp-server", "--revision", "2024-11-05"}},
		{"missing baseline", []string{"conformance", "--target-url", "http://127.0.0.1:1/mcp", "--baseline", "/nonexistent/baseline.yml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := runConformanceCLI(t, tt.args...); code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
		})
	}
}

// TestConformanceHTTP runs the command against a correct server over
// Streamable HTTP and checks the exit status and the JSON and JUnit files.
func TestConformanceHTTP(t *testing.T) {
	u := demoHTTP(t, schemas.V20250618, nil)
	dir := t.TempDir()
	jsonPath, junitPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	code, out := runConformanceCLI(t, "conformance", "--target-url", u, "--json", jsonPath, "--junit", junitPath)
	if code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	var rep conformance.Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Revisions) != 1 || rep.Revisions[0] != "2025-06-18" {
		t.Errorf("probe found %v, want [2025-06-18]", rep.Revisions)
	}
	if rep.Counts()[conformance.Pass] < 20 {
		t.Errorf("only %d scenarios passed:\n%s", rep.Counts()[conformance.Pass], out)
	}
	x, err := os.ReadFile(junitPath)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(x, &suites); err != nil || len(suites.Suites) != 1 {
		t.Errorf("JUnit: %v, %d suites", err, len(suites.Suites))
	}
	if !strings.Contains(out, "http/protocol-version-header") {
		t.Errorf("table lacks the HTTP scenarios:\n%s", out)
	}
}

// TestConformanceFailureAndBaseline: a server that answers 400 where 404
// is due fails (exit 1); with the failure in a baseline it passes (exit 0)
// and is reported as expected.
func TestConformanceFailureAndBaseline(t *testing.T) {
	u := demoHTTP(t, schemas.V20251125, func(r *http.Response) error {
		if r.StatusCode == http.StatusNotFound {
			r.StatusCode = http.StatusBadRequest
		}
		return nil
	})
	args := []string{"conformance", "--target-url", u, "--revision", "2025-11-25", "--scenario", "http/"}
	code, out := runConformanceCLI(t, args...)
	if code != exitInvalid || !strings.Contains(out, "http/unknown-session") {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	base := filepath.Join(t.TempDir(), "baseline.yml")
	os.WriteFile(base, []byte("- id: http/unknown-session\n  reason: answers 400\n- id: http/delete-session\n  revision: 2025-11-25\n  reason: answers 400\n- id: http/session-required\n  reason: passes\n"), 0o644)
	code, out = runConformanceCLI(t, append(args, "--baseline", base)...)
	if code != exitOK {
		t.Fatalf("with the baseline: exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"expected", "fixed"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestConformanceStdio runs the command against a real child process
// (this test binary as the demo server) with --revision all.
func TestConformanceStdio(t *testing.T) {
	t.Setenv(childEnv, "2024-11-05")
	code, out := runConformanceCLI(t, "conformance", "--target-cmd", os.Args[0], "--scenario", "lifecycle", "--scenario", "jsonrpc/*")
	if code != exitOK {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	if !strings.Contains(out, "revisions 2024-11-05:") || !strings.Contains(out, "jsonrpc/parse-error") {
		t.Errorf("unexpected table:\n%s", out)
	}
}

// TestConformanceClient checks the broker's own Streamable HTTP client
// transport, run as a client program, with --client-cmd.
func TestConformanceClient(t *testing.T) {
	for _, rev := range []string{"2025-03-26", "2025-11-25"} {
		t.Run(rev, func(t *testing.T) {
			t.Setenv(clientChildEnv, rev)
			code, out := runConformanceCLI(t, "conformance", "--client-cmd", os.Args[0], "--timeout", "20s")
			if code != exitOK {
				t.Fatalf("exit %d, want 0:\n%s", code, out)
			}
			if !strings.Contains(out, "client/initialized-notification") || !strings.Contains(out, "revisions "+rev+":") {
				t.Errorf("unexpected table:\n%s", out)
			}
		})
	}
	if code, _ := runConformanceCLI(t, "conformance", "--client-cmd", "x", "--target-url", "http://127.0.0.1:1/mcp"); code != exitUsage {
		t.Errorf("--client-cmd with --target-url: exit %d, want %d", code, exitUsage)
	}
}
