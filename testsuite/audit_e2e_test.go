package testsuite

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry/audittest"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// TestServeAuditFile runs `mcpbroker serve --audit-file FILE` in front of
// the demo server: a 2025-06-18 client's valid call leaves no event, its
// tools/call without a name is refused with -32602 and leaves exactly one
// event in FILE, valid against docs/audit.md's schema, naming the session,
// the client, the method and both revisions.
func TestServeAuditFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	addr := brokerproc.Serve(t, bin, nil, "--audit-file", file,
		"--upstream-cmd", bin+" demo-server --revision 2025-11-25")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := fixture.NewClient(schemas.V20250618, dialBroker(ctx, t, bin, addr, "http", nil), fixture.WithLogger(testLogger(t)), fixture.WithStrict(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Initialize(ctx); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if _, err := c.Call(ctx, "tools/call", json.RawMessage(`{"name":"echo","arguments":{"text":"fine"}}`)); err != nil {
		t.Fatalf("valid tools/call: %v", err)
	}
	if _, err := c.Call(ctx, "tools/call", json.RawMessage(`{"arguments":{"text":"no name"}}`)); err == nil {
		t.Fatal("a tools/call without a name was not refused")
	} else {
		t.Logf("refused: %v", err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(file); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("audit file mode %v, want 0600", fi.Mode().Perm())
	}
	evs := audittest.Validate(t, raw)
	if len(evs) != 1 {
		t.Fatalf("%d audit events, want 1:\n%s", len(evs), raw)
	}
	e := evs[0]
	for k, want := range map[string]string{
		"kind": "validation_rejected", "outcome": "rejected", "side": "client", "method": "tools/call",
		"client_revision": "2025-06-18", "server_revision": "2025-11-25",
	} {
		if got, _ := e[k].(string); got != want {
			t.Errorf("audit %s = %q, want %q", k, got, want)
		}
	}
	if code, _ := e["error_code"].(json.Number); code != "-32602" {
		t.Errorf("audit error_code = %v, want -32602", e["error_code"])
	}
	if sid, _ := e["session_id"].(string); sid == "" {
		t.Errorf("audit event without session_id: %s", raw)
	}
	if ci, _ := e["client"].(map[string]any); ci == nil || ci["name"] == "" {
		t.Errorf("audit event without the client's name: %s", raw)
	}
}
