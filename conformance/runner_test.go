package conformance

import (
	"context"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
)

// TestRunOneOutcomes: how a scenario's Run turns into a result.
func TestRunOneOutcomes(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		severity Severity
		run      func(context.Context, *T)
		status   Status
		reason   string
	}{
		{"pass", Must, func(context.Context, *T) {}, Pass, ""},
		{"fail", Must, func(_ context.Context, t *T) { t.Fail("a %s", "b") }, Fail, "a b"},
		{"fatal", Must, func(_ context.Context, t *T) { t.Fatal("stop"); t.Fail("never") }, Fail, "stop"},
		{"should", Should, func(_ context.Context, t *T) { t.Fail("meh") }, Warn, "meh"},
		{"skip", Must, func(_ context.Context, t *T) { t.Skip("no %s", "tools") }, Skip, "no tools"},
		{"panic", Must, func(context.Context, *T) { panic("boom") }, Fail, "internal error of the runner: boom"},
	}
	r := &Runner{Target: &Target{Kind: KindHTTP, URL: "http://127.0.0.1:1/mcp"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scenario{ID: "x/" + tt.name, Spec: "basic", Severity: tt.severity, Revisions: schemas.All(), Transport: HTTPTransport, Run: tt.run}
			res := r.runOne(context.Background(), v, s, schemas.V20250618)
			if res.Status != tt.status || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("got %s %q, want %s %q", res.Status, res.Reason, tt.status, tt.reason)
			}
			if res.Spec != "https://modelcontextprotocol.io/specification/2025-06-18/basic" {
				t.Errorf("spec %q", res.Spec)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	all := Catalogue()
	for _, tt := range []struct {
		filters []string
		min     int
		err     bool
	}{
		{nil, len(all), false},
		{[]string{"tools/*"}, 6, false},
		{[]string{"http/"}, 5, false},
		{[]string{"lifecycle/ping"}, 1, false},
		{[]string{"nothing"}, 0, true},
	} {
		got, err := Select(all, tt.filters)
		if (err != nil) != tt.err || len(got) < tt.min {
			t.Errorf("Select(%q): %d scenarios, %v", tt.filters, len(got), err)
		}
	}
}
