package conformance

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Error codes the scenarios expect (REVISIONS.md 4.E1, 4.L3).
const (
	codeResourceNotFound      = -32002
	codeUnsupportedVersion    = -32022
	codeHeaderMismatch        = -32020
	codeMissingCapability     = -32021
	unsupportedVersionRequest = "1999-01-01"
)

// rawAnswerWait bounds the wait for the answer to input that is not a
// valid request (servers that ignore such input never answer).
const rawAnswerWait = 2 * time.Second

// Catalogue returns every scenario, in report order. It builds a new
// slice on every call.
func Catalogue() []Scenario {
	all := schemas.All()
	var out []Scenario
	out = append(out, lifecycleScenarios(all)...)
	out = append(out, jsonrpcScenarios(all)...)
	out = append(out, toolScenarios(all)...)
	out = append(out, resourceScenarios(all)...)
	out = append(out, listenScenario())
	out = append(out, promptScenarios(all)...)
	out = append(out, utilityScenarios(all)...)
	out = append(out, loggingLevelScenario())
	out = append(out, clientFeatureScenarios()...)
	out = append(out, httpScenarios()...)
	out = append(out, resumptionScenario())
	return out
}

func lifecycleScenarios(all []schemas.Revision) []Scenario {
	return []Scenario{
		{
			ID: "lifecycle/initialize", Title: "initialize is answered with the requested revision, server info and capabilities",
			Spec: "basic/lifecycle", Severity: Must, Revisions: legacy(), Transport: AnyTransport, Raw: true,
			Run: func(ctx context.Context, t *T) {
				t.Handshake(ctx)
				var res struct {
					Capabilities map[string]any `json:"capabilities"`
					ServerInfo   struct {
						Name string `json:"name"`
					} `json:"serverInfo"`
				}
				decode(t, "initialize", t.Init, &res)
				if res.ServerInfo.Name == "" {
					t.Fail("initialize result: serverInfo.name is empty")
				}
			},
		},
		{
			ID: "lifecycle/unsupported-version", Title: "a request for an unsupported revision gets the answer the revision defines",
			Spec: "basic/lifecycle", Severity: Must, Revisions: all, Transport: AnyTransport, Raw: true,
			Run: func(ctx context.Context, t *T) {
				if t.Rev.Stateless() {
					meta := t.Meta()
					meta[metaProtocolVersion] = unsupportedVersionRequest
					r := t.Call(ctx, "server/discover", map[string]any{"_meta": meta})
					expectError(t, "server/discover in an unsupported revision", r, codeUnsupportedVersion)
					if r.Error == nil || r.Error.Code != codeUnsupportedVersion {
						return
					}
					var data struct {
						Supported []string `json:"supported"`
						Requested string   `json:"requested"`
					}
					if err := json.Unmarshal(r.Error.Data, &data); err != nil || len(data.Supported) == 0 {
						t.Fail("UnsupportedProtocolVersionError: data.supported is missing or empty: %s", r.Error.Data)
					}
					if data.Requested != unsupportedVersionRequest {
						t.Fail("UnsupportedProtocolVersionError: data.requested is %q, want %q", data.Requested, unsupportedVersionRequest)
					}
					return
				}
				r := t.Call(ctx, "initialize", t.InitializeParams(unsupportedVersionRequest))
				if r.Error != nil {
					t.Fatal("initialize with protocolVersion %q: the server MUST answer with a version it supports, not an error: %v", unsupportedVersionRequest, r.Error)
				}
				var res struct {
					ProtocolVersion string `json:"protocolVersion"`
				}
				decode(t, "initialize", r.Result, &res)
				if res.ProtocolVersion == unsupportedVersionRequest {
					t.Fail("initialize with the unsupported protocolVersion %q was answered with the same version", unsupportedVersionRequest)
				} else if _, err := schemas.ParseRevision(res.ProtocolVersion); err != nil {
					t.Fail("initialize answered protocolVersion %q, which is no MCP revision", res.ProtocolVersion)
				}
			},
		},
		{
			ID: "lifecycle/ping", Title: "ping is answered with an empty result",
			Spec: "basic/utilities/ping", Severity: Must, Revisions: legacy(), Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				var res map[string]json.RawMessage
				decode(t, "ping", result(ctx, t, "ping", nil), &res)
				delete(res, "_meta")
				if len(res) != 0 {
					t.Fail("ping result has members other than _meta: %v", keys(res))
				}
			},
		},
		{
			ID: "lifecycle/request-before-initialize", Title: "a request other than ping before initialize is refused",
			Spec: "basic/lifecycle", Severity: Should, Revisions: legacy(), Transport: AnyTransport, Raw: true,
			Run: func(ctx context.Context, t *T) {
				r, err := t.CallErr(ctx, "tools/list", nil)
				if err != nil {
					// Closing the session is a refusal too.
					return
				}
				expectError(t, "tools/list before initialize", r)
			},
		},
		{
			ID: "lifecycle/server-discover", Title: "server/discover lists the supported versions, capabilities and server info",
			Spec: "basic/lifecycle", Severity: Must, Revisions: stateless(), Transport: AnyTransport, Raw: true,
			Run: func(ctx context.Context, t *T) {
				t.Discover(ctx)
				var res struct {
					SupportedVersions []string                   `json:"supportedVersions"`
					Meta              map[string]json.RawMessage `json:"_meta"`
				}
				decode(t, "server/discover", t.Init, &res)
				if !slices.Contains(res.SupportedVersions, t.Rev.String()) {
					t.Fail("server/discover in %s: supportedVersions %v does not list it", t.Rev, res.SupportedVersions)
				}
			},
		},
		{
			ID: "lifecycle/meta-required", Title: "a request without the required _meta fields gets -32602",
			Spec: "basic/lifecycle", Severity: Must, Revisions: stateless(), Transport: AnyTransport, Raw: true,
			Run: func(ctx context.Context, t *T) {
				r := t.Call(ctx, "server/discover", map[string]any{"_meta": map[string]any{metaClientInfo: map[string]any{"name": ClientName, "version": "1.0.0"}}})
				expectError(t, "server/discover without protocolVersion and clientCapabilities", r, jsonrpc.CodeInvalidParams)
			},
		},
		{
			ID: "lifecycle/server-info-meta", Title: "results carry _meta io.modelcontextprotocol/serverInfo",
			Spec: "basic/lifecycle", Severity: Should, Revisions: stateless(), Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				check := func(method string, raw json.RawMessage) {
					var res struct {
						Meta map[string]json.RawMessage `json:"_meta"`
					}
					decode(t, method, raw, &res)
					if _, ok := res.Meta[metaServerInfo]; !ok {
						t.Fail("%s result has no _meta %s", method, metaServerInfo)
					}
				}
				check("server/discover", t.Init)
				if t.Capability("tools") != nil {
					check("tools/list", result(ctx, t, "tools/list", nil))
				}
			},
		},
		{
			ID: "lifecycle/capabilities-honoured", Title: "list methods of capabilities the server does not declare fail",
			Spec: "basic/lifecycle", Severity: Should, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				checked := 0
				for _, c := range []string{"tools", "resources", "prompts"} {
					if t.Capability(c) != nil {
						continue
					}
					checked++
					r := t.Call(ctx, c+"/list", nil)
					if r.Error == nil {
						t.Fail("%s/list succeeded although the server does not declare the %s capability", c, c)
					}
				}
				if checked == 0 {
					t.Skip("the server declares tools, resources and prompts")
				}
			},
		},
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func jsonrpcScenarios(all []schemas.Revision) []Scenario {
	return []Scenario{
		{
			ID: "jsonrpc/unknown-method", Title: "an unknown method gets -32601",
			Spec: "basic", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				r := t.Call(ctx, "conformance/no-such-method", map[string]any{})
				expectError(t, "conformance/no-such-method", r, jsonrpc.CodeMethodNotFound)
			},
		},
		{
			ID: "jsonrpc/invalid-params", Title: "tools/call with a name that is not a string (2026-07-28: tools/list with a cursor that is not a string) gets -32602",
			Spec: "basic", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("tools")
				if t.Rev.Stateless() {
					// Not tools/call: its name is mirrored in the Mcp-Name
					// header, which a name of 42 cannot fill (-32020 first).
					r := t.Call(ctx, "tools/list", map[string]any{"cursor": 42})
					expectError(t, "tools/list with cursor 42", r, jsonrpc.CodeInvalidParams)
					return
				}
				r := t.Call(ctx, "tools/call", map[string]any{"name": 42, "arguments": map[string]any{}})
				expectError(t, "tools/call with name 42", r, jsonrpc.CodeInvalidParams)
			},
		},
		{
			ID: "jsonrpc/batch", Title: "a JSON-RPC batch of requests gets an answer to each of them",
			Spec: "basic", Severity: Must, Revisions: []schemas.Revision{schemas.V20250326}, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				rs, err := t.CallBatch(ctx, "ping", "ping")
				if err != nil {
					t.Fatal("batch of two pings: %v", err)
				}
				for i, r := range rs {
					if r.Error != nil {
						t.Fail("batch element %d (ping) failed: %v", i+1, r.Error)
					}
				}
			},
		},
		{
			ID: "jsonrpc/parse-error", Title: "input that is not JSON gets -32700 with id null (JSON-RPC 2.0, 5.1)",
			Spec: "basic", Severity: Must, Revisions: all, Transport: StdioTransport,
			Run: func(ctx context.Context, t *T) {
				ctx, cancel := context.WithTimeout(ctx, rawAnswerWait)
				defer cancel()
				r, err := t.CallRaw(ctx, "null", "", []byte(`{"jsonrpc": "2.0", "id": 1, "method": `))
				if err != nil {
					t.Fatal("no answer to a line that is not JSON: %v", err)
				}
				expectError(t, "a line that is not JSON", r, jsonrpc.CodeParseError)
			},
		},
		{
			ID: "jsonrpc/invalid-request", Title: "a JSON value that is no JSON-RPC request gets -32600 (JSON-RPC 2.0, 5.1)",
			Spec: "basic", Severity: Must, Revisions: all, Transport: StdioTransport,
			Run: func(ctx context.Context, t *T) {
				ctx, cancel := context.WithTimeout(ctx, rawAnswerWait)
				defer cancel()
				r, err := t.CallRaw(ctx, `"conformance-invalid"`, "", []byte(`{"jsonrpc":"2.0","id":"conformance-invalid","method":42}`))
				if err != nil {
					t.Fatal("no answer to an invalid request: %v", err)
				}
				expectError(t, "a request whose method is a number", r, jsonrpc.CodeInvalidRequest)
			},
		},
	}
}

// uniqueNames fails t for each of the n names (name(i)) a list method
// lists more than once.
func uniqueNames(t *T, method, what string, n int, name func(int) string) {
	seen := make(map[string]bool, n)
	for i := range n {
		if nm := name(i); seen[nm] {
			t.Fail("%s lists %s %q twice", method, what, nm)
		} else {
			seen[nm] = true
		}
	}
}

func toolScenarios(all []schemas.Revision) []Scenario {
	return []Scenario{
		{
			ID: "tools/list", Title: "tools/list lists tools with unique names",
			Spec: "server/tools", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				tools := listTools(ctx, t)
				uniqueNames(t, "tools/list", "tool", len(tools), func(i int) string { return tools[i].Name })
			},
		},
		{
			ID: "tools/pagination", Title: "tools/list pages end (nextCursor never repeats)",
			Spec: "server/utilities/pagination", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("tools")
				pages(ctx, t, "tools/list", "tools")
			},
		},
		{
			ID: "tools/call", Title: "tools/call of a listed tool answers a valid CallToolResult",
			Spec: "server/tools", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				tools := listTools(ctx, t)
				if len(tools) == 0 {
					t.Skip("the server lists no tools")
				}
				tl := tools[0]
				raw := result(ctx, t, "tools/call", map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, false)})
				var res struct {
					Content []json.RawMessage `json:"content"`
				}
				decode(t, "tools/call", raw, &res)
			},
		},
		{
			ID: "tools/unknown-tool", Title: "tools/call of an unknown tool is an error",
			Spec: "server/tools", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("tools")
				r := t.Call(ctx, "tools/call", map[string]any{"name": "conformance_no_such_tool", "arguments": map[string]any{}})
				if r.Error == nil && !isToolError(r.Result) {
					t.Fail("tools/call of an unknown tool succeeded: %s", clip(r.Result))
				}
			},
		},
		{
			ID: "tools/invalid-arguments", Title: "tools/call without a required argument is an error (isError or -32602)",
			Spec: "server/tools", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				for _, tl := range listTools(ctx, t) {
					if len(requiredArgs(tl.InputSchema)) == 0 {
						continue
					}
					r := t.Call(ctx, "tools/call", map[string]any{"name": tl.Name, "arguments": map[string]any{}})
					if r.Error == nil && !isToolError(r.Result) {
						t.Fail("tools/call of %s without its required arguments %v succeeded", tl.Name, requiredArgs(tl.InputSchema))
					}
					return
				}
				t.Skip("no tool has a required argument")
			},
		},
		{
			ID: "tools/structured-content", Title: "a tool with an outputSchema returns structuredContent that conforms to it",
			Spec: "server/tools", Severity: Must, Revisions: from(schemas.V20250618), Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				for _, tl := range listTools(ctx, t) {
					if len(tl.OutputSchema) == 0 {
						continue
					}
					raw := result(ctx, t, "tools/call", map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, true)})
					if isToolError(raw) {
						t.Skip("tool %s answered isError to generated arguments", tl.Name)
					}
					var res struct {
						Structured json.RawMessage `json:"structuredContent"`
					}
					decode(t, "tools/call", raw, &res)
					if len(res.Structured) == 0 {
						t.Fatal("tool %s has an outputSchema but its result has no structuredContent", tl.Name)
					}
					if err := validateAgainst(tl.OutputSchema, res.Structured); err != nil {
						t.Fail("tool %s: structuredContent does not conform to its outputSchema: %v", tl.Name, err)
					}
					return
				}
				t.Skip("no tool has an outputSchema")
			},
		},
	}
}

// resourceURI returns the URI of the first listed resource.
func resourceURI(ctx context.Context, t *T) string {
	t.Require("resources")
	var res struct {
		Resources []struct {
			URI string `json:"uri"`
		} `json:"resources"`
	}
	decode(t, "resources/list", result(ctx, t, "resources/list", nil), &res)
	if len(res.Resources) == 0 {
		t.Skip("the server lists no resources")
	}
	return res.Resources[0].URI
}

func resourceScenarios(all []schemas.Revision) []Scenario {
	return []Scenario{
		{
			ID: "resources/list", Title: "resources/list answers valid pages",
			Spec: "server/resources", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("resources")
				pages(ctx, t, "resources/list", "resources")
			},
		},
		{
			ID: "resources/templates-list", Title: "resources/templates/list answers valid pages",
			Spec: "server/resources", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("resources")
				// Templates are optional within resources: a server that has
				// none may not implement the method.
				r := t.Call(ctx, "resources/templates/list", nil)
				if r.Error != nil && r.Error.Code == jsonrpc.CodeMethodNotFound {
					t.Skip("the server does not implement resources/templates/list (-32601)")
				}
				pages(ctx, t, "resources/templates/list", "resourceTemplates")
			},
		},
		{
			ID: "resources/read", Title: "resources/read of a listed resource answers its contents",
			Spec: "server/resources", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				uri := resourceURI(ctx, t)
				var res struct {
					Contents []json.RawMessage `json:"contents"`
				}
				decode(t, "resources/read", result(ctx, t, "resources/read", map[string]any{"uri": uri}), &res)
				if len(res.Contents) == 0 {
					t.Fail("resources/read of %s answered no contents", uri)
				}
			},
		},
		{
			ID: "resources/not-found", Title: "resources/read of an unknown URI gets the resource-not-found error",
			Spec: "server/resources", Severity: Should, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("resources")
				r := t.Call(ctx, "resources/read", map[string]any{"uri": "conformance://no-such-resource"})
				codes := []int{codeResourceNotFound}
				if t.Rev.Stateless() {
					codes = []int{jsonrpc.CodeInvalidParams, codeResourceNotFound}
				}
				expectError(t, "resources/read of an unknown URI", r, codes...)
			},
		},
		{
			ID: "resources/subscribe", Title: "resources/subscribe and unsubscribe succeed when the server declares subscribe",
			Spec: "server/resources", Severity: Must, Revisions: legacy(), Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("resources")
				if sub, _ := t.Capability("resources")["subscribe"].(bool); !sub {
					t.Skip("the server does not declare resources.subscribe")
				}
				uri := resourceURI(ctx, t)
				result(ctx, t, "resources/subscribe", map[string]any{"uri": uri})
				result(ctx, t, "resources/unsubscribe", map[string]any{"uri": uri})
			},
		},
	}
}

// listenScenario checks subscriptions/listen (2026-07-28, REVISIONS.md
// 4.M3): the acknowledgement comes first on the subscription and honours
// no more than was asked for.
func listenScenario() Scenario {
	return Scenario{
		ID: "resources/listen", Title: "subscriptions/listen is acknowledged first, with no more than the client asked for",
		Spec: "server/resources", Severity: Must, Revisions: stateless(), Transport: AnyTransport,
		Run: func(ctx context.Context, t *T) {
			uri := resourceURI(ctx, t)
			id, err := t.Start(ctx, "subscriptions/listen", map[string]any{
				"_meta":         t.Meta(),
				"notifications": map[string]any{"resourceSubscriptions": []string{uri}, "toolsListChanged": true},
			})
			if err != nil {
				t.Fatal("subscriptions/listen: %v", err)
			}
			defer t.Notify(context.WithoutCancel(ctx), "notifications/cancelled", map[string]any{"requestId": id, "reason": "conformance"})
			ours := func(n Notification) bool {
				var p struct {
					Meta map[string]json.RawMessage `json:"_meta"`
				}
				json.Unmarshal(n.Params, &p)
				return string(p.Meta[metaSubscriptionID]) == string(id)
			}
			ack, ok := t.WaitNotification(ctx, ours)
			if !ok {
				t.Fatal("no notification carrying subscriptionId %s arrived", id)
			}
			if ack.Method != "notifications/subscriptions/acknowledged" {
				t.Fatal("the first notification of the subscription is %s, not notifications/subscriptions/acknowledged", ack.Method)
			}
			var p struct {
				Notifications struct {
					Tools     bool     `json:"toolsListChanged"`
					Prompts   bool     `json:"promptsListChanged"`
					Resources bool     `json:"resourcesListChanged"`
					URIs      []string `json:"resourceSubscriptions"`
				} `json:"notifications"`
			}
			decode(t, ack.Method, ack.Params, &p)
			if p.Notifications.Prompts || p.Notifications.Resources {
				t.Fail("the acknowledgement honours list_changed notifications that were not asked for")
			}
			for _, u := range p.Notifications.URIs {
				if u != uri {
					t.Fail("the acknowledgement subscribes %s, which was not asked for", u)
				}
			}
		},
	}
}

// promptDef is what the scenarios read of a prompts/list entry.
type promptDef struct {
	Name      string `json:"name"`
	Arguments []struct {
		Name     string `json:"name"`
		Required bool   `json:"required"`
	} `json:"arguments"`
}

func listPrompts(ctx context.Context, t *T) []promptDef {
	t.Require("prompts")
	var res struct {
		Prompts []promptDef `json:"prompts"`
	}
	decode(t, "prompts/list", result(ctx, t, "prompts/list", nil), &res)
	return res.Prompts
}

func promptScenarios(all []schemas.Revision) []Scenario {
	return []Scenario{
		{
			ID: "prompts/list", Title: "prompts/list lists prompts with unique names",
			Spec: "server/prompts", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				ps := listPrompts(ctx, t)
				uniqueNames(t, "prompts/list", "prompt", len(ps), func(i int) string { return ps[i].Name })
			},
		},
		{
			ID: "prompts/get", Title: "prompts/get with the required arguments answers messages",
			Spec: "server/prompts", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				ps := listPrompts(ctx, t)
				if len(ps) == 0 {
					t.Skip("the server lists no prompts")
				}
				args := map[string]any{}
				for _, a := range ps[0].Arguments {
					if a.Required {
						args[a.Name] = "conformance"
					}
				}
				var res struct {
					Messages []json.RawMessage `json:"messages"`
				}
				decode(t, "prompts/get", result(ctx, t, "prompts/get", map[string]any{"name": ps[0].Name, "arguments": args}), &res)
			},
		},
		{
			ID: "prompts/missing-arguments", Title: "prompts/get without a required argument gets -32602",
			Spec: "server/prompts", Severity: Should, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				for _, p := range listPrompts(ctx, t) {
					for _, a := range p.Arguments {
						if a.Required {
							r := t.Call(ctx, "prompts/get", map[string]any{"name": p.Name, "arguments": map[string]any{}})
							expectError(t, "prompts/get of "+p.Name+" without "+a.Name, r, jsonrpc.CodeInvalidParams)
							return
						}
					}
				}
				t.Skip("no prompt has a required argument")
			},
		},
	}
}

func utilityScenarios(all []schemas.Revision) []Scenario {
	return []Scenario{
		{
			ID: "completion/complete", Title: "completion/complete of a prompt argument answers valid completions",
			Spec: "server/utilities/completion", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				// 2024-11-05 has completion/complete but no capability for it.
				if t.Capability("completions") == nil && t.Rev != schemas.V20241105 {
					t.Skip("the server does not declare the completions capability")
				}
				for _, p := range listPrompts(ctx, t) {
					if len(p.Arguments) == 0 {
						continue
					}
					var res struct {
						Completion struct {
							Values []string `json:"values"`
						} `json:"completion"`
					}
					r := t.Call(ctx, "completion/complete", map[string]any{
						"ref":      map[string]any{"type": "ref/prompt", "name": p.Name},
						"argument": map[string]any{"name": p.Arguments[0].Name, "value": ""},
					})
					if r.Error != nil && r.Error.Code == jsonrpc.CodeMethodNotFound && t.Capability("completions") == nil {
						t.Skip("the server does not offer completion/complete")
					}
					if r.Error != nil {
						t.Fatal("completion/complete failed: %v", r.Error)
					}
					decode(t, "completion/complete", r.Result, &res)
					if len(res.Completion.Values) > 100 {
						t.Fail("completion/complete answered %d values; at most 100 are allowed", len(res.Completion.Values))
					}
					return
				}
				t.Skip("no prompt has an argument to complete")
			},
		},
		{
			ID: "logging/set-level", Title: "logging/setLevel succeeds when the server declares logging",
			Spec: "server/utilities/logging", Severity: Must, Revisions: legacy(), Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				t.Require("logging")
				result(ctx, t, "logging/setLevel", map[string]any{"level": "debug"})
			},
		},
		{
			ID: "cancellation/unknown-request", Title: "notifications/cancelled for an unknown request is ignored; the session goes on",
			Spec: "basic/utilities/cancellation", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				if err := t.Notify(ctx, "notifications/cancelled", map[string]any{"requestId": 987654, "reason": "conformance"}); err != nil {
					t.Fatal("notifications/cancelled: %v", err)
				}
				method := "ping"
				if t.Rev.Stateless() {
					method = "server/discover"
				}
				r, err := t.CallErr(ctx, method, nil)
				if err != nil {
					t.Fatal("%s after a cancellation of an unknown request: %v", method, err)
				}
				if r.Error != nil {
					t.Fail("%s after a cancellation of an unknown request failed: %v", method, r.Error)
				}
			},
		},
		{
			ID: "progress/notifications", Title: "progress notifications carry the request's progressToken and increase",
			Spec: "basic/utilities/progress", Severity: Must, Revisions: all, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				tl, ok := toolMentioning(listTools(ctx, t), "progress")
				if !ok {
					t.Skip("no tool mentions progress")
				}
				const token = "conformance-progress-1"
				// Every argument gets a small value (durations and step counts of
				// 1 keep long-running demo tools short).
				params := map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, true)}
				meta := map[string]any{"progressToken": token}
				if t.Rev.Stateless() {
					for k, v := range t.Meta() {
						meta[k] = v
					}
				}
				params["_meta"] = meta
				result(ctx, t, "tools/call", params)
				last := -1.0
				n := 0
				for _, no := range t.Notifications() {
					if no.Method != "notifications/progress" {
						continue
					}
					var p struct {
						Token    any     `json:"progressToken"`
						Progress float64 `json:"progress"`
					}
					decode(t, "notifications/progress", no.Params, &p)
					if p.Token != token {
						t.Fail("notifications/progress with progressToken %v, but the only token sent was %q", p.Token, token)
						continue
					}
					if p.Progress <= last {
						t.Fail("progress went from %v to %v; it MUST increase", last, p.Progress)
					}
					last = p.Progress
					n++
				}
				if n == 0 {
					t.Skip("tool %s sent no progress", tl.Name)
				}
			},
		},
	}
}

// clientFeatureScenarios check the requests a server sends to its client:
// JSON-RPC requests up to 2025-11-25, the inputRequests of an
// InputRequiredResult (multi round-trip requests) in 2026-07-28.
func clientFeatureScenarios() []Scenario {
	mk := func(id, method, word, spec string, revs []schemas.Revision) Scenario {
		return Scenario{
			ID: id, Title: "a tool that uses " + method + " sends a valid request and completes once answered",
			Spec: spec, Severity: Must, Revisions: revs, Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				tl, ok := toolMentioning(listTools(ctx, t), word)
				if !ok {
					t.Skip("no tool mentions %s", word)
				}
				callWithInput(ctx, t, map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, false)})
				if !slices.Contains(t.Asked(), method) {
					t.Skip("tool %s sent no %s", tl.Name, method)
				}
			},
		}
	}
	return []Scenario{
		mk("client/sampling", "sampling/createMessage", "sampl", "client/sampling", all()),
		mk("client/elicitation", "elicitation/create", "elicit", "client/elicitation", from(schemas.V20250618)),
		mk("client/roots", "roots/list", "roots", "client/roots", all()),
		{
			ID: "lifecycle/missing-client-capability", Title: "a tool that needs a client capability the request does not declare is refused with -32021, not asked for",
			Spec: "basic/lifecycle", Severity: Must, Revisions: stateless(), Transport: AnyTransport,
			Run: func(ctx context.Context, t *T) {
				tl, ok := toolMentioning(listTools(ctx, t), "elicit", "sampl")
				if !ok {
					t.Skip("no tool mentions elicitation or sampling")
				}
				meta := t.Meta()
				meta[metaClientCapabilities] = map[string]any{}
				r := t.Call(ctx, "tools/call", map[string]any{"name": tl.Name, "arguments": synthArgs(tl.InputSchema, false), "_meta": meta})
				if r.Error != nil {
					if r.Error.Code != codeMissingCapability {
						t.Fail("tools/call of %s without client capabilities: error %d (%s), want %d", tl.Name, r.Error.Code, r.Error.Message, codeMissingCapability)
						return
					}
					var data struct {
						Required map[string]any `json:"requiredCapabilities"`
					}
					if json.Unmarshal(r.Error.Data, &data) != nil || data.Required == nil {
						t.Fail("MissingRequiredClientCapabilityError without data.requiredCapabilities: %s", r.Error.Data)
					}
					return
				}
				var res struct {
					InputRequests map[string]struct {
						Method string `json:"method"`
					} `json:"inputRequests"`
				}
				decode(t, "tools/call", r.Result, &res)
				for k, ir := range res.InputRequests {
					t.Fail("tools/call of %s without client capabilities asked for %s (input request %q)", tl.Name, ir.Method, k)
				}
			},
		},
	}
}

// all returns every revision.
func all() []schemas.Revision { return schemas.All() }

// maxInputRounds bounds the multi round-trip retries of one call.
const maxInputRounds = 5

// callWithInput calls tools/call and, on stateless revisions, answers the
// InputRequiredResults (REVISIONS.md 4.M6): every input request is
// recorded like a server request and answered, and the call is retried
// with the inputResponses and the requestState until it completes.
func callWithInput(ctx context.Context, t *T, params map[string]any) json.RawMessage {
	raw := result(ctx, t, "tools/call", params)
	if !t.Rev.Stateless() {
		return raw
	}
	for round := 0; ; round++ {
		var res struct {
			ResultType    string  `json:"resultType"`
			RequestState  *string `json:"requestState"`
			InputRequests map[string]struct {
				Method string `json:"method"`
			} `json:"inputRequests"`
		}
		decode(t, "tools/call", raw, &res)
		if res.ResultType != "input_required" {
			return raw
		}
		if round == maxInputRounds {
			t.Fatal("tools/call still needs input after %d rounds", maxInputRounds)
		}
		if res.RequestState == nil && len(res.InputRequests) == 0 {
			t.Fatal("InputRequiredResult with neither inputRequests nor requestState")
		}
		responses := map[string]any{}
		for k, ir := range res.InputRequests {
			t.mu.Lock()
			t.asked = append(t.asked, ir.Method)
			t.mu.Unlock()
			ans, rerr := t.answer(ir.Method)
			if rerr != nil {
				t.Fatal("input request %q: %s is not a request a server may embed", k, ir.Method)
			}
			responses[k] = ans
		}
		retry := map[string]any{}
		for k, v := range params {
			retry[k] = v
		}
		retry["inputResponses"] = responses
		if res.RequestState != nil {
			retry["requestState"] = *res.RequestState
		}
		raw = result(ctx, t, "tools/call", retry)
	}
}
