package demo_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// TestServeHTTP2026Stats: GET /stats counts the requests the 2026-07-28
// server received, by method, answered or refused alike; other methods
// get 405.
func TestServeHTTP2026Stats(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	base, _ := serveHTTP(t, v2026)
	list := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}
	for range 2 {
		if status, code, _ := post26(ctx, t, "POST", base+demo.PathMCP, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{`+meta26+`}}`, list); status != http.StatusOK || code != 0 {
			t.Fatalf("tools/list: %d %d", status, code)
		}
	}
	read := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "resources/read", "Mcp-Name": "demo://nothing"}
	if _, code, _ := post26(ctx, t, "POST", base+demo.PathMCP, `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"demo://nothing",`+meta26+`}}`, read); code != -32602 {
		t.Fatalf("reading an unknown resource: error code %d, want -32602", code)
	}

	req, err := http.NewRequestWithContext(ctx, "GET", base+demo.PathStats, nil)
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
	if stats.Requests["tools/list"] != 2 || stats.Requests["resources/read"] != 1 || len(stats.Requests) != 2 {
		t.Errorf("requests %v, want 2 tools/list and 1 resources/read", stats.Requests)
	}
	if status, _, _ := post26(ctx, t, "POST", base+demo.PathStats, `{}`, nil); status != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", demo.PathStats, status)
	}
}
