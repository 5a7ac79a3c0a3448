package transport

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
)

// Peer is the network peer of a Conn of the HTTP transports, for the
// telemetry attributes of its messages: server.address and server.port of
// an upstream, client.address and client.port of a client, and
// network.protocol.version.
type Peer struct {
	// Address is the peer's host name or IP address: the host of the
	// upstream's URL, or the remote address of the client's latest HTTP
	// request. Empty when not known.
	Address string
	// Port is the peer's port; 0 when not known.
	Port int
	// ProtocolVersion is the HTTP version of the latest exchange with
	// the peer: "1.0", "1.1", "2" or "3"; empty before the first.
	ProtocolVersion string
}

// PeerAddresser is implemented by the Conns of the HTTP transports
// (client-facing and upstream). Conns of stdio and pipes do not implement
// it: their messages have no network address.
type PeerAddresser interface {
	// Peer returns what is known of the peer so far. It is safe for
	// concurrent use and does not allocate.
	Peer() Peer
}

// RequestPeerer is implemented by the Conn of an [HTTP2026Server], whose
// requests come from many HTTP clients (so it is no [PeerAddresser]): it
// tells the client of each pending request.
type RequestPeerer interface {
	// RequestPeer returns the client of the POST that carried the
	// pending request with that id (in the Conn's id space), and false
	// when no such request is pending.
	RequestPeer(id json.RawMessage) (Peer, bool)
}

// peerInfo records a Conn's peer. The zero peerInfo knows nothing; its
// methods are safe for concurrent use.
type peerInfo struct {
	p atomic.Pointer[Peer]
}

// Peer implements [PeerAddresser].
func (pi *peerInfo) Peer() Peer {
	if p := pi.p.Load(); p != nil {
		return *p
	}
	return Peer{}
}

// set records p unless it is what is recorded already (the common case
// costs no allocation).
func (pi *peerInfo) set(p Peer) {
	if old := pi.p.Load(); old != nil && *old == p {
		return
	}
	np := new(Peer) // not &p: p would escape, and every call allocate
	*np = p
	pi.p.Store(np)
}

// seeRequest records the client of r, an HTTP request of the peer.
func (pi *peerInfo) seeRequest(r *http.Request) {
	host, port := splitHostPort(r.RemoteAddr)
	pi.set(Peer{Address: host, Port: port, ProtocolVersion: httpVersion(r.ProtoMajor, r.ProtoMinor)})
}

// seeEndpoint records the upstream at u, before any exchange.
func (pi *peerInfo) seeEndpoint(u *url.URL) {
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		switch u.Scheme {
		case "http":
			port = 80
		case "https":
			port = 443
		}
	}
	pi.set(Peer{Address: u.Hostname(), Port: port})
}

// seeResponse records the HTTP version of resp, a response of the
// upstream.
func (pi *peerInfo) seeResponse(resp *http.Response) {
	p := pi.Peer()
	if v := httpVersion(resp.ProtoMajor, resp.ProtoMinor); v != p.ProtocolVersion {
		p.ProtocolVersion = v
		pi.set(p)
	}
}

// splitHostPort splits a remote address "host:port" ("[::1]:5000"); an
// address without a port is all host.
func splitHostPort(addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

// httpVersion is the network.protocol.version of an HTTP major.minor
// version: "1.0", "1.1", "2", "3"; "" when unknown.
func httpVersion(major, minor int) string {
	switch {
	case major == 1 && minor == 0:
		return "1.0"
	case major == 1 && minor == 1:
		return "1.1"
	case major == 2:
		return "2"
	case major == 3:
		return "3"
	}
	return ""
}
