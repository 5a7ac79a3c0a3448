package relay

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
)

// jsonLines returns the JSON log lines of buf whose msg is msg.
func jsonLines(t *testing.T, buf *syncBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.NewDecoder(bytes.NewReader([]byte(line))).Decode(&m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestTelemetryLogTraceIDs: the warning lines the relay logs about a
// traced client request (an invalid request relayed under Warn, a request
// that timed out) carry the request's trace_id and span_id.
func TestTelemetryLogTraceIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		// play sends the traced request and waits until the line is
		// logged (the client has its answer).
		play func(h *harness)
		msg  string
	}{
		{"invalid request relayed", func(c *Config) { c.ClientValidation = Warn }, func(h *harness) {
			h.client.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{},"_meta":{"traceparent":"00-` +
				clientTraceID + `-` + clientSpanID + `-01"}}}`)
			up := h.server.recvObj()
			h.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"content":[]}}`)
			h.client.recvObj()
		}, "relay: invalid message relayed"},
		{"request timed out", func(c *Config) { c.RequestTimeout = 20 * time.Millisecond }, func(h *harness) {
			h.client.send(toolCall)
			h.server.recvObj()
			if e := h.client.recvObj(); errorCode(e) == nil {
				t.Fatalf("want the timeout error, got %v", e)
			}
		}, "relay: request timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := tracedProvider(t)
			logs := &syncBuffer{}
			cfg := Config{Validator: testValidator(t), Telemetry: p, Logger: telemetry.NewLogger(logs, slog.LevelDebug)}
			tc.cfg(&cfg)
			h := start(t, cfg)
			h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
			tc.play(h)
			lines := jsonLines(t, logs, tc.msg)
			if len(lines) == 0 {
				t.Fatalf("no %q line in:\n%s", tc.msg, logs.String())
			}
			for _, l := range lines {
				if l[telemetry.LogTraceID] != clientTraceID || l[telemetry.LogSpanID] == nil || l[telemetry.LogSpanID] == "" {
					t.Errorf("%q logged with trace_id %v, span_id %v; want the request's trace %s", tc.msg, l[telemetry.LogTraceID], l[telemetry.LogSpanID], clientTraceID)
				}
			}
		})
	}
}
