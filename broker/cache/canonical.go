package cache

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// objectKind says which rules an object follows.
type objectKind uint8

const (
	plainObject  objectKind = iota
	paramsObject            // the params: refuse MRTR retries, filter _meta
	metaObject              // the params' _meta: drop the per-hop keys
)

// canonicalizer parses JSON strictly and writes its canonical form:
// compact, object members sorted by their decoded keys, strings escaped
// the way encoding/json escapes them (HTML characters included), numbers
// and literals as written. It refuses (with ErrUncacheable) anything that
// could mean one thing to the broker and another to a server: duplicate
// keys and strings holding U+FFFD, which is also what encoding/json makes
// of lone surrogates. The input must be valid UTF-8 (checked by the
// caller).
type canonicalizer struct {
	in  []byte
	i   int
	out []byte
	buf []byte // scratch for decoding strings
}

// span is an object member written to out: its decoded key and where
// `"key":value` lies in out.
type span struct {
	key        []byte // in the input, or a copy when it had escapes
	start, end int
	drop       bool
}

// errf returns an ErrUncacheable with detail.
func errf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUncacheable, fmt.Sprintf(format, args...))
}

// params reads the whole input as a params object.
func (c *canonicalizer) params() error {
	c.ws()
	if !c.eat('{') {
		return errf("params are not an object")
	}
	if err := c.object(1, paramsObject); err != nil {
		return err
	}
	c.ws()
	if c.i != len(c.in) {
		return errf("data after the params")
	}
	return nil
}

// ws skips JSON white space.
func (c *canonicalizer) ws() {
	for c.i < len(c.in) {
		switch c.in[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// eat consumes b if it is next.
func (c *canonicalizer) eat(b byte) bool {
	if c.i < len(c.in) && c.in[c.i] == b {
		c.i++
		return true
	}
	return false
}

// value writes one value; meta says it is the params' _meta.
func (c *canonicalizer) value(depth int, meta bool) error {
	c.ws()
	if c.i >= len(c.in) {
		return errf("unexpected end of params")
	}
	switch b := c.in[c.i]; {
	case b == '{':
		c.i++
		kind := plainObject
		if meta {
			kind = metaObject
		}
		return c.object(depth+1, kind)
	case b == '[':
		c.i++
		return c.array(depth + 1)
	case b == '"':
		_, _, err := c.str()
		return err
	case b == '-' || b >= '0' && b <= '9':
		return c.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(string(c.in[c.i:]), lit) {
				c.i += len(lit)
				c.out = append(c.out, lit...)
				return nil
			}
		}
		return errf("unexpected %q at offset %d", b, c.i)
	}
}

// object writes the rest of an object whose '{' was read.
func (c *canonicalizer) object(depth int, kind objectKind) error {
	if depth > maxParamsDepth {
		return errf("params nest deeper than %d", maxParamsDepth)
	}
	objStart := len(c.out)
	c.out = append(c.out, '{')
	var members []span
	sorted, anyDropped := true, false
	c.ws()
	if !c.eat('}') {
		for {
			c.ws()
			start := len(c.out)
			if len(members) > 0 {
				c.out = append(c.out, ',')
				start++
			}
			key, fromInput, err := c.str()
			if err != nil {
				return err
			}
			if !fromInput {
				key = bytes.Clone(key)
			}
			c.ws()
			if !c.eat(':') {
				return errf("no colon after key %q", key)
			}
			c.out = append(c.out, ':')
			if kind == paramsObject && (string(key) == "inputResponses" || string(key) == "requestState") {
				return errf("an MRTR retry (%s)", key)
			}
			valStart := len(c.out)
			if err := c.value(depth, kind == paramsObject && string(key) == "_meta"); err != nil {
				return err
			}
			m := span{key: key, start: start, end: len(c.out)}
			if kind == metaObject && perHopMeta(string(key)) ||
				kind == paramsObject && string(key) == "_meta" && string(c.out[valStart:]) == "{}" {
				m.drop, anyDropped = true, true
			}
			if n := len(members); n > 0 && bytes.Compare(members[n-1].key, key) >= 0 {
				sorted = false
			}
			members = append(members, m)
			c.ws()
			if c.eat(',') {
				continue
			}
			if c.eat('}') {
				break
			}
			return errf("unexpected %q in an object", c.peek())
		}
	}
	if sorted && !anyDropped {
		c.out = append(c.out, '}')
		return nil
	}
	slices.SortFunc(members, func(a, b span) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(members); i++ {
		if bytes.Equal(members[i-1].key, members[i].key) {
			return errf("key %q twice in an object", members[i].key)
		}
	}
	// Rewrite the members in order from a copy of what was written.
	written := bytes.Clone(c.out[objStart:])
	c.out = append(c.out[:objStart], '{')
	first := true
	for _, m := range members {
		if m.drop {
			continue
		}
		if !first {
			c.out = append(c.out, ',')
		}
		first = false
		c.out = append(c.out, written[m.start-objStart:m.end-objStart]...)
	}
	c.out = append(c.out, '}')
	return nil
}

// peek returns the next byte, or 0 at the end.
func (c *canonicalizer) peek() byte {
	if c.i < len(c.in) {
		return c.in[c.i]
	}
	return 0
}

// array writes the rest of an array whose '[' was read.
func (c *canonicalizer) array(depth int) error {
	if depth > maxParamsDepth {
		return errf("params nest deeper than %d", maxParamsDepth)
	}
	c.out = append(c.out, '[')
	c.ws()
	if c.eat(']') {
		c.out = append(c.out, ']')
		return nil
	}
	for {
		if err := c.value(depth, false); err != nil {
			return err
		}
		c.ws()
		if c.eat(',') {
			c.out = append(c.out, ',')
			continue
		}
		if c.eat(']') {
			c.out = append(c.out, ']')
			return nil
		}
		return errf("unexpected %q in an array", c.peek())
	}
}

// number writes a number as written, after checking its grammar.
func (c *canonicalizer) number() error {
	start := c.i
	c.eat('-')
	switch {
	case c.eat('0'):
	case c.i < len(c.in) && c.in[c.i] >= '1' && c.in[c.i] <= '9':
		c.digits()
	default:
		return errf("bad number at offset %d", start)
	}
	if c.eat('.') && !c.digits() {
		return errf("bad fraction at offset %d", start)
	}
	if c.eat('e') || c.eat('E') {
		if !c.eat('+') {
			c.eat('-')
		}
		if !c.digits() {
			return errf("bad exponent at offset %d", start)
		}
	}
	c.out = append(c.out, c.in[start:c.i]...)
	return nil
}

// digits consumes decimal digits and reports whether there was one.
func (c *canonicalizer) digits() bool {
	start := c.i
	for c.i < len(c.in) && c.in[c.i] >= '0' && c.in[c.i] <= '9' {
		c.i++
	}
	return c.i > start
}

// str reads a string, writes it canonically and returns it decoded, as a
// part of the input when it had no escapes (fromInput), else in scratch
// space valid until the next call.
func (c *canonicalizer) str() (s []byte, fromInput bool, err error) {
	if !c.eat('"') {
		return nil, false, errf("expected a string at offset %d", c.i)
	}
	start := c.i
	plain := true // no escapes and nothing to escape: copy it as it is
	for ; c.i < len(c.in); c.i++ {
		switch b := c.in[c.i]; {
		case b == '"':
			raw := c.in[start:c.i]
			c.i++
			if plain {
				c.out = append(c.out, '"')
				c.out = append(c.out, raw...)
				c.out = append(c.out, '"')
				return raw, true, nil
			}
			s, err := c.decoded(raw)
			return s, false, err
		case b < 0x20:
			return nil, false, errf("control character in a string")
		case b == 0xEF && c.i+2 < len(c.in) && c.in[c.i+1] == 0xBF && c.in[c.i+2] == 0xBD:
			return nil, false, errf("U+FFFD in a string")
		case b == '\\':
			plain = false
			c.i++ // the escaped byte may be a quote
		case b == '<' || b == '>' || b == '&':
			plain = false
		case b == 0xE2 && c.i+2 < len(c.in) && c.in[c.i+1] == 0x80 && (c.in[c.i+2] == 0xA8 || c.in[c.i+2] == 0xA9):
			plain = false // U+2028, U+2029
		}
	}
	return nil, false, errf("unterminated string")
}

// decoded decodes the escapes of raw (a string's content), checks the
// result and writes it re-escaped.
func (c *canonicalizer) decoded(raw []byte) ([]byte, error) {
	buf := c.buf[:0]
	for i := 0; i < len(raw); {
		b := raw[i]
		if b != '\\' {
			buf = append(buf, b)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return nil, errf("bad escape")
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(raw[i+2:])
			if !ok {
				return nil, errf("bad \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				// Only a high surrogate followed by an escaped low one
				// makes a character; anything else decodes to U+FFFD.
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2, ok := hex4(raw[i+2:]); ok {
						if full := utf16.DecodeRune(r, r2); full != utf8.RuneError {
							buf = utf8.AppendRune(buf, full)
							i += 6
							continue
						}
					}
				}
				return nil, errf("lone surrogate in a string")
			}
			if r == utf8.RuneError {
				return nil, errf("U+FFFD in a string")
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			return nil, errf("bad escape \\%c", e)
		}
		i += 2
	}
	c.buf = buf
	c.out = appendString(c.out, buf)
	return buf, nil
}

// hex4 decodes four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, d := range b[:4] {
		switch {
		case d >= '0' && d <= '9':
			d -= '0'
		case d >= 'a' && d <= 'f':
			d -= 'a' - 10
		case d >= 'A' && d <= 'F':
			d -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// appendString appends s (valid UTF-8) as a JSON string escaped as
// encoding/json escapes it.
func appendString(out, s []byte) []byte {
	const hex = "0123456789abcdef"
	out = append(out, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				out = append(out, '\\', b)
			case b == '\b':
				out = append(out, '\\', 'b')
			case b == '\f':
				out = append(out, '\\', 'f')
			case b == '\n':
				out = append(out, '\\', 'n')
			case b == '\r':
				out = append(out, '\\', 'r')
			case b == '\t':
				out = append(out, '\\', 't')
			case b < 0x20 || b == '<' || b == '>' || b == '&':
				out = append(out, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			default:
				out = append(out, b)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == '\u2028' || r == '\u2029' {
			out = append(out, '\\', 'u', '2', '0', '2', hex[r&0xF])
		} else {
			out = append(out, s[i:i+n]...)
		}
		i += n
	}
	return append(out, '"')
}
