package relay

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// This file emulates the tasks of 2025-11-25 for a 2025-11-25 client of a
// stateless 2026-07-28 upstream (REVISIONS.md 4.M5, EMULATE in the OC→NS
// column). 2026-07-28 moved tasks out of the core into the
// io.modelcontextprotocol/tasks extension; the broker does not use that
// extension (it never declares it upstream, so the server must answer
// every call synchronously): it is the task receiver itself.
//
//   - The synthetic InitializeResult advertises tasks {list, cancel,
//     requests.tools.call} (4.L4, CapabilityOptions.Tasks), and tools/list
//     marks every tool execution.taskSupport "optional".
//   - A task-augmented tools/call is answered at once with a
//     CreateTaskResult (a broker-minted taskId, status working). The call,
//     without its task field, goes upstream under a broker id as any
//     forwarded request, MRTR rounds included: its answer goes to the task
//     instead of the client (batch.sink).
//   - While the upstream asks for input (an InputRequiredResult, 4.M6), the
//     input requests still reach the client as server requests, with the
//     related-task _meta, on the stream of a waiting tasks/result when
//     there is one; the task is input_required until the call is retried.
//   - tasks/get, tasks/result (blocks until the task is terminal, then the
//     tool's result with the related-task _meta, or its JSON-RPC error),
//     tasks/list (paginated) and tasks/cancel (cancels the upstream
//     request, or the input round the call waits in) are answered here.
//   - notifications/tasks/status goes to the client at every change.
//   - Tasks belong to the client session, at most Config.MaxTasks at a
//     time; each is forgotten when its ttl (at most Config.MaxTaskTTL) has
//     passed, and cancelled upstream if it still runs.
//
// All task state is guarded by session.mu, and, as everywhere in the
// relay, nothing is sent while it is held.

// Methods and _meta keys of 2025-11-25 tasks.
const (
	methodTasksGet    = "tasks/get"
	methodTasksResult = "tasks/result"
	methodTasksList   = "tasks/list"
	methodTasksCancel = "tasks/cancel"
	methodTaskStatus  = "notifications/tasks/status"
	methodToolsCall   = "tools/call"
	methodToolsList   = "tools/list"
	metaRelatedTask   = "io.modelcontextprotocol/related-task"
)

// Task statuses (2025-11-25 TaskStatus).
const (
	taskWorking       = "working"
	taskInputRequired = "input_required"
	taskCompleted     = "completed"
	taskFailed        = "failed"
	taskCancelled     = "cancelled"
)

const (
	// taskCallPrefix starts the client id the broker gives the upstream
	// call of a task (a JSON string, followed by the taskId): what the
	// relay would send the client for that call (its answer, its input
	// requests, its progress) is recognised by it.
	taskCallPrefix = `"mcpbroker-task-`
	// taskPollInterval is the pollInterval the broker suggests, in ms.
	taskPollInterval = 1000
	// taskPageSize is the number of tasks of one tasks/list page.
	taskPageSize = 20
)

// task is one task of the session.
type task struct {
	id      string
	callID  json.RawMessage // the client id of its upstream call
	callKey string          // jsonrpc.IDKey(callID)
	seq     int64           // creation order, for tasks/list
	status  string
	message string // statusMessage, or ""
	created time.Time
	updated time.Time
	ttl     time.Duration
	timer   *time.Timer // forgets the task when its ttl has passed
	// The upstream's answer once the task is completed or failed: a
	// CallToolResult of the client's revision, or a JSON-RPC error object.
	result, rpcErr json.RawMessage
	// waiters are the tasks/result requests waiting for the task to end.
	waiters []waiter
}

// taskStore holds the session's tasks.
type taskStore struct {
	byID   map[string]*task
	byCall map[string]*task // by callKey
	seq    int64
}

// terminal reports whether the task has ended.
func (t *task) terminal() bool {
	return t.status == taskCompleted || t.status == taskFailed || t.status == taskCancelled
}

// setStatus changes the status and its message, at now.
func (t *task) setStatus(status, message string) {
	t.status, t.message, t.updated = status, message, time.Now()
}

// taskTime formats a task timestamp (ISO 8601, UTC, milliseconds).
func taskTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// view returns the 2025-11-25 Task of t, a fresh object. Called with
// session.mu held.
func (t *task) view() *translators.Node {
	n := translators.NewObject()
	n.Set("taskId", translators.NewString(t.id))
	n.Set("status", translators.NewString(t.status))
	if t.message != "" {
		n.Set("statusMessage", translators.NewString(t.message))
	}
	n.Set("createdAt", translators.NewString(taskTime(t.created)))
	n.Set("lastUpdatedAt", translators.NewString(taskTime(t.updated)))
	n.Set("ttl", translators.NewInt(t.ttl.Milliseconds()))
	n.Set("pollInterval", translators.NewInt(taskPollInterval))
	return n
}

// tasksEmulated reports whether the broker emulates 2025-11-25 tasks for a
// client of revision clientRev of an upstream of revision upRev: only a
// 2025-11-25 client (the one revision that has them) of a stateless
// upstream (whose revision has none in its core).
func tasksEmulated(clientRev, upRev schemas.Revision) bool {
	return clientRev == schemas.V20251125 && upRev.Stateless()
}

// newTaskID returns a fresh random task id.
func newTaskID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("relay: task id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// handleTask takes the client requests the task emulation answers: a
// task-augmented tools/call (out is its translation, Forward) and the
// tasks/* requests. It reports false, doing nothing, for any other request
// or when the session emulates no tasks.
func (s *session) handleTask(ctx context.Context, l *link, m *jsonrpc.Message, out translators.Outcome, b *batch) bool {
	if !tasksEmulated(l.clientRev, l.upRev) {
		return false
	}
	switch m.Method {
	case methodToolsCall:
		if out.Kind != translators.Forward || !bytes.Contains(m.Params, []byte(`"task"`)) || !translators.Parse(m.Params).Has("task") {
			return false
		}
		ectx, span := s.startEmulation(ctx, telemetry.EmulationTask, m.Method)
		defer span.End()
		s.startTask(ectx, m, out.Message, b)
	case methodTasksGet, methodTasksResult, methodTasksCancel:
		ectx, span := s.startEmulation(ctx, telemetry.EmulationTask, m.Method)
		defer span.End()
		id := translators.Parse(m.Params).Get("taskId").Str()
		s.taskRequest(ectx, m, id, b)
	case methodTasksList:
		ectx, span := s.startEmulation(ctx, telemetry.EmulationTask, m.Method)
		defer span.End()
		s.listTasks(ectx, m, b)
	default:
		return false
	}
	return true
}

// taskTTL returns the ttl of a task whose call asked for requested (params.task.ttl,
// in ms; nil when absent).
func (s *session) taskTTL(requested *translators.Node) time.Duration {
	limit := s.cfg.MaxTaskTTL
	if requested.IsNumber() {
		if ms, err := strconv.ParseInt(string(requested.Raw()), 10, 64); err == nil && ms > 0 && ms <= limit.Milliseconds() {
			return time.Duration(ms) * time.Millisecond
		}
	}
	return limit
}

// startTask answers the task-augmented tools/call m with a CreateTaskResult
// and sends raw, its translation for the upstream (params.task already
// stripped by the chain, 4.M5), upstream in the background.
func (s *session) startTask(ctx context.Context, m *jsonrpc.Message, raw []byte, b *batch) {
	id, err := newTaskID()
	if err != nil {
		s.rejectClient(ctx, m, b, jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil))
		return
	}
	now := time.Now()
	t := &task{id: id, status: taskWorking, created: now, updated: now,
		ttl: s.taskTTL(translators.Parse(m.Params).Get("task").Get("ttl"))}
	t.callID = json.RawMessage(taskCallPrefix + id + `"`)
	t.callKey = jsonrpc.IDKey(t.callID)
	s.mu.Lock()
	if s.tasks == nil {
		s.tasks = &taskStore{byID: map[string]*task{}, byCall: map[string]*task{}}
	}
	if n := len(s.tasks.byID); n >= s.cfg.MaxTasks {
		s.mu.Unlock()
		s.rejectClient(ctx, m, b, jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInternalError,
			fmt.Sprintf("mcpbroker: this session holds %d tasks, the most the broker keeps; retry once one has expired (REVISIONS.md 4.M5)", n), nil))
		return
	}
	s.tasks.seq++
	t.seq = s.tasks.seq
	s.tasks.byID[id] = t
	s.tasks.byCall[t.callKey] = t
	if !s.closed {
		t.timer = time.AfterFunc(t.ttl, func() { s.expireTask(t) })
	}
	created := t.view()
	s.mu.Unlock()
	s.log.DebugContext(ctx, "relay: task created", "task", id, "ttl", t.ttl)
	res := translators.NewObject()
	res.Set("task", created)
	s.replyClient(ctx, m.ID, b, resultResponse(m.ID, res))

	up, err := jsonrpc.Parse(withID(raw, m, t.callID))
	if err != nil {
		s.taskDone(t, jsonrpc.ErrorResponse(t.callID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil))
		return
	}
	s.forward(ctx, up, up.Raw, &batch{sink: func(resp []byte) { s.taskDone(t, resp) }})
}

// taskDone records resp, the answer to the upstream call of t (in the
// client's revision, with the call's id), unless the task ended already
// (cancelled or expired: a late answer changes nothing). A tool result with
// isError makes the task failed, as does a JSON-RPC error. The waiting
// tasks/result requests are answered.
func (s *session) taskDone(t *task, resp []byte) {
	m, perr := jsonrpc.Parse(resp)
	s.mu.Lock()
	if t.terminal() || s.tasks.byID[t.id] != t {
		s.mu.Unlock()
		s.log.Debug("relay: answer of an ended task dropped", "task", t.id)
		return
	}
	switch {
	case perr != nil:
		e := translators.NewObject()
		e.Set("code", translators.NewInt(jsonrpc.CodeInternalError))
		e.Set("message", translators.NewString("mcpbroker: "+perr.Error()))
		t.rpcErr = e.Raw()
		t.setStatus(taskFailed, perr.Error())
	case m.Kind == jsonrpc.KindError:
		t.rpcErr = bytes.Clone(m.Error)
		t.setStatus(taskFailed, translators.Parse(m.Error).Get("message").Str())
	default:
		t.result = bytes.Clone(m.Result)
		if translators.Parse(m.Result).Get("isError").Bool() {
			t.setStatus(taskFailed, "the tool reported an error")
		} else {
			t.setStatus(taskCompleted, "")
		}
	}
	sends := s.taskEndedLocked(t)
	s.mu.Unlock()
	s.log.Debug("relay: task ended", "task", t.id, "status", t.status)
	sends.run(s)
}

// taskSends are messages to the client, gathered under session.mu and sent
// after it is released, in order.
type taskSends []taskSend

type taskSend struct {
	raw     []byte
	related json.RawMessage
	reply   *waiter // answers this waiter (raw is its response) instead
}

func (ts taskSends) run(s *session) {
	for _, x := range ts {
		if x.reply != nil {
			s.auditError(s.ctx, methodTasksResult, x.reply.id, x.raw)
			s.replyClient(s.ctx, x.reply.id, x.reply.batch, x.raw)
		} else {
			s.sendClient(s.ctx, x.raw, x.related)
		}
	}
}

// taskEndedLocked returns what goes to the client when t has become
// terminal: the status notification, then the answers of the waiting
// tasks/result requests. Called with session.mu held.
//
// An ended task is kept until its ttl has passed, a cancelled one too:
// tasks/get and tasks/result still answer for it.
func (s *session) taskEndedLocked(t *task) taskSends {
	sends := taskSends{{raw: statusNotification(t.view()), related: firstWaiter(t)}}
	for i := range t.waiters {
		w := t.waiters[i]
		sends = append(sends, taskSend{raw: taskPayload(w.id, t), reply: &w})
	}
	t.waiters = nil
	return sends
}

// firstWaiter returns the id of the first tasks/result waiting for t, the
// request whose stream (Streamable HTTP) carries what concerns t, or nil.
func firstWaiter(t *task) json.RawMessage {
	if len(t.waiters) == 0 {
		return nil
	}
	return t.waiters[0].id
}

// taskPayload is the response to a tasks/result with the given id for the
// terminal task t: what the tools/call would have returned, the result with
// the related-task _meta (2025-11-25 requires it), or the JSON-RPC error.
// Called with session.mu held.
func taskPayload(id json.RawMessage, t *task) []byte {
	switch {
	case t.status == taskCancelled:
		return jsonrpc.ErrorResponse(id, jsonrpc.CodeInternalError, "mcpbroker: task "+t.id+" was cancelled", nil)
	case t.rpcErr != nil:
		n := translators.NewJSON(`{"jsonrpc":"2.0"}`)
		n.Set("id", translators.Parse(id))
		n.Set("error", translators.Parse(t.rpcErr))
		return n.Raw()
	}
	res := translators.Parse(t.result)
	if !res.IsObject() {
		res = translators.NewObject()
	}
	meta := res.Get("_meta")
	if !meta.IsObject() {
		meta = translators.NewObject()
		res.Set("_meta", meta)
	}
	meta.Set(metaRelatedTask, relatedTask(t.id))
	n := translators.NewJSON(`{"jsonrpc":"2.0"}`)
	n.Set("id", translators.Parse(id))
	n.Set("result", res)
	return n.Raw()
}

// relatedTask is the value of the related-task _meta key for task id.
func relatedTask(id string) *translators.Node {
	n := translators.NewObject()
	n.Set("taskId", translators.NewString(id))
	return n
}

// taskNotFound is the -32602 error of a tasks/* request naming no task of
// the session (2025-11-25: invalid or nonexistent taskId).
func taskNotFound(id json.RawMessage, taskID string) []byte {
	return jsonrpc.ErrorResponse(id, jsonrpc.CodeInvalidParams,
		fmt.Sprintf("Failed to retrieve task: Task not found: %q is unknown or has expired", taskID), nil)
}

// taskRequest answers tasks/get, tasks/result and tasks/cancel for the
// task taskID.
func (s *session) taskRequest(ctx context.Context, m *jsonrpc.Message, taskID string, b *batch) {
	s.mu.Lock()
	var t *task
	if s.tasks != nil {
		t = s.tasks.byID[taskID]
	}
	if t == nil {
		s.mu.Unlock()
		s.rejectClient(ctx, m, b, taskNotFound(m.ID, taskID))
		return
	}
	switch m.Method {
	case methodTasksGet:
		v := t.view()
		s.mu.Unlock()
		s.replyClient(ctx, m.ID, b, resultResponse(m.ID, v))
	case methodTasksResult:
		if !t.terminal() {
			// Blocks: answered when the task ends (taskEndedLocked) or
			// expires.
			t.waiters = append(t.waiters, waiter{id: bytes.Clone(m.ID), batch: b})
			s.mu.Unlock()
			return
		}
		raw := taskPayload(m.ID, t)
		s.mu.Unlock()
		s.auditError(ctx, m.Method, m.ID, raw)
		s.replyClient(ctx, m.ID, b, raw)
	case methodTasksCancel:
		if t.terminal() {
			status := t.status
			s.mu.Unlock()
			s.rejectClient(ctx, m, b, jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInvalidParams,
				fmt.Sprintf("Cannot cancel task: task %q is already %s", taskID, status), nil))
			return
		}
		t.setStatus(taskCancelled, "The task was cancelled by request.")
		v := t.view()
		sends := s.taskEndedLocked(t)
		s.mu.Unlock()
		s.log.DebugContext(ctx, "relay: task cancelled", "task", t.id)
		// The task is cancelled before the answer says so (2025-11-25).
		s.replyClient(ctx, m.ID, b, resultResponse(m.ID, v))
		sends.run(s)
		s.cancelTaskCall(ctx, t.callKey, "mcpbroker: task cancelled by the client")
	}
}

// listTasks answers tasks/list: the session's tasks in creation order,
// taskPageSize a page. The cursor is the sequence number of the first task
// of the page.
func (s *session) listTasks(ctx context.Context, m *jsonrpc.Message, b *batch) {
	from := int64(0)
	if c := translators.Parse(m.Params).Get("cursor"); c != nil {
		n, err := strconv.ParseInt(strings.TrimPrefix(c.Str(), "t"), 10, 64)
		if !c.IsString() || !strings.HasPrefix(c.Str(), "t") || err != nil || n < 1 {
			s.rejectClient(ctx, m, b, jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInvalidParams, "Invalid params: invalid tasks/list cursor", nil))
			return
		}
		from = n
	}
	s.mu.Lock()
	var all []*task
	if s.tasks != nil {
		for _, t := range s.tasks.byID {
			if t.seq >= from {
				all = append(all, t)
			}
		}
	}
	slices.SortFunc(all, func(a, b *task) int { return cmp.Compare(a.seq, b.seq) })
	list := translators.NewArray()
	res := translators.NewObject()
	res.Set("tasks", list)
	for i, t := range all {
		if i == taskPageSize {
			res.Set("nextCursor", translators.NewString("t"+strconv.FormatInt(t.seq, 10)))
			break
		}
		list.Append(t.view())
	}
	s.mu.Unlock()
	s.replyClient(ctx, m.ID, b, resultResponse(m.ID, res))
}

// cancelTaskCall stops the upstream work of the task whose call has the
// client key callKey: the pending upstream request gets a
// notifications/cancelled; a call waiting for the client's answers to an
// input round (4.M6) ends there, and the client is told that the round's
// requests are cancelled. Whatever answer still comes goes to a task that
// has ended, which ignores it.
func (s *session) cancelTaskCall(ctx context.Context, callKey, reason string) {
	s.mu.Lock()
	var c *call
	if k, ok := s.byClient[callKey]; ok {
		if c = s.pending[k]; c != nil {
			s.removeLocked(c)
		}
	}
	var round *mrtrRound
	var asked []json.RawMessage
	if c == nil {
		for _, sc := range s.serverCalls {
			if sc.round != nil && sc.round.call.clientKey == callKey {
				round = sc.round
				asked = append(asked, sc.brokerID)
			}
		}
	}
	s.mu.Unlock()
	if c != nil {
		s.endOwn(telemetry.Failure("cancelled", reason), c)
		_ = s.sendOwn(ctx, translators.CancelledNotification(c.upID, reason))
		return
	}
	if round != nil {
		s.mrtrFailCode(ctx, round, jsonrpc.CodeInternalError, reason)
		for _, id := range asked {
			s.sendClient(ctx, translators.CancelledNotification(id, reason), nil)
		}
	}
}

// expireTask forgets t when its ttl has passed: a tasks/result waiting for
// it gets -32602, and its upstream work is cancelled if it still runs.
func (s *session) expireTask(t *task) {
	s.mu.Lock()
	if s.closed || s.tasks.byID[t.id] != t {
		s.mu.Unlock()
		return
	}
	delete(s.tasks.byID, t.id)
	delete(s.tasks.byCall, t.callKey)
	running := !t.terminal()
	waiters := t.waiters
	t.waiters = nil
	s.timers.Add(1)
	s.mu.Unlock()
	defer s.timers.Done()
	s.log.Debug("relay: task expired", "task", t.id, "running", running)
	for _, w := range waiters {
		raw := jsonrpc.ErrorResponse(w.id, jsonrpc.CodeInvalidParams,
			fmt.Sprintf("Failed to retrieve task: Task has expired: %q reached its ttl of %v", t.id, t.ttl), nil)
		s.auditError(s.ctx, methodTasksResult, w.id, raw)
		s.replyClient(s.ctx, w.id, w.batch, raw)
	}
	if running {
		s.cancelTaskCall(s.ctx, t.callKey, "mcpbroker: task expired")
	}
}

// stopTasksLocked stops the ttl timers of the session's tasks (the session
// is ending). Called with session.mu held.
func (s *session) stopTasksLocked() {
	if s.tasks == nil {
		return
	}
	for _, t := range s.tasks.byID {
		if t.timer != nil {
			t.timer.Stop()
		}
	}
}

// isTaskCall reports whether related, the client id a message to the
// client belongs to, is that of the upstream call of a task.
func isTaskCall(related json.RawMessage) bool {
	return bytes.HasPrefix(related, []byte(taskCallPrefix))
}

// taskRelated rewrites raw, a request or notification for the client that
// belongs to the upstream call of a task (an input request of an MRTR
// round, a progress or log notification): it gets the related-task _meta
// (2025-11-25: every message associated with a task carries it), and goes
// with the first tasks/result waiting for the task (Streamable HTTP: on its
// stream) rather than the call, which the client saw answered long ago. An
// input request makes the task input_required, which the client is told
// first. It returns the message and its new related id.
func (s *session) taskRelated(ctx context.Context, raw []byte, related json.RawMessage) ([]byte, json.RawMessage) {
	n := translators.Parse(raw)
	if !n.Has("method") {
		return raw, related // a response goes by its id
	}
	s.mu.Lock()
	var t *task
	if s.tasks != nil {
		t = s.tasks.byCall[jsonrpc.IDKey(related)]
	}
	if t == nil {
		s.mu.Unlock()
		return raw, related // the task is gone (or the id is the client's own)
	}
	var note []byte
	if n.Has("id") && t.status == taskWorking {
		t.setStatus(taskInputRequired, "The server needs input from the client: see the requests related to this task.")
		note = statusNotification(t.view())
	}
	rel := firstWaiter(t)
	id := t.id
	s.mu.Unlock()
	translators.RequestMeta(n).Set(metaRelatedTask, relatedTask(id))
	if note != nil {
		s.sendClient(ctx, note, rel)
	}
	return n.Raw(), rel
}

// taskResumed moves the task whose upstream call has the client key
// callKey from input_required back to working: the call is retried with
// the client's answers (4.M6).
func (s *session) taskResumed(ctx context.Context, callKey string) {
	if !strings.HasPrefix(callKey, taskCallPrefix) {
		return
	}
	s.mu.Lock()
	var t *task
	if s.tasks != nil {
		t = s.tasks.byCall[callKey]
	}
	if t == nil || t.status != taskInputRequired {
		s.mu.Unlock()
		return
	}
	t.setStatus(taskWorking, "")
	note, rel := statusNotification(t.view()), firstWaiter(t)
	s.mu.Unlock()
	s.sendClient(ctx, note, rel)
}

// withoutRelatedTask returns a copy of a client's result without the
// related-task _meta key a 2025-11-25 client puts in its answer to a
// task's input request: reserved keys are per hop (0.2 rule 5), and the
// 2026-07-28 server knows no such task.
func withoutRelatedTask(result json.RawMessage) json.RawMessage {
	if !bytes.Contains(result, []byte(metaRelatedTask)) {
		return bytes.Clone(result)
	}
	n := translators.Parse(result)
	meta := n.Get("_meta")
	if !meta.Delete(metaRelatedTask) {
		return bytes.Clone(result)
	}
	if meta.Len() == 0 {
		n.Delete("_meta")
	}
	return bytes.Clone(n.Raw())
}

// markTaskTools returns raw, a tools/list result for the client (method is
// the request's), with execution.taskSupport "optional" on every tool
// that declares none, when the session emulates tasks: the broker can run
// any tool as a task, and a 2025-11-25 client must not task-augment a
// tool without it.
func (s *session) markTaskTools(l *link, method string, raw []byte) []byte {
	if method != methodToolsList || !tasksEmulated(l.clientRev, l.upRev) {
		return raw
	}
	n := translators.Parse(raw)
	for _, tool := range n.Get("result").Get("tools").Elems() {
		if tool.IsObject() && !tool.Has("execution") {
			tool.Set("execution", translators.NewJSON(`{"taskSupport":"optional"}`))
		}
	}
	return n.Raw()
}

// statusNotification is the notifications/tasks/status carrying the Task
// view (2025-11-25 sends it without the related-task _meta: the taskId is
// in the params).
func statusNotification(view *translators.Node) []byte {
	n := translators.NewJSON(`{"jsonrpc":"2.0"}`)
	n.Set("method", translators.NewString(methodTaskStatus))
	n.Set("params", view)
	return n.Raw()
}

// resultResponse is the response with the given id and result.
func resultResponse(id json.RawMessage, result *translators.Node) []byte {
	n := translators.NewJSON(`{"jsonrpc":"2.0"}`)
	n.Set("id", translators.Parse(id))
	n.Set("result", result)
	return n.Raw()
}
