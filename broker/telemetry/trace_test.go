package telemetry

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// testProvider is a Provider over an in-memory span recorder and a manual
// metric reader.
type testProvider struct {
	*Provider
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newTestProvider(t *testing.T, sampler sdktrace.Sampler) testProvider {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sampler))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	p, err := NewProvider(tp, mp)
	if err != nil {
		t.Fatal(err)
	}
	return testProvider{Provider: p, spans: rec, reader: reader}
}

// attrMap returns a span's attributes by key, values as strings.
func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// sync waits for the calls ended so far (see Provider.Sync).
func (tp testProvider) sync(t *testing.T) {
	t.Helper()
	if err := tp.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// collect returns the metrics, once the calls ended so far are recorded.
func (tp testProvider) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	tp.sync(t)
	return collect(t, tp.reader)
}

func ended(t *testing.T, tp testProvider, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	tp.sync(t)
	spans := tp.spans.Ended()
	if len(spans) != n {
		names := make([]string, len(spans))
		for i, s := range spans {
			names[i] = s.Name()
		}
		t.Fatalf("%d ended spans %v, want %d", len(spans), names, n)
	}
	return spans
}

func TestServerSpanParentAndLinks(t *testing.T) {
	meta := spanCtx(t, tp1)
	http2 := http.Header{"Traceparent": {tp2}}
	tests := []struct {
		name       string
		ctx        context.Context
		params     string
		wantParent trace.SpanContext
		wantLinks  []trace.SpanContext
	}{
		{"_meta parent, HTTP context linked", ExtractHTTP(context.Background(), http2),
			`{"name":"echo","_meta":{"traceparent":"` + tp1 + `"}}`,
			trace.SpanContextFromContext(meta), []trace.SpanContext{trace.SpanContextFromContext(ExtractHTTP(context.Background(), http2))}},
		{"_meta parent, no ambient", context.Background(), `{"name":"echo","_meta":{"traceparent":"` + tp1 + `"}}`,
			trace.SpanContextFromContext(meta), nil},
		{"HTTP context parent without _meta", ExtractHTTP(context.Background(), http2), `{"name":"echo"}`,
			trace.SpanContextFromContext(ExtractHTTP(context.Background(), http2)), nil},
		{"same context in both: no link", meta, `{"name":"echo","_meta":{"traceparent":"` + tp1 + `"}}`,
			trace.SpanContextFromContext(meta), nil},
		{"root", context.Background(), `{"name":"echo"}`, trace.SpanContext{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestProvider(t, sdktrace.AlwaysSample())
			_, call := tp.StartServer(tt.ctx, Op{Method: "tools/call", ID: []byte("1"), Params: []byte(tt.params)})
			call.End(Result{})
			s := ended(t, tp, 1)[0]
			if !s.Parent().Equal(tt.wantParent) {
				t.Errorf("parent = %v, want %v", s.Parent(), tt.wantParent)
			}
			if tt.wantParent.IsValid() && s.SpanContext().TraceID() != tt.wantParent.TraceID() {
				t.Errorf("trace id %v, want the parent's", s.SpanContext().TraceID())
			}
			var links []trace.SpanContext
			for _, l := range s.Links() {
				links = append(links, l.SpanContext)
			}
			if !reflect.DeepEqual(links, tt.wantLinks) {
				t.Errorf("links = %v, want %v", links, tt.wantLinks)
			}
		})
	}
}

// TestToolCallThroughBroker is the broker's two hops for one tools/call:
// the SERVER span of the client's request, a CLIENT span for the upstream
// request, the traceparent the upstream server receives, and both
// operation metrics.
func TestToolCallThroughBroker(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	clientParams := []byte(`{"name":"get-weather","arguments":{"city":"Paris"},"_meta":{"progressToken":5,"traceparent":"` + tp1 + `"}}`)
	ctx, srv := tp.StartServer(context.Background(), Op{
		Method: "tools/call", ID: []byte(`7`), Params: clientParams, SessionID: "sess-1",
		Revision: "2024-11-05", Transport: TransportTCP, ProtocolName: "http", ProtocolVersion: "1.1",
		ClientAddress: "127.0.0.1", ClientPort: 40000,
	})
	upstreamParams := []byte(`{"name":"get-weather","arguments":{"city":"Paris"},"_meta":{"progressToken":5,"traceparent":"` + tp1 + `"}}`)
	cctx, cli := tp.StartClient(ctx, Op{
		Method: "tools/call", ID: []byte(`"b-1"`), Params: upstreamParams, SessionID: "up-9",
		Revision: "2025-11-25", Transport: TransportPipe,
	})
	sent, err := InjectMeta(cctx, upstreamParams)
	if err != nil {
		t.Fatal(err)
	}
	cli.End(ResultOf("tools/call", []byte(`{"content":[],"isError":false}`), nil))
	srv.End(Result{})

	spans := ended(t, tp, 2)
	client, server := spans[0], spans[1]
	if server.Name() != "tools/call get-weather" || server.SpanKind() != trace.SpanKindServer {
		t.Errorf("server span %q %v", server.Name(), server.SpanKind())
	}
	if client.Name() != "tools/call get-weather" || client.SpanKind() != trace.SpanKindClient {
		t.Errorf("client span %q %v", client.Name(), client.SpanKind())
	}
	if server.Parent().SpanID().String() != "00f067aa0ba902b7" || !server.Parent().IsRemote() {
		t.Errorf("server parent = %v, want the client's span", server.Parent())
	}
	if client.Parent().SpanID() != server.SpanContext().SpanID() || client.SpanContext().TraceID() != server.SpanContext().TraceID() {
		t.Errorf("client span is not the server span's child")
	}
	wantServer := map[string]string{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "get-weather", "gen_ai.operation.name": "execute_tool",
		"jsonrpc.request.id": "7", "mcp.session.id": "sess-1", "mcp.protocol.version": "2024-11-05",
		"network.transport": "tcp", "network.protocol.name": "http", "network.protocol.version": "1.1",
		"client.address": "127.0.0.1", "client.port": "40000",
	}
	if got := attrMap(server.Attributes()); !reflect.DeepEqual(got, wantServer) {
		t.Errorf("server attributes\n got %v\nwant %v", got, wantServer)
	}
	wantClient := map[string]string{
		"mcp.method.name": "tools/call", "gen_ai.tool.name": "get-weather", "gen_ai.operation.name": "execute_tool",
		"jsonrpc.request.id": "b-1", "mcp.session.id": "up-9", "mcp.protocol.version": "2025-11-25", "network.transport": "pipe",
	}
	if got := attrMap(client.Attributes()); !reflect.DeepEqual(got, wantClient) {
		t.Errorf("client attributes\n got %v\nwant %v", got, wantClient)
	}
	for _, s := range spans {
		if s.Status().Code != codes.Unset {
			t.Errorf("%s status %v", s.Name(), s.Status())
		}
	}
	// The upstream server continues the trace from the client span.
	wantTP := "00-" + client.SpanContext().TraceID().String() + "-" + client.SpanContext().SpanID().String() + "-01"
	if got := ReadMeta(sent); got.Traceparent != wantTP {
		t.Errorf("traceparent sent upstream = %q, want %q", got.Traceparent, wantTP)
	}
	if want := `{"name":"get-weather","arguments":{"city":"Paris"},"_meta":{"progressToken":5,"traceparent":"` + wantTP + `"}}`; string(sent) != want {
		t.Errorf("params sent upstream\n got %s\nwant %s", sent, want)
	}

	rm := tp.collect(t)
	for _, name := range []string{MetricServerOperationDuration, MetricClientOperationDuration} {
		pts := histogram(t, rm, name)
		if len(pts) != 1 || pts[0].Count != 1 {
			t.Fatalf("%s: %d points", name, len(pts))
		}
		for _, kv := range pts[0].Attributes.ToSlice() {
			switch kv.Key {
			case AttrMCPSessionID, AttrJSONRPCRequestID, AttrClientAddress, AttrClientPort, AttrMCPResourceURI:
				t.Errorf("%s has attribute %s", name, kv.Key)
			}
		}
	}
}

func TestCallErrors(t *testing.T) {
	tests := []struct {
		name       string
		result     Result
		wantAttrs  map[string]string
		wantStatus sdktrace.Status
	}{
		{"json-rpc error", ResultOf("tools/call", nil, []byte(`{"code":-32602,"message":"Unknown tool"}`)),
			map[string]string{"error.type": "-32602", "rpc.response.status_code": "-32602"},
			sdktrace.Status{Code: codes.Error, Description: "Unknown tool"}},
		{"tool error", ResultOf("tools/call", []byte(`{"isError":true,"content":[]}`), nil),
			map[string]string{"error.type": "tool_error"}, sdktrace.Status{Code: codes.Error}},
		{"cancelled", Failure("cancelled", "client cancelled"),
			map[string]string{"error.type": "cancelled"}, sdktrace.Status{Code: codes.Error, Description: "client cancelled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := newTestProvider(t, sdktrace.AlwaysSample())
			_, call := tp.StartClient(context.Background(), Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"x"}`)})
			call.End(tt.result)
			call.End(Result{}) // ignored
			s := ended(t, tp, 1)[0]
			got := attrMap(s.Attributes())
			for k, v := range tt.wantAttrs {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if _, ok := got["rpc.response.status_code"]; ok && tt.result.StatusCode == "" {
				t.Errorf("rpc.response.status_code set without an error response")
			}
			if s.Status() != tt.wantStatus {
				t.Errorf("status = %v, want %v", s.Status(), tt.wantStatus)
			}
			pts := histogram(t, tp.collect(t), MetricClientOperationDuration)
			if len(pts) != 1 {
				t.Fatalf("%d points", len(pts))
			}
			if v, _ := pts[0].Attributes.Value(AttrErrorType); v.AsString() != tt.result.ErrorType {
				t.Errorf("metric error.type = %q", v.AsString())
			}
		})
	}
}

// TestSampledOut: with sampling 0 no span is recorded, the trace context
// sent upstream says "not sampled", and the metrics are still recorded.
func TestSampledOut(t *testing.T) {
	tp := newTestProvider(t, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)))
	ctx, srv := tp.StartServer(context.Background(), Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"x"}`)})
	cctx, cli := tp.StartClient(ctx, Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"x"}`)})
	if cli.Span().IsRecording() {
		t.Fatal("sampled-out span is recording")
	}
	sent, err := InjectMeta(cctx, []byte(`{"name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tpv := ReadMeta(sent).Traceparent; len(tpv) != 55 || tpv[53:] != "00" {
		t.Errorf("traceparent = %q, want flags 00", tpv)
	}
	cli.End(Result{})
	srv.End(Result{})
	ended(t, tp, 0)
	rm := tp.collect(t)
	if n := len(histogram(t, rm, MetricServerOperationDuration)); n != 1 {
		t.Errorf("server metric points = %d", n)
	}

	// A sampled parent in _meta is followed (parent-based).
	_, srv = tp.StartServer(context.Background(), Op{Method: "ping", ID: []byte("2"), Params: []byte(`{"_meta":{"traceparent":"` + tp1 + `"}}`)})
	srv.End(Result{})
	ended(t, tp, 1)
}

func TestNoopProvider(t *testing.T) {
	for name, p := range map[string]*Provider{"Noop": Noop(), "nil": nil} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			op := Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"x","_meta":{"traceparent":"` + tp1 + `"}}`)}
			verr := errors.New("x")
			allocs := testing.AllocsPerRun(100, func() {
				c2, call := p.StartServer(ctx, op)
				if c2 != ctx {
					t.Fatal("context changed")
				}
				call.End(Result{})
				_, v := p.StartValidation(ctx, ClientSide, "2025-11-25", "tools/call")
				v.End(verr)
				_, tr := p.StartTranslation(ctx, "a", "b", "m")
				tr.End(TranslationResult{Outcome: "forward"})
				p.Metrics().CacheLookup(ctx, "tools/list", true)
			})
			if name == "Noop" && allocs != 0 {
				t.Errorf("%v allocations per message with telemetry off", allocs)
			}
			if p.Tracing() || p.Metering() || p.PrometheusHandler() != nil {
				t.Errorf("noop provider reports telemetry on")
			}
			if err := p.Shutdown(ctx); err != nil {
				t.Error(err)
			}
			a := p.StartSession(ctx, Session{Side: ClientSide})
			a.End(ctx, "")
			_, span := p.StartEmulation(ctx, "pool_hit", "tools/call")
			EndSpan(span, nil)
		})
	}
}

func TestValidationSpan(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	ctx, parent := tp.StartServer(context.Background(), Op{Method: "tools/call", ID: []byte("1")})
	_, v := tp.StartValidation(ctx, ClientSide, "2024-11-05", "tools/call")
	v.End(nil)
	_, v = tp.StartValidation(ctx, ServerSide, "2025-11-25", "tools/call")
	v.End(errors.New("result: missing content"))
	v.End(errors.New("again")) // ignored
	parent.End(Result{})
	spans := ended(t, tp, 3)
	for _, s := range spans[:2] {
		if s.Name() != SpanValidate || s.SpanKind() != trace.SpanKindInternal || s.Parent().SpanID() != spans[2].SpanContext().SpanID() {
			t.Errorf("span %q kind %v parent %v", s.Name(), s.SpanKind(), s.Parent())
		}
	}
	if got := attrMap(spans[0].Attributes()); !reflect.DeepEqual(got, map[string]string{
		"mcp.method.name": "tools/call", "mcpbroker.revision": "2024-11-05", "mcpbroker.side": "client"}) {
		t.Errorf("attributes %v", got)
	}
	if spans[0].Status().Code != codes.Unset || spans[1].Status() != (sdktrace.Status{Code: codes.Error, Description: "result: missing content"}) {
		t.Errorf("statuses %v %v", spans[0].Status(), spans[1].Status())
	}
	pts := sum(t, tp.collect(t), MetricValidationFailures)
	if len(pts) != 1 || pts[0].Value != 1 {
		t.Fatalf("validation failures %v", pts)
	}
	if got := attrMap(pts[0].Attributes.ToSlice()); !reflect.DeepEqual(got, map[string]string{"mcpbroker.revision": "2025-11-25", "mcpbroker.side": "server"}) {
		t.Errorf("failure attributes %v", got)
	}
}

func TestTranslationSpan(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	_, tr := tp.StartTranslation(context.Background(), "2024-11-05", "2025-11-25", "tools/call")
	tr.End(TranslationResult{Outcome: "forward", Rows: []string{"1.F1", "3.M2"}, Lossy: []string{"3.M2 result.content[0]"}})
	tr.End(TranslationResult{Outcome: "drop"}) // ignored
	_, tr = tp.StartTranslation(context.Background(), "2025-11-25", "2024-11-05", "sampling/createMessage")
	tr.End(TranslationResult{Err: errors.New("no mapping")})
	spans := ended(t, tp, 2)
	want := map[string]string{
		"mcp.method.name": "tools/call", "mcpbroker.translation.from": "2024-11-05", "mcpbroker.translation.to": "2025-11-25",
		"mcpbroker.translation.outcome": "forward", "mcpbroker.translation.rows": `["1.F1","3.M2"]`,
		"mcpbroker.translation.lossy": `["3.M2 result.content[0]"]`,
	}
	if got := attrMap(spans[0].Attributes()); !reflect.DeepEqual(got, want) {
		t.Errorf("attributes\n got %v\nwant %v", got, want)
	}
	if spans[0].Name() != SpanTranslate || spans[0].SpanKind() != trace.SpanKindInternal {
		t.Errorf("span %q %v", spans[0].Name(), spans[0].SpanKind())
	}
	if spans[1].Status() != (sdktrace.Status{Code: codes.Error, Description: "no mapping"}) {
		t.Errorf("error status %v", spans[1].Status())
	}
	pts := sum(t, tp.collect(t), MetricTranslations)
	got := map[string]int64{}
	for _, p := range pts {
		pair, _ := p.Attributes.Value(AttrTranslationPair)
		out, _ := p.Attributes.Value(AttrTranslationOutcome)
		got[pair.AsString()+" "+out.AsString()] = p.Value
	}
	if want := map[string]int64{"2024-11-05->2025-11-25 forward": 1, "2025-11-25->2024-11-05 error": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("translations %v, want %v", got, want)
	}
}

func TestEmulationSpan(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	_, span := tp.StartEmulation(context.Background(), "mrtr_round", "tools/call")
	EndSpan(span, errors.New("client never answered"))
	s := ended(t, tp, 1)[0]
	if s.Name() != SpanEmulate || attrMap(s.Attributes())["mcpbroker.emulation"] != "mrtr_round" || s.Status().Code != codes.Error {
		t.Errorf("span %q %v %v", s.Name(), s.Attributes(), s.Status())
	}
}

func TestSessions(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	ctx, initSpan := tp.StartServer(context.Background(), Op{Method: "initialize", ID: []byte("0")})
	cs := tp.StartSession(ctx, Session{Side: ClientSide, ID: "c1", Revision: "2024-11-05", Transport: TransportTCP})
	us := tp.StartSession(ctx, Session{Side: ServerSide, ID: "u1", Revision: "2025-11-25", Transport: TransportPipe,
		ServerAddress: "srv", ServerPort: 1})
	initSpan.End(Result{})
	active := sum(t, tp.collect(t), MetricSessionsActive)
	if len(active) != 2 || active[0].Value+active[1].Value != 2 {
		t.Fatalf("active sessions %v", active)
	}
	// The client session ends while handling a request: an event there.
	ctx2, req := tp.StartServer(context.Background(), Op{Method: "ping", ID: []byte("1")})
	cs.End(ctx2, "")
	req.End(Result{})
	tp.sync(t) // the ping span ends before the session's own span
	// The upstream session ends with no span around: its own span.
	us.End(context.Background(), "exited")
	us.End(context.Background(), "again") // ignored

	spans := ended(t, tp, 3)
	initS, pingS, endS := spans[0], spans[1], spans[2]
	if ev := initS.Events(); len(ev) != 2 || ev[0].Name != EventSessionStart ||
		attrMap(ev[0].Attributes)["mcp.session.id"] != "c1" || attrMap(ev[1].Attributes)["mcpbroker.side"] != "server" {
		t.Errorf("initialize events %+v", initS.Events())
	}
	if ev := pingS.Events(); len(ev) != 1 || ev[0].Name != EventSessionEnd || attrMap(ev[0].Attributes)["mcp.session.id"] != "c1" {
		t.Errorf("ping events %+v", pingS.Events())
	}
	if endS.Name() != SpanSessionEnd || len(endS.Links()) != 1 || endS.Links()[0].SpanContext.SpanID() != initS.SpanContext().SpanID() ||
		attrMap(endS.Attributes())["error.type"] != "exited" || endS.Status().Code != codes.Error {
		t.Errorf("session end span %q links %v attrs %v", endS.Name(), endS.Links(), endS.Attributes())
	}
	rm := tp.collect(t)
	for _, c := range sum(t, rm, MetricSessionsActive) {
		if c.Value != 0 {
			t.Errorf("active sessions %v after both ended", c)
		}
	}
	srvPts := histogram(t, rm, MetricServerSessionDuration)
	cliPts := histogram(t, rm, MetricClientSessionDuration)
	if len(srvPts) != 1 || len(cliPts) != 1 {
		t.Fatalf("session duration points %d %d", len(srvPts), len(cliPts))
	}
	got := attrMap(cliPts[0].Attributes.ToSlice())
	want := map[string]string{"mcp.protocol.version": "2025-11-25", "network.transport": "pipe", "server.address": "srv", "server.port": "1", "error.type": "exited"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("client session attributes\n got %v\nwant %v", got, want)
	}
	keys := make([]string, 0)
	for k := range attrMap(srvPts[0].Attributes.ToSlice()) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(keys, []string{"mcp.protocol.version", "network.transport"}) {
		t.Errorf("server session attributes %v", keys)
	}
}

// uncomparableCtx is a context whose dynamic type cannot be compared
// with ==: StartServer must not compare contexts.
type uncomparableCtx struct {
	context.Context
	_ []int
}

func TestStartServerUncomparableContext(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	ctx := uncomparableCtx{Context: context.Background()}
	for _, params := range []string{`{}`, `{"_meta":{"traceparent":"` + tp1 + `"}}`} {
		_, call := tp.StartServer(ctx, Op{Method: "ping", ID: []byte("1"), Params: []byte(params)})
		call.End(Result{})
	}
	ended(t, tp, 2)
}

// TestLateEnds: what ends under an open SERVER call (its CLIENT call, a
// validation, a translation) is exported and measured when the SERVER
// call ends, with the time it ended at; once the SERVER call has ended,
// spans under it end at once.
func TestLateEnds(t *testing.T) {
	tp := newTestProvider(t, sdktrace.AlwaysSample())
	op := Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"x"}`)}
	ctx, srv := tp.StartServer(context.Background(), op)
	_, v := tp.StartValidation(ctx, ClientSide, "2025-11-25", "tools/call")
	v.End(errors.New("bad"))
	_, tr := tp.StartTranslation(ctx, "2025-11-25", "2024-11-05", "tools/call")
	tr.End(TranslationResult{Outcome: "forward", Rows: []string{"1.F1"}})
	_, cli := tp.StartClient(ctx, op)
	cli.End(RPCError(-32603, "boom"))
	cliEnd := time.Now()
	ended(t, tp, 0)
	time.Sleep(10 * time.Millisecond)
	srv.End(Result{})
	spans := ended(t, tp, 4)
	for _, sp := range spans[:3] {
		if sp.StartTime().Before(spans[3].StartTime()) || sp.StartTime().After(sp.EndTime()) {
			t.Errorf("%s spans %v to %v, outside its parent's start %v", sp.Name(), sp.StartTime(), sp.EndTime(), spans[3].StartTime())
		}
		if sp.EndTime().After(cliEnd) {
			t.Errorf("%s ended at %v, after its End (%v)", sp.Name(), sp.EndTime(), cliEnd)
		}
		if sp.Parent().SpanID() != spans[3].SpanContext().SpanID() {
			t.Errorf("%s is not a child of the SERVER span", sp.Name())
		}
	}
	if a := attrMap(spans[1].Attributes()); a[string(AttrTranslationOutcome)] != "forward" || a[string(AttrMCPMethodName)] != "tools/call" {
		t.Errorf("translation attributes %v", a)
	}
	if a := attrMap(spans[2].Attributes()); a[string(AttrErrorType)] != "-32603" {
		t.Errorf("client attributes %v", a)
	}
	rm := tp.collect(t)
	if p := histogram(t, rm, MetricClientOperationDuration); len(p) != 1 || p[0].Sum >= 0.01 {
		t.Errorf("client duration %+v: want one measurement ending at its End", p)
	}
	if s := sum(t, rm, MetricTranslations); len(s) != 1 || s[0].Value != 1 {
		t.Errorf("translations %+v", s)
	}
	if s := sum(t, rm, MetricValidationFailures); len(s) != 1 || s[0].Value != 1 {
		t.Errorf("validation failures %+v", s)
	}

	// After the SERVER call: at once.
	_, v = tp.StartValidation(ctx, ServerSide, "2024-11-05", "tools/call")
	v.End(nil)
	ended(t, tp, 5)
}
