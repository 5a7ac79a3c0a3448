// Package oauth makes the broker an OAuth 2.1 client of protected
// upstream MCP servers, for machine-to-machine use (REVISIONS.md 1.A1,
// 2.A1, 3.A1, 4.A1): [Transport] is an http.RoundTripper for the upstream
// HTTP transports that answers a 401 by discovering the authorization
// server, registering if need be, and getting a token with the
// client_credentials grant.
//
// # What is covered
//
//   - WWW-Authenticate parsing (RFC 9110 section 11.6.1), Bearer's
//     resource_metadata, scope and error parameters.
//   - Protected Resource Metadata (RFC 9728) from resource_metadata, else
//     the well-known URI with the path, then at the root (3.A1). Its
//     resource, when given, must be on the request's origin (RFC 9728
//     asks for identity with the URL used; the legacy HTTP+SSE transport
//     posts to another path of the same server, so the broker checks the
//     origin only). Absent, the canonical URI of the request is used.
//   - The issuer is authorization_servers[0]. Its metadata is probed in
//     the order of 3.A1 (RFC 8414 path insertion, OpenID Connect path
//     insertion, OpenID Connect appending) and its issuer member must
//     equal the issuer exactly, else [ErrIssuerMismatch].
//   - Credentials are kept in a [Store] keyed by issuer (SEP-2352): they
//     go only to the token endpoint of that issuer's metadata. When the
//     resource's metadata names another issuer, the broker uses that
//     issuer's credentials or registers there.
//   - Dynamic Client Registration (RFC 7591) with application_type
//     (SEP-837; "web" by default, the type of a client running on a
//     server), grant_types ["client_credentials"], no response types, and
//     client_secret_basic or client_secret_post as the AS supports.
//     Registered credentials the AS rejects with invalid_client are
//     registered again once.
//   - The client_credentials grant (RFC 6749 section 4.4) with the
//     resource indicator (RFC 8707) and the scope; tokens are cached per
//     origin until a tenth of their lifetime (at most 30s) before
//     expires_in, then renewed before the next request.
//   - Step-up on 403 insufficient_scope with a scope (3.A1): one retry
//     with the union of the scopes.
//   - RFC 9207 iss (SEP-2468): the client_credentials grant has no
//     authorization response, which is where RFC 9207 puts iss. The
//     broker checks iss wherever an AS returns one in answer to it: a
//     token response or a token error response with an iss member that
//     differs from the issuer is refused with [ErrIssuerMismatch].
//
// # What is not covered
//
//   - User-facing flows: the authorization code grant with PKCE, and so
//     the iss of authorization responses; Client ID Metadata Documents
//     (SEP-991); refresh tokens (client_credentials needs none).
//   - Initial access tokens and software statements for registration;
//     private_key_jwt and other client authentication methods; DPoP.
//   - Stored credentials live in memory: a restarted broker registers
//     again.
//   - Endpoints must be https, or http on a loopback host; the
//     authorization steps follow no redirects.
package oauth
