package cache

import (
	"encoding/json"
	"time"
)

// Scope is the cacheScope of a result (2026-07-28 CacheableResult).
type Scope uint8

// The scopes. The zero Scope means none was given (or an unknown one): such
// a result is not cached.
const (
	// NoScope: absent or unknown cacheScope; not cacheable.
	NoScope Scope = iota
	// Private: "private", reusable only within the same authorization
	// context; stored under the requester's [Key.Auth].
	Private
	// Public: "public", free of user-specific data; shared across
	// authorization contexts.
	Public
)

// String returns the cacheScope spelling ("private", "public"), or "none".
func (s Scope) String() string {
	switch s {
	case Private:
		return "private"
	case Public:
		return "public"
	}
	return "none"
}

// ParseScope returns the Scope spelled s, or NoScope for anything but
// "private" and "public".
func ParseScope(s string) Scope {
	switch s {
	case "private":
		return Private
	case "public":
		return Public
	}
	return NoScope
}

// MaxHintTTL caps the ttlMs read by [ExtractHints] (about 34 years), so
// that the conversion to a time.Duration cannot overflow. [Options.MaxTTL]
// caps it further when storing.
const MaxHintTTL = time.Duration(1<<40) * time.Millisecond

// Hints are the caching hints of a result: its ttlMs and cacheScope.
type Hints struct {
	TTL   time.Duration
	Scope Scope
}

// Cacheable reports whether a result with these hints may be stored: a
// positive TTL (ttlMs 0 means stale at once) and a known scope.
func (h Hints) Cacheable() bool { return h.TTL > 0 && h.Scope != NoScope }

// ExtractHints reads the caching hints from a raw JSON-RPC result object
// (the value of "result", not the whole response) without decoding it:
// it scans the top-level members and skips every value but ttlMs,
// cacheScope and resultType. It reports ok only when ttlMs is a
// non-negative integer literal, cacheScope is "private" or "public",
// resultType is absent or "complete" (an input_required result is never
// cached), and none of the three appears twice. A ttlMs above
// [MaxHintTTL] reads as MaxHintTTL.
//
// raw is expected to be valid JSON (it comes from a parsed message): for
// invalid JSON the answer is unspecified but ExtractHints never panics.
func ExtractHints(raw []byte) (h Hints, ok bool) {
	s := scanner{b: raw}
	s.ws()
	if !s.eat('{') {
		return Hints{}, false
	}
	var seenTTL, seenScope, seenType bool
	s.ws()
	if s.eat('}') {
		return Hints{}, false
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return Hints{}, false
		}
		s.ws()
		if !s.eat(':') {
			return Hints{}, false
		}
		s.ws()
		switch string(key) {
		case "ttlMs":
			if seenTTL {
				return Hints{}, false
			}
			seenTTL = true
			ttl, ok := s.uint()
			if !ok {
				return Hints{}, false
			}
			h.TTL = ttl
		case "cacheScope":
			if seenScope {
				return Hints{}, false
			}
			seenScope = true
			v, ok := s.str()
			if !ok {
				return Hints{}, false
			}
			if h.Scope = ParseScope(string(v)); h.Scope == NoScope {
				return Hints{}, false
			}
		case "resultType":
			if seenType {
				return Hints{}, false
			}
			seenType = true
			v, ok := s.str()
			if !ok || string(v) != "complete" {
				return Hints{}, false
			}
		default:
			if !s.skip() {
				return Hints{}, false
			}
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if !s.eat('}') {
			return Hints{}, false
		}
		break
	}
	s.ws()
	if s.i != len(s.b) || !seenTTL || !seenScope {
		return Hints{}, false
	}
	return h, true
}

// scanner walks JSON text. Every method leaves i unchanged or moved past
// what it read, and reports false at the first thing it does not expect.
type scanner struct {
	b []byte
	i int
}

// ws skips JSON white space.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat consumes c if it is next.
func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string and returns its content, unescaped when it has
// escapes (then through encoding/json, so that \u escapes and surrogate
// pairs decode as they do there).
func (s *scanner) str() ([]byte, bool) {
	start := s.i
	escaped, ok := s.skipString()
	if !ok {
		return nil, false
	}
	if !escaped {
		return s.b[start+1 : s.i-1], true
	}
	var v string
	if json.Unmarshal(s.b[start:s.i], &v) != nil {
		return nil, false
	}
	return []byte(v), true
}

// skipString passes over a string and reports whether it has escapes.
// (A byte loop: strings in results are short, too short for
// bytes.IndexByte's set-up to pay.)
func (s *scanner) skipString() (escaped, ok bool) {
	if !s.eat('"') {
		return false, false
	}
	b := s.b
	for i := s.i; i < len(b); i++ {
		switch b[i] {
		case '"':
			s.i = i + 1
			return escaped, true
		case '\\':
			escaped = true
			i++ // the escaped byte, which may be a quote
		}
	}
	return false, false
}

// uint reads a non-negative integer literal as milliseconds, capped at
// MaxHintTTL. A sign, fraction or exponent is refused.
func (s *scanner) uint() (time.Duration, bool) {
	const limit = int64(MaxHintTTL / time.Millisecond)
	start := s.i
	var v int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if v < limit {
			v = v*10 + int64(s.b[s.i]-'0')
		}
		s.i++
	}
	n := s.i - start
	if n == 0 || (n > 1 && s.b[start] == '0') {
		return 0, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return time.Duration(min(v, limit)) * time.Millisecond, true
}

// skip passes over one value, checking only what it needs to find the
// value's end.
func (s *scanner) skip() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, ok := s.skipString()
		return ok
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, ok := s.skipString(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	}
	// A number or a literal: up to the next delimiter.
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.i > start
		}
		s.i++
	}
	return false
}
