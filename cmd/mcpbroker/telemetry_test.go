package main

import (
	"path/filepath"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
)

// TestExampleJaegerConfig: examples/otel-jaeger.yaml loads without unknown
// keys and gives telemetry.Setup the OTLP gRPC exporter, the endpoint and
// Prometheus.
func TestExampleJaegerConfig(t *testing.T) {
	cfg, err := loadServeConfig(serveViper(t), filepath.Join("..", "..", "examples", "otel-jaeger.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cfg.Telemetry.options()
	if err != nil {
		t.Fatal(err)
	}
	if tc.Exporter != telemetry.ExporterOTLPGRPC || tc.Endpoint != "127.0.0.1:4317" || !tc.Insecure || !tc.Prometheus ||
		tc.SampleRatio == nil || *tc.SampleRatio != 1 || tc.ServiceName != "mcpbroker" {
		t.Errorf("example config gives %+v", tc)
	}
}

func TestTelemetryFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
		check   func(telemetry.Config) bool
	}{
		{"defaults leave OTEL_* in charge", nil, false, func(c telemetry.Config) bool {
			return c.Exporter == "" && c.Endpoint == "" && c.SampleRatio == nil && c.Headers == nil && !c.Prometheus
		}},
		{"headers", []string{"--otel-headers", "authorization=Bearer x, x-team=mcp"}, false, func(c telemetry.Config) bool {
			return c.Headers["authorization"] == "Bearer x" && c.Headers["x-team"] == "mcp" && len(c.Headers) == 2
		}},
		{"ratio", []string{"--otel-sample-ratio", "0.25"}, false, func(c telemetry.Config) bool {
			return c.SampleRatio != nil && *c.SampleRatio == 0.25
		}},
		{"admin turns Prometheus on", []string{"--admin-listen", "127.0.0.1:0"}, false, func(c telemetry.Config) bool { return c.Prometheus }},
		{"bad header", []string{"--otel-headers", "novalue"}, true, nil},
		{"ratio above 1", []string{"--otel-sample-ratio", "1.5"}, true, nil},
		{"ratio not a number", []string{"--otel-sample-ratio", "half"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadServeConfig(serveViper(t, tc.args...), "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.Telemetry.options()
			if (err != nil) != tc.wantErr {
				t.Fatalf("options: %v, want error %v", err, tc.wantErr)
			}
			if err == nil && !tc.check(got) {
				t.Errorf("options = %+v", got)
			}
		})
	}
}

func TestAuditFileFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg, err := loadServeConfig(serveViper(t, "--audit-file", file), "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := openAudit(cfg.Telemetry, false)
	if err != nil || a == nil {
		t.Fatalf("openAudit(%s) = %v, %v", file, a, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if a, err := openAudit(telemetryConfig{}, true); a != nil || err != nil {
		t.Errorf("no --audit-file: %v, %v; want none", a, err)
	}
	for _, dest := range []string{"stdout", "-"} {
		if _, err := openAudit(telemetryConfig{AuditFile: dest}, true); err == nil {
			t.Errorf("--audit-file %s with --stdio accepted", dest)
		}
	}
	if a, err := openAudit(telemetryConfig{AuditFile: "stderr"}, true); a == nil || err != nil {
		t.Errorf("--audit-file stderr with --stdio: %v, %v", a, err)
	}
	if _, err := openAudit(telemetryConfig{AuditFile: filepath.Join(t.TempDir(), "no", "such", "dir", "a")}, false); err == nil {
		t.Error("an audit file in a missing directory accepted")
	}
}
