package telemetry

import (
	"context"
	"sync"
	"time"
)

// Background ending of calls.
//
// Ending a call's spans is most of tracing's cost: the SDK creates the
// INTERNAL and CLIENT spans left to the end of a SERVER call (see
// [Call.later]), de-duplicates their attributes, snapshots them and queues
// them for export, and the metrics are recorded. None of it changes what a
// peer receives, so [Call.End] leaves it to a long-lived goroutine of the
// Provider, the ender, which ends the calls in batches, with the times
// they ended at.
//
// The goroutine matters as much as the batching: the relay answers an
// upstream response on the goroutine of the HTTP exchange that carried
// it, whose stack may be new and small (one goroutine per POST, unless
// the transport reuses them: transport.Workers); the SDK's deep calls
// made that stack grow (and be copied) on every call, which cost more CPU
// than the spans themselves. The ender's stack grows once.
//
// The ender wakes every enderTick while it has work and exits after
// enderLinger idle ticks, so an idle broker (or a test that never shuts
// its Provider down) keeps no goroutine; the next End starts it again.
// When enderMaxQueue calls wait already (the goroutine cannot keep up),
// End ends its call itself, so memory stays bounded.
const (
	enderTick     = time.Millisecond
	enderLinger   = 1000
	enderMaxQueue = 4096
)

// ender ends calls in the background; its zero value is ready.
type ender struct {
	// tick and linger, when set, replace enderTick and enderLinger
	// (tests), and exited, when set, is called as the goroutine exits.
	tick   time.Duration
	linger int
	exited func()

	mu      sync.Mutex
	queue   []*Call
	spare   []*Call
	running bool
	closed  bool
	// pending counts the calls queued and not ended yet; waiters are
	// closed when it drops to zero.
	pending int
	waiters []chan struct{}
	// kick wakes the goroutine before its tick (Sync, Close).
	kick chan struct{}
}

// enqueue leaves c to the goroutine (c.result and c.at are set), and
// reports false when c is the caller's to end now: the ender is closed or
// its queue full.
func (e *ender) enqueue(c *Call) bool {
	e.mu.Lock()
	if e.closed || len(e.queue) >= enderMaxQueue {
		e.mu.Unlock()
		return false
	}
	e.queue = append(e.queue, c)
	e.pending++
	start := !e.running
	if start {
		e.running = true
		if e.kick == nil {
			e.kick = make(chan struct{}, 1)
		}
	}
	e.mu.Unlock()
	if start {
		go e.run()
	}
	return true
}

// run is the goroutine: every tick (or kick) it ends what was queued.
func (e *ender) run() {
	tick, linger := enderTick, enderLinger
	if e.tick > 0 {
		tick, linger = e.tick, e.linger
	}
	t := time.NewTimer(tick)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-t.C:
		case <-e.kick:
		}
		e.mu.Lock()
		batch := e.queue
		e.queue = e.spare[:0]
		e.spare = nil
		if len(batch) == 0 {
			e.queue = batch
			idle++
			if idle >= linger || e.closed {
				e.running = false
				e.mu.Unlock()
				if e.exited != nil {
					e.exited()
				}
				return
			}
			e.mu.Unlock()
			t.Reset(tick)
			continue
		}
		idle = 0
		e.mu.Unlock()
		for i, c := range batch {
			c.finish()
			batch[i] = nil
		}
		e.mu.Lock()
		e.spare = batch[:0]
		e.pending -= len(batch)
		if e.pending == 0 {
			for _, w := range e.waiters {
				close(w)
			}
			e.waiters = nil
		}
		e.mu.Unlock()
		t.Reset(tick)
	}
}

// sync waits until every call queued before it has ended, or ctx ends.
func (e *ender) sync(ctx context.Context) error {
	e.mu.Lock()
	if e.pending == 0 {
		e.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	e.waiters = append(e.waiters, w)
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
	select {
	case <-w:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close makes later calls end themselves and waits for the queued ones.
func (e *ender) close(ctx context.Context) error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	return e.sync(ctx)
}

// Sync waits until every call ended (with [Call.End]) before it has its
// spans ended and its metrics recorded, which End leaves to a background
// goroutine, or until ctx ends. Tests call it before they read a metric
// reader; a span recorder can simply be waited on.
func (p *Provider) Sync(ctx context.Context) error {
	if p == nil || p.ends == nil {
		return nil
	}
	return p.ends.sync(ctx)
}
