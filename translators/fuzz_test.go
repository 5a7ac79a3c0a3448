package translators

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// FuzzChain sends arbitrary messages through every chain (all 20 ordered
// pairs, both directions): translation never panics, and a message valid in
// the source revision that comes out forwarded is valid in the target.
func FuzzChain(f *testing.F) {
	for _, r := range schemas.All() {
		b, err := os.ReadFile(filepath.Join("..", "schemas", "testdata", "corpus", r.String()+".ndjson"))
		if err != nil {
			f.Fatal(err)
		}
		for i, line := range splitLines(b) {
			if i%3 == 0 { // a third of each corpus keeps the seed set small
				f.Add(line, uint8(r), uint8(i), "tools/call")
			}
		}
	}
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	all := schemas.All()
	f.Fuzz(func(t *testing.T, raw []byte, from, to uint8, method string) {
		a, b := all[int(from)%len(all)], all[int(to)%len(all)]
		dir := ClientToServer
		if to&0x80 != 0 {
			dir = ServerToClient
		}
		m, err := jsonrpc.Parse(raw)
		if err != nil {
			return
		}
		c, err := NewChain(a, b)
		if err != nil {
			t.Fatal(err)
		}
		ctx := Context{Method: method}.Defaults()
		o := c.Translate(m, dir, &ctx)
		if o.Kind == 0 {
			t.Fatalf("no outcome")
		}
		sender := schemas.FromClient
		if dir == ServerToClient {
			sender = schemas.FromServer
		}
		if v.Validate(a, m, schemas.Check{Method: method, From: sender}) != nil || o.Kind != Forward {
			return
		}
		if m.IsResponse() && !respondsTo(v, a, method, dir) {
			return // a response cannot travel that way: the validator does not know who sent it
		}
		if err := v.ValidateBytes(b, o.Message, schemas.Check{Method: method, From: sender}); err != nil {
			t.Fatalf("%s -> %s %s: output invalid: %v\n in: %s\nout: %s", a, b, dir, err, raw, o.Message)
		}
	})
}

// respondsTo reports whether a response sent in dir can answer method in r:
// the request went the other way.
func respondsTo(v *schemas.Validator, r schemas.Revision, method string, dir Direction) bool {
	info, ok := v.Method(r, method)
	if !ok {
		return false
	}
	want := schemas.FromServer // the request's sender
	if dir == ServerToClient {
		want = schemas.FromClient
	}
	for _, s := range info.Senders {
		if s == want {
			return true
		}
	}
	return false
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
