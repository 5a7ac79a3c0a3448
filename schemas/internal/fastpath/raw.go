package fastpath

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mcpbroker/mcpbroker/schemas/internal/jsontree"
)

// ---- validating JSON text ----
//
// ValidJSON and ValidObject validate JSON text as it is, in one pass over
// the bytes, without building a value tree. The verdict is the one Valid
// gives on the tree jsontree (or encoding/json with UseNumber) decodes from
// the same text, which is jsonschema's:
//
//   - A value is checked against the set of schemas that apply to it at
//     once (the conjunction): $ref and allOf add their targets to the set,
//     the schemas of a member are those of all the object's schemas for its
//     name, the schemas of an element those of all items. An object's
//     members and an array's elements are read once, whatever the number
//     of schemas in the set; a value no schema constrains is skipped.
//   - "if" picks "then" or "else" into the set. A condition that only
//     tests a member against a schema (the tag of a tagged union:
//     {"properties":{"type":{"const":"text"}}}) is decided on that member
//     alone; a condition decided by the type of the value on the type; any
//     other condition is checked on its own. "anyOf" and "oneOf" members
//     that cannot match the type of the value are left out: when one member
//     is left, it joins the set; an "anyOf" with several is tried member by
//     member with the rest of the set (the value is valid when one of those
//     conjunctions is). "not" and "oneOf" are checked on their own.
//   - Strings are compared (const, enum) as they are when they have no
//     escapes, unescaped as encoding/json does otherwise. Numbers are
//     judged on their literal text, exactly, as jsonschema does.
//   - Of duplicate member names the last wins, as in the decoded tree: a
//     member that fails is ignored when a member of the same name follows
//     it; "required" only asks for a name; the tag of an "if" is the last.
//
// The text must be well-formed JSON (jsonrpc.Parse checks it): what is
// skipped is not looked at. Malformed text never makes these functions
// panic; where they notice it they answer "not valid".

// Member is a member of an object given member by member (ValidObject).
type Member struct {
	Name  string
	Value []byte // the value, as JSON text
	// Also, if not nil, is a schema the value must match as well (as if the
	// object's schemas said "allOf" of it for this member).
	Also *Schema
}

// ValidJSON reports whether the JSON text b (one value, possibly with white
// space around) is valid against the schema; b must be well-formed JSON.
// A false answer means "not valid, or not decidable here": ask jsonschema.
func (s *Schema) ValidJSON(b []byte) bool {
	st := getState()
	st.pushConj(0, s)
	st.b = b
	_, r := st.eval(0, st.newValue(ws(b, 0)))
	putState(st)
	return r == valid
}

// ValidObject reports whether the object of members (whose names are
// distinct) is valid against every schema of schemas (as if by allOf).
// It is false when schemas has a nil schema.
func ValidObject(members []Member, schemas ...*Schema) bool {
	st := getState()
	for _, s := range schemas {
		if s == nil {
			putState(st)
			return false
		}
		st.pushConj(0, s)
	}
	st.virt = append(st.virt[:0], members...) // a copy: members stays the caller's
	vi := st.newValue(0)
	st.vals[vi].isVirt = true
	_, r := st.eval(0, vi)
	putState(st)
	return r == valid
}

type result uint8

const (
	valid   result = iota
	invalid        // exactly as jsonschema would say
	unsure         // not known (malformed text, or a schema too large)
)

// state is the scratch space of one validation: the stack of schema sets
// (the set of a value is a range of stack), the values being validated
// (one per level of nesting), the "required" bits of the open objects, and
// a buffer to unescape into.
type state struct {
	b     []byte   // the text of the values under validation
	virt  []Member // the members of the object ValidObject was given
	stack []*Schema
	vals  []value
	bits  []uint64
	buf   []byte
}

var statePool = sync.Pool{New: func() any {
	return &state{stack: make([]*Schema, 0, 64), vals: make([]value, 0, 32), bits: make([]uint64, 0, 32), buf: make([]byte, 0, 64)}
}}

func getState() *state { return statePool.Get().(*state) }

func putState(st *state) {
	if cap(st.stack) > 1<<12 || cap(st.vals) > 1<<12 || cap(st.bits) > 1<<12 || cap(st.buf) > 1<<16 || cap(st.virt) > 16 {
		return // grown by a deep value: let it go
	}
	// What is left above the lengths are schemas (which outlive a state)
	// and cleared values; the members hold message text: drop it.
	clear(st.virt)
	st.stack, st.vals, st.bits, st.virt = st.stack[:0], st.vals[:0], st.bits[:0], st.virt[:0]
	st.b = nil
	statePool.Put(st)
}

// value is one JSON value under validation: the text at st.b[pos:], or the
// object given member by member to ValidObject (isVirt). Values live in
// st.vals and are passed by index (a pointer to a local would make the
// recursion allocate); a *value must not be held across a call that adds
// values.
type value struct {
	pos    int
	isVirt bool

	kind jsonType // nullType ... objectType; invalidType: malformed
	end  int      // offset after the value, -1 while unknown

	// The member "if" conditions look at (the last of that name).
	tagName  string
	tagKnown bool
	tag      tagAt
}

// tagAt locates a member's value: at st.b[pos:], or, when virt >= 0, at the
// start of the value of st.virt[virt]; pos < 0 for none.
type tagAt struct {
	pos  int
	virt int
}

// newValue adds a value at st.b[pos:] and returns its index; dropValue
// removes it (values are a stack too).
func (st *state) newValue(pos int) int {
	st.vals = append(st.vals, value{pos: pos, end: -1})
	return len(st.vals) - 1
}

func (st *state) dropValue(vi int) {
	st.vals[vi] = value{}
	st.vals = st.vals[:vi]
}

// pushConj adds s (its conjunctive closure) to the set that starts at base,
// leaving out what is there already.
func (st *state) pushConj(base int, s *Schema) {
	for _, x := range s.conj {
		dup := false
		for _, y := range st.stack[base:] {
			if y == x {
				dup = true
				break
			}
		}
		if !dup {
			st.stack = append(st.stack, x)
		}
	}
}

// eval validates value vi against the set st.stack[base:], and leaves the
// stack as it found it. end is the offset after the value (unknown, -1,
// when the verdict is not valid).
func (st *state) eval(base, vi int) (end int, r result) {
	top := len(st.stack)
	v := &st.vals[vi]
	v.end = -1
	if v.isVirt {
		v.kind = objectType
	} else {
		v.kind = st.scalar(v)
		if v.kind == invalidType {
			return -1, unsure
		}
	}
	if top == base {
		// Nothing to check.
		if v.isVirt {
			return 0, valid
		}
		return st.skipValue(v)
	}
	end, r = st.resolve(base, base, vi)
	st.stack = st.stack[:top]
	return end, r
}

// skipValue returns the end of v, which is not checked.
func (st *state) skipValue(v *value) (int, result) {
	if v.end < 0 {
		v.end = skip(st.b, v.pos)
	}
	if v.end < 0 {
		return -1, unsure
	}
	return v.end, valid
}

// scalar reads the type of the value at st.b[v.pos:], and the end of a
// scalar.
func (st *state) scalar(v *value) jsonType {
	b, i := st.b, v.pos
	if i >= len(b) {
		return invalidType
	}
	switch c := b[i]; {
	case c == '{':
		return objectType
	case c == '[':
		return arrayType
	case c == '"':
		v.end = skipString(b, i+1)
		if v.end < 0 {
			return invalidType
		}
		return stringType
	case c == 't' || c == 'f' || c == 'n':
		j := i + 1
		for j < len(b) && b[j] >= 'a' && b[j] <= 'z' {
			j++
		}
		v.end = j
		switch string(b[i:j]) {
		case "true", "false":
			return booleanType
		case "null":
			return nullType
		}
		return invalidType
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && numChar(b[j]) {
			j++
		}
		v.end = j
		return numberType
	}
	return invalidType
}

func numChar(c byte) bool {
	return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// resolve applies the set's schemas from st.stack[i] on to value vi, adding
// the branches "if" and the applicators pick, then walks its members or
// elements.
func (st *state) resolve(base, i, vi int) (int, result) {
	kind := st.vals[vi].kind
	for ; i < len(st.stack); i++ {
		s := st.stack[i]
		if r := st.local(s, &st.vals[vi]); r != valid {
			return -1, r
		}
		if !s.branches {
			continue
		}
		if s.not != nil {
			switch st.sub(s.not, vi) {
			case valid:
				return -1, invalid
			case unsure:
				return -1, unsure
			}
		}
		if s.oneOf != nil {
			n, doubt := 0, false
			for _, a := range s.oneOf {
				if !a.admit.has(kind) {
					continue
				}
				switch st.sub(a, vi) {
				case valid:
					n++
				case unsure:
					doubt = true
				}
			}
			if n > 1 {
				return -1, invalid
			}
			if doubt {
				return -1, unsure
			}
			if n == 0 {
				return -1, invalid
			}
		}
		if s.ifS != nil {
			var br *Schema
			switch st.cond(s.ifS, vi) {
			case valid:
				br = s.thenS
			case invalid:
				br = s.elseS
			default:
				return -1, unsure
			}
			if br != nil {
				st.pushConj(base, br)
			}
		}
		if s.anyOf != nil {
			n, last := 0, (*Schema)(nil)
			done := false
			for _, a := range s.anyOf {
				if !a.admit.has(kind) {
					continue
				}
				if a.decided.has(kind) {
					done = true // matches on its type alone
					break
				}
				n++
				last = a
			}
			switch {
			case done:
			case n == 0:
				return -1, invalid
			case n == 1:
				st.pushConj(base, last)
			default:
				// The value is valid when it is valid against the rest of
				// the set with one of the members.
				mark := len(st.stack)
				doubt := false
				for _, a := range s.anyOf {
					if !a.admit.has(kind) {
						continue
					}
					st.pushConj(base, a)
					end, r := st.resolve(base, i+1, vi)
					st.stack = st.stack[:mark]
					if r == valid {
						return end, valid
					}
					if r == unsure {
						doubt = true
					}
				}
				if doubt {
					return -1, unsure
				}
				return -1, invalid
			}
		}
	}
	switch kind {
	case objectType:
		return st.walkObject(base, vi)
	case arrayType:
		return st.walkArray(base, vi)
	}
	return st.vals[vi].end, valid
}

// sub validates value vi against s alone.
func (st *state) sub(s *Schema, vi int) result {
	base := len(st.stack)
	st.pushConj(base, s)
	end, r := st.resolve(base, base, vi)
	st.stack = st.stack[:base]
	if v := &st.vals[vi]; r == valid && v.end < 0 {
		v.end = end
	}
	return r
}

// cond is the verdict of an "if" condition on value vi.
func (st *state) cond(c *Schema, vi int) result {
	kind := st.vals[vi].kind
	if c.decided.has(kind) {
		return verdict(c.admit.has(kind))
	}
	if c.tag == nil || kind != objectType {
		return st.sub(c, vi)
	}
	t := st.findTag(vi, c.tag.name)
	if t.pos < 0 {
		return verdict(!c.tag.required)
	}
	b := st.b
	if t.virt >= 0 {
		st.b = st.virt[t.virt].Value
	}
	base := len(st.stack)
	st.pushConj(base, c.tag.sch)
	tv := st.newValue(t.pos)
	_, r := st.eval(base, tv)
	st.dropValue(tv)
	st.stack = st.stack[:base]
	st.b = b
	return r
}

// local checks what s says of v itself: type, const, enum, number bounds.
func (st *state) local(s *Schema, v *value) result {
	if s.never {
		return invalid
	}
	if s.tooLarge {
		return unsure
	}
	k := v.kind
	if s.types != 0 && !s.types.has(k) {
		if k != numberType || !s.types.has(integerType) || !isIntegerText(st.b[v.pos:v.end]) {
			return invalid
		}
	}
	if s.rconst != nil {
		if r := st.equal(v, s.rconst); r != valid {
			return r
		}
	}
	if s.renum != nil {
		found := false
		for i := range s.renum {
			r := st.equal(v, &s.renum[i])
			if r == unsure {
				return unsure
			}
			if r == valid {
				found = true
				break
			}
		}
		if !found {
			return invalid
		}
	}
	if k == numberType && s.hasBounds {
		lit := st.b[v.pos:v.end]
		f, err := strconv.ParseFloat(string(lit), 64)
		fok := err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
		if !s.numberOK(f, fok, lit, nil) {
			return invalid
		}
	}
	return valid
}

// rawConst is a const or enum value, ready to compare with JSON text.
type rawConst struct {
	kind   jsonType
	str    string   // strings
	b      bool     // booleans
	intStr string   // integers: their decimal digits, as an integer literal has them
	rat    *big.Rat // numbers
	tree   any      // arrays and objects
}

func newRawConst(x any) rawConst {
	c := rawConst{kind: typeOf(x), tree: x}
	switch x := x.(type) {
	case string:
		c.str = x
	case bool:
		c.b = x
	}
	if c.kind == numberType {
		c.rat = numVal(x)
		if c.rat != nil && c.rat.IsInt() {
			c.intStr = c.rat.Num().String()
		}
	}
	return c
}

// equal reports (valid or invalid) whether v equals c, as jsonschema
// compares.
func (st *state) equal(v *value, c *rawConst) result {
	if v.kind != c.kind {
		return invalid
	}
	switch v.kind {
	case nullType:
		return valid
	case booleanType:
		return verdict((st.b[v.pos] == 't') == c.b)
	case stringType:
		s := st.b[v.pos+1 : v.end-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			st.buf = appendUnescaped(st.buf[:0], s)
			s = st.buf
		}
		return verdict(string(s) == c.str)
	case numberType:
		if c.rat == nil {
			return invalid
		}
		lit := st.b[v.pos:v.end]
		if c.intStr != "" && plainIntBytes(lit) {
			if string(lit) == "-0" {
				lit = lit[1:]
			}
			return verdict(string(lit) == c.intStr)
		}
		n, ok := new(big.Rat).SetString(string(lit))
		return verdict(ok && n.Cmp(c.rat) == 0)
	}
	// An array or an object: compare trees (no schema of ours has one).
	if v.isVirt {
		return unsure
	}
	end := v.end
	if end < 0 {
		end = skip(st.b, v.pos)
	}
	if end < 0 {
		return unsure
	}
	x, err := jsontree.Decode(st.b[v.pos:end])
	if err != nil {
		return unsure
	}
	ok, bad := equals(x, c.tree)
	if bad {
		return unsure
	}
	return verdict(ok)
}

func verdict(ok bool) result {
	if ok {
		return valid
	}
	return invalid
}

func plainIntBytes(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isIntegerText is isInteger of a number's text.
func isIntegerText(lit []byte) bool {
	if plainIntBytes(lit) {
		return true
	}
	r, ok := new(big.Rat).SetString(string(lit))
	return ok && r.IsInt()
}

func (st *state) walkObject(base, vi int) (int, result) {
	top := len(st.stack)
	need := false
	for _, s := range st.stack[base:top] {
		if s.objWalk {
			need = true
			break
		}
	}
	if !need {
		if st.vals[vi].isVirt {
			return 0, valid
		}
		return st.skipValue(&st.vals[vi])
	}
	bb := len(st.bits)
	for range top - base {
		st.bits = append(st.bits, 0)
	}
	var end int
	var r result
	if st.vals[vi].isVirt {
		end, r = st.virtMembers(base, top, bb)
	} else {
		end, r = st.members(base, top, bb, vi)
	}
	if r == valid {
		for j := base; j < top; j++ {
			if s := st.stack[j]; st.bits[bb+j-base] != s.reqMask {
				r = invalid
				break
			}
		}
	}
	st.bits = st.bits[:bb]
	return end, r
}

// member adds to the stack the set of a member's value: what the schemas
// st.stack[base:top] say of its name; their "required" bits are at
// st.bits[bb:].
func (st *state) member(base, top, bb int, name []byte, sname string, virt bool) {
	cb := len(st.stack)
	for j := base; j < top; j++ {
		s := st.stack[j]
		if !s.objWalk {
			continue
		}
		var f int
		if virt {
			f = s.lookupString(sname)
		} else {
			f = s.lookupBytes(name)
		}
		sch := s.additional
		if f >= 0 {
			fd := &s.fields[f]
			if fd.bit >= 0 {
				st.bits[bb+j-base] |= 1 << fd.bit
			}
			if fd.sch != nil {
				sch = fd.sch
			}
		}
		if sch != nil {
			st.pushConj(cb, sch)
		}
	}
}

// virtMembers walks the members ValidObject was given.
func (st *state) virtMembers(base, top, bb int) (int, result) {
	for _, m := range st.virt {
		cb := len(st.stack)
		st.member(base, top, bb, nil, m.Name, true)
		if m.Also != nil {
			st.pushConj(cb, m.Also)
		}
		if len(st.stack) > cb {
			st.b = m.Value
			mv := st.newValue(ws(m.Value, 0))
			_, r := st.eval(cb, mv)
			st.dropValue(mv)
			st.stack = st.stack[:cb]
			st.b = nil
			if r != valid {
				return -1, r
			}
		}
	}
	return 0, valid
}

// members walks the members of value vi.
func (st *state) members(base, top, bb, vi int) (int, result) {
	b := st.b
	i := ws(b, st.vals[vi].pos+1)
	if i < len(b) && b[i] == '}' {
		st.vals[vi].end = i + 1
		return i + 1, valid
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1, unsure
		}
		ns := i + 1
		qe, esc := scanString(b, ns)
		if qe < 0 {
			return -1, unsure
		}
		name := b[ns : qe-1]
		i = ws(b, qe)
		if i >= len(b) || b[i] != ':' {
			return -1, unsure
		}
		vp := ws(b, i+1)
		key := name
		if esc {
			st.buf = appendUnescaped(st.buf[:0], name)
			key = st.buf
		}
		cb := len(st.stack)
		st.member(base, top, bb, key, "", false)
		var end int
		if len(st.stack) == cb {
			end = skip(b, vp)
		} else {
			mv := st.newValue(vp)
			var r result
			end, r = st.eval(cb, mv)
			st.dropValue(mv)
			st.stack = st.stack[:cb]
			if r != valid {
				// The tree keeps the last member of a name: this one
				// counts only if no other of its name follows.
				if !laterMember(b, vp, name, esc) {
					return -1, r
				}
				end = skip(b, vp)
			}
		}
		if end < 0 {
			return -1, unsure
		}
		i = ws(b, end)
		if i >= len(b) {
			return -1, unsure
		}
		switch b[i] {
		case ',':
			i = ws(b, i+1)
		case '}':
			st.vals[vi].end = i + 1
			return i + 1, valid
		default:
			return -1, unsure
		}
	}
}

// laterMember reports whether the object whose member value starts at
// b[vp:] has another member of the given (raw) name after it.
func laterMember(b []byte, vp int, name []byte, esc bool) bool {
	i := skip(b, vp)
	var want []byte
	if esc {
		want = appendUnescaped(nil, name)
	} else {
		want = name
	}
	var buf []byte
	for i >= 0 {
		i = ws(b, i)
		if i >= len(b) || b[i] != ',' {
			return false
		}
		i = ws(b, i+1)
		if i >= len(b) || b[i] != '"' {
			return false
		}
		qe := skipString(b, i+1)
		if qe < 0 {
			return false
		}
		n := b[i+1 : qe-1]
		if bytes.IndexByte(n, '\\') >= 0 {
			buf = appendUnescaped(buf[:0], n)
			n = buf
		}
		if bytes.Equal(n, want) {
			return true
		}
		i = ws(b, qe)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skip(b, ws(b, i+1))
	}
	return false
}

// findTag returns the value of the last member of the given name of value
// vi (pos < 0 when there is none).
func (st *state) findTag(vi int, name string) tagAt {
	v := &st.vals[vi]
	if v.tagKnown && v.tagName == name {
		return v.tag
	}
	t := tagAt{pos: -1, virt: -1}
	if v.isVirt {
		for i, m := range st.virt {
			if m.Name == name {
				t = tagAt{pos: ws(m.Value, 0), virt: i}
			}
		}
	} else {
		b := st.b
		i := ws(b, v.pos+1)
		for i < len(b) && b[i] == '"' {
			qe := skipString(b, i+1)
			if qe < 0 {
				break
			}
			n := b[i+1 : qe-1]
			if bytes.IndexByte(n, '\\') >= 0 {
				st.buf = appendUnescaped(st.buf[:0], n)
				n = st.buf
			}
			i = ws(b, qe)
			if i >= len(b) || b[i] != ':' {
				break
			}
			vp := ws(b, i+1)
			if string(n) == name {
				t = tagAt{pos: vp, virt: -1}
			}
			if i = skip(b, vp); i < 0 {
				break
			}
			if i = ws(b, i); i >= len(b) || b[i] != ',' {
				break
			}
			i = ws(b, i+1)
		}
	}
	v.tagName, v.tagKnown, v.tag = name, true, t
	return t
}

func (st *state) walkArray(base, vi int) (int, result) {
	top := len(st.stack)
	need := false
	for _, s := range st.stack[base:top] {
		if s.arrWalk {
			need = true
			break
		}
	}
	if !need {
		return st.skipValue(&st.vals[vi])
	}
	// The elements' set: the items of every schema.
	for j := base; j < top; j++ {
		if s := st.stack[j]; s.items != nil {
			st.pushConj(top, s.items)
		}
	}
	end, n, r := st.elements(top, vi)
	st.stack = st.stack[:top]
	if r != valid {
		return -1, r
	}
	for _, s := range st.stack[base:top] {
		if (s.minItems >= 0 && n < s.minItems) || (s.maxItems >= 0 && n > s.maxItems) {
			return -1, invalid
		}
	}
	return end, valid
}

// elements walks the elements of value vi against the set st.stack[ib:];
// n is their number.
func (st *state) elements(ib, vi int) (end, n int, r result) {
	b := st.b
	i := ws(b, st.vals[vi].pos+1)
	if i < len(b) && b[i] == ']' {
		st.vals[vi].end = i + 1
		return i + 1, 0, valid
	}
	ev := -1
	if len(st.stack) > ib {
		ev = st.newValue(0)
		defer st.dropValue(ev)
	}
	for {
		if ev >= 0 {
			st.vals[ev] = value{pos: i, end: -1}
			end, r = st.eval(ib, ev)
			if r != valid {
				return -1, n, r
			}
		} else {
			end = skip(b, i)
		}
		if end < 0 {
			return -1, n, unsure
		}
		n++
		i = ws(b, end)
		if i >= len(b) {
			return -1, n, unsure
		}
		switch b[i] {
		case ',':
			i = ws(b, i+1)
		case ']':
			st.vals[vi].end = i + 1
			return i + 1, n, valid
		default:
			return -1, n, unsure
		}
	}
}

// ---- scanning ----

func ws(b []byte, i int) int {
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

// skipString returns the offset after the closing quote of the string
// whose contents start at b[i:], or -1.
func skipString(b []byte, i int) int {
	end, _ := scanString(b, i)
	return end
}

// scanString is skipString that also tells whether the string has escapes.
func scanString(b []byte, i int) (end int, esc bool) {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	for {
		// Eight bytes at a time to the next quote or backslash: the lowest
		// byte flagged is a real match (see "Determine if a word has a
		// zero byte" in Bit Twiddling Hacks).
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, bs := x^('"'*lsb), x^('\\'*lsb)
			if t := ((q-lsb)&^q | (bs-lsb)&^bs) & msb; t != 0 {
				i += bits.TrailingZeros64(t) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return -1, esc
		}
		if b[i] == '"' {
			return i + 1, esc
		}
		esc = true
		i += 2 // the backslash and the character it escapes
	}
}

// skip returns the offset after the value that starts at b[i], or -1.
func skip(b []byte, i int) int {
	if i < 0 || i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i+1)
	case '{', '[':
	default:
		j := i
		for j < len(b) && (numChar(b[j]) || (b[j] >= 'a' && b[j] <= 'z')) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
	depth := 0
	for i < len(b) {
		switch skipClass[b[i]] {
		case 0:
			i++
			continue
		case '"':
			i = skipString(b, i+1)
			if i < 0 {
				return -1
			}
			continue
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// skipClass: what skip looks for in an array or object.
var skipClass = [256]byte{'"': '"', '{': '{', '[': '{', '}': '}', ']': '}'}

// appendUnescaped appends the contents of a JSON string (between the
// quotes) to dst, unescaped as encoding/json (and jsontree) unescape: a
// \u escape of a lone UTF-16 surrogate is U+FFFD.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				j = len(s) - i
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(s) {
			return append(dst, s[i])
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
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
			r, ok := hex4(s, i+2)
			if !ok {
				dst = append(dst, s[i:i+2]...)
				break
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2, ok := hex4(s, i+2); ok {
						if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
							dst = utf8.AppendRune(dst, p)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			dst = append(dst, s[i:i+2]...)
		}
		i += 2
	}
	return dst
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// ---- preparing schemas for text ----

// field is a name an object schema looks up: a property, a required name,
// or both.
type field struct {
	name string
	sch  *Schema // nil: required only
	bit  int8    // bit in the "required" mask, -1: not required
}

// tagCond describes a condition that tests one member and nothing else:
// {"properties":{name:sch}} with, optionally, "required":[name] and
// "type":"object".
type tagCond struct {
	name     string
	sch      *Schema
	required bool
}

// allKinds: the types of JSON values (integers are numbers).
const allKinds = typeSet(1<<nullType | 1<<booleanType | 1<<numberType | 1<<stringType | 1<<arrayType | 1<<objectType)

// prepare readies every schema reachable from root for ValidJSON.
func prepare(root *Schema) {
	seen := map[*Schema]bool{}
	var all []*Schema
	var collect func(s *Schema)
	collect = func(s *Schema) {
		if s == nil || seen[s] || s.prepared {
			return
		}
		seen[s] = true
		all = append(all, s)
		for _, x := range s.children() {
			collect(x)
		}
	}
	collect(root)
	for _, s := range all {
		s.prepareOwn()
	}
	for _, s := range all {
		s.conj = s.closure(nil)
		s.admit, s.decided = allKinds, allKinds
		var affects typeSet
		for _, x := range s.conj {
			s.admit &= x.ownAdmit
			affects |= x.ownAffects
		}
		s.decided = allKinds&^affects | allKinds&^s.admit
	}
	for _, s := range all {
		s.tag = s.tagCondition()
		s.prepared = true
	}
}

// asserts reports whether s asserts anything itself, $ref and allOf aside.
func (s *Schema) asserts() bool {
	return s.never || s.tooLarge || s.types != 0 || s.hasConst || s.enum != nil || s.required != nil ||
		s.props != nil || s.additional != nil || s.items != nil || s.minItems >= 0 || s.maxItems >= 0 ||
		s.hasBounds || s.anyOf != nil || s.oneOf != nil || s.not != nil || s.ifS != nil
}

// closure is s's conjunctive closure: s and what its $ref and allOf lead
// to, without the schemas that assert nothing. A set with a false schema
// is that schema alone.
func (s *Schema) closure(out []*Schema) []*Schema {
	var add func(x *Schema)
	add = func(x *Schema) {
		if x.always || x.trivial {
			return
		}
		if x.asserts() {
			for _, y := range out {
				if y == x {
					return
				}
			}
			out = append(out, x)
		}
		if x.ref != nil {
			add(x.ref)
		}
		for _, y := range x.allOf {
			add(y)
		}
	}
	add(s)
	for _, x := range out {
		if x.never {
			return []*Schema{x}
		}
	}
	return out
}

func (s *Schema) prepareOwn() {
	s.hasBounds = s.minimum != nil || s.maximum != nil || s.exclusiveMinimum != nil || s.exclusiveMaximum != nil
	s.branches = s.anyOf != nil || s.oneOf != nil || s.not != nil || s.ifS != nil
	s.objWalk = s.required != nil || s.props != nil || s.additional != nil
	s.arrWalk = s.items != nil || s.minItems >= 0 || s.maxItems >= 0
	if s.hasConst {
		c := newRawConst(s.constV)
		s.rconst = &c
	}
	if s.enum != nil {
		s.renum = make([]rawConst, len(s.enum))
		for i, x := range s.enum {
			s.renum[i] = newRawConst(x)
		}
	}
	// The names to look up, and a bit for each required one.
	s.fields = nil
	for _, p := range s.props {
		s.fields = append(s.fields, field{name: p.name, sch: p.sch, bit: -1})
	}
	nbit := 0
	for _, name := range s.required {
		i := -1
		for j := range s.fields {
			if s.fields[j].name == name {
				i = j
				break
			}
		}
		if i < 0 {
			s.fields = append(s.fields, field{name: name, bit: -1})
			i = len(s.fields) - 1
		}
		if s.fields[i].bit >= 0 {
			continue // listed twice
		}
		if nbit == 64 {
			s.tooLarge = true
			break
		}
		s.fields[i].bit = int8(nbit)
		s.reqMask |= 1 << nbit
		nbit++
	}
	if len(s.fields) > 8 {
		s.fieldIndex = make(map[string]int32, len(s.fields))
		for i, f := range s.fields {
			s.fieldIndex[f.name] = int32(i)
		}
	}
	// The types a value can have and be valid, and those for which more
	// than the type decides.
	switch {
	case s.never:
		s.ownAdmit = 0
	case s.tooLarge:
		s.ownAdmit, s.ownAffects = allKinds, allKinds
		return
	default:
		s.ownAdmit = allKinds
	}
	if s.types != 0 {
		t := s.types &^ (1 << integerType)
		if s.types.has(integerType) {
			t |= 1 << numberType
			if !s.types.has(numberType) {
				s.ownAffects |= 1 << numberType
			}
		}
		s.ownAdmit &= t
	}
	if s.rconst != nil {
		s.ownAdmit &= 1 << s.rconst.kind
		s.ownAffects = allKinds
	}
	if s.renum != nil {
		var t typeSet
		for _, c := range s.renum {
			t |= 1 << c.kind
		}
		s.ownAdmit &= t
		s.ownAffects = allKinds
	}
	if s.hasBounds {
		s.ownAffects |= 1 << numberType
	}
	if s.objWalk {
		s.ownAffects |= 1 << objectType
	}
	if s.arrWalk {
		s.ownAffects |= 1 << arrayType
	}
	if s.branches {
		s.ownAffects = allKinds
	}
}

// tagCondition recognizes s as a condition on one member.
func (s *Schema) tagCondition() *tagCond {
	if len(s.conj) != 1 || s.conj[0] != s || len(s.props) != 1 || s.additional != nil ||
		s.hasConst || s.enum != nil || s.branches || s.arrWalk || s.hasBounds || s.tooLarge ||
		(s.types != 0 && s.types != 1<<objectType) {
		return nil
	}
	name := s.props[0].name
	for _, r := range s.required {
		if r != name {
			return nil
		}
	}
	return &tagCond{name: name, sch: s.props[0].sch, required: s.required != nil}
}

func (s *Schema) lookupBytes(name []byte) int {
	if s.fieldIndex != nil {
		if i, ok := s.fieldIndex[string(name)]; ok {
			return int(i)
		}
		return -1
	}
	for i := range s.fields {
		if s.fields[i].name == string(name) {
			return i
		}
	}
	return -1
}

func (s *Schema) lookupString(name string) int {
	if s.fieldIndex != nil {
		if i, ok := s.fieldIndex[name]; ok {
			return int(i)
		}
		return -1
	}
	for i := range s.fields {
		if s.fields[i].name == name {
			return i
		}
	}
	return -1
}
