// Package telemetry is mcpbroker's observability foundation: OpenTelemetry
// traces and metrics following the OpenTelemetry semantic conventions for
// the Model Context Protocol (docs/gen-ai/mcp.md of
// open-telemetry/semantic-conventions), W3C context propagation through
// params._meta and HTTP headers, a Prometheus handler, a slog handler that
// adds trace and span ids, and an audit event sink.
//
// # Setup
//
// [Setup] builds a [Provider] from a [Config]; the standard OTEL_*
// environment variables are honoured where the Config leaves a setting
// empty (see [Config]). [Noop] is the Provider for tracing and metrics both
// off: every helper then returns at once without allocating. A Provider
// holds all state; the package has no mutable package-level variables and
// never touches the OpenTelemetry globals (otel.SetTracerProvider and
// friends): callers pass the Provider around.
//
// # The hot path
//
// For every message the broker receives it calls [Provider.StartServer]
// (a SERVER span whose parent is the trace context in params._meta, with
// the HTTP context as a link) and for every message it sends upstream
// [Provider.StartClient] (a CLIENT span) followed by [InjectMeta] or
// [InjectMessage], so the peer continues the trace; [Call.End] ends the
// span with a [Result] and records mcp.server.operation.duration or
// mcp.client.operation.duration. Span names and attributes follow the
// convention: see [SpanName] and the Attr* keys. [Provider.StartValidation],
// [Provider.StartTranslation] and [Provider.StartEmulation] open INTERNAL
// spans with mcpbroker.* attributes.
//
// Attributes are computed only for spans that are recorded and, for
// metrics, only when a meter is configured; metric attribute sets are
// cached by value, so a measurement allocates nothing. Under a sampled-out
// span no child span is started (see [SampledOut]): a sampled-out message
// costs its SERVER span's start, a read of params._meta, the propagation
// of its (unsampled) trace context and its measurements. What ends under
// an open SERVER call (its CLIENT call, validations, translations) is
// ended and measured, with the times it ended at, when that call ends,
// after the answer is sent (see [Call.End]). With telemetry off the Start
// functions return a nil *Call whose End does nothing.
package telemetry
