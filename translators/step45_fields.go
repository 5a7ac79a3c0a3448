package translators

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Section 4.3 and 4.4 of REVISIONS.md (types, fields, JSON-RPC framing and
// error codes) between 2025-11-25 and 2026-07-28. up45 and down45 call
// these first, before the lifecycle and method rows (4.L*, 4.M*, 4.T*):
// whatever is about to become a non-message outcome there (an
// InputRequiredResult, a task result, a listen stream's
// acknowledgement or teardown, a server/discover or subscriptions/listen
// result) is left untouched here.
//
// Helpers of this file are prefixed s45f so that they cannot clash with
// the lifecycle half of the pair (step45.go).

// Result types of 2026-07-28 (4.F1); "task" comes from the tasks extension.
const (
	s45fComplete      = "complete"
	s45fInputRequired = "input_required"
	s45fTask          = "task"
)

// Reserved _meta keys (4.F5).
const (
	s45fServerInfo     = "io.modelcontextprotocol/serverInfo"
	s45fSubscriptionID = "io.modelcontextprotocol/subscriptionId"
	s45fReservedPrefix = "io.modelcontextprotocol/"
)

// s45fCacheable reports whether the result of method is a CacheableResult
// in 2026-07-28 (4.F2; DiscoverResult is the lifecycle rows' business).
func s45fCacheable(method string) bool {
	switch method {
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read":
		return true
	}
	return false
}

// s45fLifecycleOnly reports whether method exists only in 2026-07-28 and
// its results are consumed or answered by the lifecycle rows (4.L2, 4.M3).
func s45fLifecycleOnly(method string) bool {
	return method == "server/discover" || method == "subscriptions/listen"
}

// up45Fields rewrites a 2025-11-25 message into 2026-07-28.
func up45Fields(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindResult:
		// Results sent by a legacy client (answers to sampling, elicitation,
		// roots, ping) become inputResponses or are answered by the broker
		// (4.F6, 4.M6): nothing to shape here.
		if t.Dir == ServerToClient {
			s45fUpResult(t)
		}
	case jsonrpc.KindError:
		if t.Dir == ServerToClient {
			s45fUpError(t)
		}
	case jsonrpc.KindNotification:
		if t.Method == "notifications/cancelled" {
			s45fUpCancelled(t)
		}
	}
}

// down45Fields rewrites a 2026-07-28 message into 2025-11-25.
func down45Fields(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindResult:
		if t.Dir == ServerToClient {
			s45fDownResult(t)
			return
		}
		// 4.J1: a 2026-07-28 client sends no responses. The broker builds
		// the legacy server's responses from inputResponses (4.F6); when it
		// translates such a CreateMessageResult, its tool results are
		// shaped here (4.F3).
		if t.Method == "sampling/createMessage" {
			if r := t.Result(); r.IsObject() {
				s45fDownSamplingContent(t, r.Get("content"), "/result/content")
			}
		}
	case jsonrpc.KindError:
		if t.Dir == ServerToClient {
			s45fDownError(t)
		}
	case jsonrpc.KindNotification:
		s45fDownNotification(t)
	case jsonrpc.KindRequest:
		// A sampling request unpacked by the broker from an
		// InputRequiredResult (4.M6) toward a legacy client.
		if t.Dir == ServerToClient && t.Method == "sampling/createMessage" {
			s45fDownSamplingParams(t, t.Params(), "/params")
		}
	}
}

// ---------------------------------------------------------------------------
// Results

// s45fUpResult: legacy server result toward a 2026-07-28 client.
func s45fUpResult(t *Tx) {
	r := t.Result()
	if !r.IsObject() {
		return
	}
	// A legacy CreateTaskResult ({task}) becomes a "task" result or a
	// blocking call under 4.M5: leave it to the lifecycle rows.
	if r.Get("task").IsObject() && !r.Has("content") {
		return
	}
	// 4.F1: resultType is required on every result; absence meant complete.
	if rt := r.Get("resultType"); rt == nil {
		r.Set("resultType", NewString(s45fComplete))
		t.Apply("4.F1")
	} else if rt.Str() != s45fComplete || !rt.IsString() {
		r.Set("resultType", NewString(s45fComplete))
		t.Lose("4.F1", "/result/resultType", "a legacy server's resultType member is replaced by \"complete\"")
	}
	// 4.F2: caching hints, from the broker's configuration.
	if s45fCacheable(t.Method) {
		ttl, scope := int64(0), "private"
		if t.Ctx != nil {
			ttl = max(t.Ctx.CacheTTLMs, 0)
			if t.Ctx.CacheScope == "public" {
				scope = "public"
			}
		}
		for _, kv := range [...]struct {
			k string
			v *Node
		}{{"ttlMs", NewInt(ttl)}, {"cacheScope", NewString(scope)}} {
			if old := r.Get(kv.k); old != nil && !bytes.Equal(old.Raw(), kv.v.Raw()) {
				t.Lose("4.F2", "/result/"+kv.k, "a legacy server's "+kv.k+" member is replaced by the broker's caching hint")
			}
			r.Set(kv.k, kv.v)
		}
		t.Apply("4.F2")
	}
	// 4.F4: at most 100 completion values.
	if t.Method == "completion/complete" {
		s45fUpCompletion(t, r)
	}
	// 4.F5: _meta["io.modelcontextprotocol/serverInfo"] on every result
	// (SHOULD), from the session's cached InitializeResult.serverInfo.
	if t.Ctx != nil && len(t.Ctx.ServerInfo) > 0 && json.Valid(t.Ctx.ServerInfo) {
		meta := r.Get("_meta")
		if meta == nil {
			meta = NewObject()
			r.Set("_meta", meta)
		}
		if meta.IsObject() {
			meta.Set(s45fServerInfo, NewJSON(string(t.Ctx.ServerInfo)))
			t.Apply("4.F5")
		}
	}
}

// s45fUpCompletion truncates completion values to 100 and sets hasMore
// (4.F4).
func s45fUpCompletion(t *Tx, r *Node) {
	c := r.Get("completion")
	vals := c.Get("values")
	if !vals.IsArray() || vals.Len() <= 100 {
		return
	}
	n := vals.Len()
	for vals.Len() > 100 {
		vals.RemoveIndex(vals.Len() - 1)
	}
	t.Lose("4.F4", "/result/completion/values", fmt.Sprintf("%d completion values truncated to 100", n))
	if hm := c.Get("hasMore"); hm == nil || !hm.Bool() {
		c.Set("hasMore", NewJSON("true"))
		t.Lose("4.F4", "/result/completion/hasMore", "hasMore set after truncation")
	}
}

// s45fDownResult: 2026-07-28 server result toward a legacy client.
func s45fDownResult(t *Tx) {
	if s45fLifecycleOnly(t.Method) {
		return
	}
	r := t.Result()
	if !r.IsObject() {
		return
	}
	// 4.F1: "complete" (or absent) is the only value a legacy client can
	// take; input_required (4.M6) and task (4.M5) become broker outcomes.
	if rt := r.Get("resultType"); rt != nil {
		switch v := rt.Str(); {
		case rt.IsString() && (v == s45fInputRequired || v == s45fTask):
			return
		case rt.IsString() && v == s45fComplete:
			r.Delete("resultType")
			t.Apply("4.F1")
		default:
			t.Reject("4.F1", jsonrpc.CodeInternalError,
				fmt.Sprintf("upstream result has unknown resultType %s", s45fShort(rt)))
			return
		}
	}
	// 4.F2: caching hints are not part of the legacy results.
	if s45fCacheable(t.Method) {
		for _, k := range []string{"ttlMs", "cacheScope"} {
			if r.Delete(k) {
				t.Lose("4.F2", "/result/"+k, k+" stripped (no caching hints before 2026-07-28)")
			}
		}
	}
	// 4.F5: reserved keys are per hop.
	s45fStripMeta(t, r, "/result", false)
	// 4.F3: schemas and structured output loosened in 2026-07-28.
	switch t.Method {
	case "tools/list":
		tools := r.Get("tools")
		for i, tool := range tools.Elems() {
			s45fDownTool(t, tool, "/result/tools/"+strconv.Itoa(i))
		}
	case "tools/call":
		s45fDownStructured(t, r, "/result")
	}
}

// s45fStripMeta removes the 2026-07-28 reserved keys serverInfo and
// subscriptionId from the _meta of holder (a result or notification
// params) (4.F5). User and vendor keys and the trace keys (traceparent,
// tracestate, baggage) pass. A _meta left empty is removed, so that a
// legacy message that went up and comes back down is unchanged.
// With all, every io.modelcontextprotocol/* key goes (client
// notifications toward a legacy server).
func s45fStripMeta(t *Tx, holder *Node, ptr string, all bool) {
	meta := holder.Get("_meta")
	if !meta.IsObject() {
		return
	}
	var gone []string
	for _, k := range meta.Keys() {
		if k == s45fServerInfo || k == s45fSubscriptionID || all && strings.HasPrefix(k, s45fReservedPrefix) {
			gone = append(gone, k)
		}
	}
	if len(gone) == 0 {
		return
	}
	if meta.Len() == len(gone) {
		holder.Delete("_meta")
		t.Lose("4.F5", ptr+"/_meta", strings.Join(gone, ", ")+" stripped (reserved per hop); _meta left empty removed")
		return
	}
	for _, k := range gone {
		meta.Delete(k)
		t.Lose("4.F5", ptr+"/_meta/"+s45fPtr(k), k+" stripped (reserved per hop)")
	}
}

// ---------------------------------------------------------------------------
// Tools and structured output (4.F3)

// s45fDownTool makes a 2026-07-28 Tool valid in 2025-11-25: inputSchema and
// outputSchema must have object-valued properties and string-valued
// required, and outputSchema must be type "object" (else it is wrapped).
func s45fDownTool(t *Tx, tool *Node, ptr string) {
	if !tool.IsObject() {
		return
	}
	if in := tool.Get("inputSchema"); in.IsObject() {
		s45fFixObjectSchema(t, in, ptr+"/inputSchema")
	}
	out := tool.Get("outputSchema")
	if !out.IsObject() {
		return
	}
	if ty := out.Get("type"); ty.IsString() && ty.Str() == "object" {
		s45fFixObjectSchema(t, out, ptr+"/outputSchema")
		return
	}
	tool.Set("outputSchema", s45fWrapSchema(out))
	t.Lose("4.F3", ptr+"/outputSchema",
		`outputSchema that is not type "object" wrapped as {type:"object", properties:{result:<schema>}, required:["result"]}`)
}

// s45fFixObjectSchema rewrites the two keywords the 2025-11-25 schema
// models on an object schema: properties (each value an object schema:
// the boolean schemas true/false become {} and {"not":{}}) and required
// (strings only).
func s45fFixObjectSchema(t *Tx, s *Node, ptr string) {
	if props := s.Get("properties"); props != nil {
		if !props.IsObject() {
			s.Delete("properties")
			t.Lose("4.F3", ptr+"/properties", "properties that is not an object dropped")
		} else {
			for _, k := range props.Keys() {
				v := props.Get(k)
				if v.IsObject() {
					continue
				}
				repl := "{}"
				if v.IsBool() && !v.Bool() {
					repl = `{"not":{}}`
				}
				props.Set(k, NewJSON(repl))
				t.Lose("4.F3", ptr+"/properties/"+s45fPtr(k), "boolean property schema written as an object schema")
			}
		}
	}
	if req := s.Get("required"); req != nil {
		if !req.IsArray() {
			s.Delete("required")
			t.Lose("4.F3", ptr+"/required", "required that is not an array dropped")
			return
		}
		lost := false
		for i := req.Len() - 1; i >= 0; i-- {
			if !req.Index(i).IsString() {
				req.RemoveIndex(i)
				lost = true
			}
		}
		if lost {
			t.Lose("4.F3", ptr+"/required", "non-string required entries dropped")
		}
	}
}

// s45fWrapSchema returns {type:"object", properties:{result:orig},
// required:["result"]}. $schema moves to the new root (it is only allowed
// at a resource root), and so do $defs and definitions unless orig has its
// own $id; local references into orig ("#", "#/...") are rebased onto
// /properties/result so that they still resolve.
func s45fWrapSchema(orig *Node) *Node {
	w := NewObject()
	if sch := orig.Get("$schema"); sch != nil {
		w.Set("$schema", sch)
		orig.Delete("$schema")
	}
	w.Set("type", NewString("object"))
	var hoisted []string
	var defs []*Node
	if !orig.Has("$id") {
		for _, k := range []string{"$defs", "definitions"} {
			if d := orig.Get(k); d != nil {
				orig.Delete(k)
				hoisted = append(hoisted, k)
				defs = append(defs, d)
			}
		}
		s45fRebaseRefs(orig, hoisted)
		for _, d := range defs {
			s45fRebaseRefs(d, hoisted)
		}
	}
	props := NewObject()
	props.Set("result", orig)
	w.Set("properties", props)
	w.Set("required", NewArray(NewString("result")))
	for i, k := range hoisted {
		w.Set(k, defs[i])
	}
	return w
}

// s45fRebaseRefs rewrites the local JSON-pointer references of a schema
// that moved to /properties/result, except those into hoisted containers.
// Subschemas with their own $id and the values of const, enum, default
// and examples are left alone.
func s45fRebaseRefs(n *Node, hoisted []string) {
	switch {
	case n.IsObject():
		for _, k := range n.Keys() {
			v := n.Get(k)
			switch k {
			case "const", "enum", "default", "examples":
				continue
			case "$ref", "$dynamicRef":
				if !v.IsString() {
					continue
				}
				ref := v.Str()
				if ref != "#" && !strings.HasPrefix(ref, "#/") {
					continue
				}
				keep := false
				for _, h := range hoisted {
					if ref == "#/"+h || strings.HasPrefix(ref, "#/"+h+"/") {
						keep = true
					}
				}
				if !keep {
					n.Set(k, NewString("#/properties/result"+ref[1:]))
				}
				continue
			}
			if v.IsObject() && v.Has("$id") {
				continue
			}
			s45fRebaseRefs(v, hoisted)
		}
	case n.IsArray():
		for _, e := range n.Elems() {
			if e.IsObject() && e.Has("$id") {
				continue
			}
			s45fRebaseRefs(e, hoisted)
		}
	}
}

// s45fDownStructured wraps a non-object structuredContent of a
// CallToolResult or ToolResultContent as {"result": value} and makes sure
// content carries the value as JSON text (4.F3).
func s45fDownStructured(t *Tx, holder *Node, ptr string) {
	sc := holder.Get("structuredContent")
	if sc == nil || sc.IsObject() {
		return
	}
	w := NewObject()
	w.Set("result", sc.Clone())
	holder.Set("structuredContent", w)
	t.Lose("4.F3", ptr+"/structuredContent", `structuredContent that is not an object wrapped as {"result": value}`)
	content := holder.Get("content")
	if !content.IsArray() {
		content = NewArray()
		holder.Set("content", content)
	}
	if s45fHasJSONText(content, sc) {
		return
	}
	block := NewObject()
	block.Set("type", NewString("text"))
	block.Set("text", NewString(s45fCompact(sc)))
	content.Append(block)
	t.Lose("4.F3", ptr+"/content", "JSON TextContent fallback added for the structured result")
}

// s45fHasJSONText reports whether content has a text block whose text is
// the JSON value v.
func s45fHasJSONText(content, v *Node) bool {
	var want any
	if err := s45fDecode(v.Raw(), &want); err != nil {
		return false
	}
	for _, b := range content.Elems() {
		if b.Get("type").Str() != "text" {
			continue
		}
		text := b.Get("text").Str()
		var got any
		if s45fDecode([]byte(text), &got) == nil && reflect.DeepEqual(got, want) {
			return true
		}
	}
	return false
}

// s45fDecode decodes one small JSON value (a structured result, a text
// block), keeping numbers exact.
func s45fDecode(b []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// s45fDownSamplingParams shapes CreateMessageRequestParams for a legacy
// client: tool results in messages and the tools' schemas (4.F3). The
// broker may also call it on the params of an InputRequest it unpacks.
func s45fDownSamplingParams(t *Tx, p *Node, ptr string) {
	if !p.IsObject() {
		return
	}
	for i, m := range p.Get("messages").Elems() {
		s45fDownSamplingContent(t, m.Get("content"), ptr+"/messages/"+strconv.Itoa(i)+"/content")
	}
	for i, tool := range p.Get("tools").Elems() {
		s45fDownTool(t, tool, ptr+"/tools/"+strconv.Itoa(i))
	}
}

// s45fDownSamplingContent shapes the ToolResultContent blocks of sampling
// content (a single block or an array of blocks).
func s45fDownSamplingContent(t *Tx, c *Node, ptr string) {
	switch {
	case c.IsObject():
		if c.Get("type").Str() == "tool_result" {
			s45fDownStructured(t, c, ptr)
		}
	case c.IsArray():
		for i, b := range c.Elems() {
			if b.IsObject() && b.Get("type").Str() == "tool_result" {
				s45fDownStructured(t, b, ptr+"/"+strconv.Itoa(i))
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Notifications

// s45fUpCancelled: CancelledNotificationParams.requestId is required in
// 2026-07-28 (4.F8). A legacy cancellation without it (the task form,
// which 2025-11-25 itself forbids in favour of tasks/cancel) has nothing
// to name on the other side.
func s45fUpCancelled(t *Tx) {
	if p := t.Params(); p.IsObject() && p.Has("requestId") {
		return
	}
	t.Drop("4.F8", "notifications/cancelled without requestId: 2026-07-28 requires it (tasks are cancelled with tasks/cancel, 4.M5)")
}

// s45fDownNotification strips reserved _meta keys from a 2026-07-28
// notification toward the legacy side (4.F5). The listen stream's own
// messages are the lifecycle rows' business: the acknowledgement (4.M10)
// and a notifications/cancelled that carries subscriptionId (a listen
// teardown, 4.M3/4.M8) are left untouched.
func s45fDownNotification(t *Tx) {
	if t.Method == "notifications/subscriptions/acknowledged" {
		return
	}
	meta := t.Params().Get("_meta")
	if !meta.IsObject() {
		return
	}
	if t.Method == "notifications/cancelled" && meta.Has(s45fSubscriptionID) {
		return
	}
	// From a client to a legacy server no io.modelcontextprotocol/* key
	// goes upstream.
	s45fStripMeta(t, t.Params(), "/params", t.Dir == ClientToServer)
}

// ---------------------------------------------------------------------------
// Errors (4.E1)

// s45fDownError: 2026-07-28 server error toward a legacy client.
func s45fDownError(t *Tx) {
	if s45fLifecycleOnly(t.Method) {
		return
	}
	e := t.Error()
	code, ok := s45fInt(e.Get("code"))
	if !ok {
		return
	}
	switch code {
	case jsonrpc.CodeInvalidParams:
		// Resource-not-found moved from -32002 to -32602; map it back when
		// the message says so.
		if t.Method == "resources/read" && strings.Contains(strings.ToLower(e.Get("message").Str()), "not found") {
			e.Set("code", NewInt(-32002))
			t.Apply("4.E1")
		}
	case -32020, -32021, -32022:
		s45fInternal(t, e, code, s45fDetail(e, code))
		t.Lose("4.E1", "/error", fmt.Sprintf("2026-07-28 error %d mapped to -32603; the original error is in data", code))
	}
}

// s45fUpError: legacy server error toward a 2026-07-28 client.
func s45fUpError(t *Tx) {
	e := t.Error()
	code, ok := s45fInt(e.Get("code"))
	if !ok {
		return
	}
	switch {
	case code == -32002 && t.Method == "resources/read":
		e.Set("code", NewInt(jsonrpc.CodeInvalidParams))
		if strings.Contains(strings.ToLower(e.Get("message").Str()), "not found") {
			t.Apply("4.E1")
		} else {
			// Down maps -32602 back only when the message says not found.
			t.Lose("4.E1", "/error/code", "-32002 on resources/read mapped to -32602")
		}
	case code == -32042:
		// URLElicitationRequiredError: 4.M7 (lifecycle rows).
	case code <= -32020 && code >= -32099:
		s45fInternal(t, e, code, e.Get("message").Str())
		t.Lose("4.E1", "/error", fmt.Sprintf("legacy error %d collides with the reserved range of 2026-07-28; mapped to -32603, the original error is in data", code))
	}
}

// s45fInternal turns error e into -32603 with message msg and the original
// error object as data.
func s45fInternal(t *Tx, e *Node, code int64, msg string) {
	orig := e.Clone()
	e.Set("code", NewInt(jsonrpc.CodeInternalError))
	e.Set("message", NewString(msg))
	e.Set("data", orig)
}

// s45fDetail is the legacy message for a 2026-07-28 version, capability or
// header error (4.E1, 4.L3).
func s45fDetail(e *Node, code int64) string {
	msg := e.Get("message").Str()
	data := e.Get("data")
	var what, extra string
	switch code {
	case -32020:
		what = "header mismatch"
	case -32021:
		what = "missing required client capability"
		if rc := data.Get("requiredCapabilities"); rc != nil {
			extra = "; required capabilities: " + s45fShort(rc)
		}
	case -32022:
		what = "unsupported protocol version"
		if s := data.Get("supported"); s != nil {
			extra = "; supported: " + s45fShort(s)
		}
		if r := data.Get("requested"); r != nil {
			extra += "; requested: " + s45fShort(r)
		}
	}
	if strings.Contains(strings.ToLower(msg), what) {
		return fmt.Sprintf("%s (upstream MCP error %d%s)", msg, code, extra)
	}
	return fmt.Sprintf("%s (upstream MCP error %d, %s%s)", msg, code, what, extra)
}

// ---------------------------------------------------------------------------
// Small helpers

// s45fInt returns the value of an integer JSON number.
func s45fInt(n *Node) (int64, bool) {
	if !n.IsNumber() {
		return 0, false
	}
	raw := string(n.Raw())
	if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// s45fPtr escapes one JSON-pointer token.
func s45fPtr(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// s45fCompact returns the JSON text of n without insignificant space.
func s45fCompact(n *Node) string {
	var b bytes.Buffer
	if err := json.Compact(&b, n.Raw()); err != nil {
		return string(n.Raw())
	}
	return b.String()
}

// s45fShort renders a small JSON value for a message, cut at 200 bytes.
func s45fShort(n *Node) string {
	s := s45fCompact(n)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// rows45Fields lists the rows 4.F*, 4.J* and 4.E*.
func rows45Fields() []Row {
	const tr, broker = "translators", "broker"
	return []Row{
		{"4.F1", "STRIP / ADD", tr, `server results: Down strips resultType "complete" (absent means complete) and rejects any value other than complete/input_required/task with -32603; "input_required" (4.M6) and "task" (4.M5) are left to the lifecycle rows. Up adds resultType "complete" to every result except a legacy CreateTaskResult (4.M5)`, nil},
		{"4.F2", "STRIP / ADD", tr, "List{Tools,Prompts,Resources,ResourceTemplates}Result and ReadResourceResult: Down strips ttlMs and cacheScope (losses); Up adds ttlMs = Context.CacheTTLMs (default 0) and cacheScope = Context.CacheScope (\"private\" unless \"public\"). The broker caches 2026 results honouring the hints (broker/cache, relay Config.Cache): a repeat is answered without the server and translated like a fresh answer; list_changed/resources/updated invalidate", []string{"Test4F2CacheHit", "Test4F2CacheHitInBatch", "Test4F2CacheSharedAcrossRevisions", "Test4F2CacheTTL", "Test4F2CacheInvalidation", "Test4F2CacheUncacheable", "Test4F2ServeCache"}},
		{"4.F3", "MAP / PASS", tr, `Down: a Tool outputSchema (tools/list, sampling tools) that is not type "object" is wrapped as {type:"object", properties:{result:…}, required:["result"]} ($schema, $defs hoisted, local $refs rebased); boolean property schemas become {} / {"not":{}}; a non-object structuredContent of CallToolResult or ToolResultContent (sampling) becomes {"result": value} and a JSON TextContent fallback is added when missing (losses). Stateless: an object structuredContent of a tool whose schema was wrapped is not wrapped (needs a tool-schema cache in the broker). Up: nothing`, nil},
		{"4.F4", "PASS / MAP", tr, "Up: completion values cut to 100 and hasMore set (losses); Down: pass", nil},
		{"4.F5", "STRIP / STRIP, ADD", tr, "Down: strips io.modelcontextprotocol/serverInfo and subscriptionId from result and notification _meta (losses; acknowledgement and listen teardown left to 4.M3), and every io.modelcontextprotocol/* key from a client notification's _meta; trace and vendor keys pass. Up: adds _meta[io.modelcontextprotocol/serverInfo] = Context.ServerInfo to every result. Request _meta keys and subscriptionId on listen streams: lifecycle rows and broker (4.L1, 4.M3)", nil},
		{"4.F6", "STRIP / ADD", broker, "embedded client results and InputRequests: the broker takes result out of the legacy response and strips _meta into inputResponses, and adds jsonrpc and id when unwrapping; translators leave client results unchanged (sampling tool results are shaped by 4.F3)", []string{"Test4M6InputRounds", "Test4M6GatherAndSecondRound"}},
		{"4.F7", "PASS / PASS", broker, "list stability: translators pass lists; the broker keeps one upstream session per (principal, capabilities) key; list results default to cacheScope \"private\" (4.F2); the response cache serves a private result only to the same principal (or session)", []string{"Test4F7CacheScopes", "Test4F2ServeCache", "Test4F7PoolKeying", "Test4F7MaxLanesEvictsIdleLRU", "Test4F7LaneIdleTTL"}},
		{"4.F8", "DROP / DROP", tr, "notifications/cancelled without requestId (the legacy task form) toward 2026-07-28 is dropped, either direction; roots sub-fields of capabilities are shaped by 4.L4", nil},
		{"4.J1", "— / —", broker, "no JSON-RPC responses from 2026-07-28 clients and no requests from 2026-07-28 servers: the broker owns ids, MRTR retries and emulated requests; a legacy response it builds from inputResponses goes Down unchanged except 4.F3", []string{"Test4J1ClientResponseDropped", "TestDuplicateRequestID"}},
		{"4.E1", "MAP / MAP", tr, "Down: -32602 on resources/read whose message says not found → -32002; -32020/-32021/-32022 → -32603 with the original error in data and a detail (required capabilities, supported versions) in message. Up: -32002 on resources/read → -32602; -32042 left to 4.M7; any other code in -32020…-32099 → -32603 with the original error in data", []string{"Test4T5HeaderMismatch", "Test4E1ErrorCodes"}},
	}
}
