package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C keys the broker carries in params._meta and HTTP headers.
const (
	// KeyTraceparent is the W3C Trace Context traceparent key.
	KeyTraceparent = "traceparent"
	// KeyTracestate is the W3C Trace Context tracestate key.
	KeyTracestate = "tracestate"
	// KeyBaggage is the W3C Baggage key.
	KeyBaggage = "baggage"
)

// Errors of [WriteMeta], [InjectMeta] and [InjectMessage], wrapped with
// details. The params are returned unchanged with them.
var (
	// ErrParamsNotObject: params (or a message) are not a JSON object.
	ErrParamsNotObject = errors.New("telemetry: params are not a JSON object")
	// ErrMetaNotObject: params._meta is present but not an object.
	ErrMetaNotObject = errors.New("telemetry: params._meta is not an object")
)

// w3c is the propagator of the _meta and HTTP carriers: W3C Trace Context
// and W3C Baggage. Both are stateless, so sharing one value is safe.
var w3c propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Propagator returns the propagator the broker uses on every carrier:
// W3C Trace Context (traceparent, tracestate) and W3C Baggage. It is fixed:
// params._meta can only carry these keys, so OTEL_PROPAGATORS is not
// consulted.
func Propagator() propagation.TextMapPropagator { return w3c }

// MetaCarrier holds the W3C keys of a params._meta object. It implements
// propagation.TextMapCarrier; keys other than [KeyTraceparent],
// [KeyTracestate] and [KeyBaggage] are ignored by Set and read as "".
type MetaCarrier struct {
	Traceparent string
	Tracestate  string
	Baggage     string
}

var _ propagation.TextMapCarrier = (*MetaCarrier)(nil)

// Get returns the value of key.
func (c *MetaCarrier) Get(key string) string {
	switch key {
	case KeyTraceparent:
		return c.Traceparent
	case KeyTracestate:
		return c.Tracestate
	case KeyBaggage:
		return c.Baggage
	}
	return ""
}

// Set sets key to value; other keys are ignored.
func (c *MetaCarrier) Set(key, value string) {
	switch key {
	case KeyTraceparent:
		c.Traceparent = value
	case KeyTracestate:
		c.Tracestate = value
	case KeyBaggage:
		c.Baggage = value
	}
}

// Keys lists the keys that hold a value.
func (c *MetaCarrier) Keys() []string {
	var ks []string
	if c.Traceparent != "" {
		ks = append(ks, KeyTraceparent)
	}
	if c.Tracestate != "" {
		ks = append(ks, KeyTracestate)
	}
	if c.Baggage != "" {
		ks = append(ks, KeyBaggage)
	}
	return ks
}

// Empty reports whether no key holds a value.
func (c *MetaCarrier) Empty() bool {
	return c.Traceparent == "" && c.Tracestate == "" && c.Baggage == ""
}

// metaKey reports whether a _meta member is one of the W3C keys.
func metaKey(b []byte, m member) bool {
	return m.keyIs(b, KeyTraceparent) || m.keyIs(b, KeyTracestate) || m.keyIs(b, KeyBaggage)
}

// ReadMeta returns the W3C keys found in params._meta. params are raw
// JSON-RPC params as received; anything else (absent params, an array,
// malformed JSON, a _meta that is not an object, values that are not
// strings) yields no keys for the part concerned. Of duplicate keys the
// last wins, as with encoding/json.
func ReadMeta(params []byte) MetaCarrier {
	meta, found, _, _ := findMember(params, skipWS(params, 0), "_meta")
	if !found {
		return MetaCarrier{}
	}
	return readMetaObject(params, meta.valStart)
}

// readMetaObject returns the W3C keys of the _meta object at
// params[start] (none when it is not an object).
func readMetaObject(params []byte, start int) MetaCarrier {
	var c MetaCarrier
	it, ok := newObjIter(params, start)
	if !ok {
		return c
	}
	for {
		m, more := it.next()
		if !more {
			break
		}
		if params[m.valStart] != '"' {
			continue
		}
		var dst *string
		switch {
		case m.keyIs(params, KeyTraceparent):
			dst = &c.Traceparent
		case m.keyIs(params, KeyTracestate):
			dst = &c.Tracestate
		case m.keyIs(params, KeyBaggage):
			dst = &c.Baggage
		default:
			continue
		}
		if s, ok := unquote(params[m.valStart:m.valEnd]); ok {
			*dst = s
		}
	}
	return c
}

// WriteMeta returns params with the non-empty keys of c set in
// params._meta: existing traceparent, tracestate and baggage members of
// _meta are removed and c's appended, and nothing else in params changes
// (members, their order, numbers and whitespace stay byte for byte). An
// absent _meta is added as the last member of params; absent params
// (nil or only whitespace) become {"_meta":{...}}. An empty c returns
// params as they are.
//
// params must be well-formed JSON (as jsonrpc.Message.Params is). When
// they are not an object, or _meta is not an object, WriteMeta returns
// them unchanged with an error wrapping [ErrParamsNotObject] or
// [ErrMetaNotObject].
func WriteMeta(params []byte, c MetaCarrier) ([]byte, error) {
	if c.Empty() {
		return params, nil
	}
	start := skipWS(params, 0)
	if start == len(params) {
		out := make([]byte, 0, 12+metaLen(c))
		out = append(out, `{"_meta":`...)
		out = appendMetaObject(out, c)
		return append(out, '}'), nil
	}
	meta, found, it, ok := findMember(params, start, "_meta")
	if !ok || skipWS(params, it.close+1) != len(params) {
		return params, fmt.Errorf("%w: %.40q", ErrParamsNotObject, params)
	}
	if !found {
		// Append "_meta":{...} before the closing brace of params.
		out := make([]byte, 0, len(params)+12+metaLen(c))
		out = append(out, params[:it.close]...)
		if !it.first {
			out = append(out, ',')
		}
		out = append(out, `"_meta":`...)
		out = appendMetaObject(out, c)
		return append(out, params[it.close:]...), nil
	}
	mit, ok := newObjIter(params, meta.valStart)
	if !ok {
		return params, fmt.Errorf("%w: %.40q", ErrMetaNotObject, params[meta.valStart:meta.valEnd])
	}
	var buf [8]member
	ms := buf[:0]
	for {
		m, more := mit.next()
		if !more {
			break
		}
		ms = append(ms, m)
	}
	if mit.bad {
		return params, fmt.Errorf("%w: malformed _meta", ErrMetaNotObject)
	}
	end := mit.close
	out := make([]byte, 0, len(params)+metaLen(c))
	// The whitespace after '{' stays; then the members but the W3C ones,
	// each kept member followed by the separator that followed it in the
	// input when another kept member comes after it; then c's members; then
	// the whitespace before '}' and the rest of params.
	lead := end
	if len(ms) > 0 {
		lead = ms[0].keyStart
	}
	out = append(out, params[:lead]...)
	lastKept := -1
	for i, m := range ms {
		if metaKey(params, m) {
			continue
		}
		if lastKept >= 0 {
			out = append(out, params[ms[lastKept].valEnd:ms[lastKept+1].keyStart]...)
		}
		out = append(out, params[m.keyStart:m.valEnd]...)
		lastKept = i
	}
	if lastKept >= 0 {
		out = append(out, ',')
	}
	out = appendMetaMembers(out, c)
	if len(ms) > 0 {
		out = append(out, params[ms[len(ms)-1].valEnd:end]...)
	}
	return append(out, params[end:]...), nil
}

// metaLen bounds the length of c's members rendered as JSON.
func metaLen(c MetaCarrier) int {
	return 48 + 2*(len(c.Traceparent)+len(c.Tracestate)+len(c.Baggage))
}

// appendMetaObject appends {c's members}.
func appendMetaObject(dst []byte, c MetaCarrier) []byte {
	dst = append(dst, '{')
	dst = appendMetaMembers(dst, c)
	return append(dst, '}')
}

// appendMetaMembers appends c's non-empty keys as comma-separated members
// in a fixed order: traceparent, tracestate, baggage.
func appendMetaMembers(dst []byte, c MetaCarrier) []byte {
	n := 0
	for _, kv := range [3][2]string{{KeyTraceparent, c.Traceparent}, {KeyTracestate, c.Tracestate}, {KeyBaggage, c.Baggage}} {
		if kv[1] == "" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, kv[0]...)
		dst = append(dst, '"', ':')
		dst = appendJSONString(dst, kv[1])
		n++
	}
	return dst
}

// ExtractMeta returns ctx with the remote span context and baggage found
// in params._meta (see [ReadMeta]); ctx as it is when there are none or
// they are not valid W3C values.
func ExtractMeta(ctx context.Context, params []byte) context.Context {
	c := ReadMeta(params)
	if c.Empty() {
		return ctx
	}
	carrier := c // escapes through the interface: allocated only here
	return w3c.Extract(ctx, &carrier)
}

// nothingToInject reports whether ctx has neither a valid span context
// nor baggage, so that injecting would write nothing.
func nothingToInject(ctx context.Context) bool {
	return !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0
}

// InjectMeta returns params with the span context and baggage of ctx in
// params._meta (see [WriteMeta]); params as they are when ctx has neither
// a valid span context nor baggage. An unsampled span context is injected
// too, so the peer knows not to sample.
func InjectMeta(ctx context.Context, params []byte) ([]byte, error) {
	if nothingToInject(ctx) {
		return params, nil
	}
	var c MetaCarrier
	w3c.Inject(ctx, &c)
	return WriteMeta(params, c)
}

// InjectMessage is [InjectMeta] for a whole raw JSON-RPC request or
// notification: it returns msg with the W3C keys of ctx set in
// params._meta, adding a params member when there is none, and leaves the
// rest of msg byte for byte. Results and errors have no params and must
// not be given.
func InjectMessage(ctx context.Context, msg []byte) ([]byte, error) {
	if nothingToInject(ctx) {
		return msg, nil
	}
	var c MetaCarrier
	w3c.Inject(ctx, &c)
	if c.Empty() {
		return msg, nil
	}
	start := skipWS(msg, 0)
	params, found, it, ok := findMember(msg, start, "params")
	if !ok || skipWS(msg, it.close+1) != len(msg) {
		return msg, fmt.Errorf("%w: %.40q", ErrParamsNotObject, msg)
	}
	if !found {
		out := make([]byte, 0, len(msg)+24+metaLen(c))
		out = append(out, msg[:it.close]...)
		if !it.first {
			out = append(out, ',')
		}
		out = append(out, `"params":{"_meta":`...)
		out = appendMetaObject(out, c)
		out = append(out, '}')
		return append(out, msg[it.close:]...), nil
	}
	p, err := WriteMeta(msg[params.valStart:params.valEnd], c)
	if err != nil {
		return msg, err
	}
	out := make([]byte, 0, len(msg)-(params.valEnd-params.valStart)+len(p))
	out = append(out, msg[:params.valStart]...)
	out = append(out, p...)
	return append(out, msg[params.valEnd:]...), nil
}

// ExtractHTTP returns ctx with the span context and baggage of the W3C
// headers in h.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	return w3c.Extract(ctx, propagation.HeaderCarrier(h))
}

// InjectHTTP sets the W3C headers for the span context and baggage of ctx
// in h.
func InjectHTTP(ctx context.Context, h http.Header) {
	w3c.Inject(ctx, propagation.HeaderCarrier(h))
}
