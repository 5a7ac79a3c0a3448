package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// hdrLastEventID is the header a client resumes an SSE stream with.
const hdrLastEventID = "Last-Event-ID"

// replayWait bounds how long http/sse-resumption reads a resumed stream
// (which may stay open after its replay).
const replayWait = time.Second

// sseEvent is one event of an SSE stream.
type sseEvent struct {
	ID   string
	Data []byte
}

// readEvents reads the events of an SSE body until it ends, ctx ends, or
// stop accepts an event.
func readEvents(ctx context.Context, resp *http.Response, stop func(sseEvent) bool) []sseEvent {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			resp.Body.Close()
		case <-done:
		}
	}()
	var out []sseEvent
	var ev sseEvent
	var hasData bool
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), jsonrpc.DefaultMaxSize)
	for sc.Scan() {
		line := sc.Bytes()
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch {
		case len(line) == 0:
			if hasData || ev.ID != "" {
				out = append(out, ev)
				if stop != nil && stop(ev) {
					return out
				}
			}
			ev, hasData = sseEvent{}, false
		case string(field) == "id":
			ev.ID = string(value)
		case string(field) == "data":
			if hasData {
				ev.Data = append(ev.Data, '\n')
			}
			ev.Data = append(ev.Data, value...)
			hasData = true
		}
	}
	return out
}

// stream makes a request whose answer may be an SSE stream and returns
// the response (body closed) and its events: up to the response with id
// wantID when it is not nil, else until the stream ends or ctx ends.
func (t *T) stream(ctx context.Context, method string, b []byte, header map[string]string, wantID any) (*http.Response, []sseEvent) {
	url, client := t.HTTP()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal("HTTP request: %v", err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	} else {
		req.Header.Set("Accept", "text/event-stream")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal("HTTP %s: %v", method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || mediaType(resp.Header.Get("Content-Type")) != "text/event-stream" {
		return resp, nil
	}
	want, _ := json.Marshal(wantID)
	return resp, readEvents(ctx, resp, func(ev sseEvent) bool {
		m, err := jsonrpc.Parse(ev.Data)
		return wantID != nil && err == nil && m.IsResponse() && bytes.Equal(m.ID, want)
	})
}

// eventfulCall POSTs, in the session h, a call that a server answers on
// an SSE stream with notifications before the response: a tool that
// reports progress, else one that logs (at level debug). It returns the
// stream's events and the call's id, or nil when no such call gave a
// stream.
func eventfulCall(ctx context.Context, t *T, h map[string]string) ([]sseEvent, int) {
	_, rb := t.Post(ctx, body(t, 2, "tools/list", nil), h)
	var list struct {
		Result struct {
			Tools []toolDef `json:"tools"`
		} `json:"result"`
	}
	if json.Unmarshal(rb, &list) != nil {
		return nil, 0
	}
	tools := list.Result.Tools
	if tl, ok := toolMentioning(tools, "progress"); ok {
		params := map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, true), "_meta": map[string]any{"progressToken": "conformance-resume"}}
		if _, evs := t.stream(ctx, http.MethodPost, body(t, 3, "tools/call", params), h, 3); len(evs) > 1 {
			return evs, 3
		}
	}
	if tl, ok := loggingTool(tools); ok {
		t.Post(ctx, body(t, 4, "logging/setLevel", map[string]any{"level": "debug"}), h)
		params := map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, false)}
		if _, evs := t.stream(ctx, http.MethodPost, body(t, 5, "tools/call", params), h, 5); len(evs) > 1 {
			return evs, 5
		}
	}
	return nil, 0
}

// resumptionScenario checks SSE event ids and resumption with
// Last-Event-ID (Streamable HTTP, 2025-03-26 to 2025-11-25).
func resumptionScenario() Scenario {
	return Scenario{
		ID: "http/sse-resumption", Title: "SSE event ids are unique; GET with Last-Event-ID replays only what followed on that stream, or is refused with a 4xx",
		Spec: "basic/transports", Severity: Must, Revisions: streamable(), Transport: HTTPTransport,
		Run: func(ctx context.Context, t *T) {
			h, done := httpSession(ctx, t)
			defer done()
			evs, callID := eventfulCall(ctx, t, h)
			if evs == nil {
				t.Skip("no tool call was answered with an SSE stream of several events")
			}
			var ids []string
			for _, ev := range evs {
				if ev.ID == "" {
					continue
				}
				if slices.Contains(ids, ev.ID) {
					t.Fail("SSE event id %q appears twice in the session; ids MUST be unique across its streams", ev.ID)
				}
				ids = append(ids, ev.ID)
			}
			if len(ids) == 0 {
				t.Skip("the server issued no SSE event ids (resumption is optional)")
			}
			rctx, cancel := context.WithTimeout(ctx, replayWait)
			defer cancel()
			resp, replay := t.stream(rctx, http.MethodGet, nil, with(h, hdrLastEventID, ids[0]), nil)
			ct := mediaType(resp.Header.Get("Content-Type"))
			switch {
			case resp.StatusCode/100 == 4:
				return // refused cleanly
			case resp.StatusCode != http.StatusOK || ct != "text/event-stream":
				t.Fatal("GET with Last-Event-ID %s: HTTP %d with Content-Type %q, want an SSE stream or a 4xx", ids[0], resp.StatusCode, ct)
			}
			for _, ev := range replay {
				if ev.ID == ids[0] {
					t.Fail("GET with Last-Event-ID %s replayed that event itself; only later events may be replayed", ids[0])
				}
				m, err := jsonrpc.Parse(ev.Data)
				if err == nil && m.IsResponse() && string(m.ID) != strconv.Itoa(callID) {
					t.Fail("GET with Last-Event-ID %s replayed a response to id %s, which belongs to another stream", ids[0], m.ID)
				}
			}
		},
	}
}
