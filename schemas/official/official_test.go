package official

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefNames checks that the files loaded are the ones SOURCE.md
// describes (definition counts per revision).
func TestDefNames(t *testing.T) {
	s := ForTest(t)
	want := map[string]int{"2024-11-05": 79, "2025-03-26": 83, "2025-06-18": 91, "2025-11-25": 145, "2026-07-28": 155}
	for _, rev := range Revisions() {
		names := s.DefNames(rev)
		if len(names) != want[rev] {
			t.Errorf("%s: %d definitions, want %d", rev, len(names), want[rev])
		}
		for i := 1; i < len(names); i++ {
			if names[i-1] >= names[i] {
				t.Errorf("%s: DefNames not sorted at %q, %q", rev, names[i-1], names[i])
			}
		}
	}
	if s.DefNames("1999-01-01") != nil {
		t.Error("DefNames of an unknown revision is not nil")
	}
}

// TestMethodTableMatchesOfficialDefs checks that every definition the
// catalogue's method table names exists in the official schema of that
// revision, and that each request or notification definition pins the
// method name with a const (so the table and the files agree).
func TestMethodTableMatchesOfficialDefs(t *testing.T) {
	s := ForTest(t)
	for _, rev := range Revisions() {
		r := s.revs[rev]
		for name, m := range r.methods {
			for _, def := range append([]string{m.message}, m.results...) {
				if !r.defs[def] {
					t.Errorf("%s: method %s names definition %s, which the official schema lacks", rev, name, def)
				}
			}
			// A message with another method name must fail the definition.
			msg := map[string]any{"jsonrpc": "2.0", "method": name + "-other", "params": map[string]any{}}
			if err := s.ValidateDef(rev, m.message, msg); err == nil {
				t.Errorf("%s: %s accepts method %q; the table may point at the wrong definition", rev, m.message, name+"-other")
			}
		}
	}
}

// TestValidateMessage has a known-valid and known-invalid message per
// revision, so the validator is shown to be able to fail.
func TestValidateMessage(t *testing.T) {
	s := ForTest(t)
	const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	tests := []struct {
		rev, name, method, msg string
		wantErr                []string // substrings of the error; nil means valid
	}{
		{"2024-11-05", "valid tools/call", "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":1}}}`, nil},
		{"2024-11-05", "tools/call without name", "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}`,
			[]string{"2024-11-05", "CallToolRequest", "at /params", "name"}},
		{"2024-11-05", "valid result", "tools/call", `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}`, nil},
		{"2024-11-05", "audio content before 2025-03-26", "tools/call",
			`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"audio","data":"AAAA","mimeType":"audio/wav"}]}}`,
			[]string{"2024-11-05", "CallToolResult", "at /result/content/0"}},
		{"2024-11-05", "error needs an id", "", `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}`,
			[]string{"JSONRPCError", "id"}},
		{"2025-03-26", "valid audio result", "tools/call",
			`{"jsonrpc":"2.0","id":"a","result":{"content":[{"type":"audio","data":"AAAA","mimeType":"audio/wav"}]}}`, nil},
		{"2025-03-26", "resource_link before 2025-06-18", "tools/call",
			`{"jsonrpc":"2.0","id":"a","result":{"content":[{"type":"resource_link","uri":"file:///a","name":"a"}]}}`,
			[]string{"2025-03-26", "CallToolResult", "/result/content/0"}},
		{"2025-03-26", "valid batch", "",
			`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`, nil},
		{"2025-03-26", "batch with an invalid element", "",
			`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{}}]`,
			[]string{"batch element 1", "ReadResourceRequest", "at /1/params"}},
		{"2025-03-26", "valid batch response", "ping", `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"error":{"code":1,"message":"x"}}]`, nil},
		{"2025-03-26", "batch mixing requests and responses", "ping",
			`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"method":"ping"}]`, []string{"mixes"}},
		{"2025-06-18", "valid elicitation", "",
			`{"jsonrpc":"2.0","id":5,"method":"elicitation/create","params":{"message":"Name?","requestedSchema":{"type":"object","properties":{"n":{"type":"string"}}}}}`, nil},
		{"2025-06-18", "elicitation with an object property", "",
			`{"jsonrpc":"2.0","id":5,"method":"elicitation/create","params":{"message":"Name?","requestedSchema":{"type":"object","properties":{"n":{"type":"object"}}}}}`,
			[]string{"ElicitRequest", "/params/requestedSchema/properties/n"}},
		{"2025-06-18", "no batches after 2025-03-26", "", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, []string{"batch"}},
		{"2025-06-18", "unknown method", "", `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t"}}`,
			[]string{"unknown method", "tasks/get"}},
		{"2025-11-25", "valid url elicitation", "",
			`{"jsonrpc":"2.0","id":5,"method":"elicitation/create","params":{"mode":"url","elicitationId":"e1","url":"https://x.example/a","message":"Sign in"}}`, nil},
		{"2025-11-25", "task with an unknown status", "tasks/get",
			`{"jsonrpc":"2.0","id":"t","result":{"taskId":"a","status":"paused","createdAt":"x","lastUpdatedAt":"x","ttl":null}}`,
			[]string{"2025-11-25", "GetTaskResult", "/result/status"}},
		{"2025-11-25", "error without id", "", `{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}`, nil},
		{"2025-11-25", "notification sent as a request", "", `{"jsonrpc":"2.0","id":3,"method":"notifications/initialized"}`,
			[]string{"notification"}},
		{"2026-07-28", "valid tools/list", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`, nil},
		{"2026-07-28", "tools/list without params", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			[]string{"2026-07-28", "ListToolsRequest", "params"}},
		{"2026-07-28", "result without resultType", "tools/call", `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`,
			[]string{"JSONRPCResultResponse", "at /result", "resultType"}},
		{"2026-07-28", "list result without cache hints", "prompts/list",
			`{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","prompts":[]}}`,
			[]string{"matches none of ListPromptsResult", "at /result", "ttlMs"}},
		{"2026-07-28", "prompts/get result may be input_required", "prompts/get",
			`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","requestState":"s"}}`, nil},
		{"2026-07-28", "ping is gone", "", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{` + meta + `}}`, []string{"unknown method", "ping"}},
		{"2026-07-28", "result of an unknown request", "", `{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete"}}`,
			[]string{"request method not given"}},
		{"2026-07-28", "not a message", "", `{"jsonrpc":"2.0","id":1}`, []string{"not a JSON-RPC message"}},
		{"2026-07-28", "not JSON", "", `{"jsonrpc":`, []string{"decode JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.rev+"/"+tt.name, func(t *testing.T) {
			err := s.ValidateMessage(tt.rev, []byte(tt.msg), tt.method)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestDefErrorUnwraps checks that schema mismatches come back as a
// *DefError with the revision, definition and first failing location.
func TestDefErrorUnwraps(t *testing.T) {
	s := ForTest(t)
	inst, err := Decode([]byte(`{"method":"tools/call","params":{"name":7}}`))
	if err != nil {
		t.Fatal(err)
	}
	err = s.ValidateDef("2025-06-18", "CallToolRequest", inst)
	var de *DefError
	if !errors.As(err, &de) {
		t.Fatalf("want *DefError, got %T %v", err, err)
	}
	if de.Rev != "2025-06-18" || de.Def != "CallToolRequest" || de.Location != "/params/name" || de.Err == nil {
		t.Errorf("got %+v", de)
	}
	if err := s.ValidateDef("2025-06-18", "NoSuchDef", inst); err == nil || errors.As(err, &de) {
		t.Errorf("unknown definition: got %v", err)
	}
	if err := s.ValidateDef("2030-01-01", "CallToolRequest", inst); err == nil {
		t.Error("unknown revision: no error")
	}
}

// TestOfficialQuirks pins down places where the official files (or the
// validator's defaults) reject messages the TypeScript source allows. If
// one of these starts to pass, the upstream files changed: update the
// notes in SOURCE.md and in the differential tests.
func TestOfficialQuirks(t *testing.T) {
	s := ForTest(t)
	rejects := []struct{ rev, def, instance, why string }{
		// ElicitResult.content values are ["string","integer","boolean"]:
		// a non-integer number is rejected although schema.ts has number.
		{"2025-06-18", "ElicitResult", `{"action":"accept","content":{"rating":4.5}}`, "ElicitResult number"},
		{"2025-11-25", "ElicitResult", `{"action":"accept","content":{"rating":4.5}}`, "ElicitResult number"},
		{"2026-07-28", "ElicitResult", `{"action":"accept","content":{"rating":4.5}}`, "ElicitResult number"},
		// JSONValue rejects null and non-integer numbers.
		{"2026-07-28", "JSONObject", `{"a":1.5}`, "JSONValue number"},
		{"2026-07-28", "JSONObject", `{"a":null}`, "JSONValue null"},
	}
	for _, q := range rejects {
		inst, err := Decode([]byte(q.instance))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateDef(q.rev, q.def, inst); err == nil {
			t.Errorf("%s %s (%s): %s is now accepted", q.rev, q.def, q.why, q.instance)
		}
	}
	// Formats are not asserted in any revision (New registers no-op
	// formats; jsonschema/v6 would otherwise assert them for draft-07).
	for _, a := range []struct{ rev, def, instance string }{
		{"2024-11-05", "ResourceTemplate", `{"name":"t","uriTemplate":"repo://{owner}/{repo}"}`},
		{"2024-11-05", "Resource", `{"name":"r","uri":"relative/path"}`},
		{"2025-06-18", "Resource", `{"name":"r","uri":"not a uri"}`},
	} {
		inst, err := Decode([]byte(a.instance))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateDef(a.rev, a.def, inst); err != nil {
			t.Errorf("%s %s: format asserted: %v", a.rev, a.def, err)
		}
	}
	// InputRequiredResult pins neither resultType nor one of inputRequests
	// and requestState, so any result with a resultType string passes as
	// a tools/call, prompts/get or resources/read result.
	if err := s.ValidateMessage("2026-07-28", []byte(`{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete"}}`), "tools/call"); err != nil {
		t.Errorf("2026-07-28 tools/call: bare {resultType} result is now rejected: %v", err)
	}
	// The 2020-12 files treat format as an annotation.
	accepts := []struct{ rev, def, instance string }{
		{"2025-11-25", "ResourceTemplate", `{"name":"t","uriTemplate":"repo://{owner}/{repo}"}`},
		{"2025-11-25", "Resource", `{"name":"r","uri":"relative/path"}`},
		{"2025-11-25", "ElicitResult", `{"action":"accept","content":{"age":36,"ok":true,"tags":["a"]}}`},
	}
	for _, a := range accepts {
		inst, err := Decode([]byte(a.instance))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateDef(a.rev, a.def, inst); err != nil {
			t.Errorf("%s %s: %s rejected: %v", a.rev, a.def, a.instance, err)
		}
	}
}

// recordTB records how SpecDir ends a test instead of ending it.
type recordTB struct {
	testing.TB
	calls []string
}

func (r *recordTB) Helper()                        {}
func (r *recordTB) Fatalf(format string, _ ...any) { r.calls = append(r.calls, "Fatalf") }
func (r *recordTB) Skip(...any)                    { r.calls = append(r.calls, "Skip") }

// TestSpecDirNotFound checks that SpecDir skips without the schemas, and
// fails instead when CI=true.
func TestSpecDirNotFound(t *testing.T) {
	t.Chdir(t.TempDir())
	if dir, err := findSpecDir(); err == nil {
		t.Skipf("a shared/spec exists above the temp dir (%s); cannot test the fallback", dir)
	}
	for ci, want := range map[string]string{"": "Skip", "false": "Skip", "true": "Fatalf"} {
		t.Setenv("CI", ci)
		r := &recordTB{TB: t}
		if dir := SpecDir(r); dir != "" || len(r.calls) == 0 || r.calls[0] != want {
			t.Errorf("CI=%q: SpecDir returned %q after %v, want %s first", ci, dir, r.calls, want)
		}
	}
	if _, err := repoRoot(); err == nil {
		t.Error("repoRoot found a module root above a temp dir")
	}
}

// TestSpecDirFound checks that the spec folder is found from the package
// folder, and that it is a sibling of the repository root.
func TestSpecDirFound(t *testing.T) {
	dir := SpecDir(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(root, filepath.Dir(filepath.Dir(dir))) {
		t.Errorf("spec dir %s is not beside repository root %s", dir, root)
	}
}

// TestIDKeyAndClassify checks the small helpers.
func TestIDKeyAndClassify(t *testing.T) {
	for raw, want := range map[string]string{`{"id":"a\"b"}`: `"a\"b"`, `{"id":7}`: `7`, `{"id":null}`: ``, `{}`: ``} {
		v, err := Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := IDKey(v.(map[string]any)["id"]); got != want {
			t.Errorf("IDKey(%s) = %q, want %q", raw, got, want)
		}
	}
	for raw, want := range map[string]string{
		`{"method":"a","id":1}`: KindRequest, `{"method":"a"}`: KindNotification, `{"id":1,"result":{}}`: KindResult,
		`{"id":1,"error":{}}`: KindError, `[]`: KindBatch, `{"id":1}`: "", `3`: "",
	} {
		v, err := Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := Classify(v); got != want {
			t.Errorf("Classify(%s) = %q, want %q", raw, got, want)
		}
	}
}
