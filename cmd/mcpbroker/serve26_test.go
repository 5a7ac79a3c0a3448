package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestEraMux checks which era's handler eraMux picks: 2026-07-28 and,
// outside a session, any version the broker does not know go to the
// bridge (which answers the latter -32022 with the supported versions);
// legacy versions, no header, and unknown versions inside a session or on
// GET go to the legacy handler.
func TestEraMux(t *testing.T) {
	for _, tc := range []struct {
		name, method, version, session string
		modern                         bool
	}{
		{"2026 POST", http.MethodPost, "2026-07-28", "", true},
		{"unknown version POST", http.MethodPost, "v999.0.0", "", true},
		{"unknown version POST in a session", http.MethodPost, "v999.0.0", "S1", false},
		{"unknown version GET", http.MethodGet, "v999.0.0", "", false},
		{"legacy version POST", http.MethodPost, "2025-11-25", "", false},
		{"legacy version POST in a session", http.MethodPost, "2025-06-18", "S1", false},
		{"no header", http.MethodPost, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := eraMux(
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = "legacy" }),
				http.HandlerFunc(func(http.ResponseWriter, *http.Request) { got = "modern" }),
			)
			r := httptest.NewRequest(tc.method, "/mcp", nil)
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
		})
	}
}
