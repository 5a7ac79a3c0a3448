// Package npm proves interop with real third-party MCP peers from npm:
// the official TypeScript SDK at 1.0.4 (speaks only 2024-11-05) and at
// the newest pinned 1.x (speaks 2025-11-25), and the reference
// server-everything, all pinned in package.json / package-lock.json.
// `make npm-deps` installs them; without node_modules the test skips
// (and fails when CI=true).
package npm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
)

// Pinned versions; keep in sync with package.json.
const (
	oldSDKVersion = "1.0.4"  // npm alias sdk-old
	newSDKVersion = "1.32.2" // npm alias sdk-new
	oldRevision   = "2024-11-05"
	newRevision   = "2025-11-25"
)

// summary is what client.mjs prints on success.
type summary struct {
	SDK                      string `json:"sdk"`
	SDKVersion               string `json:"sdkVersion"`
	Transport                string `json:"transport"`
	SentProtocolVersion      string `json:"sentProtocolVersion"`
	ProtocolVersion          string `json:"protocolVersion"`
	TransportProtocolVersion string `json:"transportProtocolVersion"`
	ServerInfo               struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"serverInfo"`
	Tools    []string `json:"tools"`
	ToolCall struct {
		Name    string `json:"name"`
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
	} `json:"toolCall"`
	Resources []string `json:"resources"`
	Resource  struct {
		URI  string `json:"uri"`
		Text string `json:"text"`
	} `json:"resource"`
	Prompts []string `json:"prompts"`
	Prompt  struct {
		Name     string `json:"name"`
		Messages int    `json:"messages"`
		Text     string `json:"text"`
	} `json:"prompt"`
	SessionTerminated bool `json:"sessionTerminated"`
}

// requireNode skips (or, under CI=true, fails) when node or the pinned
// npm packages are not installed.
func requireNode(t *testing.T) string {
	t.Helper()
	missing := func(why string) {
		msg := why + "; run `make npm-deps` (cd testsuite/npm && npm ci) to enable the npm interop test"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found in PATH")
	}
	for _, p := range []string{
		"node_modules/sdk-old/package.json",
		"node_modules/sdk-new/package.json",
		"node_modules/eventsource/package.json",
		"node_modules/@modelcontextprotocol/server-everything/dist/index.js",
	} {
		if _, err := os.Stat(p); err != nil {
			missing("testsuite/npm/node_modules is missing or incomplete (" + p + ")")
		}
	}
	return node
}

// runClient runs client.mjs with args and decodes its summary.
func runClient(t *testing.T, node string, args ...string) summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"client.mjs"}, args...)...)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if testing.Verbose() || err != nil {
		t.Logf("client.mjs %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout.Bytes(), stderr.Bytes())
	}
	if err != nil {
		t.Fatalf("client.mjs: %v", err)
	}
	var s summary
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &s); err != nil {
		t.Fatalf("client.mjs summary: %v\n%s", err, stdout.Bytes())
	}
	return s
}

// checkVersions asserts the client negotiated its own revision, whatever
// the revision of the upstream behind the broker.
func checkVersions(t *testing.T, s summary, sdk, transport string) {
	t.Helper()
	wantSDK, wantRev := oldSDKVersion, oldRevision
	if sdk == "sdk-new" {
		wantSDK, wantRev = newSDKVersion, newRevision
	}
	if s.SDK != sdk || s.SDKVersion != wantSDK || s.Transport != transport {
		t.Errorf("client is %s %s over %s, want %s %s over %s", s.SDK, s.SDKVersion, s.Transport, sdk, wantSDK, transport)
	}
	if s.SentProtocolVersion != wantRev {
		t.Errorf("client offered %q, want %q", s.SentProtocolVersion, wantRev)
	}
	if s.ProtocolVersion != wantRev {
		t.Errorf("negotiated protocolVersion %q, want %q (the client's own revision)", s.ProtocolVersion, wantRev)
	}
	if transport == "http" && s.TransportProtocolVersion != wantRev {
		t.Errorf("SDK transport reports protocol version %q, want %q", s.TransportProtocolVersion, wantRev)
	}
}

// checkOwnServer asserts the summary of a session with old-server.mjs or
// new-server.mjs (called with greetArgs).
func checkOwnServer(t *testing.T, s summary, serverName string) {
	t.Helper()
	if s.ServerInfo.Name != serverName {
		t.Errorf("serverInfo.name %q, want %q", s.ServerInfo.Name, serverName)
	}
	if strings.Join(s.Tools, ",") != "echo,add" {
		t.Errorf("tools %v, want [echo add]", s.Tools)
	}
	if want := serverName + " echo: hello from npm"; s.ToolCall.IsError || s.ToolCall.Text != want {
		t.Errorf("echo: %+v, want text %q", s.ToolCall, want)
	}
	if s.Resource.URI != "npm://static/readme" || s.Resource.Text != "mcpbroker npm interop: static readme" {
		t.Errorf("resource: %+v", s.Resource)
	}
	if s.Prompt.Name != "greet" || s.Prompt.Messages != 1 || s.Prompt.Text != "Hello, Ada!" {
		t.Errorf("prompt: %+v", s.Prompt)
	}
}

// checkEverything asserts the summary of a session with server-everything.
func checkEverything(t *testing.T, s summary) {
	t.Helper()
	if !strings.Contains(s.ServerInfo.Name, "everything") {
		t.Errorf("serverInfo.name %q, want server-everything", s.ServerInfo.Name)
	}
	if len(s.Tools) < 2 || !contains(s.Tools, "echo") {
		t.Errorf("tools %v, want echo among several", s.Tools)
	}
	if s.ToolCall.IsError || s.ToolCall.Text != "Echo: through mcpbroker" {
		t.Errorf("echo: %+v", s.ToolCall)
	}
	if s.Resource.URI == "" || s.Resource.Text == "" {
		t.Errorf("resource: %+v", s.Resource)
	}
	if s.Prompt.Name == "" || s.Prompt.Messages == 0 {
		t.Errorf("prompt: %+v", s.Prompt)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestNPMInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node and the broker binary")
	}
	node := requireNode(t)
	bin := brokerproc.Build(t)
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	oldServer := node + " " + filepath.Join(dir, "old-server.mjs")
	newServer := node + " " + filepath.Join(dir, "new-server.mjs")
	everything := node + " " + filepath.Join(dir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js") + " stdio"
	greet := []string{"--prompt", "greet", "--prompt-args", `{"name":"Ada"}`}
	echoEverything := []string{"--tool-args", `{"message":"through mcpbroker"}`}

	// (a) sdk 1.0.4 client (legacy HTTP+SSE, the only HTTP transport it
	// has) -> broker -> newest-sdk server over stdio.
	t.Run("a-old-client-sse-to-new-server", func(t *testing.T) {
		t.Parallel()
		addr := brokerproc.Serve(t, bin, nil, "--upstream-cmd", newServer)
		s := runClient(t, node, append(greet, "sdk-old", "sse", "http://"+addr+"/sse")...)
		checkVersions(t, s, "sdk-old", "sse")
		checkOwnServer(t, s, "npm-new-server")
	})
	// (a') the same pair with the broker as the client's stdio child.
	t.Run("a-old-client-stdio-to-new-server", func(t *testing.T) {
		t.Parallel()
		s := runClient(t, node, append(greet, "sdk-old", "stdio", bin, "serve", "--stdio", "--upstream-cmd", newServer)...)
		checkVersions(t, s, "sdk-old", "stdio")
		checkOwnServer(t, s, "npm-new-server")
	})
	// (b) newest-sdk client (Streamable HTTP) -> broker -> sdk 1.0.4 server.
	t.Run("b-new-client-http-to-old-server", func(t *testing.T) {
		t.Parallel()
		addr := brokerproc.Serve(t, bin, nil, "--upstream-cmd", oldServer)
		s := runClient(t, node, append(greet, "sdk-new", "http", "http://"+addr+"/mcp")...)
		checkVersions(t, s, "sdk-new", "http")
		checkOwnServer(t, s, "npm-old-server")
		if !s.SessionTerminated {
			t.Errorf("session not terminated")
		}
	})
	// (c) newest-sdk client (Streamable HTTP) -> broker -> server-everything (stdio).
	// (d) sdk 1.0.4 client (legacy SSE) -> the same broker -> server-everything.
	t.Run("cd-server-everything", func(t *testing.T) {
		t.Parallel()
		addr := brokerproc.Serve(t, bin, nil, "--upstream-cmd", everything)
		t.Run("c-new-client-http", func(t *testing.T) {
			s := runClient(t, node, append(echoEverything, "sdk-new", "http", "http://"+addr+"/mcp")...)
			checkVersions(t, s, "sdk-new", "http")
			checkEverything(t, s)
		})
		t.Run("d-old-client-sse", func(t *testing.T) {
			s := runClient(t, node, append(echoEverything, "sdk-old", "sse", "http://"+addr+"/sse")...)
			checkVersions(t, s, "sdk-old", "sse")
			checkEverything(t, s)
		})
	})
	// (e) sdk 1.0.4 client (legacy SSE) -> broker -> server-everything
	// served over Streamable HTTP: the legacy SSE client reaches a
	// Streamable HTTP server (1.T1).
	t.Run("e-old-client-sse-to-everything-over-http", func(t *testing.T) {
		t.Parallel()
		port := startEverything(t, node, dir, "streamableHttp")
		addr := brokerproc.Serve(t, bin, nil, "--upstream-url", "http://127.0.0.1:"+port+"/mcp")
		s := runClient(t, node, append(echoEverything, "sdk-old", "sse", "http://"+addr+"/sse")...)
		checkVersions(t, s, "sdk-old", "sse")
		checkEverything(t, s)
	})
	// (f) newest-sdk client (Streamable HTTP) -> broker -> server-everything
	// served over the legacy HTTP+SSE transport: the other way round.
	t.Run("f-new-client-http-to-everything-over-sse", func(t *testing.T) {
		t.Parallel()
		port := startEverything(t, node, dir, "sse")
		addr := brokerproc.Serve(t, bin, nil, "--upstream-sse-url", "http://127.0.0.1:"+port+"/sse")
		s := runClient(t, node, append(echoEverything, "sdk-new", "http", "http://"+addr+"/mcp")...)
		checkVersions(t, s, "sdk-new", "http")
		checkEverything(t, s)
	})
}

// startEverything runs server-everything with one of its HTTP transports
// ("streamableHttp" or "sse") on a free loopback port, waits until it
// listens, and returns the port. It binds every interface (the package
// takes only PORT); cleanup kills it.
func startEverything(t *testing.T, node, dir, transport string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	cmd := exec.Command(node, filepath.Join(dir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), transport)
	cmd.Env = append(os.Environ(), "PORT="+port)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			t.Logf("server-everything %s: %s", transport, line)
			if strings.Contains(line, "port "+port) {
				ready <- nil
				break
			}
		}
		ready <- fmt.Errorf("server-everything %s ended before listening: %v", transport, sc.Err())
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("server-everything %s not listening on %s after 30 s", transport, port)
	}
	return port
}
