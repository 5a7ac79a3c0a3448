// Package session keeps the client sessions of a server transport in a
// bounded registry with idle expiry, built on the expirable LRU of
// github.com/hashicorp/golang-lru/v2.
//
// A [Registry] maps session ids to sessions. It bounds their number
// (evicting the least recently used one when a new session would exceed
// the limit), ends sessions that stay idle for the idle TTL, and never ends
// a session that reports itself busy except to make room at the limit.
// Ending a session is the owner's job: the Registry calls
// [Options.OnEnd], and the owner tears the session down.
package session

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// DefaultMaxSessions is the session limit of a Registry whose options set
// none.
const DefaultMaxSessions = 10000

// MinIdleTTL is the shortest idle TTL a Registry uses: a shorter positive
// one is raised to it. The LRU sweeps for expired sessions every TTL/100,
// so a tiny TTL would keep its sweeper busy.
const MinIdleTTL = 10 * time.Millisecond

// maxBusySkips bounds how many busy sessions at the least recently used
// end Add passes over before it evicts one anyway.
const maxBusySkips = 32

// ErrClosed is returned by [Registry.Add] once the registry is closed.
var ErrClosed = errors.New("session: registry closed")

// ErrDuplicate is returned, wrapped, by [Registry.Add] for an id that is
// already registered.
var ErrDuplicate = errors.New("session: id already registered")

// Reason says why a Registry ended a session.
type Reason int

// The reasons a Registry ends a session for.
const (
	// Evicted: a new session would have exceeded the session limit and
	// this one was the least recently used.
	Evicted Reason = iota + 1
	// Expired: the session stayed idle (not busy, not looked up) for the
	// idle TTL.
	Expired
	// Closed: the registry was closed.
	Closed
)

// String returns the reason in words.
func (r Reason) String() string {
	switch r {
	case Evicted:
		return "evicted"
	case Expired:
		return "expired"
	case Closed:
		return "closed"
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Options configures a [Registry]. The zero value is usable.
type Options[S any] struct {
	// MaxSessions bounds the number of sessions. Zero (or less) means
	// [DefaultMaxSessions].
	MaxSessions int
	// IdleTTL ends a session that has not been looked up with Get or
	// touched for that long while not busy. Zero (or less) means
	// sessions never expire. A positive value under [MinIdleTTL] is
	// raised to it.
	IdleTTL time.Duration
	// Busy reports whether a session has work in flight (a request being
	// served, an open stream); a busy session does not expire, and is the
	// last choice for eviction. It is called with the Registry's lock
	// held, so it must be quick and must not call the Registry. Nil
	// means sessions are never busy.
	Busy func(s S) bool
	// OnEnd is called, with no lock of the Registry held, when the
	// Registry ends a session (it is then no longer registered): from
	// Add's caller for Evicted, from a Registry goroutine or a lookup for
	// Expired, from Close's caller for Closed. It is not called for
	// [Registry.Remove]. It may call the Registry. Nil means nothing is
	// called.
	OnEnd func(id string, s S, why Reason)
	// Logger receives the Warn line of each eviction. Nil means
	// [slog.Default].
	Logger *slog.Logger
}

// Registry is a bounded, expiring set of sessions keyed by id, safe for
// concurrent use.
//
// The sessions live in an expirable.LRU. Its recency order picks the
// session to evict; its TTL and background sweep find idle sessions. A
// touch (Add, Get, Touch) moves a session to the most recently used end
// and restarts its TTL. The sweep runs every TTL/100 and removes a
// session within about TTL/100 after its TTL ran out; a lookup of a
// session past its TTL that is not busy already treats it as expired.
// When the sweep removes a busy session, the Registry puts it back with a
// fresh TTL instead of ending it.
//
// The LRU calls back under its own lock, so the Registry never ends a
// session from the callback: expired sessions go to a queue that a
// goroutine of the Registry drains, and evictions happen in Add itself.
// Next to the LRU the Registry keeps a map of the registered sessions, so
// that a busy session the sweep has just removed is still found until it
// is put back.
//
// Close stops the Registry's goroutine and drops every session. The LRU's
// own sweep goroutine (only started when IdleTTL is positive) cannot be
// stopped in golang-lru v2.0.7 (hashicorp/golang-lru#159): after Close it
// keeps ticking, holding only the emptied LRU.
type Registry[S any] struct {
	max    int
	ttl    time.Duration // 0: no expiry
	busy   func(S) bool
	onEnd  func(string, S, Reason)
	logger *slog.Logger
	lru    *expirable.LRU[string, *entry[S]]

	// expired receives what the LRU's sweep removed; nil when ttl is 0.
	expired *queue[S]
	stop    chan struct{} // closed by Close to stop the drain goroutine
	stopped chan struct{} // closed when the drain goroutine has returned

	mu     sync.Mutex
	items  map[string]*entry[S] // registered sessions; a superset of the LRU's keys
	closed bool
}

// entry is a registered session.
type entry[S any] struct {
	s       S
	touched time.Time   // last touch; guarded by Registry.mu
	gone    atomic.Bool // set when the Registry let go of the entry itself
}

// New returns a Registry configured by opts. When opts.IdleTTL is
// positive it starts goroutines: call Close when done with the Registry.
func New[S any](opts Options[S]) *Registry[S] {
	r := &Registry[S]{
		max:    opts.MaxSessions,
		ttl:    max(opts.IdleTTL, 0),
		busy:   opts.Busy,
		onEnd:  opts.OnEnd,
		logger: opts.Logger,
		items:  make(map[string]*entry[S]),
	}
	if r.max <= 0 {
		r.max = DefaultMaxSessions
	}
	if r.ttl > 0 && r.ttl < MinIdleTTL {
		r.ttl = MinIdleTTL
	}
	if r.busy == nil {
		r.busy = func(S) bool { return false }
	}
	if r.onEnd == nil {
		r.onEnd = func(string, S, Reason) {}
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	var onEvict expirable.EvictCallback[string, *entry[S]]
	if r.ttl > 0 {
		// The callback holds only the queue, not the Registry, since the
		// LRU's sweep goroutine never ends and keeps the LRU reachable.
		q := &queue[S]{wake: make(chan struct{}, 1)}
		r.expired = q
		onEvict = func(id string, e *entry[S]) {
			if !e.gone.Load() {
				q.push(id, e)
			}
		}
		r.stop = make(chan struct{})
		r.stopped = make(chan struct{})
		go r.drain()
	}
	// The Registry evicts before the LRU would (Add makes room first), so
	// the LRU's own size limit is only a backstop.
	r.lru = expirable.NewLRU(r.max, onEvict, r.ttl)
	return r
}

// Add registers s under id as the most recently used session. When the
// Registry is full it first evicts the least recently used session that
// is not busy among the oldest few (else the least recently used one),
// logs a Warn line naming it and calls OnEnd with Evicted. It fails with
// [ErrClosed] after Close and [ErrDuplicate] when id is registered.
func (r *Registry[S]) Add(id string, s S) error {
	now := time.Now()
	var ended []ending[S]
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if r.items[id] != nil {
		r.mu.Unlock()
		return fmt.Errorf("session: add %s: %w", id, ErrDuplicate)
	}
	for skips := 0; len(r.items) >= r.max; {
		vid, v, ok := r.lru.GetOldest()
		if !ok {
			break // all the others are queued as expired; they end shortly
		}
		if skips < maxBusySkips && r.busy(v.s) {
			skips++
			r.touchLocked(vid, v, now)
			continue
		}
		why := Evicted
		if r.idleExpired(v, now) {
			why = Expired
		}
		r.dropLocked(vid, v)
		ended = append(ended, ending[S]{vid, v.s, why})
	}
	e := &entry[S]{s: s}
	r.items[id] = e
	r.touchLocked(id, e, now)
	r.mu.Unlock()
	for _, x := range ended {
		if x.why == Evicted {
			r.logger.Warn("session: evicted: session limit "+strconv.Itoa(r.max)+" reached", "session", x.id)
		}
		r.onEnd(x.id, x.s, x.why)
	}
	return nil
}

// Get returns the session registered under id and touches it: it becomes
// the most recently used and its idle TTL restarts. A session past its
// idle TTL that is not busy is ended (OnEnd with Expired) and reported
// missing.
func (r *Registry[S]) Get(id string) (S, bool) {
	return r.lookup(id, true)
}

// Peek is Get without the touch: the session's recency and TTL do not
// change. A session past its idle TTL that is not busy is ended and
// reported missing, as with Get.
func (r *Registry[S]) Peek(id string) (S, bool) {
	return r.lookup(id, false)
}

// lookup implements Get and Peek.
func (r *Registry[S]) lookup(id string, touch bool) (S, bool) {
	now := time.Now()
	r.mu.Lock()
	e := r.items[id]
	if e == nil {
		r.mu.Unlock()
		var zero S
		return zero, false
	}
	if r.idleExpired(e, now) {
		r.dropLocked(id, e)
		r.mu.Unlock()
		r.onEnd(id, e.s, Expired)
		var zero S
		return zero, false
	}
	if touch {
		r.touchLocked(id, e, now)
	}
	r.mu.Unlock()
	return e.s, true
}

// Touch touches the session registered under id, even when it is past its
// idle TTL (use it when the session has just been busy). It reports
// whether id is registered.
func (r *Registry[S]) Touch(id string) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.items[id]
	if e == nil {
		return false
	}
	r.touchLocked(id, e, now)
	return true
}

// Remove unregisters the session under id without calling OnEnd, and
// returns it: the caller ends it. It reports false when id is not
// registered.
func (r *Registry[S]) Remove(id string) (S, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.items[id]
	if e == nil {
		var zero S
		return zero, false
	}
	r.dropLocked(id, e)
	return e.s, true
}

// Len returns the number of registered sessions.
func (r *Registry[S]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.items)
}

// Close unregisters every session, calls OnEnd with Closed for each, and
// stops the Registry's goroutine; Add then fails with ErrClosed. Only the
// first call has an effect.
func (r *Registry[S]) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	items := r.items
	r.items = make(map[string]*entry[S])
	for _, e := range items {
		e.gone.Store(true)
	}
	r.lru.Purge()
	r.mu.Unlock()
	if r.expired != nil {
		r.expired.close()
		close(r.stop)
		<-r.stopped
	}
	for id, e := range items {
		r.onEnd(id, e.s, Closed)
	}
}

// touchLocked makes e the most recently used and restarts its TTL, putting
// it back in the LRU if the sweep removed it. r.mu must be held.
func (r *Registry[S]) touchLocked(id string, e *entry[S], now time.Time) {
	e.touched = now
	r.lru.Add(id, e)
}

// dropLocked unregisters e. r.mu must be held.
func (r *Registry[S]) dropLocked(id string, e *entry[S]) {
	delete(r.items, id)
	e.gone.Store(true)
	r.lru.Remove(id)
}

// idleExpired reports whether e is past its idle TTL and not busy. r.mu
// must be held.
func (r *Registry[S]) idleExpired(e *entry[S], now time.Time) bool {
	return r.ttl > 0 && now.Sub(e.touched) >= r.ttl && !r.busy(e.s)
}

// drain ends or puts back the sessions the LRU's sweep removed, until
// Close.
func (r *Registry[S]) drain() {
	defer close(r.stopped)
	for {
		select {
		case <-r.expired.wake:
		case <-r.stop:
			return
		}
		for _, x := range r.expired.take() {
			r.expire(x.id, x.e)
		}
	}
}

// expire handles a session the LRU's sweep removed: unless it was touched
// or removed since, a busy session is put back with a fresh TTL and an
// idle one is ended.
func (r *Registry[S]) expire(id string, e *entry[S]) {
	r.mu.Lock()
	if r.items[id] != e || r.lru.Contains(id) {
		r.mu.Unlock()
		return
	}
	if r.busy(e.s) {
		r.touchLocked(id, e, time.Now())
		r.mu.Unlock()
		return
	}
	r.dropLocked(id, e)
	r.mu.Unlock()
	r.onEnd(id, e.s, Expired)
}

// ending is a session to hand to OnEnd once the lock is released.
type ending[S any] struct {
	id  string
	s   S
	why Reason
}

// queue is the unbounded hand-off from the LRU's eviction callback, which
// runs under the LRU's lock and so must not block, to Registry.drain.
type queue[S any] struct {
	wake chan struct{} // capacity 1: signalled after a push

	mu     sync.Mutex
	items  []expiry[S]
	closed bool
}

// expiry is an entry the LRU removed.
type expiry[S any] struct {
	id string
	e  *entry[S]
}

// push queues an entry and wakes the drain goroutine.
func (q *queue[S]) push(id string, e *entry[S]) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, expiry[S]{id, e})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns and clears what is queued.
func (q *queue[S]) take() []expiry[S] {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// close drops what is queued and makes push a no-op.
func (q *queue[S]) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.mu.Unlock()
}
