package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Client authentication methods at the token endpoint (RFC 7591).
const (
	AuthBasic = "client_secret_basic"
	AuthPost  = "client_secret_post"
)

// Errors the authorization steps wrap.
var (
	// ErrIssuerMismatch: a metadata document's issuer, or an iss the
	// AS returned (RFC 9207), is not the issuer the broker asked.
	ErrIssuerMismatch = errors.New("oauth: issuer mismatch")
	// ErrNoRegistration: no credentials for the issuer, and the AS
	// offers no registration endpoint.
	ErrNoRegistration = errors.New("oauth: no client credentials for this issuer and no registration endpoint")
)

// TokenError is an error response of the token or registration endpoint
// (RFC 6749 section 5.2, RFC 7591 section 3.2.2).
type TokenError struct {
	// Endpoint is "token" or "registration".
	Endpoint string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code and Description are the error and error_description members.
	Code, Description string
}

// Error implements the error interface.
func (e *TokenError) Error() string {
	s := fmt.Sprintf("oauth: %s endpoint: status %d", e.Endpoint, e.StatusCode)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Credentials are a client's credentials at one authorization server.
type Credentials struct {
	// ClientID and ClientSecret identify the client.
	ClientID, ClientSecret string
	// AuthMethod is AuthBasic or AuthPost; empty means AuthBasic.
	AuthMethod string
	// ExpiresAt is when the secret expires (client_secret_expires_at);
	// zero means never.
	ExpiresAt time.Time
	// Registered is true for credentials from Dynamic Client
	// Registration, false for pre-registered ones.
	Registered bool
}

// Store keeps client credentials keyed by issuer (SEP-2352): credentials
// are only ever sent to the token endpoint of the issuer they were
// registered with. It is safe for concurrent use.
type Store struct {
	mu sync.Mutex
	m  map[string]Credentials
}

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{m: make(map[string]Credentials)} }

// Get returns the credentials for issuer, compared exactly.
func (s *Store) Get(issuer string) (Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[issuer]
	return c, ok
}

// Put records the credentials for issuer.
func (s *Store) Put(issuer string, c Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]Credentials)
	}
	s.m[issuer] = c
}

// Delete forgets the credentials for issuer.
func (s *Store) Delete(issuer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, issuer)
}

// registrationRequest is the client metadata the broker registers
// (RFC 7591 section 2, application_type from OpenID Connect Dynamic
// Client Registration as SEP-837 requires).
type registrationRequest struct {
	ClientName              string   `json:"client_name"`
	ApplicationType         string   `json:"application_type"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope,omitempty"`
}

// registrationResponse is the members of a registration response the
// broker uses.
type registrationResponse struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret"`
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at"`
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
}

// authMethod picks client_secret_basic or client_secret_post from what
// the AS supports (RFC 8414: absent means client_secret_basic).
func authMethod(meta *ServerMetadata) (string, error) {
	ms := meta.TokenEndpointAuthMethodsSupported
	switch {
	case len(ms) == 0, slices.Contains(ms, AuthBasic):
		return AuthBasic, nil
	case slices.Contains(ms, AuthPost):
		return AuthPost, nil
	}
	return "", fmt.Errorf("oauth: the AS supports neither %s nor %s (it lists %v)", AuthBasic, AuthPost, ms)
}

// register registers a client for the client_credentials grant at
// meta's registration endpoint.
func (t *Transport) register(ctx context.Context, meta *ServerMetadata, scope string) (Credentials, error) {
	if meta.RegistrationEndpoint == "" {
		return Credentials{}, fmt.Errorf("%w (issuer %s)", ErrNoRegistration, meta.Issuer)
	}
	if _, err := secureURL(meta.RegistrationEndpoint); err != nil {
		return Credentials{}, fmt.Errorf("oauth: registration endpoint: %w", err)
	}
	method, err := authMethod(meta)
	if err != nil {
		return Credentials{}, err
	}
	appType := t.ApplicationType
	if appType == "" {
		appType = "web"
	}
	name := t.ClientName
	if name == "" {
		name = "mcpbroker"
	}
	body, err := json.Marshal(registrationRequest{
		ClientName:              name,
		ApplicationType:         appType,
		GrantTypes:              []string{"client_credentials"},
		ResponseTypes:           []string{},
		TokenEndpointAuthMethod: method,
		Scope:                   scope,
	})
	if err != nil {
		return Credentials{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.RegistrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return Credentials{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := t.client().Do(req)
	if err != nil {
		return Credentials{}, fmt.Errorf("oauth: register: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	if err != nil {
		return Credentials{}, fmt.Errorf("oauth: register: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return Credentials{}, endpointError("registration", resp.StatusCode, raw, "", nil)
	}
	var r registrationResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return Credentials{}, fmt.Errorf("oauth: registration response: %w", err)
	}
	if r.ClientID == "" || r.ClientSecret == "" {
		return Credentials{}, errors.New("oauth: registration response without client_id or client_secret")
	}
	c := Credentials{ClientID: r.ClientID, ClientSecret: r.ClientSecret, AuthMethod: method, Registered: true}
	if r.TokenEndpointAuthMethod == AuthBasic || r.TokenEndpointAuthMethod == AuthPost {
		c.AuthMethod = r.TokenEndpointAuthMethod // the AS may choose
	}
	if r.ClientSecretExpiresAt > 0 {
		c.ExpiresAt = time.Unix(r.ClientSecretExpiresAt, 0)
	}
	return c, nil
}

// tokenResponse is a token endpoint answer, success or error members.
type tokenResponse struct {
	AccessToken string      `json:"access_token"`
	TokenType   string      `json:"token_type"`
	ExpiresIn   json.Number `json:"expires_in"`
	Scope       string      `json:"scope"`
	Iss         *string     `json:"iss"`
	Error       string      `json:"error"`
	Description string      `json:"error_description"`
}

// token is an access token and when to stop using it.
type token struct {
	value  string
	expiry time.Time // zero: until the resource rejects it
}

// valid reports whether tok can be used at now.
func (tok token) valid(now time.Time) bool {
	return tok.value != "" && (tok.expiry.IsZero() || now.Before(tok.expiry))
}

// requestToken runs the client_credentials grant (RFC 6749 section 4.4)
// with the resource indicator (RFC 8707) at meta's token endpoint, and
// checks the iss the AS may return (RFC 9207) in the answer, success or
// error.
func (t *Transport) requestToken(ctx context.Context, meta *ServerMetadata, c Credentials, resource, scope string) (token, error) {
	if _, err := secureURL(meta.TokenEndpoint); err != nil {
		return token{}, fmt.Errorf("oauth: token endpoint: %w", err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	if scope != "" {
		form.Set("scope", scope)
	}
	if c.AuthMethod == AuthPost {
		form.Set("client_id", c.ClientID)
		form.Set("client_secret", c.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return token{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.AuthMethod != AuthPost {
		// RFC 6749 section 2.3.1: both form-encoded first.
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	}
	resp, err := t.client().Do(req)
	if err != nil {
		return token{}, fmt.Errorf("oauth: token request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument))
	if err != nil {
		return token{}, fmt.Errorf("oauth: token request: %w", err)
	}
	var r tokenResponse
	jerr := json.Unmarshal(raw, &r)
	if r.Iss != nil && *r.Iss != meta.Issuer {
		// RFC 9207 / SEP-2468: present, so it must match; this also
		// refuses an error response that names another issuer.
		return token{}, fmt.Errorf("%w: the token endpoint answered with iss %q, want %q", ErrIssuerMismatch, *r.Iss, meta.Issuer)
	}
	if resp.StatusCode != http.StatusOK {
		return token{}, endpointError("token", resp.StatusCode, raw, r.Error, &r.Description)
	}
	if jerr != nil {
		return token{}, fmt.Errorf("oauth: token response: %w", jerr)
	}
	if r.AccessToken == "" {
		return token{}, errors.New("oauth: token response without access_token")
	}
	if !strings.EqualFold(r.TokenType, "Bearer") {
		return token{}, fmt.Errorf("oauth: token_type %q is not Bearer", r.TokenType)
	}
	tok := token{value: r.AccessToken}
	if r.ExpiresIn != "" {
		secs, err := r.ExpiresIn.Float64()
		if err != nil || secs < 0 {
			return token{}, fmt.Errorf("oauth: token response: bad expires_in %q", r.ExpiresIn)
		}
		life := time.Duration(secs * float64(time.Second))
		// Stop using it a little before it expires: a tenth of its
		// lifetime, at most 30s.
		tok.expiry = t.now().Add(life - min(life/10, 30*time.Second))
	}
	return tok, nil
}

// endpointError makes a TokenError of an error answer, reading its error
// members from raw unless code is given.
func endpointError(endpoint string, status int, raw []byte, code string, desc *string) error {
	e := &TokenError{Endpoint: endpoint, StatusCode: status, Code: code}
	if desc != nil {
		e.Description = *desc
	}
	if code == "" {
		var r struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(raw, &r) == nil {
			e.Code, e.Description = r.Error, r.Description
		}
	}
	return e
}
