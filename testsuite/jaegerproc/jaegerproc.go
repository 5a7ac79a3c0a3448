// Package jaegerproc runs a real Jaeger v2 for tests: the binary built by
// `make jaeger` (tools/jaeger), on free 127.0.0.1 ports with in-memory
// storage, and a client of its HTTP query API.
//
// The binary is looked up at $MCPBROKER_JAEGER, else at
// <dir of GOCACHE>/mcpbroker-tools/jaeger-<Version> where `make jaeger`
// caches it. When it is missing, [Start] skips the test, or fails it under
// CI=true.
package jaegerproc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mcpbroker/mcpbroker/testsuite/prereq"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Jaeger release tools/jaeger/go.mod pins and the cache
// key of the built binary.
const Version = "v1.76.0"

// readyLine is logged by the collector core once every receiver and
// extension has started.
const readyLine = "Everything is ready. Begin running and processing data."

// Timeouts.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
)

// Binary returns the path of the Jaeger binary, or an error saying how to
// build it.
func Binary() (string, error) {
	if p := os.Getenv("MCPBROKER_JAEGER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("jaegerproc: MCPBROKER_JAEGER: %w", err)
		}
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("jaegerproc: go env GOCACHE: %w", err)
	}
	p := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "mcpbroker-tools", "jaeger-"+Version)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("jaegerproc: no Jaeger binary (run `make jaeger`): %w", err)
	}
	return p, nil
}

// Jaeger is a running Jaeger process.
type Jaeger struct {
	// OTLPGRPC is the OTLP/gRPC receiver's host:port.
	OTLPGRPC string
	// OTLPHTTP is the OTLP/HTTP receiver's base URL (http://host:port).
	OTLPHTTP string
	// QueryURL is the base URL of the query HTTP API.
	QueryURL string

	cmd    *exec.Cmd
	exited chan struct{}
	logs   *lockedBuffer
}

// Start runs Jaeger for the test and stops it at cleanup. It returns once
// Jaeger has logged that every component started (no polling), retrying
// with other ports if one was taken meanwhile.
func Start(t testing.TB) *Jaeger {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		prereq.Missing(t, err.Error(), "run `make jaeger`")
	}
	var last error
	for range 3 {
		j, err := start(t, bin)
		if err == nil {
			return j
		}
		last = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatal(last)
	return nil
}

var errPortTaken = errors.New("jaegerproc: a port was taken")

func start(t testing.TB, bin string) (*Jaeger, error) {
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, []byte(config(ports)), 0o600); err != nil {
		return nil, fmt.Errorf("jaegerproc: %w", err)
	}
	j := &Jaeger{
		OTLPGRPC: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		OTLPHTTP: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		QueryURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		exited:   make(chan struct{}),
		logs:     &lockedBuffer{},
	}
	j.cmd = exec.Command(bin, "--config=file:"+cfg)
	j.cmd.Dir = dir
	j.cmd.Stdout = j.logs
	stderr, err := j.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("jaegerproc: %w", err)
	}
	if err := j.cmd.Start(); err != nil {
		return nil, fmt.Errorf("jaegerproc: start %s: %w", bin, err)
	}
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			_, _ = j.logs.Write([]byte(line + "\n"))
			if !signalled && strings.Contains(line, readyLine) {
				signalled = true
				close(ready)
			}
		}
	}()
	go func() {
		<-scanned // Wait must not run before the pipe is drained
		_ = j.cmd.Wait()
		close(j.exited)
	}()
	t.Cleanup(func() { j.stop(t) })

	select {
	case <-ready:
		return j, nil
	case <-j.exited:
		logs := j.logs.String()
		if strings.Contains(logs, "address already in use") {
			return nil, fmt.Errorf("%w: %s", errPortTaken, tail(logs))
		}
		return nil, fmt.Errorf("jaegerproc: jaeger exited before it was ready: %v\n%s", j.cmd.ProcessState, tail(logs))
	case <-time.After(startTimeout):
		return nil, fmt.Errorf("jaegerproc: jaeger not ready after %v\n%s", startTimeout, tail(j.logs.String()))
	}
}

// stop sends SIGTERM and waits for the exit, killing the process after
// stopTimeout; its logs go to the test log when the test failed.
func (j *Jaeger) stop(t testing.TB) {
	select {
	case <-j.exited:
	default:
		_ = j.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-j.exited:
		case <-time.After(stopTimeout):
			_ = j.cmd.Process.Kill()
			<-j.exited
			t.Errorf("jaegerproc: jaeger did not stop within %v", stopTimeout)
		}
	}
	if t.Failed() {
		t.Logf("jaeger logs:\n%s", tail(j.logs.String()))
	}
}

// Logs returns what Jaeger logged so far.
func (j *Jaeger) Logs() string { return j.logs.String() }

// config renders the Jaeger configuration: OTLP receivers, in-memory
// storage and the query API, all on 127.0.0.1; no self-tracing, no
// internal metrics listener.
func config(ports []int) string {
	return fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, ports[2], ports[3], ports[0], ports[1])
}

// freePorts returns n distinct free TCP ports of 127.0.0.1. Another
// process may take one before Jaeger binds it; Start retries then.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("jaegerproc: free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Trace is one trace of the query API (/api/traces).
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
}

// Span is a span of the query API.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []KeyValue  `json:"tags"`
	Logs          []Log       `json:"logs"`
	ProcessID     string      `json:"processID"`
}

// Reference is a CHILD_OF (the parent) or FOLLOWS_FROM (a link)
// reference of a span.
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// KeyValue is a tag: a span attribute, or span.kind, otel.status_code, ...
type KeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Log is a span event.
type Log struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// Process is the resource of the spans that refer to it.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// Tag returns the value of tag key as a string (numbers and booleans
// formatted by fmt) and whether it is present.
func (s Span) Tag(key string) (string, bool) {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return fmt.Sprint(kv.Value), true
		}
	}
	return "", false
}

// Parent returns the span ID of the CHILD_OF reference, or "".
func (s Span) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// Service returns the service name of span s of t.
func (t Trace) Service(s Span) string { return t.Processes[s.ProcessID].ServiceName }

// Find returns the spans of t named name.
func (t Trace) Find(name string) []Span {
	var out []Span
	for _, s := range t.Spans {
		if s.OperationName == name {
			out = append(out, s)
		}
	}
	return out
}

type tracesResponse struct {
	Data   []Trace `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

// Traces returns the traces holding spans of service (GET
// /api/traces?service=...&lookback=1h&limit=1000).
func (j *Jaeger) Traces(ctx context.Context, service string) ([]Trace, error) {
	q := url.Values{"service": {service}, "lookback": {"1h"}, "limit": {"1000"}}
	return j.get(ctx, "/api/traces?"+q.Encode())
}

// Trace returns the trace of id (GET /api/traces/{id}); no trace and no
// error when Jaeger does not have it (yet).
func (j *Jaeger) Trace(ctx context.Context, id string) (Trace, bool, error) {
	ts, err := j.get(ctx, "/api/traces/"+url.PathEscape(id))
	if err != nil || len(ts) == 0 {
		return Trace{}, false, err
	}
	return ts[0], true, nil
}

// Services lists the services Jaeger has spans of.
func (j *Jaeger) Services(ctx context.Context) ([]string, error) {
	var r struct {
		Data []string `json:"data"`
	}
	if err := j.getJSON(ctx, "/api/services", &r); err != nil {
		return nil, err
	}
	return r.Data, nil
}

func (j *Jaeger) get(ctx context.Context, path string) ([]Trace, error) {
	var r tracesResponse
	err := j.getJSON(ctx, path, &r)
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("jaegerproc: %s: %s", path, r.Errors[0].Msg)
	}
	return r.Data, nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("jaegerproc: HTTP %d: %s", e.code, e.body)
}

func (j *Jaeger) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryURL+path, nil)
	if err != nil {
		return fmt.Errorf("jaegerproc: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("jaegerproc: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("jaegerproc: %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{code: resp.StatusCode, body: tail(string(body))}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("jaegerproc: %s: %w", path, err)
	}
	return nil
}

// WaitTrace polls the query API every 50 ms (Jaeger offers no
// notification of stored spans) until the trace of id holds at least
// spans spans, and returns it; it fails the test after timeout.
func (j *Jaeger) WaitTrace(t testing.TB, id string, spans int, timeout time.Duration) Trace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last Trace
	for {
		tr, ok, err := j.Trace(ctx, id)
		if err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		if ok {
			last = tr
			if len(tr.Spans) >= spans {
				return tr
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("jaegerproc: trace %s has %d spans after %v, want %d", id, len(last.Spans), timeout, spans)
		case <-tick.C:
		}
	}
}

// lockedBuffer collects logs from two goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail returns the last 4 KiB of s.
func tail(s string) string {
	if len(s) > 4096 {
		return "..." + s[len(s)-4096:]
	}
	return s
}
