package relay

import (
	"context"
	"net/http"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcpbroker/mcpbroker/broker/cache"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/telemetry/spantest"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// tracedProvider is a telemetry provider recording into a span sink.
func tracedProvider(t *testing.T) (*telemetry.Provider, *spanSink) {
	t.Helper()
	sink := newSpanSink()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider()
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	p, err := telemetry.NewProvider(tp, mp)
	if err != nil {
		t.Fatal(err)
	}
	return p, sink
}

// awaitOne waits for exactly one span of that kind, name and attributes.
func (s *spanSink) awaitOne(t *testing.T, kind trace.SpanKind, name string, want map[string]string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := s.Await(t, kind.String()+" "+name, func(sp []sdktrace.ReadOnlySpan) bool {
		return len(find(sp, kind, name, match(want))) > 0
	})
	return one(t, spans, kind, name, match(want))
}

// awaitChild waits for exactly one span of that kind and name, child of
// parent, with the attributes want.
func (s *spanSink) awaitChild(t *testing.T, kind trace.SpanKind, name string, parent sdktrace.ReadOnlySpan, want map[string]string) sdktrace.ReadOnlySpan {
	t.Helper()
	pid := parent.SpanContext().SpanID()
	under := func(sp []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
		var out []sdktrace.ReadOnlySpan
		for _, x := range find(sp, kind, name, match(want)) {
			if x.Parent().SpanID() == pid {
				out = append(out, x)
			}
		}
		return out
	}
	spans := s.Await(t, kind.String()+" "+name, func(sp []sdktrace.ReadOnlySpan) bool { return len(under(sp)) > 0 })
	got := under(spans)
	if len(got) != 1 {
		t.Fatalf("want one %s span %q under %q, got %d:\n%s", kind, name, parent.Name(), len(got), spantest.Describe(spans))
	}
	return got[0]
}

// wantTraceparent checks that a message's params._meta.traceparent names
// span.
func wantTraceparent(t *testing.T, what string, o obj, span sdktrace.ReadOnlySpan) {
	t.Helper()
	want := `"00-` + span.SpanContext().TraceID().String() + `-` + span.SpanContext().SpanID().String() + `-01"`
	wantEq(t, what+" traceparent", get(o, "params", "_meta", "traceparent"), want)
}

var ownAttrs = map[string]string{"mcpbroker.origin": "broker", "network.transport": "pipe"}

// TestTelemetryBrokerInitialize: the broker's initialize toward the
// upstream is a CLIENT span marked mcpbroker.origin=broker, child of the
// client's initialize, with the offered revision, and the server receives
// its context.
func TestTelemetryBrokerInitialize(t *testing.T) {
	p, sink := tracedProvider(t)
	h := start(t, Config{Validator: testValidator(t), Telemetry: p})
	_, serverSaw := h.handshake("2024-11-05", "2025-11-25", "2025-11-25", capsSampling, `{"tools":{}}`)
	client := sink.awaitOne(t, trace.SpanKindClient, "initialize", with(ownAttrs,
		"mcp.method.name", "initialize", "mcp.protocol.version", "2025-11-25", "jsonrpc.request.id", "1"))
	server := sink.awaitOne(t, trace.SpanKindServer, "initialize", nil)
	wantChild(t, client, server)
	wantTraceparent(t, "upstream initialize", serverSaw, client)
	if attrs(server)["mcpbroker.origin"] != "" {
		t.Errorf("the client's initialize is marked as the broker's own")
	}
}

// TestTelemetryBrokerRestart: after the upstream is lost, the request that
// restarts it is the parent of the broker's initialize and
// notifications/initialized to the new upstream (both origin broker), and
// of the forwarded request, which is not marked.
func TestTelemetryBrokerRestart(t *testing.T) {
	p, sink := tracedProvider(t)
	h := start(t, Config{Validator: testValidator(t), Telemetry: p})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(`{"jsonrpc":"2.0","id":"sub","method":"resources/subscribe","params":{"uri":"file:///a"}}`)
	sub := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(sub["id"]) + `,"result":{}}`)
	h.client.recvObj()
	h.loseUpstream()

	h.client.send(toolCall)
	srv := <-h.redials
	init := srv.recvObj()
	srv.send(`{"jsonrpc":"2.0","id":` + str(init["id"]) + `,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"s","version":"2"}}}`)
	note := srv.recvObj()
	wantEq(t, "after initialize", note["method"], `"notifications/initialized"`)
	replay := srv.recvObj()
	wantEq(t, "replayed", replay["method"], `"resources/subscribe"`)
	srv.send(`{"jsonrpc":"2.0","id":` + str(replay["id"]) + `,"result":{}}`)
	call := srv.recvObj()
	wantEq(t, "forwarded", call["method"], `"tools/call"`)
	srv.send(`{"jsonrpc":"2.0","id":` + str(call["id"]) + `,"result":{"content":[]}}`)
	h.client.recvAnswer()

	cause := sink.awaitOne(t, trace.SpanKindServer, "tools/call echo", nil)
	for _, tc := range []struct {
		name string
		saw  obj
	}{
		{"initialize", init},
		{"notifications/initialized", note},
		{"resources/subscribe", replay},
	} {
		sp := sink.awaitChild(t, trace.SpanKindClient, tc.name, cause, with(ownAttrs, "mcp.protocol.version", "2025-11-25", "mcp.method.name", tc.name))
		wantTraceparent(t, tc.name, tc.saw, sp)
	}
	sink.awaitChild(t, trace.SpanKindClient, "resources/subscribe", cause, with(ownAttrs, "mcp.resource.uri", "file:///a"))
	// The client hears of what may have changed meanwhile (4.T8), in
	// notifications of the broker's own.
	sink.awaitChild(t, trace.SpanKindClient, "notifications/resources/updated", cause, with(ownAttrs, "mcp.resource.uri", "file:///a"))
	forwarded := sink.awaitOne(t, trace.SpanKindClient, "tools/call echo", nil)
	if attrs(forwarded)["mcpbroker.origin"] != "" {
		t.Errorf("a forwarded request is marked as the broker's own")
	}
}

// TestTelemetryBrokerStateless: toward a 2026-07-28 upstream, the broker's
// server/discover and subscriptions/listen are CLIENT spans of origin
// broker under the client's initialize, and its tools/list refresh (4.T5)
// is one under the tools/call that needed it.
func TestTelemetryBrokerStateless(t *testing.T) {
	p, sink := tracedProvider(t)
	up := &headerConn{carries: true, sent: map[string]http.Header{}}
	h := start(t, Config{Validator: testValidator(t), UpstreamRevision: schemas.V20260728, Telemetry: p},
		withWrapUp(func(c transport.Conn) transport.Conn {
			up.Conn = c
			return up
		}))
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	d := h.server.recvObj()
	wantEq(t, "probe", d["method"], `"server/discover"`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{"listChanged":true}},"ttlMs":0,"cacheScope":"private"}}`)
	listen := h.server.recvObj()
	wantEq(t, "listen", listen["method"], `"subscriptions/listen"`)
	h.client.recvObj()

	h.client.send(`{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"route","arguments":{"region":"eu"}}}`)
	list := h.server.recvObj()
	answerList(t, h, list, "", routeTool("Region", "Priority", "Urgent"))
	call := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(call["id"]) + `,"result":{"resultType":"complete","content":[]}}`)
	h.client.recvObj()

	initSpan := sink.awaitOne(t, trace.SpanKindServer, "initialize", nil)
	// (headerConn carries headers: an HTTP upstream.)
	rev := map[string]string{"mcpbroker.origin": "broker", "mcp.protocol.version": "2026-07-28", "network.transport": "tcp"}
	discover := sink.awaitOne(t, trace.SpanKindClient, "server/discover", rev)
	wantChild(t, discover, initSpan)
	wantTraceparent(t, "server/discover", d, discover)
	// The listen stays open: its span ends with the session.
	h.cancel()
	h.wait()
	ls := sink.awaitOne(t, trace.SpanKindClient, "subscriptions/listen", rev)
	wantChild(t, ls, initSpan)
	wantTraceparent(t, "subscriptions/listen", listen, ls)
	ts := sink.awaitOne(t, trace.SpanKindClient, "tools/list", rev)
	wantChild(t, ts, sink.awaitOne(t, trace.SpanKindServer, "tools/call route", nil))
	wantTraceparent(t, "tools/list", list, ts)
}

// TestTelemetryServerNotification: a notification of the server gets a
// SERVER span (its parent from the notification's _meta) and a CLIENT
// span toward the client, whose context replaces the server's in the
// notification the client receives.
func TestTelemetryServerNotification(t *testing.T) {
	p, sink := tracedProvider(t)
	h := start(t, Config{Validator: testValidator(t), Telemetry: p})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	const serverTrace, serverSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hello","_meta":{"traceparent":"00-` +
		serverTrace + `-` + serverSpan + `-01"}}}`)
	got := h.client.recvObj()
	wantEq(t, "notification", got["method"], `"notifications/message"`)
	wantEq(t, "data kept", get(got, "params", "data"), `"hello"`)

	recv := sink.awaitOne(t, trace.SpanKindServer, "notifications/message", map[string]string{
		"mcp.method.name": "notifications/message", "mcp.protocol.version": "2025-11-25", "network.transport": "pipe"})
	if pc := recv.Parent(); pc.TraceID().String() != serverTrace || pc.SpanID().String() != serverSpan {
		t.Errorf("SERVER parent %s/%s, want the server's %s/%s", pc.TraceID(), pc.SpanID(), serverTrace, serverSpan)
	}
	send := sink.awaitOne(t, trace.SpanKindClient, "notifications/message", nil)
	wantChild(t, send, recv)
	wantTraceparent(t, "client notification", got, send)
	if attrs(send)["mcpbroker.origin"] != "" {
		t.Errorf("a relayed notification is marked as the broker's own")
	}
}

// peerConn is a Conn of an HTTP transport, as far as its peer goes.
type peerConn struct {
	transport.Conn
	peer transport.Peer
}

func (c peerConn) Peer() transport.Peer { return c.peer }

// TestTelemetryNetworkAttributes: over HTTP, SERVER spans of client
// messages carry client.address and .port, upstream CLIENT spans
// server.address and .port, both network.protocol.name and .version;
// over stdio none of them.
func TestTelemetryNetworkAttributes(t *testing.T) {
	netKeys := []string{"client.address", "client.port", "server.address", "server.port", "network.protocol.name", "network.protocol.version"}
	for _, tc := range []struct {
		name               string
		opts               []harnessOption
		wantServer, wantUp map[string]string
	}{
		{"http", []harnessOption{
			withWrapClient(func(c transport.Conn) transport.Conn {
				return peerConn{c, transport.Peer{Address: "192.0.2.7", Port: 51234, ProtocolVersion: "1.1"}}
			}),
			withWrapUp(func(c transport.Conn) transport.Conn {
				return peerConn{c, transport.Peer{Address: "mcp.example.com", Port: 8443, ProtocolVersion: "2"}}
			}),
		}, map[string]string{
			"network.transport": "tcp", "client.address": "192.0.2.7", "client.port": "51234",
			"network.protocol.name": "http", "network.protocol.version": "1.1", "server.address": "",
		}, map[string]string{
			"network.transport": "tcp", "server.address": "mcp.example.com", "server.port": "8443",
			"network.protocol.name": "http", "network.protocol.version": "2", "client.address": "",
		}},
		{"stdio", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startTraced(t, tc.opts...)
			h.client.send(toolCall)
			up := h.server.recvObj()
			h.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"content":[]}}`)
			h.client.recvObj()
			server := h.spans.awaitOne(t, trace.SpanKindServer, "tools/call echo", nil)
			client := h.spans.awaitOne(t, trace.SpanKindClient, "tools/call echo", nil)
			if tc.wantServer == nil {
				for _, sp := range []sdktrace.ReadOnlySpan{server, client} {
					for _, k := range netKeys {
						if v, ok := attrs(sp)[k]; ok {
							t.Errorf("%s span over stdio has %s = %q", sp.SpanKind(), k, v)
						}
					}
					wantAttrs(t, sp, map[string]string{"network.transport": "pipe"})
				}
				return
			}
			wantAttrs(t, server, tc.wantServer)
			wantAttrs(t, client, tc.wantUp)
		})
	}
}

// TestTelemetryBrokerCancellation: the notifications/cancelled the broker
// sends upstream for a request that timed out is a CLIENT span of origin
// broker under that request's SERVER span, its context in the
// notification's _meta.
func TestTelemetryBrokerCancellation(t *testing.T) {
	p, sink := tracedProvider(t)
	h := start(t, Config{Validator: testValidator(t), Telemetry: p, RequestTimeout: 20 * time.Millisecond})
	h.handshake("2025-11-25", "2025-11-25", "2025-11-25", capsSampling, capsServer)
	h.client.send(toolCall)
	h.server.recvObj()
	wantEq(t, "timeout", errorCode(h.client.recvObj()), `-32001`)
	cancel := h.server.recvObj()
	wantEq(t, "cancellation", cancel["method"], `"notifications/cancelled"`)
	call := sink.awaitOne(t, trace.SpanKindServer, "tools/call echo", nil)
	sp := sink.awaitChild(t, trace.SpanKindClient, "notifications/cancelled", call, with(ownAttrs, "mcp.protocol.version", "2025-11-25"))
	wantTraceparent(t, "notifications/cancelled", cancel, sp)
}

// sessionIDConn is a Conn that has a session id, as every Conn the
// upstream pool wraps says it has.
type sessionIDConn struct{ transport.Conn }

func (sessionIDConn) SessionID() string { return "" }

// addressedConn is sessionIDConn that also says where its peer is.
type addressedConn struct {
	sessionIDConn
	peer transport.Peer
}

func (c addressedConn) Peer() transport.Peer { return c.peer }

// TestConnTransport: a Conn naming a peer address is tcp, one that
// implements transport.PeerAddresser without an address (the pool's
// wrapper of a stdio upstream) is a pipe whatever else it implements.
func TestConnTransport(t *testing.T) {
	for _, tc := range []struct {
		name string
		conn transport.Conn
		want telemetry.Transport
	}{
		{"plain pipe", &memConn{}, telemetry.TransportPipe},
		{"session id, no peer interface", sessionIDConn{&memConn{}}, telemetry.TransportTCP},
		{"wrapped stdio", addressedConn{sessionIDConn{&memConn{}}, transport.Peer{}}, telemetry.TransportPipe},
		{"http", addressedConn{sessionIDConn{&memConn{}}, transport.Peer{Address: "127.0.0.1", Port: 8080}}, telemetry.TransportTCP},
	} {
		if got := connTransport(tc.conn); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTelemetryEmulation: work the relay does in the server's place gets an
// INTERNAL mcpbroker.emulate span under the client request's SERVER span:
// a ping (hop by hop) and a logging/setLevel a 2026-07-28 server has no
// method for are answered by the broker (synthetic_answer), and an InputRequiredResult becomes a server-to-client
// request of the client's revision (mrtr_round, 4.M6).
func TestTelemetryEmulation(t *testing.T) {
	p, sink := tracedProvider(t)
	h := start(t, Config{Validator: testValidator(t), UpstreamRevision: schemas.V20260728, Telemetry: p})
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"sampling":{}},"clientInfo":{"name":"c","version":"1"}}}`)
	d := h.server.recvObj()
	wantEq(t, "probe", d["method"], `"server/discover"`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private"}}`)
	h.client.recvObj()

	h.client.send(`{"jsonrpc":"2.0","id":"p1","method":"ping"}`)
	wantEq(t, "ping answered", h.client.recvObj()["id"], `"p1"`)
	answer := sink.awaitOne(t, trace.SpanKindInternal, telemetry.SpanEmulate, map[string]string{
		"mcpbroker.emulation": telemetry.EmulationSyntheticAnswer, "mcp.method.name": "ping"})
	wantChild(t, answer, sink.awaitOne(t, trace.SpanKindServer, "ping", nil))
	// 4.M2: a 2026-07-28 server has no logging/setLevel; the broker keeps
	// the level for later requests' _meta and answers.
	h.client.send(`{"jsonrpc":"2.0","id":"l1","method":"logging/setLevel","params":{"level":"error"}}`)
	wantEq(t, "setLevel answered", h.client.recvObj()["id"], `"l1"`)
	level := sink.awaitOne(t, trace.SpanKindInternal, telemetry.SpanEmulate, map[string]string{
		"mcpbroker.emulation": telemetry.EmulationSyntheticAnswer, "mcp.method.name": "logging/setLevel"})
	wantChild(t, level, sink.awaitOne(t, trace.SpanKindServer, "logging/setLevel", nil))

	h.client.send(`{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"ask","arguments":{}}}`)
	call := h.server.recvObj()
	h.server.send(`{"jsonrpc":"2.0","id":` + str(call["id"]) + `,"result":{"resultType":"input_required","inputRequests":{"q":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"hi"}}],"maxTokens":5}}},"requestState":"s1"}}`)
	ask := h.client.recvObj()
	wantEq(t, "input request", ask["method"], `"sampling/createMessage"`)
	h.client.send(`{"jsonrpc":"2.0","id":` + str(ask["id"]) + `,"result":{"role":"assistant","content":{"type":"text","text":"yo"},"model":"m"}}`)
	again := h.server.recvObj()
	wantEq(t, "retry", again["method"], `"tools/call"`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(again["id"]) + `,"result":{"resultType":"complete","content":[]}}`)
	wantEq(t, "tools/call answered", h.client.recvObj()["id"], `"c1"`)
	round := sink.awaitOne(t, trace.SpanKindInternal, telemetry.SpanEmulate, map[string]string{
		"mcpbroker.emulation": telemetry.EmulationMRTRRound, "mcp.method.name": "tools/call"})
	wantChild(t, round, sink.awaitOne(t, trace.SpanKindServer, "tools/call ask", nil))
}

// TestTelemetryEmulationCacheAndTask: a result served from the response
// cache (4.F2) and a tasks request the broker runs for a 2025-11-25 client
// (4.M5) each get an mcpbroker.emulate span under their SERVER span.
func TestTelemetryEmulationCacheAndTask(t *testing.T) {
	t.Run(telemetry.EmulationCacheHit, func(t *testing.T) {
		p, sink := tracedProvider(t)
		s := startCached(t, Config{Cache: cache.New(cache.Options{}), CacheUpstream: "u", Telemetry: p}, "2025-11-25", "")
		s.fetch(`1`, "tools/list", `{}`, withHints(tools26, "60000", "private"))
		s.hit(`"two"`, "tools/list", `{}`)
		em := sink.awaitOne(t, trace.SpanKindInternal, telemetry.SpanEmulate, map[string]string{
			"mcpbroker.emulation": telemetry.EmulationCacheHit, "mcp.method.name": "tools/list"})
		wantChild(t, em, sink.awaitOne(t, trace.SpanKindServer, "tools/list", map[string]string{"jsonrpc.request.id": "two"}))
	})
	t.Run(telemetry.EmulationTask, func(t *testing.T) {
		p, sink := tracedProvider(t)
		th := startTasks(t, Config{Telemetry: p}, "2025-11-25")
		taskID, _ := th.createTask("c1", "echo", "60000")
		th.taskCall("g1", "tasks/get", taskID)
		em := sink.awaitOne(t, trace.SpanKindInternal, telemetry.SpanEmulate, map[string]string{
			"mcpbroker.emulation": telemetry.EmulationTask, "mcp.method.name": "tasks/get"})
		wantChild(t, em, sink.awaitOne(t, trace.SpanKindServer, "tasks/get", nil))
	})
}
