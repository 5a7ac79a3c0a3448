package telemetry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestAttrCacheBounded: the cache keeps at most maxCachedSets entries,
// and past them still returns the right attributes.
func TestAttrCacheBounded(t *testing.T) {
	var c attrCache[string]
	build := func(v string) func([]attribute.KeyValue) []attribute.KeyValue {
		return func(dst []attribute.KeyValue) []attribute.KeyValue {
			return append(dst, AttrCacheMethod.String(v))
		}
	}
	for i := range maxCachedSets + 10 {
		v := fmt.Sprint("m", i)
		o := c.get(v, build(v))
		if len(o.rec) != 1 || len(o.add) != 1 {
			t.Fatalf("options %+v", o)
		}
	}
	if n := c.len(); n != maxCachedSets {
		t.Errorf("cache holds %d entries, want %d", n, maxCachedSets)
	}
	first := c.get("m0", build("m0"))
	if again := c.get("m0", build("m0")); &again.rec[0] != &first.rec[0] {
		t.Error("a cached entry was built again")
	}
}

// TestCachedMetricAttributes: measurements recorded through the cache carry
// the same attributes as the first, uncached one, per outcome.
func TestCachedMetricAttributes(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	m := tp.Metrics()
	ctx := context.Background()
	op := Op{Method: "tools/call", Params: []byte(`{"name":"t"}`), Revision: "2025-06-18", Transport: TransportTCP, ProtocolName: "http"}
	for range 3 {
		m.RecordOperation(ctx, trace.SpanKindServer, &op, Result{}, time.Millisecond)
		m.RecordOperation(ctx, trace.SpanKindServer, &op, RPCError(-32602, "x"), time.Millisecond)
		m.TranslationDone(ctx, "a", "b", "forward")
	}
	rm := tp.collect(t)
	points := histogram(t, rm, MetricServerOperationDuration)
	if len(points) != 2 {
		t.Fatalf("%d series, want 2 (success and error)", len(points))
	}
	for _, p := range points {
		if p.Count != 3 {
			t.Errorf("series %v has %d points, want 3", p.Attributes.ToSlice(), p.Count)
		}
		if v, ok := p.Attributes.Value(AttrGenAIToolName); !ok || v.AsString() != "t" {
			t.Errorf("series %v: no gen_ai.tool.name t", p.Attributes.ToSlice())
		}
	}
	if s := sum(t, rm, MetricTranslations); len(s) != 1 || s[0].Value != 3 {
		t.Errorf("translations %+v, want one series of 3", s)
	}
}

// TestSampledOutChildren: under a sampled-out SERVER span no CLIENT or
// INTERNAL span is started, the trace context still propagates (not
// sampled), and the metrics are recorded.
func TestSampledOutChildren(t *testing.T) {
	tp := newTestProvider(t, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)))
	ctx, srv := tp.StartServer(context.Background(), Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"x"}`)})
	if !SampledOut(ctx) {
		t.Fatal("the SERVER span's context is not reported sampled out")
	}
	vctx, v := tp.StartValidation(ctx, ClientSide, "2025-11-25", "tools/call")
	tctx, tr := tp.StartTranslation(ctx, "2025-11-25", "2024-11-05", "tools/call")
	cctx, cli := tp.StartClient(ctx, Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"x"}`)})
	for name, c := range map[string]context.Context{"validation": vctx, "translation": tctx, "client": cctx} {
		if c != ctx {
			t.Errorf("%s started a span under a sampled-out parent", name)
		}
	}
	sent, err := InjectMeta(cctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := trace.SpanContextFromContext(ctx)
	if got := ReadMeta(sent).Traceparent; got != "00-"+want.TraceID().String()+"-"+want.SpanID().String()+"-00" {
		t.Errorf("traceparent %q, want the SERVER span's, not sampled", got)
	}
	v.End(fmt.Errorf("bad"))
	tr.End(TranslationResult{Outcome: "forward"})
	cli.End(Result{})
	srv.End(Result{})
	ended(t, tp, 0)
	rm := tp.collect(t)
	if n := len(histogram(t, rm, MetricClientOperationDuration)); n != 1 {
		t.Errorf("client metric series = %d, want 1", n)
	}
	if s := sum(t, rm, MetricValidationFailures); len(s) != 1 || s[0].Value != 1 {
		t.Errorf("validation failures %+v", s)
	}
}
