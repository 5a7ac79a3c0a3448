package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// validator is compiled once for the tests of the package.
var validator = sync.OnceValues(schemas.NewValidator)

// TestUnderRelay runs two strict 2025-11-25 clients through the real relay
// (strict validation both ways) to the demo server (2025-06-18) in a child
// process, in both modes: the relays' handshakes (initialize with id 1,
// notifications/initialized) work on the shared upstream, concurrent calls
// and progress get to the right client, and a server request is answered.
func TestUnderRelay(t *testing.T) {
	v, err := validator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	for _, tc := range []struct {
		mode   Mode
		spare  int
		starts int64
	}{
		{PerSession, 1, 3}, // two sessions and the spare left
		{Shared, 0, 1},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			s := &starter{mode: "demo"}
			p, logs := newPool(t, s.start, Options{Mode: tc.mode, Spare: tc.spare})
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			cfg := relay.Config{Validator: v, ClientValidation: relay.Strict, ServerValidation: relay.Strict}

			const n = 2
			clients := make([]*fixture.Client, n)
			runs := make([]chan error, n)
			for i := range clients {
				clientEnd, relayEnd := fixture.Pipe()
				runs[i] = make(chan error, 1)
				go func() { runs[i] <- relay.Run(ctx, relayEnd, p.Dial, cfg) }()
				c, err := fixture.NewClient(schemas.V20251125, clientEnd, fixture.WithValidator(v),
					fixture.WithSamplingText(fmt.Sprintf("sampled by client %d", i)))
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				clients[i] = c
				t.Cleanup(func() { c.Close() })
			}

			// Both handshakes at once, then concurrent calls.
			errs := make(chan error, 4*n)
			var wg sync.WaitGroup
			for i, c := range clients {
				wg.Go(func() {
					if _, err := c.Initialize(ctx); err != nil {
						errs <- fmt.Errorf("client %d: %w", i, err)
					}
				})
			}
			wg.Wait()
			for i, c := range clients {
				wg.Go(func() {
					text := fmt.Sprintf("hello from %d", i)
					res, err := c.CallTool(ctx, "echo", map[string]any{"text": text})
					if err != nil || !strings.Contains(res.Text(), text) {
						errs <- fmt.Errorf("client %d: echo: %v, %+v", i, err, res)
					}
				})
				wg.Go(func() {
					_, err := c.Call(ctx, "tools/call", map[string]any{
						"name": "progress", "arguments": map[string]any{},
						"_meta": map[string]any{"progressToken": "tok"},
					})
					if err != nil {
						errs <- fmt.Errorf("client %d: progress: %w", i, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for i, c := range clients {
				progress := 0
				for _, note := range c.Notifications() {
					if note.Method != "notifications/progress" {
						continue
					}
					var pp struct {
						ProgressToken json.RawMessage `json:"progressToken"`
					}
					_ = json.Unmarshal(note.Params, &pp)
					if string(pp.ProgressToken) != `"tok"` {
						t.Errorf("client %d: progress token %s", i, pp.ProgressToken)
					}
					progress++
				}
				if progress != 3 {
					t.Errorf("client %d got %d progress notifications, want 3 (its own)", i, progress)
				}
			}

			// A server request, one client at a time (over stdio shared
			// mode routes it by heuristic).
			for i, c := range clients {
				res, err := c.CallTool(ctx, "sample", map[string]any{"prompt": "hi"})
				if want := fmt.Sprintf("sampled by client %d", i); err != nil || !strings.Contains(res.Text(), want) {
					t.Errorf("client %d: sample: %v, %+v; want %q", i, err, res, want)
				}
			}
			for i, c := range clients {
				if vs := c.Violations(); len(vs) > 0 {
					t.Errorf("client %d: violations %v", i, vs)
				}
				if um := c.Unmatched(); len(um) > 0 {
					t.Errorf("client %d: unmatched responses %s", i, um)
				}
			}

			for i, c := range clients {
				c.Close()
				if err := <-runs[i]; err != nil {
					t.Errorf("relay %d: %v", i, err)
				}
			}
			if tc.spare > 0 {
				logs.wait(t, "spare session ready", int(tc.starts))
			}
			st := p.Stats()
			if st.Started != tc.starts || st.Open != 0 && tc.mode == PerSession {
				t.Errorf("stats %+v, want %d started", st, tc.starts)
			}
			if tc.mode == Shared && (st.SharedClients != 0 || st.Open != 1) {
				t.Errorf("stats %+v, want the shared upstream up without clients", st)
			}
		})
	}
}
