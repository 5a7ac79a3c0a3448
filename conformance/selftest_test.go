package conformance_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/conformance"
	"github.com/mcpbroker/mcpbroker/schemas"
)

func run(t *testing.T, tg *conformance.Target, revs []schemas.Revision) *conformance.Report {
	t.Helper()
	r := &conformance.Runner{Target: tg, Revisions: revs, Timeout: 5 * time.Second, Validator: sharedValidator(t)}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

// TestCorrectServer: against the correct demo server every scenario
// passes or is a legitimate skip, for every revision and transport.
func TestCorrectServer(t *testing.T) {
	targets := map[string]func(rev schemas.Revision) *conformance.Target{
		"stdio": func(schemas.Revision) *conformance.Target { return pipeTarget(t, msgFault{}) },
		"http":  func(rev schemas.Revision) *conformance.Target { return httpTarget(t, rev, httpFault{}) },
	}
	for name, mk := range targets {
		for _, rev := range schemas.All() {
			t.Run(name+"/"+rev.String(), func(t *testing.T) {
				rep := run(t, mk(rev), []schemas.Revision{rev})
				for _, x := range rep.Results {
					switch x.Status {
					case conformance.Pass:
					case conformance.Skip:
						t.Logf("skip %s: %s", x.ID, x.Reason)
					default:
						t.Errorf("%s %s: %s: %s", x.ID, x.Revision, x.Status, x.Reason)
					}
				}
			})
		}
	}
	t.Run("sse", func(t *testing.T) {
		rep := run(t, sseTarget(t), nil)
		if len(rep.Revisions) != 1 || rep.Revisions[0] != "2024-11-05" {
			t.Errorf("probe over legacy SSE found %v, want [2024-11-05]", rep.Revisions)
		}
		for _, x := range rep.Results {
			if x.Status != conformance.Pass && x.Status != conformance.Skip {
				t.Errorf("%s %s: %s: %s", x.ID, x.Revision, x.Status, x.Reason)
			}
		}
	})
}
