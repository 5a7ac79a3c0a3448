package relay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// autoInit is a client initialize for the auto tests.
const autoInit = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"c","version":"1"}}}`

// discoverResult is a DiscoverResult listing the versions (JSON array).
func discoverResult(id, versions string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"result":{"resultType":"complete","supportedVersions":` + versions +
		`,"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s26","version":"2"}}}}`
}

// legacyHandshake plays a legacy server's side of the handshake after the
// probe on p: the initialize (offering the newest legacy revision), its
// answer, and notifications/initialized; it checks the client's result.
func legacyHandshake(t *testing.T, h *harness, p *peer) {
	t.Helper()
	init := p.recvObj()
	wantEq(t, "fallback", init["method"], `"initialize"`)
	wantEq(t, "offered", get(init, "params", "protocolVersion"), `"2025-11-25"`)
	wantEq(t, "client info kept", get(init, "params", "clientInfo", "name"), `"c"`)
	p.send(`{"jsonrpc":"2.0","id":` + str(init["id"]) + `,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"old","version":"1"}}}`)
	res := h.client.recv()
	checkValid(t, schemas.V20250618, res.Raw, schemas.FromServer, "initialize")
	o := decode(t, res.Raw).(obj)
	wantEq(t, "client's result id", o["id"], `0`)
	wantEq(t, "server info", get(o, "result", "serverInfo", "name"), `"old"`)
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	wantEq(t, "initialized", p.recvObj()["method"], `"notifications/initialized"`)
	// The session is legacy: a request goes without 2026 _meta.
	h.client.send(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
	req := p.recvObj()
	wantEq(t, "request", req["method"], `"tools/list"`)
	if get(req, "params", "_meta") != nil {
		t.Errorf("a legacy session's request carries _meta: %v", req)
	}
	p.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"tools":[]}}`)
	wantEq(t, "answer", h.client.recvObj()["id"], `"l"`)
}

// Test4L3AutoDetect: with UpstreamAuto the broker probes with
// server/discover (with the client's 2026 _meta) and decides by the
// answer: a DiscoverResult listing 2026-07-28 makes the session
// stateless; a recognised 2026 error fails the handshake; anything else,
// or no answer in time, is a legacy server, which gets initialize on the
// same connection.
func Test4L3AutoDetect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer string // the answer to the probe ("" for none); %ID% is its id
		want   string // "modern", "legacy" or "fail"
	}{
		{"DiscoverResult", discoverResult(`%ID%`, `["2026-07-28"]`), "modern"},
		{"DiscoverResult among others", discoverResult(`%ID%`, `["2025-11-25","2026-07-28"]`), "modern"},
		{"DiscoverResult without 2026-07-28", discoverResult(`%ID%`, `["2027-01-01"]`), "legacy"},
		{"not a DiscoverResult", `{"jsonrpc":"2.0","id":%ID%,"result":{}}`, "legacy"},
		{"method not found", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32601,"message":"Method not found: server/discover"}}`, "legacy"},
		{"before initialize", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32600,"message":"Invalid Request: server/discover before initialize"}}`, "legacy"},
		{"names initialize", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32000,"message":"Server not initialized: send initialize first"}}`, "legacy"},
		{"HTTP 400 without a 2026 error", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32603,"message":"HTTP 400","data":{"status":400,"body":"Bad Request"}}}`, "legacy"},
		{"-32022 without 2026-07-28", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2025-11-25"],"requested":"2026-07-28"}}}`, "legacy"},
		{"-32022 with 2026-07-28", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32022,"message":"Unsupported protocol version","data":{"supported":["2026-07-28"],"requested":"2026-07-28"}}}`, "fail"},
		{"-32021", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32021,"message":"Missing required client capability","data":{"requiredCapabilities":{"elicitation":{}}}}}`, "fail"},
		{"-32020", `{"jsonrpc":"2.0","id":%ID%,"error":{"code":-32020,"message":"Header mismatch"}}`, "fail"},
		{"no answer", "", "legacy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Config{Validator: testValidator(t), UpstreamAuto: true, ProbeTimeout: 200 * time.Millisecond})
			h.client.send(autoInit)
			d := h.server.recvObj()
			wantEq(t, "probe", d["method"], `"server/discover"`)
			wantEq(t, "probe id", d["id"], `1`)
			wantEq(t, "probe version", get(d, "params", "_meta", metaProtocolVersion), `"2026-07-28"`)
			wantEq(t, "probe capabilities", get(d, "params", "_meta", metaClientCapabilities), `{"sampling":{}}`)
			checkValid(t, schemas.V20260728, mustJSON(t, d), schemas.FromClient, "")
			if tc.answer != "" {
				h.server.send(strings.ReplaceAll(tc.answer, "%ID%", str(d["id"])))
			}
			switch tc.want {
			case "modern":
				init := h.client.recvObj()
				wantEq(t, "serverInfo from discover", get(init, "result", "serverInfo", "name"), `"s26"`)
				h.client.send(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
				req := h.server.recvObj()
				wantEq(t, "stateless request", get(req, "params", "_meta", metaProtocolVersion), `"2026-07-28"`)
			case "legacy":
				legacyHandshake(t, h, h.server)
				if tc.answer == "" {
					// The late answer to the probe is dropped.
					h.server.send(strings.ReplaceAll(discoverResult(`%ID%`, `["2026-07-28"]`), "%ID%", str(d["id"])))
					h.client.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
					wantEq(t, "after the late answer", h.client.recvObj()["id"], `"p"`)
				}
			case "fail":
				e := h.client.recvObj()
				wantEq(t, "failed initialize", e["id"], `0`)
				if errorCode(e) == nil {
					t.Errorf("no error: %v", e)
				}
				if err := h.wait(); !errors.Is(err, ErrHandshake) {
					t.Errorf("Run = %v, want ErrHandshake", err)
				}
			}
		})
	}
}

// Test4L3AutoLegacyDial: when the probe over one transport finds a legacy
// server, the legacy handshake goes over a connection from LegacyDial
// (HTTP: the 2026 client probes, the legacy one initializes) and the
// probed connection is closed. An EraCache shared with a later session
// makes it initialize at once, without a probe.
func Test4L3AutoLegacyDial(t *testing.T) {
	eras := &EraCache{}
	legacyUps := make(chan *peer, 2)
	cfg := Config{Validator: testValidator(t), UpstreamAuto: true, Eras: eras}
	cfg.LegacyDial = func(context.Context) (transport.Conn, error) {
		serverEnd, up := newPipe()
		legacyUps <- &peer{tb: t, name: "legacy server", conn: serverEnd}
		return up, nil
	}
	h := start(t, cfg)
	h.client.send(autoInit)
	d := h.server.recvObj()
	wantEq(t, "probe", d["method"], `"server/discover"`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"error":{"code":-32600,"message":"Bad Request: missing Mcp-Session-Id header"}}`)
	legacy := <-legacyUps
	legacyHandshake(t, h, legacy)
	h.server.expectEOF() // the probed connection is closed
	if !eras.Legacy() {
		t.Error("the EraCache does not know the upstream is legacy")
	}

	// A second session: no probe, the legacy connection at once.
	h2 := start(t, cfg)
	h2.client.send(autoInit)
	legacyHandshake(t, h2, <-legacyUps)
	if h2.wasDialed() {
		t.Error("the session with a known legacy upstream dialed the probing transport")
	}

	// A 2026 server found later clears it.
	eras.set(false)
	h3 := start(t, cfg)
	h3.client.send(autoInit)
	d = h3.server.recvObj()
	h3.server.send(discoverResult(str(d["id"]), `["2026-07-28"]`))
	wantEq(t, "modern", get(h3.client.recvObj(), "result", "serverInfo", "name"), `"s26"`)
	if eras.Legacy() {
		t.Error("EraCache still says legacy after a 2026 server answered")
	}
}

// Test4L3AutoConfig: UpstreamAuto needs a legacy revision to offer and a
// probe timeout that is not negative.
func Test4L3AutoConfig(t *testing.T) {
	for _, cfg := range []Config{
		{UpstreamAuto: true, UpstreamRevision: schemas.V20260728},
		{UpstreamAuto: true, ProbeTimeout: -time.Second},
	} {
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	c, err := Config{UpstreamAuto: true, UpstreamRevision: schemas.V20250618}.withDefaults()
	if err != nil || c.ProbeTimeout != DefaultProbeTimeout || c.UpstreamRevision != schemas.V20250618 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}
