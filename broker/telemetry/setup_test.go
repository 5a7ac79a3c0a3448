package telemetry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otelEnv lists the variables Setup and the SDK read; clearEnv empties
// them for a test so the machine's environment cannot leak in.
var otelEnv = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
	"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME",
	"OTEL_RESOURCE_ATTRIBUTES",
}

func clearEnv(t *testing.T) {
	for _, k := range otelEnv {
		t.Setenv(k, "")
	}
}

func TestResolveExporters(t *testing.T) {
	tests := []struct {
		name            string
		cfg, metricsCfg Exporter
		env             map[string]string
		want, wantM     Exporter
		wantErr         bool
	}{
		{"nothing set: off", "", "", nil, ExporterNone, ExporterNone, false},
		{"config", ExporterOTLPGRPC, "", nil, ExporterOTLPGRPC, ExporterOTLPGRPC, false},
		{"config wins over env", ExporterStdout, "", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, ExporterStdout, ExporterStdout, false},
		{"otlp defaults to http/protobuf", "", "", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, ExporterOTLPHTTP, ExporterOTLPHTTP, false},
		{"otlp grpc", "", "", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, ExporterOTLPGRPC, ExporterOTLPGRPC, false},
		{"per-signal protocol", "", "", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp",
			"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, ExporterOTLPHTTP, ExporterOTLPGRPC, false},
		{"console", "", "", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, ExporterStdout, ExporterStdout, false},
		{"metrics none by env", ExporterOTLPHTTP, "", map[string]string{"OTEL_METRICS_EXPORTER": "none"}, ExporterOTLPHTTP, ExporterNone, false},
		{"metrics config wins", ExporterOTLPHTTP, ExporterStdout, map[string]string{"OTEL_METRICS_EXPORTER": "none"}, ExporterOTLPHTTP, ExporterStdout, false},
		{"sdk disabled", "", "", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, ExporterNone, ExporterNone, false},
		{"unknown exporter", "zipkin", "", nil, "", "", true},
		{"unknown metrics exporter", "", "x", nil, "", "", true},
		{"unknown env exporter", "", "", map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, "", "", true},
		{"http/json unsupported", "", "", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := resolveExporter(tt.cfg)
			var gotM Exporter
			if err == nil {
				gotM, err = resolveMetricsExporter(tt.metricsCfg, got)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if !errors.Is(err, ErrConfig) {
					t.Errorf("error %v does not wrap ErrConfig", err)
				}
				return
			}
			if got != tt.want || gotM != tt.wantM {
				t.Errorf("exporters %q, %q; want %q, %q", got, gotM, tt.want, tt.wantM)
			}
		})
	}
}

func TestSetupInvalid(t *testing.T) {
	clearEnv(t)
	two, neg := 2.0, -0.1
	tests := []struct {
		name string
		cfg  Config
	}{
		{"ratio above 1", Config{Exporter: ExporterStdout, SampleRatio: &two}},
		{"negative ratio", Config{Exporter: ExporterStdout, SampleRatio: &neg}},
		{"endpoint scheme", Config{Exporter: ExporterOTLPHTTP, Endpoint: "ftp://x:1"}},
		{"endpoint without host", Config{Exporter: ExporterOTLPGRPC, Endpoint: "http://"}},
		{"exporter", Config{Exporter: "otlp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Setup(context.Background(), tt.cfg)
			if !errors.Is(err, ErrConfig) || p != nil {
				t.Errorf("Setup = %v, %v; want an ErrConfig", p, err)
			}
		})
	}
}

func TestSetupOff(t *testing.T) {
	clearEnv(t)
	p, err := Setup(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Tracing() || p.Metering() || p.PrometheusHandler() != nil {
		t.Errorf("telemetry on with nothing configured")
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestSetupStdout covers the resource (service.name precedence, resource
// attributes) and sampling precedence through the stdout exporter.
func TestSetupStdout(t *testing.T) {
	zero, one := 0.0, 1.0
	tests := []struct {
		name      string
		cfg       Config
		env       map[string]string
		wantSpans int
		wantInOut []string
	}{
		{"defaults", Config{}, nil, 1, []string{`"Value":"mcpbroker"`}},
		{"OTEL_SERVICE_NAME over the default", Config{}, map[string]string{"OTEL_SERVICE_NAME": "from-env"}, 1, []string{`"Value":"from-env"`}},
		{"config over OTEL_SERVICE_NAME", Config{ServiceName: "from-config", ServiceVersion: "1.2.3"},
			map[string]string{"OTEL_SERVICE_NAME": "from-env"}, 1, []string{`"Value":"from-config"`, `"Value":"1.2.3"`}},
		{"resource attributes over OTEL_RESOURCE_ATTRIBUTES", Config{ResourceAttributes: map[string]string{"team": "a"}},
			map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "team=b,region=eu"}, 1, []string{`"Key":"team","Value":{"Type":"STRING","Value":"a"}`, `"Value":"eu"`}},
		{"ratio 0", Config{SampleRatio: &zero}, nil, 0, nil},
		{"env sampler when no ratio", Config{}, map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, 0, nil},
		{"ratio over env sampler", Config{SampleRatio: &one}, map[string]string{"OTEL_TRACES_SAMPLER": "always_off"}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out bytes.Buffer
			cfg := tt.cfg
			cfg.Exporter, cfg.MetricsExporter, cfg.Output = ExporterStdout, ExporterNone, &out
			p, err := Setup(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, call := p.StartServer(context.Background(), Op{Method: "ping", ID: []byte("1")})
			call.End(Result{})
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(out.String(), `"Name":"ping"`); n != tt.wantSpans {
				t.Errorf("%d spans written, want %d:\n%s", n, tt.wantSpans, out.String())
			}
			for _, s := range tt.wantInOut {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %s:\n%s", s, out.String())
				}
			}
		})
	}
}

func TestPrometheusHandler(t *testing.T) {
	clearEnv(t)
	p, err := Setup(context.Background(), Config{Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	if p.Tracing() || !p.Metering() {
		t.Fatalf("tracing %v metering %v, want metrics only", p.Tracing(), p.Metering())
	}
	ctx := context.Background()
	_, call := p.StartServer(ctx, Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"echo"}`), Revision: "2025-06-18", Transport: TransportTCP})
	call.End(RPCError(-32602, "bad"))
	p.Metrics().TranslationDone(ctx, "2024-11-05", "2025-06-18", "forward")
	p.Metrics().CacheLookup(ctx, "tools/list", true)
	p.StartSession(ctx, Session{Side: ClientSide, Revision: "2024-11-05"})

	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`mcp_server_operation_duration_seconds_bucket{`,
		`error_type="-32602"`, `gen_ai_tool_name="echo"`, `mcp_method_name="tools/call"`, `le="0.01"`, `le="300"`,
		`mcpbroker_translations_total{`, `mcpbroker_translation_pair="2024-11-05->2025-06-18"`,
		`mcpbroker_cache_hits_total{`, `mcpbroker_sessions_active{`,
		`service_name="mcpbroker"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

// otlpReceiver is an in-process OTLP/HTTP receiver decoding what it gets.
type otlpReceiver struct {
	mu      sync.Mutex
	paths   []string
	auth    []string
	traces  []*colltrace.ExportTraceServiceRequest
	metrics []*collmetrics.ExportMetricsServiceRequest
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = append(r.paths, req.URL.Path)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	switch {
	case strings.HasSuffix(req.URL.Path, "/v1/traces"):
		m := &colltrace.ExportTraceServiceRequest{}
		err = proto.Unmarshal(body, m)
		r.traces = append(r.traces, m)
		if err == nil {
			b, _ := proto.Marshal(&colltrace.ExportTraceServiceResponse{})
			_, _ = w.Write(b)
		}
	case strings.HasSuffix(req.URL.Path, "/v1/metrics"):
		m := &collmetrics.ExportMetricsServiceRequest{}
		err = proto.Unmarshal(body, m)
		r.metrics = append(r.metrics, m)
		if err == nil {
			b, _ := proto.Marshal(&collmetrics.ExportMetricsServiceResponse{})
			_, _ = w.Write(b)
		}
	default:
		http.NotFound(w, req)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// TestSetupOTLPHTTP exports to an in-process receiver: the endpoint's
// path is a base for /v1/traces and /v1/metrics, headers are sent, and
// spans and metrics arrive with their attributes.
func TestSetupOTLPHTTP(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=from-env")
	rec := &otlpReceiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	p, err := Setup(context.Background(), Config{
		Exporter: ExporterOTLPHTTP, Endpoint: srv.URL + "/otlp", Headers: map[string]string{"Authorization": "Bearer t"},
		MetricInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, call := p.StartClient(context.Background(), Op{Method: "tools/call", ID: []byte("5"), Params: []byte(`{"name":"echo"}`), Transport: TransportPipe})
	call.End(ToolError(""))
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]bool{"/otlp/v1/traces": true, "/otlp/v1/metrics": true}
	for i, path := range rec.paths {
		if !want[path] {
			t.Errorf("unexpected path %s", path)
		}
		delete(want, path)
		if rec.auth[i] != "Bearer t" {
			t.Errorf("%s: Authorization %q, want the configured header", path, rec.auth[i])
		}
	}
	if len(want) > 0 {
		t.Errorf("nothing posted to %v", want)
	}
	var spanName, errType string
	for _, req := range rec.traces {
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spanName = s.Name
					for _, a := range s.Attributes {
						if a.Key == "error.type" {
							errType = a.Value.GetStringValue()
						}
					}
				}
			}
		}
	}
	if spanName != "tools/call echo" || errType != "tool_error" {
		t.Errorf("span %q error.type %q", spanName, errType)
	}
	found := false
	for _, req := range rec.metrics {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name == MetricClientOperationDuration && m.GetHistogram() != nil {
						found = len(m.GetHistogram().DataPoints) == 1
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("no %s histogram exported", MetricClientOperationDuration)
	}
}
