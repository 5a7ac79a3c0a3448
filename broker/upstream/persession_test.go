package upstream

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"per-session", PerSession, false},
		{"shared", Shared, false},
		{"", 0, true},
		{"Shared", 0, true},
	} {
		got, err := ParseMode(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	start := func(context.Context) (transport.Conn, error) { return nil, errors.New("unused") }
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"negative max", Options{Max: -1}, "negative session limit"},
		{"negative spare", Options{Spare: -1}, "negative spare"},
		{"negative queue", Options{Queue: -1}, "negative queue"},
		{"spares beyond max", Options{Max: 1, Spare: 2}, "exceed the session limit"},
		{"unknown mode", Options{Mode: 7}, "unknown mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(start, tc.opts)
			if err == nil {
				p.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	// Shared mode ignores Spare, whatever Max says.
	p, err := New(start, Options{Mode: Shared, Max: 1, Spare: 3})
	if err != nil {
		t.Fatalf("New shared with spares: %v", err)
	}
	p.Close()
}

// TestSpareHandOut shows that a Dial with a spare ready starts no process
// itself: the replacement's start is held at a gate while Dial returns, and
// the session handed out is alive.
func TestSpareHandOut(t *testing.T) {
	gate, entered := make(chan struct{}), make(chan int64, 4)
	s := &starter{mode: "server", gate: func(ctx context.Context, n int64) error {
		if n == 1 {
			return nil // the first spare
		}
		entered <- n
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	p, logs := newPool(t, s.start, Options{Spare: 1})
	logs.wait(t, "spare session ready", 1)
	if st := p.Stats(); st.SpareReady != 1 || st.Started != 1 || st.Open != 0 {
		t.Fatalf("after New: %+v, want 1 spare ready, 1 started", st)
	}

	c1 := dial(t, p) // returns while the replacement's start is held at the gate
	select {
	case n := <-entered:
		if n != 2 {
			t.Errorf("start %d at the gate, want 2 (the replacement)", n)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no replacement spare was started")
	}
	if st := p.Stats(); st.Open != 1 || st.SpareReady != 0 || st.Started != 1 {
		t.Errorf("after the first Dial: %+v, want 1 open, no spare ready, 1 started", st)
	}
	if d := initialize(t, c1, 1, "2025-06-18"); d.Result.ProtocolVersion != "2025-06-18" {
		t.Errorf("initialize result %+v", d.Result)
	}

	close(gate)
	logs.wait(t, "spare session ready", 2)
	c2 := dial(t, p)
	initialize(t, c2, 1, "2025-06-18")
	if st := p.Stats(); st.Open != 2 || st.Started < 2 {
		t.Errorf("after the second Dial: %+v, want 2 open", st)
	}
	_, _, pid1 := stats(t, c1, 2)
	_, _, pid2 := stats(t, c2, 2)
	if pid1 == pid2 {
		t.Errorf("both sessions talk to process %d", pid1)
	}
}

// TestMax checks the cap: Dial fails at once with ErrPoolExhausted when Max
// sessions are open, closing one frees its slot, and spares never take the
// pool beyond Max processes.
func TestMax(t *testing.T) {
	for _, spare := range []int{0, 1, 2} {
		t.Run("spare="+strconv.Itoa(spare), func(t *testing.T) {
			const max = 2
			s := &starter{mode: "server"}
			p, logs := newPool(t, s.start, Options{Max: max, Spare: spare})
			if spare > 0 {
				logs.wait(t, "spare session ready", 1)
			}
			a := dial(t, p)
			dial(t, p)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			t0 := time.Now()
			_, err := p.Dial(ctx)
			if !errors.Is(err, ErrPoolExhausted) {
				t.Fatalf("third Dial: %v, want ErrPoolExhausted", err)
			}
			if !strings.Contains(err.Error(), "upstream session limit 2 reached") {
				t.Errorf("third Dial error %q does not name the limit", err)
			}
			if d := time.Since(t0); d > time.Second {
				t.Errorf("exhausted Dial took %v", d)
			}
			if st := p.Stats(); st.Open != max || st.SpareReady != 0 {
				t.Errorf("at the limit: %+v", st)
			}
			if err := a.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if st := p.Stats(); st.Open != max-1 {
				t.Errorf("after a Close: %+v, want %d open", st, max-1)
			}
			c := dial(t, p)
			initialize(t, c, 1, "2025-06-18")
			if peak := s.peak.Load(); peak > max {
				t.Errorf("%d processes ran at once, want at most %d", peak, max)
			}
		})
	}
}

// TestDeadSpare: a spare whose process exits while it waits is not handed
// out; the next Dial gets a live session.
func TestDeadSpare(t *testing.T) {
	s := &starter{modes: func(n int64) string {
		if n == 1 {
			return "die"
		}
		return "server"
	}}
	p, logs := newPool(t, s.start, Options{Spare: 1})
	logs.wait(t, "spare session died before use", 1)
	c := dial(t, p)
	initialize(t, c, 1, "2025-06-18") // fails if c is the dead one
	first := s.all()[0]
	select {
	case <-first.closed:
	case <-time.After(waitTimeout):
		t.Error("the dead spare was not closed")
	}
	if st := p.Stats(); st.Started < 2 || st.Open != 1 {
		t.Errorf("stats %+v, want at least 2 started, 1 open", st)
	}
}

// TestDyingSparesBackOff: spares that keep dying are replaced after a
// growing delay, not in a tight loop.
func TestDyingSparesBackOff(t *testing.T) {
	s := &starter{mode: "die"}
	p, logs := newPool(t, s.start, Options{Spare: 1})
	logs.wait(t, "spare sessions keep failing; waiting before the next", 1)
	logs.wait(t, "spare session died before use", 2)
	if n := s.calls.Load(); n > 4 {
		t.Errorf("%d starts right after the failures began", n)
	}
	// A Dial still works: it starts a session (which dies too).
	c := dial(t, p)
	if err := recvErr(t, c); !isEOF(err) {
		t.Errorf("Recv of a dying session: %v, want io.EOF", err)
	}
}

// TestSpareKeepsEarlyMessages: what a spare sends before it is handed out
// reaches the session's Recv first.
func TestSpareKeepsEarlyMessages(t *testing.T) {
	s := &starter{mode: "chatty"}
	p, logs := newPool(t, s.start, Options{Spare: 1})
	logs.wait(t, "spare session ready", 1)
	select {
	case <-s.all()[0].received: // the watch read the hello
	case <-time.After(waitTimeout):
		t.Fatal("the spare's hello was not read")
	}
	c := dial(t, p)
	if d := decode(t, recv(t, c)); d.Method != "notifications/message" || d.Params.Data != "hello before initialize" {
		t.Errorf("first message %+v, want the hello", d)
	}
	initialize(t, c, 1, "2025-06-18")
}

// TestLoudSpare: a spare that sends more than the pool keeps is no longer
// watched but still handed out, and nothing it sent is lost.
func TestLoudSpare(t *testing.T) {
	s := &starter{mode: "loud"}
	p, logs := newPool(t, s.start, Options{Spare: 1})
	logs.wait(t, "no longer watched", 1)
	if st := p.Stats(); st.SpareReady != 1 {
		t.Errorf("stats %+v, want the loud spare ready", st)
	}
	c := dial(t, p)
	for i := range maxStash + 6 {
		if d := decode(t, recv(t, c)); d.Params.Data != "early "+strconv.Itoa(i) {
			t.Fatalf("message %d: %+v", i, d)
		}
	}
	initialize(t, c, 1, "2025-06-18")
}

// TestDialGivesUp: a Dial whose context ends while the session starts
// frees its slot; the session started is kept as a spare when there is
// room, else closed.
func TestDialGivesUp(t *testing.T) {
	for _, spare := range []int{0, 1} {
		t.Run("spare="+strconv.Itoa(spare), func(t *testing.T) {
			gate, entered := make(chan struct{}), make(chan struct{}, 1)
			s := &starter{mode: "server", started: make(chan *countedConn, 4), gate: func(ctx context.Context, n int64) error {
				select {
				case entered <- struct{}{}:
				default:
				}
				select {
				case <-gate:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
			p, _ := newPool(t, s.start, Options{Max: 1, Spare: spare})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := p.Dial(ctx)
				done <- err
			}()
			<-entered // a start is under way: the spare's, or the Dial's own
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Dial: %v, want context.Canceled", err)
			}
			if st := p.Stats(); st.Open != 0 {
				t.Errorf("after the abandoned Dial: %+v, want nothing open", st)
			}
			close(gate)
			if spare == 0 {
				select {
				case cc := <-s.started:
					select {
					case <-cc.closed:
					case <-time.After(waitTimeout):
						t.Fatal("the abandoned session was not closed")
					}
				case <-time.After(waitTimeout):
					t.Fatal("the session was not started")
				}
				return
			}
			c := dial(t, p)
			initialize(t, c, 1, "2025-06-18")
			if n := s.calls.Load(); n != 1 {
				t.Errorf("%d starts, want 1: the abandoned start becomes the spare", n)
			}
		})
	}
}

// TestCloseStopsAll: Close stops the spares and the sessions handed out,
// and later Dials fail.
func TestCloseStopsAll(t *testing.T) {
	s := &starter{mode: "server"}
	p, err := New(s.start, Options{Spare: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	initialize(t, c, 1, "2025-06-18")
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for i, cc := range s.all() {
		select {
		case <-cc.closed:
		default:
			t.Errorf("process %d still open after Close", i)
		}
	}
	if s.live.Load() != 0 {
		t.Errorf("%d processes live after Close", s.live.Load())
	}
	if _, err := p.Dial(context.Background()); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Dial after Close: %v, want ErrPoolClosed", err)
	}
	if _, err := c.Recv(context.Background()); err == nil {
		t.Error("Recv on a session after the pool closed succeeded")
	}
	c.Close()
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
