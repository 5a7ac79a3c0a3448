package bench

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/bridge"
	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// targetBridgeRatio is the bound for a stateless 2026-07-28
// tools/call through the bridge to a 2024-11-05 server on a pooled session,
// against the same-revision relay.
const targetBridgeRatio = 2.0

// startBridge starts the 2026-07-28 side of a broker in front of the
// Streamable HTTP endpoint upstreamURL, wired as serveHTTP wires it: a
// transport.HTTP2026Server whose one Conn is served by bridge.Serve, each
// lane a relay session with the production validation modes. It stops
// when tb ends and returns the MCP endpoint's URL.
func startBridge(tb testing.TB, upstreamURL string) string {
	tb.Helper()
	v, err := validator()
	if err != nil {
		tb.Fatal(err)
	}
	key, err := sealed.NewRandomKey()
	if err != nil {
		tb.Fatal(err)
	}
	sealer, err := sealed.New(sealed.Options{Keys: []sealed.Key{key}, Logger: discard})
	if err != nil {
		tb.Fatal(err)
	}
	copts := &transport.ClientOptions{Logger: discard, LazyGET: true}
	cfg := bridge.Config{
		Relay:  relay.Config{Validator: v, Logger: discard, ClientValidation: relay.Strict, ServerValidation: relay.Warn},
		Dial:   func(ctx context.Context) (transport.Conn, error) { return transport.DialHTTP(ctx, upstreamURL, copts) },
		Sealer: sealer,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := transport.NewHTTP2026Server(&transport.HTTP2026ServerOptions{MaxBodySize: serveMaxMessage, Logger: discard})
	srv := &http.Server{Handler: hs, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	ctx, cancel := context.WithCancel(pprof.WithLabels(context.Background(), pprof.Labels(profileLabel, "broker")))
	served := make(chan error, 1)
	bridged := make(chan error, 1)
	go func() {
		pprof.SetGoroutineLabels(ctx)
		served <- srv.Serve(ln)
	}()
	go func() {
		pprof.SetGoroutineLabels(ctx)
		conn, err := hs.Accept(ctx)
		if err != nil {
			bridged <- err
			return
		}
		defer conn.Close()
		bridged <- bridge.Serve(ctx, conn, cfg)
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-bridged; err != nil && !errors.Is(err, context.Canceled) {
			tb.Errorf("bridge: %v", err)
		}
		hs.Close()
		srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("bridge endpoint: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/mcp"
}

// BenchmarkBridgeLatency measures a stateless 2026-07-28 tools/call
// through the broker's bridge to a 2024-11-05 demo server over a pooled
// upstream session (REVISIONS.md 4.L1, 4.F7), interleaved with the
// same-revision relay (2025-11-25 on both sides) and with direct calls to
// both demos. It reports the p50 of each path, what the broker adds to
// each (p50 brokered - p50 direct), and the two ratios bridge/same-rev of
// the round trips and of the added latencies; the bound is 2x.
func BenchmarkBridgeLatency(b *testing.B) {
	e := newEnv(b)
	bridgeURL := startBridge(b, e.demo24.URL)
	ctx := asClient(b.Context())
	clients := []*rawClient{
		openPath(b, ctx, e.direct25(), warmupCalls),
		openPath(b, ctx, e.brokerSame(), warmupCalls),
		openPath(b, ctx, e.direct24(), warmupCalls),
		openPath(b, ctx, path{"bridge/2026-07-28-to-2024-11-05", bridgeURL, schemas.V20260728}, warmupCalls),
	}
	rtts := interleave(b, clients)
	d25, same := quantile(rtts[0], 0.5), quantile(rtts[1], 0.5)
	d24, bridged := quantile(rtts[2], 0.5), quantile(rtts[3], 0.5)
	b.ReportMetric(us(same), "p50-same-rev-µs")
	b.ReportMetric(us(bridged), "p50-bridge-µs")
	b.ReportMetric(us(same-d25), "added-same-rev-p50-µs")
	b.ReportMetric(us(bridged-d24), "added-bridge-p50-µs")
	b.ReportMetric(float64(bridged)/float64(same), "rtt-ratio")
	if same > d25 {
		ratio := float64(bridged-d24) / float64(same-d25)
		b.ReportMetric(ratio, "added-ratio")
		if ratio > targetBridgeRatio {
			b.Logf("the bridge adds %.2fx what the same-revision relay adds, over the bound %.1fx", ratio, targetBridgeRatio)
		}
	}
}
