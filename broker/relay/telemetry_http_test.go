package relay

import (
	"context"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
)

// traceHeaderConn is an upstream Conn that renders the trace context of Send's
// ctx as HTTP headers would carry it (telemetry.InjectHTTP) into the
// message's Trace, for the test's server to see what an HTTP transport
// would have put in the POST's headers.
type traceHeaderConn struct{ transport.Conn }

func (c traceHeaderConn) Send(ctx context.Context, m transport.Message) error {
	h := http.Header{}
	telemetry.InjectHTTP(ctx, h)
	if tp := h.Get(telemetry.KeyTraceparent); tp != "" {
		m.Trace = &transport.TraceHeaders{Traceparent: tp, Tracestate: h.Get(telemetry.KeyTracestate), Baggage: h.Get(telemetry.KeyBaggage)}
	}
	return c.Conn.Send(ctx, m)
}

// TestTelemetryHTTPTraceContext: the W3C headers of the HTTP request that
// carried a client message are the SERVER span's parent when params._meta
// has no trace context and a link when it has one; the upstream send gets
// the CLIENT span's context (for the HTTP transports' headers).
func TestTelemetryHTTPTraceContext(t *testing.T) {
	const (
		httpTraceID = "0af7651916cd43dd8448eb211c80319c"
		httpSpanID  = "b7ad6b7169203331"
		httpTP      = "00-" + httpTraceID + "-" + httpSpanID + "-01"
		noMeta      = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`
	)
	for _, tc := range []struct {
		name     string
		raw      string
		wantTID  string // the SERVER span's parent
		wantSID  string
		wantLink bool // to the HTTP context
	}{
		{"headers only", noMeta, httpTraceID, httpSpanID, false},
		{"meta and headers", toolCall, clientTraceID, clientSpanID, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startTraced(t, withWrapUp(func(c transport.Conn) transport.Conn { return traceHeaderConn{c} }))
			m := transport.Message{Raw: []byte(tc.raw), Trace: &transport.TraceHeaders{Traceparent: httpTP, Baggage: "k=v"}}
			if err := h.client.conn.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			up := h.server.recv()
			h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"hi"}]}}`)
			h.client.recvObj()

			spans := h.spans.Await(t, "the tools/call SERVER span", func(s []sdktrace.ReadOnlySpan) bool {
				return has(s, trace.SpanKindServer, "tools/call echo")
			})
			server := one(t, spans, trace.SpanKindServer, "tools/call echo", nil)
			client := one(t, spans, trace.SpanKindClient, "tools/call echo", nil)
			if got := server.Parent(); got.TraceID().String() != tc.wantTID || got.SpanID().String() != tc.wantSID || !got.IsRemote() {
				t.Errorf("SERVER parent = %s/%s, want %s/%s", got.TraceID(), got.SpanID(), tc.wantTID, tc.wantSID)
			}
			var linked bool
			for _, l := range server.Links() {
				if l.SpanContext.TraceID().String() == httpTraceID && l.SpanContext.SpanID().String() == httpSpanID {
					linked = true
				}
			}
			if linked != tc.wantLink {
				t.Errorf("SERVER span linked to the HTTP context: %v, want %v (links %v)", linked, tc.wantLink, server.Links())
			}
			wantChild(t, client, server)

			// The upstream send carries the CLIENT span's context, in
			// params._meta and in what the HTTP headers would be, with the
			// baggage from the client's headers.
			want := "00-" + tc.wantTID + "-" + client.SpanContext().SpanID().String() + "-01"
			if got := str(get(decode(t, up.Raw), "params", "_meta", "traceparent")); got != `"`+want+`"` {
				t.Errorf("upstream _meta traceparent = %s, want %s", got, want)
			}
			if up.Trace == nil || up.Trace.Traceparent != want {
				t.Fatalf("upstream HTTP traceparent = %+v, want %s", up.Trace, want)
			}
			if up.Trace.Baggage != "k=v" {
				t.Errorf("upstream HTTP baggage = %q, want k=v", up.Trace.Baggage)
			}
		})
	}
}

// TestTelemetryHTTPTraceContextOff: with telemetry off the relay ignores
// the headers and sends with no trace context.
func TestTelemetryHTTPTraceContextOff(t *testing.T) {
	h := start(t, Config{Validator: testValidator(t)}, withWrapUp(func(c transport.Conn) transport.Conn { return traceHeaderConn{c} }))
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", "{}", `{"tools":{}}`)
	m := transport.Message{Raw: []byte(`{"jsonrpc":"2.0","id":5,"method":"tools/list"}`),
		Trace: &transport.TraceHeaders{Traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	if err := h.client.conn.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if up := h.server.recv(); up.Trace != nil {
		t.Errorf("upstream trace headers with telemetry off: %+v", up.Trace)
	}
}
