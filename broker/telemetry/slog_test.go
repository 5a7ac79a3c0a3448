package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestLogHandler(t *testing.T) {
	traced := spanCtx(t, tp1)
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tests := []struct {
		name string
		ctx  context.Context
		log  func(l *slog.Logger, ctx context.Context)
		want map[string]any
	}{
		{"no span", context.Background(), func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "k", 1) },
			map[string]any{"msg": "m", "k": 1.0}},
		{"span", traced, func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m", "k", 1) },
			map[string]any{"msg": "m", "k": 1.0, "trace_id": traceID, "span_id": spanID}},
		{"with attrs", traced, func(l *slog.Logger, ctx context.Context) { l.With("a", "b").InfoContext(ctx, "m") },
			map[string]any{"msg": "m", "a": "b", "trace_id": traceID, "span_id": spanID}},
		{"group keeps ids top-level", traced, func(l *slog.Logger, ctx context.Context) {
			l.With("a", "b").WithGroup("g").With("c", "d").WithGroup("h").InfoContext(ctx, "m", "k", 1)
		}, map[string]any{"msg": "m", "a": "b", "g": map[string]any{"c": "d", "h": map[string]any{"k": 1.0}}, "trace_id": traceID, "span_id": spanID}},
		{"group without span", context.Background(), func(l *slog.Logger, ctx context.Context) {
			l.WithGroup("g").InfoContext(ctx, "m", "k", 1)
		}, map[string]any{"msg": "m", "g": map[string]any{"k": 1.0}}},
		{"below level", traced, func(l *slog.Logger, ctx context.Context) { l.DebugContext(ctx, "m") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(NewLogger(&buf, slog.LevelInfo), tt.ctx)
			if tt.want == nil {
				if buf.Len() != 0 {
					t.Errorf("logged %s", buf.String())
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, buf.String())
			}
			delete(got, "time")
			delete(got, "level")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestPayload(t *testing.T) {
	raw := []byte(`{"secret":"x"}`)
	if got := Payload(true, raw).String(); got != string(raw) {
		t.Errorf("enabled: %q", got)
	}
	if got := Payload(false, raw).String(); strings.Contains(got, "secret") || !strings.Contains(got, "14 bytes") {
		t.Errorf("disabled: %q", got)
	}
}
