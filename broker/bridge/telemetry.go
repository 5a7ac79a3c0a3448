package bridge

import (
	"context"
	"encoding/json"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// The bridge's telemetry (Config.Relay.Telemetry, docs/observability.md):
// every 2026-07-28 request the client sends gets a SERVER span (its
// parent from params._meta, or from the HTTP request's W3C headers, which
// are a link when _meta has a trace context), open until the bridge sends
// the request's answer, an InputRequiredResult included (sendClient ends
// it). The request forwarded to a lane carries the span's context in its
// params._meta, so the lane's relay spans (SERVER, translation, CLIENT
// upstream) are its children; so do the bridge's own requests and
// notifications on a lane (injectLane). A cancelled request's span ends as
// cancelled; the spans still open when Serve returns end as cancelled too.
//
// With telemetry off b.tel is nil and every hook is one nil check.

// bridgeTelemetry is the bridge's telemetry state; nil when off.
type bridgeTelemetry struct {
	p         *telemetry.Provider
	transport telemetry.Transport
	client    transport.Conn // the client-facing Conn

	mu   sync.Mutex
	open map[string]*openRequest // by client id key
}

// openRequest is the SERVER span of a client request not answered yet.
type openRequest struct {
	call   *telemetry.Call
	method string
}

func newBridgeTelemetry(p *telemetry.Provider, client transport.Conn) *bridgeTelemetry {
	if !p.Tracing() && !p.Metering() {
		return nil
	}
	tr := telemetry.TransportPipe
	switch client.(type) {
	case transport.RequestHeaders, transport.SessionIDer:
		tr = telemetry.TransportTCP
	}
	return &bridgeTelemetry{p: p, transport: tr, client: client, open: map[string]*openRequest{}}
}

// withHTTPTrace returns ctx with the trace context of the W3C headers of
// the HTTP request that carried a client frame (see relay's rule: the
// parent when _meta has none, else a link).
func withHTTPTrace(ctx context.Context, h *transport.TraceHeaders) context.Context {
	mc := telemetry.MetaCarrier{Traceparent: h.Traceparent, Tracestate: h.Tracestate, Baggage: h.Baggage}
	return telemetry.Propagator().Extract(ctx, &mc)
}

// startRequest starts the SERVER span of client request m and records it
// as open until its answer is sent. A request whose id is already open
// (a duplicate) gets a span that ends at once.
func (t *bridgeTelemetry) startRequest(ctx context.Context, m *jsonrpc.Message) context.Context {
	op := telemetry.Op{Method: m.Method, ID: m.ID, Params: m.Params, Revision: schemas.V20260728.String(), Transport: t.transport}
	if t.transport == telemetry.TransportTCP {
		op.ProtocolName = "http"
		if rp, ok := t.client.(transport.RequestPeerer); ok {
			if p, ok := rp.RequestPeer(m.ID); ok {
				op.ClientAddress, op.ClientPort, op.ProtocolVersion = p.Address, p.Port, p.ProtocolVersion
			}
		}
	}
	ctx, c := t.p.StartServer(ctx, op)
	key := jsonrpc.IDKey(m.ID)
	t.mu.Lock()
	_, dup := t.open[key]
	if !dup {
		t.open[key] = &openRequest{call: c, method: m.Method}
	}
	t.mu.Unlock()
	if dup {
		c.End(telemetry.RPCError(jsonrpc.CodeInvalidRequest, "request id already in use"))
	}
	return ctx
}

// sent ends the SERVER span of the client request related when raw, sent
// to the client, is its answer (a result, InputRequiredResult included,
// or an error).
func (t *bridgeTelemetry) sent(related json.RawMessage, raw []byte) {
	if len(related) == 0 {
		return
	}
	key := jsonrpc.IDKey(related)
	t.mu.Lock()
	oc := t.open[key]
	t.mu.Unlock()
	if oc == nil {
		return
	}
	m, err := jsonrpc.Parse(raw)
	if err != nil || (m.Kind != jsonrpc.KindResult && m.Kind != jsonrpc.KindError) {
		return // a notification on the request's stream
	}
	t.mu.Lock()
	if t.open[key] != oc {
		t.mu.Unlock()
		return
	}
	delete(t.open, key)
	t.mu.Unlock()
	oc.call.End(telemetry.ResultOf(oc.method, m.Result, m.Error))
}

// cancelled ends the SERVER span of the client request with that id key,
// which the client cancelled.
func (t *bridgeTelemetry) cancelled(key string) {
	t.mu.Lock()
	oc := t.open[key]
	delete(t.open, key)
	t.mu.Unlock()
	if oc != nil {
		oc.call.End(telemetry.Failure("cancelled", "the client cancelled the request"))
	}
}

// close ends the spans still open when Serve returns.
func (t *bridgeTelemetry) close() {
	t.mu.Lock()
	open := t.open
	t.open = map[string]*openRequest{}
	t.mu.Unlock()
	for _, oc := range open {
		oc.call.End(telemetry.Failure("cancelled", "the bridge stopped"))
	}
}

// laneTrace returns the W3C trace context of ctx (the SERVER span of the
// client request on whose behalf the bridge answers a server's request) as
// the Trace of a message to a lane, or nil when telemetry is off or ctx
// has none. A response has no params._meta to carry it; the lane relay
// takes Message.Trace as it takes an HTTP request's headers and answers
// the upstream in that context (the HTTP transports put it in the POST's
// headers).
func (b *bridge) laneTrace(ctx context.Context) *transport.TraceHeaders {
	if b.tel == nil {
		return nil
	}
	var mc telemetry.MetaCarrier
	telemetry.Propagator().Inject(ctx, &mc)
	if mc.Traceparent == "" && mc.Baggage == "" {
		return nil
	}
	return &transport.TraceHeaders{Traceparent: mc.Traceparent, Tracestate: mc.Tracestate, Baggage: mc.Baggage}
}

// injectLane returns raw, a request or notification for a lane, with the
// trace context of ctx (the SERVER span of the client request that caused
// it) in its params._meta, so that the lane's relay spans, and through
// them the upstream server's, are children of that span. Every request and
// notification the bridge sends a lane goes through it: forwarded calls
// and the bridge's own (initialize, notifications/initialized,
// logging/setLevel, the resources/subscribe and unsubscribe of listens,
// cancellations, the resend of a 4.M7 call). Responses (the answers to a
// server's input requests) have no params: they carry the context as
// their Message.Trace (laneTrace, lane.answer).
func (b *bridge) injectLane(ctx context.Context, raw []byte) []byte {
	if b.tel == nil {
		return raw
	}
	out, err := telemetry.InjectMessage(ctx, raw)
	if err != nil {
		b.log.DebugContext(ctx, "bridge: trace context not injected", "err", err)
		return raw
	}
	return out
}

// startEmulation starts the INTERNAL mcpbroker.emulate span of work the
// bridge does in a peer's place (issue 7; what is one of the
// telemetry.Emulation* names) as a child of the SERVER span of the open
// client request id, or of ctx's span when id is nil or not open. With
// telemetry off it returns ctx and a non-recording span.
func (b *bridge) startEmulation(ctx context.Context, id json.RawMessage, what, method string) (context.Context, trace.Span) {
	if b.tel == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	if id != nil {
		b.tel.mu.Lock()
		oc := b.tel.open[jsonrpc.IDKey(id)]
		b.tel.mu.Unlock()
		if oc != nil {
			ctx = trace.ContextWithSpan(ctx, oc.call.Span())
		}
	}
	return b.tel.p.StartEmulation(ctx, what, method)
}
