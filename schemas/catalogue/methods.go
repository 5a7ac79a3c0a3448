package catalogue

import "github.com/mcpbroker/mcpbroker/schemas"

// Kind tells a request from a notification.
type Kind string

// Method kinds.
const (
	Request      Kind = "request"
	Notification Kind = "notification"
)

// Sender is the side that may send a method.
type Sender string

// Senders.
const (
	Client Sender = "client"
	Server Sender = "server"
)

// Method is one JSON-RPC method of MCP, with the revisions that have it,
// the side(s) that send it, the definition of its message and (for
// requests) the definitions its result may match.
type Method struct {
	Name    string
	Kind    Kind
	Span    Span
	Senders []SenderSpan
	Message string
	Results []ResultCase
}

// SenderSpan is a sender in a span of revisions.
type SenderSpan struct {
	Sender Sender
	Span   Span
}

// ResultCase is a result definition a request may be answered with, in a
// span of revisions.
type ResultCase struct {
	Def  string
	Span Span
}

func by(s Sender, span Span) SenderSpan    { return SenderSpan{s, span} }
func res(def string, span Span) ResultCase { return ResultCase{def, span} }

func req(name string, span Span, senders []SenderSpan, msg string, results ...ResultCase) Method {
	return Method{Name: name, Kind: Request, Span: span, Senders: senders, Message: msg, Results: results}
}

func note(name string, span Span, senders []SenderSpan, msg string) Method {
	return Method{Name: name, Kind: Notification, Span: span, Senders: senders, Message: msg}
}

func client() []SenderSpan { return []SenderSpan{by(Client, Always)} }
func server() []SenderSpan { return []SenderSpan{by(Server, Always)} }
func both() []SenderSpan   { return []SenderSpan{by(Client, Always), by(Server, Always)} }

// Methods is the method table of every revision (REVISIONS.md 6.1). In
// 2026-07-28 sampling, elicitation and roots requests exist only embedded
// in InputRequiredResult, never as JSON-RPC requests, so they end at
// 2025-11-25 here.
func Methods() []Method {
	mrtr := res("InputRequiredResult", Since(R5)) // 4.M6
	task := res("CreateTaskResult", Only4)        // 3.L2: task-augmented requests
	return []Method{
		// client → server requests
		req("initialize", Until(R4), client(), "InitializeRequest", res("InitializeResult", Always)),
		req("ping", Until(R4), both(), "PingRequest", res("EmptyResult", Always)),
		req("logging/setLevel", Until(R4), client(), "SetLevelRequest", res("EmptyResult", Always)),
		req("completion/complete", Always, client(), "CompleteRequest", res("CompleteResult", Always)),
		req("prompts/list", Always, client(), "ListPromptsRequest", res("ListPromptsResult", Always)),
		req("prompts/get", Always, client(), "GetPromptRequest", res("GetPromptResult", Always), mrtr),
		req("resources/list", Always, client(), "ListResourcesRequest", res("ListResourcesResult", Always)),
		req("resources/templates/list", Always, client(), "ListResourceTemplatesRequest", res("ListResourceTemplatesResult", Always)),
		req("resources/read", Always, client(), "ReadResourceRequest", res("ReadResourceResult", Always), mrtr),
		req("resources/subscribe", Until(R4), client(), "SubscribeRequest", res("EmptyResult", Always)),
		req("resources/unsubscribe", Until(R4), client(), "UnsubscribeRequest", res("EmptyResult", Always)),
		req("tools/list", Always, client(), "ListToolsRequest", res("ListToolsResult", Always)),
		req("tools/call", Always, client(), "CallToolRequest", res("CallToolResult", Always), task, mrtr),
		req("server/discover", Since(R5), client(), "DiscoverRequest", res("DiscoverResult", Always)),
		req("subscriptions/listen", Since(R5), client(), "SubscriptionsListenRequest", res("SubscriptionsListenResult", Always)),
		// tasks (2025-11-25 core; both directions)
		req("tasks/get", Only4, both(), "GetTaskRequest", res("GetTaskResult", Always)),
		req("tasks/result", Only4, both(), "GetTaskPayloadRequest", res("GetTaskPayloadResult", Always)),
		req("tasks/list", Only4, both(), "ListTasksRequest", res("ListTasksResult", Always)),
		req("tasks/cancel", Only4, both(), "CancelTaskRequest", res("CancelTaskResult", Always)),
		// server → client requests
		req("roots/list", Until(R4), server(), "ListRootsRequest", res("ListRootsResult", Always)),
		req("sampling/createMessage", Until(R4), server(), "CreateMessageRequest", res("CreateMessageResult", Always), task),
		req("elicitation/create", Between(R3, R4), server(), "ElicitRequest", res("ElicitResult", Always), task),
		// notifications
		note("notifications/cancelled", Always, both(), "CancelledNotification"),
		note("notifications/initialized", Until(R4), client(), "InitializedNotification"),
		note("notifications/progress", Always, []SenderSpan{by(Client, Until(R4)), by(Server, Always)}, "ProgressNotification"),
		note("notifications/roots/list_changed", Until(R4), client(), "RootsListChangedNotification"),
		note("notifications/message", Always, server(), "LoggingMessageNotification"),
		note("notifications/prompts/list_changed", Always, server(), "PromptListChangedNotification"),
		note("notifications/resources/list_changed", Always, server(), "ResourceListChangedNotification"),
		note("notifications/resources/updated", Always, server(), "ResourceUpdatedNotification"),
		note("notifications/tools/list_changed", Always, server(), "ToolListChangedNotification"),
		note("notifications/tasks/status", Only4, both(), "TaskStatusNotification"),
		note("notifications/elicitation/complete", Only4, server(), "ElicitationCompleteNotification"),
		note("notifications/subscriptions/acknowledged", Since(R5), server(), "SubscriptionsAcknowledgedNotification"),
	}
}

// Only4 is the span of 2025-11-25 alone.
var Only4 = Between(R4, R4)

// MethodsFor returns the methods of revision r, with senders and results
// cut down to r, as written into the generated schema under x-mcp-methods.
func MethodsFor(r schemas.Revision) map[string]any {
	out := map[string]any{}
	for _, m := range Methods() {
		if !m.Span.Has(r) {
			continue
		}
		var senders []any
		for _, s := range m.Senders {
			if s.Span.Has(r) {
				senders = append(senders, string(s.Sender))
			}
		}
		e := map[string]any{"kind": string(m.Kind), "senders": senders, "message": m.Message}
		if m.Kind == Request {
			var rs []any
			for _, c := range m.Results {
				if c.Span.Has(r) {
					rs = append(rs, c.Def)
				}
			}
			e["results"] = rs
		}
		out[m.Name] = e
	}
	return out
}
