package telemetry

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Metric names: the convention's four histograms and mcpbroker's own.
const (
	MetricServerOperationDuration = "mcp.server.operation.duration"
	MetricClientOperationDuration = "mcp.client.operation.duration"
	MetricServerSessionDuration   = "mcp.server.session.duration"
	MetricClientSessionDuration   = "mcp.client.session.duration"
	MetricSessionsActive          = "mcpbroker.sessions.active"
	MetricTranslations            = "mcpbroker.translations"
	MetricValidationFailures      = "mcpbroker.validation.failures"
	MetricUpstreamErrors          = "mcpbroker.upstream.errors"
	MetricUpstreamRestarts        = "mcpbroker.upstream.restarts"
	MetricCacheHits               = "mcpbroker.cache.hits"
	MetricCacheMisses             = "mcpbroker.cache.misses"
)

// DurationBuckets are the explicit bucket boundaries, in seconds, that the
// convention gives the four MCP duration histograms.
func DurationBuckets() []float64 {
	return []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}
}

// Metrics holds the broker's instruments. Its record methods are safe for
// concurrent use; on the Metrics of a Provider with metrics off they
// return at once.
type Metrics struct {
	// ServerOperationDuration is mcp.server.operation.duration: a message
	// the broker received, from receipt until it answered (requests) or
	// handled it (notifications).
	ServerOperationDuration metric.Float64Histogram
	// ClientOperationDuration is mcp.client.operation.duration: a message
	// the broker sent, until the response arrived or, for a notification,
	// it was written.
	ClientOperationDuration metric.Float64Histogram
	// ServerSessionDuration is mcp.server.session.duration: client-facing
	// sessions.
	ServerSessionDuration metric.Float64Histogram
	// ClientSessionDuration is mcp.client.session.duration: upstream
	// sessions.
	ClientSessionDuration metric.Float64Histogram
	// SessionsActive counts open sessions by side, revision and transport.
	SessionsActive metric.Int64UpDownCounter
	// Translations counts translated messages by revision pair and outcome.
	Translations metric.Int64Counter
	// ValidationFailures counts messages failing validation by revision
	// and side.
	ValidationFailures metric.Int64Counter
	// UpstreamErrors counts upstream failures by upstream and kind.
	UpstreamErrors metric.Int64Counter
	// UpstreamRestarts counts restarts of upstream servers by upstream.
	UpstreamRestarts metric.Int64Counter
	// CacheHits and CacheMisses count response cache lookups by method.
	CacheHits   metric.Int64Counter
	CacheMisses metric.Int64Counter

	enabled bool

	// The attribute sets of the record methods, by attribute values
	// (attrcache.go).
	ops          attrCache[opKey]
	translations attrCache[translationKey]
	validations  attrCache[validationKey]
	upstreams    attrCache[upstreamKey]
	cacheMethods attrCache[string]
}

// NewMetrics creates the instruments on mp's meter for [ScopeName].
func NewMetrics(mp metric.MeterProvider) (*Metrics, error) {
	m := mp.Meter(ScopeName)
	var (
		ms   = &Metrics{enabled: true}
		errs []error
	)
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(DurationBuckets()...))
		errs = append(errs, err)
		return h
	}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	ms.ServerOperationDuration = hist(MetricServerOperationDuration, "The duration of the MCP request or notification as observed on the receiver from the time it was received until the result or ack is sent.")
	ms.ClientOperationDuration = hist(MetricClientOperationDuration, "The duration of the MCP request or notification as observed on the sender from the time it was sent until the response or ack is received.")
	ms.ServerSessionDuration = hist(MetricServerSessionDuration, "The duration of the MCP session as observed on the MCP server.")
	ms.ClientSessionDuration = hist(MetricClientSessionDuration, "The duration of the MCP session as observed on the MCP client.")
	var err error
	ms.SessionsActive, err = m.Int64UpDownCounter(MetricSessionsActive, metric.WithUnit("{session}"),
		metric.WithDescription("Open MCP sessions, client-facing (side=client) and upstream (side=server)."))
	errs = append(errs, err)
	ms.Translations = counter(MetricTranslations, "{message}", "Messages translated between two MCP revisions, by pair and outcome.")
	ms.ValidationFailures = counter(MetricValidationFailures, "{message}", "Messages that failed schema validation, by revision and side.")
	ms.UpstreamErrors = counter(MetricUpstreamErrors, "{error}", "Upstream failures (transport, timeout, protocol, exit), by upstream and kind.")
	ms.UpstreamRestarts = counter(MetricUpstreamRestarts, "{restart}", "Restarts of upstream servers.")
	ms.CacheHits = counter(MetricCacheHits, "{lookup}", "Response cache hits, by method.")
	ms.CacheMisses = counter(MetricCacheMisses, "{lookup}", "Response cache misses, by method.")
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("telemetry: instruments: %w", err)
		}
	}
	return ms, nil
}

// RecordOperation records the duration of one MCP message: kind
// trace.SpanKindServer for a message the broker received
// (mcp.server.operation.duration), trace.SpanKindClient for one it sent
// (mcp.client.operation.duration). [Call.End] calls it.
func (m *Metrics) RecordOperation(ctx context.Context, kind trace.SpanKind, op *Op, r Result, d time.Duration) {
	if m == nil || !m.enabled {
		return
	}
	h := m.ServerOperationDuration
	if kind == trace.SpanKindClient {
		h = m.ClientOperationDuration
	}
	h.Record(ctx, d.Seconds(), m.operationAttributes(kind, op, r).rec...)
}

// operationAttributes returns the attribute options of an operation
// duration measurement, cached by attribute values.
func (m *Metrics) operationAttributes(kind trace.SpanKind, op *Op, r Result) measureOpts {
	t := op.Target()
	k := opKey{
		client: kind == trace.SpanKindClient, method: op.Method, tool: t.Tool, prompt: t.Prompt,
		revision: op.Revision, transport: op.Transport, protoName: op.ProtocolName, protoVer: op.ProtocolVersion,
		serverAddr: op.ServerAddress, serverPort: op.ServerPort, errorType: r.ErrorType, statusCode: r.StatusCode,
	}
	return m.ops.get(k, func(dst []attribute.KeyValue) []attribute.KeyValue {
		return appendResult(op.AppendMetricAttributes(dst), r)
	})
}

// appendResult appends error.type and rpc.response.status_code of r.
func appendResult(dst []attribute.KeyValue, r Result) []attribute.KeyValue {
	if r.ErrorType != "" {
		dst = append(dst, AttrErrorType.String(r.ErrorType))
	}
	if r.StatusCode != "" {
		dst = append(dst, AttrRPCResponseStatusCode.String(r.StatusCode))
	}
	return dst
}

// Session describes an MCP session for the session metrics and events.
// Its ID goes on span events only, never on metrics.
type Session struct {
	// Side is ClientSide for a client-facing session, ServerSide for an
	// upstream one.
	Side Side
	// ID is the session id (mcp.session.id).
	ID string
	// Revision is the session's MCP revision (mcp.protocol.version).
	Revision string
	// Transport, ProtocolName and ProtocolVersion are the network.*
	// attributes.
	Transport       Transport
	ProtocolName    string
	ProtocolVersion string
	// ServerAddress and ServerPort name the upstream of a ServerSide
	// session.
	ServerAddress string
	ServerPort    int
}

// appendMetricAttributes appends the session duration attributes.
func (s *Session) appendMetricAttributes(dst []attribute.KeyValue) []attribute.KeyValue {
	if s.Revision != "" {
		dst = append(dst, AttrMCPProtocolVersion.String(s.Revision))
	}
	if tr := s.Transport.String(); tr != "" {
		dst = append(dst, AttrNetworkTransport.String(tr))
	}
	if s.ProtocolName != "" {
		dst = append(dst, AttrNetworkProtocolName.String(s.ProtocolName))
	}
	if s.ProtocolVersion != "" {
		dst = append(dst, AttrNetworkProtocolVersion.String(s.ProtocolVersion))
	}
	if s.Side == ServerSide && s.ServerAddress != "" {
		dst = append(dst, AttrServerAddress.String(s.ServerAddress))
		if s.ServerPort > 0 {
			dst = append(dst, AttrServerPort.Int(s.ServerPort))
		}
	}
	return dst
}

// activeAttributes are the attributes of mcpbroker.sessions.active.
func (s *Session) activeAttributes() metric.MeasurementOption {
	var buf [3]attribute.KeyValue
	attrs := append(buf[:0], AttrSide.String(s.Side.String()))
	if s.Revision != "" {
		attrs = append(attrs, AttrMCPProtocolVersion.String(s.Revision))
	}
	if tr := s.Transport.String(); tr != "" {
		attrs = append(attrs, AttrNetworkTransport.String(tr))
	}
	return metric.WithAttributes(attrs...)
}

// SessionStarted adds one to mcpbroker.sessions.active.
func (m *Metrics) SessionStarted(ctx context.Context, s *Session) {
	if m == nil || !m.enabled {
		return
	}
	m.SessionsActive.Add(ctx, 1, s.activeAttributes())
}

// SessionEnded takes one from mcpbroker.sessions.active and records the
// session's duration; errorType is error.type when the session ended with
// an error, else "". s must be equal to the one given to SessionStarted.
func (m *Metrics) SessionEnded(ctx context.Context, s *Session, d time.Duration, errorType string) {
	if m == nil || !m.enabled {
		return
	}
	m.SessionsActive.Add(ctx, -1, s.activeAttributes())
	var buf [8]attribute.KeyValue
	attrs := s.appendMetricAttributes(buf[:0])
	if errorType != "" {
		attrs = append(attrs, AttrErrorType.String(errorType))
	}
	h := m.ServerSessionDuration
	if s.Side == ServerSide {
		h = m.ClientSessionDuration
	}
	h.Record(ctx, d.Seconds(), metric.WithAttributes(attrs...))
}

// TranslationDone counts one translated message: pair "from->to",
// outcome forward, answer, emulate, reject, drop or error.
func (m *Metrics) TranslationDone(ctx context.Context, from, to, outcome string) {
	if m == nil || !m.enabled {
		return
	}
	opt := m.translations.get(translationKey{from, to, outcome}, func(dst []attribute.KeyValue) []attribute.KeyValue {
		return append(dst, AttrTranslationPair.String(from+"->"+to), AttrTranslationOutcome.String(outcome))
	})
	m.Translations.Add(ctx, 1, opt.add...)
}

// ValidationFailed counts one message of side that failed validation
// against revision.
func (m *Metrics) ValidationFailed(ctx context.Context, side Side, revision string) {
	if m == nil || !m.enabled {
		return
	}
	opt := m.validations.get(validationKey{side, revision}, func(dst []attribute.KeyValue) []attribute.KeyValue {
		return append(dst, AttrRevision.String(revision), AttrSide.String(side.String()))
	})
	m.ValidationFailures.Add(ctx, 1, opt.add...)
}

// UpstreamError counts one failure of upstream of a kind such as
// transport, timeout, protocol or exited.
func (m *Metrics) UpstreamError(ctx context.Context, upstream, kind string) {
	if m == nil || !m.enabled {
		return
	}
	opt := m.upstreams.get(upstreamKey{upstream, kind}, func(dst []attribute.KeyValue) []attribute.KeyValue {
		return append(dst, AttrUpstream.String(upstream), AttrErrorKind.String(kind))
	})
	m.UpstreamErrors.Add(ctx, 1, opt.add...)
}

// UpstreamRestarted counts one restart of upstream.
func (m *Metrics) UpstreamRestarted(ctx context.Context, upstream string) {
	if m == nil || !m.enabled {
		return
	}
	m.UpstreamRestarts.Add(ctx, 1, metric.WithAttributes(AttrUpstream.String(upstream)))
}

// CacheLookup counts one response cache lookup for method.
func (m *Metrics) CacheLookup(ctx context.Context, method string, hit bool) {
	if m == nil || !m.enabled {
		return
	}
	c := m.CacheMisses
	if hit {
		c = m.CacheHits
	}
	opt := m.cacheMethods.get(method, func(dst []attribute.KeyValue) []attribute.KeyValue {
		return append(dst, AttrCacheMethod.String(method))
	})
	c.Add(ctx, 1, opt.add...)
}
