package official

import (
	"slices"
	"strings"
	"testing"
)

// TestCorpusValidOfficially checks that every seed corpus line is valid
// under the official schema of its revision, with results resolved to the
// method of the earlier request with the same id.
func TestCorpusValidOfficially(t *testing.T) {
	s := ForTest(t)
	for _, rev := range Revisions() {
		t.Run(rev, func(t *testing.T) {
			for _, e := range Corpus(t, rev) {
				t.Run(e.Name(), func(t *testing.T) {
					if err := validateEntry(s, rev, e); err != nil {
						t.Errorf("%s line %d: %v\n%s", rev, e.Line, err, e.Raw)
					}
				})
			}
		})
	}
}

// validateEntry validates a corpus entry (or a variant of it with the same
// method resolution).
func validateEntry(s *Schemas, rev string, e Entry) error {
	if e.Kind == KindBatch {
		return s.ValidateBatch(rev, e.Raw, e.Methods)
	}
	return s.ValidateMessage(rev, e.Raw, e.Method)
}

// TestCorpusCoverage checks the shape of the seed corpus: every method of
// the revision is sent at least once, every request is answered on the
// very next line by a response with the same id, at least one response
// per request method is a result, and string and integer ids both occur.
func TestCorpusCoverage(t *testing.T) {
	s := ForTest(t)
	for _, rev := range Revisions() {
		t.Run(rev, func(t *testing.T) {
			entries := Corpus(t, rev)
			if n := len(entries); n < 60 || n > 150 {
				t.Errorf("%d lines, want 60 to 150", n)
			}
			sent := map[string]bool{}
			answered := map[string]bool{}
			var errs, strIDs, intIDs int
			for i, e := range entries {
				switch e.Kind {
				case KindRequest, KindNotification:
					sent[e.Method] = true
				case KindError:
					errs++
				}
				if e.Kind == KindRequest {
					id := idOf(t, e)
					if strings.HasPrefix(id, `"`) {
						strIDs++
					} else {
						intIDs++
					}
					if i+1 >= len(entries) || idOf(t, entries[i+1]) != id ||
						(entries[i+1].Kind != KindResult && entries[i+1].Kind != KindError) {
						t.Errorf("line %d: request %s (id %s) is not answered on the next line", e.Line, e.Method, id)
						continue
					}
					if entries[i+1].Kind == KindResult {
						answered[e.Method] = true
					}
				}
			}
			for _, m := range s.Methods(rev) {
				if !sent[m] {
					t.Errorf("method %s is never sent", m)
				}
				if s.MethodKind(rev, m) == KindRequest && !answered[m] {
					t.Errorf("request %s never gets a result", m)
				}
			}
			for m := range sent {
				if !slices.Contains(s.Methods(rev), m) {
					t.Errorf("method %s is not in the %s method table", m, rev)
				}
			}
			if errs < 3 {
				t.Errorf("%d error responses, want at least 3", errs)
			}
			if strIDs == 0 || intIDs == 0 {
				t.Errorf("request ids: %d strings, %d integers; want both kinds", strIDs, intIDs)
			}
		})
	}
}

// idOf returns IDKey of a single message's id ("" for batches and
// notifications).
func idOf(t *testing.T, e Entry) string {
	t.Helper()
	v, err := Decode(e.Raw)
	if err != nil {
		t.Fatalf("line %d: %v", e.Line, err)
	}
	if m, ok := v.(map[string]any); ok {
		return IDKey(m["id"])
	}
	return ""
}

// TestCorpusFeatures checks that the union members and optional features
// each revision has are exercised somewhere in its corpus.
func TestCorpusFeatures(t *testing.T) {
	common := []string{`"type":"text"`, `"type":"image"`, `"type":"resource"`, `"blob":`, `"annotations":`,
		`"progressToken":`, `"nextCursor":`, `"cursor":`, `"ref/prompt"`, `"ref/resource"`, `"isError":true`,
		`"includeContext":"none"`, `"includeContext":"thisServer"`, `"includeContext":"allServers"`,
		`"modelPreferences":`, `"level":"emergency"`, `"level":"debug"`}
	want := map[string][]string{
		"2024-11-05": {`"listChanged":true`},
		"2025-03-26": {`"type":"audio"`, `"readOnlyHint":`, `"destructiveHint":`, `"message":"Fetching forecast"`, `"completions":{}`},
		"2025-06-18": {`"type":"audio"`, `"type":"resource_link"`, `"structuredContent":`, `"outputSchema":`, `"title":`,
			`"lastModified":`, `"_meta":`, `"action":"accept"`, `"action":"decline"`, `"action":"cancel"`, `"enumNames":`,
			`"format":"email"`, `"type":"integer","title":"Age"`, `"type":"boolean"`, `"context":{"arguments"`},
		"2025-11-25": {`"type":"audio"`, `"type":"resource_link"`, `"icons":`, `"websiteUrl":`, `"mode":"url"`, `"mode":"form"`,
			`"elicitationId":`, `"oneOf":[{"const"`, `"anyOf":[{"const"`, `"type":"array"`, `"type":"tool_use"`,
			`"type":"tool_result"`, `"toolChoice":{"mode":"auto"}`, `"toolChoice":{"mode":"required"}`,
			`"toolChoice":{"mode":"none"}`, `"stopReason":"toolUse"`, `"task":{"ttl"`, `"taskSupport":"optional"`,
			`"status":"working"`, `"status":"input_required"`, `"status":"completed"`, `"status":"failed"`,
			`"status":"cancelled"`, `"io.modelcontextprotocol/related-task"`, `"code":-32042`, `"theme":"dark"`},
		"2026-07-28": {`"type":"audio"`, `"type":"resource_link"`, `"icons":`, `"resultType":"complete"`,
			`"resultType":"input_required"`, `"inputRequests":`, `"inputResponses":`, `"requestState":`, `"ttlMs":`,
			`"cacheScope":"public"`, `"cacheScope":"private"`, `"io.modelcontextprotocol/clientInfo"`,
			`"io.modelcontextprotocol/logLevel"`, `"io.modelcontextprotocol/serverInfo"`,
			`"io.modelcontextprotocol/subscriptionId"`, `"supportedVersions":`, `"x-mcp-header":`, `"mode":"url"`,
			`"type":"tool_use"`, `"type":"tool_result"`, `"method":"roots/list"`, `"method":"sampling/createMessage"`,
			`"method":"elicitation/create"`, `"code":-32022`, `"code":-32021`, `"code":-32020`, `"extensions":`},
	}
	for _, rev := range Revisions() {
		t.Run(rev, func(t *testing.T) {
			var all strings.Builder
			for _, e := range Corpus(t, rev) {
				all.Write(e.Raw)
				all.WriteByte('\n')
			}
			for _, w := range slices.Concat(common, want[rev]) {
				if !strings.Contains(all.String(), w) {
					t.Errorf("corpus has no %s", w)
				}
			}
		})
	}
}

// TestCorpusStatelessMeta checks that every 2026-07-28 request carries
// protocolVersion, clientCapabilities and clientInfo in params._meta, and
// every result carries resultType.
func TestCorpusStatelessMeta(t *testing.T) {
	SpecDir(t)
	for _, e := range Corpus(t, "2026-07-28") {
		v, err := Decode(e.Raw)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := v.(map[string]any)
		switch e.Kind {
		case KindRequest:
			params, _ := m["params"].(map[string]any)
			meta, _ := params["_meta"].(map[string]any)
			for _, k := range []string{"protocolVersion", "clientCapabilities", "clientInfo"} {
				if _, ok := meta["io.modelcontextprotocol/"+k]; !ok {
					t.Errorf("line %d: request %s has no _meta %s", e.Line, e.Method, k)
				}
			}
		case KindResult:
			res, _ := m["result"].(map[string]any)
			if _, ok := res["resultType"]; !ok {
				t.Errorf("line %d: result of %s has no resultType", e.Line, e.Method)
			}
		}
	}
}

// TestParseCorpus checks method resolution and the errors of the corpus
// reader on small inputs.
func TestParseCorpus(t *testing.T) {
	good := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}
{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}

{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"Method not found"}}
[{"jsonrpc":"2.0","id":"b","method":"ping"}]
[{"jsonrpc":"2.0","id":"b","result":{}}]
`
	es, err := parseCorpus([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, e := range es {
		got = append(got, e.Name()+":"+e.Kind)
	}
	want := []string{"line-1-tools/list:request", "line-2-tools/list:result", "line-4-notifications/initialized:notification",
		"line-5-error:error", "line-6-batch:batch", "line-7-batch:batch"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if m := es[5].Methods; m["\"b\""] != "ping" {
		t.Errorf("batch response methods = %v", m)
	}
	for name, bad := range map[string]string{
		"result without request": `{"jsonrpc":"2.0","id":2,"result":{}}`,
		"reused request id":      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
		"not JSON":               `{"jsonrpc":"2.0",`,
		"not a message":          `{"jsonrpc":"2.0"}`,
	} {
		if _, err := parseCorpus([]byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
