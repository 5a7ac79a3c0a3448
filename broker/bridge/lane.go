package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/cache"
	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// errLaneClosed fails what waits on a lane that ended.
var errLaneClosed = errors.New("bridge: the upstream session ended")

// lane is one pooled legacy upstream session: a relay session whose client
// is the bridge, speaking 2025-11-25 over an in-memory pipe.
type lane struct {
	b         *bridge
	key       string
	principal string
	conn      *transport.PipeConn // the bridge's end
	relayEnd  *watchedPipe        // the relay session's end
	cancel    context.CancelFunc  // ends the relay session
	ready     chan struct{}       // closed once the handshake ended
	initErr   error               // the handshake's failure; set before ready closes

	// Set by the handshake, read-only after ready closes.
	serverInfo   json.RawMessage
	serverCaps   json.RawMessage
	instructions json.RawMessage // a JSON string, or nil

	// busy counts what must keep the lane alive: calls in flight or
	// suspended, and listens.
	busy atomic.Int64

	mu       sync.Mutex
	closed   bool
	internal map[string]chan *jsonrpc.Message // lane id key -> the bridge's own request
	level    string                           // the logging level set on the lane, or ""
	subs     map[string]int                   // resource URI -> listens subscribed to it
}

// laneKey is the pool key of a request: its principal and its client
// capabilities in canonical form (4.L1, 4.F7).
func laneKey(f requestFacts) (string, error) {
	caps, err := cache.CanonicalParams(f.caps)
	if err != nil {
		return "", fmt.Errorf("bridge: clientCapabilities: %w", err)
	}
	return f.principal + "\x00" + caps, nil
}

// getLane returns the ready lane for a request's facts, creating and
// initializing it when there is none. The lane is returned busy (the
// caller calls done when it no longer needs it).
func (b *bridge) getLane(ctx context.Context, f requestFacts) (_ *lane, err error) {
	key, err := laneKey(f)
	if err != nil {
		return nil, err
	}
	_, span := b.startEmulation(ctx, nil, telemetry.EmulationPoolHit, f.method)
	defer func() { telemetry.EndSpan(span, err) }()
	for range 3 {
		l, ok := b.lanes.Get(key)
		if !ok {
			span.SetAttributes(telemetry.AttrEmulation.String(telemetry.EmulationPoolOpen))
			b.mu.Lock()
			if b.closed {
				b.mu.Unlock()
				return nil, errLaneClosed
			}
			l = b.creating[key]
			mine := l == nil
			if mine {
				l = b.newLane(key, f.principal)
				b.creating[key] = l
			}
			b.mu.Unlock()
			if mine {
				b.handshake(ctx, l, f)
			}
		}
		select {
		case <-l.ready:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		if l.initErr != nil {
			return nil, l.initErr
		}
		l.busy.Add(1)
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if !closed {
			return l, nil
		}
		l.busy.Add(-1) // evicted between Get and Add: take another
	}
	return nil, errLaneClosed
}

// watchedPipe is the relay's end of a lane's pipe. It is a
// transport.StreamWatcher: the relay opens the upstream's stream for
// unsolicited messages (the GET stream of a Streamable HTTP server) only
// once the lane has a listen, so that idle lanes hold no upstream stream.
type watchedPipe struct {
	*transport.PipeConn
	mu     sync.Mutex
	f      func()
	opened bool
}

// OnStream registers f, called once the lane has its first listen.
func (w *watchedPipe) OnStream(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.opened {
		go f()
		return
	}
	w.f = f
}

// open marks the stream as wanted.
func (w *watchedPipe) open() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.opened {
		return
	}
	w.opened = true
	if w.f != nil {
		go w.f()
	}
}

// newLane starts the relay session of a new lane.
func (b *bridge) newLane(key, principal string) *lane {
	mine, pipeEnd := transport.Pipe()
	theirs := &watchedPipe{PipeConn: pipeEnd}
	ctx, cancel := context.WithCancel(b.ctx)
	l := &lane{
		b: b, key: key, principal: principal, conn: mine, relayEnd: theirs, cancel: cancel,
		ready:    make(chan struct{}),
		internal: map[string]chan *jsonrpc.Message{},
		subs:     map[string]int{},
	}
	rcfg := b.cfg.Relay
	b.lanesW.Add(2)
	go func() {
		defer b.lanesW.Done()
		defer theirs.Close()
		err := relay.Run(ctx, theirs, b.cfg.Dial, rcfg)
		b.log.DebugContext(ctx, "bridge: lane relay ended", "err", err)
	}()
	go func() {
		defer b.lanesW.Done()
		b.laneLoop(ctx, l)
	}()
	return l
}

// handshake initializes the lane's legacy session with the capabilities
// and client info of the request that created it, then publishes it (or
// its failure).
func (b *bridge) handshake(ctx context.Context, l *lane, f requestFacts) {
	err := b.initialize(ctx, l, f)
	if err == nil {
		err = b.lanes.Add(l.key, l)
	}
	// Only now: a request that missed the lane in the pool before the Add
	// finds it here, and waits for ready.
	b.mu.Lock()
	delete(b.creating, l.key)
	b.mu.Unlock()
	if err != nil {
		l.initErr = fmt.Errorf("bridge: upstream session: %w", err)
		b.log.WarnContext(ctx, "bridge: upstream session failed", "err", err)
		close(l.ready)
		l.end("handshake failed", false)
		return
	}
	close(l.ready)
}

func (b *bridge) initialize(ctx context.Context, l *lane, f requestFacts) error {
	caps := translators.ClientCapabilitiesToLegacy(translators.Parse(f.caps), translators.CapabilityOptions{})
	info := f.info
	if len(info) == 0 {
		info = json.RawMessage(`{"name":"mcpbroker-2026-bridge","version":"0"}`)
	}
	params := translators.NewObject()
	params.Set("protocolVersion", translators.NewString(laneRevision.String()))
	params.Set("capabilities", caps)
	params.Set("clientInfo", translators.Parse(info))
	hctx, cancel := context.WithTimeout(ctx, DefaultHandshakeLimit)
	defer cancel()
	m, err := l.request(hctx, "initialize", params.Raw())
	if err != nil {
		return err
	}
	if m.Kind == jsonrpc.KindError {
		return fmt.Errorf("initialize refused: %s", m.Error)
	}
	r := translators.Parse(m.Result)
	l.serverInfo = r.Get("serverInfo").Raw()
	l.serverCaps = r.Get("capabilities").Raw()
	if i := r.Get("instructions"); i.IsString() {
		l.instructions = i.Raw()
	}
	return l.send(ctx, l.b.injectLane(ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)), nil)
}

// send sends one frame to the lane's relay session.
func (l *lane) send(ctx context.Context, raw []byte, related json.RawMessage) error {
	if err := l.conn.Send(ctx, transport.Message{Raw: raw, Related: related}); err != nil {
		return fmt.Errorf("%w: %w", errLaneClosed, err)
	}
	return nil
}

// answer sends raw, the bridge's answer to a request of the lane's server,
// with the trace context of ctx (see laneTrace).
func (l *lane) answer(ctx context.Context, raw []byte) error {
	if err := l.conn.Send(ctx, transport.Message{Raw: raw, Trace: l.b.laneTrace(ctx)}); err != nil {
		return fmt.Errorf("%w: %w", errLaneClosed, err)
	}
	return nil
}

// request sends the bridge's own request to the lane and waits for its
// response.
func (l *lane) request(ctx context.Context, method string, params json.RawMessage) (*jsonrpc.Message, error) {
	id := l.b.newID("mcpbroker-bridge-")
	ch := make(chan *jsonrpc.Message, 1)
	key := jsonrpc.IDKey(id)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errLaneClosed
	}
	l.internal[key] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.internal, key)
		l.mu.Unlock()
	}()
	req := translators.NewObject()
	req.Set("jsonrpc", translators.NewString("2.0"))
	req.Set("id", translators.Parse(id))
	req.Set("method", translators.NewString(method))
	if len(params) > 0 {
		req.Set("params", translators.Parse(params))
	}
	if err := l.send(ctx, l.b.injectLane(ctx, req.Raw()), nil); err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m == nil {
			return nil, errLaneClosed
		}
		return m, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// done releases a busy hold taken by getLane.
func (l *lane) done() { l.busy.Add(-1) }

// close ends the lane: its relay session and upstream, its waiters, and
// every call and listen on it; it takes the lane out of the pool.
func (l *lane) close(why string) { l.end(why, true) }

// end is close; unregister is false where the lane is not in the pool
// (the pool ended it, or its handshake failed): the pool may by then
// hold a newer lane under the same key, which must stay.
func (l *lane) end(why string, unregister bool) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	for _, ch := range l.internal {
		ch <- nil
	}
	l.internal = map[string]chan *jsonrpc.Message{}
	l.mu.Unlock()
	l.cancel()
	l.conn.Close()
	if unregister {
		l.b.lanes.Remove(l.key)
	}
	l.b.laneEnded(l, why)
}

// laneLoop reads what the lane's relay session sends the bridge.
func (b *bridge) laneLoop(ctx context.Context, l *lane) {
	for {
		tm, err := l.conn.Recv(ctx)
		if err != nil {
			l.close("upstream session ended")
			return
		}
		m, err := jsonrpc.Parse(tm.Raw)
		if err != nil {
			b.log.WarnContext(ctx, "bridge: unreadable message from the lane", "err", err)
			continue
		}
		switch m.Kind {
		case jsonrpc.KindResult, jsonrpc.KindError:
			key := jsonrpc.IDKey(m.ID)
			l.mu.Lock()
			ch := l.internal[key]
			delete(l.internal, key)
			l.mu.Unlock()
			if ch != nil {
				ch <- m
				continue
			}
			b.answer(ctx, l, m)
		case jsonrpc.KindRequest:
			b.serverRequest(ctx, l, m, tm.Related)
		case jsonrpc.KindNotification:
			b.serverNotification(ctx, l, m, tm.Related)
		}
	}
}

// laneEnded fails every call and ends every listen of a closed lane.
func (b *bridge) laneEnded(l *lane, why string) {
	ctx := b.ctx
	var calls []*call
	var listens []*listen
	b.mu.Lock()
	for _, c := range b.byLane {
		if c.lane == l && b.endLocked(c) {
			calls = append(calls, c)
		}
	}
	for k, ls := range b.listens {
		if ls.lane == l {
			delete(b.listens, k)
			listens = append(listens, ls)
		}
	}
	b.mu.Unlock()
	for _, c := range calls {
		if c.clientID != nil {
			b.failCall(ctx, c.clientID, c.method, "mcpbroker: upstream session ended ("+why+")")
		}
	}
	for _, ls := range listens {
		// 4.M3: the listen ends; the client reopens it (on a new lane).
		b.sendClient(ctx, translators.CancelledNotification(ls.clientID, "upstream session ended"), ls.clientID)
	}
	if len(calls) > 0 || len(listens) > 0 {
		b.log.InfoContext(ctx, "bridge: upstream session ended under requests", "why", why, "calls", len(calls), "listens", len(listens))
	}
}

// ---- server/discover (4.L2) ----

// discover answers server/discover from the lane's InitializeResult.
func (b *bridge) discover(ctx context.Context, m *jsonrpc.Message, f requestFacts) {
	l, err := b.getLane(ctx, f)
	if err != nil {
		b.rejectError(ctx, m, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil)
		return
	}
	r := translators.NewObject()
	r.Set("resultType", translators.NewString("complete"))
	r.Set("supportedVersions", translators.NewJSON(`["2026-07-28"]`))
	r.Set("capabilities", translators.ServerCapabilitiesTo2026(translators.Parse(l.serverCaps), translators.CapabilityOptions{}))
	if l.instructions != nil {
		r.Set("instructions", translators.Parse(l.instructions))
	}
	r.Set("ttlMs", translators.NewInt(b.cfg.CacheTTLMs))
	r.Set("cacheScope", translators.NewString(b.cacheScope()))
	if len(l.serverInfo) > 0 {
		meta := translators.NewObject()
		meta.Set(metaServerInfo, translators.Parse(l.serverInfo))
		r.Set("_meta", meta)
	}
	// The lane is idle again before the client has the answer (as for
	// every other request), so that the pool sees it so at once.
	l.done()
	b.sendClient(ctx, response(m.ID, r), m.ID)
}

func (b *bridge) cacheScope() string {
	if b.cfg.CacheScope == "public" {
		return "public"
	}
	return "private"
}

// response builds a JSON-RPC result response.
func response(id json.RawMessage, result *translators.Node) []byte {
	n := translators.NewObject()
	n.Set("jsonrpc", translators.NewString("2.0"))
	n.Set("id", translators.Parse(id))
	n.Set("result", result)
	return n.Raw()
}

// setLevel makes the lane's logging level the lowest that the calls in
// flight on it (suspended ones included) asked for (4.M2), when the
// server can log and the level changes. It is called after the call is
// registered and before its request is sent on the same pipe, so the
// relay forwards the setLevel first. The level is chosen and sent under
// b.mu, so that concurrent calls cannot leave the lane at an older
// choice. It returns the channel the setLevel's answer arrives on (nil
// when none was sent): a server may handle requests concurrently, so the
// caller waits for it (see awaitLevel) before sending the call, whose
// first log messages would otherwise go out at the old level.
func (b *bridge) setLevel(ctx context.Context, l *lane) <-chan *jsonrpc.Message {
	if !translators.Parse(l.serverCaps).Has("logging") {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	level := ""
	for _, c := range b.byLane {
		if rank, ok := logLevels[c.logLevel]; c.lane == l && ok && (level == "" || rank < logLevels[level]) {
			level = c.logLevel
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if level == "" || l.level == level || l.closed {
		return nil
	}
	l.level = level
	id := b.newID("mcpbroker-bridge-")
	ch := make(chan *jsonrpc.Message, 1) // laneLoop delivers the answer, close a nil
	l.internal[jsonrpc.IDKey(id)] = ch
	raw := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%s,"method":"logging/setLevel","params":{"level":%q}}`, id, level)
	if err := l.send(ctx, b.injectLane(ctx, raw), nil); err != nil {
		b.log.DebugContext(ctx, "bridge: setLevel", "err", err)
		delete(l.internal, jsonrpc.IDKey(id))
		return nil
	}
	return ch
}

// levelWait bounds how long a call waits for the answer to the setLevel
// sent for it: past it the call goes on (its first log messages may then
// follow the old level, as they would without the wait).
const levelWait = 2 * time.Second

// awaitLevel waits for the answer on ch of a setLevel (see setLevel), at
// most levelWait or the request timeout, whichever is shorter, or until
// ctx ends.
func (b *bridge) awaitLevel(ctx context.Context, ch <-chan *jsonrpc.Message) {
	if ch == nil {
		return
	}
	t := time.NewTimer(min(levelWait, b.timeout()))
	defer t.Stop()
	select {
	case m := <-ch:
		if m != nil && m.Kind == jsonrpc.KindError {
			b.log.DebugContext(ctx, "bridge: setLevel refused", "error", string(m.Error))
		}
	case <-t.C:
		b.log.DebugContext(ctx, "bridge: no answer to setLevel yet; sending the call")
	case <-ctx.Done():
	}
}

// timeout is the bound for waiting on a lane's internal request.
func (b *bridge) timeout() time.Duration {
	if t := b.cfg.Relay.RequestTimeout; t > 0 {
		return t
	}
	return DefaultHandshakeLimit
}
