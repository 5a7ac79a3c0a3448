package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
)

// Tests of the lifecycle and method rows of section 4 (step45.go). Until
// the fields rows (step45_fields.go: resultType, caching hints,
// structuredContent, ...) are present, results and errors are not
// required to come out valid: those rows own them.

func lm45FieldsReady() bool { return len(rows45Fields()) > 0 }

// lm45TestContext is the session a translated message is given: a legacy
// client that declared roots.listChanged and tasks and set a log level.
func lm45TestContext(method string) Context {
	return Context{
		Method:             method,
		ClientInfo:         json.RawMessage(`{"name":"legacy-client","version":"1.0.0"}`),
		ClientCapabilities: json.RawMessage(`{"roots":{"listChanged":true},"sampling":{"tools":{}},"elicitation":{"form":{}},"tasks":{"list":{},"cancel":{}}}`),
		LogLevel:           "info",
	}.Defaults()
}

func lm45Chains(t testing.TB) (up, down *Chain) {
	var err error
	if up, err = NewChain(schemas.V20251125, schemas.V20260728); err != nil {
		t.Fatal(err)
	}
	if down, err = NewChain(schemas.V20260728, schemas.V20251125); err != nil {
		t.Fatal(err)
	}
	return up, down
}

// lm45Dirs returns the directions a corpus message of revision r may be
// sent in: a request or notification by its senders, a response the
// opposite way of its request (both ways when unknown).
func lm45Dirs(v *schemas.Validator, r schemas.Revision, kind, method string) []Direction {
	both := []Direction{ClientToServer, ServerToClient}
	info, ok := v.Method(r, method)
	if !ok {
		return both
	}
	var out []Direction
	for _, s := range info.Senders {
		d := ClientToServer
		if s == schemas.FromServer {
			d = ServerToClient
		}
		if kind == official.KindResult || kind == official.KindError {
			d = 3 - d // the response goes the other way
		}
		out = append(out, d)
	}
	return out
}

func lm45Sender(d Direction) schemas.Sender {
	if d == ServerToClient {
		return schemas.FromServer
	}
	return schemas.FromClient
}

// TestCorpus45 translates every corpus message of 2025-11-25 up and every
// one of 2026-07-28 down, in each direction its sender implies: the outcome
// must be typed, or a forwarded message valid in the target revision under
// our schema and the official one. Answer replies must be valid in the
// source revision.
func TestCorpus45(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	off := official.ForTest(t)
	up, down := lm45Chains(t)
	ready := lm45FieldsReady()
	pending := 0
	for _, c := range []*Chain{up, down} {
		from, to := c.From(), c.To()
		for _, e := range official.Corpus(t, from.String()) {
			if e.Kind == official.KindBatch {
				continue
			}
			for _, d := range lm45Dirs(v, from, e.Kind, e.Method) {
				name := fmt.Sprintf("%s_%s/%s/%s", from, to, e.Name(), d)
				ctx := lm45TestContext(e.Method)
				o, err := c.TranslateBytes(e.Raw, d, &ctx)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				switch o.Kind {
				case Forward:
					errOurs := v.ValidateBytes(to, o.Message, schemas.Check{Method: e.Method, From: lm45Sender(d)})
					errOff := off.ValidateMessage(to.String(), o.Message, e.Method)
					if errOurs == nil && errOff == nil {
						continue
					}
					if !ready && (e.Kind == official.KindResult || e.Kind == official.KindError) {
						pending++ // owned by the fields rows (4.F*)
						continue
					}
					t.Errorf("%s: output invalid in %s:\nours: %v\nofficial: %v\n%s", name, to, errOurs, errOff, o.Message)
				case Answer:
					if o.Reply == nil {
						continue
					}
					if err := v.ValidateBytes(from, o.Reply, schemas.Check{Method: e.Method, From: lm45Sender(3 - d)}); err != nil {
						t.Errorf("%s: reply invalid in %s: %v\n%s", name, from, err, o.Reply)
					}
				case Reject:
					if o.Error == nil {
						t.Errorf("%s: reject without an error", name)
					}
				case Drop:
					if e.Kind != official.KindNotification {
						t.Errorf("%s: a %s was dropped", name, e.Kind)
					}
				case Emulate:
				default:
					t.Errorf("%s: outcome %v", name, o.Kind)
				}
			}
		}
	}
	if pending > 0 {
		t.Logf("%d results/errors not yet valid: owned by the fields rows (rows45Fields is empty)", pending)
	}
}

// TestRoundTrip45 translates corpus messages A->B->A through step45 and
// checks that the message comes back equal except below the paths recorded
// as losses.
func TestRoundTrip45(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	up, down := lm45Chains(t)
	for _, pair := range [][2]*Chain{{up, down}, {down, up}} {
		there, back := pair[0], pair[1]
		for _, e := range official.Corpus(t, there.From().String()) {
			if e.Kind == official.KindBatch {
				continue
			}
			for _, d := range lm45Dirs(v, there.From(), e.Kind, e.Method) {
				name := fmt.Sprintf("%s_%s/%s/%s", there.From(), there.To(), e.Name(), d)
				ctx := lm45TestContext(e.Method)
				// No serverInfo: 4.F5 would add it Up to results that had
				// none (an ADD, not a loss), which is not this step's row.
				ctx.ServerInfo = nil
				o1, err := there.TranslateBytes(e.Raw, d, &ctx)
				if err != nil || o1.Kind != Forward {
					continue
				}
				o2, err := back.TranslateBytes(o1.Message, d, &ctx)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if o2.Kind != Forward {
					continue
				}
				losses := append(append([]Loss(nil), o1.Losses...), o2.Losses...)
				for _, p := range lm45Diff(t, e.Raw, o2.Message) {
					if !lm45Covered(p, losses) {
						t.Errorf("%s: round trip changed %s (no loss recorded)\nin:   %s\nout:  %s\nback: %s", name, p, e.Raw, o1.Message, o2.Message)
					}
				}
			}
		}
	}
}

func lm45Covered(p string, losses []Loss) bool {
	for _, l := range losses {
		if p == l.Path || strings.HasPrefix(p, l.Path+"/") {
			return true
		}
	}
	return false
}

// lm45Diff returns the JSON Pointers at which two JSON texts differ.
func lm45Diff(t testing.TB, a, b []byte) []string {
	var va, vb any
	for _, x := range []struct {
		raw []byte
		v   *any
	}{{a, &va}, {b, &vb}} {
		dec := json.NewDecoder(bytes.NewReader(x.raw))
		dec.UseNumber()
		if err := dec.Decode(x.v); err != nil {
			t.Fatalf("decode %s: %v", x.raw, err)
		}
	}
	var out []string
	var walk func(p string, x, y any)
	walk = func(p string, x, y any) {
		switch xv := x.(type) {
		case map[string]any:
			yv, ok := y.(map[string]any)
			if !ok {
				out = append(out, p)
				return
			}
			keys := map[string]bool{}
			for k := range xv {
				keys[k] = true
			}
			for k := range yv {
				keys[k] = true
			}
			for k := range keys {
				xe, xok := xv[k]
				ye, yok := yv[k]
				kp := p + "/" + lm45Escape(k)
				if xok != yok {
					out = append(out, kp)
					continue
				}
				walk(kp, xe, ye)
			}
		case []any:
			yv, ok := y.([]any)
			if !ok || len(xv) != len(yv) {
				out = append(out, p)
				return
			}
			for i := range xv {
				walk(fmt.Sprintf("%s/%d", p, i), xv[i], yv[i])
			}
		default:
			if fmt.Sprint(x) != fmt.Sprint(y) || fmt.Sprintf("%T", x) != fmt.Sprintf("%T", y) {
				out = append(out, p)
			}
		}
	}
	walk("", va, vb)
	sort.Strings(out)
	return out
}

func TestRequestMetaAdded45(t *testing.T) {
	up, _ := lm45Chains(t)
	ctx := lm45TestContext("")
	o, err := up.TranslateBytes([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), ClientToServer, &ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"roots":{},"sampling":{"tools":{}},"elicitation":{"form":{}}},"io.modelcontextprotocol/clientInfo":{"name":"legacy-client","version":"1.0.0"},"io.modelcontextprotocol/logLevel":"info"}}}`
	if o.Kind != Forward || string(o.Message) != want {
		t.Fatalf("got %v %s\nwant %s", o.Kind, o.Message, want)
	}
	if !slices.Equal(o.Applied, []string{"4.L4", "4.M2", "4.L1"}) {
		t.Errorf("applied %v", o.Applied)
	}
	// The Context is not aliased: translating twice gives the same bytes.
	o2, _ := up.TranslateBytes([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), ClientToServer, &ctx)
	if string(o2.Message) != want || string(ctx.ClientCapabilities) != `{"roots":{"listChanged":true},"sampling":{"tools":{}},"elicitation":{"form":{}},"tasks":{"list":{},"cancel":{}}}` {
		t.Errorf("context changed: %s / %s", o2.Message, ctx.ClientCapabilities)
	}
	// Zero Context: capabilities {} are still required; no clientInfo.
	o3, _ := up.TranslateBytes([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), ClientToServer, nil)
	if want := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`; string(o3.Message) != want {
		t.Errorf("zero context: %s", o3.Message)
	}
}

func TestUnsupportedVersion45(t *testing.T) {
	_, down := lm45Chains(t)
	for _, tc := range []struct{ version, code string }{
		{"2027-01-01", "-32022"}, {"2025-11-25", "-32022"}, {"draft", ""}, {"2026-07-28", ""},
	} {
		msg := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"` + tc.version + `","io.modelcontextprotocol/clientCapabilities":{}}}}`
		o, err := down.TranslateBytes([]byte(msg), ClientToServer, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.code == "" {
			if o.Kind != Forward || string(o.Message) != `{"jsonrpc":"2.0","id":1,"method":"tools/list"}` {
				t.Errorf("%s: %v %s", tc.version, o.Kind, o.Message)
			}
			continue
		}
		b, _ := json.Marshal(o.Error)
		if o.Kind != Reject || !strings.Contains(string(b), `"code":`+tc.code) || !strings.Contains(string(b), `"requested":"`+tc.version+`"`) {
			t.Errorf("%s: %v %s", tc.version, o.Kind, b)
		}
	}
	o, _ := down.TranslateBytes([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`), ClientToServer, nil)
	if o.Kind != Reject || o.Error.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("missing _meta: %v %+v", o.Kind, o.Error)
	}
}

func TestCapabilities45(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(*Node, CapabilityOptions) *Node
		in   string
		o    CapabilityOptions
		want string
	}{
		{"client to 2026", ClientCapabilitiesTo2026,
			`{"roots":{"listChanged":true},"sampling":{},"tasks":{"list":{}},"experimental":{"x":{}}}`, CapabilityOptions{},
			`{"roots":{},"sampling":{},"experimental":{"x":{}}}`},
		{"client to 2026, tasks emulated", ClientCapabilitiesTo2026,
			`{"tasks":{}}`, CapabilityOptions{Tasks: true},
			`{"extensions":{"io.modelcontextprotocol/tasks":{}}}`},
		{"client to 2026, not an object", ClientCapabilitiesTo2026, `[]`, CapabilityOptions{}, `{}`},
		{"client to legacy", ClientCapabilitiesToLegacy,
			`{"roots":{},"elicitation":{"form":{}},"extensions":{"io.modelcontextprotocol/ui":{}}}`, CapabilityOptions{},
			`{"roots":{},"elicitation":{"form":{}}}`},
		{"client to legacy, roots list_changed synthesized", ClientCapabilitiesToLegacy,
			`{"roots":{}}`, CapabilityOptions{RootsListChanged: true},
			`{"roots":{"listChanged":true}}`},
		{"server to legacy", ServerCapabilitiesToLegacy,
			`{"resources":{"subscribe":true},"logging":{},"extensions":{"io.modelcontextprotocol/tasks":{}}}`, CapabilityOptions{},
			`{"resources":{"subscribe":true},"logging":{}}`},
		{"server to legacy, tasks emulated", ServerCapabilitiesToLegacy,
			`{"tools":{}}`, CapabilityOptions{Tasks: true},
			`{"tools":{},"tasks":{"list":{},"cancel":{},"requests":{"tools":{"call":{}}}}}`},
		{"server to 2026", ServerCapabilitiesTo2026,
			`{"tools":{"listChanged":true},"tasks":{"list":{}}}`, CapabilityOptions{},
			`{"tools":{"listChanged":true}}`},
		{"server to 2026, tasks emulated", ServerCapabilitiesTo2026,
			`{"tools":{},"extensions":{"com.example/x":{}}}`, CapabilityOptions{Tasks: true},
			`{"tools":{},"extensions":{"com.example/x":{},"io.modelcontextprotocol/tasks":{}}}`},
	} {
		in := NewJSON(tc.in)
		got := tc.f(in, tc.o)
		if string(got.Raw()) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got.Raw(), tc.want)
		}
		if string(in.Raw()) != tc.in {
			t.Errorf("%s: input modified: %s", tc.name, in.Raw())
		}
	}
	// Shapes validate where the schemas define them.
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	legacy := NewJSON(`{"roots":{"listChanged":true},"sampling":{"context":{},"tools":{}},"elicitation":{"form":{},"url":{}},"tasks":{"list":{},"cancel":{},"requests":{"sampling":{"createMessage":{}}}},"experimental":{"a":{}}}`)
	if err := v.ValidateDef(schemas.V20260728, "ClientCapabilities", ClientCapabilitiesTo2026(legacy, CapabilityOptions{Tasks: true}).Raw()); err != nil {
		t.Error(err)
	}
	modern := NewJSON(`{"roots":{},"sampling":{},"extensions":{"io.modelcontextprotocol/tasks":{}}}`)
	if err := v.ValidateDef(schemas.V20251125, "ClientCapabilities", ClientCapabilitiesToLegacy(modern, CapabilityOptions{RootsListChanged: true}).Raw()); err != nil {
		t.Error(err)
	}
}

// Fuzz45 feeds arbitrary JSON-RPC messages through step45 both ways. It
// must not panic; a message valid in its source revision that is
// forwarded must be valid in the target revision (results and errors only
// once the fields rows are in).
func Fuzz45(f *testing.F) {
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	for i, rev := range []schemas.Revision{schemas.V20251125, schemas.V20260728} {
		for _, e := range official.Corpus(f, rev.String()) {
			if e.Kind == official.KindBatch {
				continue
			}
			for _, d := range lm45Dirs(v, rev, e.Kind, e.Method) {
				f.Add(e.Raw, i == 1, d == ServerToClient, e.Method)
			}
		}
	}
	up, down := lm45Chains(f)
	ready := lm45FieldsReady()
	f.Fuzz(func(t *testing.T, raw []byte, hi, s2c bool, method string) {
		m, err := jsonrpc.Parse(raw)
		if err != nil {
			return
		}
		c := up
		if hi {
			c = down
		}
		d := ClientToServer
		if s2c {
			d = ServerToClient
		}
		ctx := lm45TestContext(method)
		o := c.Translate(m, d, &ctx)
		if o.Kind != Forward {
			if o.Kind == Drop && m.Kind != jsonrpc.KindNotification {
				t.Fatalf("a %v was dropped", m.Kind)
			}
			return
		}
		check := schemas.Check{Method: method, From: lm45Sender(d)}
		if v.Validate(c.From(), m, check) != nil {
			return
		}
		// The validator does not check who sends a response: keep to the
		// directions a response of method can take (the other way of its
		// request).
		if m.Kind == jsonrpc.KindResult || m.Kind == jsonrpc.KindError {
			kind := official.KindResult
			if m.Kind == jsonrpc.KindError {
				kind = official.KindError
			}
			if !slices.Contains(lm45Dirs(v, c.From(), kind, method), d) {
				return
			}
		}
		if !ready && (m.Kind == jsonrpc.KindResult || m.Kind == jsonrpc.KindError) {
			return
		}
		if err := v.ValidateBytes(c.To(), o.Message, check); err != nil {
			t.Fatalf("valid %s message translated into an invalid %s one: %v\nin:  %s\nout: %s", c.From(), c.To(), err, raw, o.Message)
		}
	})
}

func TestToolExecutionStripped45(t *testing.T) {
	up, _ := lm45Chains(t)
	ctx := Context{Method: "tools/list"}.Defaults()
	in := `{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"a","inputSchema":{"type":"object"}},{"name":"b","inputSchema":{"type":"object"},"execution":{"taskSupport":"optional"}}]}}`
	o, err := up.TranslateBytes([]byte(in), ServerToClient, &ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Kind != Forward || strings.Contains(string(o.Message), "execution") {
		t.Fatalf("%v %s", o.Kind, o.Message)
	}
	if !slices.ContainsFunc(o.Losses, func(l Loss) bool { return l.Row == "4.M5" && l.Path == "/result/tools/1/execution" }) {
		t.Errorf("losses %v", o.Losses)
	}
}

// TestResultShapes45 checks that InputRequiredResult and the task result
// are recognised even when resultType was already stripped (the fields
// rows run first).
func TestResultShapes45(t *testing.T) {
	_, down := lm45Chains(t)
	for _, tc := range []struct{ method, result, row string }{
		{"tools/call", `{"inputRequests":{"a":{"method":"roots/list"}}}`, "4.M6"},
		{"prompts/get", `{"requestState":"x"}`, "4.M6"},
		{"tools/call", `{"taskId":"t","status":"working","ttlMs":1,"pollIntervalMs":1}`, "4.M5"},
		{"tools/call", `{"resultType":"task","taskId":"t","status":"working"}`, "4.M5"},
		{"tools/call", `{"content":[]}`, ""},
	} {
		ctx := Context{Method: tc.method}.Defaults()
		o, err := down.TranslateBytes([]byte(`{"jsonrpc":"2.0","id":1,"result":`+tc.result+`}`), ServerToClient, &ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tc.row == "" {
			if o.Kind != Forward {
				t.Errorf("%s: %v", tc.result, o.Kind)
			}
			continue
		}
		if o.Kind != Emulate || o.Row != tc.row {
			t.Errorf("%s: %v %s", tc.result, o.Kind, o.Row)
		}
	}
}

// TestOutcomes45 pins the outcome kind and row of messages whose golden
// output would also show the fields rows' work (they run first and may
// touch a message before it becomes an outcome here).
func TestOutcomes45(t *testing.T) {
	up, down := lm45Chains(t)
	for _, tc := range []struct {
		c      *Chain
		dir    Direction
		method string
		msg    string
		kind   OutcomeKind
		row    string
	}{
		{up, ServerToClient, "initialize", `{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"s","version":"1"}}}`, Emulate, "4.L1"},
		{up, ServerToClient, "ping", `{"jsonrpc":"2.0","id":"p","result":{}}`, Emulate, "4.M1"},
		{up, ClientToServer, "ping", `{"jsonrpc":"2.0","id":"p","result":{}}`, Emulate, "4.M1"},
		{up, ServerToClient, "logging/setLevel", `{"jsonrpc":"2.0","id":1,"result":{}}`, Emulate, "4.M2"},
		{up, ServerToClient, "resources/subscribe", `{"jsonrpc":"2.0","id":1,"result":{}}`, Emulate, "4.M3"},
		{up, ServerToClient, "resources/unsubscribe", `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}}`, Emulate, "4.M3"},
		{up, ServerToClient, "tasks/get", `{"jsonrpc":"2.0","id":1,"result":{"taskId":"t","status":"working","createdAt":"2025-11-25T10:30:00Z","lastUpdatedAt":"2025-11-25T10:30:00Z","ttl":null}}`, Emulate, "4.M5"},
		{up, ClientToServer, "tasks/get", `{"jsonrpc":"2.0","id":1,"result":{"taskId":"t","status":"working","createdAt":"2025-11-25T10:30:00Z","lastUpdatedAt":"2025-11-25T10:30:00Z","ttl":null}}`, Emulate, "4.M5"},
		{up, ServerToClient, "prompts/get", `{"jsonrpc":"2.0","id":1,"error":{"code":-32042,"message":"x","data":{"elicitations":[]}}}`, Emulate, "4.M7"},
		{up, ClientToServer, "", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"reason":"no id"}}`, Drop, ""},
		{down, ServerToClient, "subscriptions/listen", `{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"x"}}`, Emulate, "4.M3"},
		{down, ServerToClient, "", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"l-1"}}`, Emulate, "4.M3"},
	} {
		ctx := lm45TestContext(tc.method)
		o, err := tc.c.TranslateBytes([]byte(tc.msg), tc.dir, &ctx)
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind != tc.kind || (tc.row != "" && o.Row != tc.row) {
			t.Errorf("%s %s %s: got %v %s, want %v %s", tc.c.From(), tc.dir, tc.msg, o.Kind, o.Row, tc.kind, tc.row)
		}
	}
}
