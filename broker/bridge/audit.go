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
// bad _meta, retries with a bad requestState) or let through invalid
// under Warn. The lanes' relay sessions record their own.

// audit emits e about client message m (nil when unreadable), completed
// with the principal (the credential digest, never the credentials), the
// clientInfo of its _meta and the revision.
func (b *bridge) audit(ctx context.Context, m *jsonrpc.Message, e telemetry.Event) {
	a := b.cfg.Relay.Audit
	if a == nil {
		return
	}
	e.Side = "client"
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

// auditUnread records a frame that was no readable message.
func (b *bridge) auditUnread(ctx context.Context, id json.RawMessage, code int, detail string) {
	if b.cfg.Relay.Audit == nil {
		return
	}
	b.audit(ctx, nil, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeRejected,
		RequestID: telemetry.AuditRequestID(id), ErrorCode: code, Detail: detail})
}
