package testsuite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// TestServeEndToEnd runs the real binary: `mcpbroker serve` in front of
// each legacy revision of the demo server (a child process over stdio),
// with strict fixture clients of each legacy revision over real HTTP on
// 127.0.0.1 (Streamable HTTP; legacy HTTP+SSE for 2024-11-05 clients).
// The default upstream (no flag) is the built-in 2024-11-05 demo, which
// is what the README's run command serves.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := brokerproc.Build(t)
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, sr := range legacy {
		args := []string{"--upstream-cmd", bin + " demo-server --revision " + sr.String()}
		name := "server-" + sr.String()
		if sr == schemas.V20241105 {
			args, name = nil, "server-builtin-demo-2024-11-05"
		}
		t.Run(name, func(t *testing.T) {
			addr := brokerproc.Serve(t, bin, nil, args...)
			type client struct {
				rev  schemas.Revision
				kind string
			}
			clients := []client{{schemas.V20241105, "sse"}}
			for _, cr := range legacy[1:] {
				clients = append(clients, client{cr, "streamable-http"})
			}
			clients = append(clients, client{schemas.V20241105, "streamable-http"})
			for _, cl := range clients {
				t.Run(fmt.Sprintf("client-%s-%s", cl.rev, cl.kind), func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					var conn transport.Conn
					var err error
					if cl.kind == "sse" {
						conn, err = transport.DialSSE(ctx, "http://"+addr+"/sse", nil)
					} else {
						conn, err = transport.DialHTTP(ctx, "http://"+addr+"/mcp", nil)
					}
					if err != nil {
						t.Fatal(err)
					}
					c, err := fixture.NewClient(cl.rev, conn, fixture.WithValidator(v), fixture.WithSamplingText("from the client"))
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					init, err := c.Initialize(ctx)
					if err != nil {
						t.Fatalf("initialize: %v", err)
					}
					if init.ProtocolVersion != cl.rev.String() {
						t.Fatalf("protocolVersion %s, want %s", init.ProtocolVersion, cl.rev)
					}
					if res := mustTool(t, ctx, c, "echo", map[string]any{"text": "over the wire"}); !strings.Contains(res.Text(), "over the wire") {
						t.Errorf("echo: %q", res.Text())
					}
					mustTool(t, ctx, c, "content", map[string]any{})
					if res := mustTool(t, ctx, c, "sample", map[string]any{"prompt": "x"}); !strings.Contains(res.Text(), "from the client") {
						t.Errorf("sample: %q", res.Text())
					}
					mustCall(t, ctx, c, "resources/read", map[string]any{"uri": "demo://static/readme"}, nil)
					mustCall(t, ctx, c, "prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ada"}}, nil)
					mustCall(t, ctx, c, "ping", nil, nil)
					if vs := c.Violations(); len(vs) > 0 {
						t.Errorf("client saw invalid messages: %v", vs)
					}
				})
			}
		})
	}
}
