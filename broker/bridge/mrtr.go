package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// inputCallFor attributes a legacy server's request to the call it asks
// for: by the related lane id when the transport knows it (Streamable
// HTTP), else the only call on the lane that may need input, else, when
// several are in flight, the only one of them that is running (answering a
// client request now). A suspended call waits for its client's retry, and
// its server asks again only once the retry has answered what it asked
// (the questions it asks at once are gathered before the call is
// suspended), so a new question without a related id comes from a running
// call. Without this, a call whose client never retries (it stays
// suspended until --request-state-ttl expires it) would make every later
// question on its lane unattributable over stdio and legacy SSE.
func (b *bridge) inputCallFor(l *lane, related json.RawMessage) *call {
	eligible := func(c *call) bool { return mayNeedInput(c.method) }
	if c := b.callFor(l, related, eligible); c != nil {
		return c
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var found *call
	for _, c := range b.byLane {
		if c.lane != l || !eligible(c) || c.ended || c.clientID == nil {
			continue
		}
		if found != nil {
			return nil
		}
		found = c
	}
	return found
}

// capabilityOf names the client capability an input request needs.
func capabilityOf(method string) string {
	switch method {
	case "sampling/createMessage":
		return "sampling"
	case "elicitation/create":
		return "elicitation"
	case "roots/list":
		return "roots"
	}
	return ""
}

// serverRequest handles a legacy server's request to the client (4.M6):
// it becomes an input request of the call it belongs to, or is answered on
// the client's behalf.
func (b *bridge) serverRequest(ctx context.Context, l *lane, m *jsonrpc.Message, related json.RawMessage) {
	tctx := translators.Context{ServerInfo: l.serverInfo}
	out := b.up.Translate(m, translators.ServerToClient, &tctx)
	b.logOutcome("s2c", m, out)
	switch {
	case out.Kind == translators.Answer && out.Reply != nil: // 4.M1 ping
		_ = l.send(ctx, out.Reply, nil)
		return
	case out.Kind == translators.Emulate && out.Row == "4.M6":
	case out.Kind == translators.Reject && out.Error != nil:
		_ = l.send(ctx, jsonrpc.ErrorResponse(m.ID, out.Error.Code, out.Error.Message, out.Error.Data), nil)
		return
	default:
		// 4.M5: a legacy server polling a client-side task; a 2026-07-28
		// client has none.
		_ = l.send(ctx, jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeMethodNotFound,
			"Method not found: "+m.Method+" (a 2026-07-28 client behind mcpbroker takes no requests; REVISIONS.md "+out.Row+")", nil), nil)
		return
	}
	need := capabilityOf(m.Method)
	c := b.inputCallFor(l, related)
	switch {
	case c == nil:
		b.answerForClient(ctx, l, m.ID, m.Method, "it cannot be attributed to one tools/call, prompts/get or resources/read")
		return
	case !mayNeedInput(c.method):
		b.answerForClient(ctx, l, m.ID, m.Method, "it came during "+c.method+", which cannot ask for input in 2026-07-28")
		return
	case !translators.Parse(c.caps).Has(need):
		b.answerForClient(ctx, l, m.ID, m.Method, "the request did not declare the "+need+" capability")
		return
	}
	req := translators.NewObject()
	req.Set("method", translators.NewString(m.Method))
	params := translators.NewObject()
	if p := translators.Parse(m.Params); p.IsObject() {
		params = p.Clone()
	}
	// 4.M7: url-mode elicitations lose their elicitationId (the retry
	// correlates through requestState).
	params.Delete("elicitationId")
	req.Set("params", params)
	in := &input{serverID: m.ID, method: m.Method, request: req}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.ended {
		go b.answerForClient(ctx, l, m.ID, m.Method, "its request has ended")
		return
	}
	c.queued = append(c.queued, in)
	if c.clientID != nil && c.gather == nil {
		b.armGather(c)
	}
}

// armGather schedules the InputRequiredResult of c's queued inputs; b.mu
// is held.
func (b *bridge) armGather(c *call) {
	b.timers.Add(1)
	c.gather = time.AfterFunc(b.cfg.Gather, func() {
		defer b.timers.Done()
		b.sendRound(b.ctx, c)
	})
}

// sendRound answers c's current client request with an InputRequiredResult
// for its queued inputs and suspends c until the retry.
func (b *bridge) sendRound(ctx context.Context, c *call) {
	b.mu.Lock()
	c.gather = nil
	if b.closed || c.ended || c.clientID == nil || c.flushing || len(c.queued) == 0 {
		// (A retry still flushing arms the gathering again when done.)
		b.mu.Unlock()
		return
	}
	c.round++
	if c.handle == "" {
		c.handle = b.handlePrefix + strconv.FormatInt(b.nextHandle(), 36)
	}
	reqs := translators.NewObject()
	keys := make([]string, len(c.queued))
	for i, in := range c.queued {
		in.key = fmt.Sprintf("%s#%d.%d", capabilityOf(in.method), c.round, i+1)
		keys[i] = in.key
		reqs.Set(in.key, in.request)
	}
	c.asked, c.queued = c.queued, nil
	var token string
	var err error
	if c.digest == nil {
		c.digest, err = sealed.ParamsDigest(c.params)
	}
	if err == nil {
		st := sealed.State{Instance: b.cfg.Instance, Call: c.handle, Method: c.method, ParamsDigest: c.digest, Keys: keys, Round: c.round}
		token, err = b.cfg.Sealer.SealState(c.principal, st)
	}
	id := c.clientID
	if err != nil {
		asked := c.asked
		live := b.endLocked(c)
		b.mu.Unlock()
		if live {
			c.lane.done()
		}
		b.log.ErrorContext(ctx, "bridge: cannot seal the requestState of a suspended request", "err", err)
		b.failCall(ctx, id, c.method, "mcpbroker: cannot suspend the request: "+err.Error())
		b.abandon(ctx, c, asked, "the broker could not suspend the request")
		return
	}
	delete(b.calls, jsonrpc.IDKey(id))
	c.clientID = nil
	b.callsChangedLocked()
	b.suspended[c.handle] = c
	b.timers.Add(1)
	c.expire = time.AfterFunc(b.cfg.InputTimeout, func() {
		defer b.timers.Done()
		b.expireCall(b.ctx, c)
	})
	b.mu.Unlock()
	_, span := b.startEmulation(ctx, id, telemetry.EmulationMRTRRound, c.method) // 4.M6
	defer span.End()
	r := translators.NewObject()
	r.Set("resultType", translators.NewString("input_required"))
	r.Set("inputRequests", reqs)
	r.Set("requestState", translators.NewString(token))
	if len(c.lane.serverInfo) > 0 {
		meta := translators.NewObject()
		meta.Set(metaServerInfo, translators.Parse(c.lane.serverInfo))
		r.Set("_meta", meta)
	}
	b.sendClient(ctx, response(id, r), id)
}

// nextHandle returns a fresh number for call handles; b.mu is held.
func (b *bridge) nextHandle() int64 {
	b.handles++
	return b.handles
}

// expireCall ends a suspended call whose client did not retry in time:
// the server's requests are answered on the client's behalf and the
// upstream call is cancelled.
func (b *bridge) expireCall(ctx context.Context, c *call) {
	b.mu.Lock()
	if c.ended || c.clientID != nil || b.suspended[c.handle] != c {
		b.mu.Unlock()
		return
	}
	inputs := append(c.asked, c.queued...)
	b.endLocked(c)
	b.mu.Unlock()
	c.lane.done()
	b.log.WarnContext(ctx, "bridge: the client did not retry a suspended request in time; cancelled upstream", "method", c.method, "timeout", b.cfg.InputTimeout)
	b.abandon(ctx, c, inputs, "the client did not retry in time")
}

// abandon answers c's pending server requests for the client and cancels
// c upstream.
func (b *bridge) abandon(ctx context.Context, c *call, inputs []*input, why string) {
	for _, in := range inputs {
		if in.serverID != nil {
			b.answerForClient(ctx, c.lane, in.serverID, in.method, why)
		}
	}
	if !c.resend { // a 4.M7 call has no upstream request open
		_ = c.lane.send(ctx, b.injectLane(ctx, translators.CancelledNotification(c.laneID, "mcpbroker: "+why)), nil)
	}
}

// urlRequired turns a legacy URLElicitationRequiredError (-32042) of an
// MRTR method into an InputRequiredResult with one url-mode
// elicitation/create per error.data.elicitations entry, elicitationId
// stripped (4.M7). The retry sends the original request again. It
// reports false (the error is then answered as such) when the error
// carries no elicitation or the call cannot take input.
func (b *bridge) urlRequired(ctx context.Context, c *call, m *jsonrpc.Message) bool {
	list := translators.Parse(m.Error).Get("data").Get("elicitations")
	if !list.IsArray() || list.Len() == 0 || c.upRaw == nil || !translators.Parse(c.caps).Has("elicitation") {
		return false
	}
	var inputs []*input
	for _, e := range list.Elems() {
		if !e.IsObject() {
			return false
		}
		params := e.Clone()
		params.Delete("elicitationId")
		req := translators.NewObject()
		req.Set("method", translators.NewString("elicitation/create"))
		req.Set("params", params)
		inputs = append(inputs, &input{method: "elicitation/create", request: req})
	}
	b.mu.Lock()
	if c.ended || c.clientID == nil {
		b.mu.Unlock()
		return false
	}
	b.stopTimer(&c.gather)
	delete(b.byLane, c.laneKey) // the upstream request is over
	c.resend = true
	c.queued = append(c.queued, inputs...)
	b.mu.Unlock()
	b.sendRound(ctx, c)
	return true
}

// answerForClient answers a legacy server's request as a client that
// declines would (4.M6): elicitation is cancelled, roots are empty,
// sampling fails.
func (b *bridge) answerForClient(ctx context.Context, l *lane, id json.RawMessage, method, why string) {
	b.log.InfoContext(ctx, "bridge: answering a server request for the client", "method", method, "why", why)
	var raw []byte
	switch method {
	case "elicitation/create":
		raw = response(id, translators.NewJSON(`{"action":"cancel"}`))
	case "roots/list":
		raw = response(id, translators.NewJSON(`{"roots":[]}`))
	default:
		raw = jsonrpc.ErrorResponse(id, jsonrpc.CodeInternalError, "mcpbroker: the 2026-07-28 client cannot answer "+method+": "+why, nil)
	}
	_ = l.answer(ctx, raw)
}

// retryError maps a requestState that does not open to the message of
// the -32602 the client gets.
func retryError(err error) string {
	switch {
	case errors.Is(err, sealed.ErrExpired):
		return "requestState has expired"
	case errors.Is(err, sealed.ErrReplayed):
		return "requestState was already used"
	case errors.Is(err, sealed.ErrWrongPrincipal):
		return "requestState was issued for other credentials"
	}
	return "requestState is not one this broker issued"
}

// retry resumes a suspended call: the client's inputResponses go to the
// legacy server as the answers to its requests (4.M6).
func (b *bridge) retry(ctx context.Context, m *jsonrpc.Message, f requestFacts) {
	p := translators.Parse(m.Params)
	rs := p.Get("requestState")
	if !rs.IsString() {
		b.rejectError(ctx, m, jsonrpc.CodeInvalidParams, "Invalid params: inputResponses without requestState (mcpbroker always issues one)", nil)
		return
	}
	st, err := b.cfg.Sealer.OpenState(f.principal, rs.Str())
	if err != nil {
		b.log.WarnContext(ctx, "bridge: retry with a bad requestState refused", "method", m.Method, "err", err)
		b.rejectError(ctx, m, jsonrpc.CodeInvalidParams, "Invalid params: "+retryError(err), nil)
		return
	}
	if st.Instance != b.cfg.Instance {
		b.rejectError(ctx, m, jsonrpc.CodeInvalidParams, fmt.Sprintf("Invalid params: requestState belongs to broker instance %q, not %q; route the retry there", st.Instance, b.cfg.Instance), nil)
		return
	}
	digest, err := sealed.ParamsDigest(m.Params)
	if err != nil {
		b.rejectError(ctx, m, jsonrpc.CodeInvalidParams, "Invalid params: "+err.Error(), nil)
		return
	}
	responses := p.Get("inputResponses")
	b.mu.Lock()
	c := b.suspended[st.Call]
	var why string
	switch {
	case c == nil || c.ended:
		why = "no suspended request matches requestState (it finished, was cancelled or timed out)"
		c = nil
	case c.method != m.Method || st.Round != c.round || !bytes.Equal(digest, c.digest):
		why = "the retry is not the request that was suspended (method or params differ)"
	default:
		for _, in := range c.asked {
			if !responses.Has(in.key) {
				why = fmt.Sprintf("inputResponses lacks %q", in.key)
				break
			}
		}
	}
	if why != "" {
		var inputs []*input
		live := false
		if c != nil {
			// The state is used up: the call cannot resume.
			inputs = append(c.asked, c.queued...)
			live = b.endLocked(c)
		}
		b.mu.Unlock()
		if live {
			c.lane.done()
			b.abandon(ctx, c, inputs, "the retry was refused")
		}
		b.rejectError(ctx, m, jsonrpc.CodeInvalidParams, "Invalid params: "+why, nil)
		return
	}
	if _, dup := b.calls[jsonrpc.IDKey(m.ID)]; dup {
		b.mu.Unlock()
		b.rejectError(ctx, m, jsonrpc.CodeInvalidRequest, "Invalid Request: request id "+string(m.ID)+" is already in use by a pending request", nil)
		return
	}
	cancelled := b.started(jsonrpc.IDKey(m.ID), f.dispatch)
	delete(b.suspended, c.handle)
	b.stopTimer(&c.expire)
	c.clientID = m.ID
	if f.token != nil {
		c.token = f.token
	}
	b.calls[jsonrpc.IDKey(m.ID)] = c
	asked := c.asked
	c.asked = nil
	c.flushing = true
	b.mu.Unlock()

	for _, in := range asked {
		if in.serverID != nil {
			b.sendInput(ctx, c.lane, in, responses.Get(in.key))
		}
	}
	if cancelled {
		// The retry's stream closed before it got here (4.M8).
		if b.endCall(c) {
			_ = c.lane.send(ctx, b.injectLane(ctx, translators.CancelledNotification(c.laneID, "the client cancelled the request")), nil)
		}
		return
	}
	b.flush(ctx, c)
	b.resendURL(ctx, c)
}

// flush delivers, in order, what was held for c while it was suspended
// and what comes while it does (4.M9), then the answer if the server
// gave it; then c's messages flow to the client directly again.
func (b *bridge) flush(ctx context.Context, c *call) {
	for {
		b.mu.Lock()
		held, final := c.held, c.final
		c.held, c.final = nil, nil
		id, token := c.clientID, c.token
		if c.ended || (len(held) == 0 && final == nil) {
			c.flushing = false
			if !c.ended && len(c.queued) > 0 && c.gather == nil {
				b.armGather(c)
			}
			b.mu.Unlock()
			return
		}
		live := final != nil && b.endLocked(c)
		b.mu.Unlock()
		for _, h := range held {
			raw := h.raw
			if h.progress {
				if token == nil {
					continue
				}
				raw = translators.SetParam(raw, "progressToken", token)
			}
			b.sendClient(ctx, raw, id)
		}
		if live {
			c.lane.done()
			b.sendClient(ctx, setID(final, id), id)
			return
		}
	}
}

// resendURL sends the original request of a call resumed after a 4.M7
// URL elicitation again, under a new lane id.
func (b *bridge) resendURL(ctx context.Context, c *call) {
	b.mu.Lock()
	if !c.resend || c.ended {
		b.mu.Unlock()
		return
	}
	c.resend = false
	c.laneID = b.newID("b-")
	c.laneKey = jsonrpc.IDKey(c.laneID)
	b.byLane[c.laneKey] = c
	raw := setID(c.upRaw, c.laneID)
	b.mu.Unlock()
	if err := c.lane.send(ctx, b.injectLane(ctx, raw), nil); err != nil {
		b.mu.Lock()
		id := c.clientID
		live := b.endLocked(c)
		b.mu.Unlock()
		if live {
			c.lane.done()
			b.failCall(ctx, id, c.method, "mcpbroker: "+err.Error())
		}
	}
}

// sendInput sends the client's answer to one input request to the lane,
// as the JSON-RPC response to the server's request (4.F6).
func (b *bridge) sendInput(ctx context.Context, l *lane, in *input, result *translators.Node) {
	raw := response(in.serverID, result)
	msg, err := jsonrpc.Parse(raw)
	if err != nil {
		b.answerForClient(ctx, l, in.serverID, in.method, "its answer is not JSON-RPC")
		return
	}
	tctx := translators.Context{Method: in.method}
	out := b.down.Translate(msg, translators.ClientToServer, &tctx)
	if out.Kind != translators.Forward {
		b.answerForClient(ctx, l, in.serverID, in.method, "its answer cannot be translated ("+out.Row+")")
		return
	}
	_ = l.answer(ctx, out.Message)
}

// serverCancelled handles a legacy server cancelling one of its own
// requests (4.M8): an input request not yet sent to the client is
// withdrawn; one already sent is answered by the client's retry and then
// dropped by the relay.
func (b *bridge) serverCancelled(l *lane, m *jsonrpc.Message) {
	reqID := translators.Parse(m.Params).Get("requestId")
	if reqID == nil {
		return
	}
	key := jsonrpc.IDKey(reqID.Raw())
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.byLane {
		if c.lane != l {
			continue
		}
		for i, in := range c.queued {
			if jsonrpc.IDKey(in.serverID) == key {
				c.queued = append(c.queued[:i], c.queued[i+1:]...)
				return
			}
		}
	}
}
