package bridge

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/telemetry/spantest"
)

// spanLog records the ended spans of a bridge test.
type spanLog struct{ *spantest.Recorder }

// wait returns the one ended span match accepts, waiting for it.
func (s *spanLog) wait(tb testing.TB, what string, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	tb.Helper()
	var got []sdktrace.ReadOnlySpan
	s.Await(tb, what, func(spans []sdktrace.ReadOnlySpan) bool {
		got = got[:0]
		for _, sp := range spans {
			if match(sp) {
				got = append(got, sp)
			}
		}
		return len(got) > 0
	})
	if len(got) > 1 {
		tb.Fatalf("%d spans match %s", len(got), what)
	}
	return got[0]
}

func spanAttr(sp sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// serverSpan matches the SERVER span of request id at revision rev.
func serverSpan(rev string, id json.RawMessage) func(sdktrace.ReadOnlySpan) bool {
	return func(sp sdktrace.ReadOnlySpan) bool {
		return sp.SpanKind() == trace.SpanKindServer && spanAttr(sp, "mcp.protocol.version") == rev &&
			(id == nil || spanAttr(sp, "jsonrpc.request.id") == strings.Trim(string(id), `"`))
	}
}

func isChild(child, parent sdktrace.ReadOnlySpan) bool {
	return child.Parent().SpanID() == parent.SpanContext().SpanID() && child.SpanContext().TraceID() == parent.SpanContext().TraceID()
}

func tracedHarness(t *testing.T) (*harness, *spanLog) {
	t.Helper()
	sink := &spanLog{spantest.NewRecorder()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	p, err := telemetry.NewProvider(tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, withConfig(func(c *Config) { c.Relay.Telemetry = p })), sink
}

// TestBridgeTelemetry: a 2026-07-28 request gets a SERVER span from the
// bridge, its parent the caller's traceparent in _meta, ended when the
// InputRequiredResult is sent; the lane's relay SERVER span is its child
// (the context went down in the lane request's _meta), and the retry has
// a span of its own that ends with the final result.
func TestBridgeTelemetry(t *testing.T) {
	h, spans := tracedHarness(t)
	const (
		callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		callerSpan  = "00f067aa0ba902b7"
	)
	c := h.start("tools/call", toolCall(meta(capsAll, "traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")), "")
	if tp, _ := get(c.up.obj(), "params", "_meta", "traceparent").(string); !strings.Contains(tp, callerTrace) {
		t.Errorf("upstream traceparent %q, want the caller's trace %s", tp, callerTrace)
	}
	c.ask("srv-1", "elicitation/create", elicitationParams, true)
	reqs, state := c.inputRequired()

	first := spans.wait(t, "the bridge's SERVER span of round 1", serverSpan("2026-07-28", c.id))
	if first.Name() != "tools/call t" {
		t.Errorf("bridge span name %q", first.Name())
	}
	if got := first.Parent(); got.TraceID().String() != callerTrace || got.SpanID().String() != callerSpan {
		t.Errorf("bridge SERVER span's parent %s/%s, want the caller's", got.TraceID(), got.SpanID())
	}
	if first.Status().Code.String() == "Error" {
		t.Errorf("InputRequiredResult ended the span with an error: %v", first.Status())
	}

	rid := c.retry(state, obj{onlyKey(t, reqs): decodeObj([]byte(elicitAnswer))})
	h.upAnswer("srv-1")
	c.finish()
	h.result(rid)
	retry := spans.wait(t, "the bridge's SERVER span of the retry", serverSpan("2026-07-28", rid))
	if retry.SpanContext().TraceID().String() != callerTrace {
		t.Errorf("retry span in trace %s, want the caller's %s", retry.SpanContext().TraceID(), callerTrace)
	}

	// The lane's relay spans: SERVER (2025-11-25) under the bridge's span
	// of the request that started the call, CLIENT upstream under it.
	lane := spans.wait(t, "the lane's relay SERVER span of tools/call", func(sp sdktrace.ReadOnlySpan) bool {
		return serverSpan("2025-11-25", nil)(sp) && sp.Name() == "tools/call t"
	})
	if !isChild(lane, first) {
		t.Errorf("lane SERVER span's parent %s, want the bridge's SERVER span %s", lane.Parent().SpanID(), first.SpanContext().SpanID())
	}
	up := spans.wait(t, "the lane's CLIENT span", func(sp sdktrace.ReadOnlySpan) bool {
		return sp.SpanKind() == trace.SpanKindClient && sp.Name() == "tools/call t"
	})
	if !isChild(up, lane) {
		t.Errorf("upstream CLIENT span is not the child of the lane's SERVER span")
	}

	// Emulation spans (issue 7): the first request opened the pooled lane
	// and was answered with an MRTR round (4.M6), both under its span.
	for _, what := range []string{telemetry.EmulationPoolOpen, telemetry.EmulationMRTRRound} {
		em := spans.wait(t, "the "+what+" emulation span", emulation(what))
		if !isChild(em, first) {
			t.Errorf("%s span's parent %s, want the bridge's SERVER span %s", what, em.Parent().SpanID(), first.SpanContext().SpanID())
		}
		if got := spanAttr(em, "mcp.method.name"); got != "tools/call" {
			t.Errorf("%s span: mcp.method.name %q, want tools/call", what, got)
		}
	}
}

// TestBridgeTelemetryPoolHit: a second request with the same credentials
// and capabilities is served by the pooled lane the first one opened, and
// says so in a pool_hit emulation span under its own SERVER span.
func TestBridgeTelemetryPoolHit(t *testing.T) {
	h, spans := tracedHarness(t)
	c := h.start("tools/call", toolCall(meta(capsAll)), "")
	c.up.obj()
	c.finish()
	h.result(c.id)
	d := h.start("tools/call", toolCall(meta(capsAll)), "")
	d.up.obj()
	d.finish()
	h.result(d.id)
	second := spans.wait(t, "the SERVER span of the second request", serverSpan("2026-07-28", d.id))
	hit := spans.wait(t, "the pool_hit emulation span", emulation(telemetry.EmulationPoolHit))
	if !isChild(hit, second) {
		t.Errorf("pool_hit span's parent %s, want the second request's SERVER span %s", hit.Parent().SpanID(), second.SpanContext().SpanID())
	}
	first := spans.wait(t, "the SERVER span of the first request", serverSpan("2026-07-28", c.id))
	open := spans.wait(t, "the pool_open emulation span", emulation(telemetry.EmulationPoolOpen))
	if !isChild(open, first) {
		t.Errorf("pool_open span's parent %s, want the first request's SERVER span %s", open.Parent().SpanID(), first.SpanContext().SpanID())
	}
}

// emulation matches the mcpbroker.emulate span of that kind of work.
func emulation(what string) func(sdktrace.ReadOnlySpan) bool {
	return func(sp sdktrace.ReadOnlySpan) bool {
		return sp.SpanKind() == trace.SpanKindInternal && sp.Name() == telemetry.SpanEmulate && spanAttr(sp, "mcpbroker.emulation") == what
	}
}

// TestBridgeTelemetryLaneRequests: the bridge's own requests and
// notifications on a lane (initialize, notifications/initialized,
// logging/setLevel, the resources/subscribe of a listen) carry the trace
// context of the client request that caused them in params._meta, so the
// lane relay's spans and the upstream server's join that request's trace.
func TestBridgeTelemetryLaneRequests(t *testing.T) {
	h, spans := tracedHarness(t)
	const (
		callTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
		listenTrace = "0af7651916cd43dd8448eb211c80319c"
	)
	c := h.start("tools/call", toolCall(meta(capsAll, kLevel, "info", "traceparent", "00-"+callTrace+"-00f067aa0ba902b7-01")), "")
	for _, method := range []string{"initialize", "notifications/initialized", "logging/setLevel"} {
		got := h.up.log.all(isMethod(method))
		if len(got) != 1 {
			t.Fatalf("upstream got %d %s, want 1", len(got), method)
		}
		if tp, _ := get(got[0].obj(), "params", "_meta", "traceparent").(string); !strings.Contains(tp, callTrace) {
			t.Errorf("upstream %s traceparent %q, want the caller's trace %s", method, tp, callTrace)
		}
	}
	c.finish()
	h.result(c.id)
	bridgeSpan := spans.wait(t, "the bridge's SERVER span", serverSpan("2026-07-28", c.id))
	laneInit := spans.wait(t, "the lane relay's initialize", func(sp sdktrace.ReadOnlySpan) bool {
		return sp.SpanKind() == trace.SpanKindServer && sp.Name() == "initialize"
	})
	if !isChild(laneInit, bridgeSpan) {
		t.Errorf("lane initialize's parent %s, want the bridge's span of the request that opened the lane %s",
			laneInit.Parent().SpanID(), bridgeSpan.SpanContext().SpanID())
	}

	id := h.send(methodListen, obj{"notifications": obj{"resourceSubscriptions": []string{"file:///one"}},
		"_meta": meta(capsAll, "traceparent", "00-"+listenTrace+"-b7ad6b7169203331-01")}, "")
	h.ack(id)
	sub := h.up.log.wait(t, "the upstream resources/subscribe", isRequest("resources/subscribe"))
	if tp, _ := get(sub.obj(), "params", "_meta", "traceparent").(string); !strings.Contains(tp, listenTrace) {
		t.Errorf("upstream resources/subscribe traceparent %q, want the listen's trace %s", tp, listenTrace)
	}
}

// TestBridgeTelemetryInputAnswer: the answer the bridge gives the server's
// input request on the retry's behalf (4.M6) carries the retry's trace
// context to the lane (a response has no params._meta: Message.Trace), so
// the lane relay handles and sends it in the retry's trace.
func TestBridgeTelemetryInputAnswer(t *testing.T) {
	h, spans := tracedHarness(t)
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	c := h.start("tools/call", toolCall(meta(capsAll, "traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")), "")
	c.ask("srv-1", "elicitation/create", elicitationParams, true)
	reqs, state := c.inputRequired()
	rid := c.retry(state, obj{onlyKey(t, reqs): decodeObj([]byte(elicitAnswer))})
	h.upAnswer("srv-1")
	c.finish()
	h.result(rid)
	retry := spans.wait(t, "the bridge's SERVER span of the retry", serverSpan("2026-07-28", rid))
	answer := spans.wait(t, "the lane relay's validation of the answer", func(sp sdktrace.ReadOnlySpan) bool {
		return sp.Name() == telemetry.SpanValidate && spanAttr(sp, "mcp.method.name") == "elicitation/create" &&
			spanAttr(sp, "mcpbroker.side") == "client"
	})
	if !isChild(answer, retry) {
		t.Errorf("the lane's validation of the input answer has parent %s in trace %s, want the retry's span %s",
			answer.Parent().SpanID(), answer.SpanContext().TraceID(), retry.SpanContext().SpanID())
	}
}

// TestBridgeTelemetryClientAddress: a request's SERVER span names the
// HTTP client of its POST (transport.RequestPeerer).
func TestBridgeTelemetryClientAddress(t *testing.T) {
	h, spans := tracedHarness(t)
	c := h.start("tools/call", toolCall(meta(capsAll)), "")
	c.finish()
	h.result(c.id)
	sp := spans.wait(t, "the bridge's SERVER span", serverSpan("2026-07-28", c.id))
	for k, want := range map[string]string{
		"client.address": clientPeer.Address, "client.port": "40000", "network.transport": "tcp",
		"network.protocol.name": "http", "network.protocol.version": "2",
	} {
		if got := spanAttr(sp, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
