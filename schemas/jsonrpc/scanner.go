package jsonrpc

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects accepted in a frame,
// counting the message object itself (and the enclosing array of a batch).
// Deeper input is rejected as a parse error.
const MaxDepth = 10000

// scanner is a single-pass validating JSON scanner over data. It never
// allocates on valid input and never recurses, so its stack use does not
// depend on the input.
type scanner struct {
	data []byte
	pos  int
}

// skipWS advances past JSON whitespace.
func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// syntaxError returns a parse error describing the byte at s.pos.
func (s *scanner) syntaxError(context string) *Error {
	var msg string
	switch {
	case s.pos >= len(s.data):
		msg = "unexpected end of input"
	case s.data[s.pos] >= 0x20 && s.data[s.pos] < 0x7f:
		msg = fmt.Sprintf("invalid character %q at offset %d", rune(s.data[s.pos]), s.pos)
	default:
		msg = fmt.Sprintf("invalid byte 0x%02x at offset %d", s.data[s.pos], s.pos)
	}
	if context != "" {
		msg += " " + context
	}
	return parseError(msg)
}

// parseError returns a -32700 error with the given detail.
func parseError(detail string) *Error {
	return &Error{Code: CodeParseError, Message: "Parse error: " + detail}
}

// value validates the JSON value starting at s.pos, which must not be
// whitespace, and advances past it. depth is the number of containers
// enclosing the value.
func (s *scanner) value(depth int) *Error {
	var small [2]uint64
	kinds := small[:] // bit i set: the container at level i is an object
	level := 0
	for {
		if s.pos >= len(s.data) {
			return s.syntaxError("")
		}
		switch c := s.data[s.pos]; c {
		case '{', '[':
			if depth+level+1 > MaxDepth {
				return parseError(fmt.Sprintf("nesting deeper than %d at offset %d", MaxDepth, s.pos))
			}
			if level/64 >= len(kinds) {
				kinds = append(kinds, make([]uint64, len(kinds))...)
			}
			if c == '{' {
				kinds[level/64] |= 1 << (level % 64)
			} else {
				kinds[level/64] &^= 1 << (level % 64)
			}
			level++
			s.pos++
			s.skipWS()
			if s.pos < len(s.data) && s.data[s.pos] == c+2 { // '}' or ']'
				s.pos++
				level--
				break
			}
			if c == '{' {
				if err := s.key(); err != nil {
					return err
				}
			} else if s.pos >= len(s.data) {
				return s.syntaxError("")
			}
			continue
		case '"':
			if _, err := s.str(); err != nil {
				return err
			}
		case 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		default:
			if c != '-' && (c < '0' || c > '9') {
				return s.syntaxError("looking for a value")
			}
			if err := s.number(); err != nil {
				return err
			}
		}
		// A value is complete: close containers until another value is due.
		for {
			if level == 0 {
				return nil
			}
			s.skipWS()
			if s.pos >= len(s.data) {
				return s.syntaxError("")
			}
			c := s.data[s.pos]
			object := kinds[(level-1)/64]>>((level-1)%64)&1 == 1
			if c == ',' {
				s.pos++
				s.skipWS()
				if object {
					if err := s.key(); err != nil {
						return err
					}
				}
				break
			}
			if object && c == '}' || !object && c == ']' {
				s.pos++
				level--
				continue
			}
			if object {
				return s.syntaxError("after object member")
			}
			return s.syntaxError("after array element")
		}
	}
}

// key validates an object member name and the colon after it, leaving s.pos
// on the first byte of the member value.
func (s *scanner) key() *Error {
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		return s.syntaxError("looking for an object member name")
	}
	if _, err := s.str(); err != nil {
		return err
	}
	return s.colon()
}

// colon consumes the colon between a member name and its value, with the
// whitespace around it.
func (s *scanner) colon() *Error {
	s.skipWS()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		return s.syntaxError("after object member name")
	}
	s.pos++
	s.skipWS()
	if s.pos >= len(s.data) {
		return s.syntaxError("")
	}
	return nil
}

// str validates the string starting at s.pos (on the opening quote) and
// advances past it. It reports whether the string contains escapes.
func (s *scanner) str() (escaped bool, err *Error) {
	d := s.data
	i := s.pos + 1
	for i < len(d) {
		c := d[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		switch {
		case c == '"':
			s.pos = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				s.pos = len(d)
				return false, s.syntaxError("")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(d) || !isHex(d[j]) {
						s.pos = j
						return false, s.syntaxError("in \\u escape")
					}
				}
				i += 6
			default:
				s.pos = i + 1
				return false, s.syntaxError("in string escape")
			}
		case c < 0x20:
			s.pos = i
			return false, s.syntaxError("in string literal")
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				s.pos = i
				return false, parseError(fmt.Sprintf("invalid UTF-8 in string at offset %d", i))
			}
			i += size
		}
	}
	s.pos = len(d)
	return false, s.syntaxError("")
}

// number validates a number per the RFC 8259 grammar
//
//	number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "-" / "+" ] 1*DIGIT ]
//
// and advances past it.
func (s *scanner) number() *Error {
	d := s.data
	i := s.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i+1)
	default:
		s.pos = i
		return s.syntaxError("in numeric literal")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return s.syntaxError("after decimal point in numeric literal")
		}
		i = digits(d, i)
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return s.syntaxError("in exponent of numeric literal")
		}
		i = digits(d, i)
	}
	s.pos = i
	return nil
}

// digits returns the index of the first non-digit byte in d at or after i.
func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// literal validates the literal lit (true, false or null) at s.pos and
// advances past it.
func (s *scanner) literal(lit string) *Error {
	for i := 0; i < len(lit); i++ {
		if s.pos >= len(s.data) || s.data[s.pos] != lit[i] {
			return s.syntaxError("in literal " + lit)
		}
		s.pos++
	}
	return nil
}

// end checks that only whitespace follows s.pos.
func (s *scanner) end() *Error {
	s.skipWS()
	if s.pos < len(s.data) {
		return s.syntaxError("after top-level value")
	}
	return nil
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// hexValue returns the value of the hexadecimal digit c, or -1.
func hexValue(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// hex4 decodes the four hexadecimal digits of a \u escape at b[i:], or
// returns -1 when there are not four of them.
func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		v := hexValue(c)
		if v < 0 {
			return -1
		}
		r = r<<4 | v
	}
	return r
}

// appendUnquoted appends the decoded contents of the quoted JSON string q
// to dst. Unpaired surrogate escapes decode to U+FFFD, as in encoding/json.
// It does not validate q and never panics; malformed escapes are copied
// verbatim.
func appendUnquoted(dst, q []byte) []byte {
	if len(q) < 2 {
		return dst
	}
	q = q[1 : len(q)-1]
	for i := 0; i < len(q); {
		c := q[i]
		if c != '\\' || i+1 >= len(q) {
			dst = append(dst, c)
			i++
			continue
		}
		switch q[i+1] {
		case '"', '\\', '/':
			dst = append(dst, q[i+1])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(q, i+2)
			if r < 0 {
				dst = append(dst, c)
				i++
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+1 < len(q) && q[i] == '\\' && q[i+1] == 'u' {
					r2 = hex4(q, i+2)
				}
				if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
					r = p
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			dst = append(dst, c, q[i+1])
		}
		i += 2
	}
	return dst
}
