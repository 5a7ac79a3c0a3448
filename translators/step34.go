package translators

import (
	"strconv"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// step34 translates between the revisions of REVISIONS.md section 3.
func step34() *Step {
	return &Step{Lo: schemas.V20250618, Hi: schemas.V20251125, Up: up34, Down: down34}
}

// s34Draft07 is the dialect added to legacy embedded schemas going up (3.F2).
const s34Draft07 = "http://json-schema.org/draft-07/schema#"

// s34RelatedTask is the reserved _meta key of task-related messages (3.L2).
const s34RelatedTask = "io.modelcontextprotocol/related-task"

// up34 rewrites a 2025-06-18 message into 2025-11-25. Only the embedded
// schemas of an old server need a change (3.F2); everything else a
// 2025-06-18 peer sends is valid 2025-11-25 as is (3.L1, 3.L3, 3.L4, 3.F1,
// 3.F3, 3.F6: PASS).
func up34(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindResult:
		if t.Method == "tools/list" {
			for _, tool := range t.Result().Get("tools").Elems() {
				s34UpDialect(t, tool.Get("inputSchema"))
				s34UpDialect(t, tool.Get("outputSchema"))
			}
		}
	case jsonrpc.KindRequest:
		if t.Method == "elicitation/create" {
			s34UpDialect(t, t.Params().Get("requestedSchema"))
		}
	}
}

// s34UpDialect (3.F2) pins a legacy schema without $schema to draft-07,
// since a 2025-11-25 peer reads such a schema as 2020-12.
func s34UpDialect(t *Tx, schema *Node) {
	if schema.IsObject() && !schema.Has("$schema") {
		schema.Set("$schema", NewString(s34Draft07))
		t.Apply("3.F2")
	}
}

// s34IsTaskMethod reports the tasks/* requests that 2025-06-18 lacks (3.L2).
func s34IsTaskMethod(m string) bool {
	switch m {
	case "tasks/get", "tasks/result", "tasks/list", "tasks/cancel":
		return true
	}
	return false
}

// down34 rewrites a 2025-11-25 message into 2025-06-18.
func down34(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindRequest:
		if s34IsTaskMethod(t.Method) {
			t.Emulate("3.L2", t.Method+" does not exist in 2025-06-18: the broker answers it from its task store")
			return
		}
		switch t.Method {
		case "initialize":
			s34DownInitRequest(t)
		case "tools/call":
			s34DownStripTask(t, "3.L2", "task augmentation stripped: the 2025-06-18 server runs the call normally")
		case "elicitation/create":
			s34DownElicit(t)
		case "sampling/createMessage":
			s34DownSampling(t)
		}
		if !t.Done() {
			s34DownRelatedTask(t, t.Params(), "/params")
		}
	case jsonrpc.KindNotification:
		switch t.Method {
		case "notifications/tasks/status":
			t.Drop("3.L2", "task status notifications do not exist in 2025-06-18")
			return
		case "notifications/elicitation/complete":
			t.Drop("3.L3", "URL-mode elicitation does not exist in 2025-06-18")
			return
		case "notifications/cancelled":
			// 3.F3: requestId is required in 2025-06-18; a cancellation
			// without one (task cancellation) cannot be expressed.
			if !t.Params().Has("requestId") {
				t.Drop("3.F3", "notifications/cancelled without requestId cannot be expressed in 2025-06-18")
				return
			}
		}
		s34DownRelatedTask(t, t.Params(), "/params")
	case jsonrpc.KindResult:
		if s34IsTaskMethod(t.Method) {
			t.Emulate("3.L2", "result of "+t.Method+" belongs to the broker's task emulation")
			return
		}
		r := t.Result()
		switch t.Method {
		case "initialize":
			s34DownInitResult(t, r)
		case "tools/list":
			s34DownTools(t, r)
		case "prompts/list":
			s34DownIcons(t, r.Get("prompts"), "/result/prompts/")
		case "resources/list":
			s34DownIcons(t, r.Get("resources"), "/result/resources/")
		case "resources/templates/list":
			s34DownIcons(t, r.Get("resourceTemplates"), "/result/resourceTemplates/")
		case "tools/call":
			if s34IsCreateTaskResult(r, "content") {
				t.Emulate("3.L2", "CreateTaskResult cannot reach a 2025-06-18 client: the broker polls tasks/result and answers with the CallToolResult")
				return
			}
			s34DownLinkIcons(t, r.Get("content"), "/result/content/")
		case "prompts/get":
			for i, m := range r.Get("messages").Elems() {
				c := m.Get("content")
				if c.Get("type").Str() == "resource_link" && c.Delete("icons") {
					t.Lose("3.F1", "/result/messages/"+strconv.Itoa(i)+"/content/icons", "icons stripped")
				}
			}
		case "sampling/createMessage":
			if s34IsCreateTaskResult(r, "role") {
				t.Emulate("3.L2", "CreateTaskResult cannot reach a 2025-06-18 server: the broker polls tasks/result and answers with the CreateMessageResult")
				return
			}
			if reason, ok := s34DownSamplingContent(t, r, "/result"); !ok {
				// The broker sends this error to the 2025-06-18 server as the
				// answer to its sampling request.
				t.Reject("3.L4", -32603, "sampling result cannot be expressed in 2025-06-18: "+reason)
				return
			}
		case "elicitation/create":
			if s34IsCreateTaskResult(r, "action") {
				t.Emulate("3.L2", "CreateTaskResult cannot reach a 2025-06-18 server: the broker polls tasks/result and answers with the ElicitResult")
				return
			}
			s34DownElicitResult(t, r)
		}
		s34DownRelatedTask(t, r, "/result")
	case jsonrpc.KindError:
		if s34IsTaskMethod(t.Method) {
			t.Emulate("3.L2", "error of "+t.Method+" belongs to the broker's task emulation")
			return
		}
		if t.Msg.Get("id") == nil {
			t.Emulate("3.F4", "id-less error response: 2025-06-18 requires an id; the broker relays it as the error of the request it answers")
			return
		}
		e := t.Error()
		if c := e.Get("code"); c.IsNumber() && string(c.Raw()) == "-32042" {
			s34DownURLElicitationError(t, e)
		}
	}
}

// s34IsCreateTaskResult reports a CreateTaskResult ({task}) in place of a
// result whose required member is key (3.L2).
func s34IsCreateTaskResult(r *Node, key string) bool {
	return r.Get("task").IsObject() && !r.Has(key)
}

// s34DownRelatedTask strips the reserved related-task key from the _meta
// of obj (params or result) at ptr (3.L2): the key is per hop and means
// nothing to a 2025-06-18 peer.
func s34DownRelatedTask(t *Tx, obj *Node, ptr string) {
	if obj.Get("_meta").Delete(s34RelatedTask) {
		t.Lose("3.L2", ptr+"/_meta/"+s34Escape(s34RelatedTask), "related-task _meta stripped")
	}
}

// s34DownStripTask strips params.task (task augmentation, 3.L2/3.L3): a
// receiver without the tasks capability ignores it anyway.
func s34DownStripTask(t *Tx, row, detail string) {
	if t.Params().Delete("task") {
		t.Lose(row, "/params/task", detail)
	}
}

// s34DownImplementation strips the Implementation fields 2025-06-18 lacks
// (3.L1).
func s34DownImplementation(t *Tx, impl *Node, ptr string) {
	if !impl.IsObject() {
		return
	}
	for _, k := range [...]string{"description", "icons", "websiteUrl"} {
		if impl.Delete(k) {
			t.Lose("3.L1", ptr+"/"+k, k+" stripped")
		}
	}
}

// s34DownInitRequest shapes the client's initialize for a 2025-06-18
// server: clientInfo (3.L1) and capabilities (CAP of 3.L2, 3.L3, 3.L4).
func s34DownInitRequest(t *Tx) {
	p := t.Params()
	s34DownImplementation(t, p.Get("clientInfo"), "/params/clientInfo")
	caps := p.Get("capabilities")
	if !caps.IsObject() {
		return
	}
	if caps.Delete("tasks") {
		t.Lose("3.L2", "/params/capabilities/tasks", "tasks capability not advertised to a 2025-06-18 server")
	}
	if el := caps.Get("elicitation"); el.IsObject() {
		// 3.L3: {} means form; a client with only url mode gets none.
		if el.Has("url") && !el.Has("form") {
			caps.Delete("elicitation")
			t.Lose("3.L3", "/params/capabilities/elicitation", "url-only elicitation not advertised to a 2025-06-18 server")
		} else {
			for _, k := range [...]string{"form", "url"} {
				if el.Delete(k) {
					t.Lose("3.L3", "/params/capabilities/elicitation/"+k, "elicitation."+k+" stripped (2025-06-18 elicitation is form only)")
				}
			}
		}
	}
	if sa := caps.Get("sampling"); sa.IsObject() {
		for _, k := range [...]string{"tools", "context"} {
			if sa.Delete(k) {
				t.Lose("3.L4", "/params/capabilities/sampling/"+k, "sampling."+k+" stripped")
			}
		}
	}
}

// s34DownInitResult shapes the server's InitializeResult for a 2025-06-18
// client: serverInfo (3.L1) and the tasks capability (3.L2).
func s34DownInitResult(t *Tx, r *Node) {
	s34DownImplementation(t, r.Get("serverInfo"), "/result/serverInfo")
	if r.Get("capabilities").Delete("tasks") {
		t.Lose("3.L2", "/result/capabilities/tasks", "tasks capability not advertised to a 2025-06-18 client")
	}
}

// s34DownTools rewrites each Tool of a tools/list result: icons (3.F1),
// execution (3.L2) and the dialect of its schemas (3.F2).
func s34DownTools(t *Tx, r *Node) {
	for i, tool := range r.Get("tools").Elems() {
		ptr := "/result/tools/" + strconv.Itoa(i)
		if tool.Delete("icons") {
			t.Lose("3.F1", ptr+"/icons", "icons stripped")
		}
		if tool.Delete("execution") {
			t.Lose("3.L2", ptr+"/execution", "execution (taskSupport) stripped")
		}
		s34DownDialect(t, tool.Get("inputSchema"), ptr+"/inputSchema")
		s34DownDialect(t, tool.Get("outputSchema"), ptr+"/outputSchema")
	}
}

// s34DownIcons strips icons from each element of list (Prompt, Resource,
// ResourceTemplate; 3.F1). prefix is the element pointer without index.
func s34DownIcons(t *Tx, list *Node, prefix string) {
	for i, el := range list.Elems() {
		if el.Delete("icons") {
			t.Lose("3.F1", prefix+strconv.Itoa(i)+"/icons", "icons stripped")
		}
	}
}

// s34DownLinkIcons strips icons from the resource_link blocks of a content
// array (3.F1).
func s34DownLinkIcons(t *Tx, content *Node, prefix string) {
	for i, c := range content.Elems() {
		if c.Get("type").Str() == "resource_link" && c.Delete("icons") {
			t.Lose("3.F1", prefix+strconv.Itoa(i)+"/icons", "icons stripped")
		}
	}
}

// s34DownDialect (3.F2) adapts an embedded schema for a draft-07 peer. A
// 2020-12 $schema is stripped (a loss); a draft-07 one is stripped too,
// because draft-07 is the 2025-06-18 default (no loss, and 3.F2 up adds it
// back). A schema without $schema is 2020-12 by default in 2025-11-25 and
// will be read as draft-07: the dialect is recorded as lost.
func s34DownDialect(t *Tx, schema *Node, ptr string) {
	if !schema.IsObject() {
		return
	}
	s := schema.Get("$schema")
	if s == nil {
		t.Lose("3.F2", ptr+"/$schema", "implicit 2020-12 dialect: a 2025-06-18 peer reads the schema as draft-07")
		return
	}
	v := s.Str()
	switch {
	case strings.Contains(v, "draft-07"):
		schema.Delete("$schema")
		t.Apply("3.F2")
	case strings.Contains(v, "2020-12"):
		schema.Delete("$schema")
		t.Lose("3.F2", ptr+"/$schema", "2020-12 $schema stripped: a 2025-06-18 peer reads the schema as draft-07")
	}
}

// s34DownElicit downgrades an elicitation/create request for a 2025-06-18
// client (3.L3, 3.F5, 3.F2).
func s34DownElicit(t *Tx) {
	p := t.Params()
	if !p.IsObject() {
		return
	}
	if p.Get("mode").Str() == "url" {
		t.Answer("3.L3", "url-mode elicitation has no 2025-06-18 form: declined", NewJSON(`{"action":"decline"}`))
		return
	}
	rs := p.Get("requestedSchema")
	props := rs.Get("properties")
	keys := props.Keys()
	for _, k := range keys {
		if props.Get(k).Get("type").Str() == "array" {
			t.Answer("3.L3", "multi-select enum (property "+strconv.Quote(k)+") has no 2025-06-18 form: declined", NewJSON(`{"action":"decline"}`))
			return
		}
	}
	if p.Delete("mode") {
		t.Lose("3.L3", "/params/mode", "mode stripped (2025-06-18 elicitation is form only)")
	}
	s34DownStripTask(t, "3.L3", "task augmentation stripped: the 2025-06-18 client answers directly")
	// params._meta stays: 2025-06-18 requests have it (progressToken,
	// vendor keys); only the task key goes, with the task (3.L2).
	s34DownDialect(t, rs, "/params/requestedSchema")
	for _, k := range keys {
		ps := props.Get(k)
		if !ps.IsObject() {
			continue
		}
		ptr := "/params/requestedSchema/properties/" + s34Escape(k)
		switch ps.Get("type").Str() {
		case "string":
			enum := ps.Has("enum")
			if !enum && s34MapTitledEnum(ps) {
				t.Lose("3.L3", ptr, "TitledSingleSelectEnumSchema mapped to EnumSchema with enumNames")
				enum = true
			}
			if ps.Delete("default") {
				if enum {
					t.Lose("3.L3", ptr+"/default", "enum default stripped")
				} else {
					t.Lose("3.F5", ptr+"/default", "StringSchema.default stripped")
				}
			}
		case "number", "integer":
			if ps.Delete("default") {
				t.Lose("3.F5", ptr+"/default", "NumberSchema.default stripped")
			}
		}
		// BooleanSchema.default existed in 2025-06-18: kept.
	}
}

// s34MapTitledEnum maps a TitledSingleSelectEnumSchema (oneOf of
// {const,title}) to a 2025-06-18 EnumSchema with enum and enumNames (3.L3).
// It reports false (and changes nothing) when ps is not one.
func s34MapTitledEnum(ps *Node) bool {
	oneOf := ps.Get("oneOf")
	elems := oneOf.Elems()
	if len(elems) == 0 {
		return false
	}
	consts := make([]*Node, 0, len(elems))
	names := make([]*Node, 0, len(elems))
	for _, o := range elems {
		c := o.Get("const")
		if !c.IsString() {
			return false
		}
		title := o.Get("title")
		if !title.IsString() {
			title = c
		}
		consts = append(consts, NewString(c.Str()))
		names = append(names, NewString(title.Str()))
	}
	ps.Delete("oneOf")
	ps.Set("enum", NewArray(consts...))
	ps.Set("enumNames", NewArray(names...))
	return true
}

// s34DownElicitResult maps string-array answers (multi-select, 3.L3) of a
// 2025-11-25 client to a comma-separated string: a 2025-06-18 server never
// asked for one, and its ElicitResult has no arrays.
func s34DownElicitResult(t *Tx, r *Node) {
	content := r.Get("content")
	for _, k := range content.Keys() {
		v := content.Get(k)
		if !v.IsArray() {
			continue
		}
		parts := make([]string, 0, v.Len())
		for _, e := range v.Elems() {
			parts = append(parts, e.Str())
		}
		content.Set(k, NewString(strings.Join(parts, ",")))
		t.Lose("3.L3", "/result/content/"+s34Escape(k), "string array joined with commas")
	}
}

// s34DownSampling downgrades a sampling/createMessage request for a
// 2025-06-18 client (3.L4, 3.L2).
func s34DownSampling(t *Tx) {
	p := t.Params()
	if !p.IsObject() {
		return
	}
	for _, k := range [...]string{"tools", "toolChoice"} {
		if p.Has(k) {
			t.Reject("3.L4", -32602, "sampling with "+k+" is not supported by the client (2025-06-18)")
			return
		}
	}
	for i, m := range p.Get("messages").Elems() {
		if reason, ok := s34DownSamplingContent(t, m, "/params/messages/"+strconv.Itoa(i)); !ok {
			t.Reject("3.L4", -32602, "sampling message cannot be expressed for the client (2025-06-18): "+reason)
			return
		}
	}
	for i, m := range p.Get("messages").Elems() {
		if m.Delete("_meta") {
			t.Lose("3.L4", "/params/messages/"+strconv.Itoa(i)+"/_meta", "SamplingMessage._meta stripped")
		}
	}
	s34DownStripTask(t, "3.L2", "task augmentation stripped: the 2025-06-18 client answers directly")
}

// s34SamplingBlock reports whether a content block exists in 2025-06-18
// sampling (text, image, audio: not tool_use or tool_result).
func s34SamplingBlock(b *Node) (string, bool) {
	switch ty := b.Get("type").Str(); ty {
	case "tool_use", "tool_result":
		return ty + " content", false
	}
	return "", true
}

// s34DownSamplingContent rewrites the content of a SamplingMessage or
// CreateMessageResult (obj, at ptr) into a single 2025-06-18 block (3.L4):
// a one-element array is unwrapped, several text blocks are concatenated;
// anything else (tool_use, tool_result, mixed blocks) is reported with
// ok=false.
func s34DownSamplingContent(t *Tx, obj *Node, ptr string) (string, bool) {
	c := obj.Get("content")
	if !c.IsArray() {
		if c.IsObject() {
			return s34SamplingBlock(c)
		}
		return "", true
	}
	elems := c.Elems()
	switch {
	case len(elems) == 0:
		return "empty content array", false
	case len(elems) == 1:
		if reason, ok := s34SamplingBlock(elems[0]); !ok {
			return reason, false
		}
		obj.Set("content", elems[0])
		t.Lose("3.L4", ptr+"/content", "one-element content array unwrapped")
		return "", true
	}
	texts := make([]string, 0, len(elems))
	for _, e := range elems {
		if e.Get("type").Str() != "text" {
			return "several content blocks that are not all text", false
		}
		texts = append(texts, e.Get("text").Str())
	}
	b := NewObject()
	b.Set("type", NewString("text"))
	b.Set("text", NewString(strings.Join(texts, "\n")))
	obj.Set("content", b)
	t.Lose("3.L4", ptr+"/content", "text blocks concatenated into one")
	return "", true
}

// s34DownURLElicitationError keeps a -32042 URLElicitationRequiredError's
// code but puts its URLs into the message, since a 2025-06-18 client treats
// the code as a plain error (3.L3, 3.E1).
func s34DownURLElicitationError(t *Tx, e *Node) {
	var urls []string
	for _, el := range e.Get("data").Get("elicitations").Elems() {
		if u := el.Get("url").Str(); u != "" {
			urls = append(urls, u)
		}
	}
	t.Apply("3.L3")
	if len(urls) == 0 {
		return
	}
	msg := e.Get("message").Str()
	if msg != "" {
		msg += " "
	}
	msg += "Open to continue: " + strings.Join(urls, " ")
	e.Set("message", NewString(msg))
	t.Lose("3.E1", "/error/message", "URL elicitation URLs appended to the message")
}

// s34Escape escapes a JSON pointer token (~ and /).
func s34Escape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// rows34 lists the rows of REVISIONS.md section 3.
func rows34() []Row {
	const tr, b5 = "translators", "broker (issue 5)"
	return []Row{
		{"3.T1", "EMULATE+DROP / PASS", b5, "SSE polling: the broker keeps the old client's stream open, re-GETs with Last-Event-ID after retry, drops priming events; nothing in the messages", []string{"TestDialHTTPResumeScripted"}},
		{"3.T2", "ANSWER / ANSWER", b5, "invalid Origin answered with HTTP 403 by the broker for every revision", []string{"TestOriginAllowed", "TestHTTPFaults"}},
		{"3.T3", "PASS / PASS", b5, "MCP-Session-Id vs Mcp-Session-Id: header names are case-insensitive", nil},
		{"3.T4", "PASS / —", b5, "upstream back-compat probe falls back to HTTP+SSE only on 400, 404 or 405", []string{"TestDialHTTPLegacyProbe"}},
		{"3.L1", "STRIP / STRIP", tr, "down: strips description, icons and websiteUrl from clientInfo (initialize) and serverInfo (InitializeResult), recorded as losses; up: PASS", nil},
		{"3.L2", "CAP+STRIP+EMULATE+DROP / CAP+STRIP+EMULATE", tr, "down: strips the tasks capability (both sides), Tool.execution, params.task (tools/call, sampling) and related-task _meta; tasks/* requests, their results/errors and CreateTaskResult → Emulate; notifications/tasks/status → Drop", nil},
		{"3.L3", "CAP+STRIP+MAP+ANSWER+DROP / PASS+CAP", tr, "down: elicitation capability → {} (url-only → none); elicitation/create strips mode, task, _meta, $schema, default (not BooleanSchema's), maps titled single-select to enum+enumNames; url mode or multi-select → Answer {\"action\":\"decline\"}; -32042 message gets the URLs; notifications/elicitation/complete → Drop; ElicitResult string arrays joined with commas", nil},
		{"3.L4", "CAP+REJECT+MAP / PASS+MAP+REJECT", tr, "down: strips sampling.tools/context capabilities; sampling with tools/toolChoice or tool_use/tool_result content → Reject -32602; array content: one element unwrapped, text blocks concatenated, else Reject (CreateMessageResult: Reject -32603); SamplingMessage._meta stripped", nil},
		{"3.F1", "STRIP / PASS", tr, "down: strips icons from Tool, Prompt, Resource, ResourceTemplate and resource_link blocks (tools/call, prompts/get), recorded as losses", nil},
		{"3.F2", "STRIP / ADD", tr, "up: adds $schema draft-07 to inputSchema/outputSchema (tools/list) and requestedSchema lacking one; down: strips a 2020-12 $schema (loss) or a draft-07 one (no loss), records the implicit 2020-12 dialect of a schema without $schema as lost", nil},
		{"3.F3", "PASS / PASS", tr, "PASS; down: notifications/cancelled without requestId → Drop", nil},
		{"3.F4", "EMULATE / EMULATE", tr, "down: an id-less error response → Emulate (the broker relays it as the error of the POST's request, issue 5); up: PASS", nil},
		{"3.F5", "STRIP / PASS", tr, "down: StringSchema/NumberSchema default stripped from requestedSchema properties, recorded as losses", nil},
		{ID: "3.F6", Verb: "PASS / PASS", Owner: tr, Note: "PASS both ways (the optional -32602 → isError MAP and tool-name rename table are not done)", Tests: []string{"TestCorpus34", "TestRoundTripProperty"}},
		{"3.E1", "MAP / PASS", tr, "down: -32042 keeps its code; the URLs of data.elicitations are appended to error.message (see 3.L3)", nil},
		{"3.A1", "ADD / PASS", "broker (auth policy; not implemented yet)", "auth: the broker adds WWW-Authenticate resource_metadata on relayed 401s for old clients; nothing in the messages", nil},
	}
}
