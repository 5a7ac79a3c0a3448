package transport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

const (
	traceIDHex = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanIDHex  = "00f067aa0ba902b7"
	wantTP     = "00-" + traceIDHex + "-" + spanIDHex + "-01"
)

// tracedCtx returns a context with a sampled span context and baggage
// k=v, as the relay's CLIENT span gives Send.
func tracedCtx(t *testing.T) context.Context {
	t.Helper()
	tid, _ := trace.TraceIDFromHex(traceIDHex)
	sid, _ := trace.SpanIDFromHex(spanIDHex)
	ts, _ := trace.ParseTraceState("vendor=x")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
	m, _ := baggage.NewMember("k", "v")
	b, _ := baggage.New(m)
	return baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), b)
}

// wantTrace checks the trace headers a server Conn reports for a frame
// sent with tracedCtx.
func wantTrace(t *testing.T, m Message) {
	t.Helper()
	if m.Trace == nil {
		t.Fatalf("frame %s without trace headers", m.Raw)
	}
	want := TraceHeaders{Traceparent: wantTP, Tracestate: "vendor=x", Baggage: "k=v"}
	if *m.Trace != want {
		t.Errorf("trace headers %+v, want %+v", *m.Trace, want)
	}
}

// recvWithin is Recv bounded by a few seconds.
func recvWithin(t *testing.T, c Conn) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startServer serves srv (h when not nil) and closes srv before the HTTP
// server at cleanup.
func startServer(t *testing.T, srv interface{ Close() error }, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() })
	return ts
}

// TestTracePropagationHTTP: the upstream HTTP clients put the trace
// context of Send's ctx in the POST's W3C headers, and the client-facing
// servers hand them over in Message.Trace.
func TestTracePropagationHTTP(t *testing.T) {
	t.Run("Streamable HTTP", func(t *testing.T) {
		srv := NewHTTPServer(nil)
		ts := startServer(t, srv, srv)
		c := dialHTTP(t, ts.URL, nil)
		go func() { _ = c.Send(tracedCtx(t), Message{Raw: []byte(initReq)}) }()
		conn, err := srv.Accept(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantTrace(t, recvWithin(t, conn))
	})
	t.Run("HTTP+SSE", func(t *testing.T) {
		srv := NewSSEServer(&SSEServerOptions{Endpoint: "/messages"})
		mux := http.NewServeMux()
		mux.Handle("/sse", srv)
		mux.Handle("/messages", srv)
		ts := startServer(t, srv, mux)
		accepted := make(chan Conn, 1)
		go func() {
			if conn, err := srv.Accept(context.Background()); err == nil {
				accepted <- conn
			}
		}()
		c := dialSSE(t, ts.URL+"/sse")
		conn := <-accepted
		go func() { _ = c.Send(tracedCtx(t), Message{Raw: []byte(initReq)}) }()
		wantTrace(t, recvWithin(t, conn))
	})
	t.Run("2026-07-28", func(t *testing.T) {
		ts, _, conn := serve26(t, nil)
		c := dial26(t, ts.URL)
		go func() { _ = c.Send(tracedCtx(t), Message{Raw: []byte(req26Body(`1`, "tools/list", ``))}) }()
		wantTrace(t, recvWithin(t, conn))
	})
}

// TestTraceHeadersNone: no W3C headers, no TraceHeaders and no
// allocation; nothing in ctx, nothing injected and no allocation.
func TestTraceHeadersNone(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}}
	if got := traceHeaders(h); got != nil {
		t.Errorf("traceHeaders without W3C headers = %+v, want nil", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = traceHeaders(h) }); n != 0 {
		t.Errorf("traceHeaders allocates %v times without W3C headers", n)
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { injectTrace(ctx, h) }); n != 0 {
		t.Errorf("injectTrace allocates %v times without a trace context", n)
	}
	if len(h) != 1 {
		t.Errorf("injectTrace without a trace context set headers: %v", h)
	}
	got := traceHeaders(http.Header{"Baggage": {"k=v"}})
	if got == nil || got.Baggage != "k=v" || got.Traceparent != "" {
		t.Errorf("traceHeaders with baggage only = %+v", got)
	}
}
