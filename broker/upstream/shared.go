package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// Method names shared mode looks at.
const (
	methodInitialize  = "initialize"
	methodInitialized = "notifications/initialized"
	methodPing        = "ping"
	methodCancelled   = "notifications/cancelled"
	methodProgress    = "notifications/progress"
)

// upstream is the shared upstream session of shared mode: one Conn
// multiplexed into virtual Conns.
type upstream struct {
	p     *Pool
	log   *slog.Logger
	ready chan struct{} // closed once conn or err is set
	conn  transport.Conn
	err   error

	ended   chan struct{} // closed when the session ended
	endOnce sync.Once
	endErr  error // why, wrapping io.EOF; set before ended is closed

	sendMu sync.Mutex // serializes Sends on conn

	revMu sync.Mutex
	rev   schemas.Revision // last revision given to conn

	mu       sync.Mutex
	virtuals map[*virtual]struct{}
	last     *virtual // the most recently active virtual Conn
	nextID   int64
	nextTok  int64
	calls    map[string]*call   // global id key -> pending request
	tokens   map[string]*call   // global progress token key -> its request
	served   map[string]*served // server request id key -> the virtual Conn it went to
	init     *call              // the initialize in flight, or nil
	waiting  []initWaiter       // initialize requests waiting for init
	offered  string             // protocolVersion the first initialize offered
	result   json.RawMessage    // the cached InitializeResult, once answered
	version  string             // its protocolVersion
	notified bool               // notifications/initialized was forwarded
}

// call is a request of a virtual Conn pending on the shared session.
type call struct {
	v        *virtual        // nil once its virtual Conn ended (initialize only)
	id       json.RawMessage // the virtual Conn's id
	idKey    string
	gid      json.RawMessage // the shared session's id
	key      string          // IDKey(gid)
	seq      int64           // the counter value of gid: higher is more recent
	token    json.RawMessage // the virtual Conn's progress token, or nil
	tokenKey string          // IDKey of the shared session's token, or ""
	init     bool
}

// served is a server request handed to a virtual Conn.
type served struct {
	v  *virtual
	id json.RawMessage // the server's id
}

// initWaiter is an initialize waiting for the one in flight.
type initWaiter struct {
	v       *virtual
	id      json.RawMessage
	offered string
}

// delivery is a message bound for a virtual Conn.
type delivery struct {
	v *virtual
	m transport.Message
}

// outgoing is a message bound for the shared upstream.
type outgoing struct {
	raw, related []byte
}

// dialShared returns a virtual Conn of the shared upstream, starting the
// upstream first when none runs. The slot is taken.
func (p *Pool) dialShared(ctx context.Context) (transport.Conn, error) {
	for attempt := 0; ; attempt++ {
		u, err := p.sharedUpstream()
		if err != nil {
			return nil, err
		}
		select {
		case <-u.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("upstream: waiting for the shared upstream: %w", ctx.Err())
		}
		if u.err != nil {
			return nil, fmt.Errorf("upstream: start shared upstream: %w", u.err)
		}
		if v := u.attach(); v != nil {
			return expose(v, u.conn, u.setRevision, u.openStream), nil
		}
		if attempt > 0 {
			return nil, u.endErr
		}
		// It ended between its start and now: start another.
	}
}

// sharedUpstream returns the current shared upstream, starting one when
// there is none.
func (p *Pool) sharedUpstream() (*upstream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	if p.shared != nil && !p.shared.isEnded() {
		return p.shared, nil
	}
	u := &upstream{
		p:        p,
		log:      p.log,
		ready:    make(chan struct{}),
		ended:    make(chan struct{}),
		virtuals: map[*virtual]struct{}{},
		calls:    map[string]*call{},
		tokens:   map[string]*call{},
		served:   map[string]*served{},
	}
	p.shared = u
	p.wg.Add(1)
	go p.startShared(u)
	return u, nil
}

// startShared starts u's Conn and its reader.
func (p *Pool) startShared(u *upstream) {
	defer p.wg.Done()
	defer close(u.ready)
	conn, err := p.start(p.ctx)
	if err == nil {
		p.started.Add(1)
	}
	p.mu.Lock()
	if err == nil && p.closed {
		p.mu.Unlock()
		conn.Close()
		u.err = ErrPoolClosed
		return
	}
	if err != nil {
		if p.shared == u {
			p.shared = nil
		}
		p.mu.Unlock()
		u.err = err
		p.log.Warn("upstream: starting the shared upstream failed", "err", err)
		return
	}
	u.conn = conn
	p.wg.Add(1)
	p.mu.Unlock()
	p.log.Info("upstream: shared upstream started")
	go u.read()
}

// running reports whether u is started and has not ended.
func (u *upstream) running() bool {
	select {
	case <-u.ready:
	default:
		return false
	}
	return u.err == nil && !u.isEnded()
}

// isEnded reports whether the shared session ended.
func (u *upstream) isEnded() bool {
	select {
	case <-u.ended:
		return true
	default:
		return false
	}
}

// attach returns a new virtual Conn, or nil when u has ended.
func (u *upstream) attach() *virtual {
	v := &virtual{
		u:    u,
		q:    make(chan transport.Message, u.p.opt.Queue),
		done: make(chan struct{}),
		ids:  map[string]*call{},
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.isEnded() {
		return nil
	}
	u.virtuals[v] = struct{}{}
	u.last = v
	return v
}

// setRevision passes the negotiated revision on to the upstream Conn once.
func (u *upstream) setRevision(rev schemas.Revision) {
	rs, ok := u.conn.(transport.RevisionSetter)
	if !ok {
		return
	}
	u.revMu.Lock()
	defer u.revMu.Unlock()
	if u.rev != rev {
		u.rev = rev
		rs.SetRevision(rev)
	}
}

// openStream opens the shared session's stream for unsolicited messages
// (transport.StreamOpener, idempotent) once any client listens.
func (u *upstream) openStream() {
	if so, ok := u.conn.(transport.StreamOpener); ok {
		so.OpenStream()
	}
}

// send sends one frame on the shared session.
func (u *upstream) send(ctx context.Context, raw, related []byte) error {
	u.sendMu.Lock()
	defer u.sendMu.Unlock()
	if err := u.conn.Send(ctx, transport.Message{Raw: raw, Related: related}); err != nil {
		return fmt.Errorf("upstream: shared upstream: send: %w", err)
	}
	return nil
}

// sendLater sends frames on the shared session in the background (from
// the reader, which must not wait on a Send, or from a closing Conn).
func (u *upstream) sendLater(out []outgoing) {
	if len(out) == 0 {
		return
	}
	u.p.spawn(func() {
		for _, o := range out {
			if u.isEnded() {
				return
			}
			if err := u.send(u.p.ctx, o.raw, o.related); err != nil {
				u.log.Debug("upstream: shared upstream: send failed", "err", err)
				return
			}
		}
	})
}

// fail ends the shared session: every virtual Conn's Recv returns an error
// wrapping io.EOF (after what is queued), the Conn is closed, and the next
// Dial starts another session.
func (u *upstream) fail(cause error) {
	u.endOnce.Do(func() {
		err := cause
		if !errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %w", err, io.EOF)
		}
		u.endErr = fmt.Errorf("upstream: shared upstream ended: %w", err)
		close(u.ended)
		u.mu.Lock()
		vs := make([]*virtual, 0, len(u.virtuals))
		for v := range u.virtuals {
			vs = append(vs, v)
		}
		clear(u.calls)
		clear(u.tokens)
		clear(u.served)
		u.init, u.waiting = nil, nil
		u.mu.Unlock()
		p := u.p
		p.mu.Lock()
		if p.shared == u {
			p.shared = nil
		}
		p.mu.Unlock()
		if errors.Is(cause, ErrPoolClosed) {
			u.log.Info("upstream: shared upstream stopped", "clients", len(vs))
		} else {
			u.log.Warn("upstream: shared upstream ended", "err", cause, "clients", len(vs))
		}
		for _, v := range vs {
			v.end(u.endErr, true)
		}
		if err := u.conn.Close(); err != nil {
			u.log.Debug("upstream: closing the shared upstream", "err", err)
		}
	})
}

// ---- upstream -> virtual Conns ----

// read routes what the shared session receives until it ends.
func (u *upstream) read() {
	defer u.p.wg.Done()
	for {
		m, err := u.conn.Recv(u.p.ctx)
		if err != nil {
			if errors.Is(err, jsonrpc.ErrTooLarge) {
				u.log.Warn("upstream: oversized message from the shared upstream dropped", "err", err)
				continue
			}
			if u.p.ctx.Err() != nil {
				err = ErrPoolClosed
			}
			u.fail(err)
			return
		}
		f, err := jsonrpc.ParseFrame(m.Raw)
		if err != nil {
			u.log.Warn("upstream: malformed frame from the shared upstream dropped", "err", err)
			continue
		}
		for i, msg := range f.Messages {
			if msg == nil {
				u.log.Warn("upstream: invalid batch element from the shared upstream dropped", "index", i, "err", f.Errors[i])
				continue
			}
			for _, d := range u.route(msg, m.Related) {
				d.v.deliver(d.m)
			}
		}
	}
}

// route decides where a message from the server goes. related is the
// transport's Message.Related (a shared session id).
func (u *upstream) route(m *jsonrpc.Message, related json.RawMessage) []delivery {
	switch m.Kind {
	case jsonrpc.KindResult, jsonrpc.KindError:
		return u.response(m, related)
	case jsonrpc.KindRequest:
		return u.serverRequest(m, related)
	}
	return u.notification(m, related)
}

// response routes a response to the virtual Conn that sent the request,
// with its id restored.
func (u *upstream) response(m *jsonrpc.Message, related json.RawMessage) []delivery {
	key := jsonrpc.IDKey(m.ID)
	if len(m.ID) == 0 || m.ID[0] == 'n' {
		// An error without an id (the server could not read it): the
		// transport may know the request it answers.
		if len(related) == 0 {
			u.log.Warn("upstream: shared upstream: error response without an id dropped", "error", string(m.Error))
			return nil
		}
		key = jsonrpc.IDKey(related)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.calls[key]
	if c == nil {
		u.log.Debug("upstream: shared upstream: response to an unknown or cancelled request dropped", "id", string(m.ID))
		return nil
	}
	u.forgetLocked(c)
	var out []delivery
	if c.init {
		out = u.initializedLocked(m)
	}
	if c.v != nil {
		out = append(out, delivery{c.v, transport.Message{Raw: withID(m.Raw, c.id), Related: c.id}})
	}
	return out
}

// initializedLocked records the server's answer to the initialize in
// flight and answers the initialize requests that waited for it.
func (u *upstream) initializedLocked(m *jsonrpc.Message) []delivery {
	u.init = nil
	waiting := u.waiting
	u.waiting = nil
	if m.Kind == jsonrpc.KindResult {
		u.result = bytes.Clone(m.Result)
		u.version = translators.Parse(u.result).Get("protocolVersion").Str()
		u.log.Info("upstream: shared upstream initialized", "protocol_version", u.version, "waiting", len(waiting))
	} else {
		u.log.Warn("upstream: shared upstream refused initialize", "error", string(m.Error))
	}
	out := make([]delivery, 0, len(waiting)+1)
	for _, w := range waiting {
		raw := withID(m.Raw, w.id)
		if u.result != nil {
			raw = u.initReplyLocked(w.id, w.offered)
		}
		out = append(out, delivery{w.v, transport.Message{Raw: raw, Related: w.id}})
	}
	return out
}

// initReplyLocked answers an initialize from the cache: the cached result
// when the protocolVersion offered is the one the first client offered or
// the one the server answered, else an error.
func (u *upstream) initReplyLocked(id json.RawMessage, offered string) []byte {
	if offered != u.offered && offered != u.version {
		return jsonrpc.ErrorResponse(id, jsonrpc.CodeInvalidParams,
			fmt.Sprintf("mcpbroker: the shared upstream session speaks protocolVersion %s (offered %q); shared mode fixes the revision for every client session", u.version, offered),
			map[string]any{"supported": []string{u.version}})
	}
	b := make([]byte, 0, 40+len(id)+len(u.result))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":`...)
	b = append(b, u.result...)
	return append(b, '}')
}

// serverRequest routes a request from the server: ping is answered here;
// others go to the virtual Conn whose request they belong to (see the
// package documentation).
func (u *upstream) serverRequest(m *jsonrpc.Message, related json.RawMessage) []delivery {
	id := bytes.Clone(m.ID)
	if m.Method == methodPing {
		u.sendLater([]outgoing{{translators.EmptyResult(id), id}})
		return nil
	}
	u.mu.Lock()
	v, rel := u.ownerLocked(related)
	if v != nil {
		u.served[jsonrpc.IDKey(id)] = &served{v: v, id: id}
	}
	u.mu.Unlock()
	if v == nil {
		u.log.Warn("upstream: shared upstream: no client session to answer a server request", "method", m.Method)
		u.sendLater([]outgoing{{jsonrpc.ErrorResponse(id, jsonrpc.CodeInternalError,
			"mcpbroker: no client session is connected to answer "+m.Method, nil), id}})
		return nil
	}
	return []delivery{{v, transport.Message{Raw: m.Raw, Related: rel}}}
}

// ownerLocked picks the virtual Conn for a server request and the id of its
// request the server request belongs to (or nil): the owner of the request
// named by related, else the owner of the most recently sent pending
// request, else the most recently active virtual Conn.
func (u *upstream) ownerLocked(related json.RawMessage) (*virtual, json.RawMessage) {
	if len(related) > 0 {
		if c := u.calls[jsonrpc.IDKey(related)]; c != nil && c.v != nil {
			return c.v, c.id
		}
	}
	var best *call
	for _, c := range u.calls {
		if c.v != nil && (best == nil || c.seq > best.seq) {
			best = c
		}
	}
	if best != nil {
		return best.v, best.id
	}
	if u.last != nil {
		return u.last, nil
	}
	for v := range u.virtuals {
		return v, nil
	}
	return nil, nil
}

// notification routes a notification from the server: progress to the
// owner of its token, a cancellation to the virtual Conn that got the
// request, one related to a request to that request's owner, any other to
// every virtual Conn.
func (u *upstream) notification(m *jsonrpc.Message, related json.RawMessage) []delivery {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch m.Method {
	case methodProgress:
		tok := translators.Parse(m.Params).Get("progressToken")
		var c *call
		if tok != nil {
			c = u.tokens[jsonrpc.IDKey(tok.Raw())]
		}
		if c == nil || c.v == nil {
			u.log.Debug("upstream: shared upstream: progress for an unknown token dropped")
			return nil
		}
		return []delivery{{c.v, transport.Message{Raw: translators.SetParam(m.Raw, "progressToken", c.token), Related: c.id}}}
	case methodCancelled:
		if reqID := translators.Parse(m.Params).Get("requestId"); reqID != nil {
			key := jsonrpc.IDKey(reqID.Raw())
			s := u.served[key]
			if s == nil {
				u.log.Debug("upstream: shared upstream: cancellation of an unknown request dropped", "requestId", string(reqID.Raw()))
				return nil
			}
			delete(u.served, key)
			return []delivery{{s.v, transport.Message{Raw: m.Raw}}}
		}
	}
	if len(related) > 0 {
		if c := u.calls[jsonrpc.IDKey(related)]; c != nil && c.v != nil {
			return []delivery{{c.v, transport.Message{Raw: m.Raw, Related: c.id}}}
		}
	}
	out := make([]delivery, 0, len(u.virtuals))
	for v := range u.virtuals {
		out = append(out, delivery{v, transport.Message{Raw: bytes.Clone(m.Raw)}})
	}
	return out
}

// forgetLocked removes a pending request.
func (u *upstream) forgetLocked(c *call) {
	if u.calls[c.key] == c {
		delete(u.calls, c.key)
	}
	if c.tokenKey != "" && u.tokens[c.tokenKey] == c {
		delete(u.tokens, c.tokenKey)
	}
	if c.v != nil && c.v.ids[c.idKey] == c {
		delete(c.v.ids, c.idKey)
	}
}

// ---- virtual Conns ----

// virtual is one client session's view of the shared upstream.
type virtual struct {
	u    *upstream
	q    chan transport.Message
	done chan struct{} // closed when the virtual Conn ended
	once sync.Once
	err  error // why it ended; set before done is closed
	// drain: Recv returns what is queued before err.
	drain bool
	ids   map[string]*call // own id key -> pending request; guarded by u.mu
}

// Recv returns the next message for this client session.
func (v *virtual) Recv(ctx context.Context) (transport.Message, error) {
	select {
	case m := <-v.q:
		return m, nil
	default:
	}
	select {
	case m := <-v.q:
		return m, nil
	case <-v.done:
		if v.drain {
			select {
			case m := <-v.q:
				return m, nil
			default:
			}
		}
		return transport.Message{}, v.err
	case <-ctx.Done():
		return transport.Message{}, ctx.Err()
	}
}

// deliver queues m for the reader, ending the virtual Conn when its queue
// is full.
func (v *virtual) deliver(m transport.Message) {
	select {
	case <-v.done:
		return
	default:
	}
	select {
	case v.q <- m:
	default:
		v.u.log.Warn("upstream: a client session does not keep up with the shared upstream; ending it", "queue", cap(v.q))
		v.end(fmt.Errorf("%w: %d messages queued", ErrQueueOverflow, cap(v.q)), false)
	}
}

// Close ends this client session: its pending requests are cancelled
// upstream, the server requests it holds are answered with an error, and
// Recv returns transport.ErrClosed. The shared upstream stays up.
func (v *virtual) Close() error {
	v.end(transport.ErrClosed, false)
	return nil
}

// end ends the virtual Conn with err (Recv's error from now on, after the
// queue when drain is set) and frees its slot.
func (v *virtual) end(err error, drain bool) {
	v.once.Do(func() {
		v.err, v.drain = err, drain
		close(v.done)
		u := v.u
		live := !u.isEnded()
		var out []outgoing
		u.mu.Lock()
		delete(u.virtuals, v)
		if u.last == v {
			u.last = nil
		}
		for _, c := range v.ids {
			u.forgetLocked(c)
			if live {
				out = append(out, outgoing{raw: translators.CancelledNotification(c.gid, "mcpbroker: the client session ended")})
			}
		}
		if u.init != nil && u.init.v == v {
			u.init.v = nil // initialize is not cancelled; others may wait for it
		}
		for key, s := range u.served {
			if s.v == v {
				delete(u.served, key)
				if live {
					out = append(out, outgoing{jsonrpc.ErrorResponse(s.id, jsonrpc.CodeInternalError, "mcpbroker: the client session ended", nil), s.id})
				}
			}
		}
		kept := u.waiting[:0]
		for _, w := range u.waiting {
			if w.v != v {
				kept = append(kept, w)
			}
		}
		u.waiting = kept
		u.mu.Unlock()
		if len(out) > 0 {
			u.log.Debug("upstream: client session ended with work pending upstream", "messages", len(out))
		}
		u.sendLater(out)
		u.p.release()
	})
}

// Send relays a frame from the client session to the shared upstream,
// remapping ids and progress tokens. The elements of a batch are sent one
// by one.
func (v *virtual) Send(ctx context.Context, m transport.Message) error {
	select {
	case <-v.done:
		return v.err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := jsonrpc.ParseFrame(m.Raw)
	if err != nil {
		return fmt.Errorf("upstream: shared upstream: cannot relay a malformed frame: %w", err)
	}
	for i, msg := range f.Messages {
		if msg == nil {
			v.u.log.Warn("upstream: invalid batch element for the shared upstream dropped", "index", i, "err", f.Errors[i])
			continue
		}
		switch msg.Kind {
		case jsonrpc.KindRequest:
			if msg.Method == methodInitialize {
				err = v.initialize(ctx, msg)
			} else {
				err = v.request(ctx, msg)
			}
		case jsonrpc.KindNotification:
			err = v.notify(ctx, msg)
		default:
			err = v.respond(ctx, msg)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// request sends a request under a shared session id (and progress token).
func (v *virtual) request(ctx context.Context, m *jsonrpc.Message) error {
	u := v.u
	c := &call{v: v, id: bytes.Clone(m.ID), idKey: jsonrpc.IDKey(m.ID)}
	token := translators.ProgressToken(m.Params)
	var gtok json.RawMessage
	u.mu.Lock()
	if u.isEnded() {
		u.mu.Unlock()
		return u.endErr
	}
	if _, dup := v.ids[c.idKey]; dup {
		u.mu.Unlock()
		return fmt.Errorf("upstream: request id %s is already pending", m.ID)
	}
	u.registerLocked(c)
	v.ids[c.idKey] = c
	if token != nil {
		u.nextTok++
		gtok = strconv.AppendInt(nil, u.nextTok, 10)
		c.token, c.tokenKey = token, string(gtok)
		u.tokens[c.tokenKey] = c
	}
	u.last = v
	u.mu.Unlock()

	n := translators.Parse(m.Raw)
	n.Set("id", translators.Parse(c.gid))
	if gtok != nil {
		n.Get("params").Get("_meta").Set("progressToken", translators.Parse(gtok))
	}
	if err := u.send(ctx, n.Raw(), nil); err != nil {
		u.mu.Lock()
		u.forgetLocked(c)
		u.mu.Unlock()
		return err
	}
	return nil
}

// registerLocked gives c the next shared session id and records it.
func (u *upstream) registerLocked(c *call) {
	u.nextID++
	c.seq = u.nextID
	c.gid = strconv.AppendInt(nil, c.seq, 10)
	c.key = string(c.gid)
	u.calls[c.key] = c
}

// initialize sends the first initialize to the server; later ones wait for
// its answer (or get the cached one).
func (v *virtual) initialize(ctx context.Context, m *jsonrpc.Message) error {
	u := v.u
	offered := translators.Parse(m.Params).Get("protocolVersion").Str()
	id := bytes.Clone(m.ID)
	u.mu.Lock()
	switch {
	case u.isEnded():
		u.mu.Unlock()
		return u.endErr
	case u.result != nil:
		reply := u.initReplyLocked(id, offered)
		u.last = v
		u.mu.Unlock()
		u.log.Debug("upstream: initialize answered from the shared session's cache", "offered", offered)
		v.deliver(transport.Message{Raw: reply, Related: id})
		return nil
	case u.init != nil:
		u.waiting = append(u.waiting, initWaiter{v: v, id: id, offered: offered})
		u.last = v
		u.mu.Unlock()
		return nil
	}
	c := &call{v: v, id: id, idKey: jsonrpc.IDKey(id), init: true}
	u.registerLocked(c)
	u.init, u.offered, u.last = c, offered, v
	u.mu.Unlock()
	if err := u.send(ctx, withID(m.Raw, c.gid), nil); err != nil {
		u.mu.Lock()
		u.forgetLocked(c)
		var out []delivery
		if u.init == c {
			u.init = nil
			for _, w := range u.waiting {
				out = append(out, delivery{w.v, transport.Message{Raw: jsonrpc.ErrorResponse(w.id, jsonrpc.CodeInternalError,
					"mcpbroker: initialize of the shared upstream failed: "+err.Error(), nil), Related: w.id}})
			}
			u.waiting = nil
		}
		u.mu.Unlock()
		for _, d := range out {
			d.v.deliver(d.m)
		}
		return err
	}
	return nil
}

// notify relays a notification: notifications/initialized only once,
// notifications/cancelled with the shared session id of the request.
func (v *virtual) notify(ctx context.Context, m *jsonrpc.Message) error {
	u := v.u
	raw := m.Raw
	u.mu.Lock()
	u.last = v
	switch m.Method {
	case methodInitialized:
		if u.notified || u.result == nil {
			u.mu.Unlock()
			return nil // the server was told (or is not initialized)
		}
		u.notified = true
	case methodCancelled:
		reqID := translators.Parse(m.Params).Get("requestId")
		if reqID == nil {
			break // task cancellation (2025-11-25): nothing to rewrite
		}
		c := v.ids[jsonrpc.IDKey(reqID.Raw())]
		if c == nil {
			u.mu.Unlock()
			u.log.Debug("upstream: cancellation of an unknown or finished request dropped", "requestId", string(reqID.Raw()))
			return nil
		}
		u.forgetLocked(c)
		raw = translators.SetParam(raw, "requestId", c.gid)
	}
	u.mu.Unlock()
	return u.send(ctx, raw, nil)
}

// respond relays the answer to a server request this virtual Conn got.
func (v *virtual) respond(ctx context.Context, m *jsonrpc.Message) error {
	u := v.u
	key := jsonrpc.IDKey(m.ID)
	u.mu.Lock()
	s := u.served[key]
	if s == nil || s.v != v {
		u.mu.Unlock()
		u.log.Debug("upstream: response to an unknown server request dropped", "id", string(m.ID))
		return nil
	}
	delete(u.served, key)
	u.last = v
	u.mu.Unlock()
	return u.send(ctx, m.Raw, s.id)
}

// ---- JSON helpers ----

// withID returns the message raw with its id replaced by id.
func withID(raw []byte, id json.RawMessage) []byte {
	n := translators.Parse(raw)
	n.Set("id", translators.Parse(id))
	return n.Raw()
}
