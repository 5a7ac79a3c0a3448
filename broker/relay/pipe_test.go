package relay

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/mcpbroker/mcpbroker/broker/transport"
)

// queue is one direction of an in-memory pipe: an unbounded FIFO, so that
// Send never blocks (like a transport with buffers) and the two directions
// never wait on each other.
type queue struct {
	mu     sync.Mutex
	items  []transport.Message
	closed bool
	ready  chan struct{} // has a token while items is non-empty or closed
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) push(m transport.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return transport.ErrClosed
	}
	q.items = append(q.items, m)
	q.signal()
	return nil
}

func (q *queue) pop(ctx context.Context) (transport.Message, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			m := q.items[0]
			q.items = q.items[1:]
			if len(q.items) > 0 || q.closed {
				q.signal()
			}
			q.mu.Unlock()
			return m, nil
		}
		if q.closed {
			q.signal()
			q.mu.Unlock()
			return transport.Message{}, io.EOF
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return transport.Message{}, ctx.Err()
		}
	}
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}

// memConn is one end of an in-memory transport.Conn pair.
type memConn struct {
	in, out *queue
	once    sync.Once
}

// newPipe returns two connected Conns. Closing either end makes the other
// end's Recv return io.EOF once it has drained what was sent.
func newPipe() (a, b *memConn) {
	ab, ba := newQueue(), newQueue()
	return &memConn{in: ba, out: ab}, &memConn{in: ab, out: ba}
}

func (c *memConn) Recv(ctx context.Context) (transport.Message, error) {
	m, err := c.in.pop(ctx)
	if err != nil && err != io.EOF && err != ctx.Err() {
		err = fmt.Errorf("memconn: %w", err)
	}
	return m, err
}

func (c *memConn) Send(ctx context.Context, m transport.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.out.push(m)
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		c.out.close()
		c.in.close()
	})
	return nil
}

var _ transport.Conn = (*memConn)(nil)
