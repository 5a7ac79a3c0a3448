package official

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MaxMutations caps how many mutations Mutations returns for one message.
const MaxMutations = 60

// Mutation is a mechanical variant of a message.
type Mutation struct {
	// Name says what changed, with a JSON pointer: "delete /params/name",
	// "retype /result/content/0/type=number", "enum /params/level=error".
	Name string
	Raw  []byte // the mutated message, compact JSON
}

// Mutations returns mechanical variants of a (valid) JSON message, in a
// deterministic order and at most MaxMutations of them:
//
//   - "enum": every string that is a value of a known MCP enum or const
//     family (content block types, roles, logging levels, elicitation
//     actions and modes, result types, cache scopes, task statuses, stop
//     reasons, completion reference types, includeContext values, tool
//     choice modes, task support values, icon themes, string formats),
//     under a key of that family, replaced by each other value of the
//     family, across all revisions;
//   - "delete": every object key at every depth removed;
//   - "retype": every value below the top level replaced by a value of
//     each other JSON type ("x", 7, true, null, {}, []).
//
// When there are more candidates than the cap, all enum swaps come first
// (at most a third of the cap) and deletions and retypes are sampled
// evenly across the message, so deep fields are mutated too. A message
// that is not valid JSON yields no mutations.
func Mutations(msg []byte) []Mutation {
	root, err := parseOrdered(msg)
	if err != nil {
		return nil
	}
	var enums, deletes, retypes []candidate
	walk(root, nil, "", "", func(c candidate) {
		switch c.family {
		case "enum":
			enums = append(enums, c)
		case "delete":
			deletes = append(deletes, c)
		default:
			retypes = append(retypes, c)
		}
	})
	enums = spread(enums, MaxMutations/3)
	rest := MaxMutations - len(enums)
	nDel := min(len(deletes), rest/2)
	nRet := min(len(retypes), rest-nDel)
	nDel = min(len(deletes), rest-nRet)
	picked := slices.Concat(enums, spread(deletes, nDel), spread(retypes, nRet))

	seen := map[string]bool{string(encode(root)): true}
	out := make([]Mutation, 0, len(picked))
	for _, c := range picked {
		raw := encode(c.apply(root))
		if seen[string(raw)] {
			continue
		}
		seen[string(raw)] = true
		out = append(out, Mutation{Name: c.name, Raw: raw})
	}
	return out
}

// spread returns n items of cs, evenly spaced, in order.
func spread(cs []candidate, n int) []candidate {
	if n >= len(cs) {
		return cs
	}
	out := make([]candidate, 0, n)
	for i := range n {
		out = append(out, cs[i*len(cs)/n])
	}
	return out
}

// candidate is one possible mutation.
type candidate struct {
	family string // "enum", "delete" or "retype"
	name   string
	path   []int // child indexes from the root to the target
	// replace is the new value (nil for delete).
	replace *node
}

// apply returns a copy of root with the mutation done.
func (c candidate) apply(root *node) *node {
	out := root.clone()
	parent := out
	for _, i := range c.path[:len(c.path)-1] {
		parent = parent.kids[i]
	}
	last := c.path[len(c.path)-1]
	if c.replace == nil {
		parent.keys = slices.Delete(parent.keys, last, last+1)
		parent.kids = slices.Delete(parent.kids, last, last+1)
	} else {
		parent.kids[last] = c.replace.clone()
	}
	return out
}

// walk visits n (at JSON pointer ptr, reached by path, under object key
// key) and everything below it, emitting candidates in document order.
func walk(n *node, path []int, ptr, key string, emit func(candidate)) {
	if len(path) > 0 {
		if n.kind == kString {
			for _, alt := range enumAlternatives(key, n.str) {
				emit(candidate{family: "enum", name: "enum " + ptr + "=" + alt, path: path, replace: &node{kind: kString, str: alt}})
			}
		}
		for _, t := range retypeTargets() {
			if t.kind != n.kind {
				emit(candidate{family: "retype", name: "retype " + ptr + "=" + t.name, path: path, replace: t.value()})
			}
		}
	}
	for i, kid := range n.kids {
		kpath := append(slices.Clip(path), i)
		if n.kind == kObject {
			kptr := ptr + "/" + escapePointer(n.keys[i])
			emit(candidate{family: "delete", name: "delete " + kptr, path: kpath})
			walk(kid, kpath, kptr, n.keys[i], emit)
		} else {
			// Array elements inherit the array's key (roles in "audience").
			walk(kid, kpath, fmt.Sprintf("%s/%d", ptr, i), key, emit)
		}
	}
}

// retypeTarget is a JSON type that "retype" can put in place of a value.
type retypeTarget struct {
	name string
	kind byte
}

// retypeTargets returns the replacement types of "retype", in order.
func retypeTargets() []retypeTarget {
	return []retypeTarget{
		{"string", kString}, {"number", kNumber}, {"boolean", kBool},
		{"null", kNull}, {"object", kObject}, {"array", kArray},
	}
}

// value returns the replacement value of a retype target.
func (t retypeTarget) value() *node {
	switch t.kind {
	case kString:
		return &node{kind: kString, str: "x"}
	case kNumber:
		return &node{kind: kNumber, str: "7"}
	case kBool:
		return &node{kind: kBool, b: true}
	case kObject:
		return &node{kind: kObject}
	case kArray:
		return &node{kind: kArray}
	}
	return &node{kind: kNull}
}

// enumFamily is a set of interchangeable string values of MCP, with the
// object keys under which they occur.
type enumFamily struct {
	keys   []string
	values []string
}

// enumFamilies returns the enum and const families of every MCP revision.
func enumFamilies() []enumFamily {
	return []enumFamily{
		{[]string{"type"}, []string{"text", "image", "audio", "resource_link", "resource", "tool_use", "tool_result"}},
		{[]string{"type"}, []string{"ref/prompt", "ref/resource"}},
		{[]string{"role", "audience"}, []string{"user", "assistant"}},
		{[]string{"level", "io.modelcontextprotocol/logLevel"}, []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}},
		{[]string{"action"}, []string{"accept", "decline", "cancel"}},
		{[]string{"mode"}, []string{"form", "url"}},
		{[]string{"mode"}, []string{"auto", "none", "required"}},
		{[]string{"resultType"}, []string{"complete", "input_required", "task"}},
		{[]string{"cacheScope"}, []string{"public", "private"}},
		{[]string{"status"}, []string{"working", "input_required", "completed", "failed", "cancelled"}},
		{[]string{"stopReason"}, []string{"endTurn", "stopSequence", "maxTokens", "toolUse"}},
		{[]string{"includeContext"}, []string{"none", "thisServer", "allServers"}},
		{[]string{"taskSupport"}, []string{"forbidden", "optional", "required"}},
		{[]string{"theme"}, []string{"light", "dark"}},
		{[]string{"format"}, []string{"date", "date-time", "email", "uri"}},
		{[]string{"type"}, []string{"integer", "number"}},
	}
}

// enumAlternatives returns the other values of the family that value
// belongs to under key, or nil.
func enumAlternatives(key, value string) []string {
	for _, f := range enumFamilies() {
		if slices.Contains(f.keys, key) && slices.Contains(f.values, value) {
			return slices.DeleteFunc(slices.Clone(f.values), func(v string) bool { return v == value })
		}
	}
	return nil
}

// escapePointer escapes a key for a JSON pointer (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// JSON node kinds.
const (
	kNull byte = iota
	kBool
	kNumber
	kString
	kObject
	kArray
)

// node is a JSON value that keeps the order of object keys.
type node struct {
	kind byte
	b    bool
	str  string // string value, or number text
	keys []string
	kids []*node
}

func (n *node) clone() *node {
	c := *n
	c.keys = slices.Clone(n.keys)
	c.kids = make([]*node, len(n.kids))
	for i, k := range n.kids {
		c.kids[i] = k.clone()
	}
	return &c
}

// parseOrdered parses one JSON value, keeping key order.
func parseOrdered(b []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return n, nil
}

func parseNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &node{kind: kArray}
		if v == '{' {
			n.kind = kObject
		}
		for dec.More() {
			if n.kind == kObject {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("parse JSON: %w", err)
				}
				n.keys = append(n.keys, kt.(string))
			}
			kid, err := parseNode(dec)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		if _, err := dec.Token(); err != nil { // closing delimiter
			return nil, fmt.Errorf("parse JSON: %w", err)
		}
		return n, nil
	case string:
		return &node{kind: kString, str: v}, nil
	case json.Number:
		return &node{kind: kNumber, str: v.String()}, nil
	case bool:
		return &node{kind: kBool, b: v}, nil
	default:
		return &node{kind: kNull}, nil
	}
}

// encode writes n as compact JSON.
func encode(n *node) []byte {
	var buf bytes.Buffer
	n.write(&buf)
	return buf.Bytes()
}

func (n *node) write(buf *bytes.Buffer) {
	switch n.kind {
	case kNull:
		buf.WriteString("null")
	case kBool:
		if n.b {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case kNumber:
		buf.WriteString(n.str)
	case kString:
		buf.WriteString(quote(n.str))
	case kObject, kArray:
		open, closing := byte('['), byte(']')
		if n.kind == kObject {
			open, closing = '{', '}'
		}
		buf.WriteByte(open)
		for i, k := range n.kids {
			if i > 0 {
				buf.WriteByte(',')
			}
			if n.kind == kObject {
				buf.WriteString(quote(n.keys[i]))
				buf.WriteByte(':')
			}
			k.write(buf)
		}
		buf.WriteByte(closing)
	}
}

// quote returns s as a JSON string, without HTML escaping.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		// A Go string always encodes; keep a safe fallback anyway.
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
