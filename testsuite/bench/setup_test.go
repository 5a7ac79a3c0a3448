package bench

import (
	"context"
	"github.com/mcpbroker/mcpbroker/schemas"
	"testing"
	"time"
)

// noTimer stands in for a benchmark's timer in tests.
type noTimer struct{}

func (noTimer) StartTimer() {}
func (noTimer) StopTimer()  {}

// TestBenchSetup proves that the benchmarks' setup works, quickly enough
// for every CI run: one session and one echo round trip on each path of
// the latency benchmarks, and the idle-session measurement with a few
// sessions.
func TestBenchSetup(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	bridged := path{"bridge/2026-07-28-to-2024-11-05", startBridge(t, e.demo24.URL), schemas.V20260728}
	for _, p := range []path{e.direct25(), e.brokerSame(), e.direct24(), e.brokerTranslated(), bridged} {
		c := openPath(t, ctx, p, 1)
		if c.sse > 0 {
			t.Logf("%s: %d answers came as SSE rather than JSON", p.name, c.sse)
		}
	}
	// The lean client opens no GET stream, so neither does the broker
	// upstream (LazyGET, as serve wires it).
	for _, up := range []*endpoint{e.demo25, e.demo24} {
		if err := up.gets.wait(ctx, 0); err != nil {
			t.Error(err)
		}
	}
	// Production wiring in process, and every option (a child process
	// costs a validator build, slow under -race).
	for _, opts := range []idleOptions{
		{},
		{dropConn: true},
		{childDemo: true, clientGET: true, broker: brokerOptions{noUpstreamGET: true}},
	} {
		c := measureIdle(t, noTimer{}, 3, opts)
		if c.brokered.goroutines <= c.direct.goroutines {
			t.Errorf("%+v: brokered sessions added %d goroutines, direct ones %d: want more", opts, c.brokered.goroutines, c.direct.goroutines)
		}
	}
}
