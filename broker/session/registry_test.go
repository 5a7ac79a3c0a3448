package session

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fake is a session for the tests.
type fake struct {
	busy atomic.Bool
}

// ended is one OnEnd call.
type ended struct {
	id  string
	why Reason
}

// recorder collects OnEnd calls and Busy calls of a Registry.
type recorder struct {
	ends      chan ended
	busyCalls chan string // the session ids Busy was asked about (dropped when full)
	mu        sync.Mutex
	ids       map[*fake]string
}

// newRegistry returns a Registry over fakes whose OnEnd and Busy calls rec
// records, closed at cleanup.
func newRegistry(t *testing.T, opts Options[*fake]) (*Registry[*fake], *recorder) {
	t.Helper()
	rec := &recorder{ends: make(chan ended, 1024), busyCalls: make(chan string, 1), ids: make(map[*fake]string)}
	opts.OnEnd = func(id string, _ *fake, why Reason) { rec.ends <- ended{id, why} }
	opts.Busy = func(s *fake) bool {
		rec.mu.Lock()
		id := rec.ids[s]
		rec.mu.Unlock()
		select {
		case rec.busyCalls <- id:
		default:
		}
		return s.busy.Load()
	}
	r := New(opts)
	t.Cleanup(r.Close)
	return r, rec
}

// add registers a new fake under id.
func (rec *recorder) add(t *testing.T, r *Registry[*fake], id string) *fake {
	t.Helper()
	s := &fake{}
	rec.mu.Lock()
	rec.ids[s] = id
	rec.mu.Unlock()
	if err := r.Add(id, s); err != nil {
		t.Fatalf("Add(%s): %v", id, err)
	}
	return s
}

// next waits for the next OnEnd call.
func (rec *recorder) next(t *testing.T) ended {
	t.Helper()
	select {
	case e := <-rec.ends:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no session ended")
		return ended{}
	}
}

// none checks that no OnEnd call is recorded.
func (rec *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-rec.ends:
		t.Fatalf("unexpected end of %s (%v)", e.id, e.why)
	default:
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRegistryEviction(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		ops     []string // "+id" adds, "id" touches with Get, "~id" peeks, "*id" makes busy
		evicted []string // the sessions evicted, in order
	}{
		{"oldest goes", 2, []string{"+a", "+b", "+c"}, []string{"a"}},
		{"Get makes recent", 2, []string{"+a", "+b", "a", "+c"}, []string{"b"}},
		{"Peek does not", 2, []string{"+a", "+b", "~a", "+c"}, []string{"a"}},
		{"busy is skipped", 3, []string{"+a", "+b", "+c", "*a", "+d"}, []string{"b"}},
		{"all busy: oldest goes anyway", 2, []string{"+a", "+b", "*a", "*b", "+c"}, []string{"a"}},
		{"two over time", 1, []string{"+a", "+b", "+c"}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			r, rec := newRegistry(t, Options[*fake]{MaxSessions: tt.max, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			sessions := make(map[string]*fake)
			for _, op := range tt.ops {
				switch op[0] {
				case '+':
					sessions[op[1:]] = rec.add(t, r, op[1:])
				case '~':
					r.Peek(op[1:])
				case '*':
					sessions[op[1:]].busy.Store(true)
				default:
					r.Get(op)
				}
			}
			for _, id := range tt.evicted {
				if e := rec.next(t); e.id != id || e.why != Evicted {
					t.Errorf("ended %s (%v), want %s evicted", e.id, e.why, id)
				}
				if _, ok := r.Peek(id); ok {
					t.Errorf("evicted %s still registered", id)
				}
				want := fmt.Sprintf(`level=WARN msg="session: evicted: session limit %d reached" session=%s`, tt.max, id)
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log %q lacks %q", logs.String(), want)
				}
			}
			rec.none(t)
			if n := r.Len(); n != tt.max {
				t.Errorf("Len() = %d, want %d", n, tt.max)
			}
		})
	}
}

func TestRegistryIdleExpiry(t *testing.T) {
	const ttl = 50 * time.Millisecond
	r, rec := newRegistry(t, Options[*fake]{IdleTTL: ttl})
	start := time.Now()
	rec.add(t, r, "a")
	e := rec.next(t)
	if e.id != "a" || e.why != Expired {
		t.Fatalf("ended %s (%v), want a expired", e.id, e.why)
	}
	if d := time.Since(start); d < ttl {
		t.Errorf("expired after %v, before the TTL %v", d, ttl)
	}
	if _, ok := r.Get("a"); ok || r.Len() != 0 {
		t.Error("expired session still registered")
	}
}

// TestRegistryTouchKeepsAlive touches a while b, added later, expires:
// a has outlived its TTL by then and is still there.
func TestRegistryTouchKeepsAlive(t *testing.T) {
	const ttl = 200 * time.Millisecond // generous: a touch late by a TTL fails
	r, rec := newRegistry(t, Options[*fake]{IdleTTL: ttl})
	rec.add(t, r, "a")
	start := time.Now()
	rec.add(t, r, "b")
	tick := time.NewTicker(ttl / 10)
	defer tick.Stop()
	for {
		select {
		case e := <-rec.ends:
			if e.id != "b" {
				t.Fatalf("ended %s (%v), want b", e.id, e.why)
			}
			if time.Since(start) < ttl {
				t.Errorf("b expired before its TTL")
			}
			if _, ok := r.Peek("a"); !ok {
				t.Error("touched session a is gone")
			}
			return
		case <-tick.C:
			if _, ok := r.Get("a"); !ok {
				t.Fatal("touched session a expired")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("b did not expire")
		}
	}
}

// TestRegistryBusyDoesNotExpire waits for the sweep to find a busy
// session expired three times (it asks Busy each time and puts it back),
// then lets the session go idle, and it expires.
func TestRegistryBusyDoesNotExpire(t *testing.T) {
	const ttl = 30 * time.Millisecond
	r, rec := newRegistry(t, Options[*fake]{IdleTTL: ttl})
	s := &fake{}
	s.busy.Store(true)
	rec.mu.Lock()
	rec.ids[s] = "a"
	rec.mu.Unlock()
	if err := r.Add("a", s); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 3 {
		select {
		case <-rec.busyCalls:
		case e := <-rec.ends:
			t.Fatalf("busy session ended (%v)", e.why)
		case <-time.After(10 * time.Second):
			t.Fatal("the sweep never looked at the busy session")
		}
	}
	if d := time.Since(start); d < 2*ttl {
		t.Errorf("three sweeps in %v, under 2×TTL", d)
	}
	if _, ok := r.Peek("a"); !ok {
		t.Fatal("busy session not registered")
	}
	rec.none(t)
	s.busy.Store(false)
	r.Touch("a") // what a transport does when the last request ends
	if e := rec.next(t); e.id != "a" || e.why != Expired {
		t.Errorf("ended %s (%v), want a expired", e.id, e.why)
	}
}

func TestRegistryRemove(t *testing.T) {
	r, rec := newRegistry(t, Options[*fake]{IdleTTL: MinIdleTTL})
	s := rec.add(t, r, "a")
	got, ok := r.Remove("a")
	if !ok || got != s {
		t.Fatalf("Remove = %p, %v", got, ok)
	}
	if _, ok := r.Remove("a"); ok {
		t.Error("second Remove found the session")
	}
	if r.Touch("a") {
		t.Error("Touch found a removed session")
	}
	// Another session expiring proves the sweep ran past a's TTL.
	rec.add(t, r, "b")
	if e := rec.next(t); e.id != "b" {
		t.Errorf("ended %s (%v), want b", e.id, e.why)
	}
	rec.none(t)
}

func TestRegistryClose(t *testing.T) {
	r, rec := newRegistry(t, Options[*fake]{IdleTTL: time.Hour})
	rec.add(t, r, "a")
	rec.add(t, r, "b")
	r.Close()
	got := map[string]Reason{}
	for range 2 {
		e := rec.next(t)
		got[e.id] = e.why
	}
	if got["a"] != Closed || got["b"] != Closed {
		t.Errorf("ends %v, want a and b closed", got)
	}
	if err := r.Add("c", &fake{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
	if r.Len() != 0 {
		t.Errorf("Len after Close = %d", r.Len())
	}
	select {
	case <-r.stopped:
	default:
		t.Error("Close returned before the drain goroutine")
	}
	r.Close()
	rec.none(t)
}

func TestRegistryDuplicate(t *testing.T) {
	r, rec := newRegistry(t, Options[*fake]{})
	rec.add(t, r, "a")
	if err := r.Add("a", &fake{}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second Add = %v, want ErrDuplicate", err)
	}
}

func TestRegistryNoTTLNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	r := New(Options[*fake]{})
	defer r.Close()
	if after := runtime.NumGoroutine(); after != before {
		t.Errorf("goroutines %d -> %d for a registry without TTL", before, after)
	}
	if r.expired != nil {
		t.Error("expiry queue without TTL")
	}
}

func TestReasonString(t *testing.T) {
	tests := []struct {
		r    Reason
		want string
	}{{Evicted, "evicted"}, {Expired, "expired"}, {Closed, "closed"}, {Reason(9), "Reason(9)"}}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%d.String() = %q, want %q", int(tt.r), got, tt.want)
		}
	}
}

// TestRegistryConcurrent hammers a small registry with a short TTL and
// checks that no session ends twice, or after the caller removed it.
func TestRegistryConcurrent(t *testing.T) {
	var (
		mu      sync.Mutex
		endedBy = map[string]Reason{}
		removed = map[string]bool{}
	)
	r := New(Options[*fake]{
		MaxSessions: 8,
		IdleTTL:     MinIdleTTL,
		Busy:        func(s *fake) bool { return s.busy.Load() },
		OnEnd: func(id string, _ *fake, why Reason) {
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := endedBy[id]; dup {
				t.Errorf("%s ended twice (%v, %v)", id, prev, why)
			}
			if removed[id] {
				t.Errorf("%s ended (%v) after Remove", id, why)
			}
			endedBy[id] = why
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range 2000 {
				id := fmt.Sprintf("%d-%d", w, i)
				s := &fake{}
				s.busy.Store(rng.IntN(4) == 0)
				if err := r.Add(id, s); err != nil {
					t.Error(err)
					return
				}
				old := fmt.Sprintf("%d-%d", w, rng.IntN(i+1))
				switch rng.IntN(3) {
				case 0:
					r.Get(old)
				case 1:
					r.Touch(old)
				case 2:
					mu.Lock()
					if _, ok := r.Remove(old); ok {
						removed[old] = true
					}
					mu.Unlock()
				}
				if i%200 == 0 {
					time.Sleep(MinIdleTTL / 4) // let the sweep run
				}
			}
		})
	}
	wg.Wait()
	r.Close()
	if n := r.Len(); n != 0 {
		t.Errorf("Len after Close = %d", n)
	}
}

// BenchmarkRegistryGet measures a lookup that touches (Get) among 10000
// registered sessions with an idle TTL.
func BenchmarkRegistryGet(b *testing.B) {
	r := New(Options[*fake]{IdleTTL: 30 * time.Minute})
	b.Cleanup(r.Close)
	ids := make([]string, DefaultMaxSessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("session-%05d", i)
		if err := r.Add(ids[i], &fake{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := r.Get(ids[i%len(ids)]); !ok {
			b.Fatal("miss")
		}
		i++
	}
}

// BenchmarkRegistryGetParallel is BenchmarkRegistryGet from GOMAXPROCS
// goroutines.
func BenchmarkRegistryGetParallel(b *testing.B) {
	r := New(Options[*fake]{IdleTTL: 30 * time.Minute})
	b.Cleanup(r.Close)
	ids := make([]string, DefaultMaxSessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("session-%05d", i)
		if err := r.Add(ids[i], &fake{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(ids))
		for pb.Next() {
			if _, ok := r.Get(ids[i%len(ids)]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// BenchmarkRegistryMemory measures the heap a registered session costs the
// Registry (its map entry, its LRU entry and expiry bucket slot), for
// 26-character ids like the transports'.
func BenchmarkRegistryMemory(b *testing.B) {
	const n = 10000
	var perSession float64
	for b.Loop() {
		ids := make([]string, n)
		sessions := make([]*fake, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%026d", i)
			sessions[i] = &fake{}
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := New(Options[*fake]{IdleTTL: time.Hour})
		for i, id := range ids {
			if err := r.Add(id, sessions[i]); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSession = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		r.Close()
		runtime.KeepAlive(ids)
		runtime.KeepAlive(sessions)
	}
	b.ReportMetric(perSession, "B/session")
}
