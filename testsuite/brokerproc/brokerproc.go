// Package brokerproc builds the mcpbroker binary and runs `mcpbroker
// serve` as a real process for end-to-end tests.
package brokerproc

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Build compiles ./cmd/mcpbroker of this module into a temporary
// directory of the test and returns the binary's path.
func Build(t testing.TB) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("brokerproc: cannot locate the module")
	}
	root := filepath.Join(filepath.Dir(here), "..", "..")
	bin := filepath.Join(t.TempDir(), "mcpbroker")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mcpbroker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Serve runs `bin serve --listen 127.0.0.1:0 args...` with the extra
// environment env, waits for its "mcpbroker listening" log line and
// returns the address. The process gets os.Interrupt at cleanup and is
// reaped. Its log lines are passed to t.Logf in verbose mode.
func Serve(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if !sent && json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "mcpbroker listening" {
				addr <- line.Addr
				sent = true
			}
			if testing.Verbose() {
				t.Logf("serve: %s", sc.Bytes())
			}
		}
		if !sent {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("serve exited before listening")
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening")
	}
	return ""
}
