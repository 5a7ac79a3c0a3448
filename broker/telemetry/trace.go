package telemetry

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names of the broker's INTERNAL spans and span events.
const (
	SpanValidate        = "mcpbroker.validate"
	SpanTranslate       = "mcpbroker.translate"
	SpanEmulate         = "mcpbroker.emulate"
	SpanSessionEnd      = "mcpbroker.session.end"
	EventSessionStart   = "mcpbroker.session.start"
	EventSessionEnd     = "mcpbroker.session.end"
	AttrSessionDuration = attribute.Key("mcpbroker.session.duration")
)

// Call is one MCP message being handled: its span and, when metrics are
// on, its start time. A nil *Call (what the Start functions return when
// telemetry is off) is inert: its methods do nothing.
type Call struct {
	ctx   context.Context
	span  trace.Span
	start time.Time
	kind  trace.SpanKind
	m     *Metrics
	ended bool
	op    Op
	// ends, when set, ends the call in the background (see ender.go),
	// with result at time at.
	ends   *ender
	result Result
	at     time.Time

	// A SERVER call collects the ends of the calls and INTERNAL spans
	// under it that end before it does (see later), until closed.
	mu     sync.Mutex
	closed bool
	late   []lateEnd
}

// callKey is the context key of the open SERVER call a context is under.
type callKey struct{}

// openCall returns the SERVER call ctx is under, or nil.
func openCall(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// lateEnd is the end of a CLIENT call, a validation or a translation that
// ended at a time but whose span end and measurements wait for the end
// of the SERVER call it is under: one of call, v or t is set.
type lateEnd struct {
	at     time.Time
	call   *Call
	result Result
	v      *Validation
	err    error
	t      *Translation
	tr     TranslationResult
}

// later leaves e to the end of c, reporting false when c has ended
// already (e is then for the caller to end now).
//
// This keeps the cost of ending spans (the SDK's snapshot and export
// queue) and recording metrics off a message's critical path: the spans
// of a relayed request that end before its answer is sent (its CLIENT
// span, validations, translations) are ended, with the times they ended
// at, right after the answer, when its SERVER span ends.
func (c *Call) later(e lateEnd) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if c.late == nil {
		c.late = make([]lateEnd, 0, 4)
	}
	c.late = append(c.late, e)
	return true
}

// flush ends what was left to the end of c; nothing can be left after.
func (c *Call) flush() {
	c.mu.Lock()
	c.closed = true
	late := c.late
	c.late = nil
	c.mu.Unlock()
	for _, e := range late {
		switch {
		case e.call != nil:
			e.call.end(e.result, e.at)
		case e.v != nil:
			e.v.end(e.err, e.at)
		case e.t != nil:
			e.t.end(e.tr, e.at)
		}
	}
}

// StartServer starts the SERVER span of a message the broker received
// from a peer (a client's request or notification, or a server's request
// to the client), named and attributed per the convention.
//
// Its parent is the trace context in op.Params' _meta when there is one;
// the span context already in ctx (the HTTP request's, extracted with
// [ExtractHTTP] by the transport, or an HTTP server span) is then a link,
// as the convention says, and is the parent otherwise. opts are added
// (for example trace.WithLinks to the tools/call a sampling request
// belongs to). The returned context carries the span: start child spans
// and inject into upstream messages from it.
func (p *Provider) StartServer(ctx context.Context, op Op, opts ...trace.SpanStartOption) (context.Context, *Call) {
	if !p.on() {
		return ctx, nil
	}
	return p.startCall(ctx, trace.SpanKindServer, &op, opts)
}

// StartClient starts the CLIENT span of a message the broker sends to a
// peer (upstream requests and notifications, and requests to the client
// such as sampling). Inject the returned context into the message with
// [InjectMeta] or [InjectMessage] (and HTTP headers with [InjectHTTP]).
//
// When the span in ctx is one of the broker's own that was sampled out,
// no CLIENT span is started (see [SampledOut]): the returned context is
// ctx, whose trace context, injected, tells the peer the trace is not
// sampled. The call's duration is measured all the same.
func (p *Provider) StartClient(ctx context.Context, op Op, opts ...trace.SpanStartOption) (context.Context, *Call) {
	if !p.on() {
		return ctx, nil
	}
	return p.startCall(ctx, trace.SpanKindClient, &op, opts)
}

// on reports whether tracing or metrics are on.
func (p *Provider) on() bool { return p != nil && (p.tracing || p.metering) }

func (p *Provider) startCall(ctx context.Context, kind trace.SpanKind, op *Op, opts []trace.SpanStartOption) (context.Context, *Call) {
	c := &Call{kind: kind, op: *op, ends: p.ends}
	if p.metering {
		c.m, c.start = p.metrics, time.Now()
	}
	if p.tracing && (kind == trace.SpanKindServer || !SampledOut(ctx)) {
		ctx = p.startSpan(ctx, c, opts)
	}
	if kind == trace.SpanKindServer {
		ctx = context.WithValue(ctx, callKey{}, c)
	}
	c.ctx = ctx
	return ctx, c
}

// SampledOut reports whether the span in ctx is a local span (one the
// broker started, not a remote parent) that was sampled out. The broker
// starts no child span under it, CLIENT or INTERNAL: with the
// parent-based samplers the broker configures they would be dropped too,
// and a span whose parent is not recorded is of no use anyway. Skipping
// them keeps the cost of a sampled-out message to its SERVER span, its
// metrics and the propagation of its trace context.
func SampledOut(ctx context.Context) bool {
	sc := trace.SpanContextFromContext(ctx)
	return sc.IsValid() && !sc.IsSampled() && !sc.IsRemote()
}

// startSpan starts the span of c. The parent of a SERVER span is the
// trace context of its params' _meta, read in the same pass over the
// params as the target (which the span name and the metrics need).
func (p *Provider) startSpan(ctx context.Context, c *Call, opts []trace.SpanStartOption) context.Context {
	parent := ctx
	var o [3]trace.SpanStartOption
	so := append(o[:0], trace.WithSpanKind(c.kind))
	if c.kind == trace.SpanKindServer {
		var meta MetaCarrier
		c.op.target, meta = scanParams(c.op.Method, c.op.Params, true)
		c.op.hasTarget = true
		if !meta.Empty() {
			carrier := meta // escapes through the interface: allocated only here
			parent = w3c.Extract(ctx, &carrier)
			ambient := trace.SpanContextFromContext(ctx)
			if ambient.IsValid() && !ambient.Equal(trace.SpanContextFromContext(parent)) {
				so = append(so, trace.WithLinks(trace.Link{SpanContext: ambient}))
			}
		}
	}
	if !c.start.IsZero() {
		so = append(so, trace.WithTimestamp(c.start))
	}
	if len(opts) > 0 {
		so = append(so, opts...)
	}
	ctx, c.span = p.tracer.Start(parent, c.op.Method, so...)
	if c.span.IsRecording() {
		c.describeSpan()
	}
	return ctx
}

// describeSpan names the recording span of c and sets its attributes.
func (c *Call) describeSpan() {
	if name := c.op.SpanName(); name != c.op.Method {
		c.span.SetName(name)
	}
	// The attributes escape through the interface, so they go to the heap
	// anyway: sized for the usual dozen rather than on the stack.
	c.span.SetAttributes(c.op.AppendSpanAttributes(make([]attribute.KeyValue, 0, 12))...)
}

// Span returns the call's span (a non-recording one when tracing is off),
// for events.
func (c *Call) Span() trace.Span {
	if c == nil || c.span == nil {
		return trace.SpanFromContext(context.Background())
	}
	return c.span
}

// End ends the call with r: error.type, rpc.response.status_code and an
// ERROR status with r.Message on the span, and the operation duration
// metric. Only the first End counts; End is not safe for concurrent use
// (the goroutine that sees the response ends the call).
//
// A SERVER call's End also ends what ended under it before it (a CLIENT
// call, validation and translation spans), whose span ends and metrics
// were left to it so as to keep them off the message's critical path:
// they keep the times they ended at. A CLIENT call under a SERVER call
// that has not ended yet is such a call.
//
// End itself only takes the time: the spans are ended and the metrics
// recorded, with that time, by the Provider's background goroutine (see
// ender.go; [Provider.Sync] waits for it), or by End when that goroutine
// cannot take more.
func (c *Call) End(r Result) {
	if c == nil || c.ended {
		return
	}
	c.ended = true
	if c.span == nil && c.m == nil && c.kind != trace.SpanKindServer {
		return // no span (sampled out) and no metrics: nothing to end
	}
	at := time.Now()
	if c.kind != trace.SpanKindServer {
		if parent := openCall(c.ctx); parent != nil && parent.later(lateEnd{at: at, call: c, result: r}) {
			return
		}
	}
	c.result, c.at = r, at
	if c.ends != nil && c.ends.enqueue(c) {
		return
	}
	c.finish()
}

// finish ends the call with the result and time End recorded, and for a
// SERVER call first what was left to it.
func (c *Call) finish() {
	if c.kind == trace.SpanKindServer {
		c.flush()
	}
	c.end(c.result, c.at)
}

// end ends the call at t, the time of its End. The duration is recorded
// before the span ends, so that whoever sees the span ended sees the
// measurement too. It runs once, after End (which set c.ended).
func (c *Call) end(r Result, t time.Time) {
	if c.m != nil {
		c.m.RecordOperation(c.ctx, c.kind, &c.op, r, t.Sub(c.start))
	}
	if c.span != nil {
		if c.span.IsRecording() && r.Failed() {
			var buf [2]attribute.KeyValue
			c.span.SetAttributes(appendResult(buf[:0], r)...)
			c.span.SetStatus(codes.Error, r.Message)
		}
		endSpanAt(c.span, t)
	}
}

// Validation is the INTERNAL span of validating one message. The zero
// Validation is inert.
type Validation struct {
	ctx      context.Context
	span     trace.Span
	m        *Metrics
	side     Side
	revision string
	method   string
	// tracer, when set, starts the span, at start, when it ends.
	tracer trace.Tracer
	start  time.Time
}

// StartValidation starts the span of validating a message of method that
// came from side against revision (span mcpbroker.validate); none under a
// sampled-out span (see [SampledOut]). Under an open SERVER call the span
// is created, with the time the validation started, only when that call
// ends (see [Call.End]), and the context returned is ctx.
func (p *Provider) StartValidation(ctx context.Context, side Side, revision, method string) (context.Context, Validation) {
	if p == nil || (!p.tracing && !p.metering) {
		return ctx, Validation{}
	}
	v := Validation{ctx: ctx, m: p.metrics, side: side, revision: revision, method: method}
	if p.tracing && !SampledOut(ctx) {
		if openCall(ctx) != nil {
			v.tracer, v.start = p.tracer, time.Now()
			return ctx, v
		}
		// The attributes are set by End, with the outcome's, in one call.
		ctx, v.span = p.tracer.Start(ctx, SpanValidate, trace.WithSpanKind(trace.SpanKindInternal))
		v.ctx = ctx
	}
	return ctx, v
}

// End ends the validation; a non-nil err is a failure: ERROR status with
// its text and one more mcpbroker.validation.failures. Under an open
// SERVER call, the span end and the count wait for that call's End (see
// [Call.End]).
func (v *Validation) End(err error) {
	if v.span == nil && v.tracer == nil && (err == nil || v.m == nil) {
		return
	}
	if c := openCall(v.ctx); c != nil {
		late := *v
		if c.later(lateEnd{at: time.Now(), v: &late, err: err}) {
			v.span, v.m, v.tracer = nil, nil, nil
			return
		}
	}
	v.end(err, time.Time{})
}

// end ends the validation at t, or now when t is zero, starting its span
// first when StartValidation left it to End.
func (v *Validation) end(err error, t time.Time) {
	if v.tracer != nil {
		v.ctx, v.span = v.tracer.Start(v.ctx, SpanValidate, trace.WithSpanKind(trace.SpanKindInternal), trace.WithTimestamp(v.start))
		v.tracer = nil
	}
	if v.span != nil {
		if v.span.IsRecording() {
			attrs := make([]attribute.KeyValue, 3, 4)
			attrs[0], attrs[1], attrs[2] = AttrMCPMethodName.String(v.method), AttrRevision.String(v.revision), AttrSide.String(v.side.String())
			if err != nil {
				attrs = append(attrs, AttrErrorType.String("validation"))
				v.span.SetStatus(codes.Error, err.Error())
			}
			v.span.SetAttributes(attrs...)
		}
		endSpanAt(v.span, t)
		v.span = nil
	}
	if err != nil && v.m != nil {
		v.m.ValidationFailed(v.ctx, v.side, v.revision)
		v.m = nil
	}
}

// endSpanAt ends span at t, or now when t is zero.
func endSpanAt(span trace.Span, t time.Time) {
	if t.IsZero() {
		span.End()
		return
	}
	span.End(trace.WithTimestamp(t))
}

// TranslationResult is how translating one message ended.
type TranslationResult struct {
	// Outcome is forward, answer, emulate, reject or drop (the
	// translators' OutcomeKind); "error" when Err is set and Outcome is
	// empty.
	Outcome string
	// Rows are the translation-matrix row IDs applied.
	Rows []string
	// Lossy lists the conversions that lost information, as "row path".
	Lossy []string
	// Err is a translation failure.
	Err error
}

// Translation is the INTERNAL span of one translation hop. The zero
// Translation is inert.
type Translation struct {
	ctx              context.Context
	span             trace.Span
	m                *Metrics
	from, to, method string
	// tracer, when set, starts the span, at start, when it ends.
	tracer trace.Tracer
	start  time.Time
}

// StartTranslation starts the span of translating a message of method
// from one revision to another (span mcpbroker.translate); none under a
// sampled-out span (see [SampledOut]). Under an open SERVER call the span
// is created, with the time the translation started, only when that call
// ends (see [Call.End]), and the context returned is ctx.
func (p *Provider) StartTranslation(ctx context.Context, from, to, method string) (context.Context, Translation) {
	if p == nil || (!p.tracing && !p.metering) {
		return ctx, Translation{}
	}
	t := Translation{ctx: ctx, m: p.metrics, from: from, to: to, method: method}
	if p.tracing && !SampledOut(ctx) {
		if openCall(ctx) != nil {
			t.tracer, t.start = p.tracer, time.Now()
			return ctx, t
		}
		// The attributes are set by End, with the outcome's, in one call.
		ctx, t.span = p.tracer.Start(ctx, SpanTranslate, trace.WithSpanKind(trace.SpanKindInternal))
		t.ctx = ctx
	}
	return ctx, t
}

// End ends the translation with r and counts it in
// mcpbroker.translations. Only the first End counts. Under an open SERVER
// call, the span end and the count wait for that call's End (see
// [Call.End]).
func (t *Translation) End(r TranslationResult) {
	if t.span == nil && t.tracer == nil && t.m == nil {
		return
	}
	if c := openCall(t.ctx); c != nil {
		late := *t
		if c.later(lateEnd{at: time.Now(), t: &late, tr: r}) {
			t.span, t.m, t.tracer = nil, nil, nil
			return
		}
	}
	t.end(r, time.Time{})
}

// end ends the translation at at, or now when at is zero, starting its
// span first when StartTranslation left it to End.
func (t *Translation) end(r TranslationResult, at time.Time) {
	if t.tracer != nil {
		t.ctx, t.span = t.tracer.Start(t.ctx, SpanTranslate, trace.WithSpanKind(trace.SpanKindInternal), trace.WithTimestamp(t.start))
		t.tracer = nil
	}
	outcome := r.Outcome
	if outcome == "" && r.Err != nil {
		outcome = "error"
	}
	if t.span != nil {
		if t.span.IsRecording() {
			attrs := make([]attribute.KeyValue, 4, 6)
			attrs[0], attrs[1], attrs[2] = AttrMCPMethodName.String(t.method), AttrTranslationFrom.String(t.from), AttrTranslationTo.String(t.to)
			attrs[3] = AttrTranslationOutcome.String(outcome)
			if len(r.Rows) > 0 {
				attrs = append(attrs, AttrTranslationRows.StringSlice(r.Rows))
			}
			if len(r.Lossy) > 0 {
				attrs = append(attrs, AttrTranslationLossy.StringSlice(r.Lossy))
			}
			t.span.SetAttributes(attrs...)
			if r.Err != nil {
				t.span.SetStatus(codes.Error, r.Err.Error())
			}
		}
		endSpanAt(t.span, at)
		t.span = nil
	}
	if t.m != nil {
		t.m.TranslationDone(t.ctx, t.from, t.to, outcome)
		t.m = nil
	}
}

// StartEmulation starts the INTERNAL span of work the broker does in a
// peer's place (span mcpbroker.emulate): what is a low-cardinality name
// such as mrtr_round, synthetic_answer or pool_hit. End it with [EndSpan].
// With tracing off, or under a sampled-out span (see [SampledOut]), it
// returns ctx and a non-recording span.
func (p *Provider) StartEmulation(ctx context.Context, what, method string) (context.Context, trace.Span) {
	if !p.Tracing() || SampledOut(ctx) {
		return ctx, trace.SpanFromContext(context.Background())
	}
	ctx, span := p.tracer.Start(ctx, SpanEmulate, trace.WithSpanKind(trace.SpanKindInternal))
	if span.IsRecording() {
		span.SetAttributes(AttrEmulation.String(what), AttrMCPMethodName.String(method))
	}
	return ctx, span
}

// EndSpan ends span, with an ERROR status carrying err's text when err is
// not nil.
func EndSpan(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// ActiveSession is an open session being measured; see
// [Provider.StartSession]. Its methods are safe for concurrent use.
type ActiveSession struct {
	p     *Provider
	s     Session
	start time.Time
	from  trace.SpanContext
	once  sync.Once
}

// StartSession counts s in mcpbroker.sessions.active and adds a
// mcpbroker.session.start event to the span in ctx (the initialize span,
// typically). End the returned session when it closes.
func (p *Provider) StartSession(ctx context.Context, s Session) *ActiveSession {
	a := &ActiveSession{p: p, s: s, start: time.Now(), from: trace.SpanContextFromContext(ctx)}
	if p == nil {
		return a
	}
	if p.metering {
		p.metrics.SessionStarted(ctx, &a.s)
	}
	if span := trace.SpanFromContext(ctx); p.tracing && span.IsRecording() {
		span.AddEvent(EventSessionStart, trace.WithAttributes(sessionEventAttrs(&a.s)...))
	}
	return a
}

func sessionEventAttrs(s *Session) []attribute.KeyValue {
	attrs := []attribute.KeyValue{AttrSide.String(s.Side.String())}
	if s.ID != "" {
		attrs = append(attrs, AttrMCPSessionID.String(s.ID))
	}
	return s.appendMetricAttributes(attrs)
}

// End records the session's duration (mcp.server.session.duration or
// mcp.client.session.duration, with errorType as error.type when not
// empty) and ends its count in mcpbroker.sessions.active. The
// mcpbroker.session.end event goes on the span in ctx when it is
// recording, else on a short mcpbroker.session.end span linked to the
// span the session started in. Only the first End counts.
func (a *ActiveSession) End(ctx context.Context, errorType string) {
	a.once.Do(func() {
		p := a.p
		if p == nil {
			return
		}
		d := time.Since(a.start)
		if p.metering {
			p.metrics.SessionEnded(ctx, &a.s, d, errorType)
		}
		if !p.tracing {
			return
		}
		attrs := append(sessionEventAttrs(&a.s), AttrSessionDuration.Float64(d.Seconds()))
		if errorType != "" {
			attrs = append(attrs, AttrErrorType.String(errorType))
		}
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.AddEvent(EventSessionEnd, trace.WithAttributes(attrs...))
			return
		}
		o := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}
		if a.from.IsValid() {
			o = append(o, trace.WithLinks(trace.Link{SpanContext: a.from}))
		}
		_, span := p.tracer.Start(ctx, SpanSessionEnd, o...)
		if errorType != "" {
			span.SetStatus(codes.Error, errorType)
		}
		span.End()
	})
}
