package faults

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
)

// sseEvent is one event of an SSE stream: its id and data.
type sseEvent struct{ id, data string }

// readEvents reads SSE events from r until stop accepts one (returned
// last) or the stream ends.
func readEvents(t *testing.T, r *bufio.Reader, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("SSE stream ended after %d events: %v", len(out), err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if cur.data == "" {
				cur = sseEvent{}
				continue
			}
			out = append(out, cur)
			if stop(cur) {
				return out
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id:"):
			cur.id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "data:"):
			cur.data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
}

// Test4M8LegacyDisconnectIsNotACancel: REVISIONS.md 4.M8 and 4.T4. A
// legacy client whose POST stream breaks has not cancelled its request
// (only a closed 2026-07-28 stream means that): the broker keeps the call
// to the 2026-07-28 upstream running and buffers what belongs to it, and
// the client resumes with Last-Event-ID and gets the answer.
func Test4M8LegacyDisconnectIsNotACancel(t *testing.T) {
	b := startBroker(t, nil, "--upstream-revision", "2026-07-28",
		"--upstream-cmd", brokerBin+" demo-server --revision 2026-07-28 --slow-timeout 1s")
	sid := rawSession(t, b)
	header := func(r *http.Request) {
		r.Header.Set(transport.HeaderSessionID, sid)
		r.Header.Set(transport.HeaderProtocolVersion, rawProtocolVersion)
	}

	ctx, drop := context.WithCancel(testCtx(t))
	body := `{"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"progressToken":"t1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.mcpURL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	header(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("slow call answered %s %q, want an SSE stream", resp.Status, ct)
	}
	evs := readEvents(t, bufio.NewReader(resp.Body), func(e sseEvent) bool { return strings.Contains(e.data, "notifications/progress") })
	last := evs[len(evs)-1]
	if last.id == "" {
		t.Fatalf("progress event without an id: the stream is not resumable (%+v)", last)
	}
	// The client's connection breaks mid-call.
	drop()
	resp.Body.Close()

	get, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, b.mcpURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set(transport.HeaderLastEventID, last.id)
	header(get)
	gr, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Body.Close()
	if gr.StatusCode != http.StatusOK {
		t.Fatalf("resuming GET: %s", gr.Status)
	}
	resumed := readEvents(t, bufio.NewReader(gr.Body), func(e sseEvent) bool { return strings.Contains(e.data, `"id":"slow-1"`) })
	answer := resumed[len(resumed)-1].data
	if !strings.Contains(answer, "slow: finished") {
		t.Errorf("resumed answer %s: want the tool's result (the upstream call must not have been cancelled)", answer)
	}
}
