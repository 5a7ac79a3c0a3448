package translators

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestNodePassThroughAndEdit(t *testing.T) {
	in := `{ "b" : [1, {"x":"\u0061"} ,3], "a":"\u00e9<&>", "c" : {"d":null} }`
	n := Parse([]byte(in))
	if string(n.Raw()) != in {
		t.Fatalf("untouched node re-encoded: %s", n.Raw())
	}
	// Reading does not change the bytes.
	if n.Get("b").Index(1).Get("x").Str() != "a" || n.Get("a").Str() != "é<&>" || !n.Get("c").Get("d").IsNull() {
		t.Fatal("lookups failed")
	}
	if string(n.Raw()) != in {
		t.Fatalf("read-only access changed the bytes: %s", n.Raw())
	}
	n.Get("c").Set("e", NewString("new"))
	n.Get("b").RemoveIndex(0)
	n.Delete("a")
	got := string(n.Raw())
	want := `{"b":[{"x":"\u0061"},3],"c":{"d":null,"e":"new"}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var x any
	if err := json.Unmarshal(n.Raw(), &x); err != nil {
		t.Fatal(err)
	}
}

func TestNodeConstructors(t *testing.T) {
	o := NewObject()
	o.Set("s", NewString("a\"b"))
	o.Set("i", NewInt(-3))
	o.Set("v", NewValue(map[string]any{"k": []int{1}}))
	o.Set("arr", NewArray(NewJSON(`true`), NewJSON(`{"z":1}`)))
	if got, want := string(o.Raw()), `{"s":"a\"b","i":-3,"v":{"k":[1]},"arr":[true,{"z":1}]}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	c := o.Clone()
	c.Delete("s")
	if !o.Has("s") || c.Has("s") {
		t.Fatal("clone shares state")
	}
	if o.Get("arr").Len() != 2 || !o.Get("arr").Index(0).Bool() || o.Get("missing") != nil || o.Get("s").Get("x") != nil {
		t.Fatal("accessors")
	}
}

func FuzzNode(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,{"b":"c"}],"d":{"e":null}}`))
	f.Add([]byte(`[{"x":"\u00e9"}, [], {}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		n := Parse(b)
		walk(n, 0)
		x, _ := decodeNumbers(b)
		y, err := decodeNumbers(n.Raw())
		if err != nil {
			t.Fatalf("edited output is not JSON: %v\n%s", err, n.Raw())
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("value changed:\n in %s\nout %s", b, n.Raw())
		}
	})
}

// walk touches every level: reads keys and re-sets the first member, so
// that encode runs on every node.
func walk(n *Node, depth int) {
	if depth > 50 {
		return
	}
	switch {
	case n.IsObject():
		for _, k := range n.Keys() {
			walk(n.Get(k), depth+1)
		}
		if ks := n.Keys(); len(ks) > 0 {
			n.Set(ks[0], n.Get(ks[0]))
		}
	case n.IsArray():
		for _, e := range n.Elems() {
			walk(e, depth+1)
		}
		if n.Len() > 0 {
			n.SetIndex(0, n.Index(0))
		}
	}
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	err := d.Decode(&x)
	return x, err
}
