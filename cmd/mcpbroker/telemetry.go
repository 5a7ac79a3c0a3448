package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
)

// telemetryConfig is the observability part of serveConfig (squashed into
// it: the keys are top-level, like every other serve setting).
type telemetryConfig struct {
	OTelExporter    string `mapstructure:"otel-exporter"`
	OTelEndpoint    string `mapstructure:"otel-endpoint"`
	OTelHeaders     string `mapstructure:"otel-headers"`
	OTelInsecure    bool   `mapstructure:"otel-insecure"`
	OTelSampleRatio string `mapstructure:"otel-sample-ratio"`
	OTelServiceName string `mapstructure:"otel-service-name"`
	AdminListen     string `mapstructure:"admin-listen"`
	LogPayloads     bool   `mapstructure:"log-payloads"`
	AuditFile       string `mapstructure:"audit-file"`
}

// addTelemetryFlags adds the observability flags of serve. Their defaults
// are empty so that the OTEL_* environment variables apply when a flag is
// not given (docs/observability.md).
func addTelemetryFlags(f *pflag.FlagSet) {
	f.String("otel-exporter", "", "where traces and metrics go: none, otlp-grpc, otlp-http or stdout (standard error) (default: OTEL_TRACES_EXPORTER with OTEL_EXPORTER_OTLP_PROTOCOL, else none)")
	f.String("otel-endpoint", "", "OTLP collector: host:port or URL (default: OTEL_EXPORTER_OTLP_ENDPOINT, else localhost:4317 for gRPC, localhost:4318 for HTTP)")
	f.String("otel-headers", "", "headers of every OTLP export, as key=value,key2=value2 (default: OTEL_EXPORTER_OTLP_HEADERS)")
	f.Bool("otel-insecure", false, "plain-text OTLP (an http:// endpoint implies it; default: OTEL_EXPORTER_OTLP_INSECURE)")
	f.String("otel-sample-ratio", "", "fraction of new traces sampled, 0 to 1; a caller's traceparent decision is followed (default: OTEL_TRACES_SAMPLER[_ARG], else 1)")
	f.String("otel-service-name", "", "service.name of the broker's telemetry (default: OTEL_SERVICE_NAME, else mcpbroker)")
	f.String("admin-listen", "", "admin listener address (e.g. 127.0.0.1:9090) serving /metrics (Prometheus), /healthz and /readyz; empty: none")
	f.Bool("log-payloads", false, "log message payloads at debug level (they may carry secrets)")
	f.String("audit-file", "", "write audit events (docs/audit.md) as JSON lines to this file (appended, mode 0600), or to stdout or stderr; empty: none")
}

// openAudit opens the --audit-file sink: nil when none. Standard output
// is refused with --stdio, whose MCP stream it would corrupt.
func openAudit(c telemetryConfig, stdio bool) (*telemetry.Audit, error) {
	if stdio && (c.AuditFile == "stdout" || c.AuditFile == "-") {
		return nil, usageErr("--audit-file %s with --stdio: standard output is the MCP stream; use a file or stderr", c.AuditFile)
	}
	a, err := telemetry.OpenAudit(c.AuditFile)
	if err != nil {
		return nil, usageErr("--audit-file: %w", err)
	}
	return a, nil
}

// telemetryOptions is what serve needs of the configuration: the Config
// of telemetry.Setup.
func (c telemetryConfig) options() (telemetry.Config, error) {
	tc := telemetry.Config{
		Exporter:       telemetry.Exporter(c.OTelExporter),
		Endpoint:       c.OTelEndpoint,
		Insecure:       c.OTelInsecure,
		ServiceName:    c.OTelServiceName,
		ServiceVersion: buildVersion(),
		Prometheus:     c.AdminListen != "",
	}
	if c.OTelHeaders != "" {
		tc.Headers = map[string]string{}
		for _, kv := range strings.Split(c.OTelHeaders, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return tc, usageErr("--otel-headers: %q is not key=value", kv)
			}
			tc.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if c.OTelSampleRatio != "" {
		r, err := strconv.ParseFloat(c.OTelSampleRatio, 64)
		if err != nil || r < 0 || r > 1 {
			return tc, usageErr("--otel-sample-ratio must be a number from 0 to 1, not %q", c.OTelSampleRatio)
		}
		tc.SampleRatio = &r
	}
	return tc, nil
}

// startTelemetry sets up the broker's telemetry from cfg and, with
// --admin-listen, starts the admin listener (its address logged as
// "mcpbroker admin listening"). ctx ending makes /readyz answer 503. The
// returned stop closes the listener and flushes the exporters.
func startTelemetry(ctx context.Context, cfg telemetryConfig, logger *slog.Logger) (*telemetry.Provider, func(), error) {
	tc, err := cfg.options()
	if err != nil {
		return nil, nil, err
	}
	p, err := telemetry.Setup(ctx, tc)
	if err != nil {
		return nil, nil, usageErr("telemetry: %w", err)
	}
	flush := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			logger.Warn("telemetry: flushing on shutdown", "err", err)
		}
	}
	if cfg.AdminListen == "" {
		return p, flush, nil
	}
	ln, err := net.Listen("tcp", cfg.AdminListen)
	if err != nil {
		flush()
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("admin listen: %w", err)}
	}
	ready := func(context.Context) error {
		if ctx.Err() != nil {
			return errors.New("shutting down")
		}
		return nil
	}
	srv := &http.Server{Handler: telemetry.AdminHandler(p, ready), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("mcpbroker admin listening", "addr", ln.Addr().String(),
		"metrics", "http://"+ln.Addr().String()+"/metrics")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("admin listener stopped", "err", err)
		}
	}()
	return p, func() {
		_ = srv.Close()
		<-done
		flush()
	}, nil
}
