package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/oauth"
)

// Test4A1OAuthConfig: the --upstream-oauth* settings decode from flags
// and the environment (the secret from MCPBROKER_UPSTREAM_OAUTH_CLIENT_SECRET),
// pre-registered credentials are bound to their issuer, and inconsistent
// settings are usage errors.
func Test4A1OAuthConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		secret  string // MCPBROKER_UPSTREAM_OAUTH_CLIENT_SECRET
		http    bool
		wantErr string // "" : success
		client  bool   // an oauth client is built
		issuer  string // pre-registered credentials stored for it
	}{
		{name: "default off", http: true},
		{name: "on, DCR", args: []string{"--upstream-oauth", "on", "--upstream-oauth-scopes", "a,b"}, http: true, client: true},
		{name: "pre-registered, secret from env", args: []string{"--upstream-oauth", "on", "--upstream-oauth-issuer", "https://as.example", "--upstream-oauth-client-id", "cid"}, secret: "s3cret", http: true, client: true, issuer: "https://as.example"},
		{name: "stdio upstream", args: []string{"--upstream-oauth", "on"}, wantErr: "needs --upstream-url"},
		{name: "bad value", args: []string{"--upstream-oauth", "yes"}, http: true, wantErr: "on or off"},
		{name: "client id while off", args: []string{"--upstream-oauth-client-id", "cid"}, http: true, wantErr: "need --upstream-oauth on"},
		{name: "client id without issuer", args: []string{"--upstream-oauth", "on", "--upstream-oauth-client-id", "cid"}, secret: "x", http: true, wantErr: "needs --upstream-oauth-issuer"},
		{name: "client id without secret", args: []string{"--upstream-oauth", "on", "--upstream-oauth-issuer", "https://as.example", "--upstream-oauth-client-id", "cid"}, http: true, wantErr: "a secret"},
		{name: "secret without id", args: []string{"--upstream-oauth", "on"}, secret: "x", http: true, wantErr: "without --upstream-oauth-client-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("MCPBROKER_UPSTREAM_OAUTH_CLIENT_SECRET", tc.secret)
			cfg, err := loadServeConfig(serveViper(t, tc.args...), "")
			if err != nil {
				t.Fatal(err)
			}
			c, err := upstreamHTTPClient(cfg.UpstreamOAuthConfig, tc.http, slog.New(slog.DiscardHandler))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c != nil) != tc.client {
				t.Fatalf("client = %v, want one: %v", c, tc.client)
			}
			if c == nil {
				return
			}
			tr := c.Transport.(*oauth.Transport)
			if tc.name == "on, DCR" && strings.Join(tr.Scopes, " ") != "a b" {
				t.Errorf("scopes %v", tr.Scopes)
			}
			if tc.issuer != "" {
				got, ok := tr.Store.Get(tc.issuer)
				if !ok || got.ClientID != "cid" || got.ClientSecret != tc.secret {
					t.Errorf("stored credentials for %s: %+v %v", tc.issuer, got, ok)
				}
				if _, ok := tr.Store.Get(tc.issuer + "/"); ok {
					t.Errorf("credentials also under another issuer")
				}
			}
		})
	}
}
