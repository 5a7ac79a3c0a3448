package schemas_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/schemas/official"
)

// intentional applies the verdict differences listed in DIFFERENCES.md to
// an official schema document in memory (D1, D2), so that the
// differential tests below demand 100% agreement with everything else.
func intentional(rev string, doc map[string]any) error {
	defs, _ := doc["$defs"].(map[string]any)
	if defs == nil {
		defs, _ = doc["definitions"].(map[string]any)
	}
	loosen := func(x any) bool { // ["string","integer","boolean"] -> number (and null for D1)
		m, ok := x.(map[string]any)
		if !ok {
			return false
		}
		ts, ok := m["type"].([]any)
		if !ok || !slices.Contains(ts, any("integer")) {
			return false
		}
		m["type"] = []any{"string", "number", "boolean"}
		return true
	}
	n := 0
	// D1: JSONValue's scalar member also takes non-integer numbers and null.
	if jv, ok := defs["JSONValue"].(map[string]any); ok {
		for _, mem := range jv["anyOf"].([]any) {
			if loosen(mem) {
				mem.(map[string]any)["type"] = []any{"string", "number", "boolean", "null"}
				n++
			}
		}
		if n == 0 {
			return errors.New("D1: JSONValue has no [string,integer,boolean] member any more")
		}
	}
	// D2: ElicitResult.content values take non-integer numbers.
	if er, ok := defs["ElicitResult"].(map[string]any); ok {
		content := er["properties"].(map[string]any)["content"].(map[string]any)
		ap := content["additionalProperties"].(map[string]any)
		found := loosen(ap)
		if alts, ok := ap["anyOf"].([]any); ok {
			for _, a := range alts {
				found = loosen(a) || found
			}
		}
		if !found {
			return errors.New("D2: ElicitResult.content has no [string,integer,boolean] values any more")
		}
	}
	return nil
}

type differential struct {
	ours     *schemas.Validator
	official *official.Schemas // with the intentional differences applied
	pristine *official.Schemas // as published
}

func newDifferential(t *testing.T) *differential {
	t.Helper()
	dir := official.SpecDir(t)
	patched, err := official.NewPatched(dir, intentional)
	if err != nil {
		t.Fatal(err)
	}
	pristine, err := official.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &differential{ours: newValidator(t), official: patched, pristine: pristine}
}

// oursMessage is our verdict on one line of a stream (a message or a
// batch), in the way the broker would judge it.
func (d *differential) oursMessage(r schemas.Revision, raw []byte, method string, methods map[string]string) error {
	f, err := jsonrpc.ParseFrame(raw)
	if err != nil {
		return err
	}
	if f.Batch && !r.HasBatching() {
		return fmt.Errorf("%s has no batches", r)
	}
	for i, m := range f.Messages {
		if m == nil {
			return f.Errors[i]
		}
		meth := method
		if f.Batch && m.IsResponse() {
			meth = methods[officialIDKey(m.ID)]
		}
		if err := d.ours.Validate(r, m, schemas.Check{Method: meth}); err != nil {
			return err
		}
	}
	return nil
}

func officialIDKey(id json.RawMessage) string {
	x, err := official.Decode(id)
	if err != nil {
		return string(id)
	}
	return official.IDKey(x)
}

func (d *differential) officialMessage(s *official.Schemas, r schemas.Revision, raw []byte, method string, methods map[string]string) error {
	if len(raw) > 0 && raw[0] == '[' && r.HasBatching() {
		return s.ValidateBatch(r.String(), raw, methods)
	}
	return s.ValidateMessage(r.String(), raw, method)
}

type tally struct{ agree, valid, invalid, intentional int }

// TestDifferentialCorpus compares our verdict with the official schema's on
// every corpus message of every revision and every mechanical mutation of
// it, judged under every revision (so a message of one revision is also a
// mutation for the others: a content type or method the revision does not
// have). Agreement must be 100%, apart from DIFFERENCES.md.
func TestDifferentialCorpus(t *testing.T) {
	d := newDifferential(t)
	for _, src := range schemas.All() {
		entries := official.Corpus(t, src.String())
		for _, target := range schemas.All() {
			t.Run(fmt.Sprintf("%s-corpus-under-%s", src, target), func(t *testing.T) {
				var n tally
				for _, e := range entries {
					msgs := []official.Mutation{{Name: "seed", Raw: e.Raw}}
					if src == target {
						msgs = append(msgs, official.Mutations(e.Raw)...)
					}
					for _, m := range msgs {
						d.compare(t, &n, target, e, m)
					}
				}
				if src == target && n.agree < 200 {
					t.Errorf("only %d messages compared for %s; the issue asks for at least 200", n.agree, target)
				}
				t.Logf("%s under %s: %d agree (%d valid, %d invalid), %d intentional differences",
					src, target, n.agree, n.valid, n.invalid, n.intentional)
			})
		}
	}
}

func (d *differential) compare(t *testing.T, n *tally, r schemas.Revision, e official.Entry, m official.Mutation) {
	t.Helper()
	ours := d.oursMessage(r, m.Raw, e.Method, e.Methods)
	off := d.officialMessage(d.official, r, m.Raw, e.Method, e.Methods)
	if (ours == nil) != (off == nil) {
		t.Errorf("%s, definition of %s (%s), message %s [%s]: ours valid=%v, official valid=%v\n  ours: %v\n  official: %v\n  message: %s",
			r, e.Method, e.Kind, e.Name(), m.Name, ours == nil, off == nil, ours, off, m.Raw)
		return
	}
	n.agree++
	if ours == nil {
		n.valid++
		if d.officialMessage(d.pristine, r, m.Raw, e.Method, e.Methods) != nil {
			n.intentional++
		}
	} else {
		n.invalid++
	}
}

// TestDifferentialExamples gives every official example message the same
// verdict as the official schema, for its own definition, under every
// revision that has that definition.
func TestDifferentialExamples(t *testing.T) {
	d := newDifferential(t)
	dir := official.SpecDir(t)
	for _, exRev := range []string{"2026-07-28", "draft"} {
		files, err := filepath.Glob(filepath.Join(dir, exRev, "examples", "*", "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no examples under %s/%s/examples", dir, exRev)
		}
		sort.Strings(files)
		for _, r := range schemas.All() {
			defs := map[string]bool{}
			for _, name := range d.official.DefNames(r.String()) {
				defs[name] = true
			}
			t.Run(exRev+"-examples-under-"+r.String(), func(t *testing.T) {
				var checked, valid int
				for _, f := range files {
					def := filepath.Base(filepath.Dir(f))
					if !defs[def] {
						continue
					}
					raw, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					inst, err := official.Decode(raw)
					if err != nil {
						t.Fatal(err)
					}
					off := d.official.ValidateDef(r.String(), def, inst)
					ours := d.ours.ValidateDef(r, def, raw)
					if (ours == nil) != (off == nil) {
						t.Errorf("%s, definition %s, example %s: ours valid=%v, official valid=%v\n  ours: %v\n  official: %v",
							r, def, filepath.Base(f), ours == nil, off == nil, ours, off)
						continue
					}
					checked++
					if ours == nil {
						valid++
					}
				}
				if r == schemas.V20260728 && valid != checked {
					t.Errorf("%d of %d examples invalid under their own revision", checked-valid, checked)
				}
				t.Logf("%d examples compared, %d valid", checked, valid)
			})
		}
	}
}

// TestDefinitionsCovered: our schema of each revision has exactly the
// official definitions, by name.
func TestDefinitionsCovered(t *testing.T) {
	d := newDifferential(t)
	for _, r := range schemas.All() {
		ours := d.ours.DefNames(r)
		off := d.official.DefNames(r.String())
		var missing, extra []string
		for _, n := range off {
			if !slices.Contains(ours, n) {
				missing = append(missing, n)
			}
		}
		for _, n := range ours {
			if !slices.Contains(off, n) {
				extra = append(extra, n)
			}
		}
		if len(missing)+len(extra) > 0 {
			t.Errorf("%s: missing %s; extra %s", r, strings.Join(missing, ","), strings.Join(extra, ","))
		}
	}
}

// TestIntentionalDifferencesBite proves D1 and D2 are real: the published
// schema rejects what ours accepts.
func TestIntentionalDifferencesBite(t *testing.T) {
	d := newDifferential(t)
	cases := []struct {
		id, rev, def, inst string
	}{
		{"D1", "2026-07-28", "JSONObject", `{"temperature":0.7,"stop":null}`},
		{"D2", "2025-06-18", "ElicitResult", `{"action":"accept","content":{"rating":4.5}}`},
		{"D2", "2025-11-25", "ElicitResult", `{"action":"accept","content":{"rating":4.5}}`},
		{"D2", "2026-07-28", "ElicitResult", `{"action":"accept","content":{"rating":4.5}}`},
	}
	for _, c := range cases {
		t.Run(c.id+"/"+c.rev+"/"+c.def, func(t *testing.T) {
			inst, err := official.Decode([]byte(c.inst))
			if err != nil {
				t.Fatal(err)
			}
			if d.pristine.ValidateDef(c.rev, c.def, inst) == nil {
				t.Errorf("official schema now accepts %s: drop %s from DIFFERENCES.md", c.inst, c.id)
			}
			if err := d.ours.ValidateDef(schemas.MustParseRevision(c.rev), c.def, []byte(c.inst)); err != nil {
				t.Errorf("ours rejects %s: %v", c.inst, err)
			}
		})
	}
}
