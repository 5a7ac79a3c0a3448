package transport

import (
	"encoding/hex"
	"net/http"
)

// Principaled is implemented by the client-facing Conns of [HTTPServer]
// and [SSEServer]: it names the authorization context the session is
// bound to, so that the relay can keep results that are private to a user
// (2026-07-28 cacheScope "private", REVISIONS.md 4.F2) away from other
// users.
type Principaled interface {
	// Principal returns an opaque name of the credentials the session is
	// bound to (the hex SHA-256 digest of the values of the server's
	// BindHeaders in the request that opened it; the credentials
	// themselves are not kept), or "" when the session is not bound:
	// binding is off, or that request carried none of the headers (an
	// anonymous client). Sessions opened with the same credentials have
	// the same Principal.
	Principal() string
}

// Principal implements [Principaled].
func (sess *httpSession) Principal() string { return sess.srv.bind.principal(sess.cred) }

// Principal implements [Principaled].
func (sess *sseSession) Principal() string { return sess.srv.bind.principal(sess.cred) }

// PrincipalOf returns the Principal a session bound to the request headers
// named by headers (nil: [DefaultBindHeader]; empty: none) would have for
// a request with header h, so that components that see requests rather
// than sessions (the 2026-07-28 bridge) name credentials as [Principaled]
// does.
func PrincipalOf(h http.Header, headers []string) string {
	b := newBinder(headers)
	return b.principal(b.credentials(&http.Request{Header: h}))
}

// principal names c, credentials of b's headers, for [Principaled]: ""
// when b binds nothing or c are the credentials of a request without any
// of the headers.
func (b binder) principal(c credentials) string {
	if len(b.headers) == 0 || c == b.credentials(&http.Request{Header: http.Header{}}) {
		return ""
	}
	return hex.EncodeToString(c[:])
}
