package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Transport is an [http.RoundTripper] that makes the broker an OAuth 2.1
// client of the protected resources it sends requests to, for
// machine-to-machine use: the client_credentials grant, no user.
//
// A request goes out with the access token held for its origin, if any.
// On 401, or on 403 with error="insufficient_scope" and a scope (step-up,
// REVISIONS.md 3.A1), Transport discovers the authorization server
// afresh (Protected Resource Metadata from the challenge's
// resource_metadata or the well-known URIs; its first
// authorization_servers entry is the issuer; the issuer's metadata, whose
// issuer member must equal it exactly), uses the credentials stored for
// that issuer or registers a client there (Dynamic Client Registration
// with application_type, SEP-837), gets a token with the
// client_credentials grant and the resource indicator, and sends the
// request once more. A request whose body cannot be replayed (no
// GetBody) is not retried: its 401 or 403 goes back to the caller.
// Tokens are reused until shortly before they expire and then renewed
// from the same issuer before the request is sent.
//
// The zero value is usable; the fields must not change once it is in use.
type Transport struct {
	// Base sends the requests, the resource's and the authorization
	// steps'. Nil means [http.DefaultTransport].
	Base http.RoundTripper
	// Store holds client credentials by issuer, pre-registered ones
	// included. Nil means a private store.
	Store *Store
	// Scopes are requested when the resource's challenge names none.
	// With neither, the PRM's scopes_supported are requested.
	Scopes []string
	// ApplicationType is registered with Dynamic Client Registration.
	// Empty means "web", the OpenID Connect type of a client that runs
	// on a server (SEP-837).
	ApplicationType string
	// ClientName is registered as client_name. Empty means "mcpbroker".
	ClientName string
	// Logger receives what the authorization steps do (never secrets or
	// tokens). Nil means [slog.Default].
	Logger *slog.Logger
	// Now is the clock. Nil means [time.Now].
	Now func() time.Time

	initOnce sync.Once
	store    *Store

	authMu sync.Mutex // one authorization at a time

	mu     sync.Mutex
	states map[string]resourceState // by origin
}

// resourceState is what Transport knows of one origin.
type resourceState struct {
	issuer   string
	meta     *ServerMetadata
	resource string
	scope    string
	tok      token
}

func (t *Transport) init() {
	t.initOnce.Do(func() {
		t.store = t.Store
		if t.store == nil {
			t.store = NewStore()
		}
	})
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// client makes the authorization steps' requests. It follows no
// redirects: credentials go only where the metadata says.
func (t *Transport) client() *http.Client {
	return &http.Client{Transport: t.base(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (t *Transport) log() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

func (t *Transport) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Transport) state(origin string) resourceState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.states[origin]
}

func (t *Transport) setState(origin string, st resourceState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.states == nil {
		t.states = make(map[string]resourceState)
	}
	t.states[origin] = st
}

// originOf returns the scheme and host of u, in lower case.
func originOf(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	origin := originOf(req.URL)
	tok := t.usableToken(req.Context(), origin)
	resp, err := t.send(req, req.Body, tok)
	if err != nil {
		return nil, err
	}
	stepUp := false
	switch resp.StatusCode {
	case http.StatusUnauthorized:
	case http.StatusForbidden:
		ch, ok, _ := BearerChallenge(resp.Header)
		if !ok || ch.Params["error"] != "insufficient_scope" || ch.Params["scope"] == "" {
			return resp, nil
		}
		stepUp = true
	default:
		return resp, nil
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		t.log().Warn("oauth: cannot replay the request body; not authorizing", "method", req.Method, "url", req.URL.Redacted(), "status", resp.StatusCode)
		return resp, nil
	}
	ch, _, perr := BearerChallenge(resp.Header)
	if perr != nil {
		// 3.A1: WWW-Authenticate is optional; the well-known URIs remain.
		t.log().Warn("oauth: ignoring an unparsable WWW-Authenticate", "url", req.URL.Redacted(), "err", perr)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
	resp.Body.Close()
	next, err := t.authorize(req, origin, tok, ch, stepUp)
	if err != nil {
		return nil, fmt.Errorf("oauth: authorizing %s %s (status %d): %w", req.Method, req.URL.Redacted(), resp.StatusCode, err)
	}
	var body io.ReadCloser
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return nil, fmt.Errorf("oauth: replaying the request body: %w", err)
		}
	}
	return t.send(req, body, next)
}

// send sends a copy of req with body and, if tok is set, its
// Authorization header.
func (t *Transport) send(req *http.Request, body io.ReadCloser, tok token) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Body = body
	if tok.value != "" {
		r.Header.Set("Authorization", "Bearer "+tok.value)
	}
	return t.base().RoundTrip(r)
}

// usableToken returns the token for origin, renewed from the same issuer
// if it expired. It returns no token when none is known yet (the resource
// may not need one) or when the renewal failed (the resource's 401 then
// starts a full authorization).
func (t *Transport) usableToken(ctx context.Context, origin string) token {
	st := t.state(origin)
	if st.meta == nil || st.tok.valid(t.now()) {
		return st.tok
	}
	t.authMu.Lock()
	defer t.authMu.Unlock()
	st = t.state(origin)
	if st.tok.valid(t.now()) {
		return st.tok
	}
	tok, err := t.token(ctx, st.meta, st.resource, st.scope)
	if err != nil {
		t.log().Warn("oauth: renewing the access token failed", "issuer", st.issuer, "resource", st.resource, "err", err)
		return token{}
	}
	st.tok = tok
	t.setState(origin, st)
	return tok
}

// authorize finds the resource's authorization server and gets a new
// token from it, for the scope of a step-up challenge if stepUp. rejected
// is the token the resource refused.
func (t *Transport) authorize(req *http.Request, origin string, rejected token, ch Challenge, stepUp bool) (token, error) {
	ctx := req.Context()
	t.authMu.Lock()
	defer t.authMu.Unlock()
	st := t.state(origin)
	if !stepUp && st.tok.valid(t.now()) && st.tok.value != rejected.value {
		return st.tok, nil // another request got a new token meanwhile
	}
	// Discover afresh: the resource may name another AS now (SEP-2352).
	h := http.Header{}
	if v := req.Header.Get("MCP-Protocol-Version"); v != "" {
		h.Set("MCP-Protocol-Version", v) // 1.A1: SHOULD during discovery
	}
	urls := ResourceMetadataURLs(req.URL)
	if rm := ch.Params["resource_metadata"]; rm != "" {
		urls = []string{rm}
	}
	prm, prmURL, err := fetchFirst(ctx, t.client(), urls, h, func(m *ResourceMetadata) error { return checkResourceMetadata(m, req.URL) })
	if err != nil {
		return token{}, fmt.Errorf("protected resource metadata: %w", err)
	}
	resource := prm.Resource
	if resource == "" {
		resource = CanonicalResource(req.URL)
	}
	issuer := prm.AuthorizationServers[0]
	meta := st.meta
	if meta == nil || st.issuer != issuer {
		if st.issuer != "" && st.issuer != issuer {
			t.log().Info("oauth: the resource names another authorization server", "resource", resource, "was", st.issuer, "now", issuer)
		}
		if meta, err = fetchServerMetadata(ctx, t.client(), issuer, h); err != nil {
			return token{}, err
		}
	}
	scope := ch.Params["scope"]
	switch {
	case stepUp && st.issuer == issuer:
		scope = unionScope(st.scope, scope)
	case scope != "":
	case len(t.Scopes) > 0:
		scope = strings.Join(t.Scopes, " ")
	default:
		scope = strings.Join(prm.ScopesSupported, " ")
	}
	t.log().Debug("oauth: authorizing", "resource", resource, "resource_metadata", prmURL, "issuer", issuer, "scope", scope, "step_up", stepUp)
	tok, err := t.token(ctx, meta, resource, scope)
	if err != nil {
		return token{}, err
	}
	t.setState(origin, resourceState{issuer: issuer, meta: meta, resource: resource, scope: scope, tok: tok})
	t.log().Info("oauth: got an access token", "issuer", issuer, "resource", resource, "scope", scope, "expires", tok.expiry)
	return tok, nil
}

// token gets a token from meta's AS with the credentials stored for its
// issuer, registering first if there are none. Credentials this
// Transport registered that the AS no longer knows (invalid_client) are
// dropped and registered again, once.
func (t *Transport) token(ctx context.Context, meta *ServerMetadata, resource, scope string) (token, error) {
	c, err := t.credentials(ctx, meta, scope)
	if err != nil {
		return token{}, err
	}
	tok, err := t.requestToken(ctx, meta, c, resource, scope)
	var te *TokenError
	if errors.As(err, &te) && te.Code == "invalid_client" && c.Registered {
		t.log().Warn("oauth: the AS no longer knows the registered client; registering again", "issuer", meta.Issuer, "client_id", c.ClientID)
		t.store.Delete(meta.Issuer)
		if c, err = t.credentials(ctx, meta, scope); err != nil {
			return token{}, err
		}
		tok, err = t.requestToken(ctx, meta, c, resource, scope)
	}
	return tok, err
}

// credentials returns the credentials stored for meta's issuer, or
// registers a client there and stores its credentials.
func (t *Transport) credentials(ctx context.Context, meta *ServerMetadata, scope string) (Credentials, error) {
	if c, ok := t.store.Get(meta.Issuer); ok && (c.ExpiresAt.IsZero() || t.now().Before(c.ExpiresAt)) {
		return c, nil
	}
	if len(meta.GrantTypesSupported) > 0 && !slices.Contains(meta.GrantTypesSupported, "client_credentials") {
		return Credentials{}, fmt.Errorf("oauth: issuer %s does not support the client_credentials grant (it lists %v)", meta.Issuer, meta.GrantTypesSupported)
	}
	c, err := t.register(ctx, meta, scope)
	if err != nil {
		return Credentials{}, err
	}
	t.store.Put(meta.Issuer, c)
	t.log().Info("oauth: registered a client", "issuer", meta.Issuer, "client_id", c.ClientID, "auth_method", c.AuthMethod)
	return c, nil
}

// fetchServerMetadata fetches issuer's metadata and checks that its
// issuer member is issuer exactly (RFC 8414 section 3.3).
func fetchServerMetadata(ctx context.Context, client *http.Client, issuer string, h http.Header) (*ServerMetadata, error) {
	if _, err := secureURL(issuer); err != nil {
		return nil, fmt.Errorf("oauth: issuer: %w", err)
	}
	urls, err := ServerMetadataURLs(issuer)
	if err != nil {
		return nil, err
	}
	meta, _, err := fetchFirst(ctx, client, urls, h, func(m *ServerMetadata) error {
		if m.Issuer != issuer {
			return fmt.Errorf("%w: metadata of %s names issuer %q", ErrIssuerMismatch, issuer, m.Issuer)
		}
		if m.TokenEndpoint == "" {
			return fmt.Errorf("oauth: metadata of %s has no token_endpoint", issuer)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("authorization server metadata: %w", err)
	}
	return meta, nil
}

// checkResourceMetadata checks a PRM document for the resource at u: it
// names an authorization server, and its resource, if given, has u's
// origin.
func checkResourceMetadata(m *ResourceMetadata, u *url.URL) error {
	if len(m.AuthorizationServers) == 0 || m.AuthorizationServers[0] == "" {
		return errors.New("oauth: no authorization_servers")
	}
	if m.Resource == "" {
		return nil
	}
	r, err := url.Parse(m.Resource)
	if err != nil {
		return fmt.Errorf("oauth: resource: %w", err)
	}
	if r.Fragment != "" || originOf(r) != originOf(u) {
		return fmt.Errorf("oauth: the metadata's resource %q is not at %s", m.Resource, originOf(u))
	}
	return nil
}

// unionScope joins two space-separated scope lists without repeats.
func unionScope(a, b string) string {
	out := strings.Fields(a)
	for _, s := range strings.Fields(b) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}
