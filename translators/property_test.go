package translators

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
)

// corpusCase is one corpus message with the direction(s) it travels in.
type corpusCase struct {
	rev  schemas.Revision
	name string
	msg  *jsonrpc.Message
	meth string // method, or method of the request a response answers
	dirs []Direction
}

// corpusCases returns every message of every revision's corpus (batch
// lines split into their elements, as the broker does: 1.L1, 2.T1), with
// the directions their sender implies.
func corpusCases(t *testing.T, v *schemas.Validator) []corpusCase {
	var out []corpusCase
	for _, r := range schemas.All() {
		for _, e := range official.Corpus(t, r.String()) {
			f, err := jsonrpc.ParseFrame(e.Raw)
			if err != nil {
				t.Fatalf("%s %s: %v", r, e.Name(), err)
			}
			for i, m := range f.Messages {
				if m == nil {
					continue
				}
				meth := m.Method
				if m.IsResponse() {
					meth = e.Method
					if f.Batch {
						meth = e.Methods[officialIDKey(m.ID)]
					}
				}
				info, ok := v.Method(r, meth)
				if !ok {
					if m.IsResponse() && meth == "" {
						// A bare error response with no request: either side.
						info.Senders = []schemas.Sender{schemas.FromClient, schemas.FromServer}
					} else {
						t.Fatalf("%s %s: method %q unknown", r, e.Name(), meth)
					}
				}
				var dirs []Direction
				for _, s := range info.Senders {
					d := ClientToServer
					if s == schemas.FromServer {
						d = ServerToClient
					}
					if m.IsResponse() { // a response travels opposite to its request
						d = 3 - d
					}
					dirs = append(dirs, d)
				}
				name := e.Name()
				if f.Batch {
					name += "/" + strconv.Itoa(i)
				}
				out = append(out, corpusCase{rev: r, name: name, msg: m, meth: meth, dirs: dirs})
			}
		}
	}
	return out
}

func officialIDKey(id json.RawMessage) string {
	x, err := official.Decode(id)
	if err != nil {
		return string(id)
	}
	return official.IDKey(x)
}

// TestValidityProperty: every corpus message valid in revision A,
// translated to every other revision B in the direction its sender
// implies, gives a message valid under B's schema (ours and the official
// one), or a typed non-message outcome. All 20 ordered pairs, both
// directions.
func TestValidityProperty(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	off := official.ForTest(t)
	cases := corpusCases(t, v)
	for _, from := range schemas.All() {
		for _, to := range schemas.All() {
			if from == to {
				continue
			}
			chain, err := NewChain(from, to)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("%s_to_%s", from, to), func(t *testing.T) {
				count := map[OutcomeKind]int{}
				for _, c := range cases {
					if c.rev != from {
						continue
					}
					for _, d := range c.dirs {
						ctx := Context{Method: c.meth}.Defaults()
						o := chain.Translate(c.msg, d, &ctx)
						count[o.Kind]++
						where := fmt.Sprintf("%s %s (%s %s)", c.name, d, c.msg.Kind, c.meth)
						switch o.Kind {
						case Forward:
							sender := schemas.FromClient
							if d == ServerToClient {
								sender = schemas.FromServer
							}
							if err := v.ValidateBytes(to, o.Message, schemas.Check{Method: c.meth, From: sender}); err != nil {
								t.Errorf("%s: output invalid in %s (ours): %v\n  in:  %s\n  out: %s", where, to, err, c.msg.Raw, o.Message)
								continue
							}
							if err := off.ValidateMessage(to.String(), o.Message, c.meth); err != nil {
								t.Errorf("%s: output invalid in %s (official): %v\n  out: %s", where, to, err, o.Message)
							}
						case Reject:
							if o.Error == nil || o.Row == "" {
								t.Errorf("%s: reject without error or row: %+v", where, o)
							}
						case Drop:
							if c.msg.Kind != jsonrpc.KindNotification {
								t.Errorf("%s: a %s was dropped", where, c.msg.Kind)
							}
						case Answer, Emulate:
							if o.Row == "" {
								t.Errorf("%s: %s without a row", where, o.Kind)
							}
						default:
							t.Errorf("%s: no outcome", where)
						}
					}
				}
				t.Logf("%v", count)
			})
		}
	}
}

// TestRoundTripProperty: A -> B -> A returns the original message, except
// at the paths the rows recorded as lost on either leg.
func TestRoundTripProperty(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	cases := corpusCases(t, v)
	for _, a := range schemas.All() {
		for _, b := range schemas.All() {
			if a == b {
				continue
			}
			there, _ := NewChain(a, b)
			back, _ := NewChain(b, a)
			t.Run(fmt.Sprintf("%s_via_%s", a, b), func(t *testing.T) {
				n := 0
				for _, c := range cases {
					if c.rev != a {
						continue
					}
					for _, d := range c.dirs {
						ctx := Context{Method: c.meth}.Defaults()
						// serverInfo is a session fact that 4.F5 ADDs to every
						// result toward 2026; without one in the session the
						// round trip adds nothing the original lacked.
						ctx.ServerInfo = nil
						o1 := there.Translate(c.msg, d, &ctx)
						if o1.Kind != Forward {
							continue
						}
						m2, err := jsonrpc.Parse(o1.Message)
						if err != nil {
							t.Fatalf("%s: %v", c.name, err)
						}
						o2 := back.Translate(m2, d, &ctx)
						if o2.Kind != Forward {
							continue
						}
						n++
						lost := append(slices.Clone(o1.Losses), o2.Losses...)
						if diff := jsonDiff(c.msg.Raw, o2.Message, lost); diff != "" {
							t.Errorf("%s %s (%s): round trip changed %s (rows applied there %v, back %v)\n  in:   %s\n  back: %s",
								c.name, d, c.meth, diff, o1.Applied, o2.Applied, c.msg.Raw, o2.Message)
						}
					}
				}
				t.Logf("%d round trips", n)
			})
		}
	}
}

// jsonDiff compares two JSON texts and returns the first path where they
// differ outside the lost subtrees ("" when equal there).
func jsonDiff(a, b []byte, lost []Loss) string {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return "unparsable input"
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return "unparsable output"
	}
	return diffAt("", x, y, lost)
}

func diffAt(path string, x, y any, lost []Loss) string {
	for _, l := range lost {
		if path == l.Path || strings.HasPrefix(path, l.Path+"/") {
			return ""
		}
	}
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			return path + " (type)"
		}
		for k, xe := range xv {
			p := path + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
			ye, ok := yv[k]
			if !ok {
				if d := diffAt(p, xe, nil, lost); d != "" {
					return p + " (missing)"
				}
				continue
			}
			if d := diffAt(p, xe, ye, lost); d != "" {
				return d
			}
		}
		for k, ye := range yv {
			if _, ok := xv[k]; !ok {
				p := path + "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
				if d := diffAt(p, nil, ye, lost); d != "" {
					return p + " (added)"
				}
			}
		}
		return ""
	case []any:
		yv, ok := y.([]any)
		if !ok && y != nil {
			return path + " (type)"
		}
		for i := range max(len(xv), len(yv)) {
			var xe, ye any
			if i < len(xv) {
				xe = xv[i]
			}
			if i < len(yv) {
				ye = yv[i]
			}
			if d := diffAt(path+"/"+strconv.Itoa(i), xe, ye, lost); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(x, y) {
		return path
	}
	return ""
}
