package catalogue

// taskDefs: the experimental tasks of 2025-11-25 (3.L2), in both
// directions. They leave the core protocol in 2026-07-28 (4.M5), where
// tasks become the io.modelcontextprotocol/tasks extension, which is not
// part of these schemas.
func taskDefs() []Def {
	return []Def{
		D("TaskStatus", Only4, Enum("cancelled", "completed", "failed", "input_required", "working")),
		D("Task", Only4, Obj(
			Req("taskId", Str()),
			Req("status", Ref("TaskStatus")),
			Opt("statusMessage", Str()),
			Req("createdAt", Str()),
			Req("lastUpdatedAt", Str()),
			Req("ttl", Types("integer", "null")),
			Opt("pollInterval", Int()),
		)).WithDoc("The state of a task (tasks/get, tasks/list, tasks/cancel, notifications/tasks/status)."),
		D("TaskMetadata", Only4, Obj(Opt("ttl", Int()))),
		D("RelatedTaskMetadata", Only4, Obj(Req("taskId", Str()))),
		D("TaskAugmentedRequestParams", Only4, Obj(
			Opt("task", Ref("TaskMetadata")),
			Opt("_meta", clRequestMeta()),
		)),
		D("ToolExecution", Only4, Obj(
			Opt("taskSupport", Enum("forbidden", "optional", "required")),
		)),
		D("CreateTaskResult", Only4, Obj(
			Req("task", Ref("Task")),
			Opt("_meta", meta()),
		)).WithDoc("The answer to a task-augmented request: the task, not the result."),
		D("GetTaskRequest", Only4, tkRequest("tasks/get")),
		D("GetTaskResult", Only4, tkAllOf("Result", "Task")),
		D("GetTaskPayloadRequest", Only4, tkRequest("tasks/result")),
		// The payload is the result of the original request, whatever it is.
		D("GetTaskPayloadResult", Only4, Obj(Opt("_meta", meta())).Values(Any())),
		D("ListTasksRequest", Only4, Obj(
			clJSONRPC(Always),
			clID(Always),
			Req("method", Const("tasks/list")),
			Opt("params", Ref("PaginatedRequestParams")),
		)),
		D("ListTasksResult", Only4, Obj(
			Req("tasks", Arr(Ref("Task"))),
			Opt("nextCursor", Str()),
			Opt("_meta", meta()),
		)),
		D("CancelTaskRequest", Only4, tkRequest("tasks/cancel")),
		D("CancelTaskResult", Only4, tkAllOf("Result", "Task")),
		D("TaskStatusNotification", Only4, Obj(
			clJSONRPC(Always),
			Req("method", Const("notifications/tasks/status")),
			Req("params", Ref("TaskStatusNotificationParams")),
		)),
		D("TaskStatusNotificationParams", Only4, tkAllOf("NotificationParams", "Task")),
	}
}

// tkRequest is a tasks/* request whose params name one task.
func tkRequest(method string) Node {
	return Obj(
		clJSONRPC(Always),
		clID(Always),
		Req("method", Const(method)),
		Req("params", Obj(Req("taskId", Str()))),
	)
}

// tkAllOf is the intersection of two definitions (a Result or
// NotificationParams that is also a Task). The DSL has no allOf, hence Raw.
func tkAllOf(a, b string) Node {
	return Raw(map[string]any{"allOf": []any{
		map[string]any{"$ref": "#/$defs/" + a},
		map[string]any{"$ref": "#/$defs/" + b},
	}})
}
