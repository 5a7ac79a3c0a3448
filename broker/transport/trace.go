package transport

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TraceHeaders are the W3C trace context headers (traceparent,
// tracestate, baggage) of the HTTP request that carried a message to a
// client-facing server ([HTTPServer], [SSEServer], [HTTP2026Server]), as
// the client sent them. The relay extracts them for the message's SERVER
// span: its parent when params._meta carries no trace context, a link
// otherwise (docs/observability.md).
type TraceHeaders struct {
	Traceparent string
	Tracestate  string
	Baggage     string
}

// Canonical header keys of the W3C headers, for lookups that do not
// canonicalize.
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
	headerBaggage     = "Baggage"
)

// traceHeaders returns the W3C headers of h, or nil (without allocating)
// when h has neither traceparent nor baggage.
func traceHeaders(h http.Header) *TraceHeaders {
	tp, bg := h[headerTraceparent], h[headerBaggage]
	if len(tp) == 0 && len(bg) == 0 {
		return nil
	}
	t := &TraceHeaders{}
	if len(tp) > 0 {
		t.Traceparent = tp[0]
	}
	if ts := h[headerTracestate]; len(ts) > 0 {
		t.Tracestate = ts[0]
	}
	if len(bg) > 0 {
		t.Baggage = bg[0]
	}
	return t
}

// w3c is the propagator of the upstream HTTP clients: W3C Trace Context
// and W3C Baggage, the keys the broker also carries in params._meta.
var w3c propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// injectTrace sets the W3C headers for the span context and baggage of
// ctx (the CLIENT span of the message sent, as the relay passes to Send)
// in h. It does nothing, and allocates nothing, when ctx has neither.
func injectTrace(ctx context.Context, h http.Header) {
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return
	}
	w3c.Inject(ctx, propagation.HeaderCarrier(h))
}
