package catalogue

// lifecycleDefs: initialization and discovery, capabilities, implementation
// info and icons, ping, cancellation, progress, logging and the 2026-07-28
// subscriptions/listen stream.
//
// Up to 2025-06-18 the official schemas write request and notification
// params inline; from 2025-11-25 on they are separate ...Params definitions
// and every message carries jsonrpc (and requests an id) (REVISIONS.md
// A.3). Each Params object below is therefore one helper, used inline up to
// 2025-06-18 and as the named definition afterwards.
func lifecycleDefs() []Def {
	return []Def{
		// ---- implementation info, icons ----
		D("Implementation", Always, Obj(
			Req("name", Str()),
			Opt("title", Str()).In(Since(R3)), // 2.F3
			Req("version", Str()),
			Opt("description", Str()).In(Since(R4)), // 3.L1
			Opt("icons", Arr(Ref("Icon"))).In(Since(R4)),
			Opt("websiteUrl", StrFormat("uri")).In(Since(R4)),
		)).WithDoc("Name and version of an MCP client or server implementation."),
		// 3.F1
		D("Icon", Since(R4), Obj(
			Req("src", StrFormat("uri")),
			Opt("mimeType", Str()),
			Opt("sizes", Arr(Str())),
			Opt("theme", Enum("light", "dark")),
		)),
		D("Icons", Since(R4), Obj(
			Opt("icons", Arr(Ref("Icon"))),
		)),

		// ---- capabilities (REVISIONS.md 6.2) ----
		D("ClientCapabilities", Always, Obj(
			Opt("experimental", Obj().Values(lcCapValue())),
			Opt("extensions", Obj().Values(Ref("JSONObject"))).In(Since(R5)), // 4.L4
			// 4.L4/4.F8: roots has no sub-fields in 2026-07-28.
			Opt("roots", Obj(
				Opt("listChanged", Bool()).In(Until(R4)),
			)),
			// 3.L4: sampling.{context,tools} from 2025-11-25.
			Opt("sampling", Obj(
				Opt("context", lcCapValue()).In(Since(R4)),
				Opt("tools", lcCapValue()).In(Since(R4)),
			)),
			// 2.L1: elicitation; 3.L3: {form, url}.
			Opt("elicitation", Obj(
				Opt("form", lcCapValue()).In(Since(R4)),
				Opt("url", lcCapValue()).In(Since(R4)),
			)).In(Since(R3)),
			// 3.L2: tasks, 2025-11-25 only (4.M5).
			Opt("tasks", Obj(
				Opt("cancel", Obj()),
				Opt("list", Obj()),
				Opt("requests", Obj(
					Opt("elicitation", Obj(Opt("create", Obj()))),
					Opt("sampling", Obj(Opt("createMessage", Obj()))),
				)),
			)).In(Only4),
		)).WithDoc("Capabilities a client may support."),
		D("ServerCapabilities", Always, Obj(
			Opt("experimental", Obj().Values(lcCapValue())),
			Opt("extensions", Obj().Values(Ref("JSONObject"))).In(Since(R5)), // 4.L4
			Opt("logging", lcCapValue()),
			Opt("completions", lcCapValue()).In(Since(R2)), // 1.L2
			Opt("prompts", Obj(Opt("listChanged", Bool()))),
			// 4.L4: from 2026-07-28 subscribe means resourceSubscriptions in subscriptions/listen.
			Opt("resources", Obj(
				Opt("subscribe", Bool()),
				Opt("listChanged", Bool()),
			)),
			Opt("tools", Obj(Opt("listChanged", Bool()))),
			// 3.L2: tasks, 2025-11-25 only (4.M5).
			Opt("tasks", Obj(
				Opt("cancel", Obj()),
				Opt("list", Obj()),
				Opt("requests", Obj(
					Opt("tools", Obj(Opt("call", Obj()))),
				)),
			)).In(Only4),
		)).WithDoc("Capabilities a server may support."),

		// ---- initialize handshake (removed in 2026-07-28, 4.L1) ----
		D("InitializeRequest", Until(R4), lcRequest("initialize",
			Req("params", lcParams(lcInitializeParams(), "InitializeRequestParams")),
		)),
		D("InitializeRequestParams", Only4, lcInitializeParams()),
		D("InitializeResult", Until(R4), Obj(
			Opt("_meta", meta()),
			Req("protocolVersion", Str()),
			Req("capabilities", Ref("ServerCapabilities")),
			Req("serverInfo", Ref("Implementation")),
			Opt("instructions", Str()), // 1.L3
		)),
		D("InitializedNotification", Until(R4), lcNotification("notifications/initialized",
			Opt("params", Variant(
				When(Until(R3), lcOpenParams(Obj().Values(Any()))),
				When(Since(R4), Ref("NotificationParams")),
			)),
		)),

		// ---- server/discover (4.L2) ----
		D("DiscoverRequest", Since(R5), lcRequest("server/discover",
			Req("params", Ref("RequestParams")),
		)),
		D("DiscoverResult", Since(R5), Obj(
			Opt("_meta", Ref("ResultMetaObject")),
			Req("resultType", Str()), // 4.F1
			Req("supportedVersions", Arr(Str())),
			Req("capabilities", Ref("ServerCapabilities")),
			Opt("instructions", Str()),
			Req("ttlMs", Min(Int(), 0)), // 4.F2
			Req("cacheScope", Enum("public", "private")),
		)),

		// ---- ping (removed in 2026-07-28, 4.M1) ----
		D("PingRequest", Until(R4), lcRequest("ping",
			Opt("params", Variant(
				When(Until(R3), lcOpenParams(lcRequestMeta())),
				When(Since(R4), Ref("RequestParams")),
			)),
		)),

		// ---- cancellation ----
		D("CancelledNotification", Always, lcNotification("notifications/cancelled",
			Req("params", lcParams(lcCancelledParams(), "CancelledNotificationParams")),
		)),
		D("CancelledNotificationParams", Since(R4), lcCancelledParams()),

		// ---- progress ----
		D("ProgressNotification", Always, lcNotification("notifications/progress",
			Req("params", lcParams(lcProgressParams(), "ProgressNotificationParams")),
		)),
		D("ProgressNotificationParams", Since(R4), lcProgressParams()),

		// ---- logging ----
		D("LoggingLevel", Always, Enum("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")).
			WithDoc("Severity of a log message (RFC 5424 syslog severities)."),
		// 4.M2: logging/setLevel removed in 2026-07-28 (level is per request).
		D("SetLevelRequest", Until(R4), lcRequest("logging/setLevel",
			Req("params", lcParams(lcSetLevelParams(), "SetLevelRequestParams")),
		)),
		D("SetLevelRequestParams", Only4, lcSetLevelParams()),
		D("LoggingMessageNotification", Always, lcNotification("notifications/message",
			Req("params", lcParams(lcLoggingParams(), "LoggingMessageNotificationParams")),
		)),
		D("LoggingMessageNotificationParams", Since(R4), lcLoggingParams()),

		// ---- subscriptions/listen (4.M3, 4.M10) ----
		D("SubscriptionFilter", Since(R5), Obj(
			Opt("toolsListChanged", Bool()),
			Opt("promptsListChanged", Bool()),
			Opt("resourcesListChanged", Bool()),
			Opt("resourceSubscriptions", Arr(Str())),
		)),
		D("SubscriptionsListenRequest", Since(R5), lcRequest("subscriptions/listen",
			Req("params", Ref("SubscriptionsListenRequestParams")),
		)),
		D("SubscriptionsListenRequestParams", Since(R5), Obj(
			Req("_meta", Ref("RequestMetaObject")),
			Req("notifications", Ref("SubscriptionFilter")),
		)),
		D("SubscriptionsListenResult", Since(R5), Obj(
			Req("_meta", Ref("SubscriptionsListenResultMetaObject")),
			Req("resultType", Str()),
		)),
		D("SubscriptionsAcknowledgedNotification", Since(R5), lcNotification("notifications/subscriptions/acknowledged",
			Req("params", Ref("SubscriptionsAcknowledgedNotificationParams")),
		)),
		D("SubscriptionsAcknowledgedNotificationParams", Since(R5), Obj(
			Opt("_meta", lcNotificationMeta()),
			Req("notifications", Ref("SubscriptionFilter")),
		)),
	}
}

// lcRequest is a request message: method constant, plus jsonrpc and id
// from 2025-11-25 on (A.3: requests extend JSONRPCRequest).
func lcRequest(method string, params Field) *ObjNode {
	return Obj(
		Req("jsonrpc", Const("2.0")).In(Since(R4)),
		Req("id", Ref("RequestId")).In(Since(R4)),
		Req("method", Const(method)),
		params,
	)
}

// lcNotification is a notification message: method constant, plus jsonrpc
// from 2025-11-25 on.
func lcNotification(method string, params Field) *ObjNode {
	return Obj(
		Req("jsonrpc", Const("2.0")).In(Since(R4)),
		Req("method", Const(method)),
		params,
	)
}

// lcParams is a params property: the object written inline up to
// 2025-06-18, a $ref to its ...Params definition from 2025-11-25 on.
func lcParams(inline Node, def string) Node {
	return Variant(
		When(Until(R3), inline),
		When(Since(R4), Ref(def)),
	)
}

// lcOpenParams is the inline optional params of a draft-07 request or
// notification without parameters of its own: any object, with _meta.
func lcOpenParams(metaNode Node) Node {
	return Obj(Opt("_meta", metaNode)).Values(Any())
}

// lcRequestMeta is the _meta of request params: an open object with
// progressToken up to 2025-11-25, RequestMetaObject from 2026-07-28 (4.L1).
func lcRequestMeta() Node {
	return Variant(
		When(Until(R4), Obj(
			Opt("progressToken", Ref("ProgressToken")),
		).ValuesIn(Since(R3), Any())),
		When(Since(R5), Ref("RequestMetaObject")),
	)
}

// lcNotificationMeta is the _meta of notification params: an open object
// up to 2025-11-25, NotificationMetaObject from 2026-07-28 (4.F5).
func lcNotificationMeta() Node {
	return Variant(
		When(Until(R4), Obj().Values(Any())),
		When(Since(R5), Ref("NotificationMetaObject")),
	)
}

// lcCapValue is the value of an "object, no fixed fields" capability
// (logging, completions, sampling.tools, experimental entries, ...): any
// object up to 2025-11-25, JSONObject from 2026-07-28 (4.L4).
func lcCapValue() Node {
	return Variant(
		When(Until(R4), Obj()),
		When(Since(R5), Ref("JSONObject")),
	)
}

func lcInitializeParams() Node {
	return Obj(
		Opt("_meta", lcRequestMeta()).In(Since(R4)),
		Req("protocolVersion", Str()),
		Req("capabilities", Ref("ClientCapabilities")),
		Req("clientInfo", Ref("Implementation")),
	)
}

func lcSetLevelParams() Node {
	return Obj(
		Opt("_meta", lcRequestMeta()).In(Since(R4)),
		Req("level", Ref("LoggingLevel")),
	)
}

func lcCancelledParams() Node {
	return Obj(
		Opt("_meta", lcNotificationMeta()).In(Since(R4)),
		// 3.F3: optional in 2025-11-25 only; 4.F8: required again.
		Req("requestId", Ref("RequestId")).In(Until(R3)),
		Req("requestId", Ref("RequestId")).In(Since(R4)).ReqIn(Since(R5)),
		Opt("reason", Str()),
	)
}

func lcProgressParams() Node {
	return Obj(
		Opt("_meta", lcNotificationMeta()).In(Since(R4)),
		Req("progressToken", Ref("ProgressToken")),
		Req("progress", Num()),
		Opt("total", Num()),
		Opt("message", Str()).In(Since(R2)), // 1.F4
	)
}

func lcLoggingParams() Node {
	return Obj(
		Opt("_meta", lcNotificationMeta()).In(Since(R4)),
		Req("level", Ref("LoggingLevel")),
		Opt("logger", Str()),
		Req("data", With(Any(), map[string]any{
			"description": "The data to log: any JSON value, such as a message string or an object.",
		})),
	)
}
