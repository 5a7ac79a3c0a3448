package sealed

import (
	"container/heap"
	"sync"
	"sync/atomic"
)

// replayID identifies a token: its key id and nonce.
type replayID [keyIDSize + nonceSize]byte

// replaySet remembers the ids of opened tokens until their expiry, at most
// capacity of them. It is a map for membership plus a min-heap on expiry,
// so that expired ids are dropped cheaply and, when the set is full, the
// id dropped early is the one whose token expires soonest (the smallest
// remaining replay window). Unlike an LRU on a wall-clock TTL, it follows
// the Sealer's clock and each token's own expiry, and runs no goroutine.
type replaySet struct {
	capacity  int
	evictions atomic.Uint64

	mu   sync.Mutex
	ids  map[replayID]struct{}
	heap expiryHeap
}

// newReplaySet returns an empty set bounded by capacity (> 0).
func newReplaySet(capacity int) *replaySet {
	return &replaySet{capacity: capacity, ids: make(map[replayID]struct{})}
}

// add records id, valid until exp (Unix ms), at time now. It reports
// whether id was new (false: a replay) and whether a live id had to be
// dropped to make room.
func (r *replaySet) add(id replayID, exp, now int64) (added, evicted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.ids[id]; ok {
		return false, false
	}
	for len(r.heap) > 0 && r.heap[0].exp <= now {
		delete(r.ids, heap.Pop(&r.heap).(expiring).id)
	}
	if len(r.heap) >= r.capacity {
		delete(r.ids, heap.Pop(&r.heap).(expiring).id)
		r.evictions.Add(1)
		evicted = true
	}
	r.ids[id] = struct{}{}
	heap.Push(&r.heap, expiring{exp: exp, id: id})
	return true, evicted
}

// len returns the number of ids remembered.
func (r *replaySet) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.heap)
}

// expiring is an id in the heap with its expiry.
type expiring struct {
	exp int64
	id  replayID
}

// expiryHeap is a min-heap of ids on expiry, for container/heap.
type expiryHeap []expiring

// Len returns the number of ids; for container/heap.
func (h expiryHeap) Len() int { return len(h) }

// Less orders ids by expiry; for container/heap.
func (h expiryHeap) Less(i, j int) bool { return h[i].exp < h[j].exp }

// Swap swaps two ids; for container/heap.
func (h expiryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push appends x (an expiring); for container/heap.
func (h *expiryHeap) Push(x any) { *h = append(*h, x.(expiring)) }

// Pop removes the last element; for container/heap.
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
