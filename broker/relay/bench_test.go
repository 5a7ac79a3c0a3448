package relay

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// autoServer is a scripted MCP server of one revision: it answers
// initialize and every tools/call, and ignores notifications.
func autoServer(ctx context.Context, conn transport.Conn, rev schemas.Revision) error {
	const result = `,"result":{"content":[{"type":"text","text":"sunny, 21 degrees"}],"isError":false}}`
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		msg, err := jsonrpc.Parse(m.Raw)
		if err != nil {
			return err
		}
		if msg.Kind != jsonrpc.KindRequest {
			continue
		}
		out := append([]byte(`{"jsonrpc":"2.0","id":`), msg.ID...)
		switch msg.Method {
		case "initialize":
			out = append(out, `,"result":{"protocolVersion":"`+rev.String()+`","capabilities":{"tools":{}},"serverInfo":{"name":"bench","version":"1"}}}`...)
		default:
			out = append(out, result...)
		}
		if err := conn.Send(ctx, transport.Message{Raw: out}); err != nil {
			return err
		}
	}
}

// The tools/call requests of the benchmarks: plain, and with a _meta
// (which the traced relay reads and rewrites).
var (
	benchCall     = transport.Message{Raw: []byte(`{"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"weather","arguments":{"city":"Paris"}}}`)}
	benchCallMeta = transport.Message{Raw: []byte(`{"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"weather","arguments":{"city":"Paris"},"_meta":{"progressToken":1}}}`)}
)

// benchSession starts a relay with cfg in front of an autoServer of
// revision upstream (stopped when b ends) and initializes a session of a
// client of revision client; it returns the context to call with.
func benchSession(b *testing.B, cfg Config, client, upstream schemas.Revision) (context.Context, *harness) {
	b.Helper()
	h := start(b, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	srv := make(chan error, 1)
	go func() { srv <- autoServer(ctx, h.server.conn, upstream) }()
	b.Cleanup(func() {
		cancel()
		if err := <-srv; err != nil {
			b.Errorf("server: %v", err)
		}
	})
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + client.String() +
		`","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	h.client.recv()
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return ctx, h
}

// relayedAnswer accepts a relayed tools/call answer of autoServer.
func relayedAnswer(raw []byte) bool { return len(raw) >= 40 && raw[len(raw)-2] == '}' }

// loopCalls is the benchmark loop: one round trip of req through h's
// relay per iteration, whose answer ok must accept.
func loopCalls(b *testing.B, ctx context.Context, h *harness, req transport.Message, ok func([]byte) bool) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		if err := h.client.conn.Send(ctx, req); err != nil {
			b.Fatal(err)
		}
		m, err := h.client.conn.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if !ok(m.Raw) {
			b.Fatalf("unexpected answer %s", m.Raw)
		}
	}
}

// BenchmarkRelay measures one tools/call round trip through the relay
// over the in-memory pipe: client -> relay -> server -> relay -> client.
func BenchmarkRelay(b *testing.B) {
	for _, bc := range []struct {
		name             string
		client, upstream schemas.Revision
	}{
		{"same-2025-11-25", schemas.V20251125, schemas.V20251125},
		{"2025-11-25-to-2024-11-05", schemas.V20251125, schemas.V20241105},
	} {
		for _, validate := range []bool{true, false} {
			name := bc.name + "/validate=" + strconv.FormatBool(validate)
			b.Run(name, func(b *testing.B) {
				cfg := Config{UpstreamRevision: bc.upstream, Logger: slog.New(slog.DiscardHandler)}
				if validate {
					cfg.Validator = testValidator(b)
				}
				ctx, h := benchSession(b, cfg, bc.client, bc.upstream)
				loopCalls(b, ctx, h, benchCall, relayedAnswer)
			})
		}
	}
}

// benchDiscard drops exported spans, as an exporter to an absent backend
// would after encoding them.
type benchDiscard struct{}

func (benchDiscard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (benchDiscard) Shutdown(context.Context) error                             { return nil }

// BenchmarkRelayTelemetry measures the relay's own telemetry cost per
// translated tools/call (2025-11-25 client, 2024-11-05 server, validation
// on) over the in-memory pipe, with no transport to hide it: telemetry
// off, the hooks alone (no-op meter provider), metrics alone, tracing
// sampled out (ratio 0) with metrics, and every span recorded (ratio 1,
// batch processor, discarding exporter) with metrics.
func BenchmarkRelayTelemetry(b *testing.B) {
	provider := func(b *testing.B, tracing bool, ratio float64, meter bool) *telemetry.Provider {
		var tp trace.TracerProvider
		var mp metric.MeterProvider = metricnoop.NewMeterProvider()
		if tracing {
			sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(benchDiscard{}),
				sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
			b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
			tp = sdk
		}
		if meter {
			sdk := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
			mp = sdk
		}
		p, err := telemetry.NewProvider(tp, mp)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	for _, bc := range []struct {
		name    string
		tracing bool
		ratio   float64
		meter   bool
		off     bool
	}{
		{name: "off", off: true},
		{name: "hooks"},
		{name: "metrics", meter: true},
		{name: "sampled-out", tracing: true, ratio: 0, meter: true},
		{name: "sampled", tracing: true, ratio: 1, meter: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Config{UpstreamRevision: schemas.V20241105, Logger: slog.New(slog.DiscardHandler), Validator: testValidator(b)}
			if !bc.off {
				cfg.Telemetry = provider(b, bc.tracing, bc.ratio, bc.meter)
			}
			ctx, h := benchSession(b, cfg, schemas.V20251125, schemas.V20241105)
			loopCalls(b, ctx, h, benchCallMeta, relayedAnswer)
		})
	}
}
