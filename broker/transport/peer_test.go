package transport

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// TestPeer: the Conns of the HTTP transports say where their peer is:
// the upstream's host and port from its URL and the HTTP version of its
// answers on the client side, the remote address of the client's requests
// on the server side.
func TestPeer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (client, server Conn, u *url.URL)
	}{
		{"Streamable HTTP", func(t *testing.T) (Conn, Conn, *url.URL) {
			ts, ps := serve(t, NewHTTPServer(nil), nil)
			c := dialHTTP(t, ts.URL, nil)
			send(t, c, initReq)
			expect(t, c, jsonrpc.KindResult, "1", "1")
			u, _ := url.Parse(ts.URL)
			return c, ps.next(t).conn, u
		}},
		{"HTTP+SSE", func(t *testing.T) (Conn, Conn, *url.URL) {
			ts, ps := serveLegacy(t, nil)
			c := dialSSE(t, ts.URL+"/sse")
			p := ps.next(t)
			send(t, c, initReq)
			expect(t, c, jsonrpc.KindResult, "1", "1")
			u, _ := url.Parse(ts.URL)
			return c, p.conn, u
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server, u := tc.start(t)
			port, _ := strconv.Atoi(u.Port())
			want := Peer{Address: "127.0.0.1", Port: port, ProtocolVersion: "1.1"}
			if got := client.(PeerAddresser).Peer(); got != want {
				t.Errorf("client's peer %+v, want the server's %+v", got, want)
			}
			got := server.(PeerAddresser).Peer()
			if got.Address != "127.0.0.1" || got.Port == 0 || got.Port == port || got.ProtocolVersion != "1.1" {
				t.Errorf("server's peer %+v, want the client's 127.0.0.1:<its port> over HTTP/1.1", got)
			}
		})
	}
}

func TestPeerEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Peer
	}{
		{"http://mcp.example.com/mcp", Peer{Address: "mcp.example.com", Port: 80}},
		{"https://mcp.example.com/mcp", Peer{Address: "mcp.example.com", Port: 443}},
		{"https://[2001:db8::1]:8443/mcp", Peer{Address: "2001:db8::1", Port: 8443}},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		var pi peerInfo
		pi.seeEndpoint(u)
		if got := pi.Peer(); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

// TestPeerNoAlloc: recording the same client again, and reading the peer,
// cost no allocation (every POST of a session records its client).
func TestPeerNoAlloc(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "http://broker.example/mcp", nil)
	r.RemoteAddr = "192.0.2.7:51234"
	var pi peerInfo
	pi.seeRequest(r)
	resp := &http.Response{ProtoMajor: 1, ProtoMinor: 1}
	if n := testing.AllocsPerRun(100, func() {
		pi.seeRequest(r)
		_ = pi.Peer()
	}); n != 0 {
		t.Errorf("seeRequest of a known client: %v allocations, want 0", n)
	}
	var up peerInfo
	up.seeResponse(resp)
	if n := testing.AllocsPerRun(100, func() { up.seeResponse(resp) }); n != 0 {
		t.Errorf("seeResponse of a known version: %v allocations, want 0", n)
	}
	if got := pi.Peer(); got != (Peer{Address: "192.0.2.7", Port: 51234, ProtocolVersion: "1.1"}) {
		t.Errorf("peer %+v", got)
	}
}

// TestHTTP2026RequestPeer: the stateless server's Conn tells the client
// of each pending request; the client's Conn its server.
func TestHTTP2026RequestPeer(t *testing.T) {
	ts, _, conn := serve26(t, nil)
	got := relay26(t, conn)
	c := dial26(t, ts.URL)
	send(t, c, req26Body(`7`, "tools/call", `"name":"echo",`))
	m := next(t, got)
	p, ok := conn.(RequestPeerer).RequestPeer(m.ID)
	if !ok || p.Address != "127.0.0.1" || p.Port == 0 || p.ProtocolVersion != "1.1" {
		t.Errorf("RequestPeer = %+v, %v; want 127.0.0.1:<port> over HTTP/1.1", p, ok)
	}
	if _, ok := conn.(RequestPeerer).RequestPeer(json.RawMessage(`"nope"`)); ok {
		t.Errorf("RequestPeer of no pending request: ok")
	}
	u, _ := url.Parse(ts.URL)
	port, _ := strconv.Atoi(u.Port())
	if cp := c.(PeerAddresser).Peer(); cp.Address != "127.0.0.1" || cp.Port != port {
		t.Errorf("client's peer %+v, want 127.0.0.1:%d", cp, port)
	}
}
