package telemetry

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// This file holds the small raw-JSON reader the telemetry helpers use to
// pick a few members out of params, results and error objects without
// decoding them. It reads well-formed JSON correctly; on malformed input it
// never panics and either reports failure or reads garbage in, garbage out.

// skipWS returns the index of the first non-whitespace byte of b at or
// after i.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the JSON string starting at
// b[i] (which must be '"') and whether the string contains an escape.
func skipString(b []byte, i int) (end int, escaped, ok bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, true
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return 0, false, false
		}
	}
	return 0, false, false
}

// skipValue returns the index just past the JSON value starting at b[i].
// Nested objects and arrays are skipped by counting brackets, without
// recursion, so deep input cannot exhaust the stack.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		end, _, ok := skipString(b, i)
		return end, ok
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				end, _, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
			j++
		}
		return 0, false
	}
	j := i
	for j < len(b) && isScalarByte(b[j]) {
		j++
	}
	return j, j > i
}

// isScalarByte reports whether c may appear in a JSON number or literal.
func isScalarByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '+' || c == '.'
}

// member locates one member of a JSON object: b[keyStart:keyEnd] is the
// quoted key, b[valStart:valEnd] the raw value.
type member struct {
	keyStart, keyEnd int
	valStart, valEnd int
	escaped          bool // the key contains an escape
}

// objIter walks the members of the JSON object whose '{' is at b[start].
// After next reports false, bad says whether the object was malformed
// and, if not, close is the index of its '}'.
type objIter struct {
	b     []byte
	i     int
	first bool
	bad   bool
	close int
}

// newObjIter starts walking the object at b[start]; it returns false if
// there is no object there.
func newObjIter(b []byte, start int) (objIter, bool) {
	if start >= len(b) || b[start] != '{' {
		return objIter{}, false
	}
	return objIter{b: b, i: start + 1, first: true}, true
}

// next returns the next member.
func (it *objIter) next() (member, bool) {
	if it.bad || it.close > 0 {
		return member{}, false
	}
	b := it.b
	i := skipWS(b, it.i)
	if i >= len(b) {
		it.bad = true
		return member{}, false
	}
	if b[i] == '}' {
		it.close = i
		return member{}, false
	}
	if !it.first {
		if b[i] != ',' {
			it.bad = true
			return member{}, false
		}
		i = skipWS(b, i+1)
	}
	it.first = false
	if i >= len(b) || b[i] != '"' {
		it.bad = true
		return member{}, false
	}
	m := member{keyStart: i}
	var ok bool
	m.keyEnd, m.escaped, ok = skipString(b, i)
	if !ok {
		it.bad = true
		return member{}, false
	}
	i = skipWS(b, m.keyEnd)
	if i >= len(b) || b[i] != ':' {
		it.bad = true
		return member{}, false
	}
	m.valStart = skipWS(b, i+1)
	m.valEnd, ok = skipValue(b, m.valStart)
	if !ok {
		it.bad = true
		return member{}, false
	}
	it.i = m.valEnd
	return m, true
}

// keyIs reports whether the member's key, decoded, equals name.
func (m member) keyIs(b []byte, name string) bool {
	if !m.escaped {
		return string(b[m.keyStart+1:m.keyEnd-1]) == name
	}
	s, ok := unquote(b[m.keyStart:m.keyEnd])
	return ok && s == name
}

// unquote decodes the JSON string q (quotes included).
func unquote(q []byte) (string, bool) {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return "", false
	}
	inner := q[1 : len(q)-1]
	plain := true
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}

// findMember returns the last member of the object at b[start] whose key
// is name (the last, as encoding/json keeps the last of duplicates), and
// the iterator's end state.
func findMember(b []byte, start int, name string) (m member, found bool, it objIter, ok bool) {
	it, ok = newObjIter(b, start)
	if !ok {
		return member{}, false, it, false
	}
	for {
		cur, more := it.next()
		if !more {
			break
		}
		if cur.keyIs(b, name) {
			m, found = cur, true
		}
	}
	return m, found, it, !it.bad
}

// stringMember returns the decoded string value of member name of the
// object at b[start], or "" when absent or not a string.
func stringMember(b []byte, start int, name string) string {
	m, found, _, _ := findMember(b, start, name)
	if !found || m.valStart >= len(b) || b[m.valStart] != '"' {
		return ""
	}
	s, _ := unquote(b[m.valStart:m.valEnd])
	return s
}

// idString renders a raw JSON-RPC id as the convention's
// jsonrpc.request.id: a string id decoded, a number as written. It
// returns "" for a missing or null id.
func idString(id []byte) string {
	i := skipWS(id, 0)
	if i >= len(id) {
		return ""
	}
	end, ok := skipValue(id, i)
	if !ok {
		return ""
	}
	v := id[i:end]
	if v[0] == '"' {
		s, _ := unquote(v)
		return s
	}
	if string(v) == "null" {
		return ""
	}
	return string(v)
}

// appendJSONString appends s to dst as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // cannot fail for a string
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// intValue parses a raw JSON integer.
func intValue(v []byte) (int, bool) {
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}
