package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Audit event kinds (Event.Kind).
const (
	// AuditProtocolError: a message broke the protocol (parse error,
	// invalid request, unknown session, ...).
	AuditProtocolError = "protocol_error"
	// AuditValidationRejected: a message failed schema validation and was
	// refused (strict) or forwarded with a warning (warn).
	AuditValidationRejected = "validation_rejected"
	// AuditPolicyDecision: an authorization or policy decision.
	AuditPolicyDecision = "policy_decision"
	// AuditUpstreamError: the upstream answered a client request with a
	// JSON-RPC error, relayed to the client.
	AuditUpstreamError = "upstream_error"
)

// Audit outcomes (Event.Outcome).
const (
	OutcomeRejected = "rejected" // refused with an error to the sender
	OutcomeWarned   = "warned"   // let through, recorded
	OutcomeAllowed  = "allowed"  // a policy allowed it
	OutcomeDenied   = "denied"   // a policy denied it
	OutcomeError    = "error"    // failed for another reason
)

// AuditRequestID renders a raw JSON-RPC id as Event.RequestID wants it
// (as jsonrpc.request.id: a string decoded, a number as written; "" for
// none or null).
func AuditRequestID(id []byte) string { return idString(id) }

// AuditClient reads initialize's clientInfo (raw JSON, may be nil) and the
// connection's address into a ClientInfo; nil when all are empty.
func AuditClient(clientInfo []byte, address string) *ClientInfo {
	var ci struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if len(clientInfo) > 0 {
		_ = json.Unmarshal(clientInfo, &ci)
	}
	if ci.Name == "" && ci.Version == "" && address == "" {
		return nil
	}
	return &ClientInfo{Name: ci.Name, Version: ci.Version, Address: address}
}

// EventAudit is the name of the span event an audit event becomes.
const EventAudit = "mcpbroker.audit"

// Span event attribute keys of [AuditSpanEvent].
const (
	AttrAuditKind      = attribute.Key("mcpbroker.audit.kind")
	AttrAuditOutcome   = attribute.Key("mcpbroker.audit.outcome")
	AttrAuditErrorCode = attribute.Key("mcpbroker.audit.error_code")
	AttrAuditDetail    = attribute.Key("mcpbroker.audit.detail")
)

// ClientInfo is who the client says it is (initialize's clientInfo) and
// where it connects from.
type ClientInfo struct {
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Address string `json:"address,omitempty"`
}

// Event is one audit event; docs/audit.md has its JSON Schema. Empty
// fields are left out of the JSON.
type Event struct {
	// Time of the event; Emit sets it to now when zero.
	Time time.Time `json:"time"`
	// Kind is AuditProtocolError, AuditValidationRejected or
	// AuditPolicyDecision.
	Kind string `json:"kind"`
	// Outcome is OutcomeRejected, OutcomeWarned, OutcomeAllowed,
	// OutcomeDenied or OutcomeError.
	Outcome string `json:"outcome"`
	// Principal is the authenticated identity, when there is one.
	Principal string `json:"principal,omitempty"`
	// Client describes the client.
	Client *ClientInfo `json:"client,omitempty"`
	// SessionID is the client-facing MCP session id.
	SessionID string `json:"session_id,omitempty"`
	// Side is "client" or "server": who sent the message concerned.
	Side string `json:"side,omitempty"`
	// Method and RequestID identify the message (RequestID as
	// jsonrpc.request.id renders it).
	Method    string `json:"method,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Tool is the tool of a tools/call.
	Tool string `json:"tool,omitempty"`
	// ClientRevision and ServerRevision are the revisions of the two hops.
	ClientRevision string `json:"client_revision,omitempty"`
	ServerRevision string `json:"server_revision,omitempty"`
	// ErrorCode is the JSON-RPC error code answered, 0 for none.
	ErrorCode int `json:"error_code,omitempty"`
	// Detail says what was wrong, without payload (no argument values).
	Detail string `json:"detail,omitempty"`
	// TraceID and SpanID correlate the event with its trace; Emit takes
	// them from the context when empty.
	TraceID string `json:"trace_id,omitempty"`
	SpanID  string `json:"span_id,omitempty"`
}

// Audit writes audit events as JSON lines, one Write per event, and is
// safe for concurrent use. A nil *Audit writes nothing but still adds the
// span event.
type Audit struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
}

// NewAudit returns a sink writing to w; Close does not close w.
func NewAudit(w io.Writer) *Audit {
	return &Audit{w: w}
}

// OpenAudit returns the sink named by dest: "" for none (a nil *Audit),
// "stdout" or "-" for standard output (never with the stdio transport,
// whose stream it would corrupt), "stderr", or a file path, opened for
// appending and created with mode 0600.
func OpenAudit(dest string) (*Audit, error) {
	switch dest {
	case "":
		return nil, nil
	case "-", "stdout":
		return NewAudit(os.Stdout), nil
	case "stderr":
		return NewAudit(os.Stderr), nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("telemetry: audit sink: %w", err)
	}
	return &Audit{w: f, closer: f}, nil
}

// Emit completes e (time, trace and span ids from ctx), adds it as a
// mcpbroker.audit event to the span in ctx, and writes it as one JSON
// line.
func (a *Audit) Emit(ctx context.Context, e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		if e.TraceID == "" {
			e.TraceID = sc.TraceID().String()
		}
		if e.SpanID == "" {
			e.SpanID = sc.SpanID().String()
		}
	}
	AuditSpanEvent(trace.SpanFromContext(ctx), e)
	if a == nil {
		return nil
	}
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("telemetry: audit event: %w", err)
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.w == nil {
		return fmt.Errorf("telemetry: audit sink: %w", os.ErrClosed)
	}
	if _, err := a.w.Write(line); err != nil {
		return fmt.Errorf("telemetry: audit sink: %w", err)
	}
	return nil
}

// Close closes a file sink; later Emits fail.
func (a *Audit) Close() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.closer
	a.w, a.closer = nil, nil
	if c == nil {
		return nil
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("telemetry: audit sink: %w", err)
	}
	return nil
}

// AuditSpanEvent adds e to span as a mcpbroker.audit event when span is
// recording. The principal and client details stay out of traces (trace
// backends are often shared more widely than audit logs).
func AuditSpanEvent(span trace.Span, e Event) {
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{AttrAuditKind.String(e.Kind), AttrAuditOutcome.String(e.Outcome)}
	if e.Method != "" {
		attrs = append(attrs, AttrMCPMethodName.String(e.Method))
	}
	if e.Tool != "" {
		attrs = append(attrs, AttrGenAIToolName.String(e.Tool))
	}
	if e.Side != "" {
		attrs = append(attrs, AttrSide.String(e.Side))
	}
	if e.ErrorCode != 0 {
		attrs = append(attrs, AttrAuditErrorCode.Int(e.ErrorCode))
	}
	if e.Detail != "" {
		attrs = append(attrs, AttrAuditDetail.String(e.Detail))
	}
	span.AddEvent(EventAudit, trace.WithAttributes(attrs...), trace.WithTimestamp(e.Time))
}
