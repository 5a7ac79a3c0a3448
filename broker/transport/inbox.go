package transport

import (
	"context"
	"sync"
	"sync/atomic"
)

// item is one entry of an inbox: a frame, or a non-fatal error that Recv
// returns in its place.
type item struct {
	msg Message
	err error
}

// inbox is the queue between the goroutines that read from a peer and
// Conn.Recv. It is bounded: put blocks while it is full.
type inbox struct {
	ch   chan item
	done chan struct{} // closed by finish
	once sync.Once
	err  error // why the inbox ended; read only after done is closed
	drop bool  // discard queued items after finish (Close)

	// push, once set (setPush), receives every item instead of the
	// channel, and the end error after finish.
	pmu     sync.Mutex
	push    func(Message, error)
	hasPush atomic.Bool
	pushEnd sync.Once // the end error goes to push once
}

// setPush makes the inbox hand every item to f, in the putting goroutine,
// instead of queueing it for recv; items already queued go first, and f
// gets the end error once finish is called (not for drop). It is meant to
// be called before the peer can send anything.
func (q *inbox) setPush(f func(Message, error)) {
	q.pmu.Lock()
	q.push = f
	q.hasPush.Store(true)
	q.pmu.Unlock()
	q.drainToPush()
	if q.ended() && !q.drop {
		q.pushEnd.Do(func() { f(Message{}, q.err) })
	}
}

// drainToPush hands the queued items to push.
func (q *inbox) drainToPush() {
	q.pmu.Lock()
	defer q.pmu.Unlock()
	for {
		select {
		case it := <-q.ch:
			q.push(it.msg, it.err)
		default:
			return
		}
	}
}

// newInbox returns an inbox holding up to n items.
func newInbox(n int) *inbox {
	return &inbox{ch: make(chan item, n), done: make(chan struct{})}
}

// put queues it, waiting for room. It fails with ctx's error or, once the
// inbox has ended, with the inbox's end error.
func (q *inbox) put(ctx context.Context, it item) error {
	select {
	case <-q.done:
		return q.err
	default:
	}
	if q.hasPush.Load() {
		q.pmu.Lock()
		f := q.push
		q.pmu.Unlock()
		f(it.msg, it.err)
		return nil
	}
	select {
	case q.ch <- it:
		if q.hasPush.Load() {
			q.drainToPush() // setPush ran while this put was queueing
		}
		return nil
	case <-q.done:
		return q.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish ends the inbox with err, which Recv returns once the items queued
// so far are taken (or at once when drop is set). Only the first call has
// an effect; it reports whether it was that call.
func (q *inbox) finish(err error, drop bool) bool {
	first := false
	q.once.Do(func() {
		q.err, q.drop = err, drop
		close(q.done)
		first = true
	})
	if first && !drop && q.hasPush.Load() {
		q.drainToPush()
		q.pmu.Lock()
		f := q.push
		q.pmu.Unlock()
		q.pushEnd.Do(func() { f(Message{}, err) })
	}
	return first
}

// ended reports whether finish was called.
func (q *inbox) ended() bool {
	select {
	case <-q.done:
		return true
	default:
		return false
	}
}

// recv returns the next item, the end error once the inbox has ended and is
// drained, or ctx's error.
func (q *inbox) recv(ctx context.Context) (Message, error) {
	if q.ended() && q.drop {
		return Message{}, q.err
	}
	select {
	case it := <-q.ch:
		return it.msg, it.err
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-q.done:
		if !q.drop {
			select {
			case it := <-q.ch:
				return it.msg, it.err
			default:
			}
		}
		return Message{}, q.err
	}
}

// serverQueue is how many received frames a client-facing session holds
// ahead of the relay's Recv. Senders (HTTP handlers) wait while it is
// full; a small queue keeps an idle session small (each slot is 64 bytes,
// allocated with the session).
const serverQueue = 8
