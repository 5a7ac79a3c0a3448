package demo_test

import (
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// TestDemoTelemetry: with WithTelemetry the demo server gives every
// request a SERVER span that continues the trace in params._meta, with
// the convention's name and attributes and the outcome.
func TestDemoTelemetry(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	p, err := telemetry.NewProvider(tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := startInit(t, schemas.V20251125, []demo.Option{demo.WithTelemetry(p)})

	// The caller's span, as the broker's CLIENT span would be.
	caller, span := sdktrace.NewTracerProvider().Tracer("t").Start(context.Background(), "caller")
	span.End()
	params, err := telemetry.InjectMeta(caller, []byte(`{"name":"echo","arguments":{"text":"hi"}}`))
	if err != nil {
		t.Fatal(err)
	}
	h.call(t, "tools/call", json.RawMessage(params))
	_, err = h.client.Call(h.ctx, "tools/call", map[string]any{"name": "no_such_tool", "arguments": map[string]any{}})
	if err == nil {
		t.Fatal("tools/call of an unknown tool succeeded")
	}

	if err := p.Sync(h.ctx); err != nil { // spans end in the background
		t.Fatal(err)
	}
	var echo, unknown sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		switch sp.Name() {
		case "tools/call echo":
			echo = sp
		case "tools/call no_such_tool":
			unknown = sp
		}
	}
	if echo == nil || unknown == nil {
		t.Fatalf("missing spans; got %d ended", len(rec.Ended()))
	}
	if echo.SpanKind() != trace.SpanKindServer {
		t.Errorf("kind %v, want server", echo.SpanKind())
	}
	want := span.SpanContext()
	if got := echo.Parent(); got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsRemote() {
		t.Errorf("parent %s/%s, want the caller's %s/%s", got.TraceID(), got.SpanID(), want.TraceID(), want.SpanID())
	}
	got := map[string]string{}
	for _, kv := range echo.Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	for k, v := range map[string]string{"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo",
		"mcp.protocol.version": "2025-11-25", "network.transport": "pipe"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if echo.Status().Code != codes.Unset {
		t.Errorf("echo status %v", echo.Status())
	}
	if unknown.Status().Code != codes.Error || unknown.Parent().IsValid() {
		t.Errorf("unknown tool: status %v, parent %v; want an error and a root span", unknown.Status(), unknown.Parent())
	}
}

// TestDemoTelemetryOff: a no-op provider traces nothing and serves as
// usual.
func TestDemoTelemetryOff(t *testing.T) {
	p, err := telemetry.NewProvider(noop.NewTracerProvider(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := startInit(t, schemas.V20251125, []demo.Option{demo.WithTelemetry(p)})
	h.tool(t, "echo", map[string]any{"text": "hi"})
}
