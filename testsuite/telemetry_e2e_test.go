package testsuite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
	"github.com/mcpbroker/mcpbroker/testsuite/jaegerproc"
)

// TestServeTracesToJaeger runs `mcpbroker serve` exporting to a real
// Jaeger over OTLP gRPC, in front of the demo server at 2025-11-25 (itself
// traced: demo-server --otel-endpoint), and a traced 2024-11-05 fixture
// client calling a tool with its trace context in params._meta. Jaeger's
// query API must hold one trace with the client's span, the broker's
// SERVER span under it, the broker's validation, translation and CLIENT
// spans under that, and the demo server's SERVER span under the CLIENT
// span. A second call carries its trace context only in the HTTP headers
// of the client's POST: the broker's SERVER span continues that trace.
// The admin listener's /metrics must count the calls in
// mcp_server_operation_duration_seconds.
func TestServeTracesToJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and Jaeger")
	}
	j := jaegerproc.Start(t)
	bin := buildBinary(t)
	service := fmt.Sprintf("mcpbroker-e2e-%d", time.Now().UnixNano())
	addr, admin := brokerproc.ServeAdmin(t, bin, []string{"OTEL_METRICS_EXPORTER=none"},
		"--otel-exporter", "otlp-grpc", "--otel-endpoint", j.OTLPGRPC, "--otel-insecure",
		"--otel-service-name", service, "--otel-sample-ratio", "1", "--admin-listen", "127.0.0.1:0",
		"--upstream-cmd", bin+" demo-server --revision 2025-11-25 --otel-endpoint "+j.OTLPGRPC+" --otel-service-name "+service+"-demo")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := scrapeCount(ctx, t, admin, "tools/call")

	// The traced client: its spans go to Jaeger over OTLP/HTTP.
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(j.OTLPHTTP+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service+"-client"))))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	c, err := fixture.NewClient(schemas.V20241105, dialBroker(ctx, t, bin, addr, "http", nil), fixture.WithValidator(v), fixture.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Initialize(ctx); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	cctx, span := tp.Tracer("fixture").Start(ctx, "tools/call echo", trace.WithSpanKind(trace.SpanKindClient))
	params, err := telemetry.InjectMeta(cctx, []byte(`{"name":"echo","arguments":{"text":"traced"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "tools/call", json.RawMessage(params)); err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	span.End()
	// The second call: no _meta, the trace context in the POST's headers
	// (DialHTTP injects Send's context).
	hctx, hspan := tp.Tracer("fixture").Start(ctx, "tools/call echo", trace.WithSpanKind(trace.SpanKindClient))
	if _, err := c.Call(hctx, "tools/call", json.RawMessage(`{"name":"echo","arguments":{"text":"headers"}}`)); err != nil {
		t.Fatalf("tools/call: %v", err)
	}
	hspan.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}

	// The broker exports in batches (OTEL_BSP_SCHEDULE_DELAY, 5 s by
	// default): the trace has the client's span, the broker's SERVER,
	// CLIENT, one validation and two translation spans at least.
	traceID := span.SpanContext().TraceID().String()
	tr := j.WaitTrace(t, traceID, 6, 20*time.Second)
	// The fixture's CLIENT span and the broker's SERVER and CLIENT spans
	// share the name; the service tells them apart.
	var clientSpan, server, upstream jaegerproc.Span
	for _, s := range tr.Find("tools/call echo") {
		k, _ := s.Tag("span.kind")
		switch {
		case tr.Service(s) == service+"-client":
			clientSpan = s
		case tr.Service(s) != service:
		case k == "server":
			server = s
		case k == "client":
			upstream = s
		}
	}
	if clientSpan.SpanID == "" || server.SpanID == "" || upstream.SpanID == "" {
		t.Fatalf("trace %s lacks the fixture's span or the broker's SERVER or CLIENT span: %+v", traceID, tr.Spans)
	}
	if server.Parent() != clientSpan.SpanID {
		t.Errorf("broker SERVER span's parent = %s, want the client's span %s", server.Parent(), clientSpan.SpanID)
	}
	if upstream.Parent() != server.SpanID {
		t.Errorf("broker CLIENT span's parent = %s, want the SERVER span %s", upstream.Parent(), server.SpanID)
	}
	// The client came over HTTP/1.1 from 127.0.0.1; the upstream is a
	// child process on stdio, which has no address.
	for tag, want := range map[string]string{"mcp.protocol.version": "2024-11-05", "gen_ai.tool.name": "echo", "network.transport": "tcp",
		"client.address": "127.0.0.1", "network.protocol.name": "http", "network.protocol.version": "1.1"} {
		if got, _ := server.Tag(tag); got != want {
			t.Errorf("SERVER span %s = %q, want %q", tag, got, want)
		}
	}
	for tag, want := range map[string]string{"mcp.protocol.version": "2025-11-25", "network.transport": "pipe"} {
		if got, _ := upstream.Tag(tag); got != want {
			t.Errorf("CLIENT span %s = %q, want %q", tag, got, want)
		}
	}
	if got, ok := upstream.Tag("server.address"); ok {
		t.Errorf("CLIENT span toward a stdio upstream has server.address %q", got)
	}
	translations := 0
	for _, s := range tr.Find(telemetry.SpanTranslate) {
		if s.Parent() == server.SpanID {
			translations++
		}
	}
	// The demo server exports on its own schedule: wait for its span.
	demoSpan := waitSpan(t, j, traceID, 20*time.Second, func(tr jaegerproc.Trace, s jaegerproc.Span) bool {
		return tr.Service(s) == service+"-demo"
	})
	if demoSpan.OperationName != "tools/call echo" {
		t.Errorf("demo server span %q, want tools/call echo", demoSpan.OperationName)
	}
	if k, _ := demoSpan.Tag("span.kind"); k != "server" {
		t.Errorf("demo server span kind %q, want server", k)
	}
	if demoSpan.Parent() != upstream.SpanID {
		t.Errorf("demo server span's parent = %s, want the broker's CLIENT span %s", demoSpan.Parent(), upstream.SpanID)
	}
	if translations != 2 {
		t.Errorf("%d translation spans under the SERVER span, want 2 (request and result)", translations)
	}
	validations := 0
	for _, s := range tr.Find(telemetry.SpanValidate) {
		if s.Parent() == server.SpanID {
			validations++
		}
	}
	if validations == 0 {
		t.Errorf("no validation span under the SERVER span")
	}

	// The call traced through HTTP headers only: the broker's SERVER
	// span's parent is the client's span.
	hid := hspan.SpanContext().TraceID().String()
	hserver := waitSpan(t, j, hid, 20*time.Second, func(tr jaegerproc.Trace, s jaegerproc.Span) bool {
		k, _ := s.Tag("span.kind")
		return tr.Service(s) == service && k == "server" && s.OperationName == "tools/call echo"
	})
	if want := hspan.SpanContext().SpanID().String(); hserver.Parent() != want {
		t.Errorf("broker SERVER span of the header-traced call: parent %s, want the client's span %s", hserver.Parent(), want)
	}

	if after := scrapeCount(ctx, t, admin, "tools/call"); after != before+2 {
		t.Errorf("mcp_server_operation_duration_seconds_count{tools/call}: %d before, %d after; want two more", before, after)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := httpStatus(ctx, t, "http://"+admin+path); code != http.StatusOK {
			t.Errorf("GET %s: %d", path, code)
		}
	}
}

// waitSpan polls Jaeger until trace id holds a span match accepts and
// returns it; it fails the test after timeout.
func waitSpan(t *testing.T, j *jaegerproc.Jaeger, id string, timeout time.Duration, match func(jaegerproc.Trace, jaegerproc.Span) bool) jaegerproc.Span {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last jaegerproc.Trace
	for {
		tr, ok, err := j.Trace(ctx, id)
		if err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		if ok {
			last = tr
			for _, s := range tr.Spans {
				if match(tr, s) {
					return s
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("trace %s: no matching span after %v; spans: %+v", id, timeout, last.Spans)
		case <-tick.C:
		}
	}
}

// scrapeCount sums mcp_server_operation_duration_seconds_count over the
// series of method on the admin listener's /metrics.
func scrapeCount(ctx context.Context, t *testing.T, admin, method string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, b)
	}
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "mcp_server_operation_duration_seconds_count{") ||
			!strings.Contains(line, `mcp_method_name="`+method+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += int(v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func httpStatus(ctx context.Context, t *testing.T, url string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
