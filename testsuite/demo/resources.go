package demo

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// The demo's resources.
const (
	readmeURI      = "demo://static/readme"
	logoURI        = "demo://static/logo"
	itemPrefix     = "demo://items/"
	itemTemplate   = "demo://items/{id}"
	readmeText     = "mcpbroker demo server.\nIt speaks exactly one MCP revision.\n"
	greetPrompt    = "greet"
	greetArgument  = "name"
	templateVarID  = "id"
	resourceReadme = "readme"
)

// resourceList returns the resources/list entries of the revision.
func (ss *serverSession) resourceList() []any {
	rev := ss.srv.rev
	readme := map[string]any{
		"uri": readmeURI, "name": resourceReadme, "description": "What this server is", "mimeType": "text/plain",
		"annotations": map[string]any{"audience": []string{"user", "assistant"}, "priority": 0.8},
	}
	logo := map[string]any{"uri": logoURI, "name": "logo", "description": "A 1x1 PNG", "mimeType": "image/png"}
	if rev >= schemas.V20250618 {
		readme["title"] = "Read me"
		logo["title"] = "Logo"
	}
	if rev >= schemas.V20251125 {
		readme["icons"] = icons()
	}
	return []any{readme, logo}
}

// templateList returns the resources/templates/list entries.
func (ss *serverSession) templateList() []any {
	t := map[string]any{"uriTemplate": itemTemplate, "name": "item", "description": "A numbered item", "mimeType": "text/plain"}
	if ss.srv.rev >= schemas.V20250618 {
		t["title"] = "Item"
	}
	return []any{t}
}

// readResource returns the contents entry of a resource, and false when
// there is no such resource.
func readResource(uri string) (map[string]any, bool) {
	switch uri {
	case readmeURI:
		return map[string]any{"uri": uri, "mimeType": "text/plain", "text": readmeText}, true
	case logoURI:
		return map[string]any{"uri": uri, "mimeType": "image/png", "blob": pngBase64}, true
	}
	id, ok := strings.CutPrefix(uri, itemPrefix)
	if !ok || id == "" || strings.ContainsAny(id, "/?#") {
		return nil, false
	}
	return map[string]any{"uri": uri, "mimeType": "text/plain", "text": "Item " + id}, true
}

// resourceNotFound is the MCP error for an unknown resource: -32002 up to
// 2025-11-25, -32602 in 2026-07-28 (REVISIONS.md 4.E1).
func (ss *serverSession) resourceNotFound(uri string) *jsonrpc.Error {
	code := codeResourceNotFound
	if ss.srv.rev.Stateless() {
		code = jsonrpc.CodeInvalidParams
	}
	return &jsonrpc.Error{Code: code, Message: "Resource not found", Data: map[string]any{"uri": uri}}
}

func (ss *serverSession) readResource(params json.RawMessage) (map[string]any, error) {
	var p struct {
		URI string `json:"uri"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	c, ok := readResource(p.URI)
	if !ok {
		return nil, ss.resourceNotFound(p.URI)
	}
	return map[string]any{"contents": []any{c}}, nil
}

func (ss *serverSession) subscribe(params json.RawMessage, on bool) (any, error) {
	var p struct {
		URI string `json:"uri"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if _, ok := readResource(p.URI); !ok {
		return nil, ss.resourceNotFound(p.URI)
	}
	ss.mu.Lock()
	if on {
		ss.subs[p.URI] = true
	} else {
		delete(ss.subs, p.URI)
	}
	ss.mu.Unlock()
	return struct{}{}, nil
}

// promptList returns the prompts/list entries.
func (ss *serverSession) promptList() []any {
	rev := ss.srv.rev
	arg := map[string]any{"name": greetArgument, "description": "Who to greet", "required": true}
	p := map[string]any{"name": greetPrompt, "description": "Greets someone by name", "arguments": []any{arg}}
	if rev >= schemas.V20250618 {
		p["title"] = "Greet"
		arg["title"] = "Name"
	}
	if rev >= schemas.V20251125 {
		p["icons"] = icons()
	}
	return []any{p}
}

func (ss *serverSession) getPrompt(params json.RawMessage) (map[string]any, error) {
	var p struct {
		Name      string            `json:"name"`
		Arguments map[string]string `json:"arguments"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.Name != greetPrompt {
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: unknown prompt %q", p.Name)
	}
	name := p.Arguments[greetArgument]
	if name == "" {
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: missing required argument %q", greetArgument)
	}
	return map[string]any{
		"description": "Greeting for " + name,
		"messages": []any{
			map[string]any{"role": "user", "content": map[string]any{"type": "text", "text": "Please greet " + name + " warmly."}},
		},
	}, nil
}

// completionNames are the values offered for the greet prompt's argument.
func completionNames() []string { return []string{"Ada", "Alan", "Alice", "Grace", "Linus"} }

// completionIDs are the values offered for the template's id variable.
func completionIDs() []string { return []string{"1", "2", "3", "42", "7"} }

// completeParams are the params of completion/complete the demo reads.
type completeParams struct {
	Ref struct {
		Type string `json:"type"`
		Name string `json:"name"`
		URI  string `json:"uri"`
	} `json:"ref"`
	Argument struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"argument"`
}

// completionResult is the CompleteResult offering the values of all that
// start with prefix (case-insensitively), sorted.
func completionResult(all []string, prefix string) map[string]any {
	values := []string{}
	for _, v := range all {
		if strings.HasPrefix(strings.ToLower(v), strings.ToLower(prefix)) {
			values = append(values, v)
		}
	}
	slices.Sort(values)
	return map[string]any{"completion": map[string]any{"values": values, "total": len(values), "hasMore": false}}
}

func (ss *serverSession) complete(params json.RawMessage) (map[string]any, error) {
	var p completeParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	var all []string
	switch {
	case p.Ref.Type == "ref/prompt" && p.Ref.Name == greetPrompt:
		if p.Argument.Name == greetArgument {
			all = completionNames()
		}
	case p.Ref.Type == "ref/resource" && p.Ref.URI == itemTemplate:
		if p.Argument.Name == templateVarID {
			all = completionIDs()
		}
	default:
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: nothing to complete for %s %s%s", p.Ref.Type, p.Ref.Name, p.Ref.URI)
	}
	return completionResult(all, p.Argument.Value), nil
}
