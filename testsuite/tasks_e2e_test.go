package testsuite

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/brokerproc"
	"github.com/mcpbroker/mcpbroker/testsuite/demo"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// Test4M5TasksTo2026 runs `mcpbroker serve --upstream-revision 2026-07-28`
// in front of the strict 2026-07-28 demo server (a stdio child, or over
// the stateless Streamable HTTP of 2026) with a strict 2025-11-25 fixture
// client over Streamable HTTP that uses tasks, which the broker emulates
// (REVISIONS.md 4.M5): the capability and taskSupport are advertised;
// task-augmented tool calls get a CreateTaskResult; tasks/result returns
// the tool's result with the related-task _meta, running the demo's
// multi round-trip sampling (4.M6) as server requests related to the task
// meanwhile; tasks/cancel cancels the demo's slow tool; tasks/list lists
// the session's tasks; an unknown taskId is -32602.
func Test4M5TasksTo2026(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, server := range []string{"stdio", "http"} {
		t.Run("server-"+server, func(t *testing.T) {
			t.Parallel()
			upstream := []string{"--upstream-revision", "2026-07-28", "--server-validation", "strict",
				"--upstream-cmd", bin + " demo-server --revision 2026-07-28"}
			if server == "http" {
				demoAddr := brokerproc.DemoServer(t, bin, "2026-07-28")
				upstream = []string{"--upstream-revision", "2026-07-28", "--server-validation", "strict",
					"--upstream-url", "http://" + demoAddr + demo.PathMCP}
			}
			addr := brokerproc.Serve(t, bin, nil, upstream...)
			ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
			t.Cleanup(cancel)
			c := newScenarioClient(t, v, schemas.V20251125, dialBroker(ctx, t, bin, addr, "http", upstream))
			tasksScenario(ctx, t, c)
		})
	}
}

// Test4M5TasksTo2026InProcess runs the scenario of Test4M5TasksTo2026 in
// process (the relay and the strict 2026-07-28 demo server over pipes),
// where the demo's request hook shows that tasks/cancel reached the server
// as the cancellation of the slow tool's call.
func Test4M5TasksTo2026InProcess(t *testing.T) {
	v, err := sharedValidator()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	t.Cleanup(cancel)
	cancelled := make(chan string, 16)
	srv, err := demo.New(schemas.V20260728, demo.WithValidator(v), demo.WithRequestHook(func(ri demo.RequestInfo) {
		if ri.Cancelled {
			cancelled <- ri.Method
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	dial := func(ctx context.Context) (transport.Conn, error) {
		brokerSide, serverSide := fixture.Pipe()
		go func() { _ = srv.Serve(ctx, serverSide) }()
		return brokerSide, nil
	}
	clientSide, brokerSide := fixture.Pipe()
	relayDone := make(chan error, 1)
	go func() {
		relayDone <- relay.Run(ctx, brokerSide, dial, relay.Config{Validator: v, UpstreamRevision: schemas.V20260728,
			ServerValidation: relay.Strict, Logger: testLogger(t)})
	}()
	tasksScenario(ctx, t, newScenarioClient(t, v, schemas.V20251125, clientSide))
	select {
	case m := <-cancelled:
		if m != "tools/call" {
			t.Errorf("the server saw %s cancelled, want tools/call", m)
		}
	case <-ctx.Done():
		t.Errorf("the server never saw the slow tool's call cancelled")
	}
	cancel()
	if err := <-relayDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("relay: %v", err)
	}
}

// taskInfo is the Task of 2025-11-25, as far as the test looks.
type taskInfo struct {
	TaskID       string `json:"taskId"`
	Status       string `json:"status"`
	TTL          *int64 `json:"ttl"`
	PollInterval int64  `json:"pollInterval"`
}

// tasksScenario is the scenario of Test4M5TasksTo2026 with c, a strict
// 2025-11-25 client that has not initialized yet.
func tasksScenario(ctx context.Context, t *testing.T, c *fixture.Client) {
	init, err := c.Initialize(ctx)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	var caps struct {
		Capabilities struct {
			Tasks any `json:"tasks"`
		} `json:"capabilities"`
	}
	if err := json.Unmarshal(init.Raw, &caps); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(caps.Capabilities.Tasks); string(got) != `{"cancel":{},"list":{},"requests":{"tools":{"call":{}}}}` {
		t.Fatalf("capabilities.tasks = %s", got)
	}
	var tools struct {
		Tools []struct {
			Name      string `json:"name"`
			Execution struct {
				TaskSupport string `json:"taskSupport"`
			} `json:"execution"`
		} `json:"tools"`
	}
	mustCall(t, ctx, c, "tools/list", map[string]any{}, &tools)
	for _, tool := range tools.Tools {
		if tool.Execution.TaskSupport != "optional" {
			t.Errorf("tool %s: taskSupport %q, want optional", tool.Name, tool.Execution.TaskSupport)
		}
	}

	// A plain tool as a task.
	echo := createTask(ctx, t, c, "echo", map[string]any{"text": "as a task"})
	if res := taskResult(ctx, t, c, echo); !strings.Contains(res.Text(), "as a task") {
		t.Errorf("echo task: %q", res.Text())
	}
	if got := getTask(ctx, t, c, echo); got.Status != "completed" {
		t.Errorf("echo task status %q, want completed", got.Status)
	}

	// Multi round-trip sampling inside a task: the input requests reach
	// the client as server requests related to the task.
	sample := createTask(ctx, t, c, "sample", map[string]any{"prompt": "hi", "rounds": 2})
	if res := taskResult(ctx, t, c, sample); !strings.Contains(res.Text(), "sampled by the client") {
		t.Errorf("sample task: %q", res.Text())
	}
	related := 0
	for _, r := range c.ServerRequests() {
		var p struct {
			Meta map[string]struct {
				TaskID string `json:"taskId"`
			} `json:"_meta"`
		}
		if r.Method == "sampling/createMessage" && json.Unmarshal(r.Params, &p) == nil && p.Meta["io.modelcontextprotocol/related-task"].TaskID == sample {
			related++
		}
	}
	if related != 2 {
		t.Errorf("%d sampling requests related to the task, want 2 (%d server requests)", related, len(c.ServerRequests()))
	}
	if _, err := c.WaitNotification(ctx, func(n fixture.Notification) bool {
		var ti taskInfo
		return n.Method == "notifications/tasks/status" && json.Unmarshal(n.Params, &ti) == nil && ti.TaskID == sample && ti.Status == "input_required"
	}); err != nil {
		t.Errorf("no input_required status notification: %v", err)
	}

	// The slow tool waits for its cancellation.
	slow := createTask(ctx, t, c, "slow", map[string]any{})
	if got := getTask(ctx, t, c, slow); got.Status != "working" {
		t.Errorf("slow task status %q, want working", got.Status)
	}
	var cancelled taskInfo
	mustCall(t, ctx, c, "tasks/cancel", map[string]any{"taskId": slow}, &cancelled)
	if cancelled.Status != "cancelled" || cancelled.TaskID != slow {
		t.Errorf("tasks/cancel: %+v", cancelled)
	}
	if _, err := c.Call(ctx, "tasks/result", map[string]any{"taskId": slow}); err == nil {
		t.Errorf("tasks/result of a cancelled task succeeded")
	}

	var list struct {
		Tasks []taskInfo `json:"tasks"`
	}
	mustCall(t, ctx, c, "tasks/list", map[string]any{}, &list)
	var ids []string
	for _, ti := range list.Tasks {
		ids = append(ids, ti.TaskID+"="+ti.Status)
	}
	if want := []string{echo + "=completed", sample + "=completed", slow + "=cancelled"}; !slices.Equal(ids, want) {
		t.Errorf("tasks/list: %v, want %v", ids, want)
	}

	var je *jsonrpc.Error
	if _, err := c.Call(ctx, "tasks/get", map[string]any{"taskId": "no-such-task"}); !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("tasks/get of an unknown task: %v, want -32602", err)
	}
	// Plain calls still work.
	mustTool(t, ctx, c, "echo", map[string]any{"text": "no task"})
	if vs := c.Violations(); len(vs) > 0 {
		t.Errorf("client saw invalid messages: %v", vs)
	}
	if u := c.Unmatched(); len(u) > 0 {
		t.Errorf("client saw unmatched responses: %s", u)
	}
}

// createTask calls a tool as a task and returns the taskId of the
// CreateTaskResult.
func createTask(ctx context.Context, t *testing.T, c *fixture.Client, tool string, args map[string]any) string {
	t.Helper()
	var res struct {
		Task    *taskInfo       `json:"task"`
		Content json.RawMessage `json:"content"`
	}
	mustCall(t, ctx, c, "tools/call", map[string]any{"name": tool, "arguments": args, "task": map[string]any{"ttl": 60000}}, &res)
	if res.Task == nil || res.Content != nil {
		t.Fatalf("tools/call %s as a task: no CreateTaskResult", tool)
	}
	if res.Task.Status != "working" || res.Task.TTL == nil || *res.Task.TTL != 60000 || res.Task.PollInterval <= 0 {
		t.Errorf("tools/call %s as a task: %+v", tool, *res.Task)
	}
	return res.Task.TaskID
}

// getTask calls tasks/get.
func getTask(ctx context.Context, t *testing.T, c *fixture.Client, id string) taskInfo {
	t.Helper()
	var ti taskInfo
	mustCall(t, ctx, c, "tasks/get", map[string]any{"taskId": id}, &ti)
	return ti
}

// taskResult calls tasks/result, checks the related-task _meta and
// decodes the tool result.
func taskResult(ctx context.Context, t *testing.T, c *fixture.Client, id string) *fixture.ToolResult {
	t.Helper()
	raw, err := c.Call(ctx, "tasks/result", map[string]any{"taskId": id})
	if err != nil {
		t.Fatalf("tasks/result: %v", err)
	}
	var meta struct {
		Meta map[string]struct {
			TaskID string `json:"taskId"`
		} `json:"_meta"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil || meta.Meta["io.modelcontextprotocol/related-task"].TaskID != id {
		t.Errorf("tasks/result without the related-task _meta: %s", raw)
	}
	var res fixture.ToolResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("tasks/result: %v", err)
	}
	if res.IsError {
		t.Fatalf("tasks/result: tool error %q", res.Text())
	}
	return &res
}
