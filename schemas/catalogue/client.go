package catalogue

// clientDefs: what a server asks of a client. Sampling, elicitation and
// roots, plus the 2026-07-28 MRTR wrappers (InputRequiredResult and
// friends) that carry those requests inside results (4.M6).
func clientDefs() []Def {
	return []Def{
		// ---- roots ----
		D("Root", Always, Obj(
			Req("uri", StrFormat("uri")),
			Opt("name", Str()),
			Opt("_meta", meta()).In(Since(R3)), // 2.F4
		)),
		D("ListRootsRequest", Always, Obj(
			clJSONRPC(Only4),
			clID(Only4),
			Req("method", Const("roots/list")),
			Opt("params", Variant(
				When(Until(R3), Obj(Opt("_meta", Obj(Opt("progressToken", Ref("ProgressToken"))))).Values(Any())),
				When(Only4, Ref("RequestParams")),
				// 4.F6: an embedded request, _meta is a plain MetaObject.
				When(Since(R5), Obj(Opt("_meta", Ref("MetaObject")))),
			)),
		)),
		D("ListRootsResult", Always, Obj(
			Req("roots", Arr(Ref("Root"))),
			Opt("_meta", meta()).In(Until(R4)), // 4.F6
		)),
		// 4.M4: removed in 2026-07-28.
		D("RootsListChangedNotification", Until(R4), Obj(
			clJSONRPC(Only4),
			Req("method", Const("notifications/roots/list_changed")),
			Opt("params", Variant(
				When(Until(R3), Obj(Opt("_meta", meta())).Values(Any())),
				When(Only4, Ref("NotificationParams")),
			)),
		)),

		// ---- sampling ----
		D("ModelHint", Always, Obj(Opt("name", Str()))),
		D("ModelPreferences", Always, Obj(
			Opt("hints", Arr(Ref("ModelHint"))),
			Opt("costPriority", Range(Num(), 0, 1)),
			Opt("speedPriority", Range(Num(), 0, 1)),
			Opt("intelligencePriority", Range(Num(), 0, 1)),
		)),
		D("ToolChoice", Since(R4), Obj( // 3.L4
			Opt("mode", Enum("auto", "none", "required")),
		)),
		D("SamplingMessage", Always, Obj(
			Req("role", Ref("Role")),
			Req("content", clSamplingContent()),
			Opt("_meta", meta()).In(Since(R4)),
		)),
		D("SamplingMessageContentBlock", Since(R4), clSamplingBlock()), // 3.L4
		D("ToolUseContent", Since(R4), Obj( // 3.L4
			Req("type", Const("tool_use")),
			Req("id", Str()),
			Req("name", Str()),
			Req("input", Obj().Values(Any())),
			Opt("_meta", meta()),
		)),
		D("ToolResultContent", Since(R4), Obj( // 3.L4
			Req("type", Const("tool_result")),
			Req("toolUseId", Str()),
			Req("content", Arr(Ref("ContentBlock"))),
			Opt("structuredContent", Variant(
				When(Until(R4), Obj().Values(Any())),
				When(Since(R5), With(Any(), map[string]any{"description": "Any JSON value (4.F3)."})),
			)),
			Opt("isError", Bool()),
			Opt("_meta", meta()),
		)),
		// Params are inline up to 2025-06-18 and their own definition from
		// 2025-11-25 (the 3.x params refactor); both come from clCreateMessageParams.
		D("CreateMessageRequest", Always, Obj(
			clJSONRPC(Only4),
			clID(Only4),
			Req("method", Const("sampling/createMessage")),
			Req("params", Variant(
				When(Until(R3), clCreateMessageParams()),
				When(Since(R4), Ref("CreateMessageRequestParams")),
			)),
		)).WithDoc("A server's request to sample an LLM through the client (sampling/createMessage)."),
		D("CreateMessageRequestParams", Since(R4), clCreateMessageParams()),
		D("CreateMessageResult", Always, Obj(
			Req("role", Ref("Role")),
			Req("content", clSamplingContent()),
			Req("model", Str()),
			Opt("stopReason", Str()),
			Opt("_meta", meta()),
		)).WithDoc("The client's answer to sampling/createMessage."),

		// ---- elicitation (2025-06-18 on) ----
		D("ElicitRequest", Since(R3), Obj( // 2.L1
			clJSONRPC(Only4),
			clID(Only4),
			Req("method", Const("elicitation/create")),
			Req("params", Variant(
				When(Until(R3), Obj(
					Req("message", Str()),
					Req("requestedSchema", clRequestedSchema()),
				)),
				When(Since(R4), Ref("ElicitRequestParams")), // 3.L3
			)),
		)).WithDoc("A server's request for user input through the client (elicitation/create)."),
		// 3.L3: form | url. mode is optional in the form member, so the
		// union has no required tag and stays an anyOf. The official
		// member order differs between the two revisions.
		D("ElicitRequestParams", Since(R4), AnyOf(
			Only(Only4, Ref("ElicitRequestURLParams")),
			Ref("ElicitRequestFormParams"),
			Only(Since(R5), Ref("ElicitRequestURLParams")),
		)),
		D("ElicitRequestFormParams", Since(R4), Obj(
			Opt("mode", Const("form")),
			Req("message", Str()),
			Req("requestedSchema", clRequestedSchema()),
			Opt("task", Ref("TaskMetadata")).In(Only4), // 3.L2, 4.M5
			Opt("_meta", clRequestMeta()).In(Only4),    // 4.F6
		)),
		D("ElicitRequestURLParams", Since(R4), Obj(
			Req("mode", Const("url")),
			Req("message", Str()),
			Req("url", StrFormat("uri")),
			Req("elicitationId", Str()).In(Only4),      // 4.M7
			Opt("task", Ref("TaskMetadata")).In(Only4), // 3.L2, 4.M5
			Opt("_meta", clRequestMeta()).In(Only4),    // 4.F6
		)),
		D("ElicitResult", Since(R3), Obj(
			Req("action", Enum("accept", "cancel", "decline")),
			Opt("content", Obj().Values(clElicitValue())),
			Opt("_meta", meta()).In(Until(R4)), // 4.F6
		)).WithDoc("The client's answer to elicitation/create."),
		D("ElicitationCompleteNotification", Only4, Obj( // 3.L3; removed by 4.M7
			clJSONRPC(Always),
			Req("method", Const("notifications/elicitation/complete")),
			Req("params", Obj(Req("elicitationId", Str()))),
		)),
		// 3.E1: error -32042, 2025-11-25 only (retired by 4.E1). The DSL
		// has no allOf or integer const, hence Raw.
		D("URLElicitationRequiredError", Only4, Obj(
			clJSONRPC(Always),
			Opt("id", Ref("RequestId")),
			Req("error", Raw(map[string]any{"allOf": []any{
				map[string]any{"$ref": "#/$defs/Error"},
				map[string]any{
					"type":     "object",
					"required": []any{"code", "data"},
					"properties": map[string]any{
						"code": map[string]any{"type": "integer", "const": -32042},
						"data": map[string]any{
							"type":                 "object",
							"additionalProperties": map[string]any{},
							"required":             []any{"elicitations"},
							"properties": map[string]any{
								"elicitations": map[string]any{
									"type":  "array",
									"items": map[string]any{"$ref": "#/$defs/ElicitRequestURLParams"},
								},
							},
						},
					},
				},
			}})),
		)),

		// ---- elicitation field schemas (requestedSchema.properties) ----
		D("PrimitiveSchemaDefinition", Since(R3), AnyOf(
			Ref("StringSchema"),
			Ref("NumberSchema"),
			Ref("BooleanSchema"),
			Only(Until(R3), Ref("EnumSchema")),
			// 3.L3: EnumSchema split into five variants.
			Only(Since(R4), Ref("UntitledSingleSelectEnumSchema")),
			Only(Since(R4), Ref("TitledSingleSelectEnumSchema")),
			Only(Since(R4), Ref("UntitledMultiSelectEnumSchema")),
			Only(Since(R4), Ref("TitledMultiSelectEnumSchema")),
			Only(Since(R4), Ref("LegacyTitledEnumSchema")),
		)),
		D("StringSchema", Since(R3), Obj(
			Req("type", Const("string")),
			Opt("title", Str()),
			Opt("description", Str()),
			Opt("minLength", Int()),
			Opt("maxLength", Int()),
			Opt("format", Enum("date", "date-time", "email", "uri")),
			Opt("default", Str()).In(Since(R4)), // 3.F5
		)),
		D("NumberSchema", Since(R3), Obj(
			Req("type", Enum("integer", "number")),
			Opt("title", Str()),
			Opt("description", Str()),
			Opt("minimum", Num()),
			Opt("maximum", Num()),
			Opt("default", Num()).In(Since(R4)), // 3.F5
		)),
		D("BooleanSchema", Since(R3), Obj(
			Req("type", Const("boolean")),
			Opt("title", Str()),
			Opt("description", Str()),
			Opt("default", Bool()),
		)),
		// EnumSchema: one object (enum + enumNames) in 2025-06-18, the union
		// of the five enum variants from 2025-11-25 (3.L3).
		D("EnumSchema", Since(R3), Variant(
			When(Until(R3), clLegacyEnum()),
			When(Since(R4), AnyOf(
				Ref("UntitledSingleSelectEnumSchema"),
				Ref("TitledSingleSelectEnumSchema"),
				Ref("UntitledMultiSelectEnumSchema"),
				Ref("TitledMultiSelectEnumSchema"),
				Ref("LegacyTitledEnumSchema"),
			)),
		)),
		D("LegacyTitledEnumSchema", Since(R4), clLegacyEnum()),
		D("SingleSelectEnumSchema", Since(R4), AnyOf(
			Ref("UntitledSingleSelectEnumSchema"),
			Ref("TitledSingleSelectEnumSchema"),
		)),
		D("MultiSelectEnumSchema", Since(R4), AnyOf(
			Ref("UntitledMultiSelectEnumSchema"),
			Ref("TitledMultiSelectEnumSchema"),
		)),
		D("UntitledSingleSelectEnumSchema", Since(R4), Obj(
			Req("type", Const("string")),
			Opt("title", Str()),
			Opt("description", Str()),
			Req("enum", Arr(Str())),
			Opt("default", Str()),
		)),
		D("TitledSingleSelectEnumSchema", Since(R4), Obj(
			Req("type", Const("string")),
			Opt("title", Str()),
			Opt("description", Str()),
			Req("oneOf", Arr(clTitledOption())),
			Opt("default", Str()),
		)),
		D("UntitledMultiSelectEnumSchema", Since(R4), Obj(
			Req("type", Const("array")),
			Opt("title", Str()),
			Opt("description", Str()),
			Opt("minItems", Int()),
			Opt("maxItems", Int()),
			Req("items", Obj(
				Req("type", Const("string")),
				Req("enum", Arr(Str())),
			)),
			Opt("default", Arr(Str())),
		)),
		D("TitledMultiSelectEnumSchema", Since(R4), Obj(
			Req("type", Const("array")),
			Opt("title", Str()),
			Opt("description", Str()),
			Opt("minItems", Int()),
			Opt("maxItems", Int()),
			Req("items", Obj(Req("anyOf", Arr(clTitledOption())))),
			Opt("default", Arr(Str())),
		)),

		// ---- MRTR (2026-07-28, 4.M6) ----
		D("InputRequest", Since(R5), AnyOf(
			Ref("CreateMessageRequest"),
			Ref("ListRootsRequest"),
			Ref("ElicitRequest"),
		)),
		D("InputRequests", Since(R5), Obj().Values(Ref("InputRequest"))),
		D("InputResponse", Since(R5), AnyOf(
			Ref("CreateMessageResult"),
			Ref("ListRootsResult"),
			Ref("ElicitResult"),
		)),
		D("InputResponses", Since(R5), Obj().Values(Ref("InputResponse"))),
		D("InputRequiredResult", Since(R5), Obj(
			Req("resultType", Str()), // 4.F1
			Opt("inputRequests", Ref("InputRequests")),
			Opt("requestState", Str()),
			Opt("_meta", Ref("ResultMetaObject")),
		)).WithDoc("A result asking the client to answer inputRequests and retry the request (MRTR)."),
		D("InputResponseRequestParams", Since(R5), Obj(
			Req("_meta", Ref("RequestMetaObject")), // 4.L1
			Opt("inputResponses", Ref("InputResponses")),
			Opt("requestState", Str()),
		)),
	}
}

// clJSONRPC is the "jsonrpc":"2.0" member of a message, in the revisions
// where the definition is a whole JSON-RPC message (the 2025-11-25 refactor
// made requests extend JSONRPCRequest; 2026-07-28 embeds sampling,
// elicitation and roots requests without it, 4.F6).
func clJSONRPC(span Span) Field { return Req("jsonrpc", Const("2.0")).In(span) }

// clID is the JSON-RPC id of a request, in the same revisions as clJSONRPC.
func clID(span Span) Field { return Req("id", Ref("RequestId")).In(span) }

// clRequestMeta is the _meta of 2025-11-25 request params: an open object
// with an optional progressToken.
func clRequestMeta() Node {
	return Obj(Opt("progressToken", Ref("ProgressToken"))).Values(Any())
}

// clSamplingBlock is the union of blocks a sampling message may hold
// (6.3): text and image, audio from 2025-03-26 (1.F1), tool use and tool
// results from 2025-11-25 (3.L4).
func clSamplingBlock() Node {
	return Tagged("type",
		Tag("text", "TextContent"),
		Tag("image", "ImageContent"),
		Tag("audio", "AudioContent").In(Since(R2)),
		Tag("tool_use", "ToolUseContent").In(Since(R4)),
		Tag("tool_result", "ToolResultContent").In(Since(R4)),
	)
}

// clSamplingContent is SamplingMessage.content and CreateMessageResult.content:
// one block up to 2025-06-18; from 2025-11-25 one block or an array of
// blocks (3.L4, 6.3). The official schema lists the five blocks and the
// array as one anyOf; here the JSON type picks the branch, so only one is
// checked, and the single block is the SamplingMessageContentBlock union,
// which is exactly those five blocks. The DSL has no if/then/else, hence Raw.
func clSamplingContent() Node {
	block := map[string]any{"$ref": "#/$defs/SamplingMessageContentBlock"}
	return Variant(
		When(Until(R3), clSamplingBlock()),
		When(Since(R4), Raw(map[string]any{
			"if":   map[string]any{"type": "array"},
			"then": map[string]any{"items": block},
			"else": block,
		})),
	)
}

// clCreateMessageParams is the params object of sampling/createMessage,
// inline in CreateMessageRequest up to 2025-06-18 and the definition
// CreateMessageRequestParams from 2025-11-25.
func clCreateMessageParams() Node {
	return Obj(
		Req("messages", Arr(Ref("SamplingMessage"))),
		Opt("modelPreferences", Ref("ModelPreferences")),
		Opt("systemPrompt", Str()),
		Opt("includeContext", Enum("allServers", "none", "thisServer")),
		Opt("temperature", Num()),
		Req("maxTokens", Int()),
		Opt("stopSequences", Arr(Str())),
		Opt("metadata", Variant(
			When(Until(R4), Obj()),
			When(Since(R5), Ref("JSONObject")), // 4.F6
		)),
		Opt("tools", Arr(Ref("Tool"))).In(Since(R4)),       // 3.L4
		Opt("toolChoice", Ref("ToolChoice")).In(Since(R4)), // 3.L4
		Opt("task", Ref("TaskMetadata")).In(Only4),         // 3.L2, 4.M5
		Opt("_meta", clRequestMeta()).In(Only4),            // 4.F6
	)
}

// clRequestedSchema is the restricted object schema an elicitation form
// asks for: flat properties of primitive types.
func clRequestedSchema() Node {
	return Obj(
		Opt("$schema", Str()).In(Since(R4)), // 3.F2
		Req("type", Const("object")),
		Req("properties", Obj().Values(Ref("PrimitiveSchemaDefinition"))),
		Opt("required", Arr(Str())),
	)
}

// clElicitValue is the type of an ElicitResult.content value. The official
// schema says string | integer | boolean (plus string arrays from
// 2025-11-25, 3.L3), but schema.ts says number: a generator quirk
// (SOURCE.md), so numbers are accepted here on purpose.
func clElicitValue() Node {
	scalar := Types("string", "number", "boolean")
	return Variant(
		When(Until(R3), scalar),
		When(Since(R4), AnyOf(Arr(Str()), scalar)),
	)
}

// clLegacyEnum is the enum + enumNames schema: EnumSchema in 2025-06-18,
// LegacyTitledEnumSchema (with a default) from 2025-11-25.
func clLegacyEnum() Node {
	return Obj(
		Req("type", Const("string")),
		Opt("title", Str()),
		Opt("description", Str()),
		Req("enum", Arr(Str())),
		Opt("enumNames", Arr(Str())),
		Opt("default", Str()).In(Since(R4)), // 3.F5
	)
}

// clTitledOption is one {const, title} choice of a titled enum.
func clTitledOption() Node {
	return Obj(Req("const", Str()), Req("title", Str()))
}
