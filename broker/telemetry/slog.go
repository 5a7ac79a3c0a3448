package telemetry

import (
	"context"
	"io"
	"log/slog"
	"strconv"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys added by [LogHandler].
const (
	LogTraceID = "trace_id"
	LogSpanID  = "span_id"
)

// LogHandler wraps a slog.Handler and adds trace_id and span_id, as hex
// strings, to every record whose context carries a valid span context
// (recorded or not: the ids still correlate logs with the peer's trace).
// The ids stay top-level attributes even on a logger with groups.
type LogHandler struct {
	base  slog.Handler // the wrapped handler before any WithGroup
	inner slog.Handler // base with every WithAttrs and WithGroup applied
	ops   []handlerOp  // the WithAttrs and WithGroup calls since the first group
}

// handlerOp is one WithAttrs (group == "") or WithGroup call.
type handlerOp struct {
	group string
	attrs []slog.Attr
}

var _ slog.Handler = (*LogHandler)(nil)

// NewLogHandler wraps h.
func NewLogHandler(h slog.Handler) *LogHandler {
	return &LogHandler{base: h, inner: h}
}

// NewLogger returns a JSON-lines logger on w at level whose records carry
// trace_id and span_id (see [LogHandler]).
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(NewLogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// Enabled reports whether the wrapped handler handles level.
func (h *LogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle adds the ids of ctx's span context to r and passes it on.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.inner.Handle(ctx, r)
	}
	ids := [2]slog.Attr{
		slog.String(LogTraceID, sc.TraceID().String()),
		slog.String(LogSpanID, sc.SpanID().String()),
	}
	if len(h.ops) == 0 {
		r = r.Clone()
		r.AddAttrs(ids[:]...)
		return h.inner.Handle(ctx, r)
	}
	// Under a group, attributes added to the record would land in it:
	// rebuild the chain with the ids added before the first group.
	inner := h.base.WithAttrs(ids[:])
	for _, op := range h.ops {
		if op.group != "" {
			inner = inner.WithGroup(op.group)
		} else {
			inner = inner.WithAttrs(op.attrs)
		}
	}
	return inner.Handle(ctx, r)
}

// WithAttrs returns a handler with attrs added.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	n := &LogHandler{base: h.base, inner: h.inner.WithAttrs(attrs)}
	if len(h.ops) == 0 {
		n.base = n.inner
		return n
	}
	n.ops = append(h.ops[:len(h.ops):len(h.ops)], handlerOp{attrs: attrs})
	return n
}

// WithGroup returns a handler that qualifies later attributes with name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &LogHandler{
		base:  h.base,
		inner: h.inner.WithGroup(name),
		ops:   append(h.ops[:len(h.ops):len(h.ops)], handlerOp{group: name}),
	}
}

// Payload returns the log value of a raw message or params: the bytes
// as a string when enabled (payloads may carry secrets, so the broker's
// configuration must turn this on explicitly), else only their size.
func Payload(enabled bool, raw []byte) slog.Value {
	if enabled {
		return slog.StringValue(string(raw))
	}
	return slog.StringValue("[" + strconv.Itoa(len(raw)) + " bytes, payload logging off]")
}
