package translators

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
)

// s23ServerRequests are the requests a server sends in 2025-03-26 and
// 2025-06-18; ping goes either way.
var s23ServerRequests = map[string]bool{"sampling/createMessage": true, "roots/list": true, "elicitation/create": true}

// s23Directions returns the directions in which a corpus message can be
// sent: its sender's, both for ping, progress and cancellation, and for
// errors that answer no known request.
func s23Directions(kind jsonrpc.Kind, method string) []Direction {
	both := []Direction{ClientToServer, ServerToClient}
	switch method {
	case "", "ping", "notifications/progress", "notifications/cancelled":
		return both
	}
	requestFromServer := s23ServerRequests[method]
	switch kind {
	case jsonrpc.KindRequest:
		if requestFromServer {
			return []Direction{ServerToClient}
		}
		return []Direction{ClientToServer}
	case jsonrpc.KindNotification:
		if method == "notifications/initialized" || method == "notifications/roots/list_changed" {
			return []Direction{ClientToServer}
		}
		return []Direction{ServerToClient}
	default: // a response goes the opposite way of its request
		if requestFromServer {
			return []Direction{ClientToServer}
		}
		return []Direction{ServerToClient}
	}
}

func s23Sender(d Direction) schemas.Sender {
	if d == ServerToClient {
		return schemas.FromServer
	}
	return schemas.FromClient
}

// s23Other returns the direction of a reply to a message sent in d.
func s23Other(d Direction) Direction {
	if d == ServerToClient {
		return ClientToServer
	}
	return ServerToClient
}

// s23Messages returns the corpus messages of a revision, batches split
// into their elements (the broker splits them before translating, 2.T1),
// each with the method its response answers.
func s23Messages(t testing.TB, rev string) []s23Msg {
	var out []s23Msg
	for _, e := range official.Corpus(t, rev) {
		f, err := jsonrpc.ParseFrame(e.Raw)
		if err != nil {
			t.Fatalf("%s %s: %v", rev, e.Name(), err)
		}
		for i, m := range f.Messages {
			if m == nil {
				continue
			}
			method := e.Method
			if m.IsCall() {
				method = m.Method
			} else if f.Batch {
				method = e.Methods[jsonrpc.IDKey(m.ID)]
			}
			name := e.Name()
			if f.Batch {
				name += "/" + strconv.Itoa(i)
			}
			out = append(out, s23Msg{name: name, msg: m, method: method})
		}
	}
	return out
}

type s23Msg struct {
	name   string
	msg    *jsonrpc.Message
	method string
}

// TestCorpus23 translates every corpus message of 2025-03-26 up and every
// one of 2025-06-18 down, in each direction its sender implies, and checks
// that a forwarded message is valid in the target revision (our schema and
// the official one), that an answer's reply is valid in the source
// revision, and that the round trip back gives the original message except
// at the paths recorded as losses.
func TestCorpus23(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	off := official.ForTest(t)
	lo, hi := schemas.V20250326, schemas.V20250618
	for _, leg := range []struct{ from, to schemas.Revision }{{lo, hi}, {hi, lo}} {
		fwd, _ := NewChain(leg.from, leg.to)
		back, _ := NewChain(leg.to, leg.from)
		kinds := map[string]int{}
		for _, cm := range s23Messages(t, leg.from.String()) {
			for _, d := range s23Directions(cm.msg.Kind, cm.method) {
				name := leg.from.String() + ">" + leg.to.String() + "/" + cm.name + "/" + d.String()
				ctx := Context{Method: cm.method}.Defaults()
				o := fwd.Translate(cm.msg, d, &ctx)
				kinds[o.Kind.String()]++
				check := schemas.Check{Method: cm.method, From: s23Sender(d)}
				switch o.Kind {
				case Forward:
					if err := v.ValidateBytes(leg.to, o.Message, check); err != nil {
						t.Errorf("%s: output invalid in %s: %v\n%s", name, leg.to, err, o.Message)
					}
					if err := off.ValidateMessage(leg.to.String(), o.Message, cm.method); err != nil {
						t.Errorf("%s: output invalid in official %s: %v\n%s", name, leg.to, err, o.Message)
					}
					s23CheckRoundTrip(t, name, back, cm.msg.Raw, o, d, &ctx)
				case Answer:
					if o.Reply == nil {
						break
					}
					rc := schemas.Check{Method: cm.method, From: s23Sender(s23Other(d))}
					if err := v.ValidateBytes(leg.from, o.Reply, rc); err != nil {
						t.Errorf("%s: reply invalid in %s: %v\n%s", name, leg.from, err, o.Reply)
					}
				}
			}
		}
		t.Logf("%s -> %s: %v", leg.from, leg.to, kinds)
	}
}

// s23CheckRoundTrip translates a forwarded message back and compares it
// with the original: every difference must lie at or below a loss path of
// either leg.
func s23CheckRoundTrip(t *testing.T, name string, back *Chain, orig []byte, o Outcome, d Direction, ctx *Context) {
	t.Helper()
	o2, err := back.TranslateBytes(o.Message, d, ctx)
	if err != nil {
		t.Errorf("%s: translated message does not parse: %v", name, err)
		return
	}
	if o2.Kind != Forward {
		t.Errorf("%s: round trip back gives %s (%s), want forward", name, o2.Kind, o2.Reason)
		return
	}
	losses := append(append([]Loss(nil), o.Losses...), o2.Losses...)
	for _, p := range s23Diff(t, orig, o2.Message) {
		if !s23Covered(p, losses) {
			t.Errorf("%s: round trip differs at %s, not a recorded loss %v\nin:   %s\nout:  %s\nback: %s",
				name, p, losses, orig, o.Message, o2.Message)
		}
	}
}

func s23Covered(p string, losses []Loss) bool {
	for _, l := range losses {
		if p == l.Path || strings.HasPrefix(p, l.Path+"/") {
			return true
		}
	}
	return false
}

// s23Diff returns the JSON pointers at which two JSON texts differ.
func s23Diff(t testing.TB, a, b []byte) []string {
	da, db := s23Decode(t, a), s23Decode(t, b)
	var out []string
	s23DiffAt(da, db, "", &out)
	return out
}

func s23Decode(t testing.TB, raw []byte) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

func s23DiffAt(a, b any, at string, out *[]string) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, at)
			return
		}
		for k, x := range av {
			p := at + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			if y, ok := bv[k]; ok {
				s23DiffAt(x, y, p, out)
			} else {
				*out = append(*out, p)
			}
		}
		for k := range bv {
			if _, ok := av[k]; !ok {
				*out = append(*out, at+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k))
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok {
			*out = append(*out, at)
			return
		}
		for i := range max(len(av), len(bv)) {
			p := at + "/" + strconv.Itoa(i)
			if i >= len(av) || i >= len(bv) {
				*out = append(*out, p)
				continue
			}
			s23DiffAt(av[i], bv[i], p, out)
		}
	default:
		if !reflect.DeepEqual(a, b) {
			*out = append(*out, at)
		}
	}
}

// TestStep23Untouched checks that messages no row concerns come out byte
// for byte, in both directions.
func TestStep23Untouched(t *testing.T) {
	cases := []struct {
		raw    string
		dir    Direction
		method string
	}{
		{`{"jsonrpc":"2.0", "id":1, "method":"ping"}`, ClientToServer, ""},
		{`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":{"a" : 1}}}`, ServerToClient, ""},
		{`{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"x","inputSchema":{"type":"object"}}]}}`, ServerToClient, "tools/list"},
		{`{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"hi"}], "isError":false}}`, ServerToClient, "tools/call"},
	}
	for _, pair := range [][2]schemas.Revision{{schemas.V20250326, schemas.V20250618}, {schemas.V20250618, schemas.V20250326}} {
		c, _ := NewChain(pair[0], pair[1])
		for _, tc := range cases {
			ctx := Context{Method: tc.method}
			o, err := c.TranslateBytes([]byte(tc.raw), tc.dir, &ctx)
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != Forward || string(o.Message) != tc.raw {
				t.Errorf("%v->%v: %s changed: %s %s", pair[0], pair[1], tc.raw, o.Kind, o.Message)
			}
		}
	}
}

// TestStep23CarriesJSON checks the structuredContent comparison (2.F1).
func TestStep23CarriesJSON(t *testing.T) {
	sc := NewJSON(`{"a":1,"b":[true,"x"]}`)
	for _, tc := range []struct {
		content string
		want    bool
	}{
		{`[{"type":"text","text":"{\"b\": [true, \"x\"], \"a\": 1.0}"}]`, true},
		{`[{"type":"image","data":"","mimeType":"image/png"},{"type":"text","text":" {\"a\":1,\"b\":[true,\"x\"]}\n"}]`, true},
		{`[{"type":"text","text":"{\"a\":2,\"b\":[true,\"x\"]}"}]`, false},
		{`[{"type":"text","text":"done"}]`, false},
		{`[]`, false},
	} {
		if got := s23CarriesJSON(NewJSON(tc.content), sc); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.content, got, tc.want)
		}
	}
}

// Fuzz23 feeds arbitrary JSON-RPC messages through step 2 both ways:
// it must never panic, and a message valid in the source revision that is
// forwarded must be valid in the target revision (our schemas, and the
// official ones when the input is valid there too).
func Fuzz23(f *testing.F) {
	for _, rev := range []string{"2025-03-26", "2025-06-18"} {
		for _, cm := range s23Messages(f, rev) {
			for _, d := range s23Directions(cm.msg.Kind, cm.method) {
				f.Add(bytes.Clone(cm.msg.Raw), d == ClientToServer, cm.method)
			}
		}
	}
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	off := official.ForTest(f)
	lo, hi := schemas.V20250326, schemas.V20250618
	up, _ := NewChain(lo, hi)
	down, _ := NewChain(hi, lo)
	f.Fuzz(func(t *testing.T, raw []byte, c2s bool, method string) {
		m, err := jsonrpc.Parse(raw)
		if err != nil {
			return
		}
		d := ServerToClient
		if c2s {
			d = ClientToServer
		}
		check := schemas.Check{Method: method, From: s23Sender(d)}
		for _, leg := range []struct {
			c        *Chain
			from, to schemas.Revision
		}{{up, lo, hi}, {down, hi, lo}} {
			ctx := Context{Method: method}.Defaults()
			o := leg.c.Translate(m, d, &ctx)
			if o.Kind != Forward {
				continue
			}
			if v.Validate(leg.from, m, check) != nil {
				continue
			}
			if err := v.ValidateBytes(leg.to, o.Message, check); err != nil {
				t.Fatalf("%s valid in %s, translated output invalid in %s: %v\n%s", raw, leg.from, leg.to, err, o.Message)
			}
			if off.ValidateMessage(leg.from.String(), raw, method) != nil {
				continue
			}
			if err := off.ValidateMessage(leg.to.String(), o.Message, method); err != nil {
				t.Fatalf("%s valid in official %s, output invalid in official %s: %v\n%s", raw, leg.from, leg.to, err, o.Message)
			}
		}
	})
}

// TestGolden23Official checks the forwarded outputs of the section 2
// golden cases against the official schemas too (TestGolden checks ours).
func TestGolden23Official(t *testing.T) {
	off := official.ForTest(t)
	for _, dir := range []string{"2025-03-26_2025-06-18", "2025-06-18_2025-03-26"} {
		files, err := filepath.Glob(filepath.Join("testdata", "golden", dir, "*.out.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no golden outputs in %s", dir)
		}
		to := strings.SplitN(dir, "_", 2)[1]
		for _, out := range files {
			var got struct {
				Kind    string          `json:"kind"`
				Message json.RawMessage `json:"message"`
			}
			var in goldenCase
			if err := s23ReadJSON(out, &got); err != nil {
				t.Fatal(err)
			}
			if err := s23ReadJSON(strings.TrimSuffix(out, ".out.json")+".in.json", &in); err != nil {
				t.Fatal(err)
			}
			if got.Kind != Forward.String() {
				continue
			}
			if err := off.ValidateMessage(to, got.Message, in.Context.Method); err != nil {
				t.Errorf("%s: output invalid in official %s: %v", out, to, err)
			}
		}
	}
}

func s23ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// TestCorpus23Mutations runs the corpus messages of both revisions and
// their mechanical mutations (official.Mutations) through both legs: any
// variant valid in the source revision that is forwarded must be valid in
// the target revision and survive the round trip up to recorded losses.
// A 2025-06-18 message is often valid in 2025-03-26 too (objects are
// open), which is how titles, _meta and the like of the wrong type reach
// the up leg.
func TestCorpus23Mutations(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	off := official.ForTest(t)
	lo, hi := schemas.V20250326, schemas.V20250618
	type leg struct {
		from, to  schemas.Revision
		fwd, back *Chain
	}
	var legs []leg
	for _, p := range [][2]schemas.Revision{{lo, hi}, {hi, lo}} {
		fwd, _ := NewChain(p[0], p[1])
		back, _ := NewChain(p[1], p[0])
		legs = append(legs, leg{p[0], p[1], fwd, back})
	}
	tried := 0
	for _, rev := range []string{lo.String(), hi.String()} {
		for _, cm := range s23Messages(t, rev) {
			variants := [][]byte{cm.msg.Raw}
			for _, mu := range official.Mutations(cm.msg.Raw) {
				variants = append(variants, mu.Raw)
			}
			for vi, raw := range variants {
				m, err := jsonrpc.Parse(raw)
				if err != nil {
					continue
				}
				for _, d := range s23Directions(cm.msg.Kind, cm.method) {
					check := schemas.Check{Method: cm.method, From: s23Sender(d)}
					for _, l := range legs {
						if v.Validate(l.from, m, check) != nil {
							continue
						}
						tried++
						name := rev + "/" + cm.name + "/" + strconv.Itoa(vi) + "/" + l.from.String() + ">" + l.to.String() + "/" + d.String()
						ctx := Context{Method: cm.method}.Defaults()
						o := l.fwd.Translate(m, d, &ctx)
						if o.Kind != Forward {
							continue
						}
						if err := v.ValidateBytes(l.to, o.Message, check); err != nil {
							t.Errorf("%s: %s\noutput invalid in %s: %v\n%s", name, raw, l.to, err, o.Message)
							continue
						}
						if off.ValidateMessage(l.from.String(), raw, cm.method) == nil {
							if err := off.ValidateMessage(l.to.String(), o.Message, cm.method); err != nil {
								t.Errorf("%s: %s\noutput invalid in official %s: %v\n%s", name, raw, l.to, err, o.Message)
							}
						}
						s23CheckRoundTrip(t, name, l.back, raw, o, d, &ctx)
					}
				}
			}
		}
	}
	t.Logf("%d valid variants translated", tried)
}
