package main

import (
	"log/slog"
	"net/http"

	"github.com/spf13/pflag"

	"github.com/mcpbroker/mcpbroker/broker/oauth"
)

// UpstreamOAuthConfig is the part of serveConfig that makes the broker an
// OAuth client of a protected upstream (REVISIONS.md 4.A1).
type UpstreamOAuthConfig struct {
	UpstreamOAuth             string   `mapstructure:"upstream-oauth"`
	UpstreamOAuthIssuer       string   `mapstructure:"upstream-oauth-issuer"`
	UpstreamOAuthClientID     string   `mapstructure:"upstream-oauth-client-id"`
	UpstreamOAuthClientSecret string   `mapstructure:"upstream-oauth-client-secret"`
	UpstreamOAuthScopes       []string `mapstructure:"upstream-oauth-scopes"`
}

// addOAuthFlags defines the --upstream-oauth* flags.
func addOAuthFlags(f *pflag.FlagSet) {
	f.String("upstream-oauth", "off", "on: answer a 401 of the upstream (--upstream-url, --upstream-sse-url) as an OAuth client with the client_credentials grant: discover its authorization server, register there if no credentials are configured, send the token; off: a 401 fails the request")
	f.String("upstream-oauth-issuer", "", "the issuer the pre-registered --upstream-oauth-client-id belongs to (credentials are only ever sent to that issuer)")
	f.String("upstream-oauth-client-id", "", "pre-registered client id at --upstream-oauth-issuer (default: Dynamic Client Registration)")
	f.String("upstream-oauth-client-secret", "", "its secret (better: the environment variable MCPBROKER_UPSTREAM_OAUTH_CLIENT_SECRET)")
	f.StringSlice("upstream-oauth-scopes", nil, "scopes to request when the upstream's challenge names none")
}

// upstreamHTTPClient returns the HTTP client of the upstream HTTP
// transports: nil (the transports' default) with --upstream-oauth off,
// else one whose transport is an [oauth.Transport].
func upstreamHTTPClient(c UpstreamOAuthConfig, isHTTP bool, logger *slog.Logger) (*http.Client, error) {
	switch c.UpstreamOAuth {
	case "", "off":
		if c.UpstreamOAuthClientID != "" || c.UpstreamOAuthIssuer != "" {
			return nil, usageErr("--upstream-oauth-client-id and --upstream-oauth-issuer need --upstream-oauth on")
		}
		return nil, nil
	case "on":
	default:
		return nil, usageErr("--upstream-oauth must be on or off, not %q", c.UpstreamOAuth)
	}
	if !isHTTP {
		return nil, usageErr("--upstream-oauth on needs --upstream-url or --upstream-sse-url (a stdio server gets its credentials from the environment)")
	}
	store := oauth.NewStore()
	switch {
	case c.UpstreamOAuthClientID != "" && (c.UpstreamOAuthIssuer == "" || c.UpstreamOAuthClientSecret == ""):
		return nil, usageErr("--upstream-oauth-client-id needs --upstream-oauth-issuer and a secret (--upstream-oauth-client-secret or MCPBROKER_UPSTREAM_OAUTH_CLIENT_SECRET)")
	case c.UpstreamOAuthClientID == "" && c.UpstreamOAuthClientSecret != "":
		return nil, usageErr("an upstream OAuth client secret without --upstream-oauth-client-id")
	case c.UpstreamOAuthClientID != "":
		// The AS's metadata says which authentication it takes; a
		// pre-registered client is assumed to use client_secret_basic,
		// the RFC 6749 default.
		store.Put(c.UpstreamOAuthIssuer, oauth.Credentials{ClientID: c.UpstreamOAuthClientID, ClientSecret: c.UpstreamOAuthClientSecret, AuthMethod: oauth.AuthBasic})
	}
	return &http.Client{Transport: &oauth.Transport{Store: store, Scopes: c.UpstreamOAuthScopes, Logger: logger}}, nil
}
