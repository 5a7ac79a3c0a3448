package catalogue

import "github.com/mcpbroker/mcpbroker/schemas"

// baseDefs: JSON-RPC envelopes, base request/notification/result shapes,
// typed _meta objects (2026-07-28), error types, JSON values and the
// per-side message unions.
func baseDefs() []Def {
	return []Def{
		// ---- primitive base types ----
		D("RequestId", Always, Types("string", "integer")).
			WithDoc("A uniquely identifying ID for a request in JSON-RPC."),
		D("ProgressToken", Always, Types("string", "integer")).
			WithDoc("A token used to associate progress notifications with the original request."),
		D("Cursor", Always, Str()).
			WithDoc("An opaque token used to represent a cursor for pagination."),
		D("ResultType", Since(R5), Str()), // 4.F1
		D("BaseMetadata", Since(R3), Obj( // 2.F3
			Req("name", Str()),
			Opt("title", Str()),
		)),

		// ---- JSON values (2026-07-28) ----
		// The official schema types the scalar member ["string","integer",
		// "boolean"], a generator quirk (SOURCE.md): schema.ts allows any
		// number and null, so ours does too.
		D("JSONValue", Since(R5), AnyOf(
			Ref("JSONObject"),
			Arr(Ref("JSONValue")),
			Types("string", "number", "boolean", "null"),
		)).WithDoc("Any JSON value."),
		D("JSONObject", Since(R5), Obj().Values(Ref("JSONValue"))),
		D("JSONArray", Since(R5), Arr(Ref("JSONValue"))),

		// ---- typed _meta objects (4.F5) ----
		D("MetaObject", Since(R5), Obj()).
			WithDoc("The _meta property: reserved keys plus user and vendor keys."),
		D("RequestMetaObject", Since(R5), Obj( // 4.L1, 4.M2
			Opt("progressToken", Ref("ProgressToken")),
			Req("io.modelcontextprotocol/protocolVersion", Str()),
			Req("io.modelcontextprotocol/clientCapabilities", Ref("ClientCapabilities")),
			Opt("io.modelcontextprotocol/clientInfo", Ref("Implementation")),
			Opt("io.modelcontextprotocol/logLevel", Ref("LoggingLevel")),
		)).WithDoc("The _meta of every request: per-request protocol version and client capabilities."),
		D("ResultMetaObject", Since(R5), Obj(
			Opt("io.modelcontextprotocol/serverInfo", Ref("Implementation")),
		)),
		D("NotificationMetaObject", Since(R5), Obj( // 4.M3
			Opt("io.modelcontextprotocol/subscriptionId", Ref("RequestId")),
		)),
		D("SubscriptionsListenResultMetaObject", Since(R5), Obj( // 4.M3
			Opt("io.modelcontextprotocol/serverInfo", Ref("Implementation")),
			Req("io.modelcontextprotocol/subscriptionId", Ref("RequestId")),
		)),

		// ---- requests, notifications, results ----
		D("Request", Always, Obj(
			Req("method", Str()),
			Opt("params", baseRequestParams()),
		)),
		// 3.x: the *RequestParams split (2025-11-25); 4.L1: _meta required.
		D("RequestParams", Since(R4), Obj(
			Opt("_meta", requestMeta()).ReqIn(Since(R5)),
		)),
		D("Notification", Always, Obj(
			Req("method", Str()),
			Opt("params", baseNotificationParams()),
		)),
		D("NotificationParams", Since(R4), Obj(
			Opt("_meta", notificationMeta()),
		)),
		D("Result", Always, Obj(
			Opt("_meta", resultMeta()),
			Req("resultType", Str()).In(Since(R5)), // 4.F1
		).Values(Any())),
		D("EmptyResult", Always, Ref("Result")),
		D("CacheableResult", Since(R5), Obj( // 4.F2
			Opt("_meta", Ref("ResultMetaObject")),
			Req("resultType", Str()),
			Req("ttlMs", Min(Int(), 0)),
			Req("cacheScope", Enum("private", "public")),
		)),
		D("PaginatedRequest", Always, Obj(
			Req("id", Ref("RequestId")).In(Since(R4)), // 3.x: requests extend JSONRPCRequest
			Req("jsonrpc", Const("2.0")).In(Since(R4)),
			Req("method", Str()),
			Opt("params", Variant(
				When(Until(R3), Obj(Opt("cursor", Str()))),
				When(Since(R4), Ref("PaginatedRequestParams")),
			)).ReqIn(Since(R5)), // 4.L1
		)),
		D("PaginatedRequestParams", Since(R4), Obj(
			Opt("_meta", requestMeta()).ReqIn(Since(R5)), // 4.L1
			Opt("cursor", Str()),
		)),
		D("PaginatedResult", Always, Obj(
			Opt("_meta", resultMeta()),
			Opt("nextCursor", Str()),
			Req("resultType", Str()).In(Since(R5)), // 4.F1
		)),

		// ---- JSON-RPC envelopes ----
		D("JSONRPCRequest", Always, Obj(
			Req("jsonrpc", Const("2.0")),
			Req("id", Ref("RequestId")),
			Req("method", Str()),
			Opt("params", baseRequestParams()),
		)).WithDoc("A request that expects a response."),
		D("JSONRPCNotification", Always, Obj(
			Req("jsonrpc", Const("2.0")),
			Req("method", Str()),
			Opt("params", baseNotificationParams()),
		)).WithDoc("A notification which does not expect a response."),
		// 3.F4: JSONRPCResponse becomes the union of result and error
		// responses in 2025-11-25.
		D("JSONRPCResponse", Always, Variant(
			When(Until(R3), resultResponse(Ref("Result"))),
			When(Since(R4), AnyOf(Ref("JSONRPCResultResponse"), Ref("JSONRPCErrorResponse"))),
		)),
		D("JSONRPCResultResponse", Since(R4), resultResponse(Ref("Result"))), // 3.F4
		D("JSONRPCError", Until(R3), Obj(
			Req("jsonrpc", Const("2.0")),
			Req("id", Ref("RequestId")),
			Req("error", errorObject()),
		)),
		D("JSONRPCErrorResponse", Since(R4), Obj( // 3.F4: id optional
			Req("jsonrpc", Const("2.0")),
			Opt("id", Ref("RequestId")),
			Req("error", Ref("Error")),
		)),
		D("Error", Since(R4), errorObject()), // 3.F4
		// 1.L1 / 2.T1: batching exists only in 2025-03-26.
		D("JSONRPCBatchRequest", Between(R2, R2), batchRequest()),
		D("JSONRPCBatchResponse", Between(R2, R2), batchResponse()),
		D("JSONRPCMessage", Always, AnyOf(
			Ref("JSONRPCRequest"),
			Ref("JSONRPCNotification"),
			Only(Between(R2, R2), batchRequest()), // 1.L1
			Only(Until(R3), Ref("JSONRPCResponse")),
			Only(Until(R3), Ref("JSONRPCError")),
			Only(Since(R4), Ref("JSONRPCResultResponse")), // 3.F4
			Only(Since(R4), Ref("JSONRPCErrorResponse")),
			Only(Between(R2, R2), batchResponse()), // 1.L1
		)).WithDoc("Any JSON-RPC message that can be sent on the wire."),

		// ---- 2026-07-28 typed responses (4.M6: MRTR results first) ----
		D("CallToolResultResponse", Since(R5), resultResponse(mrtrResult("CallToolResult"))),
		D("GetPromptResultResponse", Since(R5), resultResponse(mrtrResult("GetPromptResult"))),
		D("ReadResourceResultResponse", Since(R5), resultResponse(mrtrResult("ReadResourceResult"))),
		D("CompleteResultResponse", Since(R5), resultResponse(Ref("CompleteResult"))),
		D("DiscoverResultResponse", Since(R5), resultResponse(Ref("DiscoverResult"))),
		D("ListPromptsResultResponse", Since(R5), resultResponse(Ref("ListPromptsResult"))),
		D("ListResourceTemplatesResultResponse", Since(R5), resultResponse(Ref("ListResourceTemplatesResult"))),
		D("ListResourcesResultResponse", Since(R5), resultResponse(Ref("ListResourcesResult"))),
		D("ListToolsResultResponse", Since(R5), resultResponse(Ref("ListToolsResult"))),
		D("SubscriptionsListenResultResponse", Since(R5), resultResponse(Ref("SubscriptionsListenResult"))),

		// ---- error objects and error responses (2026-07-28) ----
		D("ParseError", Since(R5), codedError(-32700)),
		D("InvalidRequestError", Since(R5), codedError(-32600)),
		D("MethodNotFoundError", Since(R5), codedError(-32601)),
		D("InvalidParamsError", Since(R5), codedError(-32602)),
		D("InternalError", Since(R5), codedError(-32603)),
		D("HeaderMismatchError", Since(R5), errorResponse(Obj( // 4.E1, 4.T5
			Req("code", intConst(-32020)),
		))),
		D("MissingRequiredClientCapabilityError", Since(R5), errorResponse(Obj( // 4.L3
			Req("code", intConst(-32021)),
			Req("data", Obj(
				Req("requiredCapabilities", Ref("ClientCapabilities")),
			)),
		))),
		D("UnsupportedProtocolVersionError", Since(R5), errorResponse(Obj( // 4.L3
			Req("code", intConst(-32022)),
			Req("data", Obj(
				Req("supported", Arr(Str())),
				Req("requested", Str()),
			)),
		))),

		// ---- per-side unions (REVISIONS.md 6.1) ----
		D("ClientRequest", Always, AnyOf(
			Only(Until(R4), Ref("InitializeRequest")), // 4.L1
			Only(Until(R4), Ref("PingRequest")),       // 4.M1
			Only(Since(R5), Ref("DiscoverRequest")),   // 4.L2
			Ref("ListResourcesRequest"),
			Ref("ListResourceTemplatesRequest"),
			Ref("ReadResourceRequest"),
			Only(Until(R4), Ref("SubscribeRequest")), // 4.M3
			Only(Until(R4), Ref("UnsubscribeRequest")),
			Only(Since(R5), Ref("SubscriptionsListenRequest")),
			Ref("ListPromptsRequest"),
			Ref("GetPromptRequest"),
			Ref("ListToolsRequest"),
			Ref("CallToolRequest"),
			Only(Only4, Ref("GetTaskRequest")), // 3.L2, 4.M5
			Only(Only4, Ref("GetTaskPayloadRequest")),
			Only(Only4, Ref("CancelTaskRequest")),
			Only(Only4, Ref("ListTasksRequest")),
			Only(Until(R4), Ref("SetLevelRequest")), // 4.M2
			Ref("CompleteRequest"),
		)),
		// 4.M8: in 2026-07-28 the client sends only notifications/cancelled,
		// written inline rather than as a union.
		D("ClientNotification", Always, Variant(
			When(Until(R4), AnyOf(
				Ref("CancelledNotification"),
				Ref("InitializedNotification"),
				Ref("ProgressNotification"),
				Only(Only4, Ref("TaskStatusNotification")), // 3.L2
				Ref("RootsListChangedNotification"),
			)),
			When(Since(R5), Obj(
				Req("jsonrpc", Const("2.0")),
				Req("method", Const("notifications/cancelled")),
				Req("params", Ref("CancelledNotificationParams")),
			)),
		)),
		// 4.M6: ClientResult is just Result in 2026-07-28.
		D("ClientResult", Always, AnyOf(
			Ref("Result"),
			Only(Only4, Ref("GetTaskResult")), // 3.L2
			Only(Only4, Ref("GetTaskPayloadResult")),
			Only(Only4, Ref("CancelTaskResult")),
			Only(Only4, Ref("ListTasksResult")),
			Only(Until(R4), Ref("CreateMessageResult")),
			Only(Until(R4), Ref("ListRootsResult")),
			Only(Between(R3, R4), Ref("ElicitResult")), // 2.L1
		)),
		// 4.M6: no server→client JSON-RPC requests in 2026-07-28.
		D("ServerRequest", Until(R4), AnyOf(
			Ref("PingRequest"),
			Only(Only4, Ref("GetTaskRequest")), // 3.L2
			Only(Only4, Ref("GetTaskPayloadRequest")),
			Only(Only4, Ref("CancelTaskRequest")),
			Only(Only4, Ref("ListTasksRequest")),
			Ref("CreateMessageRequest"),
			Ref("ListRootsRequest"),
			Only(Since(R3), Ref("ElicitRequest")), // 2.L1
		)),
		D("ServerNotification", Always, AnyOf(
			Ref("CancelledNotification"),
			Ref("ProgressNotification"),
			Ref("ResourceListChangedNotification"),
			Only(Since(R5), Ref("SubscriptionsAcknowledgedNotification")), // 4.M10
			Ref("ResourceUpdatedNotification"),
			Ref("PromptListChangedNotification"),
			Ref("ToolListChangedNotification"),
			Only(Only4, Ref("TaskStatusNotification")), // 3.L2
			Ref("LoggingMessageNotification"),
			Only(Only4, Ref("ElicitationCompleteNotification")), // 3.L3, 4.M7
		)),
		D("ServerResult", Always, AnyOf(
			Ref("Result"),
			Only(Until(R4), Ref("InitializeResult")),    // 4.L1
			Only(Since(R5), Ref("InputRequiredResult")), // 4.M6
			Only(Since(R5), Ref("DiscoverResult")),      // 4.L2
			Ref("ListResourcesResult"),
			Ref("ListResourceTemplatesResult"),
			Ref("ReadResourceResult"),
			Only(Since(R5), Ref("SubscriptionsListenResult")), // 4.M3
			Ref("ListPromptsResult"),
			Ref("GetPromptResult"),
			Ref("ListToolsResult"),
			Ref("CallToolResult"),
			Only(Only4, Ref("GetTaskResult")), // 3.L2
			Only(Only4, Ref("GetTaskPayloadResult")),
			Only(Only4, Ref("CancelTaskResult")),
			Only(Only4, Ref("ListTasksResult")),
			Ref("CompleteResult"),
		)),
	}
}

// meta is a _meta property: an open object up to 2025-11-25, the typed
// MetaObject from 2026-07-28 (4.F5).
func meta() Node {
	return Variant(
		When(Until(R4), Obj().Values(Any())),
		When(Since(R5), Ref("MetaObject")),
	)
}

// requestMeta is the _meta of request params: an open object with an
// optional progressToken up to 2025-11-25, RequestMetaObject from
// 2026-07-28 (4.F5, 4.L1).
func requestMeta() Node {
	return Variant(
		When(Until(R4), Obj(Opt("progressToken", Ref("ProgressToken"))).Values(Any())),
		When(Since(R5), Ref("RequestMetaObject")),
	)
}

// resultMeta is the _meta of a result: an open object up to 2025-11-25,
// ResultMetaObject from 2026-07-28 (4.F5).
func resultMeta() Node {
	return Variant(
		When(Until(R4), Obj().Values(Any())),
		When(Since(R5), Ref("ResultMetaObject")),
	)
}

// notificationMeta is the _meta of notification params: an open object up
// to 2025-11-25, NotificationMetaObject from 2026-07-28 (4.F5).
func notificationMeta() Node {
	return Variant(
		When(Until(R4), Obj().Values(Any())),
		When(Since(R5), Ref("NotificationMetaObject")),
	)
}

// baseRequestParams is params of the generic Request/JSONRPCRequest: an open
// object that up to 2025-06-18 spells out _meta.progressToken, and is fully
// generic from 2025-11-25 (the *RequestParams refactor).
func baseRequestParams() Node {
	return Variant(
		When(Until(R3), Obj(
			Opt("_meta", Obj(Opt("progressToken", Ref("ProgressToken")))),
		).Values(Any())),
		When(Since(R4), Obj().Values(Any())),
	)
}

// baseNotificationParams is params of the generic Notification and
// JSONRPCNotification: an open object with an open _meta up to 2025-06-18,
// fully generic from 2025-11-25.
func baseNotificationParams() Node {
	return Variant(
		When(Until(R3), Obj(Opt("_meta", Obj().Values(Any()))).Values(Any())),
		When(Since(R4), Obj().Values(Any())),
	)
}

// errorObject is the JSON-RPC error member: inline in JSONRPCError up to
// 2025-06-18, the Error definition from 2025-11-25 (3.F4).
func errorObject() Node {
	return Obj(
		Req("code", Int()),
		Req("message", Str()),
		Opt("data", errorData()),
	)
}

// errorData is the data member of an error: any value, defined by the
// sender. The description keeps it a documented schema rather than a bare {}.
func errorData() Node {
	return With(Any(), map[string]any{"description": "Additional information about the error, defined by the sender."})
}

// resultResponse is a successful JSON-RPC response carrying result.
func resultResponse(result Node) Node {
	return Obj(
		Req("jsonrpc", Const("2.0")),
		Req("id", Ref("RequestId")),
		Req("result", result),
	)
}

// mrtrResult is the result of tools/call, prompts/get and resources/read in
// 2026-07-28: an InputRequiredResult or the method's own result (4.M6).
func mrtrResult(def string) Node {
	return AnyOf(Ref("InputRequiredResult"), Ref(def))
}

// batchRequest and batchResponse are the 2025-03-26 batch arrays (1.L1).
func batchRequest() Node {
	return Arr(AnyOf(Ref("JSONRPCRequest"), Ref("JSONRPCNotification")))
}

func batchResponse() Node {
	return Arr(AnyOf(Ref("JSONRPCResponse"), Ref("JSONRPCError")))
}

// intConst is an integer constant (the DSL's Const is string-only).
func intConst(v int) Node { return Raw(map[string]any{"type": "integer", "const": v}) }

// codedError is an error object with a fixed code (4.E1).
func codedError(code int) Node {
	return Obj(
		Req("code", intConst(code)),
		Req("message", Str()),
		Opt("data", errorData()),
	)
}

// errorResponse is a JSON-RPC error response whose error is Error refined
// by the given constraints (allOf, as in schema.ts's intersection types).
func errorResponse(refine *ObjNode) Node {
	return Obj(
		Req("jsonrpc", Const("2.0")),
		Opt("id", Ref("RequestId")),
		Req("error", allOf(Ref("Error"), refine)),
	)
}

// allOf is an allOf of nodes (the DSL has no allOf); parts a revision
// lacks are left out.
func allOf(parts ...Node) Node { return allOfNode(parts) }

type allOfNode []Node

func (a allOfNode) Emit(r schemas.Revision) (map[string]any, bool) {
	var ms []any
	for _, n := range a {
		if s, ok := n.Emit(r); ok {
			ms = append(ms, s)
		}
	}
	if len(ms) == 0 {
		return nil, false
	}
	return map[string]any{"allOf": ms}, true
}
