package transport

import "time"

// Workers runs functions on goroutines that it keeps, idle, for reuse: the
// POST exchanges of the Streamable HTTP clients ([ClientOptions.Workers]).
//
// An exchange goroutine does more than wait for a response: the broker's
// relay handles the upstream's answer on it (see [Pusher]), validating,
// translating and answering the client, which grows a new goroutine's
// small stack (and copies it) on every exchange. A reused goroutine's
// stack has grown already (until a garbage collection shrinks an idle
// one). Share one Workers between the Conns of a process: it holds no
// goroutine per session, only as many as exchanges ran at once, each
// exiting after being idle for the duration given to NewWorkers.
//
// A nil *Workers runs each function on a new goroutine.
type Workers struct {
	jobs chan func() // unbuffered: a send succeeds only when a goroutine waits
	idle time.Duration
	// exited, when set, is called as a goroutine exits (tests).
	exited func()
}

// NewWorkers returns Workers whose goroutines exit after idle without
// work.
func NewWorkers(idle time.Duration) *Workers {
	return &Workers{jobs: make(chan func()), idle: idle}
}

// Go runs f on an idle goroutine of w, or on a new one when none waits.
func (w *Workers) Go(f func()) {
	if w == nil {
		go f()
		return
	}
	select {
	case w.jobs <- f:
	default:
		go w.work(f)
	}
}

// work runs f, then the functions handed to it, until it has been idle
// for w.idle.
func (w *Workers) work(f func()) {
	t := time.NewTimer(w.idle)
	defer t.Stop()
	for {
		f()
		t.Reset(w.idle)
		select {
		case f = <-w.jobs:
		case <-t.C:
			if w.exited != nil {
				w.exited()
			}
			return
		}
	}
}
