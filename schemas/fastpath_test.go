package schemas_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
)

// Validate trusts fastpath's "valid" and asks jsonschema otherwise, so
// fastpath must never accept what jsonschema rejects (that would change a
// verdict), and should accept everything jsonschema accepts (or valid
// messages lose the fast path). These tests hold the two to the same
// verdict on every definition and every instance we have: fastpath on the
// decoded tree (Valid) and on the JSON text (ValidJSON, ValidObject: what
// Validate uses), and Validate's fast path as a whole (FastMessage).

// TestFastpathCoversEverything: every definition has a fastpath schema,
// so every message Validate accepts is accepted by fastpath alone. A
// keyword new to the catalogue that fastpath does not implement fails
// here: implement it in fastpath (schemas/internal/fastpath).
func TestFastpathCoversEverything(t *testing.T) {
	v := newValidator(t)
	for _, r := range schemas.All() {
		if _, err := v.FastDefs(r); err != nil {
			t.Errorf("%s: %v", r, err)
		}
		if m := v.FastCovered(r); len(m) > 0 {
			t.Errorf("%s: no fastpath schema for %v", r, m)
		}
	}
}

type agreement struct {
	t                        testing.TB
	checked, text, messages  int
	validText, validMessages int
}

// check compares fastpath on the tree, and on the text when p has it, and
// on texts, with jsonschema on inst; it returns jsonschema's verdict.
func (a *agreement) check(what string, p schemas.FastPair, inst any, texts ...[]byte) bool {
	a.t.Helper()
	if p.Fast == nil {
		return false
	}
	s, decided := schemas.SlowValid(p.Slow, inst)
	if !decided {
		return false // jsonschema cannot tell
	}
	a.checked++
	f := p.Fast.Valid(inst)
	if f != s {
		b, _ := json.Marshal(inst)
		a.t.Errorf("%s (%s): fastpath valid=%v, jsonschema valid=%v\n  instance: %s", what, p.What, f, s, b)
	}
	if p.Text != nil {
		a.compareText(what, p.What, p.Text(), s, inst)
	}
	for _, text := range texts {
		a.compareText(what, p.What, p.Fast.ValidJSON(text), s, text)
	}
	return s
}

func (a *agreement) compareText(what, def string, f, s bool, inst any) {
	a.t.Helper()
	a.text++
	if s {
		a.validText++
	}
	if f != s {
		b, ok := inst.([]byte)
		if !ok {
			b, _ = json.Marshal(inst)
		}
		a.t.Errorf("%s (%s): fastpath on the text valid=%v, jsonschema valid=%v\n  instance: %s", what, def, f, s, b)
	}
}

// checkMessage compares Validate's fast path with jsonschema on a message.
func (a *agreement) checkMessage(what string, v *schemas.Validator, r schemas.Revision, m *jsonrpc.Message, method string) {
	a.t.Helper()
	f, s, ok := v.FastMessage(r, m, method)
	if !ok {
		return
	}
	a.messages++
	if s {
		a.validMessages++
	}
	if f != s {
		a.t.Errorf("%s: Validate's fast path valid=%v, jsonschema valid=%v\n  message: %s", what, f, s, m.Raw)
	}
}

// TestFastpathAgreesOnMessages checks, for every corpus message and every
// mutation of it under every revision, each schema Validate applies to it
// (envelope, message definition, result definitions, error envelope).
func TestFastpathAgreesOnMessages(t *testing.T) {
	v := newValidator(t)
	a := &agreement{t: t}
	for _, src := range schemas.All() {
		entries := official.Corpus(t, src.String())
		for _, target := range schemas.All() {
			for _, e := range entries {
				msgs := [][]byte{e.Raw}
				if src == target {
					for _, m := range official.Mutations(e.Raw) {
						msgs = append(msgs, m.Raw)
					}
				}
				for _, raw := range msgs {
					f, err := jsonrpc.ParseFrame(raw)
					if err != nil {
						continue
					}
					for _, m := range f.Messages {
						if m == nil {
							continue
						}
						what := fmt.Sprintf("%s %s under %s", src, e.Name(), target)
						for _, p := range v.FastPairs(target, m, e.Method) {
							a.check(what, p, p.Inst)
						}
						meth := e.Method
						if f.Batch && m.IsResponse() {
							meth = e.Methods[jsonrpc.IDKey(m.ID)]
						}
						a.checkMessage(what, v, target, m, meth)
					}
				}
			}
		}
	}
	t.Logf("%d verdicts on trees, %d on texts (%d valid), %d messages (%d valid) compared",
		a.checked, a.text, a.validText, a.messages, a.validMessages)
	if a.messages < 1000 || a.validMessages == 0 || a.validMessages == a.messages {
		t.Errorf("too few messages compared")
	}
}

// TestFastpathAgreesOnDefinitions checks every definition of every
// revision against every value found in the corpus (each message and every
// object and array inside it) and in the official examples.
func TestFastpathAgreesOnDefinitions(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	v := newValidator(t)
	values := map[string]any{}
	texts := map[string][][]byte{} // other texts of the values, as found
	var collect func(x any)
	collect = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for _, y := range x {
				collect(y)
			}
		case []any:
			for _, y := range x {
				collect(y)
			}
		default:
			return
		}
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		values[string(b)] = x
	}
	add := func(raw []byte) {
		x, err := schemas.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		collect(x)
		b, _ := json.Marshal(x)
		texts[string(b)] = append(texts[string(b)], raw)
	}
	for _, r := range schemas.All() {
		for _, e := range official.Corpus(t, r.String()) {
			add(e.Raw)
		}
	}
	files, err := filepath.Glob(filepath.Join(official.SpecDir(t), "*", "examples", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(raw)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// The texts of each value: compact (as json.Marshal writes it, with
	// escapes for <, > and &), indented, and as found.
	forms := map[string][][]byte{}
	for _, k := range keys {
		var ind bytes.Buffer
		_ = json.Indent(&ind, []byte(k), "", "  ")
		forms[k] = append([][]byte{[]byte(k), ind.Bytes()}, texts[k]...)
	}
	a := &agreement{t: t}
	for _, r := range schemas.All() {
		defs, err := v.FastDefs(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, def := range v.DefNames(r) {
			for _, k := range keys {
				a.check(r.String(), defs[def], values[k], forms[k]...)
			}
		}
	}
	t.Logf("%d values, %d verdicts on trees, %d on texts (%d valid) compared", len(keys), a.checked, a.text, a.validText)
}

// FuzzFastpath holds fastpath and jsonschema to the same verdict on
// arbitrary JSON, for definitions that together use every keyword and
// shape of the catalogue (tagged unions, recursion, integer and number
// bounds, const and enum, open and typed objects), applied to the value
// and to its params, result or error member.
func FuzzFastpath(f *testing.F) {
	for _, r := range schemas.All() {
		for _, e := range official.Corpus(f, r.String()) {
			f.Add(e.Raw)
		}
	}
	f.Add([]byte(`{"type":"text","text":"x","annotations":{"priority":1.0000000001}}`))
	f.Add([]byte(`{"a":[1,2.5,null,{"b":true}],"temperature":1e400,"ttlMs":-0.0}`))
	v := newValidator(f)
	names := []string{
		"JSONRPCMessage", "JSONRPCRequest", "JSONRPCResultResponse", "JSONRPCResponse", "JSONRPCError",
		"CallToolRequest", "CallToolResult", "ListToolsResult", "ContentBlock", "SamplingMessage",
		"CreateMessageRequest", "CreateMessageResult", "ElicitRequest", "ElicitResult", "Annotations",
		"JSONValue", "JSONObject", "InitializeRequest", "InitializeResult", "ProgressNotification",
		"Tool", "Task", "URLElicitationRequiredError", "CacheableResult", "InputRequiredResult",
	}
	defs := map[schemas.Revision]map[string]schemas.FastPair{}
	for _, r := range schemas.All() {
		d, err := v.FastDefs(r)
		if err != nil {
			f.Fatal(err)
		}
		defs[r] = d
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		x, err := schemas.Decode(raw)
		if err != nil {
			return
		}
		a := &agreement{t: t}
		for _, r := range schemas.All() {
			for _, name := range names {
				p, ok := defs[r][name]
				if !ok {
					continue
				}
				a.check(r.String(), p, x, raw)
				if m, ok := x.(map[string]any); ok {
					for _, k := range []string{"params", "result", "error"} {
						if y, ok := m[k]; ok {
							b, _ := json.Marshal(y)
							a.check(r.String()+" /"+k, p, y, b)
						}
					}
				}
			}
		}
		// As a message: Validate's fast path, with the text as it is.
		m, err := jsonrpc.Parse(raw)
		if err != nil {
			return
		}
		for _, r := range schemas.All() {
			if m.Kind == jsonrpc.KindResult || m.Kind == jsonrpc.KindError {
				for _, meth := range []string{"initialize", "tools/list", "tools/call", "sampling/createMessage", "elicitation/create", "ping"} {
					a.checkMessage(r.String()+" "+meth, v, r, m, meth)
				}
			} else {
				a.checkMessage(r.String(), v, r, m, "")
			}
		}
	})
}
