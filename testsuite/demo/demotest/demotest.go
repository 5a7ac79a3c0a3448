// Package demotest runs the demo server for other packages' tests.
package demotest

import (
	"context"
	"net"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// Serve runs demo.ServeHTTP of revision rev with opts on a free port of
// 127.0.0.1 until tb ends, and returns its address (host:port): the MCP
// endpoint is at demo.PathMCP, the legacy SSE one (2024-11-05) at
// demo.PathSSE. An error of ServeHTTP fails tb.
func Serve(tb testing.TB, rev schemas.Revision, opts ...demo.Option) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := demo.ServeHTTP(ctx, rev, ln, opts...); err != nil {
			tb.Errorf("demo server %s: %v", rev, err)
		}
	}()
	tb.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}
