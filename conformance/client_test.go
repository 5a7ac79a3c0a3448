package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/conformance"
)

// clientEnv makes the test binary act as an MCP client program (with the
// fault named by the value, "none" for a correct client) instead of
// running the tests; clientRevEnv is the revision it asks for.
const (
	clientEnv    = "CONFORMANCE_TEST_CLIENT"
	clientRevEnv = "CONFORMANCE_TEST_CLIENT_REV"
)

func TestMain(m *testing.M) {
	if fault := os.Getenv(clientEnv); fault != "" {
		if err := testClient(fault, os.Getenv(clientRevEnv), os.Getenv(conformance.ServerURLEnv), os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, "test client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testClient is a small Streamable HTTP client: initialize,
// notifications/initialized, tools/list, tools/call, DELETE; fault leaves
// one rule out.
func testClient(fault, rev, url, arg string) error {
	if url != arg {
		return fmt.Errorf("URL %q in the environment, %q as the last argument", url, arg)
	}
	sid := ""
	post := func(body string, omit string) error {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if fault == "bad-accept" && omit != "init" {
			req.Header.Set("Accept", "application/json")
		}
		if sid != "" && !(fault == "no-session" && omit == "tools") {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		if sid != "" && rev >= "2025-06-18" && fault != "no-version" {
			req.Header.Set("Mcp-Protocol-Version", rev)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if s := resp.Header.Get("Mcp-Session-Id"); s != "" {
			sid = s
		}
		// Read the answer (JSON, or SSE up to the response event).
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "data:") && strings.Contains(sc.Text(), `"id"`) {
				break
			}
		}
		return nil
	}
	if fault == "tools-first" {
		post(`{"jsonrpc":"2.0","id":0,"method":"tools/list"}`, "")
	}
	init := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"test-client","version":"1.0.0"}}}`, rev)
	if err := post(init, "init"); err != nil {
		return err
	}
	if fault != "no-initialized" {
		post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, "")
	}
	post(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, "tools")
	if fault == "invalid-message" {
		post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":42}}`, "")
	} else {
		post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`, "")
	}
	if sid != "" {
		req, _ := http.NewRequest(http.MethodDelete, url, nil)
		req.Header.Set("Mcp-Session-Id", sid)
		if rev >= "2025-06-18" && fault != "no-version" {
			req.Header.Set("Mcp-Protocol-Version", rev)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	return nil
}

func runClient(t *testing.T, fault, rev string) *conformance.Report {
	t.Helper()
	var stderr bytes.Buffer
	r := &conformance.ClientRunner{
		Command:   []string{os.Args[0]},
		Env:       []string{clientEnv + "=" + fault, clientRevEnv + "=" + rev},
		Timeout:   20 * time.Second,
		Validator: sharedValidator(t),
		Stderr:    &stderr,
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if stderr.Len() > 0 {
		t.Logf("client stderr: %s", stderr.String())
	}
	return rep
}

// TestClientChecks: a correct client passes every client check in every
// revision it may ask for; each seeded client fault fails exactly its
// check; every check has a fault.
func TestClientChecks(t *testing.T) {
	for _, rev := range []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"} {
		t.Run("correct/"+rev, func(t *testing.T) {
			rep := runClient(t, "none", rev)
			if rep.Revisions[0] != rev {
				t.Errorf("negotiated %v, want %s", rep.Revisions, rev)
			}
			for _, x := range rep.Results {
				if x.Status != conformance.Pass && x.Status != conformance.Skip {
					t.Errorf("%s: %s: %s", x.ID, x.Status, x.Reason)
				}
			}
		})
	}
	faults := map[string]string{
		"tools-first":     "client/initialize-first",
		"no-initialized":  "client/initialized-notification",
		"invalid-message": "client/valid-messages",
		"no-session":      "client/session-id",
		"no-version":      "client/protocol-version-header",
		"bad-accept":      "client/accept-header",
	}
	covered := map[string]bool{}
	for fault, want := range faults {
		covered[want] = true
		t.Run(fault, func(t *testing.T) {
			rep := runClient(t, fault, "2025-06-18")
			var got []string
			for _, x := range rep.Results {
				if x.Status == conformance.Fail || x.Status == conformance.Warn {
					got = append(got, x.ID)
					t.Logf("%s: %s", x.ID, x.Reason)
				}
			}
			sort.Strings(got)
			if !slices.Equal(got, []string{want}) {
				t.Errorf("failed %v, want [%s]", got, want)
			}
		})
	}
	for _, c := range conformance.ClientChecks() {
		if !covered[c.ID] {
			t.Errorf("client check %s has no seeded fault", c.ID)
		}
	}
}
