// Package authserver is an OAuth 2.1 authorization server for tests of
// the broker as an OAuth client (REVISIONS.md 4.A1): Authorization Server
// Metadata (RFC 8414), Dynamic Client Registration (RFC 7591), the
// client_credentials grant with resource indicators (RFC 8707) and token
// introspection (RFC 7662), on a real 127.0.0.1 listener. It records the
// registrations and token requests it gets, and can be told to misbehave:
// metadata naming another issuer, an iss member (RFC 9207) in its token
// answers.
//
// Introspection takes no authentication (the protected demo server uses
// it to check tokens); everything is in memory.
package authserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Paths of the endpoints.
const (
	PathMetadata     = "/.well-known/oauth-authorization-server"
	PathRegister     = "/register"
	PathToken        = "/token"
	PathIntrospect   = "/introspect"
	defaultTokenLife = time.Hour
)

// Registration is one registration request the server got.
type Registration struct {
	// Body is the client metadata as sent.
	Body map[string]any
	// ClientID is the id the server gave, empty if it refused.
	ClientID string
}

// TokenRequest is one token request the server got.
type TokenRequest struct {
	// ClientID is the client that authenticated, whether or not its
	// secret was right.
	ClientID string
	// AuthMethod is how it authenticated: client_secret_basic,
	// client_secret_post or "" (none).
	AuthMethod string
	// SecretOK reports whether the secret was the registered one.
	SecretOK bool
	// Secret is the secret sent (tests check it is never another
	// server's).
	Secret string
	// Form is the request's form, client_secret removed.
	Form url.Values
}

// Option configures a Server.
type Option func(*Server)

// WithMetadataIssuer makes the metadata name issuer instead of the
// server's own URL (an AS that must be refused).
func WithMetadataIssuer(issuer string) Option {
	return func(s *Server) { s.metaIssuer = issuer }
}

// WithTokenIss adds an iss member with this value to every token answer,
// success or error ("" omits it). Use [Server.URL] for a correct one.
func WithTokenIss(iss func(s *Server) string) Option {
	return func(s *Server) { s.tokenIss = iss }
}

// WithAuthMethods sets token_endpoint_auth_methods_supported.
func WithAuthMethods(m ...string) Option {
	return func(s *Server) { s.authMethods = m }
}

// WithTokenLifetime sets expires_in of the tokens (default one hour).
func WithTokenLifetime(d time.Duration) Option {
	return func(s *Server) { s.tokenLife = d }
}

// Server is a running authorization server.
type Server struct {
	// URL is the issuer: http://127.0.0.1:PORT.
	URL string

	srv         *httptest.Server
	metaIssuer  string
	tokenIss    func(*Server) string
	authMethods []string
	tokenLife   time.Duration

	mu            sync.Mutex
	clients       map[string]client
	tokens        map[string]grant
	registrations []Registration
	tokenRequests []TokenRequest
}

type client struct {
	secret, method string
}

type grant struct {
	clientID, resource, scope string
	expires                   time.Time
}

// Start runs a Server on 127.0.0.1 until Close.
func Start(opts ...Option) *Server {
	s := &Server{clients: map[string]client{}, tokens: map[string]grant{}, authMethods: []string{"client_secret_basic", "client_secret_post"}, tokenLife: defaultTokenLife}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathMetadata, s.metadata)
	mux.HandleFunc("POST "+PathRegister, s.register)
	mux.HandleFunc("POST "+PathToken, s.token)
	mux.HandleFunc("POST "+PathIntrospect, s.introspect)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// PreRegister adds a client registered out of band.
func (s *Server) PreRegister(id, secret, method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = client{secret: secret, method: method}
}

// Registrations returns the registration requests so far.
func (s *Server) Registrations() []Registration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.registrations)
}

// TokenRequests returns the token requests so far.
func (s *Server) TokenRequests() []TokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokenRequests)
}

// Requests returns how many registration and token requests the server
// got.
func (s *Server) Requests() (registrations, tokens int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.registrations), len(s.tokenRequests)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	issuer := s.URL
	if s.metaIssuer != "" {
		issuer = s.metaIssuer
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                issuer,
		"token_endpoint":                        s.URL + PathToken,
		"registration_endpoint":                 s.URL + PathRegister,
		"introspection_endpoint":                s.URL + PathIntrospect,
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": s.authMethods,
		"response_types_supported":              []string{},
	})
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client_metadata", "error_description": err.Error()})
		return
	}
	reg := Registration{Body: body}
	method, _ := body["token_endpoint_auth_method"].(string)
	if !slices.Contains(s.authMethods, method) {
		s.mu.Lock()
		s.registrations = append(s.registrations, reg)
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client_metadata", "error_description": "unsupported token_endpoint_auth_method"})
		return
	}
	id, secret := randomID(), randomID()
	reg.ClientID = id
	s.mu.Lock()
	s.clients[id] = client{secret: secret, method: method}
	s.registrations = append(s.registrations, reg)
	s.mu.Unlock()
	resp := map[string]any{"client_id": id, "client_secret": secret, "client_secret_expires_at": 0, "client_id_issued_at": time.Now().Unix()}
	for k, v := range body {
		resp[k] = v
	}
	writeJSON(w, http.StatusCreated, resp)
}

// token serves the client_credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	tr := TokenRequest{}
	if id, secret, ok := r.BasicAuth(); ok {
		tr.AuthMethod = "client_secret_basic"
		tr.ClientID, _ = url.QueryUnescape(id)
		tr.Secret, _ = url.QueryUnescape(secret)
	} else if id := r.PostForm.Get("client_id"); id != "" {
		tr.AuthMethod = "client_secret_post"
		tr.ClientID, tr.Secret = id, r.PostForm.Get("client_secret")
	}
	form := url.Values{}
	for k, v := range r.PostForm {
		if k != "client_secret" {
			form[k] = v
		}
	}
	tr.Form = form
	s.mu.Lock()
	c, known := s.clients[tr.ClientID]
	tr.SecretOK = known && c.secret == tr.Secret && tr.Secret != ""
	s.tokenRequests = append(s.tokenRequests, tr)
	s.mu.Unlock()
	switch {
	case !tr.SecretOK || (c.method != "" && c.method != tr.AuthMethod):
		w.Header().Set("WWW-Authenticate", `Basic realm="authserver"`)
		s.tokenError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	case form.Get("grant_type") != "client_credentials":
		s.tokenError(w, http.StatusBadRequest, "unsupported_grant_type", form.Get("grant_type"))
		return
	}
	resource := form.Get("resource")
	if u, err := url.Parse(resource); resource == "" || err != nil || !u.IsAbs() || u.Fragment != "" {
		s.tokenError(w, http.StatusBadRequest, "invalid_target", "resource must be an absolute URI without fragment")
		return
	}
	tok := randomID()
	s.mu.Lock()
	s.tokens[tok] = grant{clientID: tr.ClientID, resource: resource, scope: form.Get("scope"), expires: time.Now().Add(s.tokenLife)}
	s.mu.Unlock()
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(s.tokenLife / time.Second)}
	if sc := form.Get("scope"); sc != "" {
		resp["scope"] = sc
	}
	if s.tokenIss != nil {
		if iss := s.tokenIss(s); iss != "" {
			resp["iss"] = iss
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) tokenError(w http.ResponseWriter, status int, code, desc string) {
	resp := map[string]any{"error": code, "error_description": desc}
	if s.tokenIss != nil {
		if iss := s.tokenIss(s); iss != "" {
			resp["iss"] = iss
		}
	}
	writeJSON(w, status, resp)
}

// introspect answers RFC 7662 introspection without authentication.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	s.mu.Lock()
	g, ok := s.tokens[r.PostForm.Get("token")]
	s.mu.Unlock()
	if !ok || time.Now().After(g.expires) {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"active": true, "iss": s.URL, "aud": g.resource, "client_id": g.clientID,
		"scope": g.scope, "exp": g.expires.Unix(), "token_type": "Bearer",
	})
}
