package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// The relay's telemetry (Config.Telemetry, docs/observability.md):
//
//   - every request the client sends gets a SERVER span (its parent from
//     params._meta), open until the client is answered: replyClient ends
//     it, whatever path the answer took (tel.open, keyed by the client's
//     id);
//   - every client request forwarded upstream gets a CLIENT span, child of
//     that SERVER span, whose context is injected into the upstream
//     message's params._meta; it ends when the upstream's response arrives
//     or the call ends otherwise (timeout, cancellation, lost upstream);
//   - client notifications get a short SERVER span and, when forwarded, a
//     CLIENT span around their sending;
//   - a server-to-client request gets a SERVER span (linked to the client
//     call it belongs to, when the transport relates it) and a CLIENT span
//     toward the client, both on the serverCall;
//   - validation and translation of those messages get INTERNAL spans.
//
// With telemetry off session.tel is nil and every hook is one nil check.

// sessionTelemetry is a session's telemetry state; nil when off.
type sessionTelemetry struct {
	p *telemetry.Provider
	// clientTransport is the network.transport of the client side.
	clientTransport telemetry.Transport
	// ownID is the broker's session id for a client without one (stdio).
	ownID string

	mu sync.Mutex
	// open holds the SERVER spans of client requests not answered yet,
	// by client id key.
	open     map[string]*openCall
	calls    map[*call]*callTelemetry
	sessions []*telemetry.ActiveSession
}

// callTelemetry holds the spans of a client request forwarded upstream.
type callTelemetry struct {
	// sctx is the context of the client request's SERVER span.
	sctx context.Context
	// up is the CLIENT span of the upstream request, ended by whoever
	// removes the call from pending.
	up *telemetry.Call
}

// setCall records the spans of c (kept beside the call rather than in
// it, so that a call costs no more memory with telemetry off).
func (t *sessionTelemetry) setCall(c *call, ct *callTelemetry) {
	t.mu.Lock()
	t.calls[c] = ct
	t.mu.Unlock()
}

// callOf returns the spans of c, or nil.
func (t *sessionTelemetry) callOf(c *call) *callTelemetry {
	if c == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls[c]
}

// endUp ends the CLIENT span of c, if any, with r and forgets it; it
// returns the context of the client request's SERVER span (nil when c
// has none). Whoever removed c from pending calls it.
func (s *session) endUp(c *call, r telemetry.Result) context.Context {
	if s.tel == nil {
		return nil
	}
	s.tel.mu.Lock()
	ct := s.tel.calls[c]
	delete(s.tel.calls, c)
	s.tel.mu.Unlock()
	if ct == nil {
		return nil
	}
	ct.up.End(r)
	return ct.sctx
}

// openCall is the SERVER span of a client request waiting for its answer.
type openCall struct {
	ctx    context.Context // the span's
	call   *telemetry.Call
	method string
	// result, when settled, is how the request ended (the upstream's
	// answer), so that replyClient need not read the reply.
	result  telemetry.Result
	settled bool
}

func newSessionTelemetry(p *telemetry.Provider, client transport.Conn) *sessionTelemetry {
	if !p.Tracing() && !p.Metering() {
		return nil
	}
	t := &sessionTelemetry{p: p, clientTransport: connTransport(client), open: map[string]*openCall{}, calls: map[*call]*callTelemetry{}}
	if _, ok := client.(transport.SessionIDer); !ok {
		var b [8]byte
		_, _ = rand.Read(b[:])
		t.ownID = hex.EncodeToString(b[:])
	}
	return t
}

// connTransport is the network.transport of a Conn: tcp for the HTTP
// transports, pipe otherwise (stdio, in-memory pipes). A Conn that says
// where its peer is (transport.PeerAddresser) is tcp when it names an
// address: a wrapper of the upstream pool exposes the interface for every
// Conn, a stdio one included, with no address.
func connTransport(c transport.Conn) telemetry.Transport {
	if pa, ok := c.(transport.PeerAddresser); ok {
		if pa.Peer().Address != "" {
			return telemetry.TransportTCP
		}
		return telemetry.TransportPipe
	}
	switch c.(type) {
	case transport.SessionIDer, transport.HeaderCarrier:
		return telemetry.TransportTCP
	}
	return telemetry.TransportPipe
}

// hop fills the transport attributes of op for Conn c of transport tr
// with session id id: for HTTP, network.protocol.name and .version and
// the peer's address, client.address and .port on the client's hop
// (clientSide), server.address and .port on the upstream's. stdio has
// none of them.
func hop(op telemetry.Op, c transport.Conn, tr telemetry.Transport, id string, clientSide bool) telemetry.Op {
	op.Transport, op.SessionID = tr, id
	if tr != telemetry.TransportTCP {
		return op
	}
	op.ProtocolName = "http"
	if pa, ok := c.(transport.PeerAddresser); ok {
		p := pa.Peer()
		op.ProtocolVersion = p.ProtocolVersion
		if clientSide {
			op.ClientAddress, op.ClientPort = p.Address, p.Port
		} else {
			op.ServerAddress, op.ServerPort = p.Address, p.Port
		}
	}
	return op
}

// clientOp describes a message of the client's hop.
func (s *session) clientOp(method string, id, params []byte, rev schemas.Revision) telemetry.Op {
	sid := s.tel.ownID
	if si, ok := s.client.(transport.SessionIDer); ok {
		sid = si.SessionID()
	}
	op := telemetry.Op{Method: method, ID: id, Params: params}
	if rev.Valid() {
		op.Revision = rev.String()
	}
	return hop(op, s.client, s.tel.clientTransport, sid, true)
}

// upOp describes a message of the upstream hop.
func (s *session) upOp(method string, id, params []byte, rev schemas.Revision) telemetry.Op {
	s.upMu.Lock()
	up := s.up
	s.upMu.Unlock()
	var sid string
	if si, ok := up.(transport.SessionIDer); ok {
		sid = si.SessionID()
	}
	op := telemetry.Op{Method: method, ID: id, Params: params}
	if rev.Valid() {
		op.Revision = rev.String()
	}
	return hop(op, up, connTransport(up), sid, false)
}

// startRequest starts the SERVER span of client request m and records it
// as open until replyClient answers it. A request whose id is already
// open (a duplicate of a pending request) gets a span of its own that
// startRequest returns for the caller to end.
func (s *session) startRequest(ctx context.Context, m *jsonrpc.Message, l *link) (context.Context, *telemetry.Call) {
	var rev schemas.Revision
	if l != nil {
		rev = l.clientRev
	}
	ctx, c := s.tel.p.StartServer(ctx, s.clientOp(m.Method, m.ID, m.Params, rev))
	key := jsonrpc.IDKey(m.ID)
	s.tel.mu.Lock()
	defer s.tel.mu.Unlock()
	if _, dup := s.tel.open[key]; dup {
		return ctx, c
	}
	s.tel.open[key] = &openCall{ctx: ctx, call: c, method: m.Method}
	return ctx, nil
}

// serverCtx returns the context of the SERVER span of the open client
// request with that id key, or nil.
func (t *sessionTelemetry) serverCtx(key string) context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	if oc := t.open[key]; oc != nil {
		return oc.ctx
	}
	return nil
}

// settle records r as the outcome of the client request with that id key,
// for the SERVER span that replyClient ends.
func (t *sessionTelemetry) settle(key string, r telemetry.Result) {
	t.mu.Lock()
	if oc := t.open[key]; oc != nil {
		oc.result, oc.settled = r, true
	}
	t.mu.Unlock()
}

// answered ends the SERVER span of the client request clientID, answered
// with raw (nil: it will get no answer, it was cancelled).
func (t *sessionTelemetry) answered(clientID json.RawMessage, raw []byte) {
	key := jsonrpc.IDKey(clientID)
	t.mu.Lock()
	oc := t.open[key]
	delete(t.open, key)
	t.mu.Unlock()
	if oc == nil {
		return
	}
	switch {
	case oc.settled:
		oc.call.End(oc.result)
	case raw == nil:
		oc.call.End(telemetry.Failure("cancelled", "the request was cancelled"))
	default:
		oc.call.End(resultOfRaw(oc.method, raw))
	}
}

// resultOfRaw reads the Result of a response the broker sends.
func resultOfRaw(method string, raw []byte) telemetry.Result {
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		return telemetry.Failure("", "unreadable response: "+err.Error())
	}
	return telemetry.ResultOf(method, m.Result, m.Error)
}

// resultOf is the Result of the response m to method.
func resultOf(method string, m *jsonrpc.Message) telemetry.Result {
	return telemetry.ResultOf(method, m.Result, m.Error)
}

// startUp starts the CLIENT span of request m sent upstream as c (child
// of the SERVER span in ctx; op from upOp, given c's id here) and returns
// the upstream message, raw with c's id and the span's context injected
// into its params._meta, and the span's context, to send it with (the
// HTTP transports inject it into the POST's headers). Called with s.mu
// held, so that c.up is set before anyone can take c.
func (s *session) startUp(ctx context.Context, c *call, op telemetry.Op, m *jsonrpc.Message, raw []byte) (context.Context, []byte) {
	op.ID = c.upID
	uctx, cc := s.tel.p.StartClient(ctx, op)
	s.tel.setCall(c, &callTelemetry{sctx: ctx, up: cc})
	raw = withID(raw, m, c.upID)
	out, err := telemetry.InjectMessage(uctx, raw)
	if err != nil {
		s.log.DebugContext(ctx, "relay: trace context not injected", "err", err)
		return uctx, raw
	}
	return uctx, out
}

// httpTraceContext returns ctx with the trace context of the W3C headers
// of the HTTP request that carried a client frame. StartServer makes it
// the parent of the frame's SERVER spans when their params._meta carries
// none, and a link otherwise (the convention's rule).
func httpTraceContext(ctx context.Context, h *transport.TraceHeaders) context.Context {
	mc := telemetry.MetaCarrier{Traceparent: h.Traceparent, Tracestate: h.Tracestate, Baggage: h.Baggage}
	return telemetry.Propagator().Extract(ctx, &mc)
}

// linkClientRev and linkUpRev are the revisions of l, zero when nil.
func linkClientRev(l *link) schemas.Revision {
	if l == nil {
		return 0
	}
	return l.clientRev
}

func linkUpRev(l *link) schemas.Revision {
	if l == nil {
		return 0
	}
	return l.upRev
}

// translate is chain.Translate in a translation span when telemetry is on
// and the chain changes revision.
func (s *session) translate(ctx context.Context, ch *translators.Chain, m *jsonrpc.Message, dir translators.Direction, tctx *translators.Context, method string) translators.Outcome {
	if s.tel == nil || ch.From() == ch.To() {
		return ch.Translate(m, dir, tctx)
	}
	_, t := s.tel.p.StartTranslation(ctx, ch.From().String(), ch.To().String(), method)
	out := ch.Translate(m, dir, tctx)
	r := telemetry.TranslationResult{Outcome: out.Kind.String(), Rows: out.Applied}
	for _, l := range out.Losses {
		r.Lossy = append(r.Lossy, l.Row+" "+l.Path)
	}
	t.End(r)
	return out
}

// startValidation starts the validation span of m against rev.
func (s *session) startValidation(ctx context.Context, rev schemas.Revision, from schemas.Sender, method string) telemetry.Validation {
	side := telemetry.ServerSide
	if from == schemas.FromClient {
		side = telemetry.ClientSide
	}
	_, v := s.tel.p.StartValidation(ctx, side, rev.String(), method)
	return v
}

// startServerRequest starts the SERVER span of a request m the upstream
// sent to the client, linked to the client call it belongs to (related,
// a broker id) when the transport related it.
func (s *session) startServerRequest(ctx context.Context, m *jsonrpc.Message, l *link, related json.RawMessage) (context.Context, *telemetry.Call) {
	var opts []trace.SpanStartOption
	if len(related) > 0 {
		s.mu.Lock()
		c := s.pending[jsonrpc.IDKey(related)]
		s.mu.Unlock()
		if ct := s.tel.callOf(c); ct != nil {
			if sc := trace.SpanContextFromContext(ct.sctx); sc.IsValid() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			}
		}
	}
	var rev schemas.Revision
	if l != nil {
		rev = l.upRev
	}
	return s.tel.p.StartServer(ctx, s.upOp(m.Method, m.ID, m.Params, rev), opts...)
}

// answerUp sends the answer raw to the server request whose SERVER span
// is span (nil when off), ending the span with r, or with what raw says
// when r is nil.
func (s *session) answerUp(ctx context.Context, span *telemetry.Call, method string, raw []byte, serverID json.RawMessage, r *telemetry.Result) {
	_ = s.sendUp(ctx, raw, serverID)
	if span == nil {
		return
	}
	if r == nil {
		rr := resultOfRaw(method, raw)
		r = &rr
	}
	span.End(*r)
}

// endServerCall ends the spans of a server request that will get no answer
// from the client.
func endServerCall(sc *serverCall, r telemetry.Result) {
	sc.out.End(r)
	sc.span.End(r)
}

// startSessions records the client and upstream sessions established by
// the handshake, on the span in ctx (the client's initialize).
func (s *session) startSessions(ctx context.Context, l *link) {
	client := telemetry.Session{Side: telemetry.ClientSide, Revision: l.clientRev.String(), Transport: s.tel.clientTransport}
	op := s.clientOp("", nil, nil, l.clientRev)
	client.ID, client.ProtocolName, client.ProtocolVersion = op.SessionID, op.ProtocolName, op.ProtocolVersion
	up := s.upOp("", nil, nil, l.upRev)
	server := telemetry.Session{Side: telemetry.ServerSide, ID: up.SessionID, Revision: up.Revision,
		Transport: up.Transport, ProtocolName: up.ProtocolName, ProtocolVersion: up.ProtocolVersion,
		ServerAddress: up.ServerAddress, ServerPort: up.ServerPort}
	a, b := s.tel.p.StartSession(ctx, client), s.tel.p.StartSession(ctx, server)
	s.tel.mu.Lock()
	s.tel.sessions = append(s.tel.sessions, a, b)
	s.tel.mu.Unlock()
}

// closeTelemetry ends what is still open when Run returns: the SERVER
// spans of unanswered requests and the sessions (errorType set when the
// session ended on an error).
func (s *session) closeTelemetry(errorType string) {
	t := s.tel
	t.mu.Lock()
	open, calls, sessions := t.open, t.calls, t.sessions
	t.open, t.calls, t.sessions = map[string]*openCall{}, map[*call]*callTelemetry{}, nil
	t.mu.Unlock()
	for _, ct := range calls {
		ct.up.End(telemetry.Failure("cancelled", "the session ended"))
	}
	for _, oc := range open {
		oc.call.End(telemetry.Failure("cancelled", "the session ended"))
	}
	for _, a := range sessions {
		a.End(context.Background(), errorType)
	}
}

// upstreamName is the mcpbroker.upstream of the metrics.
func (s *session) upstreamName() string {
	if s.cfg.UpstreamName != "" {
		return s.cfg.UpstreamName
	}
	return "upstream"
}

// initIsStarted reports whether the handshake has begun.
func (s *session) initIsStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.initStarted
}

// tracedInitialize is initialize in the SERVER span of the client's
// initialize request m; the sessions it establishes are recorded on that
// span.
func (s *session) tracedInitialize(ctx context.Context, m *jsonrpc.Message) error {
	ctx, span := s.tel.p.StartServer(ctx, s.clientOp(m.Method, m.ID, m.Params, 0))
	err := s.initialize(ctx, m)
	var r telemetry.Result
	switch l := s.link.Load(); {
	case l != nil:
		if sp := span.Span(); sp.IsRecording() {
			sp.SetAttributes(telemetry.AttrMCPProtocolVersion.String(l.clientRev.String()))
		}
		s.startSessions(ctx, l)
	case err != nil:
		r = telemetry.Failure("handshake", err.Error())
	default:
		r = telemetry.Failure("", "initialize refused")
	}
	span.End(r)
	return err
}

// upRevOf is the revision of the upstream hop for a message of method the
// broker sends with params: the link's once the handshake is done, the
// offered protocolVersion for its initialize, 2026-07-28 for its
// server/discover.
func (s *session) upRevOf(method string, params []byte) schemas.Revision {
	if l := s.link.Load(); l != nil {
		return l.upRev
	}
	switch method {
	case methodInitialize:
		if r, err := schemas.ParseRevision(translators.Parse(params).Get("protocolVersion").Str()); err == nil {
			return r
		}
	case methodDiscover:
		return schemas.V20260728
	}
	return 0
}

// markOwn sets mcpbroker.origin=broker on the span of c, a message of the
// broker's own account.
func markOwn(c *telemetry.Call) {
	if sp := c.Span(); sp.IsRecording() {
		sp.SetAttributes(telemetry.AttrOrigin.String(telemetry.OriginBroker))
	}
}

// traceOwn starts the CLIENT span of a request c that the broker sends
// upstream as raw (c registered, raw carrying c's id), child of the span
// in ctx (the client request that caused it; a root span when there is
// none). own marks it mcpbroker.origin=broker; a resend of a client's
// request is not the broker's own. The span ends with c's answer (endUp)
// or when the session ends. It returns the context to send raw with and
// raw with the span's context in params._meta; with telemetry off, ctx
// and raw.
func (s *session) traceOwn(ctx context.Context, c *call, raw []byte, own bool) (context.Context, []byte) {
	if s.tel == nil {
		return ctx, raw
	}
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		return ctx, raw
	}
	uctx, cc := s.tel.p.StartClient(ctx, s.upOp(m.Method, c.upID, m.Params, s.upRevOf(m.Method, m.Params)))
	if own {
		markOwn(cc)
	}
	s.tel.setCall(c, &callTelemetry{sctx: ctx, up: cc})
	out, err := telemetry.InjectMessage(uctx, raw)
	if err != nil {
		s.log.DebugContext(uctx, "relay: trace context not injected", "err", err)
		return uctx, raw
	}
	return uctx, out
}

// sendOwn sends raw, a notification of the broker's own account
// (notifications/initialized after a restart, notifications/cancelled),
// upstream in a CLIENT span marked mcpbroker.origin=broker, child of the
// span in ctx, its context injected into params._meta.
func (s *session) sendOwn(ctx context.Context, raw []byte) error {
	if s.tel == nil {
		return s.sendUp(ctx, raw, nil)
	}
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		return s.sendUp(ctx, raw, nil)
	}
	uctx, cc := s.tel.p.StartClient(ctx, s.upOp(m.Method, nil, m.Params, s.upRevOf(m.Method, m.Params)))
	markOwn(cc)
	if out, ierr := telemetry.InjectMessage(uctx, raw); ierr == nil {
		raw = out
	}
	err = s.sendUp(uctx, raw, nil)
	var r telemetry.Result
	if err != nil {
		r = telemetry.Failure("transport", err.Error())
	}
	cc.End(r)
	return err
}

// endOwn ends the CLIENT spans of the broker's own requests calls, taken
// from pending without an answer, with r.
func (s *session) endOwn(r telemetry.Result, calls ...*call) {
	if s.tel == nil {
		return
	}
	for _, c := range calls {
		s.endUp(c, r)
	}
}

// notifyClient sends the notification raw (of method, with params as the
// peer sent them, for the span's target) to the client, in a CLIENT span
// child of the span in ctx (the SERVER span of the server's notification,
// or the cause of a notification of the broker's own, own set: marked
// mcpbroker.origin=broker) whose context goes into raw's params._meta.
func (s *session) notifyClient(ctx context.Context, method string, params, raw []byte, related json.RawMessage, own bool) {
	if s.tel == nil {
		s.sendClient(ctx, raw, related)
		return
	}
	cctx, cc := s.tel.p.StartClient(ctx, s.clientOp(method, nil, params, linkClientRev(s.link.Load())))
	if own {
		markOwn(cc)
	}
	if out, err := telemetry.InjectMessage(cctx, raw); err == nil {
		raw = out
	}
	s.sendClient(cctx, raw, related)
	cc.End(telemetry.Result{})
}

// startEmulation starts the INTERNAL mcpbroker.emulate span of work the
// relay does in a peer's place (issue 7): what is one of the
// telemetry.Emulation* names. End it with telemetry.EndSpan. With
// telemetry off it returns ctx and a non-recording span.
func (s *session) startEmulation(ctx context.Context, what, method string) (context.Context, trace.Span) {
	if s.tel == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	return s.tel.p.StartEmulation(ctx, what, method)
}
