package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// The route tool of 2026-07-28 mirrors its arguments region (string),
// priority (integer) and urgent (boolean) into the headers
// Mcp-Param-Region, Mcp-Param-Priority and Mcp-Param-Urgent (x-mcp-header
// in its inputSchema, REVISIONS.md 4.T5). Over HTTP the demo checks them
// against the body with transport.CheckParamHeaders before the request
// is handled: a missing, extra or different header is 400 with -32020.
// The tool's answer names the headers that were checked, so that a test
// sees that they were sent and checked; over stdio there are none.

// Header names (x-mcp-header values) of the route tool's arguments.
const (
	RouteRegionHeader   = "Region"
	RoutePriorityHeader = "Priority"
	RouteUrgentHeader   = "Urgent"
)

// routeTool returns the route tool (2026-07-28 only).
func routeTool() tool {
	prop := func(typ, header, desc string) map[string]any {
		p := map[string]any{"type": typ, "description": desc}
		if header != "" {
			p["x-mcp-header"] = header
		}
		return p
	}
	return tool{
		name: "route", title: "Route", since: schemas.V20260728, readOnly: true,
		description: "Returns its arguments; region, priority and urgent travel in Mcp-Param-* headers over HTTP, which the server checks (the answer names them).",
		input: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"region":   prop("string", RouteRegionHeader, "Where to route (header Mcp-Param-Region)"),
				"priority": prop("integer", RoutePriorityHeader, "Priority (header Mcp-Param-Priority)"),
				"urgent":   prop("boolean", RouteUrgentHeader, "Urgent (header Mcp-Param-Urgent)"),
				"note":     prop("string", "", "Free text, not mirrored"),
			},
			"required": []string{"region"},
		},
		run: (*serverSession).route,
	}
}

// RouteChecked is the text the route tool's answer ends with: the
// Mcp-Param-* headers checked, comma-separated and sorted, or "none".
// Over stdio the answer ends with RouteNoHTTP instead.
const (
	RouteChecked = "; headers checked: "
	RouteNoHTTP  = "; not over HTTP: no headers"
)

func (ss *serverSession) route(_ context.Context, call *toolCall) (any, error) {
	var a struct {
		Region   *string `json:"region"`
		Priority *int64  `json:"priority"`
		Urgent   *bool   `json:"urgent"`
		Note     string  `json:"note"`
	}
	if err := ss.arguments(call, &a); err != nil || a.Region == nil {
		return ss.argError("route needs a string argument region (integer priority, boolean urgent and string note are optional)")
	}
	text := "route region=" + *a.Region
	if a.Priority != nil {
		text += fmt.Sprintf(" priority=%d", *a.Priority)
	}
	if a.Urgent != nil {
		text += fmt.Sprintf(" urgent=%t", *a.Urgent)
	}
	switch {
	case ss.checked == nil:
		text += RouteNoHTTP
	case len(ss.checked) == 0:
		text += RouteChecked + "none"
	default:
		text += RouteChecked + strings.Join(ss.checked, ",")
	}
	return textResult(text), nil
}

// paramSpecs returns the x-mcp-header annotations of the tools of rev
// that have any, by tool name.
func paramSpecs(rev schemas.Revision) (map[string][]transport.ParamHeader, error) {
	out := map[string][]transport.ParamHeader{}
	for _, t := range tools(rev) {
		raw, err := json.Marshal(t.input)
		if err != nil {
			return nil, fmt.Errorf("demo: tool %s: %w", t.name, err)
		}
		specs, err := transport.ParseParamHeaders(raw)
		if err != nil {
			return nil, fmt.Errorf("demo: tool %s: %w", t.name, err)
		}
		if len(specs) > 0 {
			out[t.name] = specs
		}
	}
	return out, nil
}

// checkParamHeaders checks the Mcp-Param-* headers of a tools/call m
// against its arguments (4.T5). It returns the headers checked (sorted,
// not nil), or -32020 and a message.
func (s *Server) checkParamHeaders(h http.Header, m *jsonrpc.Message) ([]string, int, string) {
	checked := []string{}
	if m.Method != "tools/call" {
		return checked, 0, ""
	}
	var p struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return checked, 0, "" // left to validation
	}
	specs := s.params[p.Name]
	if err := transport.CheckParamHeaders(specs, p.Arguments, h); err != nil {
		return nil, fixture.CodeHeaderMismatch, "Header mismatch: " + err.Error()
	}
	for _, spec := range specs {
		if len(h.Values(spec.HeaderKey())) > 0 {
			checked = append(checked, spec.HeaderKey())
		}
	}
	slices.Sort(checked)
	return checked, 0, ""
}
