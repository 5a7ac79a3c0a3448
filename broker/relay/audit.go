package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// The relay's audit events (Config.Audit, docs/audit.md): every error the
// broker itself answers a client request with (a protocol error, a
// validation failure, a refusal of the translator chain, a lost or
// unavailable upstream, a timeout, shutdown), every message refused or
// let through invalid by validation (either side), and every JSON-RPC
// error of the upstream relayed to the client. With Config.Audit nil each
// hook is one nil check.

// auditSessionID is the session id of the events of a client transport
// without one (stdio, pipes): made up once per session.
func newAuditSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// audit completes e with who (principal, client) and the session's
// revisions and emits it.
func (s *session) audit(ctx context.Context, e telemetry.Event) {
	if s.cfg.Audit == nil {
		return
	}
	if p, ok := s.client.(transport.Principaled); ok {
		e.Principal = p.Principal()
	}
	if si, ok := s.client.(transport.SessionIDer); ok {
		e.SessionID = si.SessionID()
	} else {
		e.SessionID = s.auditID
	}
	s.mu.Lock()
	info, clientRev := s.tctx.ClientInfo, s.clientRev
	s.mu.Unlock()
	e.Client = telemetry.AuditClient(info, "")
	if l := s.link.Load(); l != nil {
		e.ClientRevision, e.ServerRevision = l.clientRev.String(), l.upRev.String()
	} else if clientRev.Valid() {
		e.ClientRevision = clientRev.String()
	}
	if err := s.cfg.Audit.Emit(ctx, e); err != nil {
		s.log.WarnContext(ctx, "relay: audit event lost", "err", err)
	}
}

// auditMessage emits an event about message m (its method, id and, for a
// tools/call, tool).
func (s *session) auditMessage(ctx context.Context, kind, outcome, side string, m *jsonrpc.Message, code int, detail string) {
	if s.cfg.Audit == nil {
		return
	}
	e := telemetry.Event{Kind: kind, Outcome: outcome, Side: side, Method: m.Method,
		RequestID: telemetry.AuditRequestID(m.ID), ErrorCode: code, Detail: detail}
	if m.Method == "tools/call" {
		e.Tool = translators.Parse(m.Params).Get("name").Str()
	}
	s.audit(ctx, e)
}

// auditCall emits an event about the client request of c, answered by
// the broker with code (outcome "error": the request was valid, the broker
// could not serve it).
func (s *session) auditCall(ctx context.Context, c *call, code int, detail string) {
	if s.cfg.Audit == nil || c.reinit != nil || c.internal {
		return
	}
	s.audit(ctx, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeError, Side: "client",
		Method: c.method, RequestID: telemetry.AuditRequestID(c.clientID), ErrorCode: code, Detail: detail})
}

// auditReply emits a protocol_error event for the error response raw the
// broker answers client request m with (outcome "rejected" for an error
// of the request, "error" for -32603 and the implementation-defined codes).
func (s *session) auditReply(ctx context.Context, m *jsonrpc.Message, raw []byte) {
	if s.cfg.Audit == nil {
		return
	}
	code, msg := errorOf(raw)
	if code == 0 {
		return
	}
	s.auditMessage(ctx, telemetry.AuditProtocolError, outcomeOf(code), "client", m, code, msg)
}

// auditError emits a protocol_error event for raw when it is an error
// response the broker answers the client request id (of method) with
// outside that request's own handling: the answer of a tasks/result that
// waited for its task (4.M5). Other responses emit nothing.
func (s *session) auditError(ctx context.Context, method string, id json.RawMessage, raw []byte) {
	if s.cfg.Audit == nil {
		return
	}
	code, msg := errorOf(raw)
	if code == 0 {
		return
	}
	s.audit(ctx, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: outcomeOf(code), Side: "client",
		Method: method, RequestID: telemetry.AuditRequestID(id), ErrorCode: code, Detail: msg})
}

// auditHandshake emits the event of reply, the error the client's
// initialize (the broker's first upstream request c) is answered with when
// the upstream handshake fails: an upstream_error when the upstream
// refused it with an error of its own (upstream set), else a
// protocol_error of outcome error (no answer, a revision the broker does
// not speak, an invalid or untranslatable result).
func (s *session) auditHandshake(ctx context.Context, c *call, reply []byte, upstream bool) {
	if s.cfg.Audit == nil {
		return
	}
	code, msg := errorOf(reply)
	e := telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeError, Side: "client",
		Method: methodInitialize, RequestID: telemetry.AuditRequestID(c.clientID), ErrorCode: code, Detail: msg}
	if upstream {
		e.Kind, e.Side = telemetry.AuditUpstreamError, "server"
	}
	s.audit(ctx, e)
}

// outcomeOf is the outcome of a broker error with that code.
func outcomeOf(code int) string {
	switch code {
	case jsonrpc.CodeParseError, jsonrpc.CodeInvalidRequest, jsonrpc.CodeMethodNotFound, jsonrpc.CodeInvalidParams:
		return telemetry.OutcomeRejected
	}
	if code <= -32020 && code >= -32099 {
		return telemetry.OutcomeRejected // the 2026-07-28 request errors
	}
	return telemetry.OutcomeError
}

// errorOf reads the code and message of an error response (0 when raw is
// none).
func errorOf(raw []byte) (int, string) {
	var r struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &r) != nil || r.Error == nil {
		return 0, ""
	}
	return r.Error.Code, r.Error.Message
}

// ValidationDetail is the detail of the audit event of a message that
// failed validation (err, a *schemas.ValidationError): the failure and the
// JSON pointers of the issues, without the values found there.
func ValidationDetail(err error) string {
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) {
		return "invalid message"
	}
	var b strings.Builder
	b.WriteString(ve.Revision.String())
	if ve.Method != "" {
		b.WriteString(" " + ve.Method)
	}
	if u := ve.Unwrap(); u != nil {
		b.WriteString(": " + u.Error())
	}
	var paths []string
	for _, is := range ve.Issues {
		if is.Path != "" {
			paths = append(paths, is.Path)
		}
	}
	if len(paths) > 0 {
		b.WriteString(" at " + strings.Join(paths, ", "))
	}
	return b.String()
}

// sideOf is the audit side of a sender.
func sideOf(from schemas.Sender) string {
	if from == schemas.FromClient {
		return "client"
	}
	return "server"
}

// auditInvalid emits the validation_rejected event of m (answering a
// request method, for a response), refused under Strict, let through
// under Warn.
func (s *session) auditInvalid(ctx context.Context, m *jsonrpc.Message, from schemas.Sender, method string, mode Mode, ve *schemas.ValidationError) {
	e := telemetry.Event{Kind: telemetry.AuditValidationRejected, Outcome: telemetry.OutcomeWarned, Side: sideOf(from),
		Method: m.Method, RequestID: telemetry.AuditRequestID(m.ID), Detail: ValidationDetail(ve)}
	if e.Method == "" {
		e.Method = method
	}
	if m.Method == "tools/call" {
		e.Tool = translators.Parse(m.Params).Get("name").Str()
	}
	if mode == Strict {
		e.Outcome = telemetry.OutcomeRejected
		switch m.Kind {
		case jsonrpc.KindRequest:
			e.ErrorCode = ve.Code()
		case jsonrpc.KindNotification:
		default:
			e.ErrorCode = jsonrpc.CodeInternalError // the requester gets -32603
		}
	}
	s.audit(ctx, e)
}
