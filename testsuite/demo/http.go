package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// Paths of the HTTP endpoints ServeHTTP serves.
const (
	// PathMCP is the Streamable HTTP endpoint.
	PathMCP = "/mcp"
	// PathSSE is the legacy HTTP+SSE stream (2024-11-05 only).
	PathSSE = "/sse"
	// PathMessages is the legacy HTTP+SSE message endpoint (2024-11-05
	// only).
	PathMessages = "/messages"
	// PathHealth answers 200 while the server runs.
	PathHealth = "/healthz"
)

// shutdownTimeout bounds how long ServeHTTP waits for HTTP connections to
// finish once its sessions are closed.
const shutdownTimeout = 5 * time.Second

// ServeHTTP serves sessions of revision rev over HTTP on ln until ctx ends,
// then closes every session and returns nil. It closes ln.
//
// Every revision gets the Streamable HTTP transport at [PathMCP].
// Streamable HTTP appeared in 2025-03-26; a 2024-11-05 server offers it
// too, which is harmless (a client of 2024-11-05 that tries it first and
// gets an answer simply uses it) and lets the broker's Streamable HTTP
// upstream be tested against every revision. 2024-11-05, whose own
// transport is the legacy HTTP+SSE one, also gets that transport: the SSE
// stream at [PathSSE], whose endpoint event points at [PathMessages].
// [PathHealth] answers 200.
//
// 2026-07-28 has no sessions: it gets the stateless Streamable HTTP
// transport of its revision at [PathMCP] (POST only; every POST is one
// independent request, answered as JSON or as an SSE stream of its own;
// mirrored headers checked; see http26.go for the rules), served by one
// Server built with opts, and [PathHealth]. Stopping ends the open
// subscriptions/listen streams with a SubscriptionsListenResult first.
//
// Up to 2025-11-25, each session is served by [Server.Serve] of one
// Server built with opts, so every session has its own state. Once the server has answered
// initialize, the session's Conn gets the revision (SetRevision), so that
// later requests are checked for their MCP-Protocol-Version header. The
// server logs "demo-server listening" with the address (addr) once it
// accepts connections.
func ServeHTTP(ctx context.Context, rev schemas.Revision, ln net.Listener, opts ...Option) error {
	s, err := New(rev, opts...)
	if err != nil {
		ln.Close()
		return err
	}
	if rev.Stateless() {
		return serveHTTPStateless(ctx, s, ln)
	}
	hs := transport.NewHTTPServer(&transport.HTTPServerOptions{Logger: s.log, BindHeaders: s.bindHeaders()})
	mux := http.NewServeMux()
	mux.Handle(PathMCP, hs)
	mux.HandleFunc(PathHealth, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	accepts := []func(context.Context) (transport.Conn, error){hs.Accept}
	closers := []func() error{hs.Close}
	addr := ln.Addr().String()
	attrs := []any{"addr", addr, "revision", rev.String(), "streamable_http", "http://" + addr + PathMCP}
	if rev == schemas.V20241105 {
		ss := transport.NewSSEServer(&transport.SSEServerOptions{Endpoint: PathMessages, Logger: s.log, BindHeaders: s.bindHeaders()})
		mux.Handle(PathSSE, ss)
		mux.Handle(PathMessages, ss)
		accepts = append(accepts, ss.Accept)
		closers = append(closers, ss.Close)
		attrs = append(attrs, "legacy_sse", "http://"+addr+PathSSE)
	}

	// Sessions outlive the requests that open them: they end when their
	// client goes away or when ServeHTTP closes them.
	sessCtx, stopSessions := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSessions()
	var sessions sync.WaitGroup
	for _, accept := range accepts {
		sessions.Go(func() {
			for {
				conn, err := accept(sessCtx)
				if err != nil {
					return
				}
				sessions.Go(func() {
					defer conn.Close()
					if err := s.Serve(sessCtx, conn); err != nil && !errors.Is(err, context.Canceled) {
						s.log.Warn("demo session failed", "err", err)
					}
				})
			}
		})
	}

	srv := &http.Server{Handler: s.protect(mux, addr), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("demo-server listening", attrs...)
	select {
	case err = <-serveErr:
		err = fmt.Errorf("demo: serve HTTP: %w", err)
	case <-ctx.Done():
	}
	// Close the sessions first: that ends their streams, which would
	// otherwise keep Shutdown waiting.
	for _, c := range closers {
		c()
	}
	stopSessions()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		srv.Close()
	}
	sessions.Wait()
	s.log.Info("demo-server stopped", "addr", addr)
	return err
}
