package transport

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// BenchmarkIdleSessionMemory measures the heap held by an idle Streamable
// HTTP session (transport state and registry entry, no relay), creating
// sessions with initialize POSTs served in-process.
func BenchmarkIdleSessionMemory(b *testing.B) {
	const n = 5000
	var perSession float64
	for b.Loop() {
		srv := NewHTTPServer(&HTTPServerOptions{IdleTimeout: time.Hour})
		accepted := make(chan struct{})
		go func() {
			defer close(accepted)
			ctx := context.Background()
			for {
				c, err := srv.Accept(ctx)
				if err != nil {
					return
				}
				m, err := c.Recv(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				req, err := jsonrpc.Parse(m.Raw)
				if err != nil {
					b.Error(err)
					return
				}
				id := req.ID
				c.Send(ctx, Message{Raw: fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%s,"result":{}}`, id), Related: id})
			}
		}()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(initReq))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer benchmark")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Header().Get(HeaderSessionID) == "" {
				b.Fatalf("initialize: %d %s", w.Code, w.Body)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSession = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		if got := srv.sessions.Len(); got != n {
			b.Fatalf("%d sessions registered, want %d", got, n)
		}
		srv.Close()
		<-accepted
	}
	b.ReportMetric(perSession, "B/session")
}
