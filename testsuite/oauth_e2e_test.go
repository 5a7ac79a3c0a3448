package testsuite

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/oauth"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/testsuite/authserver"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/demo/demotest"
)

// oauthUpstream is the revision of the protected demo server.
const oauthUpstream = "2025-06-18"

// startAS runs an authorization server for the test.
func startAS(t *testing.T, opts ...authserver.Option) *authserver.Server {
	t.Helper()
	as := authserver.Start(opts...)
	t.Cleanup(as.Close)
	return as
}

// protectedDemo runs `demo-server --require-token-from issuer` and returns
// its MCP URL, after checking that it refuses a request without a token
// with a Bearer challenge naming its resource metadata.
func protectedDemo(t *testing.T, bin, issuer string) string {
	t.Helper()
	u := "http://" + brokerproc.DemoServer(t, bin, oauthUpstream, "--require-token-from", issuer) + demo.PathMCP
	resp, err := http.Post(u, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch, ok, err := oauth.BearerChallenge(resp.Header)
	if resp.StatusCode != http.StatusUnauthorized || !ok || err != nil || !strings.HasSuffix(ch.Params["resource_metadata"], demo.PathResourceMetadata) {
		t.Fatalf("the demo without a token: %d %q (%v); want 401 with a Bearer resource_metadata challenge", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), err)
	}
	return u
}

// oauthSession initializes a client of revision cr through the broker at
// addr and calls echo; it returns the error of the first step that failed.
func oauthSession(t *testing.T, bin, addr string, cr schemas.Revision) error {
	t.Helper()
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	c := newScenarioClient(t, v, cr, dialBroker(ctx, t, bin, addr, "http", nil))
	defer c.Close()
	if _, err := c.Initialize(ctx); err != nil {
		return err
	}
	res, err := c.CallTool(ctx, "echo", map[string]any{"text": "through oauth"})
	if err != nil {
		return err
	}
	if !strings.Contains(res.Text(), "through oauth") {
		t.Errorf("echo answered %q", res.Text())
	}
	return nil
}

// Test4A1UpstreamOAuth: `mcpbroker serve --upstream-oauth on` in front of
// a demo server that wants tokens from an authorization server
// (REVISIONS.md 4.A1, with 2.A1 and 3.A1 discovery). A legacy client's
// tools/call is answered; the AS saw one registration with
// application_type web and the client_credentials grant, and one token
// request authenticated with the registered client, for the demo's
// resource, whose answer carried the right iss (RFC 9207). A second
// session, of another revision, reuses the credentials and the token: the
// AS sees nothing more.
func Test4A1UpstreamOAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	as := startAS(t, authserver.WithTokenIss(func(s *authserver.Server) string { return s.URL }))
	demoURL := protectedDemo(t, bin, as.URL)
	addr := brokerproc.Serve(t, bin, nil, "--upstream-url", demoURL, "--upstream-oauth", "on")

	if err := oauthSession(t, bin, addr, schemas.V20241105); err != nil {
		t.Fatalf("first session: %v", err)
	}
	regs, toks := as.Registrations(), as.TokenRequests()
	if len(regs) != 1 || len(toks) != 1 {
		t.Fatalf("the AS saw %d registrations and %d token requests, want 1 and 1", len(regs), len(toks))
	}
	body := regs[0].Body
	if body["application_type"] != "web" || !slices.Equal(anyStrings(body["grant_types"]), []string{"client_credentials"}) || body["token_endpoint_auth_method"] != oauth.AuthBasic {
		t.Errorf("registration body %v: want application_type web, grant_types [client_credentials], client_secret_basic", body)
	}
	tr := toks[0]
	if !tr.SecretOK || tr.ClientID != regs[0].ClientID || tr.AuthMethod != oauth.AuthBasic ||
		tr.Form.Get("grant_type") != "client_credentials" || tr.Form.Get("resource") != demoURL {
		t.Errorf("token request %+v: want the registered client (%s) over basic auth, client_credentials, resource %s", tr, regs[0].ClientID, demoURL)
	}

	if err := oauthSession(t, bin, addr, schemas.V20251125); err != nil {
		t.Fatalf("second session: %v", err)
	}
	if r, k := as.Requests(); r != 1 || k != 1 {
		t.Errorf("after a second session the AS saw %d registrations and %d token requests, want still 1 and 1", r, k)
	}
}

// Test4A1UpstreamOAuthPreRegistered: with --upstream-oauth-client-id for
// the AS's issuer and the secret in the environment, the broker registers
// nothing and authenticates as that client.
func Test4A1UpstreamOAuthPreRegistered(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	as := startAS(t, authserver.WithAuthMethods(oauth.AuthBasic))
	as.PreRegister("pre-registered", "pre secret/+", oauth.AuthBasic)
	demoURL := protectedDemo(t, bin, as.URL)
	addr := brokerproc.Serve(t, bin, []string{"MCPBROKER_UPSTREAM_OAUTH_CLIENT_SECRET=pre secret/+"}, "--upstream-url", demoURL,
		"--upstream-oauth", "on", "--upstream-oauth-issuer", as.URL, "--upstream-oauth-client-id", "pre-registered")
	if err := oauthSession(t, bin, addr, schemas.V20250326); err != nil {
		t.Fatal(err)
	}
	toks := as.TokenRequests()
	if r, _ := as.Requests(); r != 0 || len(toks) != 1 || toks[0].ClientID != "pre-registered" || !toks[0].SecretOK {
		t.Errorf("registrations %d, token requests %+v: want none and one by the pre-registered client", r, toks)
	}
}

// Test4A1UpstreamOAuthRefused: what must fail fails, with an error the
// client sees (not a hang): an AS whose metadata names another issuer
// (nothing is registered there), a token answer with another iss
// (RFC 9207, SEP-2468), and a protected upstream without --upstream-oauth.
func Test4A1UpstreamOAuthRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		name       string
		opts       []authserver.Option
		args       []string
		want       string
		regs, toks int
	}{
		{name: "metadata issuer mismatch", opts: []authserver.Option{authserver.WithMetadataIssuer("https://elsewhere.example")},
			args: []string{"--upstream-oauth", "on"}, want: "issuer mismatch"},
		{name: "iss mismatch", opts: []authserver.Option{authserver.WithTokenIss(func(*authserver.Server) string { return "https://elsewhere.example" })},
			args: []string{"--upstream-oauth", "on"}, want: "issuer mismatch", regs: 1, toks: 1},
		{name: "oauth off", want: "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			as := startAS(t, tc.opts...)
			demoURL := protectedDemo(t, bin, as.URL)
			addr := brokerproc.Serve(t, bin, nil, append([]string{"--upstream-url", demoURL}, tc.args...)...)
			err := oauthSession(t, bin, addr, schemas.V20241105)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("session: %v, want an error containing %q", err, tc.want)
			}
			if r, k := as.Requests(); r != tc.regs || k != tc.toks {
				t.Errorf("the AS saw %d registrations and %d token requests, want %d and %d", r, k, tc.regs, tc.toks)
			}
		})
	}
}

// Test4A1UpstreamOAuthSwitchAS: the protected server moves to another
// authorization server in the middle of a session. Its next request gets
// 401; the broker finds the new AS in the resource metadata, registers
// there (SEP-2352: credentials are bound to their issuer) and never sends
// the first AS's client id or secret to it; the session goes on.
func Test4A1UpstreamOAuthSwitchAS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	as1, as2 := startAS(t), startAS(t)
	var issuer atomic.Value
	issuer.Store(as1.URL)
	rev, _ := schemas.ParseRevision(oauthUpstream)
	demoURL := "http://" + demotest.Serve(t, rev, demo.WithLogger(testLogger(t)), demo.WithTokenIssuer(func() string { return issuer.Load().(string) })) + demo.PathMCP
	addr := brokerproc.Serve(t, bin, nil, "--upstream-url", demoURL, "--upstream-oauth", "on")

	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	c := newScenarioClient(t, v, schemas.V20241105, dialBroker(cctx, t, bin, addr, "http", nil))
	if _, err := c.Initialize(cctx); err != nil {
		t.Fatal(err)
	}
	mustTool(t, cctx, c, "echo", map[string]any{"text": "at the first AS"})
	first := as1.TokenRequests()
	if r, _ := as1.Requests(); r != 1 || len(first) != 1 || !first[0].SecretOK {
		t.Fatalf("first AS: %d registrations, token requests %+v; want one good registration and token request", r, first)
	}

	issuer.Store(as2.URL)
	res := mustTool(t, cctx, c, "echo", map[string]any{"text": "at the second AS"})
	if !strings.Contains(res.Text(), "at the second AS") {
		t.Errorf("echo answered %q", res.Text())
	}
	if r, k := as1.Requests(); r != 1 || k != 1 {
		t.Errorf("the first AS saw %d registrations and %d token requests after the switch, want still 1 and 1", r, k)
	}
	regs, toks := as2.Registrations(), as2.TokenRequests()
	if len(regs) != 1 || len(toks) != 1 {
		t.Fatalf("the second AS saw %d registrations and %d token requests, want 1 and 1", len(regs), len(toks))
	}
	if toks[0].ClientID != regs[0].ClientID || !toks[0].SecretOK {
		t.Errorf("second AS token request %+v: want the client registered there (%s)", toks[0], regs[0].ClientID)
	}
	for _, tr := range toks {
		if tr.ClientID == first[0].ClientID || tr.Secret == first[0].Secret || tr.Form.Get("client_id") == first[0].ClientID {
			t.Errorf("the first AS's credentials reached the second: %+v", tr)
		}
	}
}

// anyStrings converts a decoded JSON array of strings.
func anyStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
