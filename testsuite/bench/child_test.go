package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// childDemoEnv, set to a revision, makes the test binary serve a demo
// server of that revision instead of running tests (see runChildDemo).
const childDemoEnv = "MCPBROKER_BENCH_CHILD_DEMO"

// childBrokerEnv, set to "MODE URL", makes the test binary serve a broker
// in front of the Streamable HTTP endpoint URL instead of running tests,
// with the telemetry of MODE (see runChildBroker).
const childBrokerEnv = "MCPBROKER_BENCH_CHILD_BROKER"

// idleProfile is the prefix of the heap (every allocation sampled) and
// goroutine profiles that BenchmarkIdleSessionMemory writes at each stage
// of its measurement (see profile). Each sub-benchmark overwrites them:
// select one with -bench.
var idleProfile = flag.String("idleprofile", "", "write heap and goroutine profiles of BenchmarkIdleSessionMemory's sessions to `PREFIX`.STAGE.{heap,goroutine}")

// TestMain runs the tests, or the child demo server when childDemoEnv is
// set.
func TestMain(m *testing.M) {
	flag.Parse()
	if *idleProfile != "" {
		runtime.MemProfileRate = 1
	}
	if rev := os.Getenv(childDemoEnv); rev != "" {
		if err := runChildDemo(rev, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "child demo:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if args := os.Getenv(childBrokerEnv); args != "" {
		if err := runChildBroker(args, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "child broker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChildDemo serves a demo server of revision rev on an endpoint of its
// own until in ends. It writes "url URL" on out once it listens, then
// "get +1" and "get -1" as GET requests (standalone streams) begin and end.
func runChildDemo(rev string, in io.Reader, out io.Writer) error {
	r, err := schemas.ParseRevision(rev)
	if err != nil {
		return err
	}
	v, err := validator()
	if err != nil {
		return err
	}
	srv, err := demo.New(r, demo.WithValidator(v))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	e, err := listenEndpoint("demo", srv.Serve, func(delta int) { report("get %+d\n", delta) })
	if err != nil {
		return err
	}
	report("url %s\n", e.URL)
	_, err = io.Copy(io.Discard, in)
	return errors.Join(err, e.stop())
}

// childProfileEnv, set to a path prefix, makes each child broker write a
// CPU profile of its whole life to PREFIX.MODE.cpu.
const childProfileEnv = "MCPBROKER_BENCH_CHILD_CPUPROFILE"

// runChildBroker serves a broker (as startBroker wires it) on an endpoint
// of its own until in ends; args is "MODE URL", MODE one of the
// telemetryModes and URL the upstream's. It writes "url URL" on out once
// it listens.
func runChildBroker(args string, in io.Reader, out io.Writer) error {
	mode, upstreamURL, ok := strings.Cut(args, " ")
	if !ok {
		return fmt.Errorf("want MODE URL, got %q", args)
	}
	tel, shutdown, err := newTelemetry(mode)
	if err != nil {
		return err
	}
	defer shutdown()
	if prefix := os.Getenv(childProfileEnv); prefix != "" {
		f, err := os.Create(prefix + "." + mode + ".cpu")
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	serve, err := brokerServe(upstreamURL, brokerOptions{telemetry: tel})
	if err != nil {
		return err
	}
	e, err := listenEndpoint("broker", serve, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "url %s\n", e.URL)
	_, err = io.Copy(io.Discard, in)
	return errors.Join(err, e.stop())
}

// upstream is a demo server the benchmarks reach at url, in this process
// or in a child process, with the count of the GET requests it serves.
type upstream struct {
	url  string
	gets *gauge
}

// childStartTimeout bounds how long a child demo server may take to listen.
const childStartTimeout = 30 * time.Second

// startChildDemo runs a demo server of revision rev in a child process
// (this test binary, see TestMain) until tb ends, so that its memory is not
// the benchmark's.
func startChildDemo(tb testing.TB, rev schemas.Revision) upstream {
	tb.Helper()
	return startChild(tb, "demo", childDemoEnv+"="+rev.String())
}

// startChildBroker runs a broker with the telemetry of mode (one of
// telemetryModes) in front of upstreamURL in a child process until tb
// ends, so that neither its heap nor its garbage collection is the
// benchmark's or another broker's. It returns the broker's URL.
func startChildBroker(tb testing.TB, mode, upstreamURL string) string {
	tb.Helper()
	return startChild(tb, "broker "+mode, childBrokerEnv+"="+mode+" "+upstreamURL).url
}

// startChild runs this test binary with the environment variable env set
// (see TestMain) until tb ends, and waits for the URL it serves.
func startChild(tb testing.TB, name, env string) upstream {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	// Under -race, the child would otherwise sleep a second at exit.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), env, "GORACE="+gorace)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("child %s: %v", name, err)
	}
	up := upstream{gets: &gauge{}}
	urls := make(chan string, 1)
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.HasPrefix(line, "url "):
				urls <- strings.TrimPrefix(line, "url ")
			case line == "get +1":
				up.gets.add(1)
			case line == "get -1":
				up.gets.add(-1)
			}
		}
	}()
	tb.Cleanup(func() {
		stdin.Close()
		<-lines
		if err := cmd.Wait(); err != nil {
			tb.Errorf("child %s: %v", name, err)
		}
	})
	ctx, cancel := context.WithTimeout(tb.Context(), childStartTimeout)
	defer cancel()
	select {
	case up.url = <-urls:
	case <-lines:
		tb.Fatalf("child %s ended before listening", name)
	case <-ctx.Done():
		tb.Fatalf("child %s: %v", name, ctx.Err())
	}
	return up
}
