package telemetry

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

var benchParams = []byte(`{"name":"get-weather","arguments":{"city":"Paris","days":3,"units":"metric","detail":{"hourly":true,"alerts":["wind","rain"]}},"_meta":{"progressToken":"p-1","traceparent":"` + tp1 + `"}}`)

// benchProviders are the telemetry settings the relay's hot path runs
// under: off, tracing with every trace sampled out, every trace sampled
// (exported through a batcher to a discarding exporter), and sampled plus
// metrics.
func benchProviders(b *testing.B) map[string]*Provider {
	b.Helper()
	mk := func(sampler sdktrace.Sampler, metrics bool) *Provider {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()), sdktrace.WithSampler(sampler))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		var p *Provider
		var err error
		if metrics {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			p, err = NewProvider(tp, mp)
		} else {
			p, err = NewProvider(tp, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	return map[string]*Provider{
		"off":             Noop(),
		"sampled-out":     mk(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)), false),
		"sampled":         mk(sdktrace.ParentBased(sdktrace.AlwaysSample()), false),
		"sampled+metrics": mk(sdktrace.ParentBased(sdktrace.AlwaysSample()), true),
	}
}

// BenchmarkHop is what the relay adds per relayed tools/call: the SERVER
// span of the client's request (parent from _meta), the CLIENT span of
// the upstream request with the trace context injected into its params,
// and both ended with the response. Sampled-out uses a _meta without a
// sampled parent, so the ratio decides.
func BenchmarkHop(b *testing.B) {
	unsampledParams := []byte(`{"name":"get-weather","arguments":{"city":"Paris","days":3,"units":"metric","detail":{"hourly":true,"alerts":["wind","rain"]}},"_meta":{"progressToken":"p-1"}}`)
	result := []byte(`{"content":[{"type":"text","text":"sunny"}],"isError":false}`)
	for _, name := range []string{"off", "sampled-out", "sampled", "sampled+metrics"} {
		p := benchProviders(b)[name]
		params := benchParams
		if name == "sampled-out" {
			params = unsampledParams
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			id := []byte("7") // as parsed from the message: no allocation
			b.ReportAllocs()
			for b.Loop() {
				sctx, srv := p.StartServer(ctx, Op{Method: "tools/call", ID: id, Params: params, SessionID: "s", Revision: "2024-11-05", Transport: TransportTCP})
				cctx, cli := p.StartClient(sctx, Op{Method: "tools/call", ID: id, Params: params, SessionID: "u", Revision: "2025-11-25", Transport: TransportPipe})
				if p.Tracing() {
					if _, err := InjectMeta(cctx, params); err != nil {
						b.Fatal(err)
					}
				}
				r := Result{}
				if p.Metering() || p.Tracing() {
					r = ResultOf("tools/call", result, nil)
				}
				cli.End(r)
				srv.End(r)
			}
		})
	}
}

// BenchmarkInternal is a validation and a translation span.
func BenchmarkInternal(b *testing.B) {
	for _, name := range []string{"off", "sampled-out", "sampled", "sampled+metrics"} {
		p := benchProviders(b)[name]
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			rows := []string{"1.F1"} // as the translator returns them
			b.ReportAllocs()
			for b.Loop() {
				_, v := p.StartValidation(ctx, ClientSide, "2024-11-05", "tools/call")
				v.End(nil)
				_, tr := p.StartTranslation(ctx, "2024-11-05", "2025-11-25", "tools/call")
				tr.End(TranslationResult{Outcome: "forward", Rows: rows})
			}
		})
	}
}

func BenchmarkHelpers(b *testing.B) {
	ctx := ExtractMeta(context.Background(), benchParams)
	carrier := ReadMeta(benchParams)
	noMeta := []byte(`{"name":"get-weather","arguments":{"city":"Paris","days":3,"units":"metric","detail":{"hourly":true,"alerts":["wind","rain"]}}}`)
	msg := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":` + string(benchParams) + `}`)
	benches := []struct {
		name string
		fn   func(b *testing.B)
	}{
		{"ParseTarget", func(b *testing.B) { _ = ParseTarget("tools/call", benchParams) }},
		{"ReadMeta", func(b *testing.B) { _ = ReadMeta(benchParams) }},
		{"ExtractMeta", func(b *testing.B) { _ = ExtractMeta(context.Background(), benchParams) }},
		{"ExtractMeta/none", func(b *testing.B) { _ = ExtractMeta(context.Background(), noMeta) }},
		{"WriteMeta/replace", func(b *testing.B) { _, _ = WriteMeta(benchParams, carrier) }},
		{"WriteMeta/add", func(b *testing.B) { _, _ = WriteMeta(noMeta, carrier) }},
		{"InjectMeta", func(b *testing.B) { _, _ = InjectMeta(ctx, benchParams) }},
		{"InjectMessage", func(b *testing.B) { _, _ = InjectMessage(ctx, msg) }},
		{"ResultOf/error", func(b *testing.B) {
			_ = ResultOf("tools/call", nil, []byte(`{"code":-32602,"message":"Unknown tool"}`))
		}},
		{"SpanName", func(b *testing.B) { _ = SpanName("tools/call", "get-weather") }},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bb.fn(b)
			}
		})
	}
}
