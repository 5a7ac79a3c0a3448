// Package brokerproc builds the mcpbroker binary and runs it as a real
// process for end-to-end tests: `mcpbroker serve` (Serve) and the demo
// server over HTTP, `mcpbroker demo-server --listen` (DemoServer).
package brokerproc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// Build compiles ./cmd/mcpbroker of this module into a temporary
// directory of the test and returns the binary's path.
func Build(t testing.TB) string {
	t.Helper()
	bin, err := BuildIn(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// BuildIn compiles ./cmd/mcpbroker of this module into dir and returns
// the binary's path. A test package whose tests share one binary calls it
// once (from TestMain, or behind a sync.Once) and removes dir itself.
func BuildIn(dir string) (string, error) {
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("brokerproc: cannot locate the module")
	}
	root := filepath.Join(filepath.Dir(here), "..", "..")
	bin := filepath.Join(dir, "mcpbroker")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mcpbroker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// Timeouts of a process's start and stop.
const (
	// startTimeout bounds the wait for the listening log line.
	startTimeout = 30 * time.Second
	// stopTimeout is how long a process has to exit after os.Interrupt
	// before it is killed (and the test fails).
	stopTimeout = 20 * time.Second
)

// Serve runs `bin serve --listen 127.0.0.1:0 args...` with the extra
// environment env, waits for its "mcpbroker listening" log line and
// returns the address (host:port). At cleanup the process gets
// os.Interrupt and must exit with status 0 within 20s (serve drains for
// up to its --shutdown-timeout, 10s by default), else the test
// fails (it is killed then). Its log lines are passed to t.Logf in verbose
// mode.
func Serve(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	return start(t, "serve", exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...), env, serveListening)
}

// ServeAdmin is Serve for a broker with an admin listener (give
// --admin-listen in args): it also waits for the "mcpbroker admin
// listening" line, logged before "mcpbroker listening", and returns both
// addresses.
func ServeAdmin(t testing.TB, bin string, env []string, args ...string) (addr, admin string) {
	t.Helper()
	listening := func(line []byte) (string, bool) {
		var l struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &l) == nil && l.Msg == "mcpbroker admin listening" {
			admin = l.Addr
			return "", false
		}
		return serveListening(line)
	}
	addr = start(t, "serve", exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...), env, listening)
	if admin == "" {
		t.Fatal("brokerproc: serve logged no admin listening line before its listening line")
	}
	return addr, admin
}

// DemoServer runs `bin demo-server --revision rev --listen 127.0.0.1:0
// args...`, waits for its "demo-server listening" log line and returns the
// address (host:port): Streamable HTTP is at http://ADDR/mcp, and for
// 2024-11-05 legacy HTTP+SSE at http://ADDR/sse. Cleanup is as for Serve.
func DemoServer(t testing.TB, bin, rev string, args ...string) string {
	t.Helper()
	argv := append([]string{"demo-server", "--revision", rev, "--listen", "127.0.0.1:0"}, args...)
	return start(t, "demo-server", exec.Command(bin, argv...), nil, demoListening)
}

// serveListening returns the address of serve's JSON listening line.
func serveListening(line []byte) (string, bool) {
	var l struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &l) != nil || l.Msg != "mcpbroker listening" {
		return "", false
	}
	return l.Addr, true
}

// demoLine matches demo-server's slog text listening line.
var demoLine = regexp.MustCompile(`msg="demo-server listening" addr=(\S+)`)

// demoListening returns the address of demo-server's listening line.
func demoListening(line []byte) (string, bool) {
	m := demoLine.FindSubmatch(line)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// start starts cmd with the extra environment env, reads its standard
// error until listening finds the address in a line, and returns the
// address. See Serve for the cleanup.
func start(t testing.TB, name string, cmd *exec.Cmd, env []string, listening func([]byte) (string, bool)) string {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	// Wait stops waiting for the standard error copy that long after the
	// process exits, should a child of it hold the pipe.
	cmd.WaitDelay = stopTimeout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	logged := make(chan struct{}) // closed when stderr is read to its end
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if a, ok := listening(sc.Bytes()); ok && !sent {
				addr <- a
				sent = true
			}
			if testing.Verbose() {
				t.Logf("%s: %s", name, sc.Bytes())
			}
		}
		if !sent {
			close(addr)
		}
	}()
	t.Cleanup(func() {
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Errorf("%s: interrupt: %v", name, err)
		}
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		// Reading must end before Wait, which closes the pipe.
		select {
		case <-logged:
		case <-timer.C:
			t.Errorf("%s did not stop within %v of the interrupt; killing it", name, stopTimeout)
			cmd.Process.Kill()
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		<-logged
	})
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("%s exited before listening", name)
		}
		return a
	case <-timer.C:
		t.Fatalf("%s did not start listening", name)
	}
	return ""
}
