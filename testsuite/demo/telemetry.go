package demo

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// WithTelemetry makes the server a traced MCP server: every request it
// answers gets a SERVER span (and the mcp.server.operation.duration
// metric) from p, whose parent is the W3C trace context in the request's
// params._meta, so that the server continues the trace of whoever sent
// it (the broker's CLIENT span). Nil or a no-op p traces nothing.
func WithTelemetry(p *telemetry.Provider) Option {
	return func(s *Server) { s.tel = p }
}

// traced returns h wrapped in the SERVER span of each request, or h as it
// is when telemetry is off. conn is the Conn the requests come on, for
// network.transport.
func (s *Server) traced(h session.Handler, conn transport.Conn) session.Handler {
	if !s.tel.Tracing() && !s.tel.Metering() {
		return h
	}
	tr := telemetry.TransportPipe
	switch conn.(type) {
	case transport.SessionIDer, transport.RevisionSetter, transport.RequestHeaders, *postConn:
		tr = telemetry.TransportTCP
	}
	return func(ctx context.Context, req *session.Request) (any, error) {
		op := telemetry.Op{Method: req.Method, ID: req.ID, Params: req.Params, Revision: s.rev.String(), Transport: tr}
		if tr == telemetry.TransportTCP {
			op.ProtocolName = "http"
		}
		ctx, call := s.tel.StartServer(ctx, op)
		res, err := h(ctx, req)
		call.End(handlerResult(ctx, req.Method, res, err))
		return res, err
	}
}

// handlerResult is the telemetry.Result of a handler's answer.
func handlerResult(ctx context.Context, method string, res any, err error) telemetry.Result {
	var je *jsonrpc.Error
	switch {
	case errors.As(err, &je):
		return telemetry.RPCError(je.Code, je.Message)
	case errors.Is(context.Cause(ctx), session.ErrCancelled):
		return telemetry.Failure("cancelled", "the client cancelled the request")
	case err != nil:
		return telemetry.RPCError(jsonrpc.CodeInternalError, err.Error())
	case method != "tools/call":
		return telemetry.Result{}
	}
	raw, ok := res.(json.RawMessage)
	if !ok {
		var merr error
		if raw, merr = json.Marshal(res); merr != nil {
			return telemetry.Result{}
		}
	}
	return telemetry.ResultOf(method, raw, nil)
}
