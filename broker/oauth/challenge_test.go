package oauth

import (
	"errors"
	"net/url"
	"reflect"
	"slices"
	"testing"
)

func TestParseWWWAuthenticate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   []Challenge
		err    bool
	}{
		{name: "bearer with resource_metadata and scope",
			values: []string{`Bearer resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp", scope="files:read files:write"`},
			want:   []Challenge{{Scheme: "Bearer", Params: map[string]string{"resource_metadata": "https://mcp.example/.well-known/oauth-protected-resource/mcp", "scope": "files:read files:write"}}}},
		{name: "two challenges in one value, names case-folded",
			values: []string{`Basic realm="x", Bearer Error=insufficient_scope ,scope="a"`},
			want:   []Challenge{{Scheme: "Basic", Params: map[string]string{"realm": "x"}}, {Scheme: "Bearer", Params: map[string]string{"error": "insufficient_scope", "scope": "a"}}}},
		{name: "two fields", values: []string{`Basic`, `Bearer realm="a\"b\\c"`},
			want: []Challenge{{Scheme: "Basic"}, {Scheme: "Bearer", Params: map[string]string{"realm": `a"b\c`}}}},
		{name: "token68", values: []string{`Negotiate abc+/d==, Bearer`},
			want: []Challenge{{Scheme: "Negotiate", Token68: "abc+/d=="}, {Scheme: "Bearer"}}},
		{name: "empty quoted value and spaces around =", values: []string{`Bearer realm = ""`},
			want: []Challenge{{Scheme: "Bearer", Params: map[string]string{"realm": ""}}}},
		{name: "empty", values: []string{"", " , "}},
		{name: "duplicate parameter", values: []string{`Bearer scope="a", SCOPE="b"`}, err: true},
		{name: "unterminated quote", values: []string{`Bearer realm="abc`}, err: true},
		{name: "missing value", values: []string{`Bearer realm=, scope="a"`}, err: true},
		{name: "garbage after value", values: []string{`Bearer realm="a" x`}, err: true},
		{name: "control character", values: []string{"Bearer realm=\"a\x01\""}, err: true},
		{name: "no scheme", values: []string{`="x"`}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWWWAuthenticate(tc.values)
			if tc.err {
				if !errors.Is(err, ErrMalformedChallenge) {
					t.Fatalf("got %v, %v; want ErrMalformedChallenge", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestMetadataURLs(t *testing.T) {
	for _, tc := range []struct {
		resource string
		want     []string
	}{
		{"https://mcp.example/mcp", []string{"https://mcp.example/.well-known/oauth-protected-resource/mcp", "https://mcp.example/.well-known/oauth-protected-resource"}},
		{"https://mcp.example:8443/a/b/?q=1", []string{"https://mcp.example:8443/.well-known/oauth-protected-resource/a/b", "https://mcp.example:8443/.well-known/oauth-protected-resource"}},
		{"http://127.0.0.1:9/", []string{"http://127.0.0.1:9/.well-known/oauth-protected-resource"}},
	} {
		u, _ := url.Parse(tc.resource)
		if got := ResourceMetadataURLs(u); !slices.Equal(got, tc.want) {
			t.Errorf("ResourceMetadataURLs(%s) = %q, want %q", tc.resource, got, tc.want)
		}
	}
	for _, tc := range []struct {
		issuer string
		want   []string
		err    bool
	}{
		{issuer: "https://as.example", want: []string{"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"}},
		{issuer: "https://as.example/", want: []string{"https://as.example/.well-known/oauth-authorization-server", "https://as.example/.well-known/openid-configuration"}},
		{issuer: "https://as.example/tenant1/", want: []string{
			"https://as.example/.well-known/oauth-authorization-server/tenant1",
			"https://as.example/.well-known/openid-configuration/tenant1",
			"https://as.example/tenant1/.well-known/openid-configuration"}},
		{issuer: "https://as.example/?x=1", err: true},
		{issuer: "https://as.example/#f", err: true},
		{issuer: "/relative", err: true},
	} {
		got, err := ServerMetadataURLs(tc.issuer)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("ServerMetadataURLs(%s) = %q, %v; want %q (error: %v)", tc.issuer, got, err, tc.want, tc.err)
		}
	}
	for in, want := range map[string]string{
		"HTTPS://MCP.Example/mcp/?q#f": "https://mcp.example/mcp",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
	} {
		u, _ := url.Parse(in)
		if got := CanonicalResource(u); got != want {
			t.Errorf("CanonicalResource(%s) = %s, want %s", in, got, want)
		}
	}
}

// FuzzWWWAuthenticate: the parser never panics, and what it parses
// formats (Challenge.String) to a value that parses to the same
// challenges.
func FuzzWWWAuthenticate(f *testing.F) {
	for _, s := range []string{
		`Bearer resource_metadata="https://x/.well-known/oauth-protected-resource", scope="a b"`,
		`Basic realm="x", Bearer error="insufficient_scope"`,
		`Negotiate abc==`, `Bearer realm="a\"b"`, `, ,Bearer`, `Bearer a=b, c`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseWWWAuthenticate([]string{s})
		if err != nil {
			return
		}
		var vals []string
		for _, c := range cs {
			if c.Scheme == "" {
				t.Fatalf("empty scheme from %q", s)
			}
			vals = append(vals, c.String())
		}
		again, err := ParseWWWAuthenticate(vals)
		if err != nil {
			t.Fatalf("%q parsed to %#v, formatted as %q, which does not parse: %v", s, cs, vals, err)
		}
		if !reflect.DeepEqual(again, cs) {
			t.Fatalf("%q: %#v formatted as %q parses to %#v", s, cs, vals, again)
		}
	})
}
