package relay

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/telemetry/audittest"
)

// auditLog collects a session's audit events.
type auditLog struct {
	tb  testing.TB
	buf *syncBuffer
}

func newAuditLog(tb testing.TB) (*auditLog, *telemetry.Audit) {
	buf := &syncBuffer{}
	return &auditLog{tb: tb, buf: buf}, telemetry.NewAudit(buf)
}

// wait returns the events once there are n, each checked against the
// schema of docs/audit.md; more than n fails the test.
func (a *auditLog) wait(n int) []obj {
	a.tb.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		evs := audittest.Validate(a.tb, []byte(a.buf.String()))
		if len(evs) > n {
			a.tb.Fatalf("%d audit events, want %d:\n%s", len(evs), n, a.buf.String())
		}
		if len(evs) == n {
			// A stray late event would show here.
			time.Sleep(20 * time.Millisecond)
			if evs = audittest.Validate(a.tb, []byte(a.buf.String())); len(evs) != n {
				a.tb.Fatalf("%d audit events, want %d:\n%s", len(evs), n, a.buf.String())
			}
			return evs
		}
		if time.Now().After(deadline) {
			a.tb.Fatalf("%d audit events, want %d:\n%s", len(evs), n, a.buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantFields checks the fields of e named in want (JSON-rendered) and
// that e has none of the fields named with value "".
func wantFields(tb testing.TB, e obj, want map[string]string) {
	tb.Helper()
	for k, v := range want {
		got, ok := e[k]
		switch {
		case v == "" && ok:
			tb.Errorf("audit %s = %s, want absent (event %s)", k, str(got), str(e))
		case v != "" && str(got) != v:
			tb.Errorf("audit %s = %s, want %s (event %s)", k, str(got), v, str(e))
		}
	}
}

// established is what every event after the handshake of
// handshake("2025-06-18", ..., "2025-11-25") says about the session.
var established = map[string]string{
	"client":          `{"name":"test-client","version":"1.0"}`,
	"client_revision": `"2025-06-18"`,
	"server_revision": `"2025-11-25"`,
	"principal":       "",
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestAuditClientValidation(t *testing.T) {
	log, a := newAuditLog(t)
	h := start(t, Config{Validator: testValidator(t), Audit: a})
	h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":"secret-value"}}`)
	e := h.client.recvObj()
	wantEq(t, "error code", errorCode(e), `-32602`)
	ev := log.wait(1)[0]
	wantFields(t, ev, with(established, "kind", `"validation_rejected"`, "outcome", `"rejected"`, "side", `"client"`,
		"method", `"tools/call"`, "request_id", `"7"`, "tool", `"echo"`, "error_code", `-32602`))
	if sid, _ := ev["session_id"].(string); len(sid) != 16 {
		t.Errorf("session_id = %q, want the broker's own id for a pipe client", sid)
	}
	if contains(log.buf.String(), "secret-value") {
		t.Errorf("the event carries a payload value: %s", log.buf.String())
	}
}

func TestAuditClientValidationWarn(t *testing.T) {
	log, a := newAuditLog(t)
	h := start(t, Config{Validator: testValidator(t), ClientValidation: Warn, Audit: a})
	h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":"w","method":"tools/call","params":{"name":"echo","arguments":"x"}}`)
	h.server.recvObj()
	wantFields(t, log.wait(1)[0], with(established, "kind", `"validation_rejected"`, "outcome", `"warned"`, "side", `"client"`,
		"request_id", `"w"`, "tool", `"echo"`, "error_code", ""))
}

func TestAuditServerValidation(t *testing.T) {
	for _, tc := range []struct {
		mode          Mode
		outcome, code string
	}{
		{Warn, `"warned"`, ""},
		{Strict, `"rejected"`, `-32603`},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			log, a := newAuditLog(t)
			h := start(t, Config{Validator: testValidator(t), ServerValidation: tc.mode, Audit: a})
			h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
			h.client.send(`{"jsonrpc":"2.0","id":"x","method":"tools/list"}`)
			h.server.recvObj()
			h.server.send(`{"jsonrpc":"2.0","id":2,"result":{"tools":"none"}}`)
			h.client.recvObj()
			wantFields(t, log.wait(1)[0], with(established, "kind", `"validation_rejected"`, "outcome", tc.outcome,
				"side", `"server"`, "method", `"tools/list"`, "error_code", tc.code))
		})
	}
}

func TestAuditProtocolErrors(t *testing.T) {
	log, a := newAuditLog(t)
	h := start(t, Config{Validator: testValidator(t), Audit: a})
	// Before initialize: no client info or revisions yet.
	h.client.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	wantEq(t, "code", errorCode(h.client.recvObj()), `-32600`)
	wantFields(t, log.wait(1)[0], map[string]string{"kind": `"protocol_error"`, "outcome": `"rejected"`, "side": `"client"`,
		"method": `"tools/list"`, "request_id": `"1"`, "error_code": `-32600`, "client": "", "client_revision": ""})

	h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":2,"method":"tools/li`)
	wantEq(t, "code", errorCode(h.client.recvObj()), `-32700`)
	wantFields(t, log.wait(2)[1], with(established, "kind", `"protocol_error"`, "outcome", `"rejected"`, "error_code", `-32700`))

	h.client.send(`{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"again","version":"1"}}}`)
	wantEq(t, "code", errorCode(h.client.recvObj()), `-32600`)
	wantFields(t, log.wait(3)[2], with(established, "kind", `"protocol_error"`, "method", `"initialize"`, "request_id", `"3"`, "error_code", `-32600`))

	// An upstream error is relayed and recorded as such.
	h.client.send(`{"jsonrpc":"2.0","id":4,"method":"prompts/list"}`)
	up := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"error":{"code":-32601,"message":"no prompts here"}}`)
	wantEq(t, "code", errorCode(h.client.recvObj()), `-32601`)
	wantFields(t, log.wait(4)[3], with(established, "kind", `"upstream_error"`, "outcome", `"error"`, "side", `"server"`,
		"method", `"prompts/list"`, "request_id", `"4"`, "error_code", `-32601`, "detail", `"no prompts here"`))

	// The upstream goes away with a request pending.
	h.loseUpstream()
	wantFields(t, log.wait(5)[4], with(established, "kind", `"protocol_error"`, "outcome", `"error"`, "request_id", `"lost"`,
		"method", `"tools/list"`, "error_code", `-32603`, "detail", `"upstream closed"`))
}

func TestAuditTimeout(t *testing.T) {
	log, a := newAuditLog(t)
	h := start(t, Config{Validator: testValidator(t), RequestTimeout: 20 * time.Millisecond, Audit: a})
	h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"slow"}}`)
	h.server.recvObj()
	wantEq(t, "code", errorCode(h.client.recvObj()), `-32001`)
	wantFields(t, log.wait(1)[0], with(established, "kind", `"protocol_error"`, "outcome", `"error"`, "method", `"tools/call"`,
		"request_id", `"9"`, "error_code", `-32001`))
}

// TestAuditTraced: with tracing on, the event carries the ids of the
// request's SERVER span and becomes a mcpbroker.audit event on it.
func TestAuditTraced(t *testing.T) {
	sink := newSpanSink()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	p, err := telemetry.NewProvider(tp, nil)
	if err != nil {
		t.Fatal(err)
	}
	log, a := newAuditLog(t)
	h := start(t, Config{Validator: testValidator(t), Telemetry: p, Audit: a})
	h.handshake("2025-06-18", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":"x","_meta":{"traceparent":"00-` +
		clientTraceID + `-` + clientSpanID + `-01"}}}`)
	wantEq(t, "code", errorCode(h.client.recvObj()), `-32602`)
	ev := log.wait(1)[0]
	wantFields(t, ev, map[string]string{"trace_id": `"` + clientTraceID + `"`})
	spans := sink.Await(t, "the tools/call SERVER span", func(spans []sdktrace.ReadOnlySpan) bool {
		for _, sp := range spans {
			if sp.SpanKind() == trace.SpanKindServer && sp.SpanContext().TraceID().String() == clientTraceID {
				return true
			}
		}
		return false
	})
	for _, sp := range spans {
		if sp.SpanKind() != trace.SpanKindServer || sp.SpanContext().TraceID().String() != clientTraceID {
			continue
		}
		wantEq(t, "span_id", ev["span_id"], `"`+sp.SpanContext().SpanID().String()+`"`)
		for _, e := range sp.Events() {
			if e.Name == telemetry.EventAudit {
				return
			}
		}
		t.Errorf("no %s event on the SERVER span: %v", telemetry.EventAudit, sp.Events())
	}
}
