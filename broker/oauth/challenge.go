package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Challenge is one challenge of a WWW-Authenticate header (RFC 9110
// section 11.6.1): an auth scheme with either a token68 or parameters.
type Challenge struct {
	// Scheme is the auth scheme as sent, such as "Bearer". Compare it
	// case-insensitively.
	Scheme string
	// Token68 is the token68 form of the credentials, if the challenge
	// has one instead of parameters.
	Token68 string
	// Params holds the auth parameters by lower-case name, with quoted
	// values unquoted.
	Params map[string]string
}

// ErrMalformedChallenge is wrapped by the errors of
// [ParseWWWAuthenticate].
var ErrMalformedChallenge = errors.New("oauth: malformed WWW-Authenticate")

// ParseWWWAuthenticate parses the values of WWW-Authenticate header fields
// into their challenges, in order. Each value may hold several
// challenges separated by commas. A parameter name given twice in one
// challenge is an error (RFC 9110 section 11.2).
func ParseWWWAuthenticate(values []string) ([]Challenge, error) {
	var out []Challenge
	for _, v := range values {
		cs, err := parseChallenges(v)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// BearerChallenge returns the first Bearer challenge of h's
// WWW-Authenticate fields. ok is false when there is none or the fields
// do not parse (err says why then).
func BearerChallenge(h http.Header) (c Challenge, ok bool, err error) {
	cs, err := ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	if err != nil {
		return Challenge{}, false, err
	}
	for _, c := range cs {
		if strings.EqualFold(c.Scheme, "Bearer") {
			return c, true, nil
		}
	}
	return Challenge{}, false, nil
}

// String formats c as a WWW-Authenticate value: the scheme, then the
// token68 or the parameters sorted by name, every value quoted.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(c.Scheme)
	if c.Token68 != "" {
		b.WriteByte(' ')
		b.WriteString(c.Token68)
		return b.String()
	}
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteString(`="`)
		for _, r := range []byte(c.Params[k]) {
			if r == '"' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(r)
		}
		b.WriteByte('"')
	}
	return b.String()
}

// parser walks one header value.
type parser struct {
	s string
	i int
}

func (p *parser) eof() bool  { return p.i >= len(p.s) }
func (p *parser) peek() byte { return p.s[p.i] }

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformedChallenge, p.i, fmt.Sprintf(format, args...))
}

// skipOWS skips optional white space and reports whether there was any.
func (p *parser) skipOWS() bool {
	start := p.i
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
	return p.i > start
}

// skipSeps skips white space and list commas.
func (p *parser) skipSeps() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == ',') {
		p.i++
	}
}

// token reads a token (RFC 9110 tchar), possibly empty.
func (p *parser) token() string {
	start := p.i
	for !p.eof() && isTchar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 reads a token68, possibly empty.
func (p *parser) token68() string {
	start := p.i
	for !p.eof() && isToken68Char(p.peek()) {
		p.i++
	}
	if p.i == start {
		return ""
	}
	for !p.eof() && p.peek() == '=' {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string at p.i (which is '"') and returns it
// unquoted.
func (p *parser) quoted() (string, error) {
	p.i++
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			p.i++
			if p.eof() {
				return "", p.errf("unterminated quoted-pair")
			}
			c = p.peek()
			if c != '\t' && (c < 0x20 || c == 0x7f) {
				return "", p.errf("control character in quoted-pair")
			}
		case c != '\t' && (c < 0x20 || c == 0x7f):
			return "", p.errf("control character in quoted-string")
		}
		b.WriteByte(c)
		p.i++
	}
	return "", p.errf("unterminated quoted-string")
}

// parseChallenges parses one header value.
func parseChallenges(s string) ([]Challenge, error) {
	p := &parser{s: s}
	var out []Challenge
	for {
		p.skipSeps()
		if p.eof() {
			return out, nil
		}
		scheme := p.token()
		if scheme == "" {
			return nil, p.errf("expected an auth-scheme")
		}
		c := Challenge{Scheme: scheme}
		if !p.skipOWS() {
			if !p.eof() && p.peek() != ',' {
				return nil, p.errf("unexpected %q after the auth-scheme", p.peek())
			}
			out = append(out, c)
			continue
		}
		if err := p.challengeBody(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// challengeBody reads the token68 or the parameters of c, up to the end
// of the value or the comma before the next challenge.
func (p *parser) challengeBody(c *Challenge) error {
	// token68: the whole body, followed by the end or a comma.
	start := p.i
	if t := p.token68(); t != "" {
		p.skipOWS()
		if p.eof() || p.peek() == ',' {
			c.Token68 = t
			return nil
		}
		p.i = start
	}
	for {
		p.skipOWS()
		if p.eof() {
			return nil
		}
		if p.peek() == ',' {
			// Another parameter of this challenge, or the next challenge?
			save := p.i
			p.skipSeps()
			if p.eof() {
				return nil
			}
			q := p.i
			name := p.token()
			p.skipOWS()
			if name == "" || p.eof() || p.peek() != '=' {
				p.i = save
				return nil
			}
			p.i = q
		}
		name := p.token()
		if name == "" {
			if len(c.Params) == 0 {
				return p.errf("expected a token68 or an auth-param")
			}
			return p.errf("expected an auth-param")
		}
		p.skipOWS()
		if p.eof() || p.peek() != '=' {
			return p.errf("expected '=' after %q", name)
		}
		p.i++
		p.skipOWS()
		var val string
		if !p.eof() && p.peek() == '"' {
			v, err := p.quoted()
			if err != nil {
				return err
			}
			val = v
		} else if val = p.token(); val == "" {
			return p.errf("expected a value for %q", name)
		}
		key := strings.ToLower(name)
		if _, dup := c.Params[key]; dup {
			return p.errf("parameter %q given twice", key)
		}
		if c.Params == nil {
			c.Params = make(map[string]string)
		}
		c.Params[key] = val
		p.skipOWS()
		if !p.eof() && p.peek() != ',' {
			return p.errf("unexpected %q after parameter %q", p.peek(), key)
		}
	}
}

// isTchar reports whether c may appear in a token (RFC 9110 section 5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char reports whether c may appear in a token68 before its
// padding (RFC 9110 section 11.2).
func isToken68Char(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}
