package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// auditSchema compiles the JSON Schema of docs/audit.md: the json block
// after the <!-- audit-schema --> marker.
func auditSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "audit.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "<!-- audit-schema -->\n```json\n")
	if !ok {
		t.Fatal("docs/audit.md: no schema block after <!-- audit-schema -->")
	}
	block, _, ok := strings.Cut(after, "\n```")
	if !ok {
		t.Fatal("docs/audit.md: schema block not closed")
	}
	schema, err := jsonschema.UnmarshalJSON(strings.NewReader(block))
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("audit.json", schema); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("audit.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuditEventsMatchSchema(t *testing.T) {
	schema := auditSchema(t)
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	ctx, call := tp.StartServer(context.Background(), Op{Method: "tools/call", ID: []byte("12"), Params: []byte(`{"name":"get-weather"}`)})
	events := []Event{
		{Kind: AuditValidationRejected, Outcome: OutcomeRejected, Principal: "alice", Client: &ClientInfo{Name: "c", Version: "1", Address: "127.0.0.1"},
			SessionID: "s1", Side: "client", Method: "tools/call", RequestID: "12", Tool: "get-weather",
			ClientRevision: "2024-11-05", ServerRevision: "2025-11-25", ErrorCode: -32602, Detail: "params.arguments: expected object"},
		{Kind: AuditProtocolError, Outcome: OutcomeRejected, ErrorCode: -32700},
		{Kind: AuditPolicyDecision, Outcome: OutcomeDenied, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))},
		{Kind: AuditValidationRejected, Outcome: OutcomeWarned, Side: "server", Client: &ClientInfo{Name: "only-name"}},
	}
	var buf bytes.Buffer
	a := NewAudit(&buf)
	for i, e := range events {
		c := ctx
		if i == 1 {
			c = context.Background()
		}
		if err := a.Emit(c, e); err != nil {
			t.Fatal(err)
		}
	}
	call.End(Result{})
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines, want %d", len(lines), len(events))
	}
	for i, line := range lines {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(inst); err != nil {
			t.Errorf("event %d does not match docs/audit.md: %v\n%s", i, err, line)
		}
	}
	var first, third Event
	_ = json.Unmarshal([]byte(lines[0]), &first)
	_ = json.Unmarshal([]byte(lines[2]), &third)
	span := ended(t, tp, 1)[0]
	if first.TraceID != span.SpanContext().TraceID().String() || first.SpanID != span.SpanContext().SpanID().String() {
		t.Errorf("ids %s/%s, want the span's", first.TraceID, first.SpanID)
	}
	if first.Time.IsZero() || third.Time.Location() != time.UTC || !third.Time.Equal(events[2].Time) {
		t.Errorf("times %v %v", first.Time, third.Time)
	}
	// Events 0, 2 and 3 happened inside the span.
	if ev := span.Events(); len(ev) != 3 || ev[0].Name != EventAudit {
		t.Fatalf("span events %v", ev)
	}
	got := attrMap(span.Events()[0].Attributes)
	want := map[string]string{"mcpbroker.audit.kind": "validation_rejected", "mcpbroker.audit.outcome": "rejected",
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "get-weather", "mcpbroker.side": "client",
		"mcpbroker.audit.error_code": "-32602", "mcpbroker.audit.detail": "params.arguments: expected object"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("span event attributes\n got %v\nwant %v", got, want)
	}

	// The schema is not vacuous: it rejects what the broker must not write.
	for _, bad := range []string{
		`{"time":"2026-01-01T00:00:00Z","kind":"other","outcome":"rejected"}`,
		`{"time":"2026-01-01T00:00:00Z","kind":"protocol_error","outcome":"rejected","error_code":0}`,
		`{"time":"yesterday","kind":"protocol_error","outcome":"rejected"}`,
		`{"time":"2026-01-01T00:00:00Z","kind":"protocol_error","outcome":"rejected","payload":{}}`,
		`{"time":"2026-01-01T00:00:00Z","kind":"protocol_error","outcome":"rejected","trace_id":"XYZ"}`,
	} {
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if schema.Validate(inst) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}

func TestAuditConcurrentLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	a, err := OpenAudit(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := Event{Kind: AuditProtocolError, Outcome: OutcomeRejected, Detail: strings.Repeat("x", 100*w+i)}
				if err := a.Emit(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Emit(context.Background(), Event{Kind: AuditProtocolError, Outcome: OutcomeError}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Emit after Close: %v", err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d is not one event: %v", n, err)
		}
		n++
	}
	if n != writers*each {
		t.Errorf("%d lines, want %d", n, writers*each)
	}
}

func TestOpenAudit(t *testing.T) {
	tests := []struct {
		dest    string
		wantNil bool
		wantErr bool
	}{
		{"", true, false},
		{"stdout", false, false},
		{"-", false, false},
		{"stderr", false, false},
		{filepath.Join(t.TempDir(), "a.jsonl"), false, false},
		{filepath.Join(t.TempDir(), "missing", "a.jsonl"), true, true},
	}
	for _, tt := range tests {
		a, err := OpenAudit(tt.dest)
		if (err != nil) != tt.wantErr || (a == nil) != tt.wantNil {
			t.Errorf("OpenAudit(%q) = %v, %v", tt.dest, a, err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("Close(%q): %v", tt.dest, err)
		}
	}
	// A nil sink writes nothing and does not fail.
	var none *Audit
	if err := none.Emit(context.Background(), Event{Kind: AuditProtocolError, Outcome: OutcomeRejected}); err != nil {
		t.Error(err)
	}
}
