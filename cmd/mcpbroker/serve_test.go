package main

import (
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
