package demo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// rawSession starts a demo server and returns the other end of its
// connection, for tests that write frames by hand.
func rawSession(t *testing.T, rev schemas.Revision) (context.Context, transport.Conn) {
	t.Helper()
	srv, err := demo.New(rev, demo.WithValidator(sharedValidator(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	sconn, cconn := fixture.Pipe()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), sconn) }()
	t.Cleanup(func() {
		cconn.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ctx, cconn
}

// exchange sends one frame and returns the next frame received.
func exchange(ctx context.Context, t *testing.T, conn transport.Conn, frame string) string {
	t.Helper()
	if err := conn.Send(ctx, transport.Message{Raw: []byte(frame)}); err != nil {
		t.Fatal(err)
	}
	m, err := conn.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(m.Raw)
}

// errorOf decodes an error response.
func errorOf(t *testing.T, raw string) (id string, code int) {
	t.Helper()
	var r struct {
		ID    json.RawMessage `json:"id"`
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil || r.Error == nil {
		t.Fatalf("not an error response: %s", raw)
	}
	return string(r.ID), r.Error.Code
}

const rawInitialize = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"%s","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func TestRawFrames(t *testing.T) {
	tests := []struct {
		name     string
		frame    string
		wantID   string
		wantCode int
	}{
		{"parse error", `{"jsonrpc":`, "null", -32700},
		{"not JSON-RPC", `{"id":1,"method":"ping"}`, "1", -32600},
		{"fractional id", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, "1.5", -32600},
		{"before initialize", `{"jsonrpc":"2.0","id":"x","method":"tools/list"}`, `"x"`, -32600},
		{"unknown method", `{"jsonrpc":"2.0","id":2,"method":"nope"}`, "2", -32601},
	}
	for _, rev := range revisions() {
		t.Run(rev.String(), func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, conn := rawSession(t, rev)
					id, code := errorOf(t, exchange(ctx, t, conn, tt.frame))
					if id != tt.wantID || code != tt.wantCode {
						t.Errorf("answer id %s code %d, want id %s code %d", id, code, tt.wantID, tt.wantCode)
					}
				})
			}
			t.Run("invalid notification", func(t *testing.T) {
				ctx, conn := rawSession(t, rev)
				if err := conn.Send(ctx, transport.Message{Raw: []byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{}}`)}); err != nil {
					t.Fatal(err)
				}
				// No answer to the notification: the next frame answers the ping.
				if got := exchange(ctx, t, conn, `{"jsonrpc":"2.0","id":"p","method":"ping"}`); got != `{"jsonrpc":"2.0","id":"p","result":{}}` {
					t.Errorf("got %s", got)
				}
			})
			t.Run("batch", func(t *testing.T) { testBatch(t, rev) })
		})
	}
}

// testBatch: batches are answered element by element in 2025-03-26 and
// rejected as a whole in the other revisions.
func testBatch(t *testing.T, rev schemas.Revision) {
	ctx, conn := rawSession(t, rev)
	init := strings.Replace(rawInitialize, "%s", rev.String(), 1)
	if got := exchange(ctx, t, conn, init); !strings.Contains(got, `"protocolVersion":"`+rev.String()+`"`) {
		t.Fatalf("initialize: %s", got)
	}
	batch := `[{"jsonrpc":"2.0","id":1,"method":"ping"},` +
		`{"jsonrpc":"2.0","method":"notifications/initialized"},` +
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"},` +
		`{"jsonrpc":"2.0","id":3,"method":"nope"},` +
		`{"id":4}]`
	got := exchange(ctx, t, conn, batch)
	if !rev.HasBatching() {
		if id, code := errorOf(t, got); id != "null" || code != -32600 {
			t.Errorf("batch in %s: %s, want a single -32600", rev, got)
		}
		return
	}
	f, err := jsonrpc.ParseFrame([]byte(got))
	if err != nil || !f.Batch || f.Errors != nil {
		t.Fatalf("batch answer %s: %v", got, err)
	}
	methods := map[string]string{"1": "ping", "2": "tools/list"}
	v := sharedValidator(t)
	var summary []string
	for _, m := range f.Messages {
		// Each answer is valid in 2025-03-26.
		if err := v.Validate(rev, m, schemas.Check{Method: methods[string(m.ID)], From: schemas.FromServer}); err != nil {
			t.Errorf("answer %s: %v", m.Raw, err)
		}
		s := string(m.ID) + ":ok"
		if m.Kind == jsonrpc.KindError {
			_, code := errorOf(t, string(m.Raw))
			s = fmt.Sprintf("%s:%d", m.ID, code)
		}
		summary = append(summary, s)
	}
	slices.Sort(summary)
	want := []string{"1:ok", "2:ok", "3:-32601", "4:-32600"}
	if !slices.Equal(summary, want) {
		t.Errorf("batch answers %v, want %v (%s)", summary, want, got)
	}
}

// TestServeStdio runs a session over newline-delimited JSON pipes.
func TestServeStdio(t *testing.T) {
	for _, rev := range revisions() {
		t.Run(rev.String(), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			v := sharedValidator(t)
			serverIn, clientOut := io.Pipe()
			clientIn, serverOut := io.Pipe()
			served := make(chan error, 1)
			go func() {
				served <- demo.ServeStdio(context.Background(), rev, serverIn, serverOut, demo.WithValidator(v))
			}()
			c, err := fixture.NewClient(rev, fixture.NewStdioConn(clientIn, clientOut, 0), fixture.WithValidator(v))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Initialize(ctx); err != nil {
				t.Fatal(err)
			}
			r, err := c.CallTool(ctx, "sample", map[string]any{"prompt": "hi"})
			if err != nil || r.Text() != fixture.DefaultSamplingText {
				t.Errorf("sample over stdio: %v, %+v", err, r)
			}
			if err := c.Close(); err != nil {
				t.Errorf("client: %v", err)
			}
			if err := <-served; err != nil {
				t.Errorf("ServeStdio: %v", err)
			}
			if errs := c.Violations(); len(errs) > 0 {
				t.Errorf("violations: %v", errs)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr error
		wantMsg string
	}{
		{nil, nil, "--revision is required"},
		{[]string{"--revision", "2025-13-01"}, schemas.ErrUnknownRevision, ""},
		{[]string{"--revision", "2025-06-18", "--listen", "127.0.0.1:-1"}, nil, "demo-server: listen tcp"},
		{[]string{"--revision", "2026-07-28", "--listen", "127.0.0.1:-1"}, nil, "demo-server: listen tcp"},
		{[]string{"--revision", "2025-06-18", "extra"}, nil, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := demo.Command()
			cmd.SetArgs(tt.args)
			cmd.SetIn(strings.NewReader(""))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if err == nil {
				t.Fatal("want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %v, want %q", err, tt.wantMsg)
			}
		})
	}

	t.Run("serves stdio", func(t *testing.T) {
		stdin, in := io.Pipe()
		out, stdout := io.Pipe()
		cmd := demo.Command()
		cmd.SetArgs([]string{"--revision", "2025-03-26"})
		cmd.SetIn(stdin)
		cmd.SetOut(stdout)
		cmd.SetErr(io.Discard)
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(t.Context()) }()
		lines := bufio.NewScanner(out)
		for _, x := range []struct{ req, want string }{
			// 2025-06-18 asked, 2025-03-26 answered.
			{strings.Replace(rawInitialize, "%s", "2025-06-18", 1), `"protocolVersion":"2025-03-26"`},
			{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, ""},
			{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`, `"text":"3"`},
		} {
			if _, err := io.WriteString(in, x.req+"\n"); err != nil {
				t.Fatal(err)
			}
			if x.want == "" {
				continue
			}
			if !lines.Scan() {
				t.Fatalf("no answer: %v", lines.Err())
			}
			if !strings.Contains(lines.Text(), x.want) {
				t.Errorf("answer %s, want %s", lines.Text(), x.want)
			}
		}
		in.Close()
		timer := time.NewTimer(testTimeout)
		defer timer.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("command: %v", err)
			}
		case <-timer.C:
			t.Fatal("the command did not end at the end of its input")
		}
	})

	t.Run("serves 2026-07-28 on stdio", func(t *testing.T) {
		stdin, in := io.Pipe()
		out, stdout := io.Pipe()
		cmd := demo.Command()
		cmd.SetArgs([]string{"--revision", "2026-07-28"})
		cmd.SetIn(stdin)
		cmd.SetOut(stdout)
		cmd.SetErr(io.Discard)
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(t.Context()) }()
		lines := bufio.NewScanner(out)
		const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
		for _, x := range []struct{ req, want string }{
			// No initialize: the first request is answered as it is.
			{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2},` + meta + `}}`, `"text":"3"`},
			{`{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{` + meta + `}}`, `"supportedVersions":["2026-07-28"]`},
		} {
			if _, err := io.WriteString(in, x.req+"\n"); err != nil {
				t.Fatal(err)
			}
			if !lines.Scan() {
				t.Fatalf("no answer: %v", lines.Err())
			}
			if !strings.Contains(lines.Text(), x.want) {
				t.Errorf("answer %s, want %s", lines.Text(), x.want)
			}
		}
		in.Close()
		timer := time.NewTimer(testTimeout)
		defer timer.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("command: %v", err)
			}
		case <-timer.C:
			t.Fatal("the command did not end at the end of its input")
		}
	})

	t.Run("serves 2026-07-28 over HTTP", func(t *testing.T) {
		logs, stderr := io.Pipe()
		cmd := demo.Command()
		cmd.SetArgs([]string{"--revision", "2026-07-28", "--listen", "127.0.0.1:0"})
		cmd.SetIn(strings.NewReader(""))
		cmd.SetOut(io.Discard)
		cmd.SetErr(stderr)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(ctx) }()
		// The first log line says where it listens.
		lines := bufio.NewScanner(logs)
		var addr string
		for addr == "" && lines.Scan() {
			if _, rest, ok := strings.Cut(lines.Text(), "addr="); ok && strings.Contains(lines.Text(), "demo-server listening") {
				addr, _, _ = strings.Cut(rest, " ")
			}
		}
		go io.Copy(io.Discard, logs)
		if addr == "" {
			t.Fatalf("no address logged: %v", lines.Err())
		}
		c, err := fixture.NewClient(schemas.V20260728, fixture.DialHTTP2026("http://"+addr+demo.PathMCP), fixture.WithValidator(sharedValidator(t)))
		if err != nil {
			t.Fatal(err)
		}
		tctx, tcancel := context.WithTimeout(t.Context(), testTimeout)
		defer tcancel()
		if res, err := c.Initialize(tctx); err != nil || res.ProtocolVersion != "2026-07-28" {
			t.Errorf("server/discover: %+v, %v", res, err)
		}
		if r, err := c.CallTool(tctx, "sample", nil); err != nil || r.Text() != fixture.DefaultSamplingText {
			t.Errorf("sample: %+v, %v", r, err)
		}
		c.Close()
		for _, err := range c.Violations() {
			t.Errorf("violation: %v", err)
		}
		cancel()
		timer := time.NewTimer(testTimeout)
		defer timer.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("command: %v", err)
			}
		case <-timer.C:
			t.Fatal("the command did not stop")
		}
		stderr.Close()
	})
}
