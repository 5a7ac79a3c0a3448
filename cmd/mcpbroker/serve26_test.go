package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEraMux checks which era's handler eraMux picks: 2026-07-28 and,
// outside a session, any version the broker does not know go to the
// bridge (which answers the latter -32022 with the supported versions);
// legacy versions, no header, and unknown versions inside a session or on
// GET go to the legacy handler. Outside a session, a request (not
// initialize) whose _meta names a stateless or unknown revision goes to
// the bridge whatever its header says (it answers -32020, 4.T6), and the
// handler reads the whole body either way.
func TestEraMux(t *testing.T) {
	const meta26 = `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
	for _, tc := range []struct {
		name, method, version, session string
		body                           string
		modern                         bool
	}{
		{"2026 POST", http.MethodPost, "2026-07-28", "", "", true},
		{"unknown version POST", http.MethodPost, "v999.0.0", "", "", true},
		{"unknown version POST in a session", http.MethodPost, "v999.0.0", "S1", "", false},
		{"unknown version GET", http.MethodGet, "v999.0.0", "", "", false},
		{"legacy version POST", http.MethodPost, "2025-11-25", "", "", false},
		{"legacy version POST in a session", http.MethodPost, "2025-06-18", "S1", "", false},
		{"no header", http.MethodPost, "", "", "", false},
		// 4.T6: a legacy header on a 2026-07-28 request outside any
		// session is modern's to answer -32020.
		{"legacy header, 2026 _meta", http.MethodPost, "2025-11-25", "", meta26, true},
		{"no header, 2026 _meta", http.MethodPost, "", "", meta26, true},
		{"legacy header, unknown _meta", http.MethodPost, "2025-11-25", "", strings.Replace(meta26, "2026-07-28", "v999", 1), true},
		{"legacy header, 2026 _meta in a session", http.MethodPost, "2025-11-25", "S1", meta26, false},
		{"legacy header, legacy _meta", http.MethodPost, "2025-11-25", "", strings.Replace(meta26, "2026-07-28", "2025-11-25", 1), false},
		{"initialize with 2026 _meta", http.MethodPost, "2025-11-25", "", strings.Replace(meta26, "tools/list", "initialize", 1), false},
		{"notification with 2026 _meta", http.MethodPost, "", "", `{"jsonrpc":"2.0","method":"notifications/x","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, false},
		{"not JSON", http.MethodPost, "2025-11-25", "", "{", false},
		{"over the size limit", http.MethodPost, "2025-11-25", "", meta26 + strings.Repeat(" ", 1024), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, body string
			read := func(r *http.Request) string {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			h := eraMux(
				http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, body = "legacy", read(r) }),
				http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, body = "modern", read(r) }),
				512,
			)
			r := httptest.NewRequest(tc.method, "/mcp", strings.NewReader(tc.body))
			if tc.version != "" {
				r.Header.Set("MCP-Protocol-Version", tc.version)
			}
			if tc.session != "" {
				r.Header.Set("Mcp-Session-Id", tc.session)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			want := "legacy"
			if tc.modern {
				want = "modern"
			}
			if got != want {
				t.Errorf("went to %s, want %s", got, want)
			}
			if body != tc.body {
				t.Errorf("handler read body %q, want %q", body, tc.body)
			}
		})
	}
}
