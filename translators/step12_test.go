package translators

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
)

// s12Msg is one corpus message (a line, or one element of a batch line)
// with the method it belongs to.
type s12Msg struct {
	name   string
	raw    []byte
	kind   jsonrpc.Kind
	method string
	batch  bool
}

// s12Messages returns the corpus messages of rev, batches split into
// their elements (1.L1: the chain only ever sees single messages).
func s12Messages(t testing.TB, rev schemas.Revision) []s12Msg {
	var out []s12Msg
	for _, e := range official.Corpus(t, rev.String()) {
		f, err := jsonrpc.ParseFrame(e.Raw)
		if err != nil {
			t.Fatalf("%s %s: %v", rev, e.Name(), err)
		}
		for j, m := range f.Messages {
			if m == nil {
				t.Fatalf("%s %s: element %d invalid", rev, e.Name(), j)
			}
			sm := s12Msg{name: e.Name(), raw: m.Raw, kind: m.Kind, method: e.Method, batch: f.Batch}
			if f.Batch {
				sm.name += "/" + strconv.Itoa(j)
				switch m.Kind {
				case jsonrpc.KindRequest, jsonrpc.KindNotification:
					sm.method = m.Method
				default:
					v, err := official.Decode(m.Raw)
					if err != nil {
						t.Fatal(err)
					}
					sm.method = e.Methods[official.IDKey(v.(map[string]any)["id"])]
				}
			}
			out = append(out, sm)
		}
	}
	return out
}

// s12Senders returns the sides that may send a message of this kind and
// method (ping, progress, cancellation and unattributed errors: both).
func s12Senders(kind jsonrpc.Kind, method string) []Direction {
	both := []Direction{ClientToServer, ServerToClient}
	var req Direction
	switch method {
	case "", "ping", "notifications/progress", "notifications/cancelled":
		return both
	case "sampling/createMessage", "roots/list", "elicitation/create":
		req = ServerToClient
	case "notifications/initialized", "notifications/roots/list_changed":
		return []Direction{ClientToServer}
	default:
		if strings.HasPrefix(method, "notifications/") {
			return []Direction{ServerToClient}
		}
		req = ClientToServer
	}
	if kind == jsonrpc.KindResult || kind == jsonrpc.KindError {
		if req == ClientToServer {
			return []Direction{ServerToClient}
		}
		return []Direction{ClientToServer}
	}
	return []Direction{req}
}

func s12Sender(d Direction) schemas.Sender {
	if d == ServerToClient {
		return schemas.FromServer
	}
	return schemas.FromClient
}

// s12Strip replaces the value at each loss path of v with a marker, so
// that two messages can be compared outside the lost subtrees.
func s12Strip(v any, losses []Loss) any {
	for _, l := range losses {
		v = s12SetPointer(v, l.Path)
	}
	return v
}

func s12SetPointer(v any, ptr string) any {
	if ptr == "" {
		return "<lost>"
	}
	first, rest, _ := strings.Cut(strings.TrimPrefix(ptr, "/"), "/")
	if rest != "" {
		rest = "/" + rest
	}
	key := strings.ReplaceAll(strings.ReplaceAll(first, "~1", "/"), "~0", "~")
	switch x := v.(type) {
	case map[string]any:
		if c, ok := x[key]; ok {
			x[key] = s12SetPointer(c, rest)
		} else if rest == "" {
			x[key] = "<lost>"
		}
	case []any:
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(x) {
			x[i] = s12SetPointer(x[i], rest)
		}
	}
	return v
}

// TestCorpus12 translates every corpus message of 2024-11-05 up and every
// corpus message of 2025-03-26 down, in the direction its sender implies,
// and checks that a forwarded message is valid in the target revision under
// our schema and the official one, and that translating it back gives the
// original except at the recorded loss paths.
func TestCorpus12(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	off := official.ForTest(t)
	lo, hi := schemas.V20241105, schemas.V20250326
	for _, pair := range [][2]schemas.Revision{{lo, hi}, {hi, lo}} {
		from, to := pair[0], pair[1]
		fwd, _ := NewChain(from, to)
		back, _ := NewChain(to, from)
		batches := 0
		for _, m := range s12Messages(t, from) {
			if m.batch {
				batches++
			}
			for _, d := range s12Senders(m.kind, m.method) {
				name := fmt.Sprintf("%s_%s/%s/%s", from, to, m.name, d)
				ctx := (&Context{Method: m.method}).Defaults()
				o, err := fwd.TranslateBytes(m.raw, d, &ctx)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if o.Kind != Forward {
					t.Logf("%s: outcome %s (%s)", name, o.Kind, o.Row)
					continue
				}
				chk := schemas.Check{Method: m.method, From: s12Sender(d)}
				if err := v.ValidateBytes(to, o.Message, chk); err != nil {
					t.Errorf("%s: invalid in %s (ours): %v\n%s", name, to, err, o.Message)
				}
				if err := off.ValidateMessage(to.String(), o.Message, m.method); err != nil {
					t.Errorf("%s: invalid in %s (official): %v\n%s", name, to, err, o.Message)
				}
				// Round trip A -> B -> A.
				r, err := back.TranslateBytes(o.Message, d, &ctx)
				if err != nil || r.Kind != Forward {
					t.Errorf("%s: round trip: %v %v", name, err, r.Kind)
					continue
				}
				losses := append(append([]Loss(nil), o.Losses...), r.Losses...)
				a, _ := official.Decode(m.raw)
				b, _ := official.Decode(r.Message)
				if !reflect.DeepEqual(s12Strip(a, losses), s12Strip(b, losses)) {
					t.Errorf("%s: round trip differs outside the losses %v:\n%s\n%s", name, losses, m.raw, r.Message)
				}
			}
		}
		if from == hi && batches == 0 {
			t.Errorf("the %s corpus has no batch: 1.L1 element translation is untested", hi)
		}
	}
}

// TestBatchElements12 covers 1.L1: a 2025-03-26 batch is split by the
// caller and every element translates on its own into a valid 2024-11-05
// message, the same way as when it arrives alone.
func TestBatchElements12(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	batch := `[` +
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"b","progress":1,"total":2,"message":"half"}},` +
		`{"jsonrpc":"2.0","id":"b-1","result":{"content":[{"type":"audio","data":"AAAA","mimeType":"audio/wav"}]}},` +
		`{"jsonrpc":"2.0","id":"b-2","result":{"tools":[{"name":"x","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}]}},` +
		`{"jsonrpc":"2.0","id":"b-3","error":{"code":-32601,"message":"Method not found"}}` +
		`]`
	methods := []string{"notifications/progress", "tools/call", "tools/list", "completion/complete"}
	wantRows := []string{"1.F4", "1.F1", "1.F3", "1.E1"}
	f, err := jsonrpc.ParseFrame([]byte(batch))
	if err != nil || !f.Batch {
		t.Fatalf("ParseFrame: %v", err)
	}
	c, _ := NewChain(schemas.V20250326, schemas.V20241105)
	for i, m := range f.Messages {
		ctx := (&Context{Method: methods[i]}).Defaults()
		o := c.Translate(m, ServerToClient, &ctx)
		if o.Kind != Forward || !containsRow(o.Applied, wantRows[i]) {
			t.Errorf("element %d: %s %v, want forward with %s", i, o.Kind, o.Applied, wantRows[i])
			continue
		}
		if err := v.ValidateBytes(schemas.V20241105, o.Message, schemas.Check{Method: methods[i], From: schemas.FromServer}); err != nil {
			t.Errorf("element %d: %v\n%s", i, err, o.Message)
		}
		alone, _ := c.TranslateBytes(append([]byte(nil), m.Raw...), ServerToClient, &ctx)
		if string(alone.Message) != string(o.Message) {
			t.Errorf("element %d translates differently alone:\n%s\n%s", i, alone.Message, o.Message)
		}
	}
}

// TestAudioPlaceholder12 pins the placeholder sizes.
func TestAudioPlaceholder12(t *testing.T) {
	for _, tc := range []struct {
		data string
		want string
	}{
		{"", "0 bytes"},
		{"AA==", "1 byte"},
		{"AAA=", "2 bytes"},
		{"AAAA", "3 bytes"},
		{strings.Repeat("A", 65536), "48 KB"},
		{strings.Repeat("A", 4<<20), "3.0 MB"},
	} {
		got := s12Size(s12Base64Len(NewString(tc.data)))
		if got != tc.want {
			t.Errorf("%d chars: %q, want %q", len(tc.data), got, tc.want)
		}
	}
}

// FuzzStep12 feeds arbitrary messages through step 1 both ways: it must
// not panic, and a message valid in the source revision that is forwarded
// must be valid in the target revision.
func FuzzStep12(f *testing.F) {
	for _, rev := range []schemas.Revision{schemas.V20241105, schemas.V20250326} {
		for _, m := range s12Messages(f, rev) {
			for _, d := range s12Senders(m.kind, m.method) {
				f.Add(m.raw, m.method, d == ClientToServer, rev == schemas.V20241105)
			}
		}
	}
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	up, _ := NewChain(schemas.V20241105, schemas.V20250326)
	down, _ := NewChain(schemas.V20250326, schemas.V20241105)
	f.Fuzz(func(t *testing.T, raw []byte, method string, c2s, goUp bool) {
		m, err := jsonrpc.Parse(raw)
		if err != nil {
			return
		}
		d := ServerToClient
		if c2s {
			d = ClientToServer
		}
		c := down
		if goUp {
			c = up
		}
		ctx := (&Context{Method: method}).Defaults()
		o := c.Translate(m, d, &ctx)
		if o.Kind != Forward {
			return
		}
		if !json.Valid(o.Message) {
			t.Fatalf("output is not JSON: %s", o.Message)
		}
		chk := schemas.Check{Method: method, From: s12Sender(d)}
		if v.ValidateBytes(c.From(), raw, chk) != nil {
			return
		}
		if err := v.ValidateBytes(c.To(), o.Message, chk); err != nil {
			t.Fatalf("valid %s input, invalid %s output: %v\nin:  %s\nout: %s", c.From(), c.To(), err, raw, o.Message)
		}
	})
}
