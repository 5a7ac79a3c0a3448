package translators

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// step23 translates between the revisions of REVISIONS.md section 2
// (2025-03-26 and 2025-06-18).
//
// Down (2025-06-18 → 2025-03-26) strips what 2025-03-26 does not define
// (title, _meta on content and list items, Annotations.lastModified,
// structuredContent, outputSchema, CompleteRequest context, the
// elicitation capability), MAPs resource_link blocks to text, and answers
// elicitation/create itself. Every strip is recorded as a loss.
//
// Up (2025-03-26 → 2025-06-18) adds nothing the newer revision requires,
// but 2025-03-26 objects are open, so a legal old message may carry a
// member that 2025-06-18 defines with a stricter type (say "title": 1 on a
// Tool). Up strips exactly those invalid members (recorded as losses), and
// strips the elicitation capability an old client cannot honour (2.L1 CAP).
// It does not SYNTH Tool.title from annotations.title (2.F3, optional in
// the matrix): see tools.
//
// Batching (2.T1), the MCP-Protocol-Version header (2.T2) and
// authorization (2.A1) are transport concerns of the broker: a Tx carries
// one message.
func step23() *Step {
	return &Step{Lo: schemas.V20250326, Hi: schemas.V20250618, Up: up23, Down: down23}
}

// s23Elicit is the method 2025-06-18 added (2.L1).
const s23Elicit = "elicitation/create"

func up23(t *Tx) {
	s23{t: t}.run()
}

func down23(t *Tx) {
	if t.Method == s23Elicit {
		s23DownElicit(t)
		return
	}
	s23{t: t, down: true}.run()
}

// s23DownElicit handles elicitation/create traffic toward 2025-03-26 (2.L1).
//
// A 2025-06-18 server that asks a 2025-03-26 client to elicit (the CAP of
// 2.L1 tells it not to, but it may anyway) gets the broker's own answer
// {"action":"decline"}: the user was not asked, and decline is the ElicitResult
// that says so without failing the server's tool call the way a -32601
// error would. A client's response to elicitation/create can only answer a
// request the broker sent (a 2025-03-26 server never elicits), so it is
// reported as EMULATE for the broker to consume.
func s23DownElicit(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindRequest:
		if t.Dir == ServerToClient {
			t.Answer("2.L1", "elicitation/create does not exist in 2025-03-26; the broker declines on the client's behalf",
				NewJSON(`{"action":"decline"}`))
			return
		}
		t.Reject("2.L1", jsonrpc.CodeMethodNotFound, "Method not found: elicitation/create is sent by servers only")
	case jsonrpc.KindNotification:
		t.Drop("2.L1", "elicitation/create is a request, not a notification, and does not exist in 2025-03-26")
	default:
		t.Emulate("2.L1", "response to an elicitation/create that no 2025-03-26 server sent: the broker consumes it")
	}
}

// s23 walks one message through the section 2 rows. down selects the
// direction: strip what 2025-03-26 lacks (down), or strip only what is
// invalid in 2025-06-18 (up).
type s23 struct {
	t    *Tx
	down bool
}

// run dispatches on kind and method first, so messages no row concerns are
// not decoded at all.
func (s s23) run() {
	t := s.t
	switch t.Kind {
	case jsonrpc.KindRequest:
		switch t.Method {
		case "initialize":
			s.initialize(t.Params())
		case "completion/complete":
			s.complete(t.Params())
		case "sampling/createMessage":
			for i, m := range t.Params().Get("messages").Elems() {
				s.messageContent(m, "/params/messages/"+strconv.Itoa(i))
			}
		}
	case jsonrpc.KindResult:
		res := t.Result()
		if !res.IsObject() {
			return
		}
		switch t.Method {
		case "initialize":
			// 2.F3: Implementation.title.
			if si := res.Get("serverInfo"); si.IsObject() {
				s.strip(si, "title", "2.F3", "/result/serverInfo", (*Node).IsString)
			}
		case "tools/list":
			s.tools(res)
		case "tools/call":
			s.callResult(res)
		case "prompts/list":
			s.prompts(res)
		case "prompts/get":
			for i, m := range res.Get("messages").Elems() {
				s.messageContent(m, "/result/messages/"+strconv.Itoa(i))
			}
		case "resources/list":
			s.resources(res, "resources")
		case "resources/templates/list":
			s.resources(res, "resourceTemplates")
		case "resources/read":
			// 2.F4: ResourceContents._meta.
			for i, c := range res.Get("contents").Elems() {
				if c.IsObject() {
					s.strip(c, "_meta", "2.F4", "/result/contents/"+strconv.Itoa(i), (*Node).IsObject)
				}
			}
		case "sampling/createMessage":
			// CreateMessageResult.content is one block (text, image or audio).
			if b := s.block(res.Get("content"), "/result/content"); b != nil {
				res.Set("content", b)
			}
		case "roots/list":
			// 2.F4: Root._meta.
			for i, r := range res.Get("roots").Elems() {
				if r.IsObject() {
					s.strip(r, "_meta", "2.F4", "/result/roots/"+strconv.Itoa(i), (*Node).IsObject)
				}
			}
		}
	case jsonrpc.KindError:
		// 2.E1: no new error codes; every error passes with its code.
		t.Apply("2.E1")
	}
}

// strip removes obj[key]: always going down (the member does not exist in
// 2025-03-26), and going up only when valid says the value does not fit
// the 2025-06-18 definition. at is the JSON pointer of obj.
func (s s23) strip(obj *Node, key, row, at string, valid func(*Node) bool) {
	v := obj.Get(key)
	if v == nil {
		return
	}
	if s.down {
		obj.Delete(key)
		s.t.Lose(row, at+"/"+key, key+" is not defined in 2025-03-26: stripped")
		return
	}
	if valid(v) {
		return
	}
	obj.Delete(key)
	s.t.Lose(row, at+"/"+key, key+" has a type 2025-06-18 does not allow: stripped")
}

// initialize shapes InitializeRequest.params: the elicitation capability
// (2.L1 CAP, both ways: an old client cannot honour it, an old server has
// no use for it) and clientInfo.title (2.F3).
func (s s23) initialize(p *Node) {
	if !p.IsObject() {
		return
	}
	if caps := p.Get("capabilities"); caps.IsObject() && caps.Delete("elicitation") {
		detail := "elicitation capability stripped: a 2025-03-26 server never elicits"
		if !s.down {
			detail = "elicitation capability not declared for a 2025-03-26 client (CAP); the broker declines elicitation/create"
		}
		s.t.Lose("2.L1", "/params/capabilities/elicitation", detail)
	}
	if ci := p.Get("clientInfo"); ci.IsObject() {
		s.strip(ci, "title", "2.F3", "/params/clientInfo", (*Node).IsString)
	}
}

// complete handles CompleteRequest.params: context (2.F6), the title of a
// PromptReference (2.F3); a ResourceTemplateReference is the renamed
// ResourceReference and passes as is (2.F7).
func (s s23) complete(p *Node) {
	if !p.IsObject() {
		return
	}
	s.strip(p, "context", "2.F6", "/params", s23ValidContext)
	ref := p.Get("ref")
	switch ref.Get("type").Str() {
	case "ref/prompt":
		s.strip(ref, "title", "2.F3", "/params/ref", (*Node).IsString)
	case "ref/resource":
		s.t.Apply("2.F7")
	}
}

// tools handles ListToolsResult.tools[]: title (2.F3), outputSchema (2.F1)
// and _meta (2.F4).
func (s s23) tools(res *Node) {
	for i, tool := range res.Get("tools").Elems() {
		if !tool.IsObject() {
			continue
		}
		at := "/result/tools/" + strconv.Itoa(i)
		if s.down {
			s.toolTitleDown(tool, at)
		}
		s.strip(tool, "title", "2.F3", at, (*Node).IsString)
		s.strip(tool, "outputSchema", "2.F1", at, s23ValidOutputSchema)
		s.strip(tool, "_meta", "2.F4", at, (*Node).IsObject)
		// 2.F3 up: no SYNTH of Tool.title from annotations.title (optional in
		// the matrix). A 2025-06-18 client already shows annotations.title
		// when title is absent, and a synthesized title would come back from
		// a round trip 2025-06-18 → 2025-03-26 → 2025-06-18 on every tool
		// that has annotations.title and no title, where nothing was lost.
	}
}

// toolTitleDown copies Tool.title into annotations.title when that is
// absent (2.F3): 2025-03-26 clients show annotations.title. The copy is
// recorded as a loss because going back up it cannot be told apart from a
// title the server set itself.
func (s s23) toolTitleDown(tool *Node, at string) {
	title := tool.Get("title")
	if !title.IsString() {
		return
	}
	ann := tool.Get("annotations")
	switch {
	case ann == nil:
		ann = NewObject()
		ann.Set("title", title.Clone())
		tool.Set("annotations", ann)
		s.t.Lose("2.F3", at+"/annotations", "annotations added to carry title as annotations.title")
	case ann.IsObject() && !ann.Has("title"):
		ann.Set("title", title.Clone())
		s.t.Lose("2.F3", at+"/annotations/title", "annotations.title copied from title")
	}
}

// callResult handles CallToolResult: content blocks (2.F2, 2.F4, 2.F5) and
// structuredContent (2.F1).
func (s s23) callResult(res *Node) {
	content := res.Get("content")
	for i, b := range content.Elems() {
		if nb := s.block(b, "/result/content/"+strconv.Itoa(i)); nb != nil {
			content.SetIndex(i, nb)
		}
	}
	sc := res.Get("structuredContent")
	if sc == nil {
		return
	}
	if !s.down {
		s.strip(res, "structuredContent", "2.F1", "/result", (*Node).IsObject)
		return
	}
	res.Delete("structuredContent")
	s.t.Lose("2.F1", "/result/structuredContent", "structuredContent is not defined in 2025-03-26: stripped")
	if content.IsArray() && !s23CarriesJSON(content, sc) {
		var buf bytes.Buffer
		text := sc.Raw()
		if json.Compact(&buf, text) == nil {
			text = buf.Bytes()
		}
		tb := NewObject()
		tb.Set("type", NewString("text"))
		tb.Set("text", NewString(string(text)))
		at := "/result/content/" + strconv.Itoa(content.Len())
		content.Append(tb)
		s.t.Lose("2.F1", at, "text block synthesized from structuredContent")
	}
}

// s23CarriesJSON reports whether a text block of content holds the JSON
// of structuredContent (compared as JSON values, so spacing and key order
// do not matter).
func s23CarriesJSON(content, sc *Node) bool {
	var want any
	decoded := false
	for _, b := range content.Elems() {
		if b.Get("type").Str() != "text" {
			continue
		}
		text := strings.TrimSpace(b.Get("text").Str())
		if len(text) < 2 || text[0] != '{' {
			continue
		}
		if !decoded {
			if json.Unmarshal(sc.Raw(), &want) != nil {
				return false
			}
			decoded = true
		}
		var got any
		if json.Unmarshal([]byte(text), &got) == nil && reflect.DeepEqual(got, want) {
			return true
		}
	}
	return false
}

// prompts handles ListPromptsResult.prompts[]: title of the prompt and of
// its arguments (2.F3), _meta (2.F4).
func (s s23) prompts(res *Node) {
	for i, p := range res.Get("prompts").Elems() {
		if !p.IsObject() {
			continue
		}
		at := "/result/prompts/" + strconv.Itoa(i)
		s.strip(p, "title", "2.F3", at, (*Node).IsString)
		s.strip(p, "_meta", "2.F4", at, (*Node).IsObject)
		for j, a := range p.Get("arguments").Elems() {
			if a.IsObject() {
				s.strip(a, "title", "2.F3", at+"/arguments/"+strconv.Itoa(j), (*Node).IsString)
			}
		}
	}
}

// resources handles Resource and ResourceTemplate lists under key: title
// (2.F3), _meta (2.F4), annotations.lastModified (2.F5).
func (s s23) resources(res *Node, key string) {
	for i, r := range res.Get(key).Elems() {
		if !r.IsObject() {
			continue
		}
		at := "/result/" + key + "/" + strconv.Itoa(i)
		s.strip(r, "title", "2.F3", at, (*Node).IsString)
		s.strip(r, "_meta", "2.F4", at, (*Node).IsObject)
		s.annotations(r, at)
	}
}

// messageContent rewrites the content block of a PromptMessage or a
// SamplingMessage at pointer at.
func (s s23) messageContent(m *Node, at string) {
	if !m.IsObject() {
		return
	}
	if nb := s.block(m.Get("content"), at+"/content"); nb != nil {
		m.Set("content", nb)
	}
}

// block rewrites one content block at pointer at and returns its
// replacement, or nil when it was rewritten in place (or left alone).
// Down, a resource_link becomes a text block (2.F2); every block loses
// _meta (2.F4) and annotations.lastModified (2.F5), an embedded resource
// also its contents' _meta (2.F4).
func (s s23) block(b *Node, at string) *Node {
	if !b.IsObject() {
		return nil
	}
	typ := b.Get("type").Str()
	if s.down && typ == "resource_link" {
		s.t.Lose("2.F2", at, "resource_link is not a 2025-03-26 content type: mapped to a text block")
		return s23LinkText(b)
	}
	s.strip(b, "_meta", "2.F4", at, (*Node).IsObject)
	s.annotations(b, at)
	if typ == "resource" {
		if r := b.Get("resource"); r.IsObject() {
			s.strip(r, "_meta", "2.F4", at+"/resource", (*Node).IsObject)
		}
	}
	return nil
}

// annotations handles Annotations.lastModified (2.F5) of obj.
func (s s23) annotations(obj *Node, at string) {
	if a := obj.Get("annotations"); a.IsObject() {
		s.strip(a, "lastModified", "2.F5", at+"/annotations", (*Node).IsString)
	}
}

// s23LinkText maps a ResourceLink to a TextContent (2.F2):
// "Resource: <title|name> <uri> (<mimeType>): <description>", keeping the
// annotations 2025-03-26 defines (audience, priority).
func s23LinkText(b *Node) *Node {
	var sb strings.Builder
	sb.WriteString("Resource: ")
	label := b.Get("title").Str()
	if label == "" {
		label = b.Get("name").Str()
	}
	sb.WriteString(label)
	sb.WriteByte(' ')
	sb.WriteString(b.Get("uri").Str())
	if mt := b.Get("mimeType").Str(); mt != "" {
		sb.WriteString(" (")
		sb.WriteString(mt)
		sb.WriteByte(')')
	}
	if d := b.Get("description").Str(); d != "" {
		sb.WriteString(": ")
		sb.WriteString(d)
	}
	out := NewObject()
	out.Set("type", NewString("text"))
	out.Set("text", NewString(sb.String()))
	if a := b.Get("annotations"); a.IsObject() {
		na := NewObject()
		for _, k := range [...]string{"audience", "priority"} {
			if v := a.Get(k); v != nil {
				na.Set(k, v.Clone())
			}
		}
		if na.Len() > 0 {
			out.Set("annotations", na)
		}
	}
	return out
}

// s23ValidOutputSchema reports whether v fits Tool.outputSchema of
// 2025-06-18: an object with type "object", properties (if any) an object
// of objects, required (if any) an array of strings.
func s23ValidOutputSchema(v *Node) bool {
	if !v.IsObject() || v.Get("type").Str() != "object" {
		return false
	}
	if p := v.Get("properties"); p != nil {
		if !p.IsObject() {
			return false
		}
		for _, k := range p.Keys() {
			if !p.Get(k).IsObject() {
				return false
			}
		}
	}
	return s23StringArray(v.Get("required"))
}

// s23StringArray reports whether v is absent or an array of strings.
func s23StringArray(v *Node) bool {
	if v == nil {
		return true
	}
	if !v.IsArray() {
		return false
	}
	for _, e := range v.Elems() {
		if !e.IsString() {
			return false
		}
	}
	return true
}

// s23ValidContext reports whether v fits CompleteRequest.params.context of
// 2025-06-18: an object whose arguments (if any) map names to strings.
func s23ValidContext(v *Node) bool {
	if !v.IsObject() {
		return false
	}
	a := v.Get("arguments")
	if a == nil {
		return true
	}
	if !a.IsObject() {
		return false
	}
	for _, k := range a.Keys() {
		if !a.Get(k).IsString() {
			return false
		}
	}
	return true
}

// rows23 lists the rows of REVISIONS.md section 2.
func rows23() []Row {
	const tr = "translators"
	const broker = "broker (issue 5)"
	return []Row{
		{ID: "2.T1", Verb: "EMULATE / MAP", Owner: broker,
			Note:  "Batches are split (and, for a 2025-03-26 client, the responses gathered into one array) by the broker's codec and transports; a Tx carries one message, so the step sees none.",
			Tests: []string{"TestBatch", "TestBatchNotAllowed", "TestHTTPServerBatch"}},
		{ID: "2.T2", Verb: "ADD / STRIP", Owner: broker,
			Note:  "MCP-Protocol-Version is an HTTP header: the broker adds it upstream, checks it from 2025-06-18 clients and may drop it toward 2025-03-26 servers; nothing in the message.",
			Tests: []string{"TestDialHTTPProtocolVersion", "TestHTTPServerStatuses"}},
		{ID: "2.L1", Verb: "CAP, ANSWER / STRIP", Owner: tr,
			Note: "Strips capabilities.elicitation from initialize both ways (loss); s2c elicitation/create toward 2025-03-26 is ANSWERed {\"action\":\"decline\"} (not -32601, so the server's tool call goes on); a client's response to elicitation/create going down is EMULATE (the broker asked)."},
		{ID: "2.L2", Verb: "PASS / PASS", Owner: broker,
			Note: "No wire change; strict capability shaping (rule 0.2 #1) is the broker's. The step itself only shapes the elicitation capability (2.L1)."},
		{ID: "2.F1", Verb: "STRIP, SYNTH / PASS", Owner: tr,
			Note: "Down: strips Tool.outputSchema and CallToolResult.structuredContent (losses) and appends a text block with the compact JSON when no text block already carries it (JSON-equal). Up: strips them only when their type is invalid in 2025-06-18."},
		{ID: "2.F2", Verb: "MAP / PASS", Owner: tr,
			Note: "Down: each resource_link in CallToolResult.content and PromptMessage.content becomes a text block \"Resource: <title|name> <uri> (<mimeType>): <description>\" keeping audience/priority (loss of the block)."},
		{ID: "2.F3", Verb: "STRIP / PASS (no SYNTH)", Owner: tr,
			Note: "Down: strips title from Tool, Resource, ResourceTemplate, Prompt, PromptArgument, PromptReference and client/server Implementation (losses), copying Tool.title into annotations.title when absent. Up: no SYNTH of Tool.title (clients already fall back to annotations.title; it would break the round trip); strips non-string titles."},
		{ID: "2.F4", Verb: "STRIP / PASS", Owner: tr,
			Note: "Matrix allows PASS; by broker policy down strips _meta from content blocks, resource contents, Resource, ResourceTemplate, Prompt, Tool and Root (losses). Up passes it, stripping only a _meta that is not an object."},
		{ID: "2.F5", Verb: "STRIP / PASS", Owner: tr,
			Note: "Down: strips Annotations.lastModified on content blocks, resources and templates (losses). Up: strips it only when it is not a string."},
		{ID: "2.F6", Verb: "PASS / STRIP", Owner: tr,
			Note: "Down: strips CompleteRequest.params.context (loss). Up: strips it only when it does not fit {arguments?: map<string,string>}."},
		{ID: "2.F7", Verb: "PASS / PASS", Owner: tr,
			Note: "ResourceReference renamed ResourceTemplateReference, same wire shape: ref/resource passes both ways (row recorded as applied)."},
		{ID: "2.E1", Verb: "PASS / PASS", Owner: tr,
			Note: "No new error codes: error responses pass with their code both ways (row recorded as applied)."},
		{ID: "2.A1", Verb: "EMULATE / EMULATE", Owner: "broker (auth policy; not implemented yet)",
			Note: "OAuth resource-server changes (PRM, WWW-Authenticate resource_metadata, RFC 8707 resource, audience checks) are HTTP auth handled by the broker; nothing in the message."},
	}
}
