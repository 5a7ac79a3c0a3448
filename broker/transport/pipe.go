package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// PipeConn is one end of an in-memory connection made by [Pipe]. It is safe
// for concurrent use.
type PipeConn struct {
	in, out   *fifo
	done      chan struct{}
	closeOnce sync.Once
}

var _ Conn = (*PipeConn)(nil)

// Pipe returns the two ends of an in-memory connection: what one end sends
// the other receives, in order. Buffering is unbounded, so Send never
// blocks: two peers that send to each other from their receive loops
// cannot deadlock. Each message is copied, so senders may reuse their
// buffers.
//
// The broker uses it to run a relay session for a client that lives in the
// broker itself (a pooled legacy session serving 2026-07-28 clients).
//
// Closing an end makes its own Recv and Send fail with [ErrClosed]; the
// other end receives what was already sent and then io.EOF, and its Send
// fails.
func Pipe() (*PipeConn, *PipeConn) {
	ab, ba := newFIFO(), newFIFO()
	a := &PipeConn{in: ba, out: ab, done: make(chan struct{})}
	b := &PipeConn{in: ab, out: ba, done: make(chan struct{})}
	return a, b
}

// Recv returns the next message sent by the other end.
func (c *PipeConn) Recv(ctx context.Context) (Message, error) {
	return c.in.pop(ctx, c.done)
}

// Send delivers a copy of m to the other end.
func (c *PipeConn) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	m.Raw = bytes.Clone(m.Raw)
	m.Related = bytes.Clone(m.Related)
	return c.out.push(m)
}

// Close closes this end. It always returns nil.
func (c *PipeConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.out.close(io.EOF)
		c.in.close(fmt.Errorf("%w: the other end is gone (%w)", ErrClosed, io.EOF))
	})
	return nil
}

// fifo is an unbounded queue of messages, safe for several producers and
// consumers.
type fifo struct {
	mu     sync.Mutex
	items  []Message
	err    error         // set by close: returned once items are drained
	signal chan struct{} // holds a token while items is non-empty or closed
}

func newFIFO() *fifo { return &fifo{signal: make(chan struct{}, 1)} }

// push appends m. It fails with the close error once the queue is closed.
func (q *fifo) push(m Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.items = append(q.items, m)
	q.notify()
	return nil
}

// pop returns the next message, waiting for one. After close it drains the
// queue, then returns the error given to close. It returns ErrClosed as
// soon as done is closed (the consumer's own end was closed).
func (q *fifo) pop(ctx context.Context, done <-chan struct{}) (Message, error) {
	for {
		select {
		case <-done:
			return Message{}, ErrClosed
		default:
		}
		q.mu.Lock()
		if len(q.items) > 0 {
			m := q.items[0]
			q.items[0] = Message{}
			q.items = q.items[1:]
			if len(q.items) > 0 {
				q.notify() // wake another consumer
			}
			q.mu.Unlock()
			return m, nil
		}
		if err := q.err; err != nil {
			q.notify()
			q.mu.Unlock()
			return Message{}, err
		}
		q.mu.Unlock()
		select {
		case <-q.signal:
		case <-done:
			return Message{}, ErrClosed
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// close makes later pushes fail and pops return err once drained. Only the
// first call has an effect.
func (q *fifo) close(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
		q.notify()
	}
}

// notify leaves a token in signal if there is none. q.mu is held.
func (q *fifo) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}
