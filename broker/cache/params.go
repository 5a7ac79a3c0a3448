package cache

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrUncacheable is returned, wrapped with the reason, by [KeyFor] and
// [CanonicalParams] for a request whose answer must not come from the
// cache. It is not a failure of the request: forward it as usual.
var ErrUncacheable = errors.New("cache: request not cacheable")

// Cacheable reports whether results of method may be cached: the methods
// whose 2026-07-28 results are CacheableResults (ListToolsResult,
// ListPromptsResult, ListResourcesResult, ListResourceTemplatesResult,
// ReadResourceResult, DiscoverResult).
func Cacheable(method string) bool {
	switch method {
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list",
		"resources/read", "server/discover":
		return true
	}
	return false
}

// MaxParamsLen bounds the params of a cacheable request, in bytes: larger
// ones are not cached (their canonical form would be part of the key).
const MaxParamsLen = 64 << 10

// maxParamsDepth bounds the nesting of cacheable params.
const maxParamsDepth = 32

// perHopMeta reports whether a _meta key does not change a result, so
// that it is dropped from the canonical params and requests differing only
// in it share an entry: the progress token, W3C trace context, the
// per-request log level (logs are notifications, not part of the result)
// and clientInfo (self-reported; servers SHOULD NOT vary on it).
// protocolVersion and clientCapabilities stay.
func perHopMeta(key string) bool {
	switch key {
	case "progressToken", "traceparent", "tracestate", "baggage",
		"io.modelcontextprotocol/logLevel", "io.modelcontextprotocol/clientInfo":
		return true
	}
	return false
}

// KeyFor returns the cache key of a request: upstream names the server it
// is routed to, auth the authorization context of the requester (see
// [Key.Auth]), revision the protocol revision the cached bytes are shaped
// for, and params the raw params exactly as forwarded. It fails with
// [ErrUncacheable] when the method is not [Cacheable] or the params are
// not (see [CanonicalParams]).
func KeyFor(upstream, auth, revision, method string, params []byte) (Key, error) {
	if !Cacheable(method) {
		return Key{}, fmt.Errorf("%w: method %q", ErrUncacheable, method)
	}
	p, err := CanonicalParams(params)
	if err != nil {
		return Key{}, err
	}
	return Key{Upstream: upstream, Auth: auth, Revision: revision, Method: method, Params: p}, nil
}

// CanonicalParams returns the canonical form of a request's params for
// use in a [Key]: compact JSON with object members sorted by key, numbers
// spelled as they came, and the per-hop _meta keys (progressToken, trace
// context, logLevel, clientInfo) removed, an emptied _meta with them.
// Absent, null and empty params all give "".
//
// It fails with [ErrUncacheable] for an MRTR retry (params with
// inputResponses or requestState, never cached), for params that are not
// a JSON object, that exceed [MaxParamsLen] or nest deeper than 32, and
// for params whose meaning could differ between the broker and the server,
// which would let one request poison the entry of another: a key that
// appears twice in an object, invalid UTF-8, and strings that decode to
// U+FFFD (lone surrogates decode to it too).
func CanonicalParams(params []byte) (string, error) {
	if len(params) > MaxParamsLen {
		return "", fmt.Errorf("%w: params of %d bytes", ErrUncacheable, len(params))
	}
	if !utf8.Valid(params) {
		return "", fmt.Errorf("%w: invalid UTF-8 in params", ErrUncacheable)
	}
	trimmed := bytes.TrimSpace(params)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return "", nil
	}
	c := canonicalizer{in: trimmed, out: make([]byte, 0, len(trimmed))}
	if err := c.params(); err != nil {
		return "", err
	}
	if string(c.out) == "{}" {
		return "", nil
	}
	return string(c.out), nil
}
