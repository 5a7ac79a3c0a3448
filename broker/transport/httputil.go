package transport

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// HTTP header names of the Streamable HTTP transport. Go canonicalises
// header names, so "MCP-Session-Id" (2025-11-25 prose, REVISIONS.md 3.T3)
// and "Mcp-Session-Id" are the same header.
const (
	// HeaderSessionID carries the session id minted by the server.
	HeaderSessionID = "Mcp-Session-Id"
	// HeaderProtocolVersion carries the negotiated revision (2025-06-18 on).
	HeaderProtocolVersion = "Mcp-Protocol-Version"
	// HeaderLastEventID asks a server to resume an SSE stream after the
	// event with that id.
	HeaderLastEventID = "Last-Event-ID"
)

// DefaultMaxBodySize is the request body limit of the HTTP servers when
// their options set none.
const DefaultMaxBodySize = 4 << 20

// Defaults of the HTTP servers' stream buffers.
const (
	// DefaultMaxQueued is how many messages may wait for a stream to be
	// written (an open POST stream whose client went away, or the
	// standalone GET stream while no GET is open).
	DefaultMaxQueued = 256
	// DefaultReplayEvents is how many written events a stream keeps for
	// Last-Event-ID replay.
	DefaultReplayEvents = 256
)

// ErrSessionExpired is returned, wrapped, by the Streamable HTTP client
// when the server answers 404 to a request that carries a session id: the
// session is gone and the client must initialize again (REVISIONS.md 1.T2,
// 0.2 rule 6).
var ErrSessionExpired = errors.New("transport: session expired")

// ErrQueueFull is returned, wrapped, by Send on a server-side HTTP Conn
// when the stream a message is due on already holds the maximum number of
// unwritten messages (its client is not reading or not connected).
var ErrQueueFull = errors.New("transport: stream queue full")

// StatusError reports an HTTP response whose status the transport did not
// expect. The HTTP client transports return it wrapped.
type StatusError struct {
	// Method and URL name the request.
	Method, URL string
	// StatusCode is the response status, such as 404.
	StatusCode int
	// ContentType is the response's Content-Type.
	ContentType string
	// Body is the start of the response body (at most 4 KiB), which may
	// hold a JSON-RPC error.
	Body []byte
}

// Error implements the error interface.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("transport: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if len(e.Body) > 0 {
		b := e.Body
		if len(b) > 200 {
			b = b[:200]
		}
		s += ": " + strconv.Quote(string(b))
	}
	return s
}

// maxErrorBody bounds the body kept in a StatusError.
const maxErrorBody = 4 << 10

// newStatusError reads the start of resp's body into a StatusError and
// closes the body.
func newStatusError(resp *http.Response) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	return &StatusError{
		Method:      resp.Request.Method,
		URL:         resp.Request.URL.Redacted(),
		StatusCode:  resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"),
		Body:        b,
	}
}

// drain reads a little of body, so that the connection can be reused, and
// closes it.
func drain(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, maxErrorBody))
	body.Close()
}

// originAllowed reports whether the request's Origin header is acceptable
// (REVISIONS.md 1.T5, 3.T2). A request without Origin (not from a browser)
// is. With an empty allow-list only loopback origins (localhost, 127.0.0.0/8,
// ::1) are, which keeps a web page from reaching a local broker through DNS
// rebinding; otherwise the origin must be listed, compared
// case-insensitively, or the list must hold "*".
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(allowed) == 0 {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return false
		}
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") {
			return true
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(a, origin) {
			return true
		}
	}
	return false
}

// accepts reports whether the request's Accept header admits the media
// type mt ("type/subtype"). No Accept header admits everything; wildcards
// count, a range with q=0 does not.
func accepts(r *http.Request, mt string) bool {
	values := r.Header.Values("Accept")
	if len(values) == 0 {
		return true
	}
	typ, _, _ := strings.Cut(mt, "/")
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			rng, params, _ := strings.Cut(part, ";")
			rng = strings.TrimSpace(rng)
			if !strings.EqualFold(rng, mt) && rng != "*/*" && !strings.EqualFold(rng, typ+"/*") {
				continue
			}
			if q := qValue(params); q == 0 {
				continue
			}
			return true
		}
	}
	return false
}

// qValue returns the q parameter in the parameters of a media range (1
// when absent or malformed).
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return q
			}
		}
	}
	return 1
}

// mediaType returns the lower-case media type of a Content-Type value, or
// "" when it cannot be parsed.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}

// writeError answers a request with status and an id-less JSON-RPC error
// whose code is code.
func writeError(w http.ResponseWriter, status, code int, message string) {
	writeErrorBody(w, status, jsonrpc.ErrorResponse(nil, code, message, nil))
}

// writeErrorBody answers a request with status and the JSON body b.
func writeErrorBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// newSessionID returns a fresh session id: 26 characters of base32 from
// crypto/rand (130 bits), all visible ASCII as MCP requires.
func newSessionID() string {
	return rand.Text()
}

// setSSEHeaders sets the headers of an SSE response. X-Accel-Buffering
// keeps nginx-style proxies from buffering the stream (REVISIONS.md 4.T7).
func setSSEHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// parseEndpoint parses the URL a client transport dials: http or https
// only.
func parseEndpoint(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("transport: dial %s: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("transport: dial %s: scheme must be http or https", rawURL)
	}
	return u, nil
}
