package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// Small media samples: a 1x1 PNG and an empty WAV file.
const (
	pngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
	wavBase64 = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA="
)

// toolCall is the params of tools/call.
type toolCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	Meta      struct {
		ProgressToken json.RawMessage `json:"progressToken"`
	} `json:"_meta"`
	// InputResponses and RequestState come with the retry of a multi
	// round-trip request (2026-07-28).
	InputResponses map[string]json.RawMessage `json:"inputResponses"`
	RequestState   *string                    `json:"requestState"`
}

// tool is a demo tool.
type tool struct {
	name        string
	title       string
	description string
	since       schemas.Revision // first revision that has it
	until       schemas.Revision // last revision that has it; 0: all
	input       map[string]any   // inputSchema
	output      map[string]any   // outputSchema, 2025-06-18 on
	readOnly    bool
	mrtr        bool // may answer InputRequiredResult (2026-07-28)
	run         func(ss *serverSession, ctx context.Context, call *toolCall) (any, error)
}

// in reports whether the tool exists in revision rev.
func (t *tool) in(rev schemas.Revision) bool {
	return t.since <= rev && (t.until == 0 || rev <= t.until)
}

// objectSchema returns a JSON Schema of an object with the given
// properties (name, type, description triples) and required names.
func objectSchema(props [][3]string, required ...string) map[string]any {
	p := map[string]any{}
	for _, x := range props {
		p[x[0]] = map[string]any{"type": x[1], "description": x[2]}
	}
	s := map[string]any{"type": "object", "properties": p}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// maxRounds bounds the rounds argument of sample.
const maxRounds = 5

// tools returns every demo tool of revision rev.
func tools(rev schemas.Revision) []tool {
	none := objectSchema(nil)
	touchArgs := [][3]string{{"uri", "string", "Resource URI (default demo://static/readme)"}, {"later", "boolean", "Notify after answering, unrelated to the request"}}
	touchDesc := "Marks a resource as changed: subscribers get notifications/resources/updated (with later, shortly after the answer and unrelated to the request: on the standalone stream over Streamable HTTP)."
	if rev.Stateless() {
		touchArgs = append(touchArgs, [3]string{"list", "string", "Also send notifications/<list>/list_changed, list being tools, prompts or resources"})
		touchDesc = "Marks a resource as changed: subscriptions/listen streams subscribed to it get notifications/resources/updated (with later, shortly after the answer); with list, the streams that asked for that list's list_changed get it."
	}
	all := []tool{
		{name: "echo", title: "Echo", description: "Returns its text argument; logs it at info level when logging is enabled.",
			input: objectSchema([][3]string{{"text", "string", "Text to echo"}}, "text"), readOnly: true, run: (*serverSession).echo},
		{name: "add", title: "Add", description: "Adds two numbers.",
			input:  objectSchema([][3]string{{"a", "number", "First addend"}, {"b", "number", "Second addend"}}, "a", "b"),
			output: objectSchema([][3]string{{"sum", "number", "a + b"}}, "sum"), readOnly: true, run: (*serverSession).add},
		{name: "sample", title: "Sample", description: "Asks the client's model (sampling/createMessage) rounds times (default 1, at most 5) and returns its answers, one a line.",
			input: objectSchema([][3]string{{"prompt", "string", "What to ask"}, {"rounds", "integer", "How many times to ask (1 to 5, default 1)"}}), mrtr: true, run: (*serverSession).sample},
		{name: "elicit", title: "Elicit", description: "Asks the user for their name (elicitation/create) and returns the answer; with sample, asks the client's model (sampling/createMessage) too before it answers (2026-07-28: both in one InputRequiredResult).",
			since: schemas.V20250618, input: objectSchema([][3]string{{"message", "string", "What to ask"}, {"sample", "boolean", "Also ask the client's model, and return its answer as sampled"}}), mrtr: true, run: (*serverSession).elicit},
		{name: "progress", title: "Progress", description: "Reports 3 steps of progress for the request's progressToken, then answers.",
			input: none, readOnly: true, run: (*serverSession).progress},
		{name: "slow", title: "Slow", description: "Waits until cancelled (then sends no response) or until its timeout; reports progress 0 when it starts waiting.",
			input: none, readOnly: true, run: (*serverSession).slow},
		{name: "content", title: "Content", description: "Returns one block of every content type of the revision.",
			input: none, readOnly: true, run: (*serverSession).content},
		{name: "roots", title: "Roots", description: "Lists the client's roots (roots/list).",
			input: none, readOnly: true, mrtr: true, run: (*serverSession).roots},
		{name: "touch", title: "Touch", description: touchDesc,
			input: objectSchema(touchArgs), run: (*serverSession).touch},
		{name: "url_login", title: "URL login", description: "Needs the user to sign in at a URL first: the first call of a session fails with URLElicitationRequiredError (-32042), later ones answer.",
			since: schemas.V20251125, until: schemas.V20251125, input: none, readOnly: true, run: (*serverSession).urlLogin},
		// 2026-07-28 has no ping and no server-to-client requests.
		{name: "ping_client", title: "Ping client", description: "Sends ping to the client and waits for the answer.",
			until: schemas.V20251125, input: none, readOnly: true, run: (*serverSession).pingClient},
		// x-mcp-header (4.T5) is 2026-07-28's.
		routeTool(),
	}
	out := all[:0]
	for _, t := range all {
		if t.in(rev) {
			out = append(out, t)
		}
	}
	return out
}

// toolList returns the tools/list entries of the revision.
func (ss *serverSession) toolList() []any {
	rev := ss.srv.rev
	var out []any
	for _, t := range tools(rev) {
		def := map[string]any{"name": t.name, "description": t.description, "inputSchema": t.input}
		if rev >= schemas.V20250326 {
			def["annotations"] = map[string]any{"readOnlyHint": t.readOnly, "openWorldHint": false}
		}
		if rev >= schemas.V20250618 {
			def["title"] = t.title
			if t.output != nil {
				def["outputSchema"] = t.output
			}
		}
		if rev >= schemas.V20251125 && t.name == "echo" {
			def["icons"] = icons()
		}
		out = append(out, def)
	}
	return out
}

// icons returns the icon list of the demo (2025-11-25 on).
func icons() []any {
	return []any{map[string]any{"src": "data:image/png;base64," + pngBase64, "mimeType": "image/png", "sizes": []string{"1x1"}}}
}

func (ss *serverSession) callTool(ctx context.Context, req *session.Request) (any, error) {
	var call toolCall
	if err := decodeParams(req.Params, &call); err != nil {
		return nil, err
	}
	for _, t := range tools(ss.srv.rev) {
		if t.name != call.Name {
			continue
		}
		if ss.st != nil && !t.mrtr && (call.RequestState != nil || call.InputResponses != nil) {
			return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: tool %s takes no inputResponses or requestState (it asks for no input)", t.name)
		}
		return t.run(ss, ctx, &call)
	}
	return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Unknown tool: " + call.Name, Data: map[string]any{"tool": call.Name}}
}

// textResult is a CallToolResult with one text block.
func textResult(text string) map[string]any {
	return map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}}
}

// toolError is a CallToolResult that reports a failure of the tool.
func toolError(format string, args ...any) map[string]any {
	r := textResult(fmt.Sprintf(format, args...))
	r["isError"] = true
	return r
}

// argError reports invalid tool arguments: from 2025-11-25 on as a tool
// error the model can see and correct, before as a protocol error
// (-32602).
func (ss *serverSession) argError(format string, args ...any) (any, error) {
	if ss.srv.rev >= schemas.V20251125 {
		return toolError(format, args...), nil
	}
	return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Invalid arguments: " + fmt.Sprintf(format, args...)}
}

// arguments decodes the tool arguments into v.
func (ss *serverSession) arguments(call *toolCall, v any) error {
	if len(call.Arguments) == 0 || string(call.Arguments) == "null" {
		return nil
	}
	return json.Unmarshal(call.Arguments, v)
}

func (ss *serverSession) echo(ctx context.Context, call *toolCall) (any, error) {
	var a struct {
		Text *string `json:"text"`
	}
	if err := ss.arguments(call, &a); err != nil || a.Text == nil {
		return ss.argError("echo needs a string argument text")
	}
	if err := ss.logToClient(ctx, "info", "echo: "+*a.Text); err != nil {
		return nil, err
	}
	return textResult(*a.Text), nil
}

func (ss *serverSession) add(_ context.Context, call *toolCall) (any, error) {
	var a struct {
		A, B *float64
	}
	if err := ss.arguments(call, &a); err != nil || a.A == nil || a.B == nil {
		return ss.argError("add needs number arguments a and b")
	}
	sum := *a.A + *a.B
	r := textResult(strconv.FormatFloat(sum, 'g', -1, 64))
	if ss.srv.rev >= schemas.V20250618 {
		r["structuredContent"] = map[string]any{"sum": sum}
	}
	return r, nil
}

// samplingParams returns the params of the sampling/createMessage the
// sample tool sends.
func samplingParams(prompt string) map[string]any {
	return map[string]any{
		"messages":  []any{map[string]any{"role": "user", "content": map[string]any{"type": "text", "text": prompt}}},
		"maxTokens": 100,
	}
}

// samplingText returns the text of a CreateMessageResult: its text
// blocks, and [type] for the others, one a line.
func samplingText(raw json.RawMessage) (string, error) {
	var res struct {
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", fmt.Errorf("demo: sampling result: %w", err)
	}
	type block struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	// The content is one block, or from 2025-11-25 on possibly an array.
	var blocks []block
	var err error
	if len(res.Content) > 0 && res.Content[0] == '[' {
		err = json.Unmarshal(res.Content, &blocks)
	} else {
		blocks = make([]block, 1)
		err = json.Unmarshal(res.Content, &blocks[0])
	}
	if err != nil {
		return "", fmt.Errorf("demo: sampling result content: %w", err)
	}
	var text []string
	for _, b := range blocks {
		if b.Type == "text" {
			text = append(text, b.Text)
		} else {
			text = append(text, "["+b.Type+"]")
		}
	}
	return strings.Join(text, "\n"), nil
}

func (ss *serverSession) sample(ctx context.Context, call *toolCall) (any, error) {
	var a struct {
		Prompt string `json:"prompt"`
		Rounds *int   `json:"rounds"`
	}
	if err := ss.arguments(call, &a); err != nil {
		return ss.argError("sample takes a string argument prompt and an integer argument rounds")
	}
	if a.Prompt == "" {
		a.Prompt = "Say hello."
	}
	rounds := 1
	if a.Rounds != nil {
		rounds = *a.Rounds
	}
	if rounds < 1 || rounds > maxRounds {
		return ss.argError("sample: rounds must be 1 to %d", maxRounds)
	}
	if ss.st != nil {
		return ss.sampleMRTR(ctx, call, a.Prompt, rounds)
	}
	if !ss.clientHas("sampling") {
		return toolError("the client does not support sampling"), nil
	}
	var texts []string
	for range rounds {
		raw, err := ss.peer.Call(ctx, "sampling/createMessage", samplingParams(a.Prompt))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return toolError("sampling failed: %v", err), nil
		}
		text, err := samplingText(raw)
		if err != nil {
			return nil, err
		}
		texts = append(texts, text)
	}
	return textResult(strings.Join(texts, "\n")), nil
}

// sampleMRTR is sample in 2026-07-28: one round trip per round, the
// answers so far in the requestState.
func (ss *serverSession) sampleMRTR(ctx context.Context, call *toolCall, prompt string, rounds int) (any, error) {
	if !metaOf(ctx).has("sampling") {
		return nil, missingCapability(map[string]any{"sampling": map[string]any{}})
	}
	st, responses, err := ss.resume(call)
	if err != nil {
		return nil, err
	}
	var texts []string
	if st != nil {
		if err := json.Unmarshal(st.Data, &texts); err != nil {
			return nil, invalidState("bad data: %v", err)
		}
	}
	key := fmt.Sprintf("sample-%d", len(texts)+1)
	if raw, ok := responses[key]; ok {
		text, err := samplingText(raw)
		if err != nil {
			return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: %v", err)
		}
		texts = append(texts, text)
		key = fmt.Sprintf("sample-%d", len(texts)+1)
	}
	if len(texts) >= rounds {
		return textResult(strings.Join(texts, "\n")), nil
	}
	return ss.ask(call, map[string]inputRequest{key: {Method: "sampling/createMessage", Params: samplingParams(prompt)}}, texts)
}

// elicitParams returns the params of the elicitation/create the elicit
// tool sends.
func (ss *serverSession) elicitParams(message string) map[string]any {
	params := map[string]any{
		"message": message,
		"requestedSchema": map[string]any{
			"type":       "object",
			"properties": map[string]any{"name": map[string]any{"type": "string", "title": "Name", "description": "Your name"}},
			"required":   []string{"name"},
		},
	}
	if ss.srv.rev >= schemas.V20251125 {
		params["mode"] = "form"
	}
	return params
}

// elicitResult returns the elicit tool's result for an ElicitResult, and
// the sampling answer when the call asked for one (sampled not nil).
func elicitResult(raw json.RawMessage, sampled *string) (any, error) {
	var res map[string]any
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("demo: elicitation result: %w", err)
	}
	answer := map[string]any{"action": res["action"]}
	if c, ok := res["content"]; ok {
		answer["content"] = c
	}
	if sampled != nil {
		answer["sampled"] = *sampled
	}
	text, err := json.Marshal(answer)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	r := textResult(string(text))
	r["structuredContent"] = answer
	return r, nil
}

func (ss *serverSession) elicit(ctx context.Context, call *toolCall) (any, error) {
	var a struct {
		Message string `json:"message"`
		Sample  bool   `json:"sample"`
	}
	if err := ss.arguments(call, &a); err != nil {
		return ss.argError("elicit takes a string argument message and a boolean argument sample")
	}
	if a.Message == "" {
		a.Message = "What is your name?"
	}
	if ss.st != nil {
		return ss.elicitMRTR(ctx, call, a.Message, a.Sample)
	}
	if !ss.clientHas("elicitation") {
		return toolError("the client does not support elicitation"), nil
	}
	var sampled *string
	if a.Sample {
		if !ss.clientHas("sampling") {
			return toolError("the client does not support sampling"), nil
		}
		raw, err := ss.peer.Call(ctx, "sampling/createMessage", samplingParams(a.Message))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return toolError("sampling failed: %v", err), nil
		}
		text, err := samplingText(raw)
		if err != nil {
			return nil, err
		}
		sampled = &text
	}
	raw, err := ss.peer.Call(ctx, "elicitation/create", ss.elicitParams(a.Message))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return toolError("elicitation failed: %v", err), nil
	}
	return elicitResult(raw, sampled)
}

// elicitMRTR is elicit in 2026-07-28. With sample, the sampling request
// and the elicitation go out together, in one InputRequiredResult, and
// the call answers once both are answered.
func (ss *serverSession) elicitMRTR(ctx context.Context, call *toolCall, message string, sample bool) (any, error) {
	// Form mode: elicitation {} (which means form) or with form.
	var caps struct {
		Form json.RawMessage `json:"form"`
		URL  json.RawMessage `json:"url"`
	}
	raw, declared := metaOf(ctx).ClientCapabilities["elicitation"]
	if declared {
		declared = json.Unmarshal(raw, &caps) == nil && (caps.Form != nil || caps.URL == nil)
	}
	switch {
	case !declared && sample && !metaOf(ctx).has("sampling"):
		return nil, missingCapability(map[string]any{"elicitation": map[string]any{"form": map[string]any{}}, "sampling": map[string]any{}})
	case !declared:
		return nil, missingCapability(map[string]any{"elicitation": map[string]any{"form": map[string]any{}}})
	case sample && !metaOf(ctx).has("sampling"):
		return nil, missingCapability(map[string]any{"sampling": map[string]any{}})
	}
	_, responses, err := ss.resume(call)
	if err != nil {
		return nil, err
	}
	const key, sampleKey = "elicit-1", "sample-1"
	raw, answered := responses[key]
	var sampled *string
	if sample {
		if sraw, ok := responses[sampleKey]; ok {
			text, err := samplingText(sraw)
			if err != nil {
				return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: %v", err)
			}
			sampled = &text
		} else {
			answered = false
		}
	}
	if answered {
		return elicitResult(raw, sampled)
	}
	asks := map[string]inputRequest{key: {Method: "elicitation/create", Params: ss.elicitParams(message)}}
	if sample {
		asks[sampleKey] = inputRequest{Method: "sampling/createMessage", Params: samplingParams(message)}
	}
	return ss.ask(call, asks, nil)
}

func (ss *serverSession) progress(ctx context.Context, call *toolCall) (any, error) {
	token := call.Meta.ProgressToken
	if len(token) == 0 {
		return textResult("no progressToken: nothing to report"), nil
	}
	const steps = 3
	for i := 1; i <= steps; i++ {
		p := map[string]any{"progressToken": token, "progress": i, "total": steps}
		if ss.srv.rev >= schemas.V20250326 {
			p["message"] = fmt.Sprintf("step %d of %d", i, steps)
		}
		if err := ss.peer.Notify(ctx, "notifications/progress", p); err != nil {
			return nil, err
		}
	}
	return textResult(fmt.Sprintf("done in %d steps", steps)), nil
}

func (ss *serverSession) slow(ctx context.Context, call *toolCall) (any, error) {
	if token := call.Meta.ProgressToken; len(token) > 0 {
		// Tell the client the wait has begun, so it can cancel a running
		// request.
		if err := ss.peer.Notify(ctx, "notifications/progress", map[string]any{"progressToken": token, "progress": 0}); err != nil {
			return nil, err
		}
	}
	t := time.NewTimer(ss.srv.slowTimeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-t.C:
		return textResult("slow: finished after " + ss.srv.slowTimeout.String()), nil
	}
}

// content returns one block of every content type the revision has in
// CallToolResult.content.
func (ss *serverSession) content(_ context.Context, _ *toolCall) (any, error) {
	rev := ss.srv.rev
	ann := map[string]any{"audience": []string{"user", "assistant"}, "priority": 0.5}
	if rev >= schemas.V20250618 {
		ann["lastModified"] = "2025-01-12T15:00:58Z"
	}
	blocks := []any{
		map[string]any{"type": "text", "text": "A text block.", "annotations": ann},
		map[string]any{"type": "image", "data": pngBase64, "mimeType": "image/png"},
	}
	if rev >= schemas.V20250326 {
		blocks = append(blocks, map[string]any{"type": "audio", "data": wavBase64, "mimeType": "audio/wav"})
	}
	if rev >= schemas.V20250618 {
		blocks = append(blocks, map[string]any{"type": "resource_link", "uri": readmeURI, "name": "readme", "title": "Read me", "mimeType": "text/plain"})
	}
	blocks = append(blocks,
		map[string]any{"type": "resource", "resource": map[string]any{"uri": readmeURI, "mimeType": "text/plain", "text": readmeText}},
		map[string]any{"type": "resource", "resource": map[string]any{"uri": logoURI, "mimeType": "image/png", "blob": pngBase64}},
	)
	return map[string]any{"content": blocks}, nil
}

// rootsResult returns the roots tool's result for a ListRootsResult: a
// line per root, its URI and name.
func rootsResult(raw json.RawMessage) (any, error) {
	var res struct {
		Roots []struct {
			URI  string `json:"uri"`
			Name string `json:"name,omitempty"`
		} `json:"roots"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("demo: roots result: %w", err)
	}
	var lines []string
	for _, r := range res.Roots {
		lines = append(lines, strings.TrimSpace(r.URI+" "+r.Name))
	}
	return textResult(strings.Join(lines, "\n")), nil
}

func (ss *serverSession) roots(ctx context.Context, call *toolCall) (any, error) {
	if ss.st != nil {
		return ss.rootsMRTR(ctx, call)
	}
	if !ss.clientHas("roots") {
		return toolError("the client does not support roots"), nil
	}
	raw, err := ss.peer.Call(ctx, "roots/list", nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return toolError("roots/list failed: %v", err), nil
	}
	return rootsResult(raw)
}

// rootsMRTR is roots in 2026-07-28.
func (ss *serverSession) rootsMRTR(ctx context.Context, call *toolCall) (any, error) {
	if !metaOf(ctx).has("roots") {
		return nil, missingCapability(map[string]any{"roots": map[string]any{}})
	}
	_, responses, err := ss.resume(call)
	if err != nil {
		return nil, err
	}
	const key = "roots-1"
	if raw, ok := responses[key]; ok {
		return rootsResult(raw)
	}
	return ss.ask(call, map[string]inputRequest{key: {Method: "roots/list"}}, nil)
}

func (ss *serverSession) touch(ctx context.Context, call *toolCall) (any, error) {
	var a struct {
		URI   string `json:"uri"`
		Later bool   `json:"later"`
		List  string `json:"list"`
	}
	if err := ss.arguments(call, &a); err != nil {
		return ss.argError("touch takes a string argument uri and a boolean later")
	}
	if a.URI == "" {
		a.URI = readmeURI
	}
	if _, ok := readResource(a.URI); !ok {
		return toolError("no resource %s", a.URI), nil
	}
	if ss.st != nil {
		return ss.touchListeners(a.URI, a.Later, a.List)
	}
	ss.mu.Lock()
	subscribed := ss.subs[a.URI]
	ss.mu.Unlock()
	switch {
	case subscribed && a.Later:
		// Unrelated to the request: a fresh context carries no request id.
		uri := a.URI
		time.AfterFunc(50*time.Millisecond, func() {
			nctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := ss.peer.Notify(nctx, "notifications/resources/updated", map[string]any{"uri": uri}); err != nil {
				ss.srv.log.Debug("demo: late resources/updated not sent", "err", err)
			}
		})
	case subscribed:
		if err := ss.peer.Notify(ctx, "notifications/resources/updated", map[string]any{"uri": a.URI}); err != nil {
			return nil, err
		}
	}
	return textResult(fmt.Sprintf("touched %s (subscribed: %t)", a.URI, subscribed)), nil
}

// touchListeners is touch in 2026-07-28: the notifications go to the
// subscriptions/listen streams that asked for them (REVISIONS.md 4.M3).
func (ss *serverSession) touchListeners(uri string, later bool, list string) (any, error) {
	switch list {
	case "", listTools, listPrompts, listResources:
	default:
		return ss.argError("touch: list must be tools, prompts or resources, not %q", list)
	}
	hub := ss.srv.hub
	subscribed := hub.subscribed(uri)
	notify := func() {
		hub.resourceUpdated(uri)
		if list != "" {
			hub.listChanged(list)
		}
	}
	if later {
		time.AfterFunc(50*time.Millisecond, notify)
	} else {
		notify()
	}
	return textResult(fmt.Sprintf("touched %s (subscribed: %t)", uri, subscribed)), nil
}

// URLLoginID is the elicitationId of the url_login tool's URL elicitation.
const URLLoginID = "demo-login-1"

// urlLogin is the url_login tool (2025-11-25 only): the first call of a
// session asks for a URL elicitation with -32042 and announces its
// completion with notifications/elicitation/complete (the demo's user signs
// in at once); later calls answer.
func (ss *serverSession) urlLogin(ctx context.Context, _ *toolCall) (any, error) {
	ss.mu.Lock()
	first := !ss.signedIn
	ss.signedIn = true
	ss.mu.Unlock()
	if !first {
		return textResult("signed in"), nil
	}
	go func() {
		if err := ss.peer.Notify(context.WithoutCancel(ctx), "notifications/elicitation/complete", map[string]any{"elicitationId": URLLoginID}); err != nil {
			ss.srv.log.Debug("elicitation/complete", "err", err)
		}
	}()
	return nil, &jsonrpc.Error{Code: -32042, Message: "URL elicitation required", Data: map[string]any{
		"elicitations": []map[string]any{{
			"mode": "url", "elicitationId": URLLoginID, "url": "https://login.demo.test/", "message": "Sign in to continue",
		}},
	}}
}

func (ss *serverSession) pingClient(ctx context.Context, _ *toolCall) (any, error) {
	if _, err := ss.peer.Call(ctx, "ping", nil); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return toolError("ping failed: %v", err), nil
	}
	return textResult("pong"), nil
}
