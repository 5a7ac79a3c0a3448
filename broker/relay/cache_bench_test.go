package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/cache"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// autoServer26 is a scripted 2026-07-28 server: it answers
// server/discover and every other request with result, and counts the
// requests other than server/discover in *n.
func autoServer26(ctx context.Context, conn transport.Conn, result string, n *int) error {
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		msg, err := jsonrpc.Parse(m.Raw)
		if err != nil {
			return err
		}
		if msg.Kind != jsonrpc.KindRequest {
			continue
		}
		out := append([]byte(`{"jsonrpc":"2.0","id":`), msg.ID...)
		if msg.Method == methodDiscover {
			out = append(out, `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private"}}`...)
		} else {
			*n++
			out = append(out, `,"result":`...)
			out = append(out, result...)
			out = append(out, '}')
		}
		if err := conn.Send(ctx, transport.Message{Raw: out}); err != nil {
			return err
		}
	}
}

// BenchmarkCacheToolsList measures a legacy client's tools/list (20
// tools) toward a 2026-07-28 server over the in-memory pipe, with the
// response cache (every request after the first is a hit) and without
// (every request goes to the server). With a real server the miss also
// pays the network and the server's own work.
func BenchmarkCacheToolsList(b *testing.B) {
	var tools []string
	for i := range 20 {
		tools = append(tools, fmt.Sprintf(`{"name":"tool%d","title":"Tool %d","description":"does thing %d","inputSchema":{"type":"object","properties":{"x":{"type":"string"}}}}`, i, i, i))
	}
	result := withHints(`{"resultType":"complete","tools":[`+strings.Join(tools, ",")+`],`+serverInfo26+`}`, "60000", "public")
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cache=%t", cached), func(b *testing.B) {
			cfg := Config{Validator: testValidator(b), UpstreamRevision: schemas.V20260728, Logger: slog.New(slog.DiscardHandler)}
			var c *cache.Cache
			if cached {
				c = cache.New(cache.Options{})
				cfg.Cache = c
			}
			h := start(b, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			srv := make(chan error, 1)
			var upstream int
			go func() { srv <- autoServer26(ctx, h.server.conn, result, &upstream) }()
			h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
			h.client.recv()
			req := transport.Message{Raw: []byte(`{"jsonrpc":"2.0","id":"l","method":"tools/list","params":{}}`)}
			loopCalls(b, ctx, h, req, func(raw []byte) bool { return strings.Contains(string(raw), `"tool19"`) })
			b.StopTimer()
			cancel()
			if err := <-srv; err != nil {
				b.Errorf("server: %v", err)
			}
			if cached && upstream != 1 {
				b.Errorf("with the cache, %d tools/list reached the server, want 1", upstream)
			}
		})
	}
}
