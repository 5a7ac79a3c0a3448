package jaegerproc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
)

// TestVersionPinned: the cache key is the version tools/jaeger builds.
func TestVersionPinned(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	mod, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "..", "tools", "jaeger", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "github.com/jaegertracing/jaeger " + Version; !strings.Contains(string(mod), want) {
		t.Errorf("tools/jaeger/go.mod does not require %s", want)
	}
}

// peer is a traced MCP peer outside the broker (the fixture client or
// server), exporting over OTLP/HTTP to Jaeger under its own service name.
type peer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

func newPeer(t *testing.T, j *Jaeger, service string) peer {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(j.OTLPHTTP+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return peer{tp: tp, tracer: tp.Tracer("fixture")}
}

// The trace context of the HTTP request in TestTelemetryToJaeger.
const (
	httpTraceID     = "0af7651916cd43dd8448eb211c80319c"
	httpSpanID      = "b7ad6b7169203331"
	httpTraceparent = "00-" + httpTraceID + "-" + httpSpanID + "-01"
)

// TestTelemetryToJaeger exports one tools/call through broker/telemetry
// to a real Jaeger, over OTLP gRPC and OTLP HTTP, and finds the whole
// trace there through the query API: the fixture client's span, the
// broker's SERVER, validation, translation and CLIENT spans, and the
// fixture server's span that continued the trace from params._meta,
// with their attributes, kinds, statuses, parent links, and the link to
// the HTTP request's context.
func TestTelemetryToJaeger(t *testing.T) {
	j := Start(t)
	tests := []struct {
		exporter telemetry.Exporter
		endpoint string
		fail     bool
	}{
		{telemetry.ExporterOTLPGRPC, j.OTLPGRPC, false},
		{telemetry.ExporterOTLPHTTP, j.OTLPHTTP, false},
		{telemetry.ExporterOTLPGRPC, "http://" + j.OTLPGRPC, true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s fail=%v", tt.exporter, tt.fail)
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			service := fmt.Sprintf("mcpbroker-test-%s-%d", tt.exporter, time.Now().UnixNano())
			one := 1.0
			p, err := telemetry.Setup(ctx, telemetry.Config{
				Exporter: tt.exporter, MetricsExporter: telemetry.ExporterNone, Endpoint: tt.endpoint, Insecure: true, SampleRatio: &one,
				ServiceName: service, ResourceAttributes: map[string]string{"deployment.environment.name": "test"},
			})
			if err != nil {
				t.Fatal(err)
			}
			client := newPeer(t, j, service+"-client")
			server := newPeer(t, j, service+"-server")

			// The fixture client calls a tool, with its trace context in _meta.
			cctx, clientSpan := client.tracer.Start(ctx, "tools/call echo", trace.WithSpanKind(trace.SpanKindClient))
			params, err := telemetry.InjectMeta(cctx, []byte(`{"name":"echo","arguments":{"text":"hi"}}`))
			if err != nil {
				t.Fatal(err)
			}

			// The broker: SERVER span, validation, translation, CLIENT span.
			// The HTTP request carried another trace context (a proxy's):
			// it becomes a link of the SERVER span.
			httpCtx := telemetry.ExtractHTTP(ctx, http.Header{"Traceparent": {httpTraceparent}})
			bctx, srv := p.StartServer(httpCtx, telemetry.Op{
				Method: "tools/call", ID: []byte(`3`), Params: params, SessionID: "sess-1",
				Revision: "2024-11-05", Transport: telemetry.TransportTCP, ProtocolName: "http", ProtocolVersion: "1.1",
			})
			_, v := p.StartValidation(bctx, telemetry.ClientSide, "2024-11-05", "tools/call")
			v.End(nil)
			_, tr := p.StartTranslation(bctx, "2024-11-05", "2025-11-25", "tools/call")
			tr.End(telemetry.TranslationResult{Outcome: "forward", Rows: []string{"1.F1"}})
			uctx, up := p.StartClient(bctx, telemetry.Op{
				Method: "tools/call", ID: []byte(`"b-3"`), Params: params, SessionID: "up-1",
				Revision: "2025-11-25", Transport: telemetry.TransportPipe,
			})
			sent, err := telemetry.InjectMeta(uctx, params)
			if err != nil {
				t.Fatal(err)
			}

			// The fixture server continues the trace from what it received.
			_, serverSpan := server.tracer.Start(telemetry.ExtractMeta(ctx, sent), "tools/call echo", trace.WithSpanKind(trace.SpanKindServer))
			serverSpan.End()
			result := telemetry.Result{}
			if tt.fail {
				result = telemetry.ResultOf("tools/call", nil, []byte(`{"code":-32602,"message":"Unknown tool: echo"}`))
			}
			up.End(result)
			srv.End(result)
			clientSpan.End()

			for _, tp := range []interface{ Shutdown(context.Context) error }{p, client.tp, server.tp} {
				if err := tp.Shutdown(ctx); err != nil {
					t.Fatal(err)
				}
			}

			traceID := clientSpan.SpanContext().TraceID().String()
			got := j.WaitTrace(t, traceID, 6, 30*time.Second)
			if len(got.Spans) != 6 {
				t.Fatalf("%d spans, want 6", len(got.Spans))
			}
			spanOf := func(name, svc, kind string) Span {
				t.Helper()
				var found []Span
				for _, s := range got.Find(name) {
					if k, _ := s.Tag("span.kind"); got.Service(s) == svc && k == kind {
						found = append(found, s)
					}
				}
				if len(found) != 1 {
					t.Fatalf("%d %s spans %q of %s", len(found), kind, name, svc)
				}
				return found[0]
			}
			cSpan := spanOf("tools/call echo", service+"-client", "client")
			bServer := spanOf("tools/call echo", service, "server")
			bValidate := spanOf(telemetry.SpanValidate, service, "internal")
			bTranslate := spanOf(telemetry.SpanTranslate, service, "internal")
			bClient := spanOf("tools/call echo", service, "client")
			sSpan := spanOf("tools/call echo", service+"-server", "server")

			links := []struct {
				name          string
				child, parent Span
			}{
				{"broker server <- client", bServer, cSpan},
				{"validation <- broker server", bValidate, bServer},
				{"translation <- broker server", bTranslate, bServer},
				{"broker client <- broker server", bClient, bServer},
				{"fixture server <- broker client", sSpan, bClient},
			}
			var follows []Reference
			for _, r := range bServer.References {
				if r.RefType == "FOLLOWS_FROM" {
					follows = append(follows, r)
				}
			}
			if len(follows) != 1 || follows[0].TraceID != httpTraceID || follows[0].SpanID != httpSpanID {
				t.Errorf("broker server span links %+v, want the HTTP context %s/%s", follows, httpTraceID, httpSpanID)
			}
			for _, l := range links {
				if l.child.Parent() != l.parent.SpanID {
					t.Errorf("%s: parent %q, want %q", l.name, l.child.Parent(), l.parent.SpanID)
				}
			}
			wantTags := []struct {
				span Span
				tags map[string]string
			}{
				{bServer, map[string]string{
					"span.kind": "server", "mcp.method.name": "tools/call", "gen_ai.tool.name": "echo",
					"gen_ai.operation.name": "execute_tool", "jsonrpc.request.id": "3", "mcp.session.id": "sess-1",
					"mcp.protocol.version": "2024-11-05", "network.transport": "tcp", "network.protocol.name": "http",
					"network.protocol.version": "1.1",
				}},
				{bClient, map[string]string{
					"span.kind": "client", "jsonrpc.request.id": "b-3", "mcp.session.id": "up-1",
					"mcp.protocol.version": "2025-11-25", "network.transport": "pipe",
				}},
				{bValidate, map[string]string{"span.kind": "internal", "mcpbroker.revision": "2024-11-05", "mcpbroker.side": "client"}},
				{bTranslate, map[string]string{
					"mcpbroker.translation.from": "2024-11-05", "mcpbroker.translation.to": "2025-11-25",
					"mcpbroker.translation.outcome": "forward",
				}},
			}
			if tt.fail {
				wantTags[0].tags["error.type"] = "-32602"
				wantTags[0].tags["rpc.response.status_code"] = "-32602"
				wantTags[0].tags["otel.status_code"] = "ERROR"
				wantTags[0].tags["otel.status_description"] = "Unknown tool: echo"
				wantTags[1].tags["error.type"] = "-32602"
			}
			for _, w := range wantTags {
				for k, v := range w.tags {
					if got, ok := w.span.Tag(k); !ok || got != v {
						t.Errorf("span %s (%s): %s = %q, want %q", w.span.OperationName, w.span.SpanID, k, got, v)
					}
				}
			}
			if _, ok := bServer.Tag("error.type"); ok && !tt.fail {
				t.Errorf("error.type on a successful call")
			}
			proc := got.Processes[bServer.ProcessID]
			found := false
			for _, kv := range proc.Tags {
				if kv.Key == "deployment.environment.name" && kv.Value == "test" {
					found = true
				}
			}
			if !found {
				t.Errorf("resource attribute missing from process %+v", proc)
			}

			// The service query finds the same trace.
			traces, err := j.Traces(ctx, service)
			if err != nil {
				t.Fatal(err)
			}
			if len(traces) != 1 || traces[0].TraceID != traceID {
				t.Errorf("traces of %s: %d, want the one trace", service, len(traces))
			}
		})
	}
	services, err := j.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(services) < 3 {
		t.Errorf("services %v", services)
	}
}

// TestStartFailsCleanly: a binary that is not Jaeger is reported, not
// waited for.
func TestStartFailsCleanly(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "not-jaeger")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'bind: address already in use' >&2\nexit 1\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := start(t, bin)
	if !errors.Is(err, errPortTaken) {
		t.Errorf("err = %v, want errPortTaken", err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'config invalid' >&2\nexit 2\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = start(t, bin)
	if err == nil || errors.Is(err, errPortTaken) || !strings.Contains(err.Error(), "config invalid") {
		t.Errorf("err = %v", err)
	}
}
