package telemetry

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TestEndInBackground checks that End leaves the span end and the
// measurement to the ender with End's time: the span ends at a time
// between End's start and return, and Sync sees it ended and measured.
func TestEndInBackground(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	ctx, srv := tp.StartServer(context.Background(), Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"echo"}`)})
	_, up := tp.StartClient(ctx, Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"echo"}`)})
	up.End(Result{})
	before := time.Now()
	srv.End(Result{})
	after := time.Now()
	spans := ended(t, tp, 2)
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer && (s.EndTime().Before(before) || s.EndTime().After(after)) {
			t.Errorf("SERVER span ended at %v, want End's time, between %v and %v", s.EndTime(), before, after)
		}
		if s.SpanKind() == trace.SpanKindClient && s.EndTime().After(before) {
			t.Errorf("CLIENT span ended at %v, after its End (before %v)", s.EndTime(), before)
		}
	}
	if pts := histogram(t, tp.collect(t), MetricServerOperationDuration); len(pts) != 1 || pts[0].Count != 1 {
		t.Errorf("server durations %+v, want one", pts)
	}
}

// TestEnderFull checks that End ends its call itself when enderMaxQueue
// calls wait already, and that Shutdown ends what was queued.
func TestEnderFull(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	// A goroutine that is said to run but does not: the queue fills.
	tp.ends.mu.Lock()
	tp.ends.running = true
	tp.ends.kick = make(chan struct{}, 1)
	tp.ends.mu.Unlock()
	for range enderMaxQueue {
		_, c := tp.StartServer(context.Background(), Op{Method: "ping", ID: []byte("1")})
		c.End(Result{})
	}
	if n := len(tp.spans.Ended()); n != 0 {
		t.Fatalf("%d spans ended with the queue not full, want 0", n)
	}
	_, c := tp.StartServer(context.Background(), Op{Method: "ping", ID: []byte("2")})
	c.End(Result{})
	if n := len(tp.spans.Ended()); n != 1 {
		t.Fatalf("%d spans ended with the queue full, want the one End ended itself", n)
	}
	// Shutdown waits for the queue: run the goroutine it was promised.
	go tp.ends.run()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(tp.spans.Ended()); n != enderMaxQueue+1 {
		t.Fatalf("%d spans ended after Shutdown, want %d", n, enderMaxQueue+1)
	}
	_, c = tp.StartServer(context.Background(), Op{Method: "ping", ID: []byte("3")})
	c.End(Result{})
	if n := len(tp.spans.Ended()); n != enderMaxQueue+2 {
		t.Fatalf("End after Shutdown did not end its call itself: %d spans ended", n)
	}
}

// TestEnderRestarts checks that the goroutine exits when idle and that
// the next End starts it again.
func TestEnderRestarts(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	exited := make(chan struct{}, 2)
	tp.ends.tick, tp.ends.linger = time.Millisecond, 2
	tp.ends.exited = func() { exited <- struct{}{} }
	for i := range 2 {
		_, c := tp.StartServer(context.Background(), Op{Method: "ping", ID: []byte("1")})
		c.End(Result{})
		ended(t, tp, i+1)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the ender did not exit when idle", i)
		}
	}
}
