package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// Production defaults of `mcpbroker serve` that shape the HTTP server
// (cmd/mcpbroker/serve.go): --max-message-size and --session-idle-ttl.
const (
	serveMaxMessage  = 4 << 20
	serveIdleTimeout = 30 * time.Minute
)

// validator is the schema validator shared by every server of the
// package; building one compiles every schema.
var validator = sync.OnceValues(schemas.NewValidator)

// discard is the logger of every component: serve logs at info level, and
// nothing the relay or the transports log per message is above debug.
var discard = slog.New(slog.DiscardHandler)

// gauge is a count that goroutines can wait for without polling.
type gauge struct {
	mu   sync.Mutex
	n    int
	wake chan struct{} // closed and replaced when n changes
}

// add changes the count by d and returns the new count.
func (g *gauge) add(d int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n += d
	g.notifyLocked()
	return g.n
}

func (g *gauge) notifyLocked() {
	if g.wake != nil {
		close(g.wake)
	}
	g.wake = make(chan struct{})
}

// value returns the count.
func (g *gauge) value() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// wait waits until the count is n.
func (g *gauge) wait(ctx context.Context, n int) error {
	for {
		g.mu.Lock()
		if g.wake == nil {
			g.wake = make(chan struct{})
		}
		have, wake := g.n, g.wake
		g.mu.Unlock()
		if have == n {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("waiting for a count of %d (now %d): %w", n, have, ctx.Err())
		}
	}
}

// endpoint is a Streamable HTTP MCP endpoint on 127.0.0.1: an http.Server
// with a transport.HTTPServer at /mcp and an accept loop that serves each
// session in its own goroutine, as serveHTTP does.
type endpoint struct {
	// URL is the MCP endpoint, http://127.0.0.1:PORT/mcp.
	URL string
	// gets counts the GET requests being served (standalone SSE streams),
	// so that a benchmark can wait for the streams the broker opens
	// upstream without sleeping.
	gets gauge
	// conns counts the open client connections.
	conns gauge

	hs       *transport.HTTPServer
	srv      *http.Server
	cancel   context.CancelFunc
	accepted chan struct{} // closed when the accept loop ends
	served   chan error    // the result of srv.Serve
	sessions sync.WaitGroup

	mu   sync.Mutex
	errs []error // unexpected errors of session goroutines
}

// profileLabel is the pprof label whose value says which part of the
// benchmark a goroutine belongs to: "client", "broker" or "demo", so that
// a CPU profile can be split with -tagfocus, e.g.
//
//	go tool pprof -tagfocus part=broker bench.test cpu.out
const profileLabel = "part"

// listenEndpoint starts an endpoint that serves serve for every session,
// until stop. serve's ctx ends at stop. Its goroutines (connections,
// sessions and what they start) carry the pprof label part=label. onGET,
// when not nil, is called with +1 when a GET request begins and -1 when it
// ends.
func listenEndpoint(label string, serve func(ctx context.Context, conn transport.Conn) error, onGET func(delta int)) (*endpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	e := &endpoint{
		URL: "http://" + ln.Addr().String() + "/mcp",
		hs: transport.NewHTTPServer(&transport.HTTPServerOptions{
			MaxBodySize: serveMaxMessage,
			IdleTimeout: serveIdleTimeout,
			Logger:      discard,
		}),
		accepted: make(chan struct{}),
		served:   make(chan error, 1),
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			e.gets.add(1)
			if onGET != nil {
				onGET(1)
			}
			defer func() {
				e.gets.add(-1)
				if onGET != nil {
					onGET(-1)
				}
			}()
		}
		e.hs.ServeHTTP(w, r)
	}))
	e.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				e.conns.add(1)
			case http.StateClosed, http.StateHijacked:
				e.conns.add(-1)
			}
		},
	}

	var ctx context.Context
	ctx, e.cancel = context.WithCancel(pprof.WithLabels(context.Background(), pprof.Labels(profileLabel, label)))
	go func() {
		pprof.SetGoroutineLabels(ctx)
		defer close(e.accepted)
		for {
			conn, err := e.hs.Accept(ctx)
			if err != nil {
				return
			}
			e.sessions.Add(1)
			go func() {
				defer e.sessions.Done()
				defer conn.Close()
				if err := serve(ctx, conn); err != nil && ctx.Err() == nil {
					e.mu.Lock()
					e.errs = append(e.errs, err)
					e.mu.Unlock()
				}
			}()
		}
	}()
	go func() {
		pprof.SetGoroutineLabels(ctx) // inherited by every connection's goroutine
		e.served <- e.srv.Serve(ln)
	}()
	return e, nil
}

// stop ends every session, then the server, and returns the unexpected
// errors of the sessions and of the server.
func (e *endpoint) stop() error {
	e.cancel()
	<-e.accepted
	e.hs.Close()
	e.sessions.Wait()
	e.srv.Close()
	errs := []error{}
	if err := <-e.served; !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("%s: serve: %w", e.URL, err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.errs {
		errs = append(errs, fmt.Errorf("%s: session: %w", e.URL, err))
	}
	return errors.Join(errs...)
}

// startEndpoint starts an endpoint (see listenEndpoint) that stops when tb
// ends.
func startEndpoint(tb testing.TB, label string, serve func(ctx context.Context, conn transport.Conn) error) *endpoint {
	tb.Helper()
	e, err := listenEndpoint(label, serve, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.stop(); err != nil {
			tb.Error(err)
		}
	})
	return e
}

// startDemo starts a demo server of revision rev behind its own endpoint,
// with the demo's defaults (strict: it validates every message it receives
// and sends) and the shared validator.
func startDemo(tb testing.TB, rev schemas.Revision) *endpoint {
	tb.Helper()
	v, err := validator()
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := demo.New(rev, demo.WithValidator(v))
	if err != nil {
		tb.Fatal(err)
	}
	return startEndpoint(tb, "demo", srv.Serve)
}

// brokerOptions varies the broker's wiring away from production, for
// diagnostics.
type brokerOptions struct {
	// noUpstreamGET keeps the upstream Conns from opening the standalone
	// GET stream (transport.ClientOptions.DisableGET, which serve does
	// not set).
	noUpstreamGET bool
	// telemetry is relay.Config.Telemetry (nil: off).
	telemetry *telemetry.Provider
}

// startBroker starts a broker in front of the Streamable HTTP endpoint
// upstreamURL, wired as serveHTTP wires `mcpbroker serve --upstream-url`:
// relay.Run per accepted session with the production validation modes
// (client strict, server warn), a shared validator and transport.DialHTTP
// with the default HTTP client.
func startBroker(tb testing.TB, upstreamURL string, opts brokerOptions) *endpoint {
	tb.Helper()
	serve, err := brokerServe(upstreamURL, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return startEndpoint(tb, "broker", serve)
}

// brokerServe is the per-session function of a broker in front of
// upstreamURL (see startBroker).
func brokerServe(upstreamURL string, opts brokerOptions) (func(context.Context, transport.Conn) error, error) {
	v, err := validator()
	if err != nil {
		return nil, err
	}
	cfg := relay.Config{Validator: v, Logger: discard, ClientValidation: relay.Strict, ServerValidation: relay.Warn, Telemetry: opts.telemetry}
	// LazyGET and Workers as serve sets them: the upstream GET stream
	// opens when the client opens its own; the POST exchanges run on
	// reused goroutines.
	copts := &transport.ClientOptions{Logger: discard, DisableGET: opts.noUpstreamGET, LazyGET: true, Workers: transport.NewWorkers(30 * time.Second)}
	dial := func(ctx context.Context) (transport.Conn, error) {
		return transport.DialHTTP(ctx, upstreamURL, copts)
	}
	return func(ctx context.Context, conn transport.Conn) error {
		return relay.Run(ctx, conn, dial, cfg)
	}, nil
}

// env is the full set of servers of the latency benchmarks: a demo server
// of each revision and a broker in front of each.
type env struct {
	demo25, demo24     *endpoint // demo servers, 2025-11-25 and 2024-11-05
	broker25, broker24 *endpoint // brokers in front of them
}

// newEnv starts the servers of an env until tb ends. Brokers are cleaned
// up before the demos they front, so that their upstream DELETEs succeed.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{demo25: startDemo(tb, schemas.V20251125), demo24: startDemo(tb, schemas.V20241105)}
	e.broker25 = startBroker(tb, e.demo25.URL, brokerOptions{})
	e.broker24 = startBroker(tb, e.demo24.URL, brokerOptions{})
	return e
}

// path is one way from the client to a demo server.
type path struct {
	name string
	url  string
	rev  schemas.Revision // the client's revision
}

// Paths of the latency benchmarks.
func (e *env) direct25() path {
	return path{"direct/2025-11-25", e.demo25.URL, schemas.V20251125}
}

func (e *env) direct24() path {
	return path{"direct/2024-11-05", e.demo24.URL, schemas.V20241105}
}

func (e *env) brokerSame() path {
	return path{"broker/same-2025-11-25", e.broker25.URL, schemas.V20251125}
}

func (e *env) brokerTranslated() path {
	return path{"broker/translated-2025-11-25-to-2024-11-05", e.broker24.URL, schemas.V20251125}
}
