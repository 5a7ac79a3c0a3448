package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// This file mirrors tool arguments into Mcp-Param-* headers toward a
// stateless 2026-07-28 upstream over Streamable HTTP (REVISIONS.md 4.T5,
// OC→NS). A tool's inputSchema marks the arguments to mirror with
// x-mcp-header; the server checks each header against the body and
// answers a missing or different one with -32020 (HeaderMismatchError).
//
// The session keeps a cache of tool name -> annotations, filled from every
// tools/list result that comes back from the upstream (the client's own
// lists, page by page) and from the broker's own tools/list (all pages),
// which it sends before a tools/call that names a tool not in the cache:
// once per unknown name, bounded in time and pages, concurrent callers
// waiting for the fetch in flight. sendUp adds the headers of every
// tools/call it sends (first sends, MRTR retries, resends) through
// transport.WithHeaders. On -32020 to a tools/call the broker refreshes
// the cache and sends the call again, once. Tools whose annotations break
// the rules of 4.T5 are left out of the tools/list the client gets, as a
// 2026 client must, and a call of one is refused with -32602.
//
// All of this applies only when the upstream Conn carries headers
// (transport.HeaderCarrier: the 2026 Streamable HTTP client); over stdio
// there are no headers and the cache stays off.

// Bounds of the broker's own tools/list.
const (
	// maxToolPages bounds the pages of one fetch.
	maxToolPages = 100
	// defaultToolsFetchTimeout bounds one fetch (all pages) when the
	// configuration sets no RequestTimeout.
	defaultToolsFetchTimeout = 30 * time.Second
	// maxMissingTools bounds the names remembered as unknown.
	maxMissingTools = 1024
	// maxRetried bounds the resent calls remembered before pruning.
	maxRetried = 64
)

// toolEntry is what the cache knows of one tool.
type toolEntry struct {
	specs []transport.ParamHeader // its x-mcp-header annotations
	err   error                   // its annotations are invalid (4.T5): the tool is hidden
}

// fetchFlight is one broker tools/list in progress; done is closed when
// err is set.
type fetchFlight struct {
	done chan struct{}
	err  error
}

// toolHeaders is the x-mcp-header cache of one session's stateless
// upstream. The zero value is ready and off.
type toolHeaders struct {
	// enabled is set once the link to a stateless upstream whose Conn
	// carries headers is made.
	enabled atomic.Bool

	mu       sync.Mutex
	tools    map[string]toolEntry // by tool name
	missing  map[string]bool      // names a fetch did not find; cleared by every list seen
	fetching *fetchFlight         // the broker's tools/list in progress, or nil
	retried  map[string]bool      // pending keys of calls resent after -32020
	onJoin   func()               // test hook: a caller waits for the fetch in progress
}

// lookup returns what the cache knows of a tool.
func (h *toolHeaders) lookup(name string) (toolEntry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.tools[name]
	return e, ok
}

// learn records the tools of a tools/list result (the elements of its
// tools array): their annotations replace the whole cache when full (the
// broker listed every page), else they are added to it (one page of a
// client's list). It forgets the names remembered as unknown, and returns
// the tools whose annotations are invalid, by name.
func (h *toolHeaders) learn(tools []*translators.Node, full bool) map[string]error {
	entries := make(map[string]toolEntry, len(tools))
	var bad map[string]error
	for _, t := range tools {
		name := t.Get("name").Str()
		if name == "" {
			continue
		}
		specs, err := transport.ParseParamHeaders(t.Get("inputSchema").Raw())
		entries[name] = toolEntry{specs: specs, err: err}
		if err != nil {
			if bad == nil {
				bad = map[string]error{}
			}
			bad[name] = err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if full || h.tools == nil {
		h.tools = entries
	} else {
		maps.Copy(h.tools, entries)
	}
	h.missing = nil
	return bad
}

// shouldFetch reports whether a call of the unknown tool name warrants a
// tools/list: not when a fetch since the last list seen did not find it.
func (h *toolHeaders) shouldFetch(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.missing[name]
}

// markMissing remembers that a fetch did not find the tool name.
func (h *toolHeaders) markMissing(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.missing == nil || len(h.missing) >= maxMissingTools {
		h.missing = map[string]bool{}
	}
	h.missing[name] = true
}

// markRetried remembers that the call with the pending key was resent
// after -32020: it is not resent again. stillPending prunes the set when
// it grows (calls cancelled or expired leave their key behind).
func (h *toolHeaders) markRetried(key string, stillPending func(string) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.retried == nil {
		h.retried = map[string]bool{}
	}
	if len(h.retried) >= maxRetried {
		for k := range h.retried {
			if !stillPending(k) {
				delete(h.retried, k)
			}
		}
	}
	h.retried[key] = true
}

// takeRetried reports whether the call with the pending key was a resend,
// and forgets it.
func (h *toolHeaders) takeRetried(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.retried[key] {
		return false
	}
	delete(h.retried, key)
	return true
}

// upCarriesHeaders reports whether the upstream Conn puts the headers of
// transport.WithHeaders on its requests.
func (s *session) upCarriesHeaders() bool {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	hc, ok := s.up.(transport.HeaderCarrier)
	return ok && hc.CarriesHeaders()
}

// withParamHeaders returns ctx with the Mcp-Param-* headers of raw when it
// is a tools/call of a tool the cache knows (4.T5), else ctx. sendUp calls
// it for every frame, with upMu held: it only reads the cache.
func (s *session) withParamHeaders(ctx context.Context, raw []byte) context.Context {
	if !s.hdrs.enabled.Load() || !bytes.Contains(raw, []byte(`"tools/call"`)) {
		return ctx
	}
	m, err := jsonrpc.Parse(raw)
	if err != nil || m.Kind != jsonrpc.KindRequest || m.Method != "tools/call" {
		return ctx
	}
	p := translators.Parse(m.Params)
	name := p.Get("name").Str()
	e, ok := s.hdrs.lookup(name)
	if !ok || e.err != nil || len(e.specs) == 0 {
		return ctx
	}
	vals, err := transport.ParamHeaderValues(e.specs, p.Get("arguments").Raw())
	if err != nil {
		// toolCallRefused answered such a call; a resend cannot differ.
		s.log.DebugContext(ctx, "relay: tool arguments not mirrored into headers", "tool", name, "err", err)
		return ctx
	}
	if len(vals) == 0 {
		return ctx
	}
	h := make(http.Header, len(vals))
	for k, v := range vals {
		h[k] = []string{v}
	}
	return transport.WithHeaders(ctx, h)
}

// toolCallRefused prepares the headers of a client's tools/call m (raw is
// its upstream form) before forward sends it (4.T5): a tool the cache
// does not know makes the broker list the upstream's tools first. It
// answers the client itself, and reports true, when the call cannot be
// mirrored: the tool's annotations are invalid (the client was never
// shown it), or an annotated argument has the wrong type for its header.
// It runs on the client's goroutine and may wait for the fetch.
func (s *session) toolCallRefused(ctx context.Context, m *jsonrpc.Message, raw []byte, b *batch) bool {
	if m.Method != "tools/call" || !s.hdrs.enabled.Load() {
		return false
	}
	l := s.link.Load()
	if l == nil {
		return false
	}
	p := translators.Parse(raw).Get("params")
	name := p.Get("name").Str()
	e, known := s.hdrs.lookup(name)
	if !known && s.hdrs.shouldFetch(name) {
		if err := s.fetchTools(ctx, l); err != nil {
			s.log.WarnContext(ctx, "relay: listing the upstream's tools for their x-mcp-header annotations failed; the call goes without Mcp-Param headers",
				"tool", name, "err", err)
		} else if e, known = s.hdrs.lookup(name); !known {
			s.hdrs.markMissing(name)
		}
	}
	if !known {
		return false // the server answers for a tool it does not have
	}
	reply := func(format string, args ...any) bool {
		msg := fmt.Sprintf(format, args...)
		s.log.InfoContext(ctx, "relay: tools/call refused", "tool", name, "why", msg)
		s.rejectClient(ctx, m, b, jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInvalidParams, "Invalid params: "+msg,
			map[string]string{"row": "4.T5", "tool": name}))
		return true
	}
	if e.err != nil {
		return reply("tool %q has an invalid x-mcp-header annotation, so mcpbroker does not offer it (REVISIONS.md 4.T5): %v", name, e.err)
	}
	if _, err := transport.ParamHeaderValues(e.specs, p.Get("arguments").Raw()); err != nil {
		return reply("an argument of tool %q cannot be sent as its Mcp-Param header (REVISIONS.md 4.T5): %v", name, err)
	}
	return false
}

// toolHeaderAnswer looks at the upstream's answer m to the client request
// c before it is translated (4.T5): a tools/list result fills the cache
// and loses the tools with invalid annotations (the returned message is
// then a new one); a -32020 to a tools/call that was not resent yet makes
// the broker refresh the cache and send the call again, in the
// background, and the result is nil: m is not relayed. Otherwise it
// returns m.
func (s *session) toolHeaderAnswer(l *link, c *call, m *jsonrpc.Message) *jsonrpc.Message {
	if !s.hdrs.enabled.Load() {
		return m
	}
	switch c.method {
	case "tools/list":
		if m.Kind == jsonrpc.KindResult {
			return s.learnList(m)
		}
	case "tools/call":
		resent := s.hdrs.takeRetried(c.key)
		if resent || m.Kind != jsonrpc.KindError || jsonErrorCode(m.Error) != transport.CodeHeaderMismatch || c.upRaw == nil || c.rounds > 0 {
			// A retry of an input round (4.M6) is not resent: its
			// inputResponses are not kept.
			return m
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return m
		}
		s.timers.Add(1) // shutdown waits for the resend as for a timer
		s.mu.Unlock()
		go func() {
			defer s.timers.Done()
			s.resendAfterMismatch(s.ctx, l, c, m)
		}()
		return nil
	}
	return m
}

// jsonErrorCode returns the code of a JSON-RPC error object, or 0.
func jsonErrorCode(e json.RawMessage) int {
	n, err := strconv.Atoi(string(translators.Parse(e).Get("code").Raw()))
	if err != nil {
		return 0
	}
	return n
}

// learnList records the tools of a tools/list result the client asked
// for, and returns it without the tools whose annotations are invalid.
func (s *session) learnList(m *jsonrpc.Message) *jsonrpc.Message {
	tools := translators.Parse(m.Result).Get("tools")
	bad := s.hdrs.learn(tools.Elems(), false)
	if len(bad) == 0 {
		return m
	}
	kept := translators.NewArray()
	for _, t := range tools.Elems() {
		if _, drop := bad[t.Get("name").Str()]; !drop {
			kept.Append(t)
		}
	}
	n := translators.Parse(m.Raw)
	n.Get("result").Set("tools", kept)
	out, err := jsonrpc.Parse(n.Raw())
	if err != nil {
		s.log.Warn("relay: tools/list without the tools of invalid x-mcp-header annotations", "err", err)
		return m
	}
	names := slices.Sorted(maps.Keys(bad))
	s.log.Warn("relay: tools with invalid x-mcp-header annotations left out of tools/list (REVISIONS.md 4.T5)", "tools", names, "first_error", bad[names[0]])
	return out
}

// resendAfterMismatch handles a -32020 answer m to the tools/call c: it
// lists the upstream's tools again and sends the call once more under a
// new broker id, with the headers of the fresh annotations. When the list
// fails the client gets the mismatch as an error.
func (s *session) resendAfterMismatch(ctx context.Context, l *link, c *call, m *jsonrpc.Message) {
	s.log.InfoContext(ctx, "relay: the upstream refused a tools/call's headers (-32020); listing its tools again and resending once",
		"id", string(c.clientID), "error", string(m.Error))
	if err := s.fetchTools(ctx, l); err != nil {
		msg := "mcpbroker: the upstream refused the headers of the tool call (-32020, REVISIONS.md 4.T5) and listing its tools again failed: " + err.Error()
		s.auditCall(ctx, c, jsonrpc.CodeInternalError, msg)
		s.replyClient(ctx, c.clientID, c.batch, jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError, msg,
			map[string]any{"upstreamError": json.RawMessage(m.Error)}))
		return
	}
	n := &call{clientID: c.clientID, clientKey: c.clientKey, method: c.method, batch: c.batch, token: c.token, upRaw: c.upRaw}
	s.mu.Lock()
	s.registerLocked(n)
	if n.token != "" {
		s.progress[n.token] = n
	}
	s.mu.Unlock()
	s.hdrs.markRetried(n.key, func(k string) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending[k] != nil
	})
	req := translators.Parse(c.upRaw)
	req.Set("id", translators.Parse(n.upID))
	sendCtx, raw := s.traceOwn(ctx, n, req.Raw(), false)
	if err := s.sendUp(sendCtx, raw, nil); err != nil {
		if s.take(n.key) != nil {
			s.endOwn(telemetry.Failure("transport", err.Error()), n)
			s.auditCall(ctx, n, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error())
			s.replyClient(ctx, n.clientID, n.batch, jsonrpc.ErrorResponse(n.clientID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil))
		}
		return
	}
	s.arm(n)
}

// fetchTools lists every tool of the upstream (all pages) and replaces the
// cache with them. A caller that finds a fetch in progress waits for it
// instead of starting another.
func (s *session) fetchTools(ctx context.Context, l *link) error {
	return s.hdrs.fetch(ctx, func(ctx context.Context) error { return s.listTools(ctx, l) })
}

// fetch runs list, unless a fetch is in progress: then it waits for that
// one and returns its error.
func (h *toolHeaders) fetch(ctx context.Context, list func(context.Context) error) error {
	h.mu.Lock()
	if f := h.fetching; f != nil {
		joined := h.onJoin
		h.mu.Unlock()
		if joined != nil {
			joined()
		}
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return fmt.Errorf("relay: waiting for tools/list: %w", ctx.Err())
		}
	}
	f := &fetchFlight{done: make(chan struct{})}
	h.fetching = f
	h.mu.Unlock()
	f.err = list(ctx)
	h.mu.Lock()
	h.fetching = nil
	h.mu.Unlock()
	close(f.done)
	return f.err
}

// listTools sends the broker's own tools/list, page after page, and
// learns the tools (see fetchTools).
func (s *session) listTools(ctx context.Context, l *link) error {
	d := s.cfg.RequestTimeout
	if d <= 0 {
		d = defaultToolsFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var all []*translators.Node
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page == maxToolPages {
			return fmt.Errorf("relay: tools/list has more than %d pages", maxToolPages)
		}
		res, err := s.ownRequest(ctx, l, "tools/list", cursor)
		if err != nil {
			return err
		}
		all = append(all, res.Get("tools").Elems()...)
		next := res.Get("nextCursor")
		if !next.IsString() || next.Str() == "" {
			break
		}
		cursor = next.Str()
		if seen[cursor] {
			return fmt.Errorf("relay: tools/list repeats the cursor %q", cursor)
		}
		seen[cursor] = true
	}
	bad := s.hdrs.learn(all, true)
	s.log.DebugContext(ctx, "relay: listed the upstream's tools for their x-mcp-header annotations", "tools", len(all), "invalid", len(bad))
	return nil
}

// ownRequest sends a request of the broker's own to the stateless
// upstream (with the session's _meta, 4.L1) and waits for its result. A
// cursor, when not empty, goes into params.
func (s *session) ownRequest(ctx context.Context, l *link, method, cursor string) (*translators.Node, error) {
	// A call with a reply channel: its answer comes here, untranslated
	// (as the answer to a restart's initialize does).
	c := &call{method: method, reinit: make(chan *jsonrpc.Message, 1)}
	s.mu.Lock()
	s.registerLocked(c)
	s.mu.Unlock()
	params := translators.NewObject()
	params.Set("_meta", requestMeta(s.requestContext(l)))
	if cursor != "" {
		params.Set("cursor", translators.NewString(cursor))
	}
	n := translators.NewJSON(`{"jsonrpc":"2.0"}`)
	n.Set("id", translators.Parse(c.upID))
	n.Set("method", translators.NewString(method))
	n.Set("params", params)
	sendCtx, raw := s.traceOwn(ctx, c, n.Raw(), true)
	if err := s.sendUp(sendCtx, raw, nil); err != nil {
		if s.take(c.key) != nil {
			s.endOwn(telemetry.Failure("transport", err.Error()), c)
		}
		return nil, err
	}
	select {
	case m := <-c.reinit:
		switch {
		case m == nil:
			return nil, fmt.Errorf("relay: %s: %w", method, errors.New("the upstream closed"))
		case m.Kind == jsonrpc.KindError:
			return nil, fmt.Errorf("relay: the upstream answered %s with error %s", method, m.Error)
		}
		return translators.Parse(m.Result), nil
	case <-ctx.Done():
		if s.take(c.key) != nil {
			s.endOwn(telemetry.Failure("timeout", method+" took too long"), c)
			_ = s.sendOwn(trace.ContextWithSpanContext(s.ctx, trace.SpanContextFromContext(ctx)), translators.CancelledNotification(c.upID, "mcpbroker: "+method+" took too long"))
		}
		return nil, fmt.Errorf("relay: %s: %w", method, ctx.Err())
	}
}
