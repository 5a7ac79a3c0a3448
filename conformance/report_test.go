package conformance

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ and the catalogue in docs/conformance.md")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update):\n%s", name, got)
	}
}

func sampleReport() *Report {
	return &Report{
		Target:    `stdio ["node" "server.mjs"]`,
		Revisions: []string{"2025-06-18", "2026-07-28"},
		Results: []Result{
			{ID: "lifecycle/initialize", Revision: "2025-06-18", Severity: Must, Status: Pass, Spec: "https://modelcontextprotocol.io/specification/2025-06-18/basic/lifecycle", Duration: 12 * time.Millisecond},
			{ID: "tools/call", Revision: "2025-06-18", Severity: Must, Status: Fail, Reason: "invalid response to tools/call: at /result: missing property 'content'", Spec: "https://modelcontextprotocol.io/specification/2025-06-18/server/tools", Duration: 3 * time.Millisecond},
			{ID: "resources/not-found", Revision: "2025-06-18", Severity: Should, Status: Warn, Reason: "expected error code -32002, got -32603", Spec: "https://modelcontextprotocol.io/specification/2025-06-18/server/resources", Duration: time.Millisecond},
			{ID: "prompts/list", Revision: "2026-07-28", Severity: Must, Status: Skip, Reason: "the server does not declare the prompts capability", Spec: "https://modelcontextprotocol.io/specification/2026-07-28/server/prompts"},
			{ID: "tools/list", Revision: "2026-07-28", Severity: Must, Status: Fail, Reason: "tools/list lists tool \"a\" twice", Spec: "https://modelcontextprotocol.io/specification/2026-07-28/server/tools"},
			{ID: "tools/call", Revision: "2026-07-28", Severity: Must, Status: Pass, Spec: "https://modelcontextprotocol.io/specification/2026-07-28/server/tools"},
		},
	}
}

func TestReportFormats(t *testing.T) {
	rep := sampleReport()
	base, err := ParseBaseline([]byte("- id: tools/list\n  revision: 2026-07-28\n  reason: known duplicate\n- id: tools/call\n  revision: all\n  reason: content missing in old releases\n"))
	if err != nil {
		t.Fatal(err)
	}
	base.Apply(rep)
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error { return rep.WriteTable(b) }},
		{"report.json", func(b *bytes.Buffer) error { return rep.WriteJSON(b) }},
		{"report.xml", func(b *bytes.Buffer) error { return rep.WriteJUnit(b) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, b.Bytes())
		})
	}
	want := map[Status]int{Pass: 1, Expected: 2, Fixed: 1, Warn: 1, Skip: 1}
	for s, n := range want {
		if got := rep.Counts()[s]; got != n {
			t.Errorf("%s: %d, want %d", s, got, n)
		}
	}
	if rep.Failed() {
		t.Error("Failed() with every failure expected")
	}
}

func TestParseBaseline(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		err      bool
	}{
		{"yaml", "- id: a/b\n  reason: why\n", 1, false},
		{"json", `[{"id": "a/b", "revision": "2025-06-18", "reason": "why"}, {"id": "c", "reason": "x"}]`, 2, false},
		{"empty", "", 0, false},
		{"no id", "- reason: why\n", 0, true},
		{"no reason", "- id: a\n", 0, true},
		{"not a list", "id: a\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseBaseline([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, ErrBaseline) {
					t.Fatalf("err = %v, want ErrBaseline", err)
				}
				return
			}
			if err != nil || len(b) != tt.n {
				t.Fatalf("got %d entries, %v; want %d", len(b), err, tt.n)
			}
		})
	}
}

// FuzzParseBaseline: parsing never panics, and every accepted entry has
// an id and a reason.
func FuzzParseBaseline(f *testing.F) {
	for _, s := range []string{"- id: a\n  reason: b\n", `[{"id":"a","reason":"b","revision":"all"}]`, "", "- {id: x, reason: y}", "&a [*a]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ParseBaseline(in)
		if err != nil {
			return
		}
		for _, e := range b {
			if e.ID == "" || e.Reason == "" {
				t.Fatalf("accepted entry %+v", e)
			}
		}
	})
}
