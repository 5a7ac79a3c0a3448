package catalogue

// featureDefs: content blocks, tools, resources, prompts, completion,
// logging and list-changed notifications.
func featureDefs() []Def {
	var defs []Def
	for _, part := range [][]Def{
		contentDefs(),
		resourceDefs(),
		promptDefs(),
		toolDefs(),
		completionDefs(),
	} {
		defs = append(defs, part...)
	}
	return defs
}

// ---- content ----

func contentDefs() []Def {
	return []Def{
		D("Role", Always, Enum("assistant", "user")),
		// 1.F2: the Annotated base (2024-11-05) became the named type
		// Annotations; same wire shape.
		D("Annotated", Until(R1), Obj(
			Opt("annotations", annotations()),
		)),
		D("Annotations", Since(R2), annotationsObj()),
		D("TextContent", Always, Obj(
			Req("type", Const("text")),
			Req("text", Str()),
			Opt("annotations", annotations()),
			Opt("_meta", meta()).In(Since(R3)), // 2.F4
		)),
		D("ImageContent", Always, Obj(
			Req("type", Const("image")),
			Req("data", StrFormat("byte")),
			Req("mimeType", Str()),
			Opt("annotations", annotations()),
			Opt("_meta", meta()).In(Since(R3)), // 2.F4
		)),
		// 1.F1
		D("AudioContent", Since(R2), Obj(
			Req("type", Const("audio")),
			Req("data", StrFormat("byte")),
			Req("mimeType", Str()),
			Opt("annotations", annotations()),
			Opt("_meta", meta()).In(Since(R3)), // 2.F4
		)),
		// 2.F2
		D("ResourceLink", Since(R3), Obj(append(
			[]Field{Req("type", Const("resource_link"))},
			resourceFields()...)...,
		)),
		D("EmbeddedResource", Always, Obj(
			Req("type", Const("resource")),
			Req("resource", resourceContents()),
			Opt("annotations", annotations()),
			Opt("_meta", meta()).In(Since(R3)), // 2.F4
		)),
		// 2.F2: the named union of content blocks.
		D("ContentBlock", Since(R3), contentBlock()),
	}
}

// annotationsObj is the shape of Annotations (and of the inline
// annotations object of 2024-11-05).
func annotationsObj() Node {
	return Obj(
		Opt("audience", Arr(Ref("Role"))),
		Opt("priority", Range(Num(), 0, 1)),
		Opt("lastModified", Str()).In(Since(R3)), // 2.F5
	)
}

// annotations is the annotations property of content and resources: an
// inline object in 2024-11-05 (from the Annotated base), the Annotations
// definition afterwards (1.F2).
func annotations() Node {
	return Variant(
		When(Until(R1), annotationsObj()),
		When(Since(R2), Ref("Annotations")),
	)
}

// contentBlock is the union of content blocks of tool results and prompt
// messages (REVISIONS.md 6.3): inline in 2024-11-05 and 2025-03-26, the
// ContentBlock definition from 2025-06-18.
func contentBlock() Node {
	return Tagged("type",
		Tag("text", "TextContent"),
		Tag("image", "ImageContent"),
		Tag("audio", "AudioContent").In(Since(R2)),         // 1.F1
		Tag("resource_link", "ResourceLink").In(Since(R3)), // 2.F2
		Tag("resource", "EmbeddedResource"),
	)
}

// contentBlockRef is a content block property: the inline union up to
// 2025-03-26, a reference to ContentBlock afterwards.
func contentBlockRef() Node {
	return Variant(
		When(Until(R2), contentBlock()),
		When(Since(R3), Ref("ContentBlock")),
	)
}

// resourceContents is the untagged union of a resource's contents.
func resourceContents() Node {
	return AnyOf(Ref("TextResourceContents"), Ref("BlobResourceContents"))
}

// ---- resources ----

func resourceDefs() []Def {
	return []Def{
		D("Resource", Always, Obj(resourceFields()...)),
		D("ResourceTemplate", Always, Obj(
			Req("uriTemplate", StrFormat("uri-template")),
			Req("name", Str()),
			Opt("title", Str()).In(Since(R3)), // 2.F3
			Opt("description", Str()),
			Opt("mimeType", Str()),
			Opt("annotations", annotations()),
			Opt("icons", icons()).In(Since(R4)), // 3.F1
			Opt("_meta", meta()).In(Since(R3)),  // 2.F4
		)),
		D("ResourceContents", Always, Obj(resourceContentsFields()...)),
		D("TextResourceContents", Always, Obj(append(resourceContentsFields(),
			Req("text", Str()))...)),
		D("BlobResourceContents", Always, Obj(append(resourceContentsFields(),
			Req("blob", StrFormat("byte")))...)),

		D("ListResourcesRequest", Always, listRequest("resources/list")),
		D("ListResourcesResult", Always, cachedResult(
			Req("resources", Arr(Ref("Resource"))),
			Opt("nextCursor", Str()),
		)),
		D("ListResourceTemplatesRequest", Always, listRequest("resources/templates/list")),
		D("ListResourceTemplatesResult", Always, cachedResult(
			Req("resourceTemplates", Arr(Ref("ResourceTemplate"))),
			Opt("nextCursor", Str()),
		)),

		D("ResourceRequestParams", Since(R4), uriParams()),
		D("ReadResourceRequest", Always, featureRequest("resources/read",
			Req("params", featureParams(uriParams(), "ReadResourceRequestParams")))),
		D("ReadResourceRequestParams", Since(R4), uriParams(mrtrFields()...)),
		D("ReadResourceResult", Always, cachedResult(
			Req("contents", Arr(resourceContents())),
		)),

		// 4.M3: resources/subscribe and resources/unsubscribe end with
		// 2025-11-25.
		D("SubscribeRequest", Until(R4), featureRequest("resources/subscribe",
			Req("params", featureParams(uriParams(), "SubscribeRequestParams")))),
		D("SubscribeRequestParams", Only4, uriParams()),
		D("UnsubscribeRequest", Until(R4), featureRequest("resources/unsubscribe",
			Req("params", featureParams(uriParams(), "UnsubscribeRequestParams")))),
		D("UnsubscribeRequestParams", Only4, uriParams()),

		D("ResourceListChangedNotification", Always,
			listChanged("notifications/resources/list_changed")),
		D("ResourceUpdatedNotification", Always, featureNotification("notifications/resources/updated",
			Req("params", featureParams(resourceUpdatedParams(), "ResourceUpdatedNotificationParams")))),
		D("ResourceUpdatedNotificationParams", Since(R4), resourceUpdatedParams()),
	}
}

// resourceFields are the properties of Resource, which ResourceLink
// shares (2.F2).
func resourceFields() []Field {
	return []Field{
		Req("uri", StrFormat("uri")),
		Req("name", Str()),
		Opt("title", Str()).In(Since(R3)), // 2.F3
		Opt("description", Str()),
		Opt("mimeType", Str()),
		Opt("size", Int()),
		Opt("annotations", annotations()),
		Opt("icons", icons()).In(Since(R4)), // 3.F1
		Opt("_meta", meta()).In(Since(R3)),  // 2.F4
	}
}

// resourceContentsFields are the properties of ResourceContents, which
// TextResourceContents and BlobResourceContents extend.
func resourceContentsFields() []Field {
	return []Field{
		Req("uri", StrFormat("uri")),
		Opt("mimeType", Str()),
		Opt("_meta", meta()).In(Since(R3)), // 2.F4
	}
}

func icons() Node { return Arr(Ref("Icon")) }

// uriParams are the params of requests about one resource URI (inline up
// to 2025-06-18, ResourceRequestParams and its kin afterwards).
func uriParams(extra ...Field) Node {
	return Obj(append([]Field{
		Req("uri", StrFormat("uri")),
		requestParamsMeta(),
	}, extra...)...)
}

// resourceUpdatedParams are the params of notifications/resources/updated.
func resourceUpdatedParams() Node {
	return Obj(
		Req("uri", StrFormat("uri")),
		Opt("_meta", Variant(
			When(Until(R4), Obj().Values(Any())),
			When(Since(R5), Ref("NotificationMetaObject")), // 4.F5
		)).In(Since(R4)),
	)
}

// ---- prompts ----

func promptDefs() []Def {
	return []Def{
		D("Prompt", Always, Obj(
			Req("name", Str()),
			Opt("title", Str()).In(Since(R3)), // 2.F3
			Opt("description", Str()),
			Opt("arguments", Arr(Ref("PromptArgument"))),
			Opt("icons", icons()).In(Since(R4)), // 3.F1
			Opt("_meta", meta()).In(Since(R3)),  // 2.F4
		)),
		D("PromptArgument", Always, Obj(
			Req("name", Str()),
			Opt("title", Str()).In(Since(R3)), // 2.F3
			Opt("description", Str()),
			Opt("required", Bool()),
		)),
		D("PromptMessage", Always, Obj(
			Req("role", Ref("Role")),
			Req("content", contentBlockRef()), // 6.3
		)),
		D("PromptReference", Always, Obj(
			Req("type", Const("ref/prompt")),
			Req("name", Str()),
			Opt("title", Str()).In(Since(R3)), // 2.F3
		)),

		D("ListPromptsRequest", Always, listRequest("prompts/list")),
		D("ListPromptsResult", Always, cachedResult(
			Req("prompts", Arr(Ref("Prompt"))),
			Opt("nextCursor", Str()),
		)),
		D("GetPromptRequest", Always, featureRequest("prompts/get",
			Req("params", featureParams(getPromptParams(), "GetPromptRequestParams")))),
		D("GetPromptRequestParams", Since(R4), getPromptParams()),
		D("GetPromptResult", Always, featureResult(
			Opt("description", Str()),
			Req("messages", Arr(Ref("PromptMessage"))),
		)),
		D("PromptListChangedNotification", Always,
			listChanged("notifications/prompts/list_changed")),
	}
}

func getPromptParams() Node {
	return Obj(append([]Field{
		Req("name", Str()),
		Opt("arguments", Obj().Values(Str())),
		requestParamsMeta(),
	}, mrtrFields()...)...)
}

// ---- tools ----

func toolDefs() []Def {
	return []Def{
		D("Tool", Always, Obj(
			Req("name", Str()),
			Opt("title", Str()).In(Since(R3)), // 2.F3
			Opt("description", Str()),
			Req("inputSchema", toolSchema(Always)),
			// 2.F1; 4.F3: any schema (no required "type") in 2026-07-28.
			Opt("outputSchema", toolSchema(Until(R4))).In(Since(R3)),
			Opt("annotations", Ref("ToolAnnotations")).In(Since(R2)), // 1.F3
			Opt("execution", Ref("ToolExecution")).In(Only4),         // 3.L2, 4.M5
			Opt("icons", icons()).In(Since(R4)),                      // 3.F1
			Opt("_meta", meta()).In(Since(R3)),                       // 2.F4
		)),
		// 1.F3
		D("ToolAnnotations", Since(R2), Obj(
			Opt("title", Str()),
			Opt("readOnlyHint", Bool()),
			Opt("destructiveHint", Bool()),
			Opt("idempotentHint", Bool()),
			Opt("openWorldHint", Bool()),
		)),

		D("ListToolsRequest", Always, listRequest("tools/list")),
		D("ListToolsResult", Always, cachedResult(
			Req("tools", Arr(Ref("Tool"))),
			Opt("nextCursor", Str()),
		)),
		D("CallToolRequest", Always, featureRequest("tools/call",
			Req("params", featureParams(callToolParams(), "CallToolRequestParams")))),
		D("CallToolRequestParams", Since(R4), callToolParams()),
		D("CallToolResult", Always, featureResult(
			Req("content", Arr(contentBlockRef())), // 6.3
			Opt("structuredContent", Variant( // 2.F1
				When(Until(R4), Obj().Values(Any())),
				When(Since(R5), With(Any(), map[string]any{ // 4.F3
					"description": "Any JSON value; it conforms to the tool's outputSchema if one is defined.",
				})),
			)).In(Since(R3)),
			Opt("isError", Bool()),
		)),
		D("ToolListChangedNotification", Always,
			listChanged("notifications/tools/list_changed")),
	}
}

// toolSchema is Tool.inputSchema and Tool.outputSchema: an object schema
// with "type":"object" (required within typeSpan), "properties" and
// "required" up to 2025-11-25; from 2026-07-28 any 2020-12 keyword is
// allowed and only "$schema" (and, for inputSchema, "type") is modelled
// (4.F3).
func toolSchema(typeSpan Span) Node {
	return Obj(
		Opt("$schema", Str()).In(Since(R4)), // 3.F2
		Req("type", Const("object")).In(typeSpan),
		Opt("properties", Obj().Values(Obj())).In(Until(R4)),
		Opt("required", Arr(Str())).In(Until(R4)),
	).ValuesIn(Since(R5), Any())
}

func callToolParams() Node {
	return Obj(append([]Field{
		Req("name", Str()),
		Opt("arguments", Obj().Values(Any())),
		requestParamsMeta(),
		Opt("task", Ref("TaskMetadata")).In(Only4), // 3.L2, 4.M5
	}, mrtrFields()...)...)
}

// ---- completion ----

func completionDefs() []Def {
	return []Def{
		// 2.F7: ResourceReference was renamed ResourceTemplateReference.
		D("ResourceReference", Until(R2), resourceTemplateRef()),
		D("ResourceTemplateReference", Since(R3), resourceTemplateRef()),
		D("CompleteRequest", Always, featureRequest("completion/complete",
			Req("params", featureParams(completeParams(), "CompleteRequestParams")))),
		D("CompleteRequestParams", Since(R4), completeParams()),
		D("CompleteResult", Always, featureResult(
			Req("completion", Obj(
				Req("values", WithIn(Since(R5), Arr(Str()), map[string]any{"maxItems": 100})), // 4.F4
				Opt("total", Int()),
				Opt("hasMore", Bool()),
			)),
		)),
	}
}

func resourceTemplateRef() Node {
	return Obj(
		Req("type", Const("ref/resource")),
		Req("uri", StrFormat("uri-template")),
	)
}

func completeParams() Node {
	return Obj(
		Req("ref", AnyOf(
			Ref("PromptReference"),
			Variant(
				When(Until(R2), Ref("ResourceReference")),
				When(Since(R3), Ref("ResourceTemplateReference")), // 2.F7
			),
		)),
		Req("argument", Obj(
			Req("name", Str()),
			Req("value", Str()),
		)),
		Opt("context", Obj( // 2.F6
			Opt("arguments", Obj().Values(Str())),
		)).In(Since(R3)),
		requestParamsMeta(),
	)
}

// ---- shared shapes of requests, notifications and results ----

// featureRequest is a client request. Up to 2025-06-18 it is the method
// plus its params; from 2025-11-25 every request carries jsonrpc and id
// (the 3.x refactor into JSONRPCRequest and …RequestParams).
func featureRequest(method string, params Field) Node {
	return Obj(
		Req("jsonrpc", Const("2.0")).In(Since(R4)),
		Req("id", Ref("RequestId")).In(Since(R4)),
		Req("method", Const(method)),
		params,
	)
}

// featureNotification is a notification: the method plus its params, and
// jsonrpc from 2025-11-25.
func featureNotification(method string, params Field) Node {
	return Obj(
		Req("jsonrpc", Const("2.0")).In(Since(R4)),
		Req("method", Const(method)),
		params,
	)
}

// featureParams is a params property: inline up to 2025-06-18, a
// reference to the named …Params definition from 2025-11-25.
func featureParams(inline Node, def string) Node {
	return Variant(
		When(Until(R3), inline),
		When(Since(R4), Ref(def)),
	)
}

// requestParamsMeta is the _meta of a request's params, modelled in the
// …RequestParams definitions from 2025-11-25: an open object with
// progressToken, then the RequestMetaObject that 2026-07-28 requires
// (4.L1, 4.F5).
func requestParamsMeta() Field {
	return Opt("_meta", Variant(
		When(Until(R4), Obj(Opt("progressToken", Ref("ProgressToken"))).Values(Any())),
		When(Since(R5), Ref("RequestMetaObject")),
	)).In(Since(R4)).ReqIn(Since(R5))
}

// mrtrFields are the multi-round-trip retry fields of tools/call,
// prompts/get and resources/read params (4.M6).
func mrtrFields() []Field {
	return []Field{
		Opt("inputResponses", Ref("InputResponses")).In(Since(R5)),
		Opt("requestState", Str()).In(Since(R5)),
	}
}

// listRequest is a paginated list request; params become required in
// 2026-07-28 because their _meta is (4.L1).
func listRequest(method string) Node {
	return featureRequest(method, Opt("params", featureParams(
		Obj(Opt("cursor", Str())), "PaginatedRequestParams",
	)).ReqIn(Since(R5)))
}

// listChanged is a notifications/*/list_changed notification.
func listChanged(method string) Node {
	return featureNotification(method, Opt("params", featureParams(
		Obj(Opt("_meta", Obj().Values(Any()))).Values(Any()), "NotificationParams",
	)))
}

// featureResult is a result: _meta (typed ResultMetaObject in 2026-07-28,
// 4.F5) and the resultType 2026-07-28 requires (4.F1).
func featureResult(fields ...Field) *ObjNode {
	return Obj(append([]Field{
		Opt("_meta", Variant(
			When(Until(R4), Obj().Values(Any())),
			When(Since(R5), Ref("ResultMetaObject")),
		)),
		Req("resultType", Str()).In(Since(R5)),
	}, fields...)...)
}

// cachedResult is a result with the caching hints 2026-07-28 requires
// (4.F2).
func cachedResult(fields ...Field) *ObjNode {
	return featureResult(append([]Field{
		Req("ttlMs", Min(Int(), 0)).In(Since(R5)),
		Req("cacheScope", Enum("private", "public")).In(Since(R5)),
	}, fields...)...)
}
