// Package npm proves interop with real third-party MCP peers from npm:
// the official TypeScript SDK at 1.0.4 (speaks only 2024-11-05) and at
// the newest pinned 1.x (speaks 2025-11-25), the reference
// server-everything, and the 2026-07-28 SDK (@modelcontextprotocol/server
// and /client 2.4.0), all pinned in package.json / package-lock.json.
// `make npm-deps` installs them; without node_modules the test skips
// (and fails when CI=true).
package npm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/prereq"
)

// Pinned versions; keep in sync with package.json.
const (
	oldSDKVersion = "1.0.4"  // npm alias sdk-old
	newSDKVersion = "1.32.2" // npm alias sdk-new
	oldRevision   = "2024-11-05"
	newRevision   = "2025-11-25"
	sdk26Version  = "2.4.0" // @modelcontextprotocol/server and /client
	rev26         = "2026-07-28"
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
	Tools     []string `json:"tools"`
	ToolCall  toolCall `json:"toolCall"`
	Ask       toolCall `json:"ask"`    // with --ask-tool
	Inputs    inputs   `json:"inputs"` // with --ask-tool
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

// toolCall is a tool's outcome in a summary.
type toolCall struct {
	Name    string `json:"name"`
	IsError bool   `json:"isError"`
	Text    string `json:"text"`
}

// inputs counts the server's requests for input that a client answered.
type inputs struct {
	Sampling    int `json:"sampling"`
	Elicitation int `json:"elicitation"`
}

// requireNode skips (or, under CI=true, fails) when node or the pinned
// npm packages are not installed.
func requireNode(t *testing.T) string {
	t.Helper()
	return prereq.NodeModules(t, "run `make npm-deps` (cd testsuite/npm && npm ci) to enable the npm interop test", ".",
		"node_modules/sdk-old/package.json",
		"node_modules/sdk-new/package.json",
		"node_modules/eventsource/package.json",
		"node_modules/@modelcontextprotocol/server-everything/dist/index.js",
		"node_modules/@modelcontextprotocol/server/package.json",
		"node_modules/@modelcontextprotocol/client/package.json",
	)
}

// runClient runs client.mjs with args and decodes its summary.
func runClient(t *testing.T, node string, args ...string) summary {
	t.Helper()
	var s summary
	runScript(t, node, "client.mjs", &s, args...)
	return s
}

// runScript runs the node script with args, fails the test if it fails
// (quoting the first line of its standard error, where the scripts put
// their error) and decodes its one-line JSON summary into out.
func runScript(t *testing.T, node, script string, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if testing.Verbose() || err != nil {
		t.Logf("%s %s\nstdout: %s\nstderr: %s", script, strings.Join(args, " "), stdout.Bytes(), stderr.Bytes())
	}
	if err != nil {
		first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		t.Fatalf("%s: %v: %s", script, err, first)
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), out); err != nil {
		t.Fatalf("%s summary: %v\n%s", script, err, stdout.Bytes())
	}
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
	startNode(t, "server-everything "+transport, node,
		[]string{filepath.Join(dir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), transport},
		[]string{"PORT=" + port}, regexp.MustCompile(`port (`+port+`)\b`))
	return port
}

// startNew26Server runs new-26-server.mjs over Streamable HTTP on a free
// loopback port, waits until it listens, and returns its URL; cleanup
// kills it.
func startNew26Server(t *testing.T, node, dir string) string {
	t.Helper()
	return startNode(t, "new-26-server", node, []string{filepath.Join(dir, "new-26-server.mjs"), "--port", "0"},
		nil, regexp.MustCompile(`npm-26-server listening on (http://\S+)`))
}

// startNode starts node with args and the extra environment env, waits
// (30 s at most) for a line of its standard error that ready matches, and
// returns the first submatch. Cleanup kills the process and, if the test
// failed, logs its standard error.
func startNode(t *testing.T, name, node string, args, env []string, ready *regexp.Regexp) string {
	t.Helper()
	cmd := exec.Command(node, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer // written by the reader until done is closed
	done := make(chan struct{})
	found := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			logged.Write(sc.Bytes())
			logged.WriteByte('\n')
			if m := ready.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-done
		if t.Failed() || testing.Verbose() {
			t.Logf("%s stderr:\n%s", name, logged.Bytes())
		}
	})
	select {
	case v, ok := <-found:
		if !ok {
			t.Fatalf("%s ended before listening", name)
		}
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s not listening after 30 s", name)
	}
	return ""
}

// summary26 is what new-26-client.mjs prints on success.
type summary26 struct {
	SDK             string `json:"sdk"`
	SDKVersion      string `json:"sdkVersion"`
	Negotiation     string `json:"negotiation"`
	Era             string `json:"era"`
	ProtocolVersion string `json:"protocolVersion"`
	ServerInfo      struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"serverInfo"`
	Tools     []string `json:"tools"`
	ToolCall  toolCall `json:"toolCall"`
	Ask       toolCall `json:"ask"`
	Inputs    inputs   `json:"inputs"`
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
	// FirstContact is the first HTTP request the SDK sent, with its body.
	FirstContact struct {
		HTTPMethod string            `json:"httpMethod"`
		Headers    map[string]string `json:"headers"`
		Status     int               `json:"status"`
		Body       struct {
			ID     any    `json:"id"`
			Method string `json:"method"`
			Params struct {
				ProtocolVersion string                     `json:"protocolVersion"`
				Meta            map[string]json.RawMessage `json:"_meta"`
			} `json:"params"`
		} `json:"body"`
	} `json:"firstContact"`
	// Wire is every HTTP request, in order: the JSON-RPC method of its
	// body, its MCP headers and the HTTP status of the answer.
	Wire []struct {
		HTTPMethod string            `json:"httpMethod"`
		Method     string            `json:"method"`
		Headers    map[string]string `json:"headers"`
		Status     int               `json:"status"`
	} `json:"wire"`
}

// run26Client runs new-26-client.mjs with args and decodes its summary.
func run26Client(t *testing.T, node string, args ...string) summary26 {
	t.Helper()
	var s summary26
	runScript(t, node, "new-26-client.mjs", &s, args...)
	if s.SDK != "@modelcontextprotocol/client" || s.SDKVersion != sdk26Version {
		t.Errorf("client is %s %s, want @modelcontextprotocol/client %s", s.SDK, s.SDKVersion, sdk26Version)
	}
	return s
}

// The request arguments and expected answers of new-26-server.mjs's tool
// ask, which needs input from the client (input_required, 2026-07-28).
const askQuestion = "why 2026?"

var (
	askBoth     = []string{"--ask-tool", "ask", "--ask-args", `{"question":"` + askQuestion + `"}`}
	askSampling = []string{"--ask-tool", "ask", "--ask-args", `{"question":"` + askQuestion + `","needs":"sampling"}`}
	greetAda    = []string{"--prompt", "greet", "--prompt-args", `{"name":"Ada"}`}
)

// checkNew26Server asserts what any client gets from new-26-server.mjs:
// its identity, echo, the resource and the prompt.
func checkNew26Server(t *testing.T, name, version string, tools []string, echo toolCall, resURI, resText, promptName string, promptMessages int, promptText string) {
	t.Helper()
	if name != "npm-26-server" || version != sdk26Version {
		t.Errorf("serverInfo %s %s, want npm-26-server %s", name, version, sdk26Version)
	}
	if strings.Join(tools, ",") != "echo,ask" {
		t.Errorf("tools %v, want [echo ask]", tools)
	}
	if want := "npm-26-server echo: hello from npm"; echo.IsError || echo.Text != want {
		t.Errorf("echo: %+v, want text %q", echo, want)
	}
	if resURI != "npm26://static/readme" || resText != "mcpbroker npm interop: 2026-07-28 readme" {
		t.Errorf("resource %q: %q", resURI, resText)
	}
	if promptName != "greet" || promptMessages != 1 || promptText != "Hello, Ada!" {
		t.Errorf("prompt %q: %d messages, %q", promptName, promptMessages, promptText)
	}
}

// checkAsk asserts the outcome of ask: the server got the client's
// sampling answer (prefixed by the client's own label) and, when
// elicited, its acceptance, each requested exactly once.
func checkAsk(t *testing.T, ask toolCall, in inputs, label string, elicited bool) {
	t.Helper()
	want := "sampled: " + label + " sampled: " + askQuestion
	wantIn := inputs{Sampling: 1}
	if elicited {
		want += "; elicited: accept ok=true"
		wantIn.Elicitation = 1
	}
	if ask.IsError || ask.Text != want {
		t.Errorf("ask: %+v, want text %q", ask, want)
	}
	if in != wantIn {
		t.Errorf("client answered %+v requests for input, want %+v", in, wantIn)
	}
}

// TestNPM2026Server: real 1.x SDK clients (2024-11-05 and 2025-11-25)
// through `mcpbroker serve` to a real 2026-07-28 server built on
// @modelcontextprotocol/server 2.4.0, reached over the stateless
// Streamable HTTP of 2026-07-28 and over stdio. The server's
// input_required rounds reach the legacy clients as sampling and
// elicitation requests.
func TestNPM2026Server(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node and the broker binary")
	}
	node := requireNode(t)
	bin := brokerproc.Build(t)
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, s summary, sdk, transport string) {
		t.Helper()
		checkVersions(t, s, sdk, transport)
		checkNew26Server(t, s.ServerInfo.Name, s.ServerInfo.Version, s.Tools, s.ToolCall,
			s.Resource.URI, s.Resource.Text, s.Prompt.Name, s.Prompt.Messages, s.Prompt.Text)
		// SDK 1.0.4 predates elicitation: it is asked for sampling only.
		checkAsk(t, s.Ask, s.Inputs, sdk, sdk == "sdk-new")
	}
	args := func(sdk string, rest ...string) []string {
		a := append([]string{}, greetAda...)
		if sdk == "sdk-new" {
			a = append(a, askBoth...)
		} else {
			a = append(a, askSampling...)
		}
		return append(append(a, sdk), rest...)
	}

	t.Run("http-upstream", func(t *testing.T) {
		t.Parallel()
		url := startNew26Server(t, node, dir)
		addr := brokerproc.Serve(t, bin, nil, "--upstream-url", url, "--upstream-revision", rev26)
		t.Run("sdk-new-http", func(t *testing.T) {
			s := runClient(t, node, args("sdk-new", "http", "http://"+addr+"/mcp")...)
			check(t, s, "sdk-new", "http")
			if !s.SessionTerminated {
				t.Errorf("session not terminated")
			}
		})
		t.Run("sdk-old-sse", func(t *testing.T) {
			s := runClient(t, node, args("sdk-old", "sse", "http://"+addr+"/sse")...)
			check(t, s, "sdk-old", "sse")
		})
	})
	stdioServer := node + " " + filepath.Join(dir, "new-26-server.mjs") + " --stdio"
	t.Run("stdio-upstream", func(t *testing.T) {
		t.Parallel()
		addr := brokerproc.Serve(t, bin, nil, "--upstream-cmd", stdioServer, "--upstream-revision", rev26)
		t.Run("sdk-new-http", func(t *testing.T) {
			s := runClient(t, node, args("sdk-new", "http", "http://"+addr+"/mcp")...)
			check(t, s, "sdk-new", "http")
		})
		t.Run("sdk-old-sse", func(t *testing.T) {
			s := runClient(t, node, args("sdk-old", "sse", "http://"+addr+"/sse")...)
			check(t, s, "sdk-old", "sse")
		})
	})
	// The broker as the stdio child of the client, its upstream its own
	// stdio child.
	t.Run("stdio-broker-stdio-upstream", func(t *testing.T) {
		t.Parallel()
		s := runClient(t, node, args("sdk-old", "stdio", bin, "serve", "--stdio", "--upstream-cmd", stdioServer, "--upstream-revision", rev26)...)
		check(t, s, "sdk-old", "stdio")
	})
}

// TestNPM2026ClientWire pins, without the broker, what the 2.4.0 client
// puts on the wire (the broker's /mcp routes on it) and checks the test's
// own 2026-07-28 peers against each other: with negotiation off the first
// request is a plain 2025-11-25 initialize without MCP headers; with
// auto or pin it is a server/discover probe carrying MCP-Protocol-Version
// and Mcp-Method headers and the _meta envelope; a legacy server's answer
// to the probe makes auto fall back to initialize.
func TestNPM2026ClientWire(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node")
	}
	node := requireNode(t)
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	url := startNew26Server(t, node, dir)

	t.Run("negotiation-off", func(t *testing.T) {
		t.Parallel()
		// The server's stateless legacy fallback cannot send requests to
		// the client, so ask is not called.
		s := run26Client(t, node, append(greetAda, "--negotiation", "legacy", "--ask-tool", "", url)...)
		fc := s.FirstContact
		if fc.HTTPMethod != "POST" || fc.Body.Method != "initialize" || fc.Body.Params.ProtocolVersion != newRevision {
			t.Errorf("first contact %s %s offering %q, want POST initialize offering %s", fc.HTTPMethod, fc.Body.Method, fc.Body.Params.ProtocolVersion, newRevision)
		}
		if len(fc.Headers) != 0 {
			t.Errorf("first contact has MCP headers %v, want none", fc.Headers)
		}
		if s.Era != "legacy" || s.ProtocolVersion != newRevision {
			t.Errorf("era %q at %q, want legacy at %s", s.Era, s.ProtocolVersion, newRevision)
		}
		checkNew26Server(t, s.ServerInfo.Name, s.ServerInfo.Version, s.Tools, s.ToolCall,
			s.Resource.URI, s.Resource.Text, s.Prompt.Name, s.Prompt.Messages, s.Prompt.Text)
	})
	for _, mode := range []string{"auto", "pin"} {
		t.Run("negotiation-"+mode, func(t *testing.T) {
			t.Parallel()
			s := run26Client(t, node, append(append(greetAda, askBoth...), "--negotiation", mode, url)...)
			checkProbe(t, s)
			if s.FirstContact.Status != 200 {
				t.Errorf("probe answered %d, want 200", s.FirstContact.Status)
			}
			if s.Era != "modern" || s.ProtocolVersion != rev26 {
				t.Errorf("era %q at %q, want modern at %s", s.Era, s.ProtocolVersion, rev26)
			}
			checkNew26Server(t, s.ServerInfo.Name, s.ServerInfo.Version, s.Tools, s.ToolCall,
				s.Resource.URI, s.Resource.Text, s.Prompt.Name, s.Prompt.Messages, s.Prompt.Text)
			checkAsk(t, s.Ask, s.Inputs, "npm-26-client", true)
			// Every request carries the version and method headers (and
			// tools/call the tool's name); there is no session and no GET
			// stream; ask took two rounds.
			asks := 0
			for i, w := range s.Wire {
				if w.HTTPMethod != "POST" || w.Headers["mcp-protocol-version"] != rev26 || w.Headers["mcp-method"] != w.Method || w.Headers["mcp-session-id"] != "" {
					t.Errorf("request %d: %s %s with headers %v", i, w.HTTPMethod, w.Method, w.Headers)
				}
				if w.Method == "tools/call" && w.Headers["mcp-name"] == "ask" {
					asks++
				}
			}
			if asks != 2 {
				t.Errorf("ask sent %d times, want 2 (the call and its retry with the input responses)", asks)
			}
		})
	}
	// A real 2025-11-25 server (server-everything on SDK 1.x, stateful
	// Streamable HTTP) answers the probe 400 "Server not initialized";
	// auto falls back to initialize and gets a working legacy session.
	t.Run("auto-to-legacy-server", func(t *testing.T) {
		t.Parallel()
		port := startEverything(t, node, dir, "streamableHttp")
		s := run26Client(t, node, "--negotiation", "auto",
			"--tool-args", `{"message":"through nothing"}`,
			"--ask-tool", "trigger-sampling-request", "--ask-args", `{"prompt":"`+askQuestion+`"}`,
			"http://127.0.0.1:"+port+"/mcp")
		checkProbe(t, s)
		if s.FirstContact.Status != 400 {
			t.Errorf("legacy server answered the probe %d, want 400", s.FirstContact.Status)
		}
		if len(s.Wire) < 2 || s.Wire[1].Method != "initialize" || len(s.Wire[1].Headers) != 0 {
			t.Errorf("after the probe: %+v, want initialize without MCP headers", s.Wire[1:min(2, len(s.Wire))])
		}
		if s.Era != "legacy" || s.ProtocolVersion != newRevision {
			t.Errorf("era %q at %q, want legacy at %s", s.Era, s.ProtocolVersion, newRevision)
		}
		if s.ToolCall.Text != "Echo: through nothing" {
			t.Errorf("echo: %+v", s.ToolCall)
		}
		if !strings.Contains(s.Ask.Text, "npm-26-client sampled: ") || s.Inputs.Sampling != 1 {
			t.Errorf("sampling: %+v after %+v", s.Ask, s.Inputs)
		}
	})
}

// checkProbe asserts the first request is the server/discover probe of
// the 2.4.0 client.
func checkProbe(t *testing.T, s summary26) {
	t.Helper()
	fc := s.FirstContact
	if fc.HTTPMethod != "POST" || fc.Body.Method != "server/discover" {
		t.Errorf("first contact %s %s, want POST server/discover", fc.HTTPMethod, fc.Body.Method)
	}
	if id, _ := fc.Body.ID.(string); !strings.HasPrefix(id, "server-discover-probe-") {
		t.Errorf("probe id %v, want a string server-discover-probe-N", fc.Body.ID)
	}
	want := map[string]string{"mcp-protocol-version": rev26, "mcp-method": "server/discover"}
	if fmt.Sprint(fc.Headers) != fmt.Sprint(want) {
		t.Errorf("probe headers %v, want %v", fc.Headers, want)
	}
	for _, k := range []string{"protocolVersion", "clientInfo", "clientCapabilities"} {
		if _, ok := fc.Body.Params.Meta["io.modelcontextprotocol/"+k]; !ok {
			t.Errorf("probe _meta lacks io.modelcontextprotocol/%s: %v", k, fc.Body.Params.Meta)
		}
	}
	if v := string(fc.Body.Params.Meta["io.modelcontextprotocol/protocolVersion"]); v != `"`+rev26+`"` {
		t.Errorf("probe _meta protocolVersion %s, want %q", v, rev26)
	}
}

// TestNPM2026ClientToLegacy: the 2026-07-28 client (2.4.0, pinned to
// 2026-07-28 or negotiating) through `mcpbroker serve` to legacy servers:
// server-everything (2025-11-25) and old-server.mjs (2024-11-05), both
// over stdio. The broker's /mcp must answer the client's server/discover
// probe and serve it as a 2026-07-28 client (translating the legacy
// server's sampling requests into input_required rounds).
func TestNPM2026ClientToLegacy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node and the broker binary")
	}
	node := requireNode(t)
	bin := brokerproc.Build(t)
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	everything := node + " " + filepath.Join(dir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js") + " stdio"
	oldServer := node + " " + filepath.Join(dir, "old-server.mjs")
	modern := func(t *testing.T, s summary26) {
		t.Helper()
		if s.Era != "modern" || s.ProtocolVersion != rev26 {
			t.Errorf("era %q at %q, want modern at %s (probe answered %d)", s.Era, s.ProtocolVersion, rev26, s.FirstContact.Status)
		}
	}
	checkEverything26 := func(t *testing.T, s summary26) {
		t.Helper()
		modern(t, s)
		if !strings.Contains(s.ServerInfo.Name, "everything") {
			t.Errorf("serverInfo.name %q, want server-everything", s.ServerInfo.Name)
		}
		if s.ToolCall.IsError || s.ToolCall.Text != "Echo: through mcpbroker" {
			t.Errorf("echo: %+v", s.ToolCall)
		}
		if s.Ask.IsError || !strings.Contains(s.Ask.Text, "npm-26-client sampled: ") || s.Inputs.Sampling != 1 {
			t.Errorf("sampling: %+v after %+v", s.Ask, s.Inputs)
		}
		if s.Resource.URI == "" || s.Resource.Text == "" {
			t.Errorf("resource: %+v", s.Resource)
		}
		if s.Prompt.Name == "" || s.Prompt.Messages == 0 {
			t.Errorf("prompt: %+v", s.Prompt)
		}
	}
	everythingArgs := []string{
		"--tool-args", `{"message":"through mcpbroker"}`,
		"--ask-tool", "trigger-sampling-request", "--ask-args", `{"prompt":"` + askQuestion + `"}`,
	}

	t.Run("everything", func(t *testing.T) {
		t.Parallel()
		addr := brokerproc.Serve(t, bin, nil, "--upstream-cmd", everything)
		for _, mode := range []string{"pin", "auto"} {
			t.Run(mode, func(t *testing.T) {
				s := run26Client(t, node, append(everythingArgs, "--negotiation", mode, "http://"+addr+"/mcp")...)
				checkProbe(t, s)
				checkEverything26(t, s)
			})
		}
	})
	t.Run("old-server", func(t *testing.T) {
		t.Parallel()
		addr := brokerproc.Serve(t, bin, nil, "--upstream-cmd", oldServer)
		s := run26Client(t, node, append(greetAda, "--ask-tool", "", "--negotiation", "pin", "http://"+addr+"/mcp")...)
		modern(t, s)
		if s.ServerInfo.Name != "npm-old-server" {
			t.Errorf("serverInfo.name %q, want npm-old-server", s.ServerInfo.Name)
		}
		if want := "npm-old-server echo: hello from npm"; s.ToolCall.IsError || s.ToolCall.Text != want {
			t.Errorf("echo: %+v, want text %q", s.ToolCall, want)
		}
		if s.Resource.URI != "npm://static/readme" || s.Resource.Text != "mcpbroker npm interop: static readme" {
			t.Errorf("resource: %+v", s.Resource)
		}
		if s.Prompt.Name != "greet" || s.Prompt.Messages != 1 || s.Prompt.Text != "Hello, Ada!" {
			t.Errorf("prompt: %+v", s.Prompt)
		}
	})
}
