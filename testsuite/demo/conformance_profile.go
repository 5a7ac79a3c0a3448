package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// Profiles of the demo server: which tools, resources and prompts it
// offers.
const (
	// ProfileDefault offers the demo's own fixtures (echo, add, ...,
	// demo://static/readme, greet).
	ProfileDefault = "default"
	// ProfileConformance offers the fixtures the scenarios of the official
	// MCP conformance suite (@modelcontextprotocol/conformance) expect of
	// the server under test (test_simple_text, test://static-text,
	// test_simple_prompt, ...), as far as the server's revision can
	// express them. It is for the revisions up to 2025-11-25: a
	// 2026-07-28 client reaches it through the broker's bridge.
	ProfileConformance = "conformance"
)

// WithProfile selects the fixtures the server offers: ProfileDefault (the
// default) or ProfileConformance.
func WithProfile(name string) Option {
	return func(s *Server) { s.profile = name }
}

// checkProfile validates the profile of a server of revision rev.
func checkProfile(profile string, rev schemas.Revision) error {
	switch profile {
	case "", ProfileDefault:
		return nil
	case ProfileConformance:
		if rev.Stateless() {
			return fmt.Errorf("demo: profile %s is for the revisions up to 2025-11-25; put the broker in front of one for %s", profile, rev)
		}
		return nil
	}
	return fmt.Errorf("demo: unknown profile %q (want %s or %s)", profile, ProfileDefault, ProfileConformance)
}

// The conformance fixtures' texts and URIs, as the suite's scenarios
// describe them.
const (
	cfStaticTextURI   = "test://static-text"
	cfStaticBinaryURI = "test://static-binary"
	cfWatchedURI      = "test://watched-resource"
	cfTemplate        = "test://template/{id}/data"
	cfTemplatePrefix  = "test://template/"
	cfTemplateSuffix  = "/data"
	cfEmbeddedURI     = "test://embedded-resource"
	cfMixedURI        = "test://mixed-content-resource"
	cfAudioURI        = "test://audio-resource"
	cfStaticText      = "This is the content of the static text resource."
	cfWatchedText     = "This resource is watched for changes."
	cfPromptArgs      = "test_prompt_with_arguments"
	cfElicitPrompt    = "test_input_required_result_prompt"
	// cfStepDelay is the pause between the log messages and the progress
	// notifications of the logging and progress tools (~50ms in the
	// scenarios).
	cfStepDelay = 50 * time.Millisecond
)

// cfTool is a tool of the conformance profile.
type cfTool struct {
	name        string
	description string
	since       schemas.Revision // first revision that offers it
	input       map[string]any
	run         func(ss *serverSession, ctx context.Context, call *toolCall) (any, error)
}

// cfTools returns the conformance tools of revision rev.
func cfTools(rev schemas.Revision) []cfTool {
	none := objectSchema(nil)
	all := []cfTool{
		{name: "test_simple_text", description: "Returns simple text content.", input: none, run: cfText("This is a simple text response for testing.")},
		{name: "test_image_content", description: "Returns image content (a 1x1 PNG).", input: none, run: cfContent(map[string]any{"type": "image", "data": pngBase64, "mimeType": "image/png"})},
		{name: "test_audio_content", description: "Returns audio content (a WAV file); before 2025-03-26, which has no audio content, the same WAV as an embedded resource.", input: none, run: (*serverSession).cfAudio},
		{name: "test_embedded_resource", description: "Returns an embedded text resource.", input: none, run: cfContent(map[string]any{"type": "resource", "resource": map[string]any{
			"uri": cfEmbeddedURI, "mimeType": "text/plain", "text": "This is an embedded resource content.",
		}})},
		{name: "test_multiple_content_types", description: "Returns text, image and embedded resource content.", input: none, run: cfContent(
			map[string]any{"type": "text", "text": "Multiple content types test:"},
			map[string]any{"type": "image", "data": pngBase64, "mimeType": "image/png"},
			map[string]any{"type": "resource", "resource": map[string]any{"uri": cfMixedURI, "mimeType": "application/json", "text": `{"test":"data","value":123}`}},
		)},
		{name: "test_tool_with_logging", description: "Sends 3 log messages at info level while it runs.", input: none, run: (*serverSession).cfLogging},
		{name: "test_tool_with_progress", description: "Reports progress 0, 50 and 100 of 100 for the request's progressToken.", input: none, run: (*serverSession).cfProgress},
		{name: "test_error_handling", description: "Always fails with isError true.", input: none, run: func(*serverSession, context.Context, *toolCall) (any, error) {
			return toolError("This tool intentionally returns an error for testing"), nil
		}},
		{name: "test_sampling", description: "Asks the client's model (sampling/createMessage) for the prompt.",
			input: objectSchema([][3]string{{"prompt", "string", "The prompt to send to the LLM"}}, "prompt"), run: (*serverSession).cfSampling},
		// What 2026-07-28 clients reach as multi round-trip requests
		// through the broker's bridge: the server asks as its revision
		// does, with server-to-client requests.
		{name: "test_missing_capability", description: "Needs the client's sampling capability (asks its model).", input: none, run: cfSampleFixed("Say hello.")},
		{name: "test_input_required_result_sampling", description: "Asks the client's model what the capital of France is.", input: none, run: cfSampleFixed("What is the capital of France?")},
		{name: "test_input_required_result_tampered_state", description: "Asks the client's model to confirm (the broker seals the state of a 2026-07-28 retry).", input: none, run: cfSampleFixed("Please confirm")},
		{name: "test_input_required_result_capabilities", description: "Asks the client's model if the client declared sampling (and for nothing it did not declare).", input: none, run: (*serverSession).cfCapabilities},
		{name: "test_logging_tool", description: "Logs 3 messages at level info (none unless the client asked for a log level).", input: none, run: (*serverSession).cfLogging},
		{name: "test_trigger_tool_change", description: "Announces a change of the tool list (notifications/tools/list_changed).", input: none, run: cfListChanged("tools")},
		{name: "test_trigger_prompt_change", description: "Announces a change of the prompt list (notifications/prompts/list_changed).", input: none, run: cfListChanged("prompts")},
		{name: "json_schema_2020_12_tool", description: "Takes arguments described with JSON Schema 2020-12 keywords; echoes them.", input: jsonSchema202012(), run: (*serverSession).cfEchoArgs},
		{name: "test_input_required_result_list_roots", description: "Lists the client's roots (roots/list).", input: none, run: (*serverSession).cfRoots},
		{name: "test_elicitation", description: "Asks the user (elicitation/create) for a username and an email.", since: schemas.V20250618,
			input: objectSchema([][3]string{{"message", "string", "The message to show the user"}}, "message"), run: (*serverSession).cfElicitation},
		// Multi round-trip fixtures that elicit (2025-06-18 on): through
		// the bridge each elicitation/create becomes an input request.
		{name: "test_input_required_result_elicitation", description: "Asks the user's name (elicitation/create) and greets them.", since: schemas.V20250618, input: none,
			run: (*serverSession).cfGreet},
		{name: "test_input_required_result_multi_round", description: "Asks the user's name, then their favorite color (two elicitations, one after the other).", since: schemas.V20250618, input: none,
			run: (*serverSession).cfMultiRound},
		{name: "test_input_required_result_multiple_inputs", description: "Asks the user's name, the client's model and the client's roots at once (three concurrent requests).", since: schemas.V20250618, input: none,
			run: (*serverSession).cfMultipleInputs},
		{name: "test_streaming_elicitation", description: "Asks the user's name (elicitation/create) while the call runs.", since: schemas.V20250618, input: none,
			run: (*serverSession).cfGreet},
		{name: "test_elicitation_sep1034_defaults", description: "Elicits a form whose fields of every primitive type have defaults (SEP-1034).", since: schemas.V20251125, input: none,
			run: cfElicitFixed("Please review and update the form fields with defaults", sep1034Schema())},
		{name: "test_elicitation_sep1330_enums", description: "Elicits a form with the 5 enum variants of SEP-1330.", since: schemas.V20251125, input: none,
			run: cfElicitFixed("Please select options from the enum fields", sep1330Schema())},
	}
	out := all[:0]
	for _, t := range all {
		if t.since <= rev {
			out = append(out, t)
		}
	}
	return out
}

// cfText returns a tool run function that answers text.
func cfText(text string) func(*serverSession, context.Context, *toolCall) (any, error) {
	return func(*serverSession, context.Context, *toolCall) (any, error) { return textResult(text), nil }
}

// cfContent returns a tool run function that answers the content blocks.
func cfContent(blocks ...any) func(*serverSession, context.Context, *toolCall) (any, error) {
	return func(*serverSession, context.Context, *toolCall) (any, error) {
		return map[string]any{"content": blocks}, nil
	}
}

// conformanceHandle answers the requests whose fixtures the conformance
// profile replaces; handled is false for the others (ping, logging,
// subscriptions, which the default handlers serve).
func (ss *serverSession) conformanceHandle(ctx context.Context, req *session.Request) (result any, handled bool, err error) {
	switch req.Method {
	case "tools/list":
		var list []any
		for _, t := range cfTools(ss.srv.rev) {
			list = append(list, map[string]any{"name": t.name, "description": t.description, "inputSchema": t.input})
		}
		return map[string]any{"tools": list}, true, nil
	case "tools/call":
		var call toolCall
		if err := decodeParams(req.Params, &call); err != nil {
			return nil, true, err
		}
		for _, t := range cfTools(ss.srv.rev) {
			if t.name == call.Name {
				r, err := t.run(ss, ctx, &call)
				return r, true, err
			}
		}
		return nil, true, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "Unknown tool: " + call.Name, Data: map[string]any{"tool": call.Name}}
	case "resources/list":
		return map[string]any{"resources": []any{
			map[string]any{"uri": cfStaticTextURI, "name": "Static Text Resource", "description": "A static text resource for testing", "mimeType": "text/plain"},
			map[string]any{"uri": cfStaticBinaryURI, "name": "Static Binary Resource", "description": "A static binary resource (image) for testing", "mimeType": "image/png"},
			map[string]any{"uri": cfWatchedURI, "name": "Watched Resource", "description": "A resource for testing subscriptions", "mimeType": "text/plain"},
		}}, true, nil
	case "resources/templates/list":
		return map[string]any{"resourceTemplates": []any{
			map[string]any{"uriTemplate": cfTemplate, "name": "Template Resource", "description": "A resource template with parameter substitution", "mimeType": "application/json"},
		}}, true, nil
	case "resources/read":
		var p struct {
			URI string `json:"uri"`
		}
		if err := decodeParams(req.Params, &p); err != nil {
			return nil, true, err
		}
		c, ok := cfResource(p.URI)
		if !ok {
			return nil, true, ss.resourceNotFound(p.URI)
		}
		return map[string]any{"contents": []any{c}}, true, nil
	case "resources/subscribe", "resources/unsubscribe":
		var p struct {
			URI string `json:"uri"`
		}
		if err := decodeParams(req.Params, &p); err != nil {
			return nil, true, err
		}
		if _, ok := cfResource(p.URI); !ok {
			return nil, true, ss.resourceNotFound(p.URI)
		}
		ss.mu.Lock()
		if req.Method == "resources/subscribe" {
			ss.subs[p.URI] = true
		} else {
			delete(ss.subs, p.URI)
		}
		ss.mu.Unlock()
		return struct{}{}, true, nil
	case "prompts/list":
		arg := func(name, desc string) map[string]any {
			return map[string]any{"name": name, "description": desc, "required": true}
		}
		prompts := []any{
			map[string]any{"name": "test_simple_prompt", "description": "A simple prompt without arguments"},
			map[string]any{"name": cfPromptArgs, "description": "A prompt with arguments", "arguments": []any{arg("arg1", "First test argument"), arg("arg2", "Second test argument")}},
			map[string]any{"name": "test_prompt_with_embedded_resource", "description": "A prompt with an embedded resource", "arguments": []any{arg("resourceUri", "URI of the resource to embed")}},
			map[string]any{"name": "test_prompt_with_image", "description": "A prompt with image content"},
		}
		if ss.srv.rev >= schemas.V20250618 {
			prompts = append(prompts, map[string]any{"name": cfElicitPrompt, "description": "A prompt that asks the user for its context (elicitation/create)"})
		}
		return map[string]any{"prompts": prompts}, true, nil
	case "prompts/get":
		r, err := ss.cfPrompt(ctx, req.Params)
		return r, true, err
	case "completion/complete":
		r, err := cfComplete(req.Params)
		return r, true, err
	}
	return nil, false, nil
}

// cfResource returns the contents entry of a conformance resource, and
// false when there is none.
func cfResource(uri string) (map[string]any, bool) {
	switch uri {
	case cfStaticTextURI:
		return map[string]any{"uri": uri, "mimeType": "text/plain", "text": cfStaticText}, true
	case cfStaticBinaryURI:
		return map[string]any{"uri": uri, "mimeType": "image/png", "blob": pngBase64}, true
	case cfWatchedURI:
		return map[string]any{"uri": uri, "mimeType": "text/plain", "text": cfWatchedText}, true
	}
	rest, ok := strings.CutPrefix(uri, cfTemplatePrefix)
	if !ok {
		return nil, false
	}
	id, ok := strings.CutSuffix(rest, cfTemplateSuffix)
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return nil, false
	}
	text, err := json.Marshal(map[string]any{"id": id, "templateTest": true, "data": "Data for ID: " + id})
	if err != nil {
		return nil, false
	}
	return map[string]any{"uri": uri, "mimeType": "application/json", "text": string(text)}, true
}

// cfPrompt answers prompts/get for the conformance prompts.
func (ss *serverSession) cfPrompt(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		Name      string            `json:"name"`
		Arguments map[string]string `json:"arguments"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	user := func(content map[string]any) map[string]any { return map[string]any{"role": "user", "content": content} }
	text := func(s string) map[string]any { return map[string]any{"type": "text", "text": s} }
	need := func(names ...string) error {
		for _, n := range names {
			if p.Arguments[n] == "" {
				return errorf(jsonrpc.CodeInvalidParams, "Invalid params: missing required argument %q", n)
			}
		}
		return nil
	}
	var msgs []any
	switch p.Name {
	case "test_simple_prompt":
		msgs = []any{user(text("This is a simple prompt for testing."))}
	case cfPromptArgs:
		if err := need("arg1", "arg2"); err != nil {
			return nil, err
		}
		msgs = []any{user(text(fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", p.Arguments["arg1"], p.Arguments["arg2"])))}
	case "test_prompt_with_embedded_resource":
		if err := need("resourceUri"); err != nil {
			return nil, err
		}
		msgs = []any{
			user(map[string]any{"type": "resource", "resource": map[string]any{"uri": p.Arguments["resourceUri"], "mimeType": "text/plain", "text": "Embedded resource content for testing."}}),
			user(text("Please process the embedded resource above.")),
		}
	case cfElicitPrompt:
		if ss.srv.rev < schemas.V20250618 {
			return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: unknown prompt %q", p.Name)
		}
		answer, err := ss.cfAsk(ctx, "What context should the prompt use?", "context")
		if err != nil {
			return nil, err
		}
		msgs = []any{user(text("Use this context: " + answer))}
	case "test_prompt_with_image":
		msgs = []any{
			user(map[string]any{"type": "image", "data": pngBase64, "mimeType": "image/png"}),
			user(text("Please analyze the image above.")),
		}
	default:
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: unknown prompt %q", p.Name)
	}
	return map[string]any{"messages": msgs}, nil
}

// cfComplete answers completion/complete: values for the arguments of
// test_prompt_with_arguments and the id of the template.
func cfComplete(params json.RawMessage) (any, error) {
	var p completeParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	var all []string
	switch {
	case p.Ref.Type == "ref/prompt" && p.Ref.Name == cfPromptArgs:
		all = []string{"paris", "park", "party", "hello", "world"}
	case p.Ref.Type == "ref/resource" && p.Ref.URI == cfTemplate:
		all = []string{"1", "2", "3", "123"}
	default:
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: nothing to complete for %s %s%s", p.Ref.Type, p.Ref.Name, p.Ref.URI)
	}
	return completionResult(all, p.Argument.Value), nil
}

// cfAudio is test_audio_content: audio content from 2025-03-26 on; before,
// the WAV file as an embedded resource (the nearest 2024-11-05 has).
func (ss *serverSession) cfAudio(context.Context, *toolCall) (any, error) {
	if ss.srv.rev >= schemas.V20250326 {
		return map[string]any{"content": []any{map[string]any{"type": "audio", "data": wavBase64, "mimeType": "audio/wav"}}}, nil
	}
	return map[string]any{"content": []any{map[string]any{"type": "resource", "resource": map[string]any{
		"uri": cfAudioURI, "mimeType": "audio/wav", "blob": wavBase64,
	}}}}, nil
}

// cfPause waits d or until ctx ends.
func cfPause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// cfLogging is test_tool_with_logging: 3 messages at level info, ~50ms
// apart.
func (ss *serverSession) cfLogging(ctx context.Context, _ *toolCall) (any, error) {
	msgs := []string{"Tool execution started", "Tool processing data", "Tool execution completed"}
	for i, m := range msgs {
		if i > 0 {
			if err := cfPause(ctx, cfStepDelay); err != nil {
				return nil, err
			}
		}
		if err := ss.logToClient(ctx, "info", m); err != nil {
			return nil, err
		}
	}
	return textResult("Tool with logging executed successfully"), nil
}

// cfProgress is test_tool_with_progress: progress 0, 50 and 100 of 100,
// ~50ms apart.
func (ss *serverSession) cfProgress(ctx context.Context, call *toolCall) (any, error) {
	token := call.Meta.ProgressToken
	for i, p := range []int{0, 50, 100} {
		if i > 0 {
			if err := cfPause(ctx, cfStepDelay); err != nil {
				return nil, err
			}
		}
		if len(token) == 0 {
			continue
		}
		if err := ss.peer.Notify(ctx, "notifications/progress", map[string]any{"progressToken": token, "progress": p, "total": 100}); err != nil {
			return nil, err
		}
	}
	return textResult("Tool with progress executed successfully"), nil
}

// cfSampling is test_sampling.
func (ss *serverSession) cfSampling(ctx context.Context, call *toolCall) (any, error) {
	var a struct {
		Prompt *string `json:"prompt"`
	}
	if err := ss.arguments(call, &a); err != nil || a.Prompt == nil {
		return ss.argError("test_sampling needs a string argument prompt")
	}
	return ss.cfSample(ctx, *a.Prompt)
}

// cfSampleFixed returns a tool run function that asks the client's model
// prompt.
func cfSampleFixed(prompt string) func(*serverSession, context.Context, *toolCall) (any, error) {
	return func(ss *serverSession, ctx context.Context, _ *toolCall) (any, error) {
		return ss.cfSample(ctx, prompt)
	}
}

// cfSample sends sampling/createMessage and answers its text.
func (ss *serverSession) cfSample(ctx context.Context, prompt string) (any, error) {
	if !ss.clientHas("sampling") {
		return toolError("the client does not support sampling"), nil
	}
	raw, err := ss.peer.Call(ctx, "sampling/createMessage", samplingParams(prompt))
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
	return textResult("LLM response: " + text), nil
}

// cfRoots is test_input_required_result_list_roots: the client's roots.
func (ss *serverSession) cfRoots(ctx context.Context, _ *toolCall) (any, error) {
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
	var res struct {
		Roots []struct {
			URI string `json:"uri"`
		} `json:"roots"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("demo: roots result: %w", err)
	}
	uris := make([]string, 0, len(res.Roots))
	for _, r := range res.Roots {
		uris = append(uris, r.URI)
	}
	return textResult(fmt.Sprintf("Client roots (%d): %s", len(uris), strings.Join(uris, ", "))), nil
}

// cfListChanged returns a tool run function that sends
// notifications/<list>/list_changed (the conformance profile declares
// listChanged for tools, prompts and resources).
func cfListChanged(list string) func(*serverSession, context.Context, *toolCall) (any, error) {
	return func(ss *serverSession, ctx context.Context, _ *toolCall) (any, error) {
		if err := ss.peer.Notify(ctx, "notifications/"+list+"/list_changed", nil); err != nil {
			return nil, err
		}
		return textResult("Sent notifications/" + list + "/list_changed"), nil
	}
}

// cfCapabilities is test_input_required_result_capabilities: it asks
// only for what the client declared (sampling; 2024-11-05 has no
// elicitation to ask for).
func (ss *serverSession) cfCapabilities(ctx context.Context, _ *toolCall) (any, error) {
	if ss.clientHas("sampling") {
		return ss.cfSample(ctx, "Say hello.")
	}
	return textResult("The client declared no capability this tool could use."), nil
}

// cfEchoArgs answers the tool's arguments as JSON text.
func (ss *serverSession) cfEchoArgs(_ context.Context, call *toolCall) (any, error) {
	args := "{}"
	if len(call.Arguments) > 0 {
		args = string(call.Arguments)
	}
	return textResult("Arguments: " + args), nil
}

// jsonSchema202012 is the inputSchema of json_schema_2020_12_tool: the
// JSON Schema 2020-12 keywords ($schema, $defs with an $anchor, $ref,
// allOf/anyOf, if/then/else, additionalProperties) a client must keep.
func jsonSchema202012() map[string]any {
	return map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type":    "object",
		"$defs": map[string]any{"address": map[string]any{
			"$anchor": "addressDef", "type": "object",
			"properties": map[string]any{"street": map[string]any{"type": "string"}, "city": map[string]any{"type": "string"}},
		}},
		"properties": map[string]any{
			"name":          map[string]any{"type": "string"},
			"address":       map[string]any{"$ref": "#/$defs/address"},
			"contactMethod": map[string]any{"type": "string", "enum": []string{"phone", "email"}},
			"phone":         map[string]any{"type": "string"},
			"email":         map[string]any{"type": "string"},
		},
		"allOf":                []any{map[string]any{"anyOf": []any{map[string]any{"required": []string{"phone"}}, map[string]any{"required": []string{"email"}}}}},
		"if":                   map[string]any{"properties": map[string]any{"contactMethod": map[string]any{"const": "phone"}}, "required": []string{"contactMethod"}},
		"then":                 map[string]any{"required": []string{"phone"}},
		"else":                 map[string]any{"required": []string{"email"}},
		"additionalProperties": false,
	}
}

// cfAsk elicits one string field and returns the user's answer, or an
// error when the client lacks elicitation or the user did not accept.
func (ss *serverSession) cfAsk(ctx context.Context, message, field string) (string, error) {
	if !ss.clientHas("elicitation") {
		return "", errorf(jsonrpc.CodeInvalidParams, "Invalid params: the client does not support elicitation")
	}
	params := map[string]any{"message": message, "requestedSchema": map[string]any{
		"type": "object", "properties": map[string]any{field: map[string]any{"type": "string"}}, "required": []string{field},
	}}
	if ss.srv.rev >= schemas.V20251125 {
		params["mode"] = "form"
	}
	raw, err := ss.peer.Call(ctx, "elicitation/create", params)
	if err != nil {
		return "", fmt.Errorf("demo: elicitation: %w", err)
	}
	var res struct {
		Action  string            `json:"action"`
		Content map[string]string `json:"content"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", fmt.Errorf("demo: elicitation result: %w", err)
	}
	if res.Action != "accept" {
		return "", errorf(jsonrpc.CodeInvalidParams, "Invalid params: the user did not accept (%s)", res.Action)
	}
	return res.Content[field], nil
}

// cfGreet is test_input_required_result_elicitation: it asks the user's
// name and greets them.
func (ss *serverSession) cfGreet(ctx context.Context, _ *toolCall) (any, error) {
	name, err := ss.cfAsk(ctx, "What is your name?", "name")
	if err != nil {
		return toolError("%v", err), nil
	}
	return textResult("Hello, " + name + "!"), nil
}

// cfMultiRound is test_input_required_result_multi_round: two
// elicitations, the second after the first is answered.
func (ss *serverSession) cfMultiRound(ctx context.Context, _ *toolCall) (any, error) {
	name, err := ss.cfAsk(ctx, "Step 1: What is your name?", "name")
	if err != nil {
		return toolError("%v", err), nil
	}
	color, err := ss.cfAsk(ctx, "Step 2: What is your favorite color?", "color")
	if err != nil {
		return toolError("%v", err), nil
	}
	return textResult(fmt.Sprintf("%s likes %s.", name, color)), nil
}

// cfMultipleInputs is test_input_required_result_multiple_inputs: an
// elicitation, a sampling request and roots/list sent at once.
func (ss *serverSession) cfMultipleInputs(ctx context.Context, _ *toolCall) (any, error) {
	var (
		wg      sync.WaitGroup
		name    string
		sampled any
		roots   any
		errs    [3]error
	)
	wg.Add(3)
	go func() { defer wg.Done(); name, errs[0] = ss.cfAsk(ctx, "What is your name?", "name") }()
	go func() { defer wg.Done(); sampled, errs[1] = ss.cfSample(ctx, "Generate a greeting") }()
	go func() { defer wg.Done(); roots, errs[2] = ss.cfRoots(ctx, nil) }()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return toolError("%v", err), nil
	}
	for _, r := range []any{sampled, roots} {
		if m, ok := r.(map[string]any); ok && m["isError"] == true {
			return r, nil
		}
	}
	return textResult(fmt.Sprintf("Hello %s: got a greeting and the client's roots.", name)), nil
}

// cfElicitation is test_elicitation (2025-06-18 on).
func (ss *serverSession) cfElicitation(ctx context.Context, call *toolCall) (any, error) {
	var a struct {
		Message *string `json:"message"`
	}
	if err := ss.arguments(call, &a); err != nil || a.Message == nil {
		return ss.argError("test_elicitation needs a string argument message")
	}
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"username": map[string]any{"type": "string", "description": "User's response"},
			"email":    map[string]any{"type": "string", "description": "User's email address"},
		},
		"required": []string{"username", "email"},
	}
	return ss.cfElicit(ctx, *a.Message, schema, "User response: ")
}

// cfElicitFixed returns a tool run function that elicits the schema.
func cfElicitFixed(message string, schema map[string]any) func(*serverSession, context.Context, *toolCall) (any, error) {
	return func(ss *serverSession, ctx context.Context, _ *toolCall) (any, error) {
		return ss.cfElicit(ctx, message, schema, "Elicitation completed: ")
	}
}

// cfElicit sends elicitation/create and answers the result as text after
// prefix.
func (ss *serverSession) cfElicit(ctx context.Context, message string, schema map[string]any, prefix string) (any, error) {
	if !ss.clientHas("elicitation") {
		return toolError("the client does not support elicitation"), nil
	}
	params := map[string]any{"message": message, "requestedSchema": schema}
	if ss.srv.rev >= schemas.V20251125 {
		params["mode"] = "form"
	}
	raw, err := ss.peer.Call(ctx, "elicitation/create", params)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return toolError("elicitation failed: %v", err), nil
	}
	var res struct {
		Action  string          `json:"action"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("demo: elicitation result: %w", err)
	}
	content := "{}"
	if len(res.Content) > 0 {
		content = string(res.Content)
	}
	return textResult(fmt.Sprintf("%saction=%s, content=%s", prefix, res.Action, content)), nil
}

// sep1034Schema is the form of test_elicitation_sep1034_defaults: a
// default for every primitive type.
func sep1034Schema() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"name":     map[string]any{"type": "string", "description": "User name", "default": "John Doe"},
			"age":      map[string]any{"type": "integer", "description": "User age", "default": 30},
			"score":    map[string]any{"type": "number", "description": "User score", "default": 95.5},
			"status":   map[string]any{"type": "string", "description": "User status", "enum": []string{"active", "inactive", "pending"}, "default": "active"},
			"verified": map[string]any{"type": "boolean", "description": "Verification status", "default": true},
		},
		"required": []string{"name", "age", "score", "status", "verified"},
	}
}

// sep1330Schema is the form of test_elicitation_sep1330_enums: the five
// enum variants.
func sep1330Schema() map[string]any {
	options := []string{"option1", "option2", "option3"}
	titled := func(prefix string) []any {
		var out []any
		for i, t := range []string{"First", "Second", "Third"} {
			out = append(out, map[string]any{"const": fmt.Sprintf("value%d", i+1), "title": t + " " + prefix})
		}
		return out
	}
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"untitledSingle": map[string]any{"type": "string", "description": "Select one option", "enum": options},
			"titledSingle":   map[string]any{"type": "string", "description": "Select one option with titles", "oneOf": titled("Option")},
			"legacyEnum": map[string]any{"type": "string", "description": "Select one option (legacy)",
				"enum": []string{"opt1", "opt2", "opt3"}, "enumNames": []string{"Option One", "Option Two", "Option Three"}},
			"untitledMulti": map[string]any{"type": "array", "description": "Select multiple options", "items": map[string]any{"type": "string", "enum": options}},
			"titledMulti":   map[string]any{"type": "array", "description": "Select multiple options with titles", "items": map[string]any{"anyOf": titled("Choice")}},
		},
		"required": []string{},
	}
}
