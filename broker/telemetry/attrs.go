package telemetry

import (
	"strconv"

	"go.opentelemetry.io/otel/attribute"
)

// Attribute keys of the OpenTelemetry semantic conventions for MCP
// (docs/gen-ai/mcp.md) that the broker sets.
const (
	AttrMCPMethodName          = attribute.Key("mcp.method.name")
	AttrMCPSessionID           = attribute.Key("mcp.session.id")
	AttrMCPProtocolVersion     = attribute.Key("mcp.protocol.version")
	AttrMCPResourceURI         = attribute.Key("mcp.resource.uri")
	AttrJSONRPCRequestID       = attribute.Key("jsonrpc.request.id")
	AttrJSONRPCProtocolVersion = attribute.Key("jsonrpc.protocol.version")
	AttrGenAIToolName          = attribute.Key("gen_ai.tool.name")
	AttrGenAIPromptName        = attribute.Key("gen_ai.prompt.name")
	AttrGenAIOperationName     = attribute.Key("gen_ai.operation.name")
	AttrNetworkTransport       = attribute.Key("network.transport")
	AttrNetworkProtocolName    = attribute.Key("network.protocol.name")
	AttrNetworkProtocolVersion = attribute.Key("network.protocol.version")
	AttrServerAddress          = attribute.Key("server.address")
	AttrServerPort             = attribute.Key("server.port")
	AttrClientAddress          = attribute.Key("client.address")
	AttrClientPort             = attribute.Key("client.port")
	AttrErrorType              = attribute.Key("error.type")
	AttrRPCResponseStatusCode  = attribute.Key("rpc.response.status_code")
)

// mcpbroker's own attribute keys, on INTERNAL spans, span events and
// metrics.
const (
	// AttrTranslationFrom and AttrTranslationTo are the revisions of a
	// translation hop.
	AttrTranslationFrom = attribute.Key("mcpbroker.translation.from")
	AttrTranslationTo   = attribute.Key("mcpbroker.translation.to")
	// AttrTranslationPair is "from->to", the metrics' form of the two.
	AttrTranslationPair = attribute.Key("mcpbroker.translation.pair")
	// AttrTranslationOutcome is forward, answer, emulate, reject, drop or
	// error.
	AttrTranslationOutcome = attribute.Key("mcpbroker.translation.outcome")
	// AttrTranslationRows lists the translation-matrix row IDs applied
	// (REVISIONS.md), for example ["1.F1", "2.M3"].
	AttrTranslationRows = attribute.Key("mcpbroker.translation.rows")
	// AttrTranslationLossy lists the lossy conversions as "row path".
	AttrTranslationLossy = attribute.Key("mcpbroker.translation.lossy")
	// AttrRevision is the revision a message was validated against.
	AttrRevision = attribute.Key("mcpbroker.revision")
	// AttrSide is "client" or "server": the peer a message came from or a
	// session belongs to.
	AttrSide = attribute.Key("mcpbroker.side")
	// AttrEmulation names a broker emulation: mrtr_round,
	// synthetic_answer, pool_hit, ...
	AttrEmulation = attribute.Key("mcpbroker.emulation")
	// AttrUpstream names an upstream (a label chosen by the broker's
	// configuration, not a URL with credentials).
	AttrUpstream = attribute.Key("mcpbroker.upstream")
	// AttrErrorKind classifies an upstream error: transport, timeout,
	// protocol, exited, ...
	AttrErrorKind = attribute.Key("mcpbroker.error.kind")
	// AttrCacheMethod is the method of a cache lookup.
	AttrCacheMethod = attribute.Key("mcpbroker.cache.method")
	// AttrOrigin is set to [OriginBroker] on the CLIENT spans of messages
	// the broker sends on its own account (its initialize, server/discover,
	// replays after a restart, subscriptions/listen, tools/list refreshes,
	// cancellations), not forwarded from a peer.
	AttrOrigin = attribute.Key("mcpbroker.origin")
)

// OriginBroker is the [AttrOrigin] of a message the broker originates.
const OriginBroker = "broker"

// OperationExecuteTool is the gen_ai.operation.name of tools/call, the
// only method the convention gives one.
const OperationExecuteTool = "execute_tool"

// ErrorTypeTool is the error.type of a tools/call whose result has
// isError: true.
const ErrorTypeTool = "tool_error"

// Transport is the network.transport of a hop.
type Transport uint8

// Transports.
const (
	// TransportUnknown sets no network.transport.
	TransportUnknown Transport = iota
	// TransportPipe is stdio.
	TransportPipe
	// TransportTCP is HTTP (Streamable HTTP and HTTP+SSE).
	TransportTCP
)

// String returns the network.transport value: "pipe", "tcp" or "".
func (t Transport) String() string {
	switch t {
	case TransportPipe:
		return "pipe"
	case TransportTCP:
		return "tcp"
	}
	return ""
}

// Values of mcpbroker.emulation on mcpbroker.emulate spans
// ([Provider.StartEmulation]): work the broker does in a peer's place.
const (
	// EmulationSyntheticAnswer: the broker answers a request itself (an
	// ANSWER row of REVISIONS.md, e.g. ping or logging/setLevel toward a
	// 2026-07-28 server, elicitation declined for a 2025-03-26 client).
	EmulationSyntheticAnswer = "synthetic_answer"
	// EmulationMRTRRound: one multi round-trip request round (4.M6), in
	// either direction: an InputRequiredResult turned into server-to-client
	// requests, or server-to-client requests turned into one.
	EmulationMRTRRound = "mrtr_round"
	// EmulationCacheHit: a result served from the broker's response
	// cache instead of the upstream.
	EmulationCacheHit = "cache_hit"
	// EmulationTask: a tasks request of a 2025-11-25 client the broker
	// runs itself (4.M5).
	EmulationTask = "task"
	// EmulationSubscription: resources/subscribe or unsubscribe emulated
	// over subscriptions/listen (4.M3).
	EmulationSubscription = "subscription"
	// EmulationPoolHit: a 2026-07-28 request served by an existing pooled
	// legacy session (a bridge lane).
	EmulationPoolHit = "pool_hit"
	// EmulationPoolOpen: a 2026-07-28 request that had to open (or wait
	// for) a pooled legacy session: initialize and its handshake.
	EmulationPoolOpen = "pool_open"
)

// Side is the side of the broker a message or session belongs to.
type Side uint8

// Sides.
const (
	// ClientSide faces an MCP client; the broker is its MCP server.
	// Its sessions are measured by mcp.server.session.duration.
	ClientSide Side = iota + 1
	// ServerSide faces an upstream MCP server; the broker is its MCP
	// client. Its sessions are measured by mcp.client.session.duration.
	ServerSide
)

// String returns "client", "server" or "".
func (s Side) String() string {
	switch s {
	case ClientSide:
		return "client"
	case ServerSide:
		return "server"
	}
	return ""
}

// Target is what an MCP request names, read from its params.
type Target struct {
	// Tool is params.name of tools/call.
	Tool string
	// Prompt is params.name of prompts/get.
	Prompt string
	// ResourceURI is params.uri of resources/read, resources/subscribe,
	// resources/unsubscribe and notifications/resources/updated.
	ResourceURI string
}

// Name returns the span name target: the tool or prompt name, or "".
// The resource URI is never a target (the convention keeps it out of span
// names by default, for cardinality).
func (t Target) Name() string {
	if t.Tool != "" {
		return t.Tool
	}
	return t.Prompt
}

// ParseTarget reads the target of method from its raw params with minimal
// decoding: one pass over the top-level members, the value of one member
// decoded. Methods with no target, and params that are not an object,
// give the zero Target.
func ParseTarget(method string, params []byte) Target {
	t, _ := scanParams(method, params, false)
	return t
}

// targetKey returns the params member naming the target of method, or
// "" when method has none.
func targetKey(method string) string {
	switch method {
	case "tools/call", "prompts/get":
		return "name"
	case "resources/read", "resources/subscribe", "resources/unsubscribe", "notifications/resources/updated":
		return "uri"
	}
	return ""
}

// scanParams reads the target of method and, when meta is set, the W3C
// keys of _meta (see [ReadMeta]) in one pass over the top-level members
// of params.
func scanParams(method string, params []byte, meta bool) (Target, MetaCarrier) {
	var (
		t    Target
		c    MetaCarrier
		tk   = targetKey(method)
		tm   member
		mm   member
		hasT bool
		hasM bool
	)
	if tk == "" && !meta {
		return t, c
	}
	it, ok := newObjIter(params, skipWS(params, 0))
	if !ok {
		return t, c
	}
	for {
		m, more := it.next()
		if !more {
			break
		}
		switch {
		case tk != "" && m.keyIs(params, tk):
			tm, hasT = m, true
		case meta && m.keyIs(params, "_meta"):
			mm, hasM = m, true
		}
	}
	if hasT && params[tm.valStart] == '"' {
		v, _ := unquote(params[tm.valStart:tm.valEnd])
		switch tk {
		case "uri":
			t.ResourceURI = v
		case "name":
			if method == "tools/call" {
				t.Tool = v
			} else {
				t.Prompt = v
			}
		}
	}
	if hasM {
		c = readMetaObject(params, mm.valStart)
	}
	return t, c
}

// SpanName returns the convention's span name: "{method} {target}", or
// the method alone when target is "".
func SpanName(method, target string) string {
	if target == "" {
		return method
	}
	return method + " " + target
}

// OperationName returns the gen_ai.operation.name of method:
// [OperationExecuteTool] for tools/call, else "" (not set).
func OperationName(method string) string {
	if method == "tools/call" {
		return OperationExecuteTool
	}
	return ""
}

// Op describes one MCP message for its span and metrics. Method is
// required; the rest is set where known. Params are read lazily and only
// when the span is recorded or a meter is configured, and must stay
// unmodified until the [Call] started with the Op has ended.
type Op struct {
	// Method is the JSON-RPC method (mcp.method.name).
	Method string
	// ID is the raw JSON-RPC id; nil for a notification.
	ID []byte
	// Params are the raw params as on the wire of this hop.
	Params []byte
	// SessionID is the MCP session id of this hop (mcp.session.id): the
	// Mcp-Session-Id of HTTP, or the broker's own id for stdio.
	SessionID string
	// Revision is the MCP revision of this hop (mcp.protocol.version).
	Revision string
	// Transport is the hop's transport.
	Transport Transport
	// ProtocolName and ProtocolVersion are network.protocol.name and
	// .version, for example "http" and "1.1"; empty for stdio.
	ProtocolName    string
	ProtocolVersion string
	// ServerAddress and ServerPort name the upstream server (CLIENT spans).
	ServerAddress string
	ServerPort    int
	// ClientAddress and ClientPort name the client (SERVER spans).
	ClientAddress string
	ClientPort    int

	target    Target
	hasTarget bool
}

// Target returns the message's target, parsing Params the first time.
func (o *Op) Target() Target {
	if !o.hasTarget {
		o.target, o.hasTarget = ParseTarget(o.Method, o.Params), true
	}
	return o.target
}

// SpanName returns the span name of the message.
func (o *Op) SpanName() string {
	return SpanName(o.Method, o.Target().Name())
}

// AppendSpanAttributes appends the message's span attributes to dst: the
// metric attributes plus jsonrpc.request.id, mcp.session.id,
// mcp.resource.uri and the client address.
func (o *Op) AppendSpanAttributes(dst []attribute.KeyValue) []attribute.KeyValue {
	dst = o.AppendMetricAttributes(dst)
	if id := idString(o.ID); id != "" {
		dst = append(dst, AttrJSONRPCRequestID.String(id))
	}
	if o.SessionID != "" {
		dst = append(dst, AttrMCPSessionID.String(o.SessionID))
	}
	if t := o.Target(); t.ResourceURI != "" {
		dst = append(dst, AttrMCPResourceURI.String(t.ResourceURI))
	}
	if o.ClientAddress != "" {
		dst = append(dst, AttrClientAddress.String(o.ClientAddress))
		if o.ClientPort > 0 {
			dst = append(dst, AttrClientPort.Int(o.ClientPort))
		}
	}
	return dst
}

// AppendMetricAttributes appends the attributes the convention puts on
// the operation duration metrics (no ids, no resource URI, no client
// address: they would make every series unique).
func (o *Op) AppendMetricAttributes(dst []attribute.KeyValue) []attribute.KeyValue {
	dst = append(dst, AttrMCPMethodName.String(o.Method))
	t := o.Target()
	if t.Tool != "" {
		dst = append(dst, AttrGenAIToolName.String(t.Tool))
	}
	if t.Prompt != "" {
		dst = append(dst, AttrGenAIPromptName.String(t.Prompt))
	}
	if op := OperationName(o.Method); op != "" {
		dst = append(dst, AttrGenAIOperationName.String(op))
	}
	if o.Revision != "" {
		dst = append(dst, AttrMCPProtocolVersion.String(o.Revision))
	}
	if tr := o.Transport.String(); tr != "" {
		dst = append(dst, AttrNetworkTransport.String(tr))
	}
	if o.ProtocolName != "" {
		dst = append(dst, AttrNetworkProtocolName.String(o.ProtocolName))
	}
	if o.ProtocolVersion != "" {
		dst = append(dst, AttrNetworkProtocolVersion.String(o.ProtocolVersion))
	}
	if o.ServerAddress != "" {
		dst = append(dst, AttrServerAddress.String(o.ServerAddress))
		if o.ServerPort > 0 {
			dst = append(dst, AttrServerPort.Int(o.ServerPort))
		}
	}
	return dst
}

// Result is how an operation ended. The zero Result is success.
type Result struct {
	// ErrorType is error.type: the JSON-RPC error code as a string,
	// [ErrorTypeTool], or a failure class without a response (timeout,
	// cancelled, ...). "" for success.
	ErrorType string
	// StatusCode is rpc.response.status_code: the JSON-RPC error code as a
	// string when the response was an error, else "".
	StatusCode string
	// Message is the span status description: the JSON-RPC error message
	// or a short description of the failure.
	Message string
}

// Failed reports whether r is a failure.
func (r Result) Failed() bool { return r.ErrorType != "" }

// RPCError is the Result of a JSON-RPC error response.
func RPCError(code int, message string) Result {
	c := strconv.Itoa(code)
	return Result{ErrorType: c, StatusCode: c, Message: message}
}

// ToolError is the Result of a tools/call whose result has isError: true.
func ToolError(message string) Result {
	return Result{ErrorType: ErrorTypeTool, Message: message}
}

// Failure is the Result of an operation that ended without a response,
// errorType being a low-cardinality class such as "timeout", "cancelled"
// or "transport" ("_OTHER" when none fits).
func Failure(errorType, message string) Result {
	if errorType == "" {
		errorType = "_OTHER"
	}
	return Result{ErrorType: errorType, Message: message}
}

// ResultOf reads the Result of a response to method from its raw result
// or raw error object (one of them nil, as in jsonrpc.Message): the code
// and message of an error, or isError of a tools/call result. Only the
// members needed are decoded.
func ResultOf(method string, result, errObj []byte) Result {
	if errObj != nil {
		start := skipWS(errObj, 0)
		code, found, _, _ := findMember(errObj, start, "code")
		n, ok := 0, false
		if found {
			n, ok = intValue(errObj[code.valStart:code.valEnd])
		}
		msg := stringMember(errObj, start, "message")
		if !ok {
			return Failure("", msg)
		}
		return RPCError(n, msg)
	}
	if method == "tools/call" {
		m, found, _, _ := findMember(result, skipWS(result, 0), "isError")
		if found && string(result[m.valStart:m.valEnd]) == "true" {
			return ToolError("")
		}
	}
	return Result{}
}
