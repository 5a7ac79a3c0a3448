package bridge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/telemetry/audittest"
)

// TestAuditForgedRequestState: a retry with a forged requestState is
// refused and recorded once, with the principal's digest and neither the
// credentials nor the state.
func TestAuditForgedRequestState(t *testing.T) {
	sink := &logSink{}
	h := newHarness(t, withConfig(func(c *Config) { c.Relay.Audit = telemetry.NewAudit(sink) }))
	alice := h.suspendElicit("Bearer alice-secret-token", "srv-a")
	forged := []byte(alice.state)
	i := len(forged) / 2
	forged[i] = map[bool]byte{true: 'A', false: 'B'}[forged[i] != 'A']
	h.badRetry("tools/call", retryParams(alice.params, string(forged), obj{alice.key: decodeObj([]byte(elicitAnswer))}), "Bearer alice-secret-token", "not one this broker issued")
	evs := audittest.Validate(t, []byte(sink.String()))
	if len(evs) != 1 {
		t.Fatalf("%d audit events, want 1:\n%s", len(evs), sink.String())
	}
	e := evs[0]
	for k, want := range map[string]any{
		"kind": "protocol_error", "outcome": "rejected", "side": "client", "method": "tools/call",
		"error_code": -32602, "principal": principalOf("Bearer alice-secret-token"),
		"client_revision": "2026-07-28",
	} {
		if fmt.Sprint(e[k]) != fmt.Sprint(want) {
			t.Errorf("audit %s = %v, want %v", k, e[k], want)
		}
	}
	if _, ok := e["tool"]; !ok {
		t.Errorf("audit event has no tool: %v", e)
	}
	if c, _ := e["client"].(map[string]any); c["name"] != "test-client" {
		t.Errorf("audit client = %v, want test-client", e["client"])
	}
	for _, secret := range []string{"alice-secret-token", alice.state, string(forged)} {
		if strings.Contains(sink.String(), secret) {
			t.Errorf("the audit log carries %q:\n%s", secret, sink.String())
		}
	}
}

// TestAuditInvalidRequest: a request that fails 2026-07-28 validation is
// refused and recorded as validation_rejected.
func TestAuditInvalidRequest(t *testing.T) {
	sink := &logSink{}
	h := newHarness(t, withConfig(func(c *Config) { c.Relay.Audit = telemetry.NewAudit(sink) }))
	id := h.send("tools/call", obj{"arguments": obj{}}, "Bearer bob") // no name
	h.errorOf(id, -32602)
	evs := audittest.Validate(t, []byte(sink.String()))
	if len(evs) != 1 {
		t.Fatalf("%d audit events, want 1:\n%s", len(evs), sink.String())
	}
	if e := evs[0]; e["kind"] != "validation_rejected" || e["outcome"] != "rejected" || e["principal"] != principalOf("Bearer bob") ||
		e["request_id"] != strings.Trim(string(id), `"`) {
		t.Errorf("audit event %v", e)
	}
}

// TestAuditInternalErrors: the bridge's own -32603 answers are recorded
// as protocol_error events with outcome error: no upstream session for a
// call or a discover, and a call on a lane that ended under it.
func TestAuditInternalErrors(t *testing.T) {
	t.Run("no upstream session", func(t *testing.T) {
		sink := &logSink{}
		h := newHarness(t, withConfig(func(c *Config) { c.Relay.Audit = telemetry.NewAudit(sink) }))
		h.up.failDial.Store(true)
		d := h.send("server/discover", nil, "Bearer a")
		h.errorOf(d, -32603)
		c := h.send("tools/call", toolCall(meta(capsAll)), "Bearer a")
		h.errorOf(c, -32603)
		evs := audittest.Validate(t, []byte(sink.String()))
		got := map[string]bool{}
		for _, e := range evs {
			if e["kind"] == "protocol_error" && e["outcome"] == "error" && fmt.Sprint(e["error_code"]) == "-32603" &&
				e["principal"] == principalOf("Bearer a") && e["side"] == "client" {
				got[fmt.Sprint(e["method"], " ", e["request_id"])] = true
			}
		}
		for _, want := range []string{"server/discover " + strings.Trim(string(d), `"`), "tools/call " + strings.Trim(string(c), `"`)} {
			if !got[want] {
				t.Errorf("no -32603 audit event for %s:\n%s", want, sink.String())
			}
		}
	})
	t.Run("lane ended", func(t *testing.T) {
		sink := &logSink{}
		h := newHarness(t, withConfig(func(c *Config) {
			c.MaxLanes = 1
			c.Relay.Audit = telemetry.NewAudit(sink)
		}))
		c := h.start("tools/call", toolCall(meta(capsAll)), "Bearer a")
		h.laneOf("Bearer b", capsAll) // evicts a's lane under the call
		h.errorOf(c.id, -32603)
		var found bool
		for _, e := range audittest.Validate(t, []byte(sink.String())) {
			if e["kind"] == "protocol_error" && e["outcome"] == "error" && e["method"] == "tools/call" &&
				e["request_id"] == strings.Trim(string(c.id), `"`) && strings.Contains(fmt.Sprint(e["detail"]), "upstream session ended") {
				found = true
			}
		}
		if !found {
			t.Errorf("no audit event for the call failed by its lane's end:\n%s", sink.String())
		}
	})
}
