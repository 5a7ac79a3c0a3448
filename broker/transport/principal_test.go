package transport

import (
	"net/http"
	"testing"
)

// principalOf returns the Principal of a peer's Conn.
func principalOf(t *testing.T, p *peer) string {
	t.Helper()
	pc, ok := p.conn.(Principaled)
	if !ok {
		t.Fatalf("%T does not implement Principaled", p.conn)
	}
	return pc.Principal()
}

// TestHTTPServerPrincipal: a session's Principal names the credentials it
// is bound to: the same for the same Authorization, different for
// another, "" for an anonymous client or with binding off.
func TestHTTPServerPrincipal(t *testing.T) {
	const (
		alice   = "Authorization: Bearer alice"
		mallory = "Authorization: Bearer mallory"
	)
	bound := NewHTTPServer(nil)
	ts, ps := serve(t, bound, nil)
	principals := map[string]string{}
	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"alice", []string{alice}},
		{"alice again", []string{alice}},
		{"mallory", []string{mallory}},
		{"no header", nil},
		{"empty header", []string{"Authorization:"}},
		{"other header only", []string{"X-Api-Key: k1"}},
	} {
		_, p := initWith(t, ts.URL, ps, tc.headers...)
		principals[tc.name] = principalOf(t, p)
	}
	if a := principals["alice"]; a == "" || a != principals["alice again"] {
		t.Errorf("alice: %q and %q, want the same non-empty principal", a, principals["alice again"])
	}
	if m := principals["mallory"]; m == "" || m == principals["alice"] {
		t.Errorf("mallory: %q, alice %q: want distinct non-empty principals", m, principals["alice"])
	}
	for _, anon := range []string{"no header", "empty header", "other header only"} {
		if p := principals[anon]; p != "" {
			t.Errorf("%s: principal %q, want \"\" (anonymous)", anon, p)
		}
	}

	off, psOff := serve(t, NewHTTPServer(&HTTPServerOptions{BindHeaders: []string{}}), nil)
	if _, p := initWith(t, off.URL, psOff, alice); principalOf(t, p) != "" {
		t.Errorf("binding off: principal %q, want \"\"", principalOf(t, p))
	}
}

// TestSSEServerPrincipal: as TestHTTPServerPrincipal for legacy HTTP+SSE
// sessions, bound by the GET that opens them; the same credentials give
// the same principal on both servers.
func TestSSEServerPrincipal(t *testing.T) {
	ts, ps := serveLegacy(t, nil)
	open := func(headers ...string) string {
		t.Helper()
		get := do(t, "GET", ts.URL+"/sse", append([]string{"Accept: text/event-stream"}, headers...)...)
		t.Cleanup(func() { get.Body.Close() })
		sseEvents(t, get.Body, 1) // the endpoint event: the session exists
		return principalOf(t, ps.next(t))
	}
	alice1, alice2 := open("Authorization: Bearer alice"), open("Authorization: Bearer alice")
	mallory, anon := open("Authorization: Bearer mallory"), open()
	if alice1 == "" || alice1 != alice2 {
		t.Errorf("alice: %q and %q, want the same non-empty principal", alice1, alice2)
	}
	if mallory == "" || mallory == alice1 {
		t.Errorf("mallory %q, alice %q: want distinct non-empty principals", mallory, alice1)
	}
	if anon != "" {
		t.Errorf("anonymous: %q, want \"\"", anon)
	}

	hs, hps := serve(t, NewHTTPServer(nil), nil)
	if _, p := initWith(t, hs.URL, hps, "Authorization: Bearer alice"); principalOf(t, p) != alice1 {
		t.Errorf("alice over Streamable HTTP: %q, over SSE %q: want the same", principalOf(t, p), alice1)
	}
}

// TestPrincipalOf: a request-level principal equals the Principal of a
// session bound by the same headers, and is "" without credentials.
func TestPrincipalOf(t *testing.T) {
	b := newBinder(nil)
	h := http.Header{"Authorization": {"Bearer a"}}
	if got, want := PrincipalOf(h, nil), b.principal(b.credentials(&http.Request{Header: h})); got != want || got == "" {
		t.Errorf("PrincipalOf = %q, want the session's %q", got, want)
	}
	if PrincipalOf(h, nil) == PrincipalOf(http.Header{"Authorization": {"Bearer b"}}, nil) {
		t.Error("two credentials share a principal")
	}
	for name, tc := range map[string]struct {
		h       http.Header
		headers []string
	}{
		"no credentials": {http.Header{}, nil},
		"binding off":    {h, []string{}},
	} {
		if got := PrincipalOf(tc.h, tc.headers); got != "" {
			t.Errorf("%s: %q, want \"\"", name, got)
		}
	}
}
