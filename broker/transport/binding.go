package transport

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/session"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// DefaultBindHeader is the request header whose value the HTTP servers
// bind sessions to when their options set no BindHeaders.
const DefaultBindHeader = "Authorization"

// credentials is the SHA-256 digest of the values of a binder's headers
// in one request.
type credentials [sha256.Size]byte

// binder binds sessions to the credentials of the request that created
// them, as the 2025-06-18 and later security guidance asks: a session id
// alone must not grant access. The zero binder binds nothing.
type binder struct {
	headers []string // none: binding is off
}

// newBinder returns the binder of a BindHeaders option: nil means
// [DefaultBindHeader], an empty slice turns binding off.
func newBinder(headers []string) binder {
	if headers == nil {
		return binder{headers: []string{DefaultBindHeader}}
	}
	return binder{headers: slices.Clone(headers)}
}

// credentials returns the digest of r's bound headers. An absent header
// counts as an empty one; repeated fields are joined with ", ".
func (b binder) credentials(r *http.Request) credentials {
	if len(b.headers) == 0 {
		return credentials{}
	}
	h := sha256.New()
	var n [8]byte
	for _, name := range b.headers {
		v := strings.Join(r.Header.Values(name), ", ")
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		io.WriteString(h, v)
	}
	var c credentials
	h.Sum(c[:0])
	return c
}

// allows reports whether r carries the credentials a session is bound
// to. It answers 403 and logs a Warn line when it does not.
func (b binder) allows(w http.ResponseWriter, r *http.Request, logger *slog.Logger, id string, bound credentials) bool {
	if len(b.headers) == 0 {
		return true
	}
	got := b.credentials(r)
	if subtle.ConstantTimeCompare(got[:], bound[:]) == 1 {
		return true
	}
	logger.WarnContext(r.Context(), "transport: request for a session bound to other credentials",
		"session", id, "method", r.Method, "remote", r.RemoteAddr)
	writeError(w, http.StatusForbidden, jsonrpc.CodeInvalidRequest, "Forbidden: session is bound to other credentials")
	return false
}

// endError returns the error a session's Recv reports when the session
// registry ends it; server names the server ("HTTP", "SSE") for Closed.
func endError(server, id string, why session.Reason, maxSessions int, idle time.Duration) error {
	switch why {
	case session.Evicted:
		return fmt.Errorf("transport: session %s evicted: session limit %d reached: %w", id, maxSessions, io.EOF)
	case session.Expired:
		return fmt.Errorf("transport: session %s expired after %v idle: %w", id, idle, io.EOF)
	default:
		return fmt.Errorf("transport: %s server closed: %w", server, io.EOF)
	}
}
