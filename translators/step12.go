package translators

import (
	"bytes"
	"strconv"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// step12 translates between the revisions of REVISIONS.md section 1.
func step12() *Step {
	return &Step{Lo: schemas.V20241105, Hi: schemas.V20250326, Up: up12, Down: down12}
}

// up12 rewrites a 2024-11-05 message into 2025-03-26. Every 2024-11-05
// message is already valid in 2025-03-26 (Appendix A.1 only adds), so the
// only rewrite is the completions capability (1.L2); 1.L3 and 1.E1 are
// recorded as passed.
func up12(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindResult:
		if t.Method == "initialize" {
			s12UpInitializeResult(t)
		}
	case jsonrpc.KindError:
		t.Apply("1.E1") // PASS: same standard codes in both revisions
	}
}

// down12 rewrites a 2025-03-26 message into 2024-11-05: audio content
// (1.F1), tool annotations (1.F3), the progress message (1.F4) and the
// completions capability (1.L2). Batches (1.L1) never reach a step: the
// caller splits them and every element is translated on its own.
func down12(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindRequest:
		if t.Method == "sampling/createMessage" {
			s12DownSamplingRequest(t)
		}
	case jsonrpc.KindNotification:
		if t.Method == "notifications/progress" {
			s12DownProgress(t)
		}
	case jsonrpc.KindResult:
		switch t.Method {
		case "initialize":
			s12DownInitializeResult(t)
		case "tools/list":
			s12DownToolsList(t)
		case "tools/call":
			s12DownCallToolResult(t)
		case "prompts/get":
			s12DownPromptResult(t)
		case "sampling/createMessage":
			s12DownSamplingResult(t)
		}
	case jsonrpc.KindError:
		t.Apply("1.E1") // PASS: same standard codes in both revisions
	}
}

// s12UpInitializeResult handles InitializeResult from a 2024-11-05 server
// to a 2025-03-26 client. 1.L2: the old server cannot advertise
// completions although completion/complete exists in its revision; SYNTH
// completions:{} when the server offers prompts or resources (the things
// completion/complete completes). A server that does not implement it
// answers -32601, which passes through. 1.L3: instructions pass.
func s12UpInitializeResult(t *Tx) {
	res := t.Result()
	if res.Has("instructions") {
		t.Apply("1.L3")
	}
	caps := res.Get("capabilities")
	if !caps.IsObject() || caps.Has("completions") {
		return
	}
	if caps.Get("prompts").IsObject() || caps.Get("resources").IsObject() {
		caps.Set("completions", NewObject())
		t.Apply("1.L2")
	}
}

// s12DownInitializeResult handles InitializeResult from a 2025-03-26
// server to a 2024-11-05 client. 1.L2: STRIP capabilities.completions,
// which 2024-11-05 does not define. 1.L3: instructions pass.
func s12DownInitializeResult(t *Tx) {
	res := t.Result()
	if res.Has("instructions") {
		t.Apply("1.L3")
	}
	if caps := res.Get("capabilities"); caps.Delete("completions") {
		t.Lose("1.L2", "/result/capabilities/completions", "ServerCapabilities.completions stripped (not in 2024-11-05; completion/complete stays callable)")
	}
}

// s12DownToolsList handles ListToolsResult toward a 2024-11-05 client.
// 1.F3: STRIP Tool.annotations (ToolAnnotations is new); the broker's
// confirmation/deny policy can use the hints before they are stripped.
func s12DownToolsList(t *Tx) {
	for i, tool := range t.Result().Get("tools").Elems() {
		if tool.Delete("annotations") {
			t.Lose("1.F3", "/result/tools/"+strconv.Itoa(i)+"/annotations", "Tool.annotations stripped (ToolAnnotations not in 2024-11-05)")
		}
	}
}

// s12DownProgress handles notifications/progress going down, from a
// 2025-03-26 server to an old client or from a new client to an old
// server. 1.F4: STRIP params.message.
func s12DownProgress(t *Tx) {
	if t.Params().Delete("message") {
		t.Lose("1.F4", "/params/message", "ProgressNotification.params.message stripped (not in 2024-11-05)")
	}
}

// s12DownCallToolResult handles CallToolResult toward a 2024-11-05 client.
// 1.F1: MAP every audio block to an EmbeddedResource that keeps the bytes.
func s12DownCallToolResult(t *Tx) {
	for i, block := range t.Result().Get("content").Elems() {
		s12DownBlock(t, block, "/result/content/"+strconv.Itoa(i), i, false, func(n *Node) {
			t.Result().Get("content").SetIndex(i, n)
		})
	}
}

// s12DownPromptResult handles GetPromptResult toward a 2024-11-05 client.
// 1.F1: MAP an audio PromptMessage.content to an EmbeddedResource.
func s12DownPromptResult(t *Tx) {
	for i, msg := range t.Result().Get("messages").Elems() {
		s12DownBlock(t, msg.Get("content"), "/result/messages/"+strconv.Itoa(i)+"/content", i, false, func(n *Node) {
			msg.Set("content", n)
		})
	}
}

// s12DownSamplingRequest handles CreateMessageRequest from a 2025-03-26
// server to a 2024-11-05 client. 1.F1: only text and image are legal in
// 2024-11-05 SamplingMessage.content, so MAP audio to a TextContent
// placeholder.
func s12DownSamplingRequest(t *Tx) {
	for i, msg := range t.Params().Get("messages").Elems() {
		s12DownBlock(t, msg.Get("content"), "/params/messages/"+strconv.Itoa(i)+"/content", i, true, func(n *Node) {
			msg.Set("content", n)
		})
	}
}

// s12DownSamplingResult handles CreateMessageResult from a 2025-03-26
// client to a 2024-11-05 server (its answer to a legacy sampling
// request). 1.F1: MAP audio to a TextContent placeholder.
func s12DownSamplingResult(t *Tx) {
	res := t.Result()
	s12DownBlock(t, res.Get("content"), "/result/content", 0, true, func(n *Node) {
		res.Set("content", n)
	})
}

// s12DownBlock maps one content block if it is audio (1.F1), and records
// annotations on blocks that pass (1.F2: Annotated became Annotations, no
// wire change). text selects the TextContent placeholder (sampling);
// otherwise the block becomes an EmbeddedResource with a
// BlobResourceContents whose uri is the broker URN
// urn:mcpbroker:audio:<index> and whose blob is the audio data.
func s12DownBlock(t *Tx, block *Node, path string, index int, text bool, replace func(*Node)) {
	if !block.IsObject() {
		return
	}
	if block.Get("type").Str() != "audio" {
		if block.Has("annotations") {
			t.Apply("1.F2")
		}
		return
	}
	mime := block.Get("mimeType")
	data := block.Get("data")
	if text || !data.IsString() {
		replace(s12AudioPlaceholder(block, mime, data))
		t.Lose("1.F1", path, "audio content mapped to a text placeholder (2024-11-05 has no AudioContent here)")
		return
	}
	res := NewObject()
	res.Set("uri", NewString("urn:mcpbroker:audio:"+strconv.Itoa(index)))
	if mime.IsString() {
		res.Set("mimeType", mime)
	}
	res.Set("blob", data)
	n := NewObject()
	n.Set("type", NewString("resource"))
	n.Set("resource", res)
	if ann := block.Get("annotations"); ann.IsObject() {
		n.Set("annotations", ann)
	}
	replace(n)
	t.Lose("1.F1", path, "audio content mapped to an embedded blob resource (2024-11-05 has no AudioContent)")
}

// s12AudioPlaceholder returns a TextContent such as
// {"type":"text","text":"[audio omitted: audio/wav, 48 KB]"}, keeping the
// block's annotations.
func s12AudioPlaceholder(block, mime, data *Node) *Node {
	mt := "unknown type"
	if mime.IsString() && mime.Str() != "" {
		mt = mime.Str()
	}
	text := "[audio omitted: " + mt
	if data.IsString() {
		text += ", " + s12Size(s12Base64Len(data))
	}
	text += "]"
	n := NewObject()
	n.Set("type", NewString("text"))
	n.Set("text", NewString(text))
	if ann := block.Get("annotations"); ann.IsObject() {
		n.Set("annotations", ann)
	}
	return n
}

// s12Base64Len returns the number of bytes a base64 string node decodes
// to, without decoding it.
func s12Base64Len(data *Node) int {
	raw := data.Raw()
	var s []byte
	if bytes.IndexByte(raw, '\\') < 0 && len(raw) >= 2 {
		s = raw[1 : len(raw)-1]
	} else {
		s = []byte(data.Str())
	}
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	return n * 3 / 4
}

// s12Size formats a byte count as "1 byte", "44 bytes", "48 KB" or "2.5 MB".
func s12Size(n int) string {
	switch {
	case n == 1:
		return "1 byte"
	case n < 1024:
		return strconv.Itoa(n) + " bytes"
	case n < 1<<20:
		return strconv.Itoa((n+512)/1024) + " KB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
}

// rows12 lists the rows of REVISIONS.md section 1.
func rows12() []Row {
	const broker = "broker (issue 5)"
	return []Row{
		{ID: "1.T1", Verb: "EMULATE / EMULATE", Owner: broker,
			Note:  "transport: the broker serves legacy HTTP+SSE to old clients over an upstream Streamable HTTP session, and Streamable HTTP to new clients over an upstream HTTP+SSE connection; no message rewrite",
			Tests: []string{"TestInteropMatrix", "TestNPMInterop", "TestDialSSE", "TestSSEServerEndpointEvent"}},
		{ID: "1.T2", Verb: "EMULATE / EMULATE", Owner: broker,
			Note:  "transport: the broker keeps the upstream Mcp-Session-Id per legacy SSE connection (DELETE on close, re-initialize on 404), or mints its own session id for new clients of a legacy server",
			Tests: []string{"TestUpstreamSessionExpired", "TestUpstreamCrash", "TestDialHTTPSessionExpired", "TestHTTPServerDELETE", "TestTerminatedSession"}},
		{ID: "1.T3", Verb: "EMULATE / EMULATE", Owner: broker,
			Note:  "transport: optional resumption (Last-Event-ID) of the broker's own upstream streams, or broker event ids and replay toward new clients",
			Tests: []string{"TestHTTPServerResume", "TestDialHTTPResume", "TestDialHTTPResumeScripted"}},
		{ID: "1.T4", Verb: "EMULATE / EMULATE", Owner: broker,
			Note:  "transport: merge upstream POST and GET streams into the legacy client's one SSE stream; send each legacy message on exactly one client stream",
			Tests: []string{"TestInteropMatrix", "TestServeUnsolicitedOverHTTP", "TestDialHTTPLazyGET"}},
		{ID: "1.T5", Verb: "REJECT / REJECT", Owner: broker,
			Note:  "transport: the broker validates Origin on every HTTP endpoint it serves and refuses bad origins",
			Tests: []string{"TestOriginAllowed", "TestHTTPFaults"}},
		{ID: "1.L1", Verb: "MAP / MAP", Owner: "translators + " + broker,
			Note:  "the broker splits every batch (upstream arrays toward old clients, client arrays toward old servers) and hands single messages to the chain, which translates each element on its own (tested with the corpus batches); collecting responses into one array, 202 for notification-only batches, -32600 for an empty array and initialize inside a batch are broker work",
			Tests: []string{"TestBatchElements12", "TestValidityProperty"}},
		{ID: "1.L2", Verb: "STRIP / SYNTH", Owner: "translators",
			Note: "down: STRIP InitializeResult.capabilities.completions (loss); up: SYNTH completions:{} when the 2024-11-05 server advertises prompts or resources; -32601 from completion/complete passes"},
		{ID: "1.L3", Verb: "PASS / PASS", Owner: "translators",
			Note: "InitializeResult.instructions passes unchanged both ways (recorded as applied when present)"},
		{ID: "1.F1", Verb: "MAP / MAP", Owner: "translators",
			Note: "down: audio in CallToolResult.content[] and GetPromptResult.messages[].content becomes an EmbeddedResource with BlobResourceContents {uri: urn:mcpbroker:audio:<index>, mimeType, blob: data, annotations kept}; audio in CreateMessageRequest.params.messages[].content and CreateMessageResult.content becomes a TextContent placeholder \"[audio omitted: <mime>, <size>]\"; each recorded as a loss"},
		{ID: "1.F2", Verb: "PASS / PASS", Owner: "translators",
			Note: "Annotated became Annotations with the same wire fields: content annotations pass unchanged (recorded as applied on the content blocks down12 inspects)"},
		{ID: "1.F3", Verb: "STRIP / PASS", Owner: "translators",
			Note: "down: STRIP Tool.annotations from every tool of a tools/list result (loss per tool); the broker's policy hook can read the hints first; up: nothing to inject without configuration"},
		{ID: "1.F4", Verb: "STRIP / STRIP", Owner: "translators",
			Note: "down: STRIP params.message from notifications/progress, whether sent by a 2025-03-26 server to an old client or by a new client to an old server (loss); up: nothing"},
		{ID: "1.E1", Verb: "PASS / PASS", Owner: "translators",
			Note: "error responses keep their code and pass unchanged both ways (recorded as applied)"},
		{ID: "1.A1", Verb: "ADD / STRIP", Owner: "broker (auth policy; not implemented yet)",
			Note: "auth: toward a 2025-03-26 server the broker holds upstream credentials and adds Authorization itself; toward a 2024-11-05 server it may act as resource server and never forwards the client's bearer token"},
	}
}
