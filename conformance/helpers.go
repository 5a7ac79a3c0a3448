package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// toolDef is what the scenarios read of a tools/list entry.
type toolDef struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"inputSchema"`
	OutputSchema json.RawMessage `json:"outputSchema"`
}

// decode unmarshals a result into v or stops the scenario.
func decode(t *T, what string, raw json.RawMessage, v any) {
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal("%s: cannot decode the result: %v", what, err)
	}
}

// result calls method and stops the scenario on a JSON-RPC error.
func result(ctx context.Context, t *T, method string, params map[string]any) json.RawMessage {
	r := t.Call(ctx, method, params)
	if r.Error != nil {
		t.Fatal("%s failed: %v", method, r.Error)
	}
	return r.Result
}

// listTools returns the first page of tools/list; it skips the scenario
// when the server declares no tools.
func listTools(ctx context.Context, t *T) []toolDef {
	t.Require("tools")
	var res struct {
		Tools []toolDef `json:"tools"`
	}
	decode(t, "tools/list", result(ctx, t, "tools/list", nil), &res)
	return res.Tools
}

// pages follows a list method's cursors and returns how many items of
// the named array it saw, failing on a repeated cursor.
func pages(ctx context.Context, t *T, method, items string) int {
	const maxPages = 100
	seen := map[string]bool{}
	n := 0
	var cursor string
	for page := 0; page < maxPages; page++ {
		var params map[string]any
		if cursor != "" {
			params = map[string]any{"cursor": cursor}
		}
		var res map[string]json.RawMessage
		decode(t, method, result(ctx, t, method, params), &res)
		var list []json.RawMessage
		if raw, ok := res[items]; ok {
			json.Unmarshal(raw, &list)
		}
		n += len(list)
		raw, ok := res["nextCursor"]
		if !ok || string(raw) == "null" {
			return n
		}
		if err := json.Unmarshal(raw, &cursor); err != nil {
			t.Fatal("%s: nextCursor is not a string: %s", method, raw)
		}
		if seen[cursor] {
			t.Fatal("%s: nextCursor %q repeats an earlier cursor: pagination never ends", method, cursor)
		}
		seen[cursor] = true
	}
	t.Fatal("%s: more than %d pages", method, maxPages)
	return n
}

// objectSchema is what the scenarios read of a tool's inputSchema.
type objectSchema struct {
	Properties map[string]struct {
		Type any   `json:"type"`
		Enum []any `json:"enum"`
	} `json:"properties"`
	Required []string `json:"required"`
}

// synthArgs builds arguments for a tool from its inputSchema: a value of
// the declared type for every required property (every property with
// all).
func synthArgs(schema json.RawMessage, all bool) map[string]any {
	var s objectSchema
	json.Unmarshal(schema, &s)
	args := map[string]any{}
	names := s.Required
	if all {
		names = nil
		for k := range s.Properties {
			names = append(names, k)
		}
	}
	for _, name := range names {
		p := s.Properties[name]
		if len(p.Enum) > 0 {
			args[name] = p.Enum[0]
			continue
		}
		typ, _ := p.Type.(string)
		if list, ok := p.Type.([]any); ok && len(list) > 0 {
			typ, _ = list[0].(string)
		}
		switch typ {
		case "number", "integer":
			args[name] = 1
		case "boolean":
			args[name] = false
		case "array":
			args[name] = []any{}
		case "object":
			args[name] = map[string]any{}
		default:
			args[name] = "conformance"
		}
	}
	return args
}

// requiredArgs returns the required properties of an inputSchema.
func requiredArgs(schema json.RawMessage) []string {
	var s objectSchema
	json.Unmarshal(schema, &s)
	return s.Required
}

// validateAgainst checks instance against a JSON Schema the target gave
// (a tool's outputSchema).
func validateAgainst(schema, instance json.RawMessage) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return fmt.Errorf("the schema is not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:conformance:output", doc); err != nil {
		return fmt.Errorf("the schema: %w", err)
	}
	sch, err := c.Compile("urn:conformance:output")
	if err != nil {
		return fmt.Errorf("the schema does not compile: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(instance))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s", oneLine(err.Error()))
	}
	return nil
}

// toolMentioning returns the first tool whose name or description
// contains one of the words (case-insensitively).
func toolMentioning(tools []toolDef, words ...string) (toolDef, bool) {
	for _, w := range words {
		for _, tl := range tools {
			if strings.Contains(strings.ToLower(tl.Name), w) {
				return tl, true
			}
		}
	}
	for _, w := range words {
		for _, tl := range tools {
			if strings.Contains(strings.ToLower(tl.Description), w) {
				return tl, true
			}
		}
	}
	return toolDef{}, false
}

// expectError checks that a response is a JSON-RPC error with one of the
// codes (any code when none is given).
func expectError(t *T, what string, r Response, codes ...int) {
	if r.Error == nil {
		t.Fail("%s: expected a JSON-RPC error, got a result: %s", what, clip(r.Result))
		return
	}
	if len(codes) == 0 {
		return
	}
	for _, c := range codes {
		if r.Error.Code == c {
			return
		}
	}
	t.Fail("%s: expected error code %s, got %d (%s)", what, codeList(codes), r.Error.Code, r.Error.Message)
}

func codeList(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, " or ")
}

// isToolError reports whether a CallToolResult has isError true.
func isToolError(raw json.RawMessage) bool {
	var res struct {
		IsError bool `json:"isError"`
	}
	json.Unmarshal(raw, &res)
	return res.IsError
}
