package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

// serveViper returns the viper instance of a fresh serve command, with its
// flags bound and their defaults set.
func serveViper(t *testing.T, args ...string) *viper.Viper {
	t.Helper()
	cmd, v := newServeCmdViper()
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExampleConfig: examples/mcpbroker.yaml, as documented in
// docs/configuration.md, loads without unknown keys and sets what it says.
func TestExampleConfig(t *testing.T) {
	cfg, err := loadServeConfig(serveViper(t), filepath.Join("..", "..", "examples", "mcpbroker.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.UpstreamMode != "per-session" || cfg.UpstreamSpare != 1 ||
		cfg.MaxSessions != 10000 || cfg.SessionIdleTTL != 30*time.Minute || len(cfg.BindHeaders) != 1 || cfg.BindHeaders[0] != "Authorization" ||
		cfg.Cache != "on" || cfg.CacheMaxBytes != 64<<20 || cfg.CacheMaxTTL != time.Hour {
		t.Errorf("example config decoded as %+v", cfg)
	}
}

func TestConfigPrecedenceAndErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("upstream-max: 3\nupstream-mode: shared\nsession-bind-headers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCPBROKER_UPSTREAM_MAX", "5")
	cfg, err := loadServeConfig(serveViper(t, "--upstream-mode", "per-session"), file)
	if err != nil {
		t.Fatal(err)
	}
	// flag > environment > file > default
	if cfg.UpstreamMode != "per-session" || cfg.UpstreamMax != 5 || cfg.BindHeaders == nil || len(cfg.BindHeaders) != 0 {
		t.Errorf("decoded %+v", cfg)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("upstream-mdoe: shared\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadServeConfig(serveViper(t), bad); err == nil || !strings.Contains(err.Error(), "upstream-mdoe") {
		t.Errorf("a misspelt key: %v, want an error naming it", err)
	}
}

// Test4L3UpstreamRevisionAuto: --upstream-revision auto starts the 2026
// client and, for a legacy server, the legacy one over --upstream-url; it
// probes the same process over --upstream-cmd; it refuses
// --upstream-sse-url, whose transport is 2024-11-05's alone.
func Test4L3UpstreamRevisionAuto(t *testing.T) {
	for _, tc := range []struct {
		name       string
		cfg        serveConfig
		wantLegacy bool
		wantErr    bool
	}{
		{"url", serveConfig{UpstreamURL: "http://127.0.0.1:1/mcp", UpstreamRevision: "auto"}, true, false},
		{"cmd", serveConfig{UpstreamCmd: "demo", UpstreamRevision: "auto"}, false, false},
		{"sse", serveConfig{UpstreamSSEURL: "http://127.0.0.1:1/sse", UpstreamRevision: "auto"}, false, true},
		{"url pinned", serveConfig{UpstreamURL: "http://127.0.0.1:1/mcp", UpstreamRevision: "2026-07-28"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, legacyStart, describe, _, err := upstreamStarter(tc.cfg, slog.New(slog.DiscardHandler))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error (%s)", describe)
				}
				return
			}
			if err != nil || start == nil {
				t.Fatalf("upstreamStarter: %v", err)
			}
			if (legacyStart != nil) != tc.wantLegacy {
				t.Errorf("legacy start: %v, want %v", legacyStart != nil, tc.wantLegacy)
			}
		})
	}
}
