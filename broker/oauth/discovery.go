package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Well-known path segments of the metadata documents.
const (
	// WellKnownPRM is where Protected Resource Metadata lives (RFC 9728).
	WellKnownPRM = "/.well-known/oauth-protected-resource"
	// WellKnownAS is where Authorization Server Metadata lives (RFC 8414).
	WellKnownAS = "/.well-known/oauth-authorization-server"
	// WellKnownOIDC is where OpenID Provider metadata lives (OpenID
	// Connect Discovery 1.0).
	WellKnownOIDC = "/.well-known/openid-configuration"
)

// maxDocument bounds a metadata, registration or token response body.
const maxDocument = 1 << 20

// ResourceMetadata is a Protected Resource Metadata document (RFC 9728),
// the members the broker uses.
type ResourceMetadata struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
}

// ServerMetadata is an Authorization Server Metadata document (RFC 8414)
// or OpenID Provider metadata, the members the broker uses.
type ServerMetadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	// AuthorizationResponseIssParameterSupported is RFC 9207's flag.
	// The broker checks iss wherever it is present, whatever the flag.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// CanonicalResource returns the canonical URI of the resource at u
// (RFC 8707, MCP's canonical server URI): scheme and host in lower case,
// the path without a trailing slash, no query, no fragment.
func CanonicalResource(u *url.URL) string {
	c := url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: strings.TrimSuffix(u.Path, "/"), RawPath: strings.TrimSuffix(u.RawPath, "/")}
	return c.String()
}

// ResourceMetadataURLs returns where to look for the Protected Resource
// Metadata of the resource at u when the server named no
// resource_metadata URL (REVISIONS.md 3.A1): the well-known URI with u's
// path appended (RFC 9728 section 3.1), then the one at the root.
func ResourceMetadataURLs(u *url.URL) []string {
	origin := url.URL{Scheme: u.Scheme, Host: u.Host}
	root := origin.String() + WellKnownPRM
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" {
		return []string{root}
	}
	return []string{root + path, root}
}

// ServerMetadataURLs returns the metadata URLs of issuer in the probe
// order of REVISIONS.md 3.A1: for an issuer with a path, RFC 8414 path
// insertion, OpenID Connect path insertion, then OpenID Connect path
// appending; for one without, RFC 8414 then OpenID Connect.
func ServerMetadataURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("oauth: issuer %q: %w", issuer, err)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("oauth: issuer %q: want a URL with a host and without query, fragment or user info", issuer)
	}
	origin := (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	if path == "" {
		return []string{origin + WellKnownAS, origin + WellKnownOIDC}, nil
	}
	return []string{origin + WellKnownAS + path, origin + WellKnownOIDC + path, origin + path + WellKnownOIDC}, nil
}

// secureURL checks that raw is an https URL, or an http one to a loopback
// host (for tests and local deployments): the broker sends credentials
// to these endpoints.
func secureURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return u, nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return u, nil
	}
	return nil, fmt.Errorf("%q is neither https nor http on a loopback host", raw)
}

// isLoopback reports whether host names the local machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// getJSON fetches url into v with client, sending the extra header h. A
// status other than 200 is an error.
func getJSON(ctx context.Context, client *http.Client, rawURL string, h http.Header, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocument))
		return fmt.Errorf("GET %s: status %d", rawURL, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocument)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	return nil
}

// fetchFirst tries urls in order and returns the first document that
// decodes and passes check, or every failure joined.
func fetchFirst[T any](ctx context.Context, client *http.Client, urls []string, h http.Header, check func(*T) error) (*T, string, error) {
	var errs []error
	for _, u := range urls {
		if _, err := secureURL(u); err != nil {
			errs = append(errs, err)
			continue
		}
		doc := new(T)
		err := getJSON(ctx, client, u, h, doc)
		if err == nil {
			err = check(doc)
		}
		if err == nil {
			return doc, u, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		errs = append(errs, err)
	}
	return nil, "", errors.Join(errs...)
}
