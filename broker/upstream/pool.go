// Package upstream decides how client sessions get upstream sessions.
//
// A [Pool] turns a [StartFunc] (a function that starts a stdio server as a
// child process, or dials an HTTP server) into a dial function for
// relay.Run: each client session calls [Pool.Dial] once, at its
// initialize, and closes the Conn it got when it ends.
//
// # Modes
//
// A stdio server has exactly one session per process, so the pool offers
// two ways to serve many client sessions.
//
// [PerSession] (the default) gives every client session an upstream
// session of its own: a child process per client session for stdio, an
// HTTP session per client session for HTTP. It is always correct: each
// client has its own server state (resource subscriptions, the logging
// level, its roots and capabilities, whatever the server remembers for a
// session), exactly as if it talked to the server directly. Sessions are
// started lazily; [Options.Max] caps how many are open at once, and
// [Options.Spare] keeps pre-started ones ready, so that a new client
// session does not wait for a cold start. A spare is watched while it
// waits: one whose process exits (or whose Conn fails) is never handed out,
// and is replaced (with a growing delay when spares keep dying at once).
// Messages a spare sends before its session is handed out are kept and
// returned first by Recv.
//
// [Shared] serves every client session with one upstream session (one
// process), multiplexing it into virtual Conns. It is cheaper, and safe
// only for servers that keep no per-client state, because the server
// cannot tell the clients apart:
//
//   - The server sees one initialize, the first client's: its
//     capabilities, clientInfo and protocolVersion. Later clients get the
//     cached InitializeResult; one that offers another protocolVersion is
//     refused (shared mode fixes the revision; relays configured alike
//     all offer the same one). notifications/initialized is forwarded
//     once.
//   - Session state becomes global: resources/subscribe,
//     logging/setLevel and roots (notifications/roots/list_changed) of one
//     client apply to all, and notifications the server sends without
//     naming a request (list_changed, resources/updated, log messages)
//     are broadcast to every client.
//   - Server-to-client requests (sampling, elicitation, roots/list) go to
//     the client whose request they belong to when the transport says so
//     (Message.Related, as Streamable HTTP gives it). Otherwise, as over
//     stdio, they are routed by heuristic: to the client with the most
//     recently sent request still pending, else to the most recently
//     active client. Concurrent tool calls that each ask the client
//     something may then ask the wrong client. The server's pings are
//     answered by the pool.
//
// In shared mode request ids and progress tokens are remapped: every
// request gets a fresh integer id on the shared session and every
// progress token a fresh integer token, mapped back on the way to the
// client that sent them (responses, notifications/progress and
// notifications/cancelled reach only their owner). A client session that
// ends has its pending requests cancelled upstream and its pending server
// requests answered with an error; the shared session stays up until the
// upstream ends or the pool is closed. When the upstream ends (the child
// exits), every virtual Conn's Recv returns an error wrapping io.EOF, and
// the next Dial starts a new upstream session. Each virtual Conn has a
// bounded queue ([Options.Queue]): a client that does not keep up is
// ended (its Recv fails with [ErrQueueOverflow]) rather than stall the
// others.
//
// # HTTP upstreams
//
// The modes apply to HTTP upstreams alike, with a StartFunc that dials
// (transport.DialHTTP). A spare saves little there: dialing makes no
// request, and the HTTP session starts with the client's initialize.
//
// # Lifetimes
//
// Every upstream session is started with the pool's own context, not a
// Dial's: transport.Command.Start stops the child when its context ends,
// and spares and the shared session outlive the Dial that caused them.
// [Pool.Close] stops them all, including the sessions handed out.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// StartFunc starts one upstream session: it starts a child process
// speaking the stdio transport, or dials an HTTP server. The pool calls it
// with a context that lives as long as the pool; the Conn must stay usable
// until it is closed.
type StartFunc func(ctx context.Context) (transport.Conn, error)

// Mode says how client sessions share upstream sessions.
type Mode uint8

// Modes. The zero Mode is PerSession.
const (
	// PerSession gives every client session an upstream session (a child
	// process) of its own. Always correct.
	PerSession Mode = iota
	// Shared serves every client session with one upstream session. Only
	// for servers that keep no per-client state; see the package
	// documentation.
	Shared
)

// String returns "per-session" or "shared".
func (m Mode) String() string {
	switch m {
	case PerSession:
		return "per-session"
	case Shared:
		return "shared"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode returns the Mode named s: "per-session" or "shared".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "per-session":
		return PerSession, nil
	case "shared":
		return Shared, nil
	}
	return 0, fmt.Errorf("upstream: unknown mode %q (want per-session or shared)", s)
}

// DefaultQueue is the length of a virtual Conn's queue in shared mode when
// Options.Queue is zero.
const DefaultQueue = 256

// Options configure a Pool. The zero value is per-session mode without a
// cap or spares.
type Options struct {
	// Mode is PerSession (the default) or Shared.
	Mode Mode
	// Max caps the sessions Dial hands out that are open at once: upstream
	// sessions in per-session mode (spares included: the pool never runs
	// more than Max upstream sessions), client sessions of the shared
	// upstream in shared mode. Zero means no cap.
	Max int
	// Spare is how many started upstream sessions per-session mode keeps
	// ready for the next Dial (within Max). Zero starts every session on
	// demand. Shared mode ignores it.
	Spare int
	// Queue is how many messages from the shared upstream a virtual Conn
	// holds for its reader before the pool ends it as too slow. Zero means
	// DefaultQueue. Per-session mode ignores it.
	Queue int
	// Logger receives the pool's logs; nil discards them.
	Logger *slog.Logger
}

// Errors of the pool, matched with errors.Is.
var (
	// ErrPoolExhausted: Dial found Options.Max sessions open.
	ErrPoolExhausted = errors.New("upstream: pool exhausted")
	// ErrPoolClosed: the pool was closed.
	ErrPoolClosed = errors.New("upstream: pool closed")
	// ErrQueueOverflow: a virtual Conn of the shared upstream was ended
	// because its reader did not keep up.
	ErrQueueOverflow = errors.New("upstream: client session too slow for the shared upstream")
)

// Stats is a snapshot of a pool's counters.
type Stats struct {
	// Open is the number of upstream sessions in use: per-session
	// sessions handed out (or being dialed) and not closed; in shared mode
	// 1 while the shared upstream runs, else 0.
	Open int
	// SpareReady is the number of started spares waiting for a Dial.
	SpareReady int
	// Started is the number of upstream sessions started since New.
	Started int64
	// SharedClients is the number of virtual Conns of the shared upstream
	// handed out and not closed (shared mode).
	SharedClients int
}

// Pool hands out upstream sessions to client sessions. It is safe for
// concurrent use.
type Pool struct {
	start StartFunc
	opt   Options
	log   *slog.Logger
	// ctx is the pool's lifetime: upstream sessions are started with it.
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the pool's goroutines
	started atomic.Int64

	mu     sync.Mutex
	closed bool
	// open counts the sessions Dial handed out or is dialing: upstream
	// sessions in per-session mode, virtual Conns in shared mode.
	open int

	// per-session mode
	spares   []*spare              // starting or ready, oldest first
	sessions map[*session]struct{} // handed out, not closed
	failures int                   // spares that failed in a row
	backoff  *time.Timer           // set while a refill waits after failures

	// shared mode
	shared *upstream // the current shared upstream, nil before the first Dial or after it ended
}

// New returns a pool that starts upstream sessions with start. In
// per-session mode it starts Options.Spare spares at once, in the
// background. Call Close when done.
func New(start StartFunc, opts Options) (*Pool, error) {
	if start == nil {
		return nil, errors.New("upstream: nil start function")
	}
	switch {
	case opts.Mode > Shared:
		return nil, fmt.Errorf("upstream: unknown mode %d", uint8(opts.Mode))
	case opts.Max < 0:
		return nil, fmt.Errorf("upstream: negative session limit %d", opts.Max)
	case opts.Spare < 0:
		return nil, fmt.Errorf("upstream: negative spare count %d", opts.Spare)
	case opts.Queue < 0:
		return nil, fmt.Errorf("upstream: negative queue length %d", opts.Queue)
	case opts.Mode == PerSession && opts.Max > 0 && opts.Spare > opts.Max:
		return nil, fmt.Errorf("upstream: %d spares exceed the session limit %d", opts.Spare, opts.Max)
	}
	if opts.Mode == Shared {
		opts.Spare = 0
	}
	if opts.Queue == 0 {
		opts.Queue = DefaultQueue
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{
		start:    start,
		opt:      opts,
		log:      log.With("upstream_mode", opts.Mode.String()),
		ctx:      ctx,
		cancel:   cancel,
		sessions: map[*session]struct{}{},
	}
	p.fill()
	return p, nil
}

// Dial returns an upstream session for one client session; it has the
// signature of relay.Run's dial. In per-session mode it hands out a ready
// spare (starting a replacement in the background) or starts a session; in
// shared mode it returns a virtual Conn of the shared upstream, starting
// that upstream first when none runs. ctx bounds the wait only: the
// session lives until its Conn is closed (or the pool is).
//
// Dial fails at once with an error wrapping ErrPoolExhausted when
// Options.Max sessions are open, and with ErrPoolClosed after Close.
// Closing the returned Conn frees its slot. The Conn implements
// transport.RevisionSetter, transport.SessionIDer and
// transport.HeaderCarrier when the upstream Conn does (the context of a
// Send reaches the upstream Conn's Send, with its transport.WithHeaders).
func (p *Pool) Dial(ctx context.Context) (transport.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("upstream: dial: %w", err)
	}
	if err := p.admit(); err != nil {
		return nil, err
	}
	var (
		c   transport.Conn
		err error
	)
	if p.opt.Mode == Shared {
		c, err = p.dialShared(ctx)
	} else {
		c, err = p.dialSession(ctx)
	}
	if err != nil {
		p.release()
		return nil, err
	}
	return c, nil
}

// admit takes a slot for a Dial.
func (p *Pool) admit() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPoolClosed
	}
	if p.opt.Max > 0 && p.open >= p.opt.Max {
		return fmt.Errorf("%w: upstream session limit %d reached", ErrPoolExhausted, p.opt.Max)
	}
	p.open++
	return nil
}

// release frees a slot taken by admit.
func (p *Pool) release() {
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
	p.fill()
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Stats{Started: p.started.Load()}
	if p.opt.Mode == Shared {
		st.SharedClients = p.open
		if p.shared != nil && p.shared.running() {
			st.Open = 1
		}
		return st
	}
	st.Open = p.open
	for _, sp := range p.spares {
		if sp.usable() {
			st.SpareReady++
		}
	}
	return st
}

// Close stops the spares, the shared upstream and the sessions handed out
// (their Conns then fail), and returns once every child has been reaped
// and the pool's goroutines have returned. Later Dials fail with
// ErrPoolClosed. It returns the errors of closing the upstream Conns.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	spares := p.spares
	p.spares = nil
	sessions := make([]*session, 0, len(p.sessions))
	for s := range p.sessions {
		sessions = append(sessions, s)
	}
	shared := p.shared
	p.shared = nil
	if p.backoff != nil {
		p.backoff.Stop()
	}
	p.mu.Unlock()
	p.cancel()

	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	closeConn := func(c transport.Conn) {
		if err := c.Close(); err != nil && !errors.Is(err, transport.ErrClosed) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for _, sp := range spares {
		wg.Go(func() {
			<-sp.ready
			if sp.conn != nil {
				closeConn(sp.conn)
			}
		})
	}
	for _, s := range sessions {
		wg.Go(func() { closeConn(s.conn) })
	}
	if shared != nil {
		wg.Go(func() {
			<-shared.ready
			if shared.conn != nil {
				shared.fail(ErrPoolClosed)
			}
		})
	}
	wg.Wait()
	p.wg.Wait()
	return errors.Join(errs...)
}

// spawn runs f in a goroutine counted in p.wg; once the pool is closed it
// runs f in the caller's goroutine instead (Close may be waiting already).
func (p *Pool) spawn(f func()) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		f()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// closeLater closes c in the background.
func (p *Pool) closeLater(c transport.Conn, why string) {
	p.spawn(func() {
		if err := c.Close(); err != nil {
			p.log.Debug("upstream: closing a session", "why", why, "err", err)
		}
	})
}

// ---- optional interfaces ----

// expose returns c with the optional interfaces of under, as one
// wrapper that implements all of them: SessionID from under ("" when it
// has none), CarriesHeaders from under (false when it has none), SetRevision through set (under's own when set is nil; a
// no-op when neither), OpenStream through open (under's own when open is
// nil; a no-op when neither). The relay may call them on any Conn.
func expose(c, under transport.Conn, set func(schemas.Revision), open func()) transport.Conn {
	// A pointer: the relay compares Conns, and a struct with func
	// fields is not comparable.
	x := &extConn{Conn: c, set: set, open: open}
	if p, ok := c.(transport.Pusher); ok {
		x.push = p.Push
	}
	if rs, ok := under.(transport.RevisionSetter); ok && set == nil {
		x.set = rs.SetRevision
	}
	if si, ok := under.(transport.SessionIDer); ok {
		x.id = si.SessionID
	}
	if so, ok := under.(transport.StreamOpener); ok && open == nil {
		x.open = so.OpenStream
	}
	if hc, ok := under.(transport.HeaderCarrier); ok {
		x.headers = hc.CarriesHeaders
	}
	if pa, ok := under.(transport.PeerAddresser); ok {
		x.peer = pa.Peer
	}
	return x
}

// extConn is a Conn with the optional interfaces of the Conn it wraps.
type extConn struct {
	transport.Conn
	set  func(schemas.Revision)
	id   func() string
	open func()
	push func(func(transport.Message, error)) bool
	// headers reports whether the wrapped Conn's Send honours
	// transport.WithHeaders (the context reaches it unchanged).
	headers func() bool
	// peer is the wrapped Conn's transport.PeerAddresser, or nil.
	peer func() transport.Peer
}

// Peer implements transport.PeerAddresser: the wrapped Conn's peer, the
// zero Peer when it has no network peer (stdio).
func (c *extConn) Peer() transport.Peer {
	if c.peer != nil {
		return c.peer()
	}
	return transport.Peer{}
}

// CarriesHeaders implements transport.HeaderCarrier: what the wrapped Conn
// says, false when it does not say.
func (c *extConn) CarriesHeaders() bool {
	return c.headers != nil && c.headers()
}

// Push implements transport.Pusher when the wrapped Conn can push.
func (c *extConn) Push(f func(transport.Message, error)) bool {
	return c.push != nil && c.push(f)
}

// SetRevision implements transport.RevisionSetter.
func (c *extConn) SetRevision(rev schemas.Revision) {
	if c.set != nil {
		c.set(rev)
	}
}

// SessionID implements transport.SessionIDer.
func (c *extConn) SessionID() string {
	if c.id != nil {
		return c.id()
	}
	return ""
}

// OpenStream implements transport.StreamOpener.
func (c *extConn) OpenStream() {
	if c.open != nil {
		c.open()
	}
}
