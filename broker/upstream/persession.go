package upstream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// maxStash bounds what a spare may send before it is handed out; past it
// the pool stops reading (and watching) the spare, leaving the rest to the
// transport's buffers.
const maxStash = 64

// Refill delays after spares failed in a row: the first replacement is
// immediate, then firstBackoff doubling up to maxBackoff. A spare that
// lived maxBackoff or longer before dying resets the count.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 30 * time.Second
)

// spare is an upstream session started ahead of a Dial.
type spare struct {
	ready chan struct{} // closed once conn or err is set
	conn  transport.Conn
	err   error
	began time.Time // when the start returned

	// The watch reads conn while the spare waits; stop ends it and watched
	// is closed once it has returned. stash and dead are the watch's: read
	// them after watched is closed.
	stop    context.CancelFunc
	watched chan struct{}
	stash   []transport.Message
	dead    error // why the spare is unusable, when it is
}

// usable reports whether sp is started and not known to be dead.
func (sp *spare) usable() bool {
	select {
	case <-sp.ready:
	default:
		return false
	}
	if sp.err != nil {
		return false
	}
	select {
	case <-sp.watched:
		// The watch ended: the spare died, or it sent too much to keep
		// (still usable). A claimed spare is no longer listed.
		return sp.dead == nil
	default:
		return true
	}
}

// fill starts spares until Options.Spare are ready or starting, keeping the
// open sessions plus the spares within Options.Max.
func (p *Pool) fill() {
	if p.opt.Spare == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && p.backoff == nil && len(p.spares) < p.opt.Spare &&
		(p.opt.Max == 0 || p.open+len(p.spares) < p.opt.Max) {
		sp := &spare{ready: make(chan struct{})}
		p.spares = append(p.spares, sp)
		p.wg.Add(1)
		go p.startSpare(sp)
	}
}

// startSpare starts sp and watches it.
func (p *Pool) startSpare(sp *spare) {
	defer p.wg.Done()
	t0 := time.Now()
	conn, err := p.start(p.ctx)
	if err != nil {
		sp.err = err
		close(sp.ready)
		if p.ctx.Err() == nil {
			p.log.Warn("upstream: starting a spare session failed", "err", err)
		}
		p.removeSpare(sp)
		p.refillAfterFailure(0)
		return
	}
	p.started.Add(1)
	p.watchSpare(sp, conn, nil)
	close(sp.ready)
	p.log.Debug("upstream: spare session ready", "start", time.Since(t0))
}

// watchSpare sets sp up with conn (and what it already received) and
// starts its watch. sp.ready must not be closed yet, or sp must be private
// to the caller.
func (p *Pool) watchSpare(sp *spare, conn transport.Conn, stash []transport.Message) {
	ctx, stop := context.WithCancel(p.ctx)
	sp.conn, sp.stash, sp.began = conn, stash, time.Now()
	sp.stop, sp.watched = stop, make(chan struct{})
	p.wg.Add(1) // the caller is counted in p.wg or holds p.mu with the pool open
	go p.watch(ctx, sp)
}

// watch reads sp's Conn while the spare waits, keeping what it receives,
// until ctx ends (a Dial claims the spare) or the Conn fails (the spare is
// dead: it is discarded and replaced).
func (p *Pool) watch(ctx context.Context, sp *spare) {
	defer p.wg.Done()
	defer close(sp.watched)
	for len(sp.stash) < maxStash {
		m, err := sp.conn.Recv(ctx)
		switch {
		case err == nil:
			sp.stash = append(sp.stash, m)
			continue
		case ctx.Err() != nil:
			return
		case errors.Is(err, jsonrpc.ErrTooLarge):
			p.log.Warn("upstream: oversized message from a spare session dropped", "err", err)
			continue
		}
		sp.dead = err
		if p.removeSpare(sp) { // else a Dial claimed it and sees sp.dead
			lived := time.Since(sp.began)
			p.log.Warn("upstream: spare session died before use; replacing it", "err", err, "lived", lived)
			p.closeLater(sp.conn, "spare died")
			p.refillAfterFailure(lived)
		}
		return
	}
	p.log.Warn("upstream: spare session sent too many messages before initialize; no longer watched", "kept", len(sp.stash))
}

// removeSpare removes sp from the spares; it reports whether sp was there
// (the pool owned it).
func (p *Pool) removeSpare(sp *spare) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.spares {
		if x == sp {
			p.spares = append(p.spares[:i:i], p.spares[i+1:]...)
			return true
		}
	}
	return false
}

// refillAfterFailure starts a replacement after a spare failed (lived is
// how long it ran), at once the first time, later after a growing delay.
func (p *Pool) refillAfterFailure(lived time.Duration) {
	p.mu.Lock()
	if lived >= maxBackoff {
		p.failures = 0
	}
	p.failures++
	if p.closed || p.backoff != nil {
		p.mu.Unlock()
		return
	}
	if p.failures > 1 {
		d := min(firstBackoff<<min(p.failures-2, 16), maxBackoff)
		p.log.Info("upstream: spare sessions keep failing; waiting before the next", "failures", p.failures, "delay", d)
		p.backoff = time.AfterFunc(d, func() {
			p.mu.Lock()
			p.backoff = nil
			p.mu.Unlock()
			p.fill()
		})
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.fill()
}

// takeSpareLocked removes and returns the spare a Dial should use: the
// oldest ready one, else the oldest still starting, else nil.
func (p *Pool) takeSpareLocked() *spare {
	pick := -1
	for i, sp := range p.spares {
		if sp.usable() {
			pick = i
			break
		}
		select {
		case <-sp.ready:
		default:
			if pick < 0 {
				pick = i
			}
		}
	}
	if pick < 0 {
		return nil
	}
	sp := p.spares[pick]
	p.spares = append(p.spares[:pick:pick], p.spares[pick+1:]...)
	return sp
}

// dialSession returns a session of its own for one client session. The
// slot is taken.
func (p *Pool) dialSession(ctx context.Context) (transport.Conn, error) {
	conn, stash, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	s := &session{p: p, conn: conn, stash: stash}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		conn.Close()
		return nil, ErrPoolClosed
	}
	p.sessions[s] = struct{}{}
	p.mu.Unlock()
	return expose(s, conn, nil, nil), nil
}

// acquire takes a spare, or starts a session when there is none (or the
// one taken proves unusable).
func (p *Pool) acquire(ctx context.Context) (transport.Conn, []transport.Message, error) {
	p.mu.Lock()
	sp := p.takeSpareLocked()
	p.mu.Unlock()
	p.fill() // replace the spare taken, or start one after a Max wait
	if sp != nil {
		conn, stash, err := p.claim(ctx, sp)
		if err == nil {
			p.mu.Lock()
			p.failures = 0
			p.mu.Unlock()
			p.log.Debug("upstream: spare session handed out", "kept", len(stash))
			return conn, stash, nil
		}
		if ctx.Err() != nil {
			return nil, nil, err
		}
		p.log.Warn("upstream: spare session unusable; starting one", "err", err)
	}
	conn, err := p.coldStart(ctx)
	return conn, nil, err
}

// claim waits for a spare taken from the pool to be started, stops its
// watch, and returns its Conn unless it died.
func (p *Pool) claim(ctx context.Context, sp *spare) (transport.Conn, []transport.Message, error) {
	select {
	case <-sp.ready:
	case <-ctx.Done():
		// The spare stays a spare (its watch still runs): the slot the
		// Dial frees makes room for it.
		p.mu.Lock()
		keep := !p.closed && len(p.spares) < p.opt.Spare
		if keep {
			p.spares = append(p.spares, sp)
		}
		p.mu.Unlock()
		if !keep {
			p.spawn(func() {
				if <-sp.ready; sp.conn != nil {
					p.closeLater(sp.conn, "abandoned by its dial")
				}
			})
		}
		return nil, nil, fmt.Errorf("upstream: waiting for a spare session: %w", ctx.Err())
	}
	if sp.err != nil {
		return nil, nil, fmt.Errorf("upstream: start: %w", sp.err)
	}
	sp.stop()
	<-sp.watched
	if sp.dead != nil {
		p.closeLater(sp.conn, "spare died")
		return nil, nil, fmt.Errorf("upstream: spare session died before use: %w", sp.dead)
	}
	return sp.conn, sp.stash, nil
}

// coldStart starts a session for a Dial.
func (p *Pool) coldStart(ctx context.Context) (transport.Conn, error) {
	type result struct {
		conn transport.Conn
		err  error
	}
	ch := make(chan result, 1)
	p.spawn(func() {
		conn, err := p.start(p.ctx)
		if err == nil {
			p.started.Add(1)
		}
		ch <- result{conn, err}
	})
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("upstream: start: %w", r.err)
		}
		return r.conn, nil
	case <-ctx.Done():
		p.spawn(func() {
			if r := <-ch; r.conn != nil {
				p.adopt(r.conn, nil)
			}
		})
		return nil, fmt.Errorf("upstream: starting a session: %w", ctx.Err())
	}
}

// adopt keeps a started session that its Dial gave up on as a spare when
// there is room for one, else closes it.
func (p *Pool) adopt(conn transport.Conn, stash []transport.Message) {
	p.mu.Lock()
	if !p.closed && len(p.spares) < p.opt.Spare && (p.opt.Max == 0 || p.open+len(p.spares) < p.opt.Max) {
		sp := &spare{ready: make(chan struct{})}
		p.watchSpare(sp, conn, stash)
		close(sp.ready)
		p.spares = append(p.spares, sp)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.closeLater(conn, "abandoned by its dial")
}

// session is an upstream session handed out in per-session mode. Closing
// it frees its slot.
type session struct {
	p    *Pool
	conn transport.Conn

	mu     sync.Mutex
	stash  []transport.Message // received while it was a spare
	closed bool
	once   sync.Once
	err    error
}

// Recv returns what the session received as a spare first, then reads the
// upstream Conn.
func (s *session) Recv(ctx context.Context) (transport.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return transport.Message{}, transport.ErrClosed
	}
	if len(s.stash) > 0 {
		m := s.stash[0]
		s.stash = s.stash[1:]
		s.mu.Unlock()
		return m, nil
	}
	s.mu.Unlock()
	return s.conn.Recv(ctx)
}

// Push implements transport.Pusher when the upstream Conn does: what the
// session received as a spare goes to f first.
func (s *session) Push(f func(transport.Message, error)) bool {
	p, ok := s.conn.(transport.Pusher)
	if !ok {
		return false
	}
	s.mu.Lock()
	stash := s.stash
	s.stash = nil
	s.mu.Unlock()
	for _, m := range stash {
		f(m, nil)
	}
	return p.Push(f)
}

// Send sends on the upstream Conn.
func (s *session) Send(ctx context.Context, m transport.Message) error {
	return s.conn.Send(ctx, m)
}

// Close closes the upstream Conn (stopping its child) and frees the slot.
func (s *session) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.stash = nil
		s.mu.Unlock()
		s.err = s.conn.Close()
		p := s.p
		p.mu.Lock()
		delete(p.sessions, s)
		p.mu.Unlock()
		p.release()
	})
	return s.err
}
