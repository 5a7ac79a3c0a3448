// Package spantest records the spans a test's tracer provider ends and
// lets the test wait for the ones it expects, without sleeping: every
// ended span wakes the waiters.
package spantest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// DefaultTimeout is how long Await waits when Recorder.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Recorder is a span processor (register it with
// sdktrace.WithSpanProcessor) that records ended spans.
type Recorder struct {
	*tracetest.SpanRecorder
	// Timeout bounds Await; zero means DefaultTimeout.
	Timeout time.Duration

	mu      sync.Mutex
	changed chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{SpanRecorder: tracetest.NewSpanRecorder(), changed: make(chan struct{})}
}

// OnEnd records sp and wakes the waiters.
func (r *Recorder) OnEnd(sp sdktrace.ReadOnlySpan) {
	r.SpanRecorder.OnEnd(sp)
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Await returns the ended spans once want accepts them, and fails tb
// (listing the ended spans) when the timeout passes first. what names
// the wait in that message.
func (r *Recorder) Await(tb testing.TB, what string, want func([]sdktrace.ReadOnlySpan) bool) []sdktrace.ReadOnlySpan {
	tb.Helper()
	timeout := r.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		spans := r.Ended()
		if want(spans) {
			return spans
		}
		select {
		case <-ch:
		case <-deadline.C:
			tb.Fatalf("timed out waiting for %s; ended spans:\n%s", what, Describe(spans))
			return nil
		}
	}
}

// Describe lists spans one per line: kind, name, span id, parent span id
// and attributes.
func Describe(spans []sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for _, sp := range spans {
		attrs := map[string]string{}
		for _, kv := range sp.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		fmt.Fprintf(&b, "%s %s %s parent %s %v\n", sp.SpanKind(), sp.Name(), sp.SpanContext().SpanID(), sp.Parent().SpanID(), attrs)
	}
	return b.String()
}
