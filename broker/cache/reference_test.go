package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// referenceCanonical is CanonicalParams written the slow way, over
// encoding/json's token stream, for the differential tests.
func referenceCanonical(params []byte) (string, error) {
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
	c := refCanon{dec: json.NewDecoder(bytes.NewReader(trimmed))}
	c.dec.UseNumber()
	tok, err := c.dec.Token()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUncacheable, err)
	}
	if tok != json.Delim('{') {
		return "", fmt.Errorf("%w: params are not an object", ErrUncacheable)
	}
	var out bytes.Buffer
	if err := c.object(&out, 1, paramsObject); err != nil {
		return "", err
	}
	if _, err := c.dec.Token(); err != io.EOF {
		return "", fmt.Errorf("%w: data after the params", ErrUncacheable)
	}
	if out.String() == "{}" {
		return "", nil
	}
	return out.String(), nil
}

// refCanon writes canonical JSON from a token stream (the reference).
type refCanon struct {
	dec *json.Decoder
}

// refMember is an object refMember in canonical form.
type refMember struct {
	key string
	val []byte
}

// object writes the rest of an object whose '{' was read.
func (c *refCanon) object(out *bytes.Buffer, depth int, kind objectKind) error {
	if depth > maxParamsDepth {
		return fmt.Errorf("%w: params nest deeper than %d", ErrUncacheable, maxParamsDepth)
	}
	var members []refMember
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUncacheable, err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: object key %v", ErrUncacheable, tok)
		}
		if strings.ContainsRune(key, utf8.RuneError) {
			return fmt.Errorf("%w: U+FFFD in a key", ErrUncacheable)
		}
		if kind == paramsObject && (key == "inputResponses" || key == "requestState") {
			return fmt.Errorf("%w: an MRTR retry (%s)", ErrUncacheable, key)
		}
		var val bytes.Buffer
		if err := c.value(&val, depth, kind == paramsObject && key == "_meta"); err != nil {
			return err
		}
		m := refMember{key: key, val: val.Bytes()}
		if kind == metaObject && perHopMeta(key) ||
			kind == paramsObject && key == "_meta" && val.String() == "{}" {
			m.val = nil // dropped, but still checked for duplicates
		}
		members = append(members, m)
	}
	if _, err := c.dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("%w: %w", ErrUncacheable, err)
	}
	slices.SortFunc(members, func(a, b refMember) int { return strings.Compare(a.key, b.key) })
	out.WriteByte('{')
	first := true
	for i, m := range members {
		if i > 0 && members[i-1].key == m.key {
			return fmt.Errorf("%w: key %q twice in an object", ErrUncacheable, m.key)
		}
		if m.val == nil {
			continue
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		refWriteString(out, m.key)
		out.WriteByte(':')
		out.Write(m.val)
	}
	out.WriteByte('}')
	return nil
}

// value reads and writes one value; meta says it is the params' _meta.
func (c *refCanon) value(out *bytes.Buffer, depth int, meta bool) error {
	tok, err := c.dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUncacheable, err)
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			kind := plainObject
			if meta {
				kind = metaObject
			}
			return c.object(out, depth+1, kind)
		case '[':
			return c.array(out, depth+1)
		}
		return fmt.Errorf("%w: unexpected %v", ErrUncacheable, v)
	case string:
		if strings.ContainsRune(v, utf8.RuneError) {
			return fmt.Errorf("%w: U+FFFD in a string", ErrUncacheable)
		}
		refWriteString(out, v)
	case json.Number:
		out.WriteString(string(v))
	case bool:
		if v {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case nil:
		out.WriteString("null")
	default:
		return fmt.Errorf("%w: unexpected token %T", ErrUncacheable, tok)
	}
	return nil
}

// array writes the rest of an array whose '[' was read.
func (c *refCanon) array(out *bytes.Buffer, depth int) error {
	if depth > maxParamsDepth {
		return fmt.Errorf("%w: params nest deeper than %d", ErrUncacheable, maxParamsDepth)
	}
	out.WriteByte('[')
	for i := 0; c.dec.More(); i++ {
		if i > 0 {
			out.WriteByte(',')
		}
		if err := c.value(out, depth, false); err != nil {
			return err
		}
	}
	if _, err := c.dec.Token(); err != nil { // the closing ']'
		return fmt.Errorf("%w: %w", ErrUncacheable, err)
	}
	out.WriteByte(']')
	return nil
}

// refWriteString writes s as a JSON string the way encoding/json does.
func refWriteString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	out.Write(b)
}
