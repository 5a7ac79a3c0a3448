package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Node is a lazily decoded JSON value. It starts as the raw bytes of a
// value that was already checked to be valid JSON (the codec did that), and
// decodes one level at a time, only where a translator looks. Untouched
// values are written back byte for byte; only nodes on the path to a change
// are re-encoded. This is how a chain of translators decodes a message
// once, rewrites it, and encodes it once.
type Node struct {
	raw     []byte // original bytes; nil for a node built by a translator
	kind    byte   // '{', '[', '"', 'n' (null), 't'/'f' (bool), '0' (number)
	parsed  bool   // members/elems are filled in (objects and arrays)
	dirty   bool   // this node or a descendant changed since parsing
	members []member
	elems   []*Node
	parent  *Node
}

type member struct {
	key    string
	rawKey []byte // the key as written, quotes included; nil for new keys
	val    *Node
}

// Parse wraps raw JSON (already validated) in a Node.
func Parse(raw []byte) *Node {
	raw = bytes.TrimSpace(raw)
	n := &Node{raw: raw}
	if len(raw) > 0 {
		n.kind = kindOf(raw[0])
	}
	return n
}

// NewJSON returns a node for raw JSON text built by a translator. The text
// must be valid JSON; it is encoded as is.
func NewJSON(raw string) *Node { return Parse([]byte(raw)) }

// NewString returns a JSON string node.
func NewString(s string) *Node {
	return &Node{raw: appendQuoted(make([]byte, 0, len(s)+2), s), kind: '"'}
}

// appendQuoted appends s as a JSON string. Plain printable ASCII takes a
// fast path; anything else is escaped by encoding/json (without HTML
// escaping, as the peers wrote it).
func appendQuoted(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// NewInt returns a JSON number node.
func NewInt(i int64) *Node { return &Node{raw: strconv.AppendInt(nil, i, 10), kind: '0'} }

// NewValue marshals a Go value into a node.
func NewValue(v any) *Node {
	b, err := json.Marshal(v)
	if err != nil {
		return &Node{raw: []byte("null"), kind: 'n'}
	}
	return Parse(b)
}

// NewObject returns an empty object node.
func NewObject() *Node { return &Node{kind: '{', parsed: true, dirty: true} }

// NewArray returns an array node with the given elements.
func NewArray(elems ...*Node) *Node {
	n := &Node{kind: '[', parsed: true, dirty: true, elems: elems}
	for _, e := range elems {
		e.parent = n
	}
	return n
}

func kindOf(c byte) byte {
	switch c {
	case '{', '[', '"', 'n', 't', 'f':
		return c
	}
	return '0'
}

// IsObject and friends report the JSON type of a node (false for nil).
func (n *Node) IsObject() bool { return n != nil && n.kind == '{' }

// IsArray reports whether n is a JSON array.
func (n *Node) IsArray() bool { return n != nil && n.kind == '[' }

// IsString reports whether n is a JSON string.
func (n *Node) IsString() bool { return n != nil && n.kind == '"' }

// IsNumber reports whether n is a JSON number.
func (n *Node) IsNumber() bool { return n != nil && n.kind == '0' }

// IsNull reports whether n is JSON null.
func (n *Node) IsNull() bool { return n != nil && n.kind == 'n' }

// IsBool reports whether n is true or false.
func (n *Node) IsBool() bool { return n != nil && (n.kind == 't' || n.kind == 'f') }

// Raw returns the node's JSON text, encoding it if it changed.
func (n *Node) Raw() []byte {
	if n == nil {
		return nil
	}
	if !n.dirty && n.raw != nil {
		return n.raw
	}
	var b bytes.Buffer
	b.Grow(len(n.raw) + 256)
	n.encode(&b)
	return b.Bytes()
}

// Str returns the value of a string node ("" for other kinds).
func (n *Node) Str() string {
	if !n.IsString() {
		return ""
	}
	if !n.dirty && n.raw != nil && bytes.IndexByte(n.raw, '\\') < 0 {
		return string(n.raw[1 : len(n.raw)-1])
	}
	var s string
	_ = json.Unmarshal(n.Raw(), &s)
	return s
}

// Bool returns the value of a boolean node (false for other kinds).
func (n *Node) Bool() bool { return n != nil && n.kind == 't' }

// Get returns the member key of an object node, or nil.
func (n *Node) Get(key string) *Node {
	if !n.IsObject() {
		return nil
	}
	n.parse()
	for i := range n.members {
		if n.members[i].key == key {
			return n.members[i].val
		}
	}
	return nil
}

// Has reports whether an object node has the member key.
func (n *Node) Has(key string) bool { return n.Get(key) != nil }

// Keys returns the member names of an object node, in order.
func (n *Node) Keys() []string {
	if !n.IsObject() {
		return nil
	}
	n.parse()
	out := make([]string, len(n.members))
	for i, m := range n.members {
		out[i] = m.key
	}
	return out
}

// Len returns the number of elements of an array or members of an object.
func (n *Node) Len() int {
	switch {
	case n.IsArray():
		n.parse()
		return len(n.elems)
	case n.IsObject():
		n.parse()
		return len(n.members)
	}
	return 0
}

// Index returns element i of an array node, or nil.
func (n *Node) Index(i int) *Node {
	if !n.IsArray() {
		return nil
	}
	n.parse()
	if i < 0 || i >= len(n.elems) {
		return nil
	}
	return n.elems[i]
}

// Elems returns the elements of an array node (nil for other kinds). The
// slice must not be modified; use SetIndex, Append and RemoveIndex.
func (n *Node) Elems() []*Node {
	if !n.IsArray() {
		return nil
	}
	n.parse()
	return n.elems
}

// Set sets (or adds, at the end) the member key of an object node.
func (n *Node) Set(key string, v *Node) {
	if !n.IsObject() || v == nil {
		return
	}
	n.parse()
	v.parent = n
	for i := range n.members {
		if n.members[i].key == key {
			n.members[i].val = v
			n.touch()
			return
		}
	}
	n.members = append(n.members, member{key: key, val: v})
	n.touch()
}

// Delete removes the member key of an object node; it reports whether the
// member was there.
func (n *Node) Delete(key string) bool {
	if !n.IsObject() {
		return false
	}
	n.parse()
	for i := range n.members {
		if n.members[i].key == key {
			n.members = append(n.members[:i], n.members[i+1:]...)
			n.touch()
			return true
		}
	}
	return false
}

// SetIndex replaces element i of an array node.
func (n *Node) SetIndex(i int, v *Node) {
	if !n.IsArray() || v == nil {
		return
	}
	n.parse()
	if i < 0 || i >= len(n.elems) {
		return
	}
	v.parent = n
	n.elems[i] = v
	n.touch()
}

// Append adds an element at the end of an array node.
func (n *Node) Append(v *Node) {
	if !n.IsArray() || v == nil {
		return
	}
	n.parse()
	v.parent = n
	n.elems = append(n.elems, v)
	n.touch()
}

// RemoveIndex removes element i of an array node.
func (n *Node) RemoveIndex(i int) {
	if !n.IsArray() {
		return
	}
	n.parse()
	if i < 0 || i >= len(n.elems) {
		return
	}
	n.elems = append(n.elems[:i], n.elems[i+1:]...)
	n.touch()
}

// Clone returns a deep copy that shares no mutable state with n.
func (n *Node) Clone() *Node {
	if n == nil {
		return nil
	}
	return Parse(bytes.Clone(n.Raw()))
}

// touch marks n and its ancestors as changed.
func (n *Node) touch() {
	for x := n; x != nil && !x.dirty; x = x.parent {
		x.dirty = true
	}
	// Ancestors of an already dirty node are dirty too: touch stops there.
}

// parse decodes one level of an object or array node, in one pass over
// its bytes. Child nodes are allocated in chunks that never move, so that
// the pointers to them stay valid.
func (n *Node) parse() {
	if n.parsed {
		return
	}
	n.parsed = true
	if n.raw == nil || (n.kind != '{' && n.kind != '[') {
		return
	}
	s := n.raw
	var chunk []Node
	next := func() *Node {
		if len(chunk) == cap(chunk) {
			chunk = make([]Node, 0, 8)
		}
		chunk = chunk[:len(chunk)+1]
		return &chunk[len(chunk)-1]
	}
	for i := skipSpace(s, 1); i < len(s) && s[i] != '}' && s[i] != ']'; {
		var rawKey []byte
		if n.kind == '{' {
			ks := i
			i = skipString(s, i)
			rawKey = s[ks:i]
			i = skipSpace(s, i)
			i = skipSpace(s, i+1) // ':'
		}
		vs := i
		i = skipValue(s, i)
		v := next()
		*v = Node{raw: s[vs:i], kind: kindOf(s[vs]), parent: n}
		if n.kind == '{' {
			n.members = append(n.members, member{key: unquote(rawKey), rawKey: rawKey, val: v})
		} else {
			n.elems = append(n.elems, v)
		}
		i = skipSpace(s, i)
		if i < len(s) && s[i] == ',' {
			i = skipSpace(s, i+1)
		}
	}
}

func (n *Node) encode(b *bytes.Buffer) {
	if !n.dirty && n.raw != nil {
		b.Write(n.raw)
		return
	}
	switch n.kind {
	case '{':
		n.parse()
		b.WriteByte('{')
		for i, m := range n.members {
			if i > 0 {
				b.WriteByte(',')
			}
			if m.rawKey != nil {
				b.Write(m.rawKey)
			} else {
				b.Write(appendQuoted(nil, m.key))
			}
			b.WriteByte(':')
			m.val.encode(b)
		}
		b.WriteByte('}')
	case '[':
		n.parse()
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.encode(b)
		}
		b.WriteByte(']')
	default:
		b.Write(n.raw)
	}
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at s[i] == '"'.
func skipString(s []byte, i int) int {
	i++
	for i < len(s) {
		switch s[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return i
}

// skipValue returns the index after the (valid) JSON value at s[i].
func skipValue(s []byte, i int) int {
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for i < len(s) {
			switch s[i] {
			case '"':
				i = skipString(s, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		for i < len(s) {
			switch s[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// commonKeys interns the member names MCP messages use most, so that
// decoding a level allocates no key strings for them.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"jsonrpc", "id", "method", "params", "result", "error", "code", "message", "data",
		"name", "arguments", "_meta", "progressToken", "content", "type", "text", "uri", "mimeType", "tools",
		"description", "inputSchema", "outputSchema", "properties", "required", "annotations", "title",
		"capabilities", "clientInfo", "serverInfo", "protocolVersion", "resources", "prompts", "messages",
		"structuredContent", "isError", "nextCursor", "cursor", "resultType", "icons", "execution", "task"} {
		m[k] = k
	}
	return m
}()

func unquote(q []byte) string {
	inner := q[1 : len(q)-1]
	if k, ok := commonKeys[string(inner)]; ok {
		return k
	}
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	_ = json.Unmarshal(q, &s)
	return s
}
