package transport

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"time"
)

// goid returns the id of the calling goroutine, from its stack header.
func goid() string {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	return string(b[:bytes.IndexByte(b, ' ')])
}

// TestWorkersReuse: a function handed to Workers while one of its
// goroutines waits runs on that goroutine.
func TestWorkersReuse(t *testing.T) {
	w := NewWorkers(time.Minute)
	first := make(chan string)
	w.Go(func() { first <- goid() })
	id := <-first
	second := make(chan string)
	// Blocks until the goroutine that ran the first function waits for
	// work again (the only one there is), as Go's send would find it.
	w.jobs <- func() { second <- goid() }
	if got := <-second; got != id {
		t.Errorf("second function ran on goroutine %s, want the first's %s", got, id)
	}
}

// TestWorkersConcurrent: functions handed over while every goroutine is
// busy get new goroutines, so they all run at once; a nil Workers runs
// them too.
func TestWorkersConcurrent(t *testing.T) {
	for _, w := range []*Workers{NewWorkers(time.Minute), nil} {
		const n = 8
		var started sync.WaitGroup
		started.Add(n)
		release := make(chan struct{})
		done := make(chan struct{}, n)
		for range n {
			w.Go(func() {
				started.Done()
				<-release // held until all n run at once
				done <- struct{}{}
			})
		}
		started.Wait()
		close(release)
		for range n {
			<-done
		}
	}
}

// TestWorkersIdleExit: a goroutine idle for longer than the Workers'
// idle time exits, and the next function gets a new goroutine.
func TestWorkersIdleExit(t *testing.T) {
	w := NewWorkers(time.Millisecond)
	exited := make(chan struct{}, 1)
	w.exited = func() { exited <- struct{}{} }
	ids := make(chan string, 1)
	w.Go(func() { ids <- goid() })
	first := <-ids
	<-exited
	w.Go(func() { ids <- goid() })
	if id := <-ids; id == first {
		t.Errorf("a function ran on goroutine %s, which had exited", id)
	}
	<-exited
}
