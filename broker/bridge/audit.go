package bridge

import (
	"context"
	"encoding/json"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// The bridge's audit events go to Config.Relay.Audit (docs/audit.md): the
// 2026-07-28 client messages refused (unreadable, batches, invalid,
// refused by the translator chain such as the -32020/-32022 errors of a
// bad _meta, retries with a bad requestState, duplicate ids) or let
// through invalid under Warn, and the bridge's own -32603 answers (no
// upstream session, a lane that ended under a request, a request that
// could not be suspended or resent). The lanes' relay sessions record
// their own.

// audit emits e about client message m (nil when unreadable or not at
// hand: e then names the method and id itself), its side "client" unless
// e names one, completed
// with the principal (the credential digest, never the credentials), the
// clientInfo of its _meta and the revision.
func (b *bridge) audit(ctx context.Context, m *jsonrpc.Message, e telemetry.Event) {
	a := b.cfg.Relay.Audit
	if a == nil {
		return
	}
	if e.Side == "" {
		e.Side = "client"
	}
	e.ClientRevision = schemas.V20260728.String()
	if m != nil {
		e.Method = m.Method
		e.RequestID = telemetry.AuditRequestID(m.ID)
		if m.Kind == jsonrpc.KindRequest {
			e.Principal = b.principal(m.ID)
		}
		e.Client = telemetry.AuditClient(factsOf(m).info, "")
		if m.Method == "tools/call" {
			e.Tool = translators.Parse(m.Params).Get("name").Str()
		}
	}
	if err := a.Emit(ctx, e); err != nil {
		b.log.WarnContext(ctx, "bridge: audit event lost", "err", err)
	}
}

// rejectError answers client request m with a JSON-RPC error and records
// it as a protocol_error audit event.
func (b *bridge) rejectError(ctx context.Context, m *jsonrpc.Message, code int, msg string, data any) {
	outcome := telemetry.OutcomeRejected
	if code == jsonrpc.CodeInternalError {
		outcome = telemetry.OutcomeError
	}
	b.audit(ctx, m, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: outcome, ErrorCode: code, Detail: msg})
	b.replyError(ctx, m.ID, code, msg, data)
}

// failCall answers the client request id (of method), which the bridge
// took and can no longer serve, with -32603 msg and records it as a
// protocol_error audit event (outcome error).
func (b *bridge) failCall(ctx context.Context, id json.RawMessage, method, msg string) {
	if b.cfg.Relay.Audit != nil {
		b.audit(ctx, nil, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeError,
			Method: method, RequestID: telemetry.AuditRequestID(id), Principal: b.principal(id),
			ErrorCode: jsonrpc.CodeInternalError, Detail: msg})
	}
	b.replyError(ctx, id, jsonrpc.CodeInternalError, msg, nil)
}

// auditAnswer records raw, the error the bridge answers call c with in
// place of the lane's answer it cannot translate, as a protocol_error of
// the server side.
func (b *bridge) auditAnswer(ctx context.Context, c *call, raw []byte) {
	m, err := jsonrpc.Parse(raw)
	if err != nil || m.Kind != jsonrpc.KindError {
		return
	}
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(m.Error, &e)
	b.mu.Lock()
	id := c.clientID
	b.mu.Unlock()
	outcome := telemetry.OutcomeRejected
	if e.Code == jsonrpc.CodeInternalError {
		outcome = telemetry.OutcomeError
	}
	b.audit(ctx, nil, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: outcome, Side: "server", Method: c.method,
		RequestID: telemetry.AuditRequestID(id), Principal: c.principal, ErrorCode: e.Code, Detail: e.Message})
}

// auditUnread records a frame that was no readable message.
func (b *bridge) auditUnread(ctx context.Context, id json.RawMessage, code int, detail string) {
	if b.cfg.Relay.Audit == nil {
		return
	}
	b.audit(ctx, nil, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeRejected,
		RequestID: telemetry.AuditRequestID(id), ErrorCode: code, Detail: detail})
}
