package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// stdioPair returns a stdio Conn and the peer's ends of its pipes: what
// the peer writes to toConn the Conn receives; what the Conn sends the
// peer reads from fromConn.
func stdioPair(t *testing.T, maxSize int) (c Conn, toConn *io.PipeWriter, fromConn *bufio.Reader) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c = NewStdio(inR, outW, maxSize)
	t.Cleanup(func() {
		c.Close()
		inW.Close()
		outR.Close()
	})
	return c, inW, bufio.NewReader(outR)
}

func TestStdioRecv(t *testing.T) {
	c, toConn, _ := stdioPair(t, 64)
	go func() {
		io.WriteString(toConn, `{"jsonrpc":"2.0","method":"a"}`+"\r\n\n  \n")
		io.WriteString(toConn, `{"jsonrpc":"2.0","method":"`+strings.Repeat("x", 100)+`"}`+"\n")
		io.WriteString(toConn, `{"jsonrpc":"2.0","method":"b"}`) // no final newline
		toConn.Close()
	}()
	if m := recv(t, c); string(m.Raw) != `{"jsonrpc":"2.0","method":"a"}` {
		t.Errorf("first frame = %s", m.Raw)
	}
	ctx := t.Context()
	if _, err := c.Recv(ctx); !errors.Is(err, jsonrpc.ErrTooLarge) {
		t.Errorf("oversized line: Recv error = %v, want ErrTooLarge", err)
	}
	if m := recv(t, c); string(m.Raw) != `{"jsonrpc":"2.0","method":"b"}` {
		t.Errorf("frame after the oversized line = %s", m.Raw)
	}
	if _, err := c.Recv(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("at end of input: Recv error = %v, want io.EOF", err)
	}
}

func TestStdioSend(t *testing.T) {
	c, _, fromConn := stdioPair(t, 0)
	done := make(chan string, 1)
	go func() {
		line, _ := fromConn.ReadString('\n')
		done <- line
	}()
	send(t, c, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	if line := <-done; line != `{"jsonrpc":"2.0","id":1,"result":{}}`+"\n" {
		t.Errorf("peer read %q", line)
	}
	if err := c.Send(t.Context(), Message{Raw: []byte("{\n}")}); !errors.Is(err, jsonrpc.ErrNewline) {
		t.Errorf("Send of a frame with a newline: %v, want ErrNewline", err)
	}
}

func TestStdioClose(t *testing.T) {
	c, _, _ := stdioPair(t, 0)
	recvDone := make(chan error, 1)
	go func() {
		_, err := c.Recv(context.Background())
		recvDone <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-recvDone; !errors.Is(err, ErrClosed) {
		t.Errorf("pending Recv after Close: %v, want ErrClosed", err)
	}
	if err := c.Send(t.Context(), Message{Raw: []byte(`{}`)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestStdioRecvContext(t *testing.T) {
	c, _, _ := stdioPair(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Recv(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Recv with a cancelled context: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// helperCommand returns a Command running this test binary as the helper
// in mode, logging to the returned buffer.
func helperCommand(mode string, grace time.Duration) (*Command, *syncBuffer) {
	var logs syncBuffer
	return &Command{
		Argv: []string{os.Args[0], "-test.run=^$"},
		// The race detector sleeps 1s when a process exits with status 0
		// unless told otherwise.
		Env:    append(os.Environ(), helperEnv+"="+mode, "GORACE=atexit_sleep_ms=0"),
		Grace:  grace,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, &logs
}

// startHelper starts the helper in mode.
func startHelper(t *testing.T, mode string, grace time.Duration) (Conn, *syncBuffer) {
	t.Helper()
	cmd, logs := helperCommand(mode, grace)
	c, err := cmd.Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, logs
}

func TestCommandEcho(t *testing.T) {
	c, logs := startHelper(t, "echo", 0)
	const req = `{"jsonrpc":"2.0","id":7,"method":"ping"}`
	send(t, c, req)
	if m := recv(t, c); string(m.Raw) != req {
		t.Errorf("echo = %s", m.Raw)
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > DefaultGrace {
		t.Errorf("Close of a child that exits at EOF took %v", d)
	}
	// Close returns after the child is reaped, which is after its stderr
	// was copied and logged.
	if l := logs.String(); !strings.Contains(l, fmt.Sprintf("got %d bytes", len(req))) {
		t.Errorf("stderr not logged; logs:\n%s", l)
	}
	if _, err := c.Recv(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close: %v, want ErrClosed", err)
	}
}

func TestCommandCrash(t *testing.T) {
	c, logs := startHelper(t, "crash", 0)
	send(t, c, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	err := recvErr(t, c)
	if !errors.Is(err, io.EOF) {
		t.Errorf("Recv after the child crashed: %v, want io.EOF", err)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("Recv error %v does not carry exit status 3", err)
	}
	if !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("error message %q does not name the status", err)
	}
	if l := logs.String(); !strings.Contains(l, "crashing on purpose") {
		t.Errorf("stderr not logged; logs:\n%s", l)
	}
}

func TestCommandContextStops(t *testing.T) {
	cmd, _ := helperCommand("echo", 0)
	ctx, cancel := context.WithCancel(t.Context())
	c, err := cmd.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cancel()
	if err := recvErr(t, c); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after the start context ended: %v, want ErrClosed", err)
	}
}

func TestCommandStartErrors(t *testing.T) {
	tests := []struct {
		name string
		argv []string
	}{
		{"empty argv", nil},
		{"missing program", []string{"/nonexistent/mcpbroker-test-program"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := StartCommand(t.Context(), tt.argv, nil)
			if err == nil {
				c.Close()
				t.Fatal("StartCommand succeeded")
			}
		})
	}
}
