package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Test4F2ServeCacheSettings: --cache is on by default, off with "off"
// (flag, environment or YAML, boolean or string), refused when it is
// neither; the caps must be positive.
func Test4F2ServeCacheSettings(t *testing.T) {
	dir := t.TempDir()
	yamlOff := filepath.Join(dir, "off.yaml")
	if err := os.WriteFile(yamlOff, []byte("cache: off\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yamlFalse := filepath.Join(dir, "false.yaml")
	if err := os.WriteFile(yamlFalse, []byte("cache: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     string // MCPBROKER_CACHE
		file    string
		wantOn  bool
		wantErr string
	}{
		{name: "default", wantOn: true},
		{name: "flag off", args: []string{"--cache", "off"}},
		{name: "flag on", args: []string{"--cache=on"}, wantOn: true},
		{name: "environment off", env: "off"},
		{name: "yaml off", file: yamlOff},
		{name: "yaml false", file: yamlFalse},
		{name: "flag wins over yaml", args: []string{"--cache", "on"}, file: yamlOff, wantOn: true},
		{name: "neither", args: []string{"--cache", "maybe"}, wantErr: "--cache must be on or off"},
		{name: "no bytes", args: []string{"--cache-max-bytes", "0"}, wantErr: "--cache-max-bytes must be positive"},
		{name: "negative ttl", args: []string{"--cache-max-ttl", "-1s"}, wantErr: "--cache-max-ttl must be positive"},
		{name: "off ignores the caps", args: []string{"--cache", "off", "--cache-max-bytes", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("MCPBROKER_CACHE", tt.env)
			}
			cfg, err := loadServeConfig(serveViper(t, tt.args...), tt.file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := newResponseCache(cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if on := c != nil; on != tt.wantOn {
				t.Errorf("cache on = %t, want %t", on, tt.wantOn)
			}
		})
	}
}
