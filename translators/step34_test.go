package translators

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
)

const (
	s34LoName = "2025-06-18"
	s34HiName = "2025-11-25"
)

// s34Senders returns the directions a corpus message may travel in: the
// sides that send a request or notification, and for a result or error the
// side opposite to the sender of its request (both when either side sends
// the request, or when the method is unknown).
func s34Senders(v *schemas.Validator, rev schemas.Revision, kind, method string) []Direction {
	info, ok := v.Method(rev, method)
	if !ok {
		return []Direction{ClientToServer, ServerToClient}
	}
	var dirs []Direction
	for _, s := range info.Senders {
		d := ClientToServer
		if s == schemas.FromServer {
			d = ServerToClient
		}
		if kind == official.KindResult || kind == official.KindError {
			d = ClientToServer + ServerToClient - d
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func s34Sender(d Direction) schemas.Sender {
	if d == ServerToClient {
		return schemas.FromServer
	}
	return schemas.FromClient
}

// TestCorpus34 checks over the corpus of both revisions that every message
// translates (up from 2025-06-18, down from 2025-11-25) into a message valid
// under the target revision's schemas, ours and the official one, or into a
// typed outcome; and that translating back gives the original message except
// at the paths recorded as losses.
func TestCorpus34(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	off := official.ForTest(t)
	lo, hi := schemas.V20250618, schemas.V20251125
	for _, c := range []struct{ from, to schemas.Revision }{{lo, hi}, {hi, lo}} {
		fwd, _ := NewChain(c.from, c.to)
		back, _ := NewChain(c.to, c.from)
		for _, e := range official.Corpus(t, c.from.String()) {
			if e.Kind == official.KindBatch {
				continue
			}
			for _, d := range s34Senders(v, c.from, e.Kind, e.Method) {
				name := c.from.String() + "->" + c.to.String() + "/" + e.Name() + "/" + d.String()
				ctx := Context{Method: e.Method}.Defaults()
				o, err := fwd.TranslateBytes(e.Raw, d, &ctx)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if o.Kind != Forward {
					t.Logf("%s: %s %s (%s)", name, o.Kind, o.Row, o.Reason)
					continue
				}
				if err := v.ValidateBytes(c.to, o.Message, schemas.Check{Method: e.Method, From: s34Sender(d)}); err != nil {
					t.Errorf("%s: invalid under our %s schema: %v\n%s", name, c.to, err, o.Message)
				}
				if err := off.ValidateMessage(c.to.String(), o.Message, e.Method); err != nil {
					t.Errorf("%s: invalid under the official %s schema: %v\n%s", name, c.to, err, o.Message)
				}
				// Round trip: back into the source revision.
				ob, err := back.TranslateBytes(o.Message, d, &ctx)
				if err != nil || ob.Kind != Forward {
					t.Errorf("%s: round trip is not forwarded: %v %v %s", name, err, ob.Kind, ob.Reason)
					continue
				}
				losses := append(append([]Loss(nil), o.Losses...), ob.Losses...)
				if diff := s34Diff(e.Raw, ob.Message, losses); diff != "" {
					t.Errorf("%s: round trip differs outside the losses %v: %s\nin:  %s\nout: %s", name, losses, diff, e.Raw, ob.Message)
				}
			}
		}
	}
}

// s34Diff compares two JSON texts after deleting the subtrees at the loss
// paths from both; it returns "" when they are equal.
func s34Diff(a, b []byte, losses []Loss) string {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return err.Error()
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return err.Error()
	}
	for _, l := range losses {
		va = s34Prune(va, l.Path)
		vb = s34Prune(vb, l.Path)
	}
	if reflect.DeepEqual(va, vb) {
		return ""
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) + " != " + string(jb)
}

// s34Prune deletes the value at a JSON pointer (if present).
func s34Prune(v any, ptr string) any {
	if ptr == "" {
		return nil
	}
	toks := strings.Split(ptr[1:], "/")
	for i := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(toks[i], "~1", "/"), "~0", "~")
	}
	cur := v
	for i, tok := range toks {
		last := i == len(toks)-1
		switch x := cur.(type) {
		case map[string]any:
			if last {
				delete(x, tok)
				return v
			}
			cur = x[tok]
		case []any:
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n >= len(x) {
				return v
			}
			if last {
				x[n] = "<lost>"
				return v
			}
			cur = x[n]
		default:
			return v
		}
	}
	return v
}

// Fuzz34 feeds arbitrary messages through the 2025-06-18 <-> 2025-11-25 step
// both ways. It must not panic, and a message valid in the source revision
// that is forwarded must be valid in the target revision.
func Fuzz34(f *testing.F) {
	for _, rev := range []string{s34LoName, s34HiName} {
		for _, e := range official.Corpus(f, rev) {
			if e.Kind == official.KindBatch {
				continue
			}
			up := rev == s34LoName
			f.Add(e.Raw, uint8(1), e.Method, up)
			f.Add(e.Raw, uint8(2), e.Method, up)
			for i, m := range official.Mutations(e.Raw) {
				if i%4 == 0 {
					f.Add(m.Raw, uint8(1+i%2), e.Method, up)
				}
			}
		}
	}
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	lo, hi := schemas.V20250618, schemas.V20251125
	upChain, _ := NewChain(lo, hi)
	downChain, _ := NewChain(hi, lo)
	f.Fuzz(func(t *testing.T, raw []byte, dirb uint8, method string, up bool) {
		m, err := jsonrpc.Parse(raw)
		if err != nil {
			return
		}
		d := Direction(1 + dirb%2)
		c, from := downChain, hi
		if up {
			c, from = upChain, lo
		}
		ctx := Context{Method: method}.Defaults()
		o := c.Translate(m, d, &ctx)
		if o.Kind == 0 {
			t.Fatalf("no outcome")
		}
		if m.Kind == jsonrpc.KindResult && method == "" {
			return
		}
		check := schemas.Check{Method: method, From: s34Sender(d)}
		if m.Kind == jsonrpc.KindRequest || m.Kind == jsonrpc.KindNotification {
			check.Method = m.Method
		}
		if v.Validate(from, m, check) != nil {
			return
		}
		if o.Kind == Forward {
			if err := v.ValidateBytes(c.To(), o.Message, check); err != nil {
				t.Fatalf("valid %s message %s\ntranslated into invalid %s message %s\n%v", from, raw, c.To(), o.Message, err)
			}
		}
	})
}
