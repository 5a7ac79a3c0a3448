// Package jsontree decodes JSON text into the generic value tree that
// encoding/json builds when a Decoder with UseNumber decodes into an any:
// map[string]any for objects, []any for arrays, string, json.Number (the
// literal text of the number, unchanged), bool and nil. The schema
// validator (github.com/santhosh-tekuri/jsonschema/v6) validates such trees.
//
// Decode is a single-pass, reflection-free recursive-descent parser; it is
// several times faster than encoding/json and allocates less.
//
// It differs from encoding/json on purpose in two ways, both stricter:
//
//   - Invalid UTF-8 anywhere in the input is an error. (encoding/json
//     replaces invalid bytes inside strings with U+FFFD.) Escapes are
//     decoded as encoding/json decodes them: a \u escape of a lone UTF-16
//     surrogate becomes U+FFFD, as it is well-formed JSON.
//   - Anything but white space after the value is an error, as in
//     json.Unmarshal (a json.Decoder stops after the first value).
//
// Everything encoding/json rejects is rejected too, including nesting
// deeper than 10000 arrays and objects. Of duplicate object keys the last
// wins.
package jsontree

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Decode accepts, the
// same limit as encoding/json's.
const MaxDepth = 10000

// SyntaxError describes why and where the input is not valid JSON (or not
// valid UTF-8).
type SyntaxError struct {
	Offset int    // byte offset in the input at which the error was found
	Msg    string // description of the error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s (at offset %d)", e.Msg, e.Offset)
}

// Decode parses one JSON value, optionally surrounded by white space, and
// returns its tree. Strings and numbers in the tree share one copy of the
// input (so the tree keeps all of it reachable); strings with escapes are
// allocated apart. A returned error is a *SyntaxError.
func Decode(b []byte) (any, error) {
	d := decoder{s: string(b)}
	if len(b) >= boxCacheMinInput {
		d.boxes = new([boxCacheSize]boxed)
	}
	d.skipSpace()
	v := d.value()
	if d.err != nil {
		return nil, d.err
	}
	d.skipSpace()
	if d.pos < len(d.s) {
		d.fail(d.pos, "invalid character "+quoteChar(d.s[d.pos])+" after top-level value")
		return nil, d.err
	}
	return v, nil
}

// decoder is the state of one Decode call.
type decoder struct {
	s     string // a copy of the input; results are substrings of it
	pos   int    // offset of the next byte to read
	depth int    // number of open arrays and objects
	err   error  // first error; once set, parsing unwinds

	// The elements of the open arrays, a stack shared by all levels:
	// each pushes above its parent's and pops its own when it closes,
	// so that a slice is allocated once, at its final size.
	elems []any
	buf   []byte // scratch for unescaping strings

	// Recently boxed short strings and numbers, so that values repeated
	// throughout a document (enum members, MIME types, bounds...) share
	// one allocation. Direct-mapped by a cheap hash of the text; nil for
	// small inputs, where it would not pay.
	boxes *[boxCacheSize]boxed
}

func (d *decoder) fail(off int, msg string) {
	if d.err == nil {
		d.err = &SyntaxError{Offset: off, Msg: msg}
	}
}

func (d *decoder) failEOF() {
	d.fail(len(d.s), "unexpected end of JSON input")
}

// failAt reports an unexpected byte at d.pos (or the end of the input).
func (d *decoder) failAt(context string) {
	if d.pos >= len(d.s) {
		d.failEOF()
		return
	}
	d.fail(d.pos, "invalid character "+quoteChar(d.s[d.pos])+" "+context)
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < utf8.RuneSelf && c >= ' ' && c != 0x7f:
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (d *decoder) skipSpace() {
	s, i := d.s, d.pos
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	d.pos = i
}

// value parses the value at d.pos, which is not white space.
func (d *decoder) value() any {
	if d.pos >= len(d.s) {
		d.failEOF()
		return nil
	}
	switch c := d.s[d.pos]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		s, ok := d.str()
		if !ok {
			return nil
		}
		return d.boxString(s)
	case 't':
		if d.literal("true") {
			return true
		}
		return nil
	case 'f':
		if d.literal("false") {
			return false
		}
		return nil
	case 'n':
		d.literal("null")
		return nil
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return d.number()
		}
	}
	d.failAt("looking for beginning of value")
	return nil
}

func (d *decoder) literal(lit string) bool {
	s := d.s[d.pos:]
	for i := 1; i < len(lit); i++ {
		if i >= len(s) {
			d.failEOF()
			return false
		}
		if s[i] != lit[i] {
			d.pos += i
			d.failAt("in literal " + lit + " (expecting " + quoteChar(lit[i]) + ")")
			return false
		}
	}
	d.pos += len(lit)
	return true
}

func (d *decoder) enter() bool {
	d.depth++
	if d.depth > MaxDepth {
		d.fail(d.pos, "exceeded max depth")
		return false
	}
	return true
}

func (d *decoder) object() any {
	if !d.enter() {
		return nil
	}
	d.pos++ // '{'
	d.skipSpace()
	if d.pos < len(d.s) && d.s[d.pos] == '}' {
		d.pos++
		d.depth--
		return map[string]any{}
	}
	// Most objects are small, and a map of up to 8 entries is one group
	// whatever its size hint: entries go in as they come, with no
	// scratch stack to size the map first.
	m := map[string]any{}
	for {
		if d.pos >= len(d.s) || d.s[d.pos] != '"' {
			d.failAt("looking for beginning of object key string")
			return nil
		}
		name, ok := d.str()
		if !ok {
			return nil
		}
		d.skipSpace()
		if d.pos >= len(d.s) || d.s[d.pos] != ':' {
			d.failAt("after object key")
			return nil
		}
		d.pos++
		d.skipSpace()
		v := d.value()
		if d.err != nil {
			return nil
		}
		m[name] = v
		d.skipSpace()
		if d.pos >= len(d.s) {
			d.failEOF()
			return nil
		}
		c := d.s[d.pos]
		if c == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if c == '}' {
			d.pos++
			break
		}
		d.failAt("after object key:value pair")
		return nil
	}
	d.depth--
	return m
}

func (d *decoder) array() any {
	if !d.enter() {
		return nil
	}
	d.pos++ // '['
	d.skipSpace()
	if d.pos < len(d.s) && d.s[d.pos] == ']' {
		d.pos++
		d.depth--
		return []any{}
	}
	if d.elems == nil {
		d.elems = make([]any, 0, 32)
	}
	base := len(d.elems)
	for {
		v := d.value()
		if d.err != nil {
			return nil
		}
		d.elems = append(d.elems, v)
		d.skipSpace()
		if d.pos >= len(d.s) {
			d.failEOF()
			return nil
		}
		c := d.s[d.pos]
		if c == ',' {
			d.pos++
			d.skipSpace()
			continue
		}
		if c == ']' {
			d.pos++
			break
		}
		d.failAt("after array element")
		return nil
	}
	es := d.elems[base:]
	a := make([]any, len(es))
	copy(a, es)
	d.elems = d.elems[:base] // the stale entries above die with d
	d.depth--
	return a
}

// number parses the number at d.pos (a '-' or a digit) and returns its
// literal as a json.Number.
func (d *decoder) number() any {
	s, i := d.s, d.pos
	start := i
	if s[i] == '-' {
		i++
		if i >= len(s) {
			d.failEOF()
			return nil
		}
	}
	switch c := s[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		d.failAt("in numeric literal")
		return nil
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !d.digits(&i) {
			return nil
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !d.digits(&i) {
			return nil
		}
	}
	d.pos = i
	return d.boxNumber(json.Number(s[start:i]))
}

// digits consumes one or more decimal digits at *i.
func (d *decoder) digits(i *int) bool {
	s, j := d.s, *i
	if j >= len(s) {
		d.failEOF()
		return false
	}
	if s[j] < '0' || s[j] > '9' {
		d.pos = j
		d.failAt("in numeric literal")
		return false
	}
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	*i = j
	return true
}

// Constants of the word-at-a-time string scan.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load64 returns the first eight bytes of s as a little-endian word (the
// compiler makes it one load).
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plain returns the offset of the first byte at or after i that is a
// quote, a backslash, a control character or not ASCII, or len(s).
func plain(s string, i int) int {
	// Eight bytes at a time: for each test the lowest byte flagged is a
	// real match (see "Determine if a word has a zero byte" in Bit
	// Twiddling Hacks).
	for i+8 <= len(s) {
		x := load64(s[i : i+8])
		q := x ^ ('"' * lsb)
		bs := x ^ ('\\' * lsb)
		if t := (((x - ' '*lsb) &^ x) | ((q - lsb) &^ q) | ((bs - lsb) &^ bs) | x) & msb; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
		i += 8
	}
	for i < len(s) {
		if c := s[i]; c == '"' || c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			return i
		}
		i++
	}
	return i
}

// str parses the string at d.pos (a '"') and returns its value.
func (d *decoder) str() (string, bool) {
	s := d.s
	start := d.pos + 1
	for i := start; ; {
		if i = plain(s, i); i >= len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return s[start:i], true
		case c == '\\':
			return d.unescape(start, i)
		case c < ' ':
			d.pos = i
			d.failAt("in string literal")
			return "", false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				d.fail(i, "invalid UTF-8 in string literal")
				return "", false
			}
			i += n
		}
	}
	d.failEOF()
	return "", false
}

// unescape finishes parsing a string that starts at start and has its
// first backslash at i.
func (d *decoder) unescape(start, i int) (string, bool) {
	s := d.s
	b := append(d.buf[:0], s[start:i]...)
	for i < len(s) {
		j := plain(s, i)
		b = append(b, s[i:j]...)
		if i = j; i >= len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = b
			return string(b), true
		case c == '\\':
			if i+1 >= len(s) {
				d.failEOF()
				return "", false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := d.hex4(i + 2)
				if !ok {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// As encoding/json: a valid pair is one rune;
					// anything else is U+FFFD for the first escape,
					// and what follows is decoded on its own.
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if r2, ok := hexVal(s[i+2 : i+6]); ok {
							if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
								b = utf8.AppendRune(b, p)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				d.pos = i + 1
				d.failAt("in string escape code")
				return "", false
			}
			i += 2
		case c < ' ':
			d.pos = i
			d.failAt("in string literal")
			return "", false
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				d.fail(i, "invalid UTF-8 in string literal")
				return "", false
			}
			b = append(b, s[i:i+n]...)
			i += n
		}
	}
	d.failEOF()
	return "", false
}

// hex4 decodes the four hex digits of a \u escape at s[i:].
func (d *decoder) hex4(i int) (rune, bool) {
	s := d.s
	for j := i; j < i+4; j++ {
		if j >= len(s) {
			d.failEOF()
			return 0, false
		}
		if _, ok := hexDigit(s[j]); !ok {
			d.pos = j
			d.failAt("in \\u hexadecimal character escape")
			return 0, false
		}
	}
	r, _ := hexVal(s[i : i+4])
	return r, true
}

func hexVal(h string) (rune, bool) {
	var r rune
	for i := 0; i < len(h); i++ {
		v, ok := hexDigit(h[i])
		if !ok {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}

func hexDigit(c byte) (rune, bool) {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0'), true
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10), true
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}

// boxCacheSize is the number of entries of the box cache (a power of 2);
// boxCacheMaxLen the longest text it caches; boxCacheMinInput the size of
// the smallest input that gets one.
const (
	boxCacheSize     = 64
	boxCacheMaxLen   = 32
	boxCacheMinInput = 1024
)

// boxed is an entry of the box cache: a value boxed as an any, and its
// text (the string, or the literal of the json.Number).
type boxed struct {
	text  string
	value any
}

// boxSlot returns the cache entry for text, which is not empty.
func (d *decoder) boxSlot(text string) *boxed {
	n := len(text)
	h := uint(n)*31 + uint(text[0]) + uint(text[n-1])*7 + uint(text[n/2])*131
	return &d.boxes[h%boxCacheSize]
}

// boxString returns s as an any, without allocating for frequent values of
// MCP messages and their schemas nor, usually, for repeated short values.
func (d *decoder) boxString(s string) any {
	if c := constString(s); c != nil {
		return c
	}
	if len(s) > boxCacheMaxLen || d.boxes == nil {
		return s
	}
	e := d.boxSlot(s)
	if e.value != nil && e.text == s {
		if _, ok := e.value.(string); ok {
			return e.value
		}
	}
	var v any = s
	*e = boxed{s, v}
	return v
}

// boxNumber is boxString for numbers.
func (d *decoder) boxNumber(n json.Number) any {
	if c := constNumber(n); c != nil {
		return c
	}
	if len(n) > boxCacheMaxLen || d.boxes == nil {
		return n
	}
	e := d.boxSlot(string(n))
	if e.value != nil && e.text == string(n) {
		if _, ok := e.value.(json.Number); ok {
			return e.value
		}
	}
	var v any = n
	*e = boxed{string(n), v}
	return v
}

// constString returns frequent values of MCP messages and their schemas as
// constants, which need no allocation, or nil.
func constString(s string) any {
	switch s {
	case "object":
		return "object"
	case "string":
		return "string"
	case "integer":
		return "integer"
	case "number":
		return "number"
	case "boolean":
		return "boolean"
	case "array":
		return "array"
	case "null":
		return "null"
	case "2.0":
		return "2.0"
	case "text":
		return "text"
	case "image":
		return "image"
	case "audio":
		return "audio"
	case "resource":
		return "resource"
	case "resource_link":
		return "resource_link"
	case "user":
		return "user"
	case "assistant":
		return "assistant"
	case "":
		return ""
	}
	return nil
}

// constNumber is constString for numbers: small integers.
func constNumber(n json.Number) any {
	switch n {
	case "0":
		return json.Number("0")
	case "1":
		return json.Number("1")
	case "2":
		return json.Number("2")
	case "3":
		return json.Number("3")
	case "-1":
		return json.Number("-1")
	}
	return nil
}
