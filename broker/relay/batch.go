package relay

import (
	"encoding/json"
	"sync"
)

// batch gathers the responses to the requests of one client batch
// (2025-03-26, REVISIONS.md 1.L1 and 2.T1) into the one array the client
// expects. Responses arrive from the client loop (local answers), the
// upstream loop and timers, in any order.
type batch struct {
	mu      sync.Mutex
	first   json.RawMessage // id of the first request, for Message.Related
	want    int             // responses still expected, plus those gathered
	got     [][]byte
	sealed  bool // every element has been handled
	flushed bool
	// sink, when set, takes every response instead and nothing is sent to
	// the client: the batch stands for the upstream call of a task, whose
	// outcome the broker keeps (REVISIONS.md 4.M5, tasks.go).
	sink func(resp []byte)
}

// expect registers an element that will be answered (a request, or an
// invalid element answered with an error).
func (b *batch) expect(id json.RawMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.want++
	if b.first == nil && len(id) > 0 {
		b.first = id
	}
}

// done records the response to one expected element; nil means it gets
// none (cancelled). It returns the array to send when it is complete.
func (b *batch) done(resp []byte) []byte {
	if b.sink != nil {
		if resp != nil {
			b.sink(resp)
		}
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if resp == nil {
		b.want--
	} else {
		b.got = append(b.got, resp)
	}
	return b.flushLocked()
}

// seal marks the end of the batch's elements. It returns the array to send
// when every response is already there.
func (b *batch) seal() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sealed = true
	return b.flushLocked()
}

// related returns the id the array is sent as related to.
func (b *batch) related() json.RawMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.first
}

func (b *batch) flushLocked() []byte {
	if !b.sealed || b.flushed || len(b.got) < b.want || len(b.got) == 0 {
		return nil
	}
	b.flushed = true
	n := 1
	for _, r := range b.got {
		n += len(r) + 1
	}
	arr := make([]byte, 0, n)
	arr = append(arr, '[')
	for i, r := range b.got {
		if i > 0 {
			arr = append(arr, ',')
		}
		arr = append(arr, r...)
	}
	b.got = nil
	return append(arr, ']')
}
