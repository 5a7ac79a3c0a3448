package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// recordingConn records every frame that passes through a Conn.
type recordingConn struct {
	transport.Conn
	mu             sync.Mutex
	sent, received [][]byte
}

func (r *recordingConn) Send(ctx context.Context, m transport.Message) error {
	r.mu.Lock()
	r.sent = append(r.sent, bytes.Clone(m.Raw))
	r.mu.Unlock()
	return r.Conn.Send(ctx, m)
}

func (r *recordingConn) Recv(ctx context.Context) (transport.Message, error) {
	m, err := r.Conn.Recv(ctx)
	if err == nil {
		r.mu.Lock()
		r.received = append(r.received, bytes.Clone(m.Raw))
		r.mu.Unlock()
	}
	return m, err
}

// frames returns copies of the recorded frames.
func (r *recordingConn) frames() (sent, received [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.sent...), append([][]byte(nil), r.received...)
}

// TestOfficialSchema2026 runs the 2026-07-28 scenario, errors included,
// and validates every message both sides sent against the official
// 2026-07-28 schema (../shared/spec: fatal when missing and CI=true, else
// skipped), and the error responses of the new codes against their own
// definitions too.
func TestOfficialSchema2026(t *testing.T) {
	off := official.ForTest(t)
	for _, over := range []string{overPipe, overHTTP} {
		t.Run(over, func(t *testing.T) {
			t.Parallel()
			rec := &recordingConn{}
			h := start26Wrapped(t, over, func(c transport.Conn) transport.Conn { rec.Conn = c; return rec },
				[]demo.Option{demo.WithSlowTimeout(time.Millisecond)},
				fixture.WithLogLevel("debug"))
			sub := runOfficialScenario(t, h)
			// The server ends the open listen with its final result.
			if err := h.stop(); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("stop: %v", err)
			}
			if _, err := sub.Result(); err != nil {
				t.Errorf("listen: %v", err)
			}
			sent, received := rec.frames()
			methods := map[string]string{}
			for _, raw := range sent {
				m, err := jsonrpc.Parse(raw)
				if err != nil {
					t.Fatalf("sent %s: %v", raw, err)
				}
				if m.IsRequest() {
					methods[jsonrpc.IDKey(m.ID)] = m.Method
				}
				if bad := m.IsRequest() && (string(m.ID) == `"e1"` || string(m.ID) == `"e2"`); bad {
					continue // invalid on purpose
				}
				if err := off.ValidateMessage("2026-07-28", raw, ""); err != nil {
					t.Errorf("client sent %s: %v", raw, err)
				}
			}
			codes := map[string]int{}
			for _, raw := range received {
				m, err := jsonrpc.Parse(raw)
				if err != nil {
					t.Fatalf("received %s: %v", raw, err)
				}
				method := methods[jsonrpc.IDKey(m.ID)]
				if err := off.ValidateMessage("2026-07-28", raw, method); err != nil {
					t.Errorf("server sent (for %s) %s: %v", method, raw, err)
				}
				if m.Kind != jsonrpc.KindError {
					continue
				}
				var e struct{ Code int }
				json.Unmarshal(m.Error, &e)
				codes[m.Method]++
				def := map[int]string{
					fixture.CodeUnsupportedProtocolVersion:      "UnsupportedProtocolVersionError",
					fixture.CodeMissingRequiredClientCapability: "MissingRequiredClientCapabilityError",
					fixture.CodeHeaderMismatch:                  "HeaderMismatchError",
				}[e.Code]
				if def == "" {
					continue
				}
				codes[def]++
				v, err := official.Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				if err := off.ValidateDef("2026-07-28", def, v); err != nil {
					t.Errorf("%s: %v", raw, err)
				}
			}
			for _, def := range []string{"UnsupportedProtocolVersionError", "MissingRequiredClientCapabilityError"} {
				if codes[def] == 0 {
					t.Errorf("the scenario produced no %s", def)
				}
			}
			t.Logf("%d messages sent, %d received", len(sent), len(received))
		})
	}
}

// runOfficialScenario exercises every method and notification of the
// 2026 demo, and its errors.
func runOfficialScenario(t *testing.T, h *harness26) *fixture.Subscription {
	if _, err := h.client.Initialize(h.ctx); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"tools/list", "resources/list", "resources/templates/list", "prompts/list"} {
		h.call(t, method, nil)
	}
	sub, err := h.client.Listen(h.ctx, fixture.SubscriptionFilter{ToolsListChanged: true, PromptsListChanged: true, ResourcesListChanged: true, ResourceSubscriptions: []string{"demo://static/readme"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args map[string]any
	}{
		{"echo", map[string]any{"text": "hi"}},
		{"add", map[string]any{"a": 1, "b": 2.5}},
		{"content", nil},
		{"sample", map[string]any{"rounds": 2}},
		{"elicit", nil},
		{"roots", nil},
		{"slow", nil},
		{"touch", map[string]any{"list": "tools"}},
		{"touch", map[string]any{"list": "prompts"}},
		{"touch", map[string]any{"list": "resources"}},
	} {
		h.tool(t, c.name, c.args)
	}
	h.call(t, "tools/call", map[string]any{"name": "add", "arguments": map[string]any{"a": "x"}}) // a tool error
	h.call(t, "tools/call", map[string]any{"name": "progress", "_meta": map[string]any{"progressToken": "p"}})
	h.call(t, "resources/read", map[string]any{"uri": "demo://static/logo"})
	h.call(t, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]any{"name": "Ada"}})
	h.call(t, "completion/complete", map[string]any{"ref": map[string]any{"type": "ref/prompt", "name": "greet"}, "argument": map[string]any{"name": "name", "value": "A"}})
	if _, err := h.client.WaitNotification(h.ctx, onStream(sub, "notifications/resources/list_changed", "")); err != nil {
		t.Fatal(err)
	}
	// Errors: unknown resource, unknown tool, missing capability,
	// unsupported version, missing _meta, unknown method.
	errs := []func() error{
		func() error {
			_, err := h.client.Call(h.ctx, "resources/read", map[string]any{"uri": "demo://nothing"})
			return err
		},
		func() error { _, err := h.client.CallTool(h.ctx, "nope", nil); return err },
		func() error {
			_, err := h.client.Call(h.ctx, "tools/call", map[string]any{"name": "sample", "_meta": map[string]any{fixture.MetaClientCapabilities: map[string]any{}}})
			return err
		},
		func() error {
			_, err := h.client.Call(h.ctx, "tools/list", map[string]any{"_meta": map[string]any{fixture.MetaProtocolVersion: "2025-06-18"}})
			return err
		},
		func() error {
			_, err := h.client.CallRaw(h.ctx, []byte(`{"jsonrpc":"2.0","id":"e1","method":"prompts/list","params":{}}`))
			return err
		},
		func() error {
			_, err := h.client.CallRaw(h.ctx, []byte(`{"jsonrpc":"2.0","id":"e2","method":"ping","params":{`+meta26+`}}`))
			return err
		},
	}
	for i, f := range errs {
		var je *jsonrpc.Error
		if err := f(); !errors.As(err, &je) {
			t.Errorf("error case %d: %v, want a JSON-RPC error", i, err)
		}
	}
	return sub
}
