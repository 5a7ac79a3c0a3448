package telemetry

import (
	"context"
	"reflect"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func collect(t *testing.T, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

func histogram(t *testing.T, rm metricdata.ResourceMetrics, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, not a float histogram", name, m.Data)
	}
	if m.Unit != "s" {
		t.Errorf("%s unit %q, want s", name, m.Unit)
	}
	return h.DataPoints
}

func sum(t *testing.T, rm metricdata.ResourceMetrics, name string) []metricdata.DataPoint[int64] {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, not an int sum", name, m.Data)
	}
	return s.DataPoints
}

func TestDurationHistograms(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	m := tp.Metrics()
	ctx := context.Background()
	op := Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"t"}`), SessionID: "s", Revision: "2025-06-18", Transport: TransportPipe}
	m.RecordOperation(ctx, trace.SpanKindServer, &op, Result{}, 15*time.Millisecond)
	m.RecordOperation(ctx, trace.SpanKindServer, &op, Result{}, 3*time.Second)
	m.RecordOperation(ctx, trace.SpanKindClient, &op, RPCError(-32603, "x"), 400*time.Second)
	s := Session{Side: ClientSide, ID: "s", Revision: "2025-06-18"}
	m.SessionStarted(ctx, &s)
	m.SessionEnded(ctx, &s, time.Minute, "")
	us := Session{Side: ServerSide, ID: "u"}
	m.SessionStarted(ctx, &us)
	m.SessionEnded(ctx, &us, time.Second, "")

	rm := tp.collect(t)
	for _, name := range []string{MetricServerOperationDuration, MetricClientOperationDuration, MetricServerSessionDuration, MetricClientSessionDuration} {
		pts := histogram(t, rm, name)
		if len(pts) != 1 {
			t.Fatalf("%s: %d points", name, len(pts))
		}
		if !reflect.DeepEqual(pts[0].Bounds, DurationBuckets()) {
			t.Errorf("%s bounds %v", name, pts[0].Bounds)
		}
		for _, kv := range pts[0].Attributes.ToSlice() {
			if kv.Key == AttrMCPSessionID || kv.Key == AttrJSONRPCRequestID {
				t.Errorf("%s carries %s", name, kv.Key)
			}
		}
	}
	srv := histogram(t, rm, MetricServerOperationDuration)[0]
	// 0.015 s falls in (0.01, 0.02], 3 s in (2, 5].
	if srv.Count != 2 || srv.BucketCounts[1] != 1 || srv.BucketCounts[8] != 1 {
		t.Errorf("server buckets %v count %d", srv.BucketCounts, srv.Count)
	}
	cli := histogram(t, rm, MetricClientOperationDuration)[0]
	if cli.BucketCounts[len(cli.BucketCounts)-1] != 1 {
		t.Errorf("400 s not in the overflow bucket: %v", cli.BucketCounts)
	}
	if v, _ := cli.Attributes.Value(AttrRPCResponseStatusCode); v.AsString() != "-32603" {
		t.Errorf("client rpc.response.status_code %q", v.AsString())
	}
	if got := attrMap(srv.Attributes.ToSlice()); !reflect.DeepEqual(got, map[string]string{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "t", "gen_ai.operation.name": "execute_tool",
		"mcp.protocol.version": "2025-06-18", "network.transport": "pipe"}) {
		t.Errorf("server attributes %v", got)
	}
}

func TestCounters(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	m := tp.Metrics()
	ctx := context.Background()
	m.UpstreamError(ctx, "demo", "timeout")
	m.UpstreamError(ctx, "demo", "timeout")
	m.UpstreamError(ctx, "demo", "exited")
	m.UpstreamRestarted(ctx, "demo")
	m.CacheLookup(ctx, "tools/list", true)
	m.CacheLookup(ctx, "tools/list", true)
	m.CacheLookup(ctx, "resources/read", false)
	m.TranslationDone(ctx, "2024-11-05", "2025-06-18", "forward")
	m.ValidationFailed(ctx, ClientSide, "2024-11-05")
	rm := tp.collect(t)

	flat := func(name string) map[string]int64 {
		out := map[string]int64{}
		for _, p := range sum(t, rm, name) {
			key := ""
			for _, kv := range p.Attributes.ToSlice() {
				key += string(kv.Key) + "=" + kv.Value.String() + " "
			}
			out[key] = p.Value
		}
		return out
	}
	tests := []struct {
		name string
		want map[string]int64
	}{
		{MetricUpstreamErrors, map[string]int64{"mcpbroker.error.kind=timeout mcpbroker.upstream=demo ": 2, "mcpbroker.error.kind=exited mcpbroker.upstream=demo ": 1}},
		{MetricUpstreamRestarts, map[string]int64{"mcpbroker.upstream=demo ": 1}},
		{MetricCacheHits, map[string]int64{"mcpbroker.cache.method=tools/list ": 2}},
		{MetricCacheMisses, map[string]int64{"mcpbroker.cache.method=resources/read ": 1}},
		{MetricTranslations, map[string]int64{"mcpbroker.translation.outcome=forward mcpbroker.translation.pair=2024-11-05->2025-06-18 ": 1}},
		{MetricValidationFailures, map[string]int64{"mcpbroker.revision=2024-11-05 mcpbroker.side=client ": 1}},
	}
	for _, tt := range tests {
		if got := flat(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
}
