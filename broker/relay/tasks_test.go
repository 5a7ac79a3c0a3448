package relay

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Tests of the task emulation for a 2025-11-25 client of a stateless
// 2026-07-28 upstream (REVISIONS.md 4.M5, tasks.go). Everything the broker
// sends either side is checked against the schema of that side's revision.

// taskHarness is a relay session between a scripted 2025-11-25 client and
// a scripted 2026-07-28 server, both validated strictly by the relay.
type taskHarness struct {
	*harness
	t    *testing.T
	init obj // the InitializeResult the client got
}

// startTasks starts the session and plays the handshake: server/discover
// answered with tools (no list changes, so no subscriptions/listen), the
// client's initialize answered, notifications/initialized sent.
func startTasks(t *testing.T, cfg Config, clientRev string) *taskHarness {
	t.Helper()
	cfg.Validator = testValidator(t)
	cfg.UpstreamRevision = schemas.V20260728
	cfg.ServerValidation = Strict
	h := start(t, cfg)
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + clientRev +
		`","capabilities":{"sampling":{}},"clientInfo":{"name":"task-client","version":"1"}}}`)
	d := h.server.recvObj()
	wantEq(t, "probe", d["method"], `"server/discover"`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private"}}`)
	m := h.client.recv()
	rev, err := schemas.ParseRevision(clientRev)
	if err != nil {
		t.Fatal(err)
	}
	checkValid(t, rev, m.Raw, schemas.FromServer, "initialize")
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return &taskHarness{harness: h, t: t, init: decode(t, m.Raw).(obj)}
}

// fromBroker receives the next frame to the client, checks it is valid
// 2025-11-25 (method names the request a response answers) and returns it
// decoded, with its Related.
func (th *taskHarness) fromBroker(method string) (obj, string) {
	th.t.Helper()
	m := th.client.recv()
	checkValid(th.t, schemas.V20251125, m.Raw, schemas.FromServer, method)
	return decode(th.t, m.Raw).(obj), string(m.Related)
}

// upstream receives the next frame to the server and checks it is valid
// 2026-07-28.
func (th *taskHarness) upstream() obj {
	th.t.Helper()
	m := th.server.recv()
	checkValid(th.t, schemas.V20260728, m.Raw, schemas.FromClient, "")
	return decode(th.t, m.Raw).(obj)
}

// createTask sends a task-augmented tools/call of tool with id and
// task {ttl} (ttl "" for none) and returns the taskId of the
// CreateTaskResult and the call the server got.
func (th *taskHarness) createTask(id, tool, ttl string) (string, obj) {
	th.t.Helper()
	task := `{}`
	if ttl != "" {
		task = `{"ttl":` + ttl + `}`
	}
	th.client.send(`{"jsonrpc":"2.0","id":"` + id + `","method":"tools/call","params":{"name":"` + tool +
		`","arguments":{"x":1},"task":` + task + `,"_meta":{"progressToken":"tok-` + id + `"}}}`)
	res, _ := th.fromBroker("tools/call")
	wantEq(th.t, "CreateTaskResult id", res["id"], `"`+id+`"`)
	wantEq(th.t, "created status", get(res, "result", "task", "status"), `"working"`)
	for _, k := range []string{"taskId", "createdAt", "lastUpdatedAt", "ttl", "pollInterval"} {
		if get(res, "result", "task", k) == nil {
			th.t.Errorf("CreateTaskResult without %s: %s", k, str(res))
		}
	}
	if get(res, "result", "content") != nil {
		th.t.Errorf("CreateTaskResult carries a tool result: %s", str(res))
	}
	taskID, _ := get(res, "result", "task", "taskId").(string)
	up := th.upstream()
	wantEq(th.t, "upstream method", up["method"], `"tools/call"`)
	if get(up, "params", "task") != nil {
		th.t.Errorf("the 2026 server saw the task field: %s", str(up))
	}
	wantEq(th.t, "upstream arguments", get(up, "params", "arguments"), `{"x":1}`)
	wantEq(th.t, "upstream progressToken", get(up, "params", "_meta", "progressToken"), `"tok-`+id+`"`)
	return taskID, up
}

// call sends a client request and returns the broker's answer.
func (th *taskHarness) call(id, method, params string) obj {
	th.t.Helper()
	th.client.send(`{"jsonrpc":"2.0","id":"` + id + `","method":"` + method + `","params":` + params + `}`)
	res, _ := th.fromBroker(method)
	wantEq(th.t, method+" id", res["id"], `"`+id+`"`)
	return res
}

// taskCall sends tasks/get, tasks/result or tasks/cancel for taskID.
func (th *taskHarness) taskCall(id, method, taskID string) obj {
	th.t.Helper()
	return th.call(id, method, `{"taskId":"`+taskID+`"}`)
}

// pingBarrier proves that the broker has handled everything the client
// sent before: the client loop answers ping in order.
func (th *taskHarness) pingBarrier(id string) {
	th.t.Helper()
	th.client.send(`{"jsonrpc":"2.0","id":"` + id + `","method":"ping"}`)
	res, _ := th.fromBroker("ping")
	wantEq(th.t, "next message (a blocked request was answered early?)", res["id"], `"`+id+`"`)
}

// statusNote receives a notifications/tasks/status and checks its status.
func (th *taskHarness) statusNote(taskID, status string) string {
	th.t.Helper()
	n, rel := th.fromBroker("")
	wantEq(th.t, "notification", n["method"], `"notifications/tasks/status"`)
	wantEq(th.t, "notified taskId", get(n, "params", "taskId"), `"`+taskID+`"`)
	wantEq(th.t, "notified status", get(n, "params", "status"), `"`+status+`"`)
	return rel
}

// Test4M5TaskCapability: the InitializeResult of a 2025-11-25 client
// advertises tasks (tools/call, list, cancel) and tools/list marks every
// tool taskSupport optional; an older client gets neither (it has no
// tasks).
func Test4M5TaskCapability(t *testing.T) {
	for _, tc := range []struct {
		rev   string
		tasks string
		exec  string
	}{
		{"2025-11-25", `{"cancel":{},"list":{},"requests":{"tools":{"call":{}}}}`, `{"taskSupport":"optional"}`},
		{"2025-06-18", `null`, `null`},
	} {
		t.Run(tc.rev, func(t *testing.T) {
			th := startTasks(t, Config{}, tc.rev)
			wantEq(t, "capabilities.tasks", get(th.init, "result", "capabilities", "tasks"), tc.tasks)
			th.client.send(`{"jsonrpc":"2.0","id":"l","method":"tools/list"}`)
			up := th.upstream()
			th.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"resultType":"complete","tools":[{"name":"a","inputSchema":{"type":"object"}},{"name":"b","inputSchema":{"type":"object"}}],"ttlMs":0,"cacheScope":"private"}}`)
			m := th.client.recv()
			rev, _ := schemas.ParseRevision(tc.rev)
			checkValid(t, rev, m.Raw, schemas.FromServer, "tools/list")
			res := decode(t, m.Raw).(obj)
			for i := range 2 {
				wantEq(t, "execution of tool "+strconv.Itoa(i), get(res, "result", "tools", i, "execution"), tc.exec)
			}
		})
	}
}

// Test4M5TaskAugmentedCall: a task-augmented tools/call is answered at
// once with a CreateTaskResult and runs upstream without its task field;
// tasks/get says working; tasks/result blocks, gets the call's progress
// (with the related-task _meta, on its own stream) and, once the server
// answers, the tool result with the related-task _meta, after the
// completed status notification; then tasks/get, tasks/result and
// tasks/list answer from the kept result.
func Test4M5TaskAugmentedCall(t *testing.T) {
	th := startTasks(t, Config{}, "2025-11-25")
	taskID, up := th.createTask("c1", "echo", "60000")
	if len(taskID) < 16 {
		t.Fatalf("taskId %q", taskID)
	}

	g := th.taskCall("g1", "tasks/get", taskID)
	wantEq(t, "get status", get(g, "result", "status"), `"working"`)
	wantEq(t, "get ttl", get(g, "result", "ttl"), `60000`)
	wantEq(t, "get pollInterval", get(g, "result", "pollInterval"), `1000`)

	th.client.send(`{"jsonrpc":"2.0","id":"r1","method":"tasks/result","params":{"taskId":"` + taskID + `"}}`)
	th.pingBarrier("p1") // tasks/result is waiting

	// Progress of the call reaches the client for the task.
	th.server.sendRel(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok-c1","progress":1,"total":2}}`, str(up["id"]))
	p, rel := th.fromBroker("")
	wantEq(t, "progress", p["method"], `"notifications/progress"`)
	wantEq(t, "progress token", get(p, "params", "progressToken"), `"tok-c1"`)
	wantEq(t, "progress related-task", get(p, "params", "_meta", metaRelatedTask, "taskId"), `"`+taskID+`"`)
	wantEq(t, "progress Related", json.RawMessage(rel), `"r1"`)

	th.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"resultType":"complete","content":[{"type":"text","text":"done"}]}}`)
	wantEq(t, "status notification Related", json.RawMessage(th.statusNote(taskID, "completed")), `"r1"`)
	r, _ := th.fromBroker("tasks/result")
	wantEq(t, "tasks/result id", r["id"], `"r1"`)
	wantEq(t, "tasks/result content", get(r, "result", "content", 0, "text"), `"done"`)
	wantEq(t, "tasks/result related-task", get(r, "result", "_meta", metaRelatedTask), `{"taskId":"`+taskID+`"}`)
	if get(r, "result", "resultType") != nil {
		t.Errorf("resultType leaked to the legacy client: %s", str(r))
	}

	g = th.taskCall("g2", "tasks/get", taskID)
	wantEq(t, "get status after", get(g, "result", "status"), `"completed"`)
	r = th.taskCall("r2", "tasks/result", taskID)
	wantEq(t, "tasks/result again", get(r, "result", "content", 0, "text"), `"done"`)
	l := th.call("l1", "tasks/list", `{}`)
	wantEq(t, "listed ids", get(l, "result", "tasks", 0, "taskId"), `"`+taskID+`"`)
	wantEq(t, "listed status", get(l, "result", "tasks", 0, "status"), `"completed"`)
	if n := len(get(l, "result", "tasks").([]any)); n != 1 {
		t.Errorf("tasks/list has %d tasks, want 1", n)
	}
}

// Test4M5TaskOutcomes: what the upstream answers decides the terminal
// status and what tasks/result returns: exactly what tools/call would
// have (2025-11-25), a tool error making the task failed.
func Test4M5TaskOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name, answer, status, want string
		path                       []any
	}{
		{"result", `"result":{"resultType":"complete","content":[{"type":"text","text":"ok"}]}`, "completed", `"ok"`, []any{"result", "content", 0, "text"}},
		{"tool-error", `"result":{"resultType":"complete","content":[{"type":"text","text":"bad"}],"isError":true}`, "failed", `true`, []any{"result", "isError"}},
		{"rpc-error", `"error":{"code":-32602,"message":"Unknown tool: nope"}`, "failed", `-32602`, []any{"error", "code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := startTasks(t, Config{}, "2025-11-25")
			taskID, up := th.createTask("c", "tool", "")
			th.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,` + tc.answer + `}`)
			th.statusNote(taskID, tc.status)
			g := th.taskCall("g", "tasks/get", taskID)
			wantEq(t, "status", get(g, "result", "status"), `"`+tc.status+`"`)
			wantEq(t, "ttl (the default)", get(g, "result", "ttl"), strconv.FormatInt(DefaultMaxTaskTTL.Milliseconds(), 10))
			r := th.taskCall("r", "tasks/result", taskID)
			wantEq(t, "payload", get(r, tc.path...), tc.want)
		})
	}
}

// Test4M5TaskInputRequired: the upstream's InputRequiredResult during a
// task (4.M6) makes the task input_required; the input request reaches
// the client as a server request with the related-task _meta, on the
// stream of the waiting tasks/result; the client's answer (its
// related-task _meta consumed) goes upstream in the retry, the task is
// working again, then completed.
func Test4M5TaskInputRequired(t *testing.T) {
	th := startTasks(t, Config{}, "2025-11-25")
	taskID, up := th.createTask("c", "sample", "60000")
	th.client.send(`{"jsonrpc":"2.0","id":"r","method":"tasks/result","params":{"taskId":"` + taskID + `"}}`)
	th.pingBarrier("p")

	th.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"resultType":"input_required","requestState":"st","inputRequests":{"q":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"2+2?"}}],"maxTokens":5}}}}}`)
	wantEq(t, "input_required Related", json.RawMessage(th.statusNote(taskID, "input_required")), `"r"`)
	ask, rel := th.fromBroker("")
	wantEq(t, "input request", ask["method"], `"sampling/createMessage"`)
	wantEq(t, "input request related-task", get(ask, "params", "_meta", metaRelatedTask, "taskId"), `"`+taskID+`"`)
	wantEq(t, "input request Related", json.RawMessage(rel), `"r"`)
	g := th.taskCall("g", "tasks/get", taskID)
	wantEq(t, "status while asking", get(g, "result", "status"), `"input_required"`)

	th.client.send(`{"jsonrpc":"2.0","id":` + str(ask["id"]) + `,"result":{"role":"assistant","content":{"type":"text","text":"4"},"model":"m","_meta":{"` + metaRelatedTask + `":{"taskId":"` + taskID + `"}}}}`)
	retry := th.upstream()
	wantEq(t, "retry", retry["method"], `"tools/call"`)
	wantEq(t, "retry requestState", get(retry, "params", "requestState"), `"st"`)
	wantEq(t, "retry answer", get(retry, "params", "inputResponses", "q", "content", "text"), `"4"`)
	if get(retry, "params", "inputResponses", "q", "_meta") != nil || get(retry, "params", "task") != nil {
		t.Errorf("task details reached the 2026 server: %s", str(retry))
	}
	th.statusNote(taskID, "working")
	th.server.send(`{"jsonrpc":"2.0","id":` + str(retry["id"]) + `,"result":{"resultType":"complete","content":[{"type":"text","text":"the model said 4"}]}}`)
	th.statusNote(taskID, "completed")
	r, _ := th.fromBroker("tasks/result")
	wantEq(t, "result", get(r, "result", "content", 0, "text"), `"the model said 4"`)
}

// Test4M5TaskCancel: tasks/cancel makes the task cancelled before it
// answers, answers a waiting tasks/result with an error and stops the
// upstream work: a pending upstream call gets notifications/cancelled; a
// call waiting in an input round ends there and the client's input
// request is cancelled. A late answer changes nothing; cancelling again
// is -32602.
func Test4M5TaskCancel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input bool // cancel while the call waits for the client's input
	}{
		{"working", false},
		{"input_required", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := startTasks(t, Config{}, "2025-11-25")
			taskID, up := th.createTask("c", "slow", "60000")
			var ask obj
			if tc.input {
				th.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"resultType":"input_required","inputRequests":{"q":{"method":"sampling/createMessage","params":{"messages":[{"role":"user","content":{"type":"text","text":"?"}}],"maxTokens":5}}}}}`)
				th.statusNote(taskID, "input_required")
				ask, _ = th.fromBroker("")
				wantEq(t, "input request", ask["method"], `"sampling/createMessage"`)
			}
			th.client.send(`{"jsonrpc":"2.0","id":"r","method":"tasks/result","params":{"taskId":"` + taskID + `"}}`)
			c := th.taskCall("x", "tasks/cancel", taskID)
			wantEq(t, "cancel status", get(c, "result", "status"), `"cancelled"`)
			wantEq(t, "cancel taskId", get(c, "result", "taskId"), `"`+taskID+`"`)
			th.statusNote(taskID, "cancelled")
			r, _ := th.fromBroker("tasks/result")
			wantEq(t, "waiting tasks/result", r["id"], `"r"`)
			wantEq(t, "waiting tasks/result code", errorCode(r), `-32603`)
			if tc.input {
				n, _ := th.fromBroker("")
				wantEq(t, "input request cancelled", n["method"], `"notifications/cancelled"`)
				wantEq(t, "cancelled input request", get(n, "params", "requestId"), str(ask["id"]))
				// The client's late answer goes nowhere.
				th.client.send(`{"jsonrpc":"2.0","id":` + str(ask["id"]) + `,"result":{"role":"assistant","content":{"type":"text","text":"late"},"model":"m"}}`)
			} else {
				n := th.upstream()
				wantEq(t, "upstream cancel", n["method"], `"notifications/cancelled"`)
				wantEq(t, "cancelled upstream id", get(n, "params", "requestId"), str(up["id"]))
				th.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"resultType":"complete","content":[{"type":"text","text":"late"}]}}`)
			}
			th.pingBarrier("p")
			g := th.taskCall("g", "tasks/get", taskID)
			wantEq(t, "status after a late answer", get(g, "result", "status"), `"cancelled"`)
			again := th.taskCall("x2", "tasks/cancel", taskID)
			wantEq(t, "cancel again", errorCode(again), `-32602`)
			// Nothing else went upstream: the next message there is this.
			th.client.send(`{"jsonrpc":"2.0","id":"next","method":"tools/list"}`)
			wantEq(t, "next upstream message", th.upstream()["method"], `"tools/list"`)
		})
	}
}

// Test4M5UnknownTask: tasks/get, tasks/result and tasks/cancel naming no
// task of the session are -32602 (2025-11-25), as is a bad tasks/list
// cursor.
func Test4M5UnknownTask(t *testing.T) {
	th := startTasks(t, Config{}, "2025-11-25")
	for i, tc := range []struct{ method, params string }{
		{"tasks/get", `{"taskId":"nope"}`},
		{"tasks/result", `{"taskId":"nope"}`},
		{"tasks/cancel", `{"taskId":"nope"}`},
		{"tasks/list", `{"cursor":"bogus"}`},
		{"tasks/list", `{"cursor":"t0"}`},
	} {
		res := th.call("u"+strconv.Itoa(i), tc.method, tc.params)
		wantEq(t, tc.method+" "+tc.params, errorCode(res), `-32602`)
	}
}

// Test4M5TaskList: tasks/list pages the session's tasks in creation
// order, taskPageSize at a time.
func Test4M5TaskList(t *testing.T) {
	th := startTasks(t, Config{}, "2025-11-25")
	l := th.call("l0", "tasks/list", `{}`)
	wantEq(t, "empty list", get(l, "result"), `{"tasks":[]}`)
	const n = taskPageSize + 2
	var ids []string
	for i := range n {
		id, _ := th.createTask("c"+strconv.Itoa(i), "echo", "")
		ids = append(ids, id)
	}
	var listed []string
	var sizes []int
	cursor := `{}`
	for page := 0; page < 3; page++ {
		l := th.call("l"+strconv.Itoa(page+1), "tasks/list", cursor)
		tasks := get(l, "result", "tasks").([]any)
		sizes = append(sizes, len(tasks))
		for _, x := range tasks {
			listed = append(listed, get(x, "taskId").(string))
		}
		next := get(l, "result", "nextCursor")
		if next == nil {
			break
		}
		cursor = `{"cursor":` + str(next) + `}`
	}
	wantEq(t, "page sizes", sizes, `[`+strconv.Itoa(taskPageSize)+`,2]`)
	if strings.Join(listed, ",") != strings.Join(ids, ",") {
		t.Errorf("listed %v, want %v", listed, ids)
	}
}

// Test4M5TaskLimit: a session holds at most Config.MaxTasks tasks; a
// task-augmented call beyond them is refused, and nothing goes upstream.
func Test4M5TaskLimit(t *testing.T) {
	th := startTasks(t, Config{MaxTasks: 2}, "2025-11-25")
	th.createTask("c1", "echo", "")
	th.createTask("c2", "echo", "")
	res := th.call("c3", "tools/call", `{"name":"echo","arguments":{},"task":{}}`)
	wantEq(t, "third task", errorCode(res), strconv.Itoa(jsonrpc.CodeInternalError))
	th.client.send(`{"jsonrpc":"2.0","id":"next","method":"tools/list"}`)
	wantEq(t, "next upstream message", th.upstream()["method"], `"tools/list"`)
}

// Test4M5TaskExpiry: when its ttl has passed, a task is forgotten: a
// waiting tasks/result gets -32602, the upstream call is cancelled, and
// tasks/get and tasks/list no longer know it. A requested ttl above
// Config.MaxTaskTTL is cut down to it.
func Test4M5TaskExpiry(t *testing.T) {
	th := startTasks(t, Config{MaxTaskTTL: 100 * time.Millisecond}, "2025-11-25")
	taskID, up := th.createTask("c", "slow", "3600000")
	g := th.taskCall("g", "tasks/get", taskID)
	wantEq(t, "ttl cut to the maximum", get(g, "result", "ttl"), `100`)
	th.client.send(`{"jsonrpc":"2.0","id":"r","method":"tasks/result","params":{"taskId":"` + taskID + `"}}`)
	r, _ := th.fromBroker("tasks/result") // at expiry
	wantEq(t, "tasks/result at expiry", errorCode(r), `-32602`)
	n := th.upstream()
	wantEq(t, "upstream cancel", n["method"], `"notifications/cancelled"`)
	wantEq(t, "cancelled upstream id", get(n, "params", "requestId"), str(up["id"]))
	wantEq(t, "tasks/get after expiry", errorCode(th.taskCall("g2", "tasks/get", taskID)), `-32602`)
	wantEq(t, "tasks/list after expiry", get(th.call("l", "tasks/list", `{}`), "result"), `{"tasks":[]}`)
}

// Test4M5ClientIDLikeTaskCall: a client request whose id looks like the
// broker's task call ids is relayed as any other: what belongs to it keeps
// its Related and gets no related-task _meta.
func Test4M5ClientIDLikeTaskCall(t *testing.T) {
	th := startTasks(t, Config{}, "2025-11-25")
	th.client.send(`{"jsonrpc":"2.0","id":"mcpbroker-task-mine","method":"tools/call","params":{"name":"echo","arguments":{},"_meta":{"progressToken":"pt"}}}`)
	up := th.upstream()
	th.server.sendRel(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"pt","progress":1}}`, str(up["id"]))
	p, rel := th.fromBroker("")
	wantEq(t, "progress Related", json.RawMessage(rel), `"mcpbroker-task-mine"`)
	wantEq(t, "progress _meta", get(p, "params", "_meta"), `null`)
	th.server.send(`{"jsonrpc":"2.0","id":` + str(up["id"]) + `,"result":{"resultType":"complete","content":[]}}`)
	r, _ := th.fromBroker("tools/call")
	wantEq(t, "answer id", r["id"], `"mcpbroker-task-mine"`)
}
