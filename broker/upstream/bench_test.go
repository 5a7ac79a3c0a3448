package upstream

import (
	"context"
	"testing"
)

// BenchmarkDial measures how long a client session waits for its upstream
// session in per-session mode, started cold or handed out as a spare:
// "dial" is Dial alone (a cold start forks and execs the child; a spare is
// handed out), "first-answer" is Dial plus the initialize round trip (a
// cold child must also start up before it answers). The server is the
// helper ("ready", a Go binary that starts in a few milliseconds) or the
// helper working 100ms first ("slowstart", like a runtime loading its
// modules); both say "ready" once they serve, so that the benchmark hands
// out warm spares, as a pool does when clients do not arrive back to back.
// The timer stops while a spare warms up and while a session closes.
func BenchmarkDial(b *testing.B) {
	for _, server := range []string{"ready", "slowstart"} {
		for _, spare := range []int{0, 1} {
			for _, answer := range []bool{false, true} {
				name := server + "/cold"
				if spare > 0 {
					name = server + "/spare"
				}
				if answer {
					name += "/first-answer"
				} else {
					name += "/dial"
				}
				b.Run(name, func(b *testing.B) {
					s := &starter{mode: server, started: make(chan *countedConn, 1024)}
					p, _ := newPool(b, s.start, Options{Spare: spare})
					ctx := context.Background()
					for b.Loop() {
						if spare > 0 {
							b.StopTimer()
							<-(<-s.started).received // the spare's watch read its "ready"
							b.StartTimer()
						}
						c, err := p.Dial(ctx)
						if err != nil {
							b.Fatal(err)
						}
						if answer {
							send(b, c, initRequest("1", "2025-06-18"))
							recvResponse(b, c, func(msg) {})
						}
						b.StopTimer()
						c.Close()
						b.StartTimer()
					}
				})
			}
		}
	}
}
