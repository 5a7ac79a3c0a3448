package translators

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// step45 translates between the revisions of REVISIONS.md section 4.
func step45() *Step {
	return &Step{Lo: schemas.V20251125, Hi: schemas.V20260728, Up: up45, Down: down45}
}

// This file holds the lifecycle and method rows of section 4 (4.L1-4.L4,
// 4.M1-4.M10) and lists the broker-owned transport, auth and deprecation
// rows (4.T*, 4.A1, 4.D1). The type, framing and error-code rows (4.F*,
// 4.J*, 4.E*) live in step45_fields.go and run first. Helpers of this file
// are prefixed lm45 (lifecycle and methods) so they cannot clash with the
// fields helpers.
//
// Column mapping: OC→NS (legacy client, 2026 server) is c2s Up and s2c
// Down; NC→OS (2026 client, legacy server) is c2s Down and s2c Up.

func up45(t *Tx) {
	if up45Fields(t); t.Done() {
		return
	}
	if t.Dir == ClientToServer {
		lm45UpFromClient(t)
	} else {
		lm45UpFromServer(t)
	}
}

func down45(t *Tx) {
	if down45Fields(t); t.Done() {
		return
	}
	if t.Dir == ClientToServer {
		lm45DownFromClient(t)
	} else {
		lm45DownFromServer(t)
	}
}

// Reserved _meta keys of 2026-07-28 (4.L1, 4.F5) and the tasks extension.
const (
	lm45Reserved        = "io.modelcontextprotocol/"
	lm45ProtocolVersion = "io.modelcontextprotocol/protocolVersion"
	lm45ClientCaps      = "io.modelcontextprotocol/clientCapabilities"
	lm45ClientInfo      = "io.modelcontextprotocol/clientInfo"
	lm45LogLevel        = "io.modelcontextprotocol/logLevel"

	// TasksExtension is the 2026-07-28 extension that carries tasks
	// (4.M5), the key under ClientCapabilities.extensions and
	// ServerCapabilities.extensions.
	TasksExtension = "io.modelcontextprotocol/tasks"

	// 2026-07-28 error codes (4.L3).
	lm45CodeUnsupportedVersion  = -32022
	lm45CodeURLElicitationError = -32042 // 2025-11-25 only (4.M7)
)

// lm45LogLevels are the LoggingLevel values (4.M2).
var lm45LogLevels = map[string]bool{
	"debug": true, "info": true, "notice": true, "warning": true,
	"error": true, "critical": true, "alert": true, "emergency": true,
}

// ---------------------------------------------------------------------
// c2s Up: a legacy (2025-11-25) client talks to a 2026-07-28 server (OC→NS).

func lm45UpFromClient(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindRequest:
		switch t.Method {
		case "initialize":
			t.Emulate("4.L1", "2026-07-28 has no handshake: the broker answers initialize from an upstream server/discover (4.L2) and stores the client's capabilities and clientInfo for the session")
		case "ping":
			t.Answer("4.M1", "2026-07-28 has no ping: the broker answers the client's ping itself", NewJSON(`{}`))
		case "logging/setLevel":
			t.Answer("4.M2", "2026-07-28 has no logging/setLevel: the broker stores params.level for the session and adds it as _meta logLevel to every forwarded request", NewJSON(`{}`))
		case "resources/subscribe", "resources/unsubscribe":
			t.Emulate("4.M3", "2026-07-28 has no resources/(un)subscribe: the broker reopens its upstream subscriptions/listen with the new resourceSubscriptions and answers {} once acknowledged")
		case "tasks/get", "tasks/result", "tasks/list", "tasks/cancel":
			t.Emulate("4.M5", "tasks left the 2026-07-28 core: the broker emulates them over the io.modelcontextprotocol/tasks extension, or answers with an error when it does not")
		default:
			lm45AddRequestMeta(t)
		}
	case jsonrpc.KindNotification:
		switch t.Method {
		case "notifications/initialized":
			t.Drop("4.L1", "2026-07-28 has no handshake")
		case "notifications/roots/list_changed":
			t.Drop("4.M4", "2026-07-28 has no roots/list_changed; the broker may use it to invalidate its cached roots")
		case "notifications/progress":
			t.Drop("4.M9", "2026-07-28 servers take no progress notifications: the client's progress belongs to a server->client request the broker emulated")
		case "notifications/tasks/status":
			t.Drop("4.M5", "tasks left the 2026-07-28 core; client-side tasks only exist for requests the broker made")
		case "notifications/cancelled":
			// 4.M8: forwarded with the mapped id (stdio) or turned into an
			// aborted HTTP stream by the broker. 2026-07-28 requires
			// requestId; a legacy cancel without one cannot be expressed
			// (normally already dropped by 4.F8, which runs first).
			if id := t.Params().Get("requestId"); !id.IsString() && !id.IsNumber() {
				t.Drop("4.M8", "notifications/cancelled without requestId (allowed in 2025-11-25) cannot be expressed in 2026-07-28")
				return
			}
			t.Apply("4.M8")
		}
		if !t.Done() {
			lm45StripReserved(t, t.Params().Get("_meta")) // 0.2 rule 5
		}
	case jsonrpc.KindResult, jsonrpc.KindError:
		// 4.J1 / 4.M6: a 2026-07-28 server takes no responses. A legacy
		// client only answers requests the broker sent it (emulated
		// server->client requests, its own pings, task polling).
		switch {
		case t.Method == "ping":
			t.Emulate("4.M1", "answer to a ping the broker sent the legacy client")
		case strings.HasPrefix(t.Method, "tasks/"):
			t.Emulate("4.M5", "answer to a task request the broker sent the legacy client")
		default:
			t.Emulate("4.M6", "client answer to an emulated server->client request: the broker puts it into inputResponses of the MRTR retry")
		}
	}
}

// lm45AddRequestMeta implements 4.L1 (ADD params and the RequestMetaObject)
// with 4.L4 (capabilities reshaped), 4.M2 (logLevel) and 4.M5 (task field
// stripped) on a request forwarded from a legacy client.
func lm45AddRequestMeta(t *Tx) {
	p := t.EnsureParams()
	if t.Method == "tools/call" && p.Has("task") {
		t.Lose("4.M5", "/params/task", "task augmentation stripped: the broker advertises no legacy tasks, so the call runs synchronously")
		p.Delete("task")
	}
	// A legacy client cannot mean the 2026-07-28 MRTR fields (4.M6).
	for _, k := range [...]string{"inputResponses", "requestState"} {
		if p.Has(k) {
			t.Lose("4.M6", "/params/"+k, "MRTR field from a legacy client stripped")
			p.Delete(k)
		}
	}
	meta := p.Get("_meta")
	if !meta.IsObject() {
		meta = NewObject()
		p.Set("_meta", meta)
	}
	// 0.2 rule 5: reserved keys do not cross the boundary; the broker
	// writes its own from the session.
	lm45StripReserved(t, meta)
	ctx := t.Ctx
	if ctx == nil {
		ctx = &Context{}
	}
	meta.Set(lm45ProtocolVersion, NewString(t.To.String()))
	caps := lm45ParseObject(ctx.ClientCapabilities)
	// Only capabilities that mention what 4.L4 removes are decoded; the
	// usual ones are copied as they are.
	if raw := ctx.ClientCapabilities; bytes.Contains(raw, []byte(`"tasks"`)) || bytes.Contains(raw, []byte(`"listChanged"`)) {
		if lm45ClientCaps2026(caps, CapabilityOptions{}) {
			t.Apply("4.L4")
		}
	}
	meta.Set(lm45ClientCaps, caps)
	if info := lm45ParseObject(ctx.ClientInfo); !bytes.Equal(bytes.TrimSpace(info.Raw()), []byte("{}")) {
		meta.Set(lm45ClientInfo, info)
	}
	if lm45LogLevels[ctx.LogLevel] {
		meta.Set(lm45LogLevel, NewString(ctx.LogLevel))
		t.Apply("4.M2")
	}
	t.Apply("4.L1")
}

// ---------------------------------------------------------------------
// s2c Down: a 2026-07-28 server talks to a legacy client (OC→NS).

func lm45DownFromServer(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindNotification:
		switch t.Method {
		case "notifications/subscriptions/acknowledged":
			t.Drop("4.M10", "acknowledges a subscriptions/listen the broker opened; consumed by the broker")
		case "notifications/cancelled":
			// 4.M8: a 2026-07-28 server sends notifications/cancelled only
			// to end a subscriptions/listen stream, and toward a legacy
			// client every listen is the broker's (4.M3).
			t.Emulate("4.M3", "a 2026-07-28 server ends a subscriptions/listen stream the broker opened; the broker reopens it and synthesizes list_changed")
		}
	case jsonrpc.KindResult:
		switch t.Method {
		case "server/discover":
			t.Emulate("4.L2", "DiscoverResult answers the broker's own server/discover (era probe, synthetic InitializeResult)")
			return
		case "subscriptions/listen":
			t.Emulate("4.M3", "SubscriptionsListenResult ends a subscriptions/listen the broker opened")
			return
		}
		r := t.Result()
		rt := r.Get("resultType")
		switch {
		case rt.Str() == "input_required" || (rt == nil && (r.Has("inputRequests") || r.Has("requestState"))):
			t.Emulate("4.M6", "InputRequiredResult: the broker sends the inputRequests to the legacy client as JSON-RPC requests and retries with inputResponses and requestState")
		case rt.Str() == "task" || (rt == nil && t.Method == "tools/call" && r.Has("taskId") && !r.Has("content")):
			t.Emulate("4.M5", "resultType task (tasks extension): the broker returns a legacy CreateTaskResult when it emulates tasks")
		}
	case jsonrpc.KindError:
		// The version and capability errors (-32020..-32022) are mapped to
		// -32603 with a detail by the fields rows (4.E1, 4.L3); the errors
		// that answer the broker's own requests are consumed here.
		switch t.Method {
		case "server/discover":
			t.Emulate("4.L3", "error to the broker's server/discover: era detection (a recognised modern error means modern)")
		case "subscriptions/listen":
			t.Emulate("4.M3", "error to a subscriptions/listen the broker opened")
		}
	}
}

// ---------------------------------------------------------------------
// c2s Down: a 2026-07-28 client talks to a legacy server (NC→OS).

func lm45DownFromClient(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindRequest:
		if !lm45CheckRequestMeta(t) {
			return
		}
		switch t.Method {
		case "server/discover":
			t.Emulate("4.L2", "the broker answers server/discover from the cached legacy InitializeResult (capabilities mapped per 4.L4)")
			return
		case "subscriptions/listen":
			t.Emulate("4.M3", "the broker holds the listen stream, subscribes upstream with reference counting and fans out legacy notifications")
			return
		}
		if p := t.Params(); p.Has("inputResponses") || p.Has("requestState") {
			t.Emulate("4.M6", "MRTR retry: the broker verifies requestState and answers the suspended legacy server->client requests with inputResponses")
			return
		}
		if t.Method == "tools/call" && t.Params().Has("task") {
			// 4.M5: 2026-07-28 has no task field (legacy TaskMetadata).
			t.Lose("4.M5", "/params/task", "task field stripped: 2026-07-28 tasks are server-driven (extension)")
			t.Params().Delete("task")
		}
		lm45StripRequestMeta(t)
	case jsonrpc.KindNotification:
		// Reserved _meta keys of client notifications: 4.F5 (fields rows).
		if t.Method == "notifications/cancelled" {
			t.Apply("4.M8") // forwarded with the mapped id (stdio)
		}
	case jsonrpc.KindResult, jsonrpc.KindError:
		// A 2026-07-28 client sends no responses (4.J1); whatever the
		// broker builds for a legacy server never answers these two.
		switch t.Method {
		case "server/discover":
			t.Emulate("4.L2", "a response for server/discover from the client side: no legacy server asked for it")
		case "subscriptions/listen":
			t.Emulate("4.M3", "a response for subscriptions/listen from the client side: no legacy server asked for it")
		}
	}
}

// lm45CheckRequestMeta validates the RequestMetaObject of a modern request
// as the broker must (4.L1, 4.L3). It reports whether translation goes on.
func lm45CheckRequestMeta(t *Tx) bool {
	meta := t.Params().Get("_meta")
	pv, caps := meta.Get(lm45ProtocolVersion), meta.Get(lm45ClientCaps)
	if !pv.IsString() || !caps.IsObject() {
		t.Reject("4.L1", jsonrpc.CodeInvalidParams, "params._meta must hold io.modelcontextprotocol/protocolVersion and io.modelcontextprotocol/clientCapabilities")
		return false
	}
	if r, err := schemas.ParseRevision(pv.Str()); err != nil || r < t.From {
		t.Reject("4.L3", lm45CodeUnsupportedVersion, "Unsupported protocol version")
		t.outcome.Error.Data = map[string]any{"supported": []string{t.From.String()}, "requested": pv.Str()}
		return false
	}
	return true
}

// lm45StripRequestMeta removes the io.modelcontextprotocol/* keys of
// params._meta (4.L1, 4.M2 for logLevel, 0.2 rule 5), then an emptied
// _meta, then emptied params where the legacy method allows none. Each
// removal is recorded as a loss (the broker keeps the values as session
// state, the message does not).
func lm45StripRequestMeta(t *Tx) {
	p := t.Params()
	meta := p.Get("_meta")
	if !lm45StripReserved(t, meta) || meta.Len() > 0 {
		return
	}
	t.Lose("4.L1", "/params/_meta", "emptied _meta removed")
	p.Delete("_meta")
	if p.Len() == 0 && lm45ParamsOptional(t.Method) {
		t.Lose("4.L1", "/params", "emptied params removed")
		t.Msg.Delete("params")
	}
}

// lm45StripReserved deletes the io.modelcontextprotocol/* keys of a _meta
// object (params._meta of t), recording each as a loss (row 4.M2 for
// logLevel, else 4.L1; 0.2 rule 5). It reports whether it deleted any.
func lm45StripReserved(t *Tx, meta *Node) bool {
	stripped := false
	for _, k := range meta.Keys() {
		if !strings.HasPrefix(k, lm45Reserved) {
			continue
		}
		row := "4.L1"
		if k == lm45LogLevel {
			row = "4.M2"
		}
		t.Lose(row, "/params/_meta/"+lm45Escape(k), "reserved _meta key is per hop, consumed by the broker (0.2 rule 5)")
		meta.Delete(k)
		stripped = true
	}
	return stripped
}

// lm45ParamsOptional reports whether a 2025-11-25 request that a 2026-07-28
// client can send may omit params (the PaginatedRequests).
func lm45ParamsOptional(method string) bool {
	switch method {
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list":
		return true
	}
	return false
}

// ---------------------------------------------------------------------
// s2c Up: a legacy server talks to a 2026-07-28 client (NC→OS).

func lm45UpFromServer(t *Tx) {
	switch t.Kind {
	case jsonrpc.KindRequest:
		switch t.Method {
		case "ping":
			t.Answer("4.M1", "the broker answers the legacy server's ping on the client's behalf", NewJSON(`{}`))
		case "sampling/createMessage", "elicitation/create", "roots/list":
			t.Emulate("4.M6", "server->client request: the broker suspends the call it belongs to and returns InputRequiredResult (roots/list may be answered from the MRTR roots cache, 4.M4)")
		case "tasks/get", "tasks/result", "tasks/list", "tasks/cancel":
			t.Emulate("4.M5", "the legacy server polls a client-side task; a 2026-07-28 client has none, the broker answers")
		default:
			t.Reject("4.M6", jsonrpc.CodeMethodNotFound, "Method not found: a 2026-07-28 client takes no requests")
		}
	case jsonrpc.KindNotification:
		switch t.Method {
		case "notifications/elicitation/complete":
			t.Drop("4.M7", "2026-07-28 has no elicitation/complete; the broker may use it as the signal to resume the retried call")
		case "notifications/tasks/status":
			t.Drop("4.M5", "tasks left the 2026-07-28 core; the broker emulating the tasks extension tracks status itself")
		case "notifications/cancelled":
			t.Emulate("4.M8", "the legacy server cancels one of its own server->client requests, which the broker holds as MRTR input requests (4.M6); a 2026-07-28 server sends notifications/cancelled only to end a listen")
		default:
			// 0.2 rule 5: a legacy server's reserved keys (related-task,
			// ...) do not reach the modern client; the broker adds
			// subscriptionId when it fans out to listen streams (4.M3).
			lm45StripReserved(t, t.Params().Get("_meta"))
		}
	case jsonrpc.KindResult, jsonrpc.KindError:
		switch {
		case t.Method == "initialize":
			t.Emulate("4.L1", "InitializeResult answers the broker's own initialize of a pooled legacy session")
			return
		case t.Method == "ping":
			t.Emulate("4.M1", "answer to the broker's keep-alive ping")
			return
		case t.Method == "logging/setLevel":
			t.Emulate("4.M2", "answer to the broker's logging/setLevel (per-request logLevel emulation)")
			return
		case t.Method == "resources/subscribe" || t.Method == "resources/unsubscribe":
			t.Emulate("4.M3", "answer to the broker's resources/(un)subscribe (subscriptions/listen emulation)")
			return
		case strings.HasPrefix(t.Method, "tasks/"):
			t.Emulate("4.M5", "answer to a legacy task request made by the broker (tasks extension emulation)")
			return
		case t.Method == "sampling/createMessage" || t.Method == "elicitation/create" || t.Method == "roots/list":
			// Only the client answers these; in 2026-07-28 they exist only
			// inside MRTR, never as JSON-RPC requests and responses.
			t.Emulate("4.M6", "a response to a server->client request coming from the server side: only the broker's MRTR emulation can place it")
			return
		}
		if t.IsError() {
			if code, ok := lm45Int(t.Error().Get("code")); ok && code == lm45CodeURLElicitationError {
				t.Emulate("4.M7", "URLElicitationRequiredError (-32042) is retired: on tools/call, prompts/get or resources/read the broker returns InputRequiredResult with url-mode elicitations; elsewhere it answers -32603")
			}
			return
		}
		r := t.Result()
		switch t.Method {
		case "tools/call":
			if r.Get("task").IsObject() && !r.Has("content") {
				t.Emulate("4.M5", "CreateTaskResult: the broker maps it to the tasks extension (resultType task) or blocks until the task ends")
			}
		case "tools/list":
			// 4.M5: Tool.execution left the core; always STRIP.
			for i, tool := range r.Get("tools").Elems() {
				if tool.Has("execution") {
					t.Lose("4.M5", "/result/tools/"+strconv.Itoa(i)+"/execution", "Tool.execution stripped (tasks left the core)")
					tool.Delete("execution")
				}
			}
		}
	}
}

// ---------------------------------------------------------------------
// Capabilities (4.L4), exported for the fields rows and the broker.

// CapabilityOptions says which features the broker emulates when it
// reshapes capabilities between 2025-11-25 and 2026-07-28 (REVISIONS.md
// 4.L4). The zero value emulates nothing.
type CapabilityOptions struct {
	// Tasks: the broker emulates tasks (4.M5), so the legacy `tasks`
	// capability and the io.modelcontextprotocol/tasks extension are
	// advertised to the side that lacks them.
	Tasks bool
	// RootsListChanged: the broker synthesizes
	// notifications/roots/list_changed toward a legacy server (4.M4).
	RootsListChanged bool
}

// ClientCapabilitiesTo2026 returns a copy of legacy (2025-11-25 or older)
// client capabilities reshaped for a 2026-07-28 request's
// _meta["io.modelcontextprotocol/clientCapabilities"] (4.L4): roots.listChanged
// and tasks are dropped; the tasks extension is declared when o.Tasks.
// caps is not modified; a nil or non-object caps gives {}.
func ClientCapabilitiesTo2026(caps *Node, o CapabilityOptions) *Node {
	c := lm45CloneObject(caps)
	lm45ClientCaps2026(c, o)
	return c
}

// ClientCapabilitiesToLegacy returns a copy of 2026-07-28 per-request client
// capabilities reshaped for the initialize of a legacy upstream session
// (4.L4): roots becomes {listChanged:true} when o.RootsListChanged, else
// roots without listChanged; extensions are dropped (a legacy server knows
// none; the broker emulates tasks itself, the legacy client-side tasks
// capability is never declared). caps is not modified.
func ClientCapabilitiesToLegacy(caps *Node, o CapabilityOptions) *Node {
	c := lm45CloneObject(caps)
	if roots := c.Get("roots"); roots.IsObject() {
		if o.RootsListChanged {
			roots.Set("listChanged", NewJSON(`true`))
		} else {
			roots.Delete("listChanged")
		}
	}
	c.Delete("extensions")
	return c
}

// ServerCapabilitiesToLegacy returns a copy of 2026-07-28 server
// capabilities (DiscoverResult.capabilities) reshaped for a synthetic
// legacy InitializeResult (4.L4): extensions are stripped; tasks
// (tools/call, list, cancel) is added when o.Tasks; resources.subscribe is
// kept (the broker emulates subscribe over subscriptions/listen, 4.M3).
// caps is not modified.
func ServerCapabilitiesToLegacy(caps *Node, o CapabilityOptions) *Node {
	c := lm45CloneObject(caps)
	c.Delete("extensions")
	if o.Tasks {
		c.Set("tasks", NewJSON(`{"list":{},"cancel":{},"requests":{"tools":{"call":{}}}}`))
	} else {
		c.Delete("tasks")
	}
	return c
}

// ServerCapabilitiesTo2026 returns a copy of legacy server capabilities
// (InitializeResult.capabilities) reshaped for a synthetic
// DiscoverResult (4.L4): tasks is stripped; the tasks extension is
// declared when o.Tasks. caps is not modified.
func ServerCapabilitiesTo2026(caps *Node, o CapabilityOptions) *Node {
	c := lm45CloneObject(caps)
	c.Delete("tasks")
	if o.Tasks {
		lm45SetExtension(c, TasksExtension)
	}
	return c
}

// lm45ClientCaps2026 reshapes legacy client capabilities in place and
// reports whether anything was dropped.
func lm45ClientCaps2026(c *Node, o CapabilityOptions) bool {
	changed := c.Delete("tasks")
	if roots := c.Get("roots"); roots.IsObject() && roots.Delete("listChanged") {
		changed = true
	}
	if o.Tasks {
		lm45SetExtension(c, TasksExtension)
	}
	return changed
}

func lm45SetExtension(c *Node, name string) {
	ext := c.Get("extensions")
	if !ext.IsObject() {
		ext = NewObject()
		c.Set("extensions", ext)
	}
	if !ext.Has(name) {
		ext.Set(name, NewObject())
	}
}

// lm45CloneObject returns a deep copy of an object node, or {} for
// anything else.
func lm45CloneObject(n *Node) *Node {
	if !n.IsObject() {
		return NewObject()
	}
	return n.Clone()
}

// lm45ParseObject parses raw JSON from a Context into a fresh object node
// ({} when raw is empty, invalid or not an object).
func lm45ParseObject(raw json.RawMessage) *Node {
	if len(raw) == 0 || !json.Valid(raw) {
		return NewObject()
	}
	// Nodes never write into the bytes they wrap, so aliasing the Context
	// is safe; an edit builds new nodes.
	n := Parse(raw)
	if !n.IsObject() {
		return NewObject()
	}
	return n
}

// lm45Int reads an integer node (JSON allows -32042.0 and -3.2042e4).
func lm45Int(n *Node) (int64, bool) {
	if !n.IsNumber() {
		return 0, false
	}
	raw := string(n.Raw())
	if i, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f != float64(int64(f)) {
		return 0, false
	}
	return int64(f), true
}

// lm45Escape escapes a JSON Pointer token (~ and /).
func lm45Escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// ---------------------------------------------------------------------
// Rows.

// rows45 lists the rows of REVISIONS.md section 4.
func rows45() []Row { return append(rows45LM(), rows45Fields()...) }

// rows45LM lists the lifecycle, method, transport, auth and deprecation
// rows of section 4 (4.L*, 4.M*, 4.T*, 4.A1, 4.D1).
func rows45LM() []Row {
	const tr, br = "translators", "broker"
	return []Row{
		{"4.L1", "ANSWER, DROP, ADD / EMULATE, STRIP", tr, "c2s Up: initialize → emulate (broker answers from server/discover), notifications/initialized → drop; every other request gets params._meta protocolVersion, clientCapabilities (4.L4), clientInfo, logLevel from the Context. c2s Down: rejects -32602 without protocolVersion/clientCapabilities, strips io.modelcontextprotocol/* keys (losses) and emptied _meta/params. s2c Up: InitializeResult → emulate (pooled session)", []string{"TestStatelessUpstream", "TestServeLegacyClientsTo2026", "Test4L1MissingRequestMeta", "TestInteropMatrix"}},
		{"4.L2", "EMULATE / ANSWER", tr, "c2s Down server/discover → emulate (answered from the cached InitializeResult); s2c Down DiscoverResult → emulate (answers the broker's own probe)", []string{"TestStatelessUpstream", "TestServeLegacyClientsTo2026", "Test4L2DiscoverFromPooledSession", "TestInteropMatrix"}},
		{"4.L3", "MAP / REJECT", tr, "c2s Down: a protocolVersion the broker does not serve → reject -32022 with data {supported, requested}. s2c Down: errors of the broker's server/discover → emulate (era detection: with relay.Config.UpstreamAuto / serve --upstream-revision auto the broker probes with server/discover; a DiscoverResult listing 2026-07-28, -32020, -32021 or a -32022 listing it mean modern, any other answer or a timeout legacy, which gets initialize; a -32022 without 2026-07-28 falls back to legacy); -32021/-32022 toward a legacy client → -32603 with the detail in the message (done by 4.E1)", []string{"Test4L3AutoDetect", "Test4L3AutoLegacyDial", "Test4L3ServeAutoDetect", "Test4L3UnsupportedProtocolVersion"}},
		{"4.L4", "CAP / CAP", tr, "c2s Up: clientCapabilities from the Context lose roots.listChanged and tasks. Exported ClientCapabilitiesTo2026/ToLegacy and ServerCapabilitiesTo2026/ToLegacy (CapabilityOptions: tasks, roots list_changed emulation) shape initialize/discover for the broker", []string{"Test4M5TaskCapability", "TestBridgeInProcessCapabilityLanes", "Test4D1DeprecatedStillTranslated", "Test4L4UnknownExtension"}},
		{"4.M1", "ANSWER / ANSWER", tr, "ping from either side (Up) → answer {}; the answer to a broker keep-alive ping → emulate", []string{"TestStatelessUpstream", "TestServeLegacyClientsTo2026", "Test4M6ServerWithdrawsRequest"}},
		{"4.M2", "ANSWER, ADD / EMULATE", tr, "c2s Up: logging/setLevel → answer {} (broker stores the level), Context.LogLevel added as _meta logLevel; c2s Down: logLevel stripped (loss, the broker calls logging/setLevel upstream); s2c Up answers to setLevel → emulate", []string{"TestStatelessUpstream", "TestServeLegacyClientsTo2026", "Test4M2LogLevel", "Test4M2MinimumLevelInFlight"}},
		{"4.M3", "EMULATE / ANSWER", tr, "c2s Up resources/subscribe|unsubscribe → emulate; c2s Down subscriptions/listen → emulate; s2c Down SubscriptionsListenResult, its errors and notifications/cancelled (listen teardown) → emulate; s2c Up answers to (un)subscribe → emulate. list_changed/updated pass (subscriptionId handled by 4.F5 and the broker's fan-out)", []string{"TestStatelessUpstream", "TestServeLegacyClientsTo2026", "Test4M3Listen", "Test4M3ListenUnsupported", "TestInteropMatrix"}},
		{"4.M4", "DROP / ANSWER", tr, "c2s Up notifications/roots/list_changed → drop; the legacy server's roots/list → emulate (4.M6, roots cache)", nil},
		{"4.M5", "CAP, EMULATE / EMULATE, STRIP", tr + " + " + br, "c2s Up tasks/* → emulate, tools/call task field stripped (loss), notifications/tasks/status → drop, answers to broker task requests → emulate; s2c Up CreateTaskResult and tasks/* → emulate, notifications/tasks/status → drop, Tool.execution stripped (loss); s2c Down resultType task → emulate. OC→NS for a 2025-11-25 client (broker/relay tasks.go): the broker is the task receiver (it does not use the io.modelcontextprotocol/tasks extension): tasks capability and taskSupport optional advertised, CreateTaskResult at once, the call run upstream in the background with MRTR rounds as task-related server requests, tasks/get, tasks/result, tasks/list, tasks/cancel answered locally, status notifications, per-session limit and ttl expiry. NC→OS: the task field is stripped, the legacy server answers synchronously", []string{"Test4M5TaskCapability", "Test4M5TaskAugmentedCall", "Test4M5TaskOutcomes", "Test4M5TaskInputRequired", "Test4M5TaskCancel", "Test4M5UnknownTask", "Test4M5TaskList", "Test4M5TaskLimit", "Test4M5TaskExpiry", "Test4M5ClientIDLikeTaskCall", "Test4M5LegacyServerNeverSeesTask", "Test4M5TasksTo2026", "Test4M5TasksTo2026InProcess"}},
		{"4.M6", "EMULATE / EMULATE", tr, "c2s Up client responses → emulate (inputResponses); s2c Up sampling/createMessage, elicitation/create, roots/list → emulate (InputRequiredResult), other server requests → reject -32601; s2c Down InputRequiredResult → emulate; c2s Down requests with inputResponses/requestState → emulate", []string{"TestStatelessUpstream", "TestServeLegacyClientsTo2026", "Test4M6InputRounds", "Test4M6GatherAndSecondRound", "Test4M6ServerFinishesWhileSuspended", "Test4M6UndeclaredCapability", "Test4M6NotAttributable", "Test4M6BadRequestState", "Test4M6ClientNeverRetries", "TestInteropMatrix"}},
		{"4.M7", "ADD / MAP, DROP", tr, "s2c Up notifications/elicitation/complete → drop, error -32042 → emulate (InputRequiredResult with url-mode elicitations); the elicitationId minting of OC→NS is part of the 4.M6 emulation", []string{"Test4M7URLElicitation", "TestInteropMatrix"}},
		{"4.M8", "PASS / SYNTH, PASS", tr, "c2s Up and c2s Down notifications/cancelled pass (reserved _meta keys stripped, 4.F5 Down); c2s Up without requestId → drop (4.F8); s2c Up (a legacy server cancelling its own request) → emulate; s2c Down (listen teardown) → emulate 4.M3; stream-close semantics are the broker's: a closed 2026-07-28 stream cancels upstream, a legacy client's broken stream does not (it resumes)", []string{"Test4M8ClientCancel", "Test4M8CancelWhileGathering", "Test4M8CancelDuringDispatch", "Test4M8CancelRetry", "Test4M8ListenCancelledDuringSubscribe", "Test4M8LegacyDisconnectIsNotACancel", "Test4M6ServerWithdrawsRequest", "TestInteropMatrix"}},
		{"4.M9", "DROP / PASS", tr, "c2s Up client notifications/progress → drop; server progress passes (routing by progressToken and buffering for suspended MRTR calls are the broker's)", []string{"Test4M9ProgressOfSuspendedCall", "Test4M9ProgressTokensDoNotCollide"}},
		{"4.M10", "DROP / SYNTH", tr, "s2c Down notifications/subscriptions/acknowledged → drop (consumed by the broker); SYNTH toward modern clients is part of the 4.M3 emulation", []string{"TestStatelessUpstream", "TestServeLegacyClientsTo2026", "Test4M3Listen"}},
		{"4.T1", "EMULATE / EMULATE", br, "session ids and per-session state (version, capabilities, clientInfo, log level, subscriptions, MRTR loops) live in the broker; no message rewrite", []string{"TestStatelessUpstream", "Test4F7PoolKeying", "TestInteropMatrix"}},
		{"4.T2", "ANSWER / EMULATE, ANSWER", br, "legacy GET stream fed by upstream listens; modern GET → 405; transport only", []string{"Test4T2GetIs405"}},
		{"4.T3", "ANSWER / SYNTH", br, "DELETE answered locally; pool eviction may DELETE upstream; transport only", []string{"Test4T3DeleteIs405"}},
		{"4.T4", "EMULATE / STRIP, EMULATE", br, "SSE event ids, buffering and Last-Event-ID replay for legacy clients; no id/retry toward modern clients; transport only", []string{"Test4T4NoEventIDs", "Test4M8LegacyDisconnectIsNotACancel"}},
		{"4.T5", "ADD / STRIP", br, "Mcp-Method, Mcp-Name and MCP-Protocol-Version derived from the body by the 2026 HTTP client; Mcp-Param-* from the relay's per-session cache of x-mcp-header annotations (filled from every upstream tools/list, and by the broker's own tools/list before a call of an unknown tool), resent once after -32020; tools with invalid annotations left out of the legacy client's tools/list; the 2026 HTTP server checks them (CheckParamHeaders). No message rewrite", []string{"Test4T5ToolHeaderCache", "Test4T5FetchCoalesced", "Test4T5UnknownToolFetch", "Test4T5ListRefresh", "Test4T5HeaderMismatch", "Test4T5DemoParamHeaders", "Test4T5ParamHeadersThroughBroker", "Test4T5MetaVersionMismatch"}},
		{"4.T6", "MAP / MAP", br, "HTTP 400/404 statuses never relayed across eras; JSON-RPC error bodies instead; transport only", []string{"Test4T6NoLegacy404"}},
		{"4.T7", "ADD / ADD", br, "X-Accel-Buffering: no and SSE keep-alive comments; transport only", []string{"Test4T7KeepAlive"}},
		{"4.T8", "EMULATE / EMULATE", br, "stdio probing with server/discover (relay UpstreamAuto: a legacy server is then initialized on the same process), restart handling (reopen listens, re-initialize, synth list_changed); transport only", []string{"Test4L3AutoDetect", "Test4L3ServeAutoDetect", "Test4T8Stdio", "Test4T8StdioEOF", "Test4T8UpstreamDies", "TestUpstreamCrash", "TestUpstreamSessionExpired"}},
		{"4.A1", "EMULATE / PASS", br, "the broker as OAuth client of a protected HTTP upstream (serve --upstream-oauth on, broker/oauth, client_credentials): PRM and AS discovery with exact issuer check, DCR with application_type, credentials keyed by issuer (re-registration when the PRM names another AS), resource indicator, iss checked where the token endpoint returns it (no authorization response in this grant); no message change", []string{"Test4A1UpstreamOAuth", "Test4A1UpstreamOAuthPreRegistered", "Test4A1UpstreamOAuthRefused", "Test4A1UpstreamOAuthSwitchAS", "Test4A1OAuthConfig", "TestTransport", "TestTransportNoReplay", "TestParseWWWAuthenticate", "TestMetadataURLs"}},
		{"4.D1", "PASS / PASS", br, "roots, sampling, logging, includeContext this/allServers, HTTP+SSE and DCR are deprecated but still translated; a future removal needs ANSWER/REJECT rows", []string{"Test4D1DeprecatedStillTranslated", "TestInteropMatrix"}},
	}
}
