package relay

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/telemetry/spantest"
)

// spanSink records the ended spans of a relay test.
type spanSink struct{ *spantest.Recorder }

func newSpanSink() *spanSink { return &spanSink{spantest.NewRecorder()} }

// telemetryHarness is a relay session traced into a span recorder and a
// manual metric reader.
type telemetryHarness struct {
	*harness
	spans  *spanSink
	reader *sdkmetric.ManualReader
}

func startTraced(t *testing.T, opts ...harnessOption) telemetryHarness {
	t.Helper()
	sink := newSpanSink()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	p, err := telemetry.NewProvider(tp, mp)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{Validator: testValidator(t), UpstreamRevision: 0, Telemetry: p}, opts...)
	h.handshake("2024-11-05", "2025-11-25", "2025-11-25", capsSampling, `{"tools":{}}`)
	return telemetryHarness{harness: h, spans: sink, reader: reader}
}

// The client's trace: its CLIENT span is the parent of the broker's SERVER
// span.
const (
	clientTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpanID  = "00f067aa0ba902b7"
	toolCall      = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"traceparent":"00-` +
		clientTraceID + `-` + clientSpanID + `-01"}}}`
)

func attrs(sp sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range sp.Attributes() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// find returns the spans of the client's trace with that name and kind.
func find(spans []sdktrace.ReadOnlySpan, kind trace.SpanKind, name string, where func(map[string]string) bool) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range spans {
		if sp.SpanKind() == kind && sp.Name() == name && (where == nil || where(attrs(sp))) {
			out = append(out, sp)
		}
	}
	return out
}

func has(spans []sdktrace.ReadOnlySpan, kind trace.SpanKind, name string) bool {
	return len(find(spans, kind, name, nil)) > 0
}

func one(tb testing.TB, spans []sdktrace.ReadOnlySpan, kind trace.SpanKind, name string, where func(map[string]string) bool) sdktrace.ReadOnlySpan {
	tb.Helper()
	got := find(spans, kind, name, where)
	if len(got) != 1 {
		tb.Fatalf("want one %s span %q, got %d:\n%s", kind, name, len(got), spantest.Describe(spans))
	}
	return got[0]
}

func wantAttrs(tb testing.TB, sp sdktrace.ReadOnlySpan, want map[string]string) {
	tb.Helper()
	got := attrs(sp)
	for k, v := range want {
		if got[k] != v {
			tb.Errorf("%s %q: %s = %q, want %q", sp.SpanKind(), sp.Name(), k, got[k], v)
		}
	}
}

func wantChild(tb testing.TB, child, parent sdktrace.ReadOnlySpan) {
	tb.Helper()
	if child.Parent().SpanID() != parent.SpanContext().SpanID() || child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		tb.Errorf("%s %q: parent %s, want %s %q (%s)", child.SpanKind(), child.Name(), child.Parent().SpanID(),
			parent.SpanKind(), parent.Name(), parent.SpanContext().SpanID())
	}
}

func wantStatus(tb testing.TB, sp sdktrace.ReadOnlySpan, errorType string) {
	tb.Helper()
	got := attrs(sp)["error.type"]
	if got != errorType {
		tb.Errorf("%s %q: error.type %q, want %q", sp.SpanKind(), sp.Name(), got, errorType)
	}
	wantCode := codes.Unset
	if errorType != "" {
		wantCode = codes.Error
	}
	if sp.Status().Code != wantCode {
		tb.Errorf("%s %q: status %v, want %v", sp.SpanKind(), sp.Name(), sp.Status().Code, wantCode)
	}
}

// TestTelemetryToolCall traces a 2024-11-05 client calling a tool on a
// 2025-11-25 server: the spans, their kinds, names, parents and
// attributes, and the traceparent the server receives.
func TestTelemetryToolCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		// answer is the server's response to the upstream id 2.
		answer     string
		errorType  string // of both the SERVER and the CLIENT span
		statusCode string
	}{
		{"success", `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"hi"}],"isError":false}}`, "", ""},
		{"rpc error", `{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"Unknown tool: echo"}}`, "-32602", "-32602"},
		{"tool error", `{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"boom"}],"isError":true}}`, "tool_error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startTraced(t)
			h.client.send(toolCall)
			up := h.server.recvObj()
			wantEq(t, "upstream id", up["id"], `2`)
			tp := str(get(up, "params", "_meta", "traceparent"))
			h.server.send(tc.answer)
			res := h.client.recvObj()
			wantEq(t, "client id", res["id"], `5`)

			spans := h.spans.Await(t, "the tools/call SERVER span", func(s []sdktrace.ReadOnlySpan) bool {
				return has(s, trace.SpanKindServer, "tools/call echo")
			})
			server := one(t, spans, trace.SpanKindServer, "tools/call echo", nil)
			client := one(t, spans, trace.SpanKindClient, "tools/call echo", nil)
			if got := server.Parent(); got.TraceID().String() != clientTraceID || got.SpanID().String() != clientSpanID || !got.IsRemote() {
				t.Errorf("SERVER parent = %s/%s, want the client's %s/%s", got.TraceID(), got.SpanID(), clientTraceID, clientSpanID)
			}
			wantChild(t, client, server)
			wantAttrs(t, server, map[string]string{
				"mcp.method.name": "tools/call", "jsonrpc.request.id": "5", "mcp.protocol.version": "2024-11-05",
				"gen_ai.tool.name": "echo", "gen_ai.operation.name": "execute_tool", "network.transport": "pipe",
				"rpc.response.status_code": tc.statusCode,
			})
			if attrs(server)["mcp.session.id"] == "" {
				t.Errorf("SERVER span without mcp.session.id")
			}
			wantAttrs(t, client, map[string]string{
				"mcp.method.name": "tools/call", "jsonrpc.request.id": "2", "mcp.protocol.version": "2025-11-25",
				"gen_ai.tool.name": "echo", "network.transport": "pipe", "rpc.response.status_code": tc.statusCode,
			})
			wantStatus(t, server, tc.errorType)
			wantStatus(t, client, tc.errorType)

			// The server continues the trace from the CLIENT span.
			want := `"00-` + clientTraceID + `-` + client.SpanContext().SpanID().String() + `-01"`
			if tp != want {
				t.Errorf("upstream traceparent = %s, want %s", tp, want)
			}

			// INTERNAL spans: validation of the request (client side) and of
			// the answer (server side, Warn mode), translation both ways.
			for _, in := range []struct {
				name  string
				attrs map[string]string
			}{
				{telemetry.SpanValidate, map[string]string{"mcpbroker.side": "client", "mcpbroker.revision": "2024-11-05", "mcp.method.name": "tools/call"}},
				{telemetry.SpanValidate, map[string]string{"mcpbroker.side": "server", "mcpbroker.revision": "2025-11-25", "mcp.method.name": "tools/call"}},
				{telemetry.SpanTranslate, map[string]string{"mcp.method.name": "tools/call", "mcpbroker.translation.from": "2024-11-05", "mcpbroker.translation.to": "2025-11-25", "mcpbroker.translation.outcome": "forward"}},
				{telemetry.SpanTranslate, map[string]string{"mcp.method.name": "tools/call", "mcpbroker.translation.from": "2025-11-25", "mcpbroker.translation.to": "2024-11-05", "mcpbroker.translation.outcome": "forward"}},
			} {
				sp := h.spans.Await(t, in.name, func(s []sdktrace.ReadOnlySpan) bool {
					return len(find(s, trace.SpanKindInternal, in.name, match(in.attrs))) == 1
				})
				wantChild(t, one(t, sp, trace.SpanKindInternal, in.name, match(in.attrs)), server)
			}

			// The operation durations were recorded with the error type.
			var rm metricdata.ResourceMetrics
			if err := h.reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"mcp.server.operation.duration", "mcp.client.operation.duration"} {
				if n := histogramCount(rm, name, "tools/call", tc.errorType); n != 1 {
					t.Errorf("%s{tools/call, error.type=%q} count = %d, want 1", name, tc.errorType, n)
				}
			}
		})
	}
}

func match(want map[string]string) func(map[string]string) bool {
	return func(got map[string]string) bool {
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return true
	}
}

// histogramCount sums the counts of the data points of histogram name with
// that method and error.type.
func histogramCount(rm metricdata.ResourceMetrics, name, method, errorType string) uint64 {
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if m.Name != name || !ok {
				continue
			}
			for _, dp := range h.DataPoints {
				mv, _ := dp.Attributes.Value(attribute.Key("mcp.method.name"))
				ev, _ := dp.Attributes.Value(attribute.Key("error.type"))
				if mv.AsString() == method && ev.AsString() == errorType {
					n += dp.Count
				}
			}
		}
	}
	return n
}

// TestTelemetrySampling traces a sampling round trip during a tool call:
// the server's request gets a SERVER span linked to the tool call and a
// CLIENT span toward the client, whose context the client receives.
func TestTelemetrySampling(t *testing.T) {
	h := startTraced(t)
	h.client.send(toolCall)
	h.server.recv()
	// On the tools/call's stream (related to upstream id 2).
	h.server.sendRel(`{"jsonrpc":"2.0","id":77,"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"hello?"}}],"maxTokens":10}}`, `2`)
	sreq := h.client.recvObj()
	wantEq(t, "sampling id at client", sreq["id"], `"mcpbroker-1"`)
	tp := str(get(sreq, "params", "_meta", "traceparent"))
	h.client.send(`{"jsonrpc":"2.0","id":"mcpbroker-1","result":{"role":"assistant","content":{"type":"text","text":"hello!"},"model":"m1"}}`)
	sresp := h.server.recvObj()
	wantEq(t, "sampling answer id", sresp["id"], `77`)
	h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"ok"}]}}`)
	h.client.recvObj()

	spans := h.spans.Await(t, "the sampling and tools/call spans", func(s []sdktrace.ReadOnlySpan) bool {
		return has(s, trace.SpanKindServer, "sampling/createMessage") && has(s, trace.SpanKindServer, "tools/call echo")
	})
	call := one(t, spans, trace.SpanKindServer, "tools/call echo", nil)
	srv := one(t, spans, trace.SpanKindServer, "sampling/createMessage", nil)
	cli := one(t, spans, trace.SpanKindClient, "sampling/createMessage", nil)
	wantChild(t, cli, srv)
	if links := srv.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != call.SpanContext().SpanID() {
		t.Errorf("sampling SERVER span links = %v, want the tools/call SERVER span %s", links, call.SpanContext().SpanID())
	}
	wantAttrs(t, srv, map[string]string{"mcp.method.name": "sampling/createMessage", "jsonrpc.request.id": "77", "mcp.protocol.version": "2025-11-25"})
	wantAttrs(t, cli, map[string]string{"mcp.method.name": "sampling/createMessage", "jsonrpc.request.id": "mcpbroker-1", "mcp.protocol.version": "2024-11-05"})
	wantStatus(t, srv, "")
	wantStatus(t, cli, "")
	if want := `"00-` + cli.SpanContext().TraceID().String() + `-` + cli.SpanContext().SpanID().String() + `-01"`; tp != want {
		t.Errorf("traceparent at the client = %s, want %s", tp, want)
	}
	if !srv.EndTime().After(cli.EndTime()) && !srv.EndTime().Equal(cli.EndTime()) {
		t.Errorf("sampling SERVER span ended before its CLIENT span")
	}
}

// TestTelemetryCancelled traces a tool call the client cancels: both spans
// of the call end with error.type cancelled, and the cancellation is a
// notification of its own, traced to the server.
func TestTelemetryCancelled(t *testing.T) {
	h := startTraced(t)
	h.client.send(toolCall)
	h.server.recv()
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"changed my mind"}}`)
	n := h.server.recvObj()
	wantEq(t, "upstream cancellation", get(n, "params", "requestId"), `2`)
	tp := str(get(n, "params", "_meta", "traceparent"))

	spans := h.spans.Await(t, "the cancelled call's spans", func(s []sdktrace.ReadOnlySpan) bool {
		return has(s, trace.SpanKindServer, "tools/call echo") && has(s, trace.SpanKindClient, "tools/call echo") &&
			has(s, trace.SpanKindClient, "notifications/cancelled") && has(s, trace.SpanKindServer, "notifications/cancelled")
	})
	wantStatus(t, one(t, spans, trace.SpanKindServer, "tools/call echo", nil), "cancelled")
	wantStatus(t, one(t, spans, trace.SpanKindClient, "tools/call echo", nil), "cancelled")
	ns := one(t, spans, trace.SpanKindServer, "notifications/cancelled", nil)
	nc := one(t, spans, trace.SpanKindClient, "notifications/cancelled", nil)
	wantChild(t, nc, ns)
	if want := `"00-` + nc.SpanContext().TraceID().String() + `-` + nc.SpanContext().SpanID().String() + `-01"`; tp != want {
		t.Errorf("traceparent of the upstream cancellation = %s, want %s", tp, want)
	}
	// A late answer changes nothing.
	h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"content":[]}}`)
}

// TestTelemetryOff checks that without telemetry the client's traceparent
// reaches the server as the client sent it.
func TestTelemetryOff(t *testing.T) {
	for _, p := range []*telemetry.Provider{nil, telemetry.Noop()} {
		h := start(t, Config{Validator: testValidator(t), Telemetry: p})
		h.handshake("2024-11-05", "2025-11-25", "2025-11-25", capsSampling, `{"tools":{}}`)
		h.client.send(toolCall)
		up := h.server.recvObj()
		wantEq(t, "upstream traceparent", get(up, "params", "_meta", "traceparent"), `"00-`+clientTraceID+`-`+clientSpanID+`-01"`)
	}
}

// TestTelemetrySession checks the session events on the initialize span
// and the active sessions gauge.
func TestTelemetrySession(t *testing.T) {
	h := startTraced(t)
	spans := h.spans.Await(t, "the initialize span", func(s []sdktrace.ReadOnlySpan) bool {
		return has(s, trace.SpanKindServer, "initialize")
	})
	init := one(t, spans, trace.SpanKindServer, "initialize", nil)
	wantAttrs(t, init, map[string]string{"mcp.protocol.version": "2024-11-05", "jsonrpc.request.id": "0"})
	var sides []string
	for _, e := range init.Events() {
		if e.Name == telemetry.EventSessionStart {
			for _, kv := range e.Attributes {
				if kv.Key == telemetry.AttrSide {
					sides = append(sides, kv.Value.AsString())
				}
			}
		}
	}
	if strings.Join(sides, ",") != "client,server" {
		t.Errorf("session start events for sides %v, want client,server", sides)
	}
}
