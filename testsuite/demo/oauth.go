package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/oauth"
)

// PathResourceMetadata is where a demo server protected by
// [WithTokenIssuer] serves its Protected Resource Metadata (RFC 9728):
// the well-known URI of the resource at [PathMCP].
const PathResourceMetadata = oauth.WellKnownPRM + PathMCP

// WithTokenIssuer protects the HTTP endpoints of ServeHTTP (all but
// [PathHealth] and the metadata): a request needs an access token that
// the authorization server issuer() names issued for this server
// (aud = http://ADDR/mcp), checked by token introspection (RFC 7662) at
// the introspection_endpoint of the issuer's metadata (RFC 8414). Other
// requests get 401 with WWW-Authenticate: Bearer resource_metadata
// pointing at [PathResourceMetadata], whose authorization_servers is
// [issuer()]. issuer is asked on every request, so a test can move the
// server to another authorization server.
func WithTokenIssuer(issuer func() string) Option {
	return func(s *Server) { s.tokenIssuer = issuer }
}

// bindHeaders returns the BindHeaders of the demo's session transports:
// the default (Authorization) unless WithTokenIssuer protects the server;
// then none, since access tokens change within a session (renewal, a new
// authorization server) and the token check stands in for the binding.
func (s *Server) bindHeaders() []string {
	if s.tokenIssuer != nil {
		return []string{}
	}
	return nil
}

// protected is the http.Handler of a server with WithTokenIssuer.
type protected struct {
	next     http.Handler
	issuer   func() string
	resource string // http://ADDR/mcp
	client   *http.Client
	s        *Server

	mu         sync.Mutex
	introspect map[string]string // introspection endpoint by issuer
}

// protect wraps next if s has a token issuer.
func (s *Server) protect(next http.Handler, addr string) http.Handler {
	if s.tokenIssuer == nil {
		return next
	}
	return &protected{next: next, issuer: s.tokenIssuer, resource: "http://" + addr + PathMCP, s: s,
		client: &http.Client{Timeout: 10 * time.Second}, introspect: map[string]string{}}
}

func (p *protected) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == PathHealth:
		p.next.ServeHTTP(w, r)
		return
	case r.URL.Path == PathResourceMetadata:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"resource":                 p.resource,
			"authorization_servers":    []string{p.issuer()},
			"bearer_methods_supported": []string{"header"},
		})
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		p.challenge(w, "")
		return
	}
	if err := p.check(r, tok); err != nil {
		p.s.log.Info("demo: token refused", "err", err)
		p.challenge(w, "invalid_token")
		return
	}
	p.next.ServeHTTP(w, r)
}

// challenge answers 401 with a Bearer challenge.
func (p *protected) challenge(w http.ResponseWriter, code string) {
	meta := strings.TrimSuffix(p.resource, PathMCP) + PathResourceMetadata
	c := oauth.Challenge{Scheme: "Bearer", Params: map[string]string{"resource_metadata": meta}}
	if code != "" {
		c.Params["error"] = code
	}
	w.Header().Set("WWW-Authenticate", c.String())
	http.Error(w, "demo: an access token is required", http.StatusUnauthorized)
}

// check introspects tok at the current issuer.
func (p *protected) check(r *http.Request, tok string) error {
	issuer := p.issuer()
	endpoint, err := p.endpoint(r, issuer)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, endpoint, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var in struct {
		Active bool   `json:"active"`
		Aud    string `json:"aud"`
		Iss    string `json:"iss"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&in); err != nil {
		return fmt.Errorf("introspection: %w", err)
	}
	switch {
	case !in.Active:
		return fmt.Errorf("token not active at %s", issuer)
	case in.Iss != issuer:
		return fmt.Errorf("token of issuer %q, want %q", in.Iss, issuer)
	case in.Aud != p.resource:
		return fmt.Errorf("token for %q, not %q", in.Aud, p.resource)
	}
	return nil
}

// endpoint returns issuer's introspection endpoint from its metadata.
func (p *protected) endpoint(r *http.Request, issuer string) (string, error) {
	p.mu.Lock()
	e, ok := p.introspect[issuer]
	p.mu.Unlock()
	if ok {
		return e, nil
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, strings.TrimSuffix(issuer, "/")+oauth.WellKnownAS, nil)
	if err != nil {
		return "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var meta struct {
		Introspection string `json:"introspection_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&meta); err != nil || meta.Introspection == "" {
		return "", fmt.Errorf("no introspection endpoint at %s (%v)", issuer, err)
	}
	p.mu.Lock()
	p.introspect[issuer] = meta.Introspection
	p.mu.Unlock()
	return meta.Introspection, nil
}
