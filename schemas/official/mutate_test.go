package official

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func names(ms []Mutation) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

func TestMutationsSmall(t *testing.T) {
	msg := []byte(`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":["a"]}}`)
	ms := Mutations(msg)
	got := map[string]string{}
	for _, m := range ms {
		got[m.Name] = string(m.Raw)
		if !json.Valid(m.Raw) {
			t.Errorf("%s: invalid JSON %s", m.Name, m.Raw)
		}
		if bytes.Equal(m.Raw, msg) {
			t.Errorf("%s: same as the original", m.Name)
		}
	}
	want := map[string]string{
		"enum /params/level=debug":      `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"debug","data":["a"]}}`,
		"enum /params/level=emergency":  `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"emergency","data":["a"]}}`,
		"delete /params/level":          `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":["a"]}}`,
		"delete /jsonrpc":               `{"method":"notifications/message","params":{"level":"info","data":["a"]}}`,
		"retype /params/level=number":   `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":7,"data":["a"]}}`,
		"retype /params/data/0=null":    `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":[null]}}`,
		"retype /params=array":          `{"jsonrpc":"2.0","method":"notifications/message","params":[]}`,
		"retype /params/data=object":    `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":{}}}`,
		"retype /jsonrpc=boolean":       `{"jsonrpc":true,"method":"notifications/message","params":{"level":"info","data":["a"]}}`,
		"retype /params/data/0=boolean": `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":[true]}}`,
	}
	for name, raw := range want {
		if got[name] != raw {
			t.Errorf("%s:\n got  %s\n want %s", name, got[name], raw)
		}
	}
	// 7 enum swaps come first.
	for i, n := range names(ms)[:7] {
		if !strings.HasPrefix(n, "enum /params/level=") {
			t.Errorf("mutation %d is %s, want an enum swap", i, n)
		}
	}
	if _, ok := got["retype /params/level=string"]; ok {
		t.Error("retype to the same type")
	}
	if !slices.Equal(names(ms), names(Mutations(msg))) {
		t.Error("Mutations is not deterministic")
	}
	if Mutations([]byte(`{"a":`)) != nil || Mutations([]byte(`{} {}`)) != nil {
		t.Error("mutations of invalid JSON")
	}
}

func TestMutationsEnumFamiliesUseKeys(t *testing.T) {
	// "none" under includeContext and under toolChoice.mode belong to
	// different families; "input_required" as status and as resultType too.
	ms := names(Mutations([]byte(`{"includeContext":"none","toolChoice":{"mode":"none"},"status":"input_required","resultType":"input_required","name":"text","audience":["user"]}`)))
	for _, want := range []string{"enum /includeContext=thisServer", "enum /toolChoice/mode=required", "enum /status=failed",
		"enum /resultType=task", "enum /audience/0=assistant"} {
		if !slices.Contains(ms, want) {
			t.Errorf("missing %s in %v", want, ms)
		}
	}
	for _, bad := range []string{"enum /includeContext=auto", "enum /toolChoice/mode=thisServer", "enum /status=task", "enum /name=image"} {
		if slices.Contains(ms, bad) {
			t.Errorf("unexpected %s", bad)
		}
	}
}

func TestMutationsCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":1,"result":{"content":[`)
	for i := range 40 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"text","text":"t","annotations":{"audience":["user"],"priority":0.5}}`)
	}
	b.WriteString(`]}}`)
	ms := Mutations([]byte(b.String()))
	if len(ms) != MaxMutations {
		t.Fatalf("%d mutations, want %d", len(ms), MaxMutations)
	}
	var enum, del, ret int
	last := ""
	for _, m := range ms {
		switch {
		case strings.HasPrefix(m.Name, "enum "):
			enum++
		case strings.HasPrefix(m.Name, "delete "):
			del++
		case strings.HasPrefix(m.Name, "retype "):
			ret++
		}
		last = m.Name
	}
	if enum == 0 || enum > MaxMutations/3 || del == 0 || ret == 0 {
		t.Errorf("enum %d, delete %d, retype %d", enum, del, ret)
	}
	// Sampling reaches the end of the message.
	if !strings.Contains(last, "/content/39") && !strings.Contains(strings.Join(names(ms), " "), "/content/3") {
		t.Errorf("sampling does not reach late elements: %v", names(ms))
	}
}

// TestMutationsBite shows that for every revision the seeds plus their
// mutations give at least 200 messages, and that mutations produce both
// messages the official schema accepts and messages it rejects.
func TestMutationsBite(t *testing.T) {
	s := ForTest(t)
	for _, rev := range Revisions() {
		t.Run(rev, func(t *testing.T) {
			entries := Corpus(t, rev)
			var total, valid, invalid, enumInvalid int
			for _, e := range entries {
				for _, m := range Mutations(e.Raw) {
					total++
					v := e
					v.Raw = m.Raw
					if validateEntry(s, rev, v) == nil {
						valid++
					} else {
						invalid++
						if strings.HasPrefix(m.Name, "enum ") {
							enumInvalid++
						}
					}
				}
			}
			t.Logf("%s: %d seeds, %d mutations (%d valid, %d invalid; %d invalid enum swaps)",
				rev, len(entries), total, valid, invalid, enumInvalid)
			if len(entries)+total < 200 {
				t.Errorf("%d seeds + %d mutations < 200", len(entries), total)
			}
			if valid == 0 || invalid == 0 || enumInvalid == 0 {
				t.Errorf("mutations do not bite both ways: %d valid, %d invalid, %d invalid enum swaps", valid, invalid, enumInvalid)
			}
		})
	}
}
