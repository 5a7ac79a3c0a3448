package demo

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// listenDrainTimeout bounds how long a stopping 2026-07-28 server waits
// for its open subscriptions/listen requests to send their final result.
const listenDrainTimeout = 2 * time.Second

// stateless is what the 2026-07-28 requests served together share: the
// signal that the server is stopping (open listens then end with a
// SubscriptionsListenResult) and the count of listens still running.
type stateless struct {
	srv     *Server
	ending  <-chan struct{}
	listens *counter
}

// serveStateless is Serve for 2026-07-28.
func (s *Server) serveStateless(ctx context.Context, conn transport.Conn) error {
	ending := make(chan struct{})
	st := &stateless{srv: s, ending: ending, listens: newCounter()}
	// The requests outlive ctx a little: the listens answer first.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	runDone := make(chan struct{})
	defer close(runDone)
	go func() {
		select {
		case <-ctx.Done():
			close(ending)
			st.drain()
			stop()
		case <-runDone:
		}
	}()
	peer := st.newPeer(conn, nil, nil)
	s.log.Info("demo connection started", "revision", s.rev.String())
	err := peer.Run(runCtx)
	s.log.Info("demo connection ended", "err", err)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// drain waits (bounded) until no listen is running.
func (st *stateless) drain() {
	t := time.NewTimer(listenDrainTimeout)
	defer t.Stop()
	select {
	case <-st.listens.zero():
	case <-t.C:
		st.srv.log.Warn("demo: listens did not end in time")
	}
}

// newPeer returns the session.Peer that answers the 2026-07-28 requests
// conn carries. checked lists the Mcp-Param-* headers checked on the POST
// conn answers (not nil over HTTP, 4.T5). onDone, if set, is called after
// the server's own hooks when a request has ended.
func (st *stateless) newPeer(conn transport.Conn, checked []string, onDone func(*session.Request, session.Outcome)) *session.Peer {
	s := st.srv
	ss := &serverSession{srv: s, st: st, checked: checked}
	cfg := session.Config{
		Revision:  s.rev,
		Side:      schemas.FromServer,
		Strict:    s.strict,
		Validator: s.validator,
		Logger:    s.log,
		Handler:   s.traced(ss.handleStateless, conn),
		IDPrefix:  "demo-",
		Admit:     s.admitVersion,
	}
	cfg.OnDone = func(req *session.Request, o session.Outcome) {
		if req.Method == "subscriptions/listen" {
			st.listens.done()
		}
		if s.hook != nil {
			s.hook(RequestInfo{ID: req.ID, Method: req.Method, Responded: o.Responded, Cancelled: o.Cancelled, Err: o.Err})
		}
		if onDone != nil {
			onDone(req, o)
		}
	}
	ss.peer = session.New(conn, cfg)
	return ss.peer
}

// SupportedVersions returns the protocol versions a server of revision
// rev accepts in _meta (2026-07-28) and lists in server/discover.
func SupportedVersions(rev schemas.Revision) []string { return []string{rev.String()} }

// unsupportedVersion is the UnsupportedProtocolVersionError (4.L3).
func unsupportedVersion(rev schemas.Revision, requested string) *jsonrpc.Error {
	return &jsonrpc.Error{
		Code:    fixture.CodeUnsupportedProtocolVersion,
		Message: "Unsupported protocol version: " + requested,
		Data:    map[string]any{"supported": SupportedVersions(rev), "requested": requested},
	}
}

// requestedVersion returns the _meta protocolVersion of a request's
// params, and false when there is none or it is not a string.
func requestedVersion(params json.RawMessage) (string, bool) {
	var p struct {
		Meta struct {
			Version *string `json:"io.modelcontextprotocol/protocolVersion"`
		} `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil || p.Meta.Version == nil {
		return "", false
	}
	return *p.Meta.Version, true
}

// admitVersion answers -32022 to a request whose _meta names a protocol
// version the server does not speak, before the request is judged by the
// server's schema. A request without one is left to validation (-32602).
func (s *Server) admitVersion(_ context.Context, req *session.Request) error {
	v, ok := requestedVersion(req.Params)
	if ok && v != s.rev.String() {
		return unsupportedVersion(s.rev, v)
	}
	return nil
}

// requestMeta is the reserved _meta of a 2026-07-28 request.
type requestMeta struct {
	ProtocolVersion    *string                    `json:"io.modelcontextprotocol/protocolVersion"`
	ClientCapabilities map[string]json.RawMessage `json:"io.modelcontextprotocol/clientCapabilities"`
	LogLevel           string                     `json:"io.modelcontextprotocol/logLevel"`
}

// metaKey is the context key of a request's *requestMeta.
type metaKey struct{}

// metaOf returns the _meta of the request a handler context serves.
func metaOf(ctx context.Context) *requestMeta {
	m, _ := ctx.Value(metaKey{}).(*requestMeta)
	if m == nil {
		return &requestMeta{}
	}
	return m
}

// has reports whether the request declared a client capability.
func (m *requestMeta) has(name string) bool {
	_, ok := m.ClientCapabilities[name]
	return ok
}

// parseRequestMeta decodes and checks the _meta every 2026-07-28 request
// must carry (REVISIONS.md 4.L1). In strict mode validation has checked
// it already; this catches the rest.
func parseRequestMeta(params json.RawMessage) (*requestMeta, error) {
	var p struct {
		Meta *requestMeta `json:"_meta"`
	}
	if len(params) == 0 {
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: params with _meta are required")
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: %v", err)
	}
	switch {
	case p.Meta == nil:
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: _meta is required")
	case p.Meta.ProtocolVersion == nil:
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: _meta %s is required", fixture.MetaProtocolVersion)
	case p.Meta.ClientCapabilities == nil:
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: _meta %s is required", fixture.MetaClientCapabilities)
	}
	if p.Meta.LogLevel != "" {
		if _, ok := levelRank(p.Meta.LogLevel); !ok {
			return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: unknown log level %q", p.Meta.LogLevel)
		}
	}
	return p.Meta, nil
}

// missingCapability is the MissingRequiredClientCapabilityError (4.L3)
// of a request that needs the client capabilities caps.
func missingCapability(caps map[string]any) *jsonrpc.Error {
	var names []string
	for k := range caps {
		names = append(names, k)
	}
	slices.Sort(names)
	return &jsonrpc.Error{
		Code:    fixture.CodeMissingRequiredClientCapability,
		Message: "Missing required client capability: " + strings.Join(names, ", "),
		Data:    map[string]any{"requiredCapabilities": caps},
	}
}

// handleStateless answers one 2026-07-28 request.
func (ss *serverSession) handleStateless(ctx context.Context, req *session.Request) (any, error) {
	ss.srv.counts.add(req.Method)
	if req.Method == "subscriptions/listen" {
		ss.st.listens.add() // OnDone counts it out
	}
	if v, ok := requestedVersion(req.Params); ok && v != ss.srv.rev.String() {
		return nil, unsupportedVersion(ss.srv.rev, v) // not strict: no Admit ran
	}
	meta, err := parseRequestMeta(req.Params)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, metaKey{}, meta)
	if req.Method == "subscriptions/listen" {
		// The final result carries its own _meta.
		return ss.listen(ctx, req)
	}
	res, err := ss.dispatchStateless(ctx, req)
	if err != nil {
		return nil, err
	}
	return ss.finish(res), nil
}

// noMRTR rejects inputResponses and requestState on a request the demo
// never answers with an InputRequiredResult.
func noMRTR(params json.RawMessage) error {
	var p struct {
		InputResponses json.RawMessage `json:"inputResponses"`
		RequestState   *string         `json:"requestState"`
	}
	if json.Unmarshal(params, &p) == nil && (p.InputResponses != nil || p.RequestState != nil) {
		return errorf(jsonrpc.CodeInvalidParams, "Invalid params: this request takes no inputResponses or requestState (the server asked for no input)")
	}
	return nil
}

func (ss *serverSession) dispatchStateless(ctx context.Context, req *session.Request) (map[string]any, error) {
	switch req.Method {
	case "server/discover":
		return ss.cacheable(map[string]any{
			"supportedVersions": SupportedVersions(ss.srv.rev),
			"capabilities":      ss.capabilities(),
			"instructions":      ss.instructions(),
		}, ss.srv.cacheTTL), nil
	case "tools/list":
		return ss.cacheable(map[string]any{"tools": ss.toolList()}, ss.srv.cacheTTL), nil
	case "tools/call":
		res, err := ss.callTool(ctx, req)
		if err != nil {
			return nil, err
		}
		return res.(map[string]any), nil
	case "resources/list":
		return ss.cacheable(map[string]any{"resources": ss.resourceList()}, ss.srv.cacheTTL), nil
	case "resources/templates/list":
		return ss.cacheable(map[string]any{"resourceTemplates": ss.templateList()}, ss.srv.cacheTTL), nil
	case "resources/read":
		if err := noMRTR(req.Params); err != nil {
			return nil, err
		}
		res, err := ss.readResource(req.Params)
		if err != nil {
			return nil, err
		}
		return ss.cacheable(res, 0), nil
	case "prompts/list":
		return ss.cacheable(map[string]any{"prompts": ss.promptList()}, ss.srv.cacheTTL), nil
	case "prompts/get":
		if err := noMRTR(req.Params); err != nil {
			return nil, err
		}
		return ss.getPrompt(req.Params)
	case "completion/complete":
		return ss.complete(req.Params)
	}
	return nil, errorf(jsonrpc.CodeMethodNotFound, "Method not found: %s", req.Method)
}

// cacheable adds the caching hints (REVISIONS.md 4.F2) to a result.
func (ss *serverSession) cacheable(res map[string]any, ttl time.Duration) map[string]any {
	res["ttlMs"] = ttl.Milliseconds()
	res["cacheScope"] = ss.srv.cacheScope
	return res
}

// finish adds what every 2026-07-28 result carries: resultType (complete
// unless set) and _meta serverInfo (REVISIONS.md 4.F1, 4.L1).
func (ss *serverSession) finish(res map[string]any) map[string]any {
	if _, ok := res["resultType"]; !ok {
		res["resultType"] = fixture.ResultComplete
	}
	meta, _ := res["_meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta[fixture.MetaServerInfo] = ss.serverInfo()
	res["_meta"] = meta
	return res
}

// counter counts running requests and tells when none is left.
type counter struct {
	mu    sync.Mutex
	n     int
	empty chan struct{} // closed while n == 0
}

func newCounter() *counter {
	c := &counter{empty: make(chan struct{})}
	close(c.empty)
	return c
}

func (c *counter) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.empty = make(chan struct{})
	}
	c.n++
}

func (c *counter) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 {
		close(c.empty)
	}
}

// zero returns a channel that is closed when no request is running.
func (c *counter) zero() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.empty
}
