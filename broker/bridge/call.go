package bridge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// maxHeld bounds the notifications buffered for a suspended call (4.M9);
// beyond it the oldest are dropped.
const maxHeld = 256

// call is a client request forwarded to a lane, from the forward until its
// answer reaches the client (through any number of MRTR rounds).
type call struct {
	lane      *lane
	laneID    json.RawMessage // the bridge's id toward the lane
	laneKey   string
	clientID  json.RawMessage // the client's id being answered now; nil while suspended
	method    string
	principal string
	caps      json.RawMessage // the request's client capabilities
	logLevel  string
	token     json.RawMessage // the client's progress token, or nil
	laneToken json.RawMessage // the bridge's progress token toward the lane

	// MRTR (4.M6).
	handle string          // names the call in its requestState
	params json.RawMessage // the original params (MRTR methods only)
	digest []byte          // sealed.ParamsDigest of params, computed at the first suspension
	round  int             // InputRequiredResults sent so far
	asked  []*input        // the inputs of the last InputRequiredResult
	queued []*input        // server requests not yet sent to the client
	gather *time.Timer     // sends the queued inputs when it fires
	expire *time.Timer     // ends the call when the client does not retry
	held   []heldNote      // notifications while suspended (4.M9)
	final  []byte          // the answer, when it came while suspended
	ended  bool            // answered, cancelled or expired
	// upRaw is the request as sent to the lane (MRTR methods only), and
	// resend is set while a 4.M7 URL elicitation waits for the retry,
	// which sends upRaw again under a new lane id.
	upRaw  []byte
	resend bool

	// flushing is set while a retry delivers what was held for it: what
	// comes meanwhile is held too, so that it cannot overtake (a response
	// ends the retry's stream).
	flushing bool
}

// heldNote is a notification waiting for a suspended call's retry.
type heldNote struct {
	raw      []byte
	progress bool // its progressToken is set to the retry's token
}

// input is a legacy server's request held as an MRTR input request.
type input struct {
	key      string
	serverID json.RawMessage // the relay's id of the request (lane id space); nil for a 4.M7 URL elicitation
	method   string
	request  *translators.Node // the InputRequest: {method, params}
}

// stopTimers stops the call's timers; b.mu is held. A timer stopped
// before it fired will not run its callback, so its count in b.timers is
// released here.
func (b *bridge) stopTimers(c *call) {
	b.stopTimer(&c.gather)
	b.stopTimer(&c.expire)
}

// stopTimer stops *t, if set, and clears it.
func (b *bridge) stopTimer(t **time.Timer) {
	if *t != nil && (*t).Stop() {
		b.timers.Done()
	}
	*t = nil
}

// mayNeedInput reports whether a method can return InputRequiredResult
// (4.M6: only these three).
func mayNeedInput(method string) bool {
	switch method {
	case "tools/call", "prompts/get", "resources/read":
		return true
	}
	return false
}

// setID returns raw with its top-level id replaced.
func setID(raw []byte, id json.RawMessage) []byte {
	n := translators.Parse(raw)
	n.Set("id", translators.Parse(id))
	return n.Raw()
}

// setMeta returns raw with params._meta[key] set to v.
func setMeta(raw []byte, key string, v json.RawMessage) []byte {
	n := translators.Parse(raw)
	translators.RequestMeta(n).Set(key, translators.Parse(v))
	return n.Raw()
}

// forward sends a translated request to its lane.
func (b *bridge) forward(ctx context.Context, m *jsonrpc.Message, raw []byte, f requestFacts) {
	clientKey := jsonrpc.IDKey(m.ID)
	b.mu.Lock()
	_, dup := b.calls[clientKey]
	b.mu.Unlock()
	if dup {
		b.rejectError(ctx, m, jsonrpc.CodeInvalidRequest, "Invalid Request: request id "+string(m.ID)+" is already in use by a pending request", nil)
		return
	}
	l, err := b.getLane(ctx, f)
	if err != nil {
		b.rejectError(ctx, m, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil)
		return
	}
	c := &call{
		lane: l, laneID: b.newID("b-"), clientID: m.ID, method: m.Method,
		principal: f.principal, caps: f.caps, logLevel: f.logLevel, token: f.token,
	}
	c.laneKey = jsonrpc.IDKey(c.laneID)
	raw = setID(raw, c.laneID)
	if f.token != nil {
		c.laneToken = b.newID("p-")
		raw = setMeta(raw, "progressToken", c.laneToken)
	}
	if mayNeedInput(m.Method) {
		// Kept for a suspension (4.M6, 4.M7); most calls never have one,
		// so the params digest waits for the first.
		c.upRaw, c.params = raw, m.Params
	}
	b.mu.Lock()
	if b.started(clientKey, f.dispatch) {
		b.mu.Unlock()
		l.done()
		return
	}
	if _, dup := b.calls[clientKey]; dup {
		// Another request with this id got here first while this one
		// waited for its lane.
		b.mu.Unlock()
		l.done()
		b.rejectError(ctx, m, jsonrpc.CodeInvalidRequest, "Invalid Request: request id "+string(m.ID)+" is already in use by a pending request", nil)
		return
	}
	b.calls[clientKey] = c
	b.byLane[c.laneKey] = c
	if c.laneToken != nil {
		b.progress[jsonrpc.IDKey(c.laneToken)] = c
	}
	b.mu.Unlock()
	if f.logLevel != "" {
		b.awaitLevel(ctx, b.setLevel(ctx, l))
	}
	if err := l.send(ctx, b.injectLane(ctx, raw), nil); err != nil {
		if b.endCall(c) {
			b.rejectError(ctx, m, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil)
		}
	}
}

// endCall removes c from every map and releases its lane. It reports
// whether c was still live (so that exactly one party answers it).
func (b *bridge) endCall(c *call) bool {
	b.mu.Lock()
	live := b.endLocked(c)
	b.mu.Unlock()
	if live {
		c.lane.done()
	}
	return live
}

// endLocked is endCall's map work; b.mu is held. The caller releases the
// lane when it returns true.
func (b *bridge) endLocked(c *call) bool {
	if c.ended {
		return false
	}
	c.ended = true
	b.stopTimers(c)
	delete(b.byLane, c.laneKey)
	if c.laneToken != nil {
		delete(b.progress, jsonrpc.IDKey(c.laneToken))
	}
	if c.clientID != nil {
		if b.calls[jsonrpc.IDKey(c.clientID)] == c {
			delete(b.calls, jsonrpc.IDKey(c.clientID))
		}
	}
	b.callsChangedLocked()
	if c.handle != "" && b.suspended[c.handle] == c {
		delete(b.suspended, c.handle)
	}
	return true
}

// answer relays the lane's response to a client request.
func (b *bridge) answer(ctx context.Context, l *lane, m *jsonrpc.Message) {
	b.mu.Lock()
	c := b.byLane[jsonrpc.IDKey(m.ID)]
	b.mu.Unlock()
	if c == nil {
		b.log.DebugContext(ctx, "bridge: response for a finished or cancelled request dropped", "id", string(m.ID))
		return
	}
	tctx := b.resultContext(l, c.method)
	out := b.up.Translate(m, translators.ServerToClient, &tctx)
	b.logOutcome("s2c", m, out)
	var raw []byte
	switch {
	case out.Kind == translators.Emulate && out.Row == "4.M7" && b.urlRequired(ctx, c, m):
		return
	case out.Kind == translators.Forward:
		raw = out.Message
	case out.Kind == translators.Reject && out.Error != nil:
		raw = jsonrpc.ErrorResponse(m.ID, out.Error.Code, out.Error.Message, out.Error.Data)
	default:
		// 4.M7 (-32042 URL elicitation) and 4.M5 (a task result) are not
		// mapped for 2026-07-28 clients yet.
		raw = jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInternalError,
			"mcpbroker: the upstream answer cannot be given to a 2026-07-28 client (REVISIONS.md "+out.Row+"): "+out.Reason,
			map[string]any{"row": out.Row, "upstream": json.RawMessage(m.Raw)})
	}
	if out.Kind != translators.Forward && b.cfg.Relay.Audit != nil {
		b.auditAnswer(ctx, c, raw)
	}
	b.mu.Lock()
	if c.ended {
		b.mu.Unlock()
		return
	}
	if c.clientID == nil || c.flushing {
		// Suspended: the retry gets it (the server finished without
		// waiting for the input it asked for).
		c.final = raw
		b.mu.Unlock()
		return
	}
	id := c.clientID
	b.endLocked(c)
	b.mu.Unlock()
	l.done()
	b.sendClient(ctx, setID(raw, id), id)
}

// resultContext is the translation context of a lane's results.
func (b *bridge) resultContext(l *lane, method string) translators.Context {
	return translators.Context{
		Method:     method,
		ServerInfo: l.serverInfo,
		CacheTTLMs: b.cfg.CacheTTLMs,
		CacheScope: b.cacheScope(),
	}
}

// deliver sends a notification belonging to c to the client, or holds it
// while c is suspended (4.M9).
func (b *bridge) deliver(ctx context.Context, c *call, raw []byte, progress bool) {
	b.mu.Lock()
	if c.ended {
		b.mu.Unlock()
		return
	}
	if c.clientID == nil || c.flushing {
		if len(c.held) >= maxHeld {
			c.held = c.held[1:]
		}
		c.held = append(c.held, heldNote{raw: raw, progress: progress})
		b.mu.Unlock()
		return
	}
	id, token := c.clientID, c.token
	b.mu.Unlock()
	if progress {
		raw = translators.SetParam(raw, "progressToken", token)
	}
	b.sendClient(ctx, raw, id)
}

// soleCall returns the only call on l that satisfies ok, or nil.
func (b *bridge) soleCall(l *lane, ok func(*call) bool) *call {
	b.mu.Lock()
	defer b.mu.Unlock()
	var found *call
	for _, c := range b.byLane {
		if c.lane != l || !ok(c) {
			continue
		}
		if found != nil {
			return nil
		}
		found = c
	}
	return found
}

// callFor attributes a lane message to a call: by the related lane id
// when the transport knows it, else the only call on the lane that ok
// accepts.
func (b *bridge) callFor(l *lane, related json.RawMessage, ok func(*call) bool) *call {
	if len(related) > 0 {
		b.mu.Lock()
		c := b.byLane[jsonrpc.IDKey(related)]
		b.mu.Unlock()
		if c != nil {
			return c
		}
	}
	return b.soleCall(l, ok)
}

// logLevels orders the syslog levels of logging/setLevel.
var logLevels = map[string]int{
	"debug": 0, "info": 1, "notice": 2, "warning": 3,
	"error": 4, "critical": 5, "alert": 6, "emergency": 7,
}

// wantsLog reports whether a call asked for log messages of that level.
func (c *call) wantsLog(level string) bool {
	if c.logLevel == "" {
		return false
	}
	want, ok1 := logLevels[c.logLevel]
	got, ok2 := logLevels[level]
	return ok1 && ok2 && got >= want
}

// serverNotification routes a lane's notification.
func (b *bridge) serverNotification(ctx context.Context, l *lane, m *jsonrpc.Message, related json.RawMessage) {
	switch m.Method {
	case "notifications/tools/list_changed", "notifications/prompts/list_changed",
		"notifications/resources/list_changed", "notifications/resources/updated":
		b.fanOut(ctx, l, m)
		return
	case methodCancelled:
		b.serverCancelled(l, m)
		return
	}
	var c *call
	progress := false
	switch m.Method {
	case methodProgress:
		tok := translators.Parse(m.Params).Get("progressToken")
		if tok == nil {
			return
		}
		b.mu.Lock()
		c = b.progress[jsonrpc.IDKey(tok.Raw())]
		b.mu.Unlock()
		progress = true
	case methodMessage:
		level := translators.Parse(m.Params).Get("level").Str()
		c = b.callFor(l, related, func(c *call) bool { return c.wantsLog(level) })
		if c != nil && !c.wantsLog(level) {
			c = nil
		}
	default:
		c = b.callFor(l, related, func(*call) bool { return false })
	}
	if c == nil {
		b.log.DebugContext(ctx, "bridge: upstream notification belongs to no request; dropped", "method", m.Method)
		return
	}
	tctx := translators.Context{ServerInfo: l.serverInfo}
	out := b.up.Translate(m, translators.ServerToClient, &tctx)
	b.logOutcome("s2c", m, out)
	if out.Kind != translators.Forward {
		return
	}
	b.deliver(ctx, c, out.Message, progress)
}
