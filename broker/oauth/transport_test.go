package oauth_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/oauth"
	"github.com/mcpbroker/mcpbroker/testsuite/authserver"
)

// resource is a protected resource for Transport tests: it introspects
// tokens at the AS, wants scope "admin" for /admin (403
// insufficient_scope otherwise), and echoes request bodies.
func resource(t *testing.T, as *authserver.Server) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == oauth.WellKnownPRM {
			json.NewEncoder(w).Encode(map[string]any{"resource": srv.URL, "authorization_servers": []string{as.URL}})
			return
		}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		resp, err := http.PostForm(as.URL+authserver.PathIntrospect, url.Values{"token": {tok}})
		if err != nil {
			t.Error(err)
			return
		}
		var in struct {
			Active bool   `json:"active"`
			Scope  string `json:"scope"`
			Aud    string `json:"aud"`
		}
		json.NewDecoder(resp.Body).Decode(&in)
		resp.Body.Close()
		if !in.Active || in.Aud != srv.URL {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`) // no resource_metadata: the well-known root
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/admin" && !strings.Contains(" "+in.Scope+" ", " admin ") {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="admin"`)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.Copy(w, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// clock is a settable time for token expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestTransport: without resource_metadata in the challenge the root PRM
// is found; POST bodies are replayed after the 401; scope comes from
// Transport.Scopes; a 403 insufficient_scope gets one retry with the
// union of scopes; a token is reused until shortly before expires_in and
// then renewed before the request, without registering again.
func TestTransport(t *testing.T) {
	as := authserver.Start(authserver.WithTokenLifetime(100 * time.Second))
	defer as.Close()
	rs := resource(t, as)
	clk := &clock{now: time.Now()}
	c := &http.Client{Transport: &oauth.Transport{Scopes: []string{"read"}, Now: clk.Now}}

	for _, step := range []struct {
		name       string
		path       string
		advance    time.Duration
		regs, toks int
		scope      string // of the last token request
	}{
		{name: "first request authorizes", path: "/mcp", regs: 1, toks: 1, scope: "read"},
		{name: "cached token", path: "/mcp", regs: 1, toks: 1, scope: "read"},
		{name: "step-up", path: "/admin", regs: 1, toks: 2, scope: "read admin"},
		{name: "still valid at 89s", path: "/admin", advance: 89 * time.Second, regs: 1, toks: 2, scope: "read admin"},
		{name: "renewed at 91s", path: "/admin", advance: 2 * time.Second, regs: 1, toks: 3, scope: "read admin"},
	} {
		clk.add(step.advance)
		body := "body of " + step.name
		resp, err := c.Post(rs.URL+step.path, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(got) != body {
			t.Fatalf("%s: %d %q, want 200 with the body replayed", step.name, resp.StatusCode, got)
		}
		toks := as.TokenRequests()
		if r, _ := as.Requests(); r != step.regs || len(toks) != step.toks {
			t.Fatalf("%s: %d registrations, %d token requests; want %d and %d", step.name, r, len(toks), step.regs, step.toks)
		}
		last := toks[len(toks)-1]
		if last.Form.Get("scope") != step.scope || last.Form.Get("resource") != rs.URL {
			t.Errorf("%s: token request scope %q resource %q, want %q and %q", step.name, last.Form.Get("scope"), last.Form.Get("resource"), step.scope, rs.URL)
		}
	}
}

// TestTransportNoReplay: a 401 to a request whose body cannot be replayed
// is returned as is, and nothing is registered.
func TestTransportNoReplay(t *testing.T) {
	as := authserver.Start()
	defer as.Close()
	rs := resource(t, as)
	req, err := http.NewRequest(http.MethodPost, rs.URL+"/mcp", io.NopCloser(strings.NewReader("x")))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&oauth.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r, k := as.Requests(); resp.StatusCode != http.StatusUnauthorized || r != 0 || k != 0 {
		t.Errorf("status %d, %d registrations, %d token requests; want 401, 0, 0", resp.StatusCode, r, k)
	}
}
