// Package demo is a demo MCP server that speaks exactly one protocol
// revision, for testing the broker: a client of one revision and a demo
// server of another, with the broker between them, must work as if they
// spoke the same one.
//
// The server offers, using only what its revision has: the tools echo,
// add, sample, elicit (2025-06-18 on), progress, slow, content, roots,
// touch, ping_client (up to 2025-11-25) and route (2026-07-28 on: its
// arguments travel in Mcp-Param-* headers over HTTP); the resources
// demo://static/readme and demo://static/logo and the template
// demo://items/{id}, with subscriptions; the prompt greet; completion of
// the prompt argument and the template variable; logging (a request the
// client cancels is logged to it at level info, up to 2025-11-25). In
// strict mode (the default) it validates every message it receives
// against its revision, and every message it sends.
//
// WithProfile(ProfileConformance) replaces those fixtures, in the
// revisions up to 2025-11-25, with the ones the official conformance
// suite (@modelcontextprotocol/conformance) expects of a server
// (conformance_profile.go).
//
// # 2026-07-28
//
// The 2026-07-28 server is stateless (REVISIONS.md section 4): there is no
// initialize and no session, and every request must carry the client's
// metadata in params._meta (a request whose
// io.modelcontextprotocol/protocolVersion is not 2026-07-28 gets -32022
// with data {supported, requested}; one without the required _meta keys
// gets -32602). server/discover answers what initialize used to. The tools
// sample, elicit and roots use multi round-trip requests (4.M6): the first
// call answers an InputRequiredResult whose requestState is an HMAC-signed
// token (a random key per Server); the retry with inputResponses and that
// requestState gets the final result, or another InputRequiredResult
// (sample with rounds > 1). A tool whose input the client's capabilities
// do not allow answers -32021. subscriptions/listen (4.M3) opens a
// long-lived request whose stream carries
// notifications/subscriptions/acknowledged first, then
// notifications/resources/updated (touch) and
// notifications/{tools,prompts,resources}/list_changed (touch with list),
// each with the listen request's id as _meta subscriptionId; the server
// ends open listens with a SubscriptionsListenResult when it stops. List
// and read results carry the caching hints ttlMs and cacheScope (4.F2),
// every result carries resultType and _meta serverInfo, logging is per
// request (_meta logLevel, 4.M2), and an unknown resource is -32602
// (4.E1). Server and Serve serve it over any Conn (stdio: many
// independent requests on one connection); ServeHTTP serves it over the
// stateless Streamable HTTP transport of 2026-07-28.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// ErrUnsupportedRevision is returned (wrapped) by New for a value that is
// not a known revision.
var ErrUnsupportedRevision = errors.New("demo: unsupported revision")

// CancelledLogPrefix starts the data of the notifications/message (level
// info) the server sends when the client cancelled a request; the method
// follows.
const CancelledLogPrefix = "demo: cancelled by the client: "

// DefaultSlowTimeout is how long the slow tool waits for its cancellation
// before it answers.
const DefaultSlowTimeout = 10 * time.Second

// MCP error code of a resource that does not exist, up to 2025-11-25;
// 2026-07-28 uses -32602 (REVISIONS.md 4.E1).
const codeResourceNotFound = -32002

// Defaults of the caching hints of 2026-07-28 results (REVISIONS.md
// 4.F2): lists and server/discover may be cached for a minute by anyone
// (the demo's lists never vary); resources/read results are stale at once
// (touch marks resources as changed).
const (
	DefaultCacheTTL   = time.Minute
	DefaultCacheScope = "public"
)

// DefaultRequestStateTTL is how long a requestState the 2026-07-28 server
// issues stays valid.
const DefaultRequestStateTTL = 10 * time.Minute

// RequestInfo describes a client request the server has finished with,
// for WithRequestHook.
type RequestInfo struct {
	// ID is the request id as the client sent it.
	ID json.RawMessage
	// Method is the request's method.
	Method string
	// Responded reports whether a response was sent.
	Responded bool
	// Cancelled reports whether the client cancelled the request
	// (notifications/cancelled); no response is sent then.
	Cancelled bool
	// Err is the error the server answered with, if any.
	Err error
}

// Option configures a Server.
type Option func(*Server)

// WithValidator shares a validator (building one compiles every schema).
func WithValidator(v *schemas.Validator) Option {
	return func(s *Server) { s.validator = v }
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) { s.log = l }
}

// WithStrict turns validation of every message received and sent on or
// off; it is on by default.
func WithStrict(strict bool) Option {
	return func(s *Server) { s.strict = strict }
}

// WithSlowTimeout sets how long the slow tool waits before it answers
// (default DefaultSlowTimeout).
func WithSlowTimeout(d time.Duration) Option {
	return func(s *Server) { s.slowTimeout = d }
}

// WithRequestHook registers a function called when the server has finished
// with a client request (after its response, if any, was sent). Tests use
// it to await that a cancelled request got no response.
func WithRequestHook(f func(RequestInfo)) Option {
	return func(s *Server) { s.hook = f }
}

// WithCacheHints sets the caching hints of 2026-07-28 list results and of
// server/discover (REVISIONS.md 4.F2): ttl (rounded down to milliseconds)
// and scope ("public" or "private"). resources/read always says ttlMs 0.
// The defaults are DefaultCacheTTL and DefaultCacheScope.
func WithCacheHints(ttl time.Duration, scope string) Option {
	return func(s *Server) { s.cacheTTL, s.cacheScope = ttl, scope }
}

// WithRequestStateTTL sets how long a requestState issued by the
// 2026-07-28 server stays valid (default DefaultRequestStateTTL); a retry
// with an older one gets -32602.
func WithRequestStateTTL(d time.Duration) Option {
	return func(s *Server) { s.stateTTL = d }
}

// Server is a demo MCP server of one revision. It holds configuration
// and, for 2026-07-28, what a stateless server shares between requests:
// the key that signs requestState tokens and the open subscriptions/listen
// streams (a touch on one connection reaches the listeners of all). One
// Server can serve many sessions (connections) at once.
type Server struct {
	rev         schemas.Revision
	validator   *schemas.Validator
	log         *slog.Logger
	strict      bool
	slowTimeout time.Duration
	hook        func(RequestInfo)
	cacheTTL    time.Duration
	cacheScope  string
	stateTTL    time.Duration
	tokenIssuer func() string       // WithTokenIssuer (oauth.go)
	tel         *telemetry.Provider // WithTelemetry (telemetry.go)
	profile     string              // WithProfile (conformance_profile.go)

	stateKey []byte                             // signs requestState tokens (2026-07-28)
	hub      *hub                               // open subscriptions/listen streams (2026-07-28)
	params   map[string][]transport.ParamHeader // x-mcp-header annotations by tool (2026-07-28)

	counts requestCounts // requests received (2026-07-28, stats.go)
}

// New returns a demo server that speaks revision rev, one of 2024-11-05,
// 2025-03-26, 2025-06-18, 2025-11-25 or 2026-07-28.
func New(rev schemas.Revision, opts ...Option) (*Server, error) {
	if !rev.Valid() {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedRevision, rev)
	}
	s := &Server{
		rev: rev, strict: true, slowTimeout: DefaultSlowTimeout,
		cacheTTL: DefaultCacheTTL, cacheScope: DefaultCacheScope, stateTTL: DefaultRequestStateTTL,
		hub: newHub(),
	}
	for _, opt := range opts {
		opt(s)
	}
	if s.cacheScope != "public" && s.cacheScope != "private" {
		return nil, fmt.Errorf("demo: cache scope %q is neither public nor private", s.cacheScope)
	}
	if s.cacheTTL < 0 {
		return nil, fmt.Errorf("demo: negative cache TTL %s", s.cacheTTL)
	}
	if err := checkProfile(s.profile, rev); err != nil {
		return nil, err
	}
	params, err := paramSpecs(rev)
	if err != nil {
		return nil, err
	}
	s.params = params
	s.stateKey = make([]byte, 32)
	if _, err := rand.Read(s.stateKey); err != nil {
		return nil, fmt.Errorf("demo: requestState key: %w", err)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.strict && s.validator == nil {
		v, err := schemas.NewValidator()
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		s.validator = v
	}
	return s, nil
}

// Revision returns the revision the server speaks.
func (s *Server) Revision() schemas.Revision { return s.rev }

// Serve serves one session on conn until the client goes away (it returns
// nil) or ctx ends (it returns ctx.Err()). It does not close conn. When conn
// is a [transport.RevisionSetter] (an HTTP Conn), it gets the revision once
// initialize is answered.
//
// In 2026-07-28 there are no sessions: Serve answers every request conn
// carries, each on its own. When ctx ends it first ends the open
// subscriptions/listen requests with a SubscriptionsListenResult (waiting
// at most listenDrainTimeout for them to go out), then stops.
func (s *Server) Serve(ctx context.Context, conn transport.Conn) error {
	if s.rev.Stateless() {
		return s.serveStateless(ctx, conn)
	}
	ss := &serverSession{srv: s, subs: map[string]bool{}}
	if rs, ok := conn.(transport.RevisionSetter); ok {
		ss.setRevision = rs.SetRevision
	}
	cfg := session.Config{
		Revision:       s.rev,
		Side:           schemas.FromServer,
		Strict:         s.strict,
		Validator:      s.validator,
		Logger:         s.log,
		Handler:        s.traced(ss.handle, conn),
		OnNotification: ss.notified,
		IDPrefix:       "demo-",
	}
	cfg.OnDone = func(req *session.Request, o session.Outcome) {
		if o.Cancelled {
			ss.cancelled(req)
		}
		if s.hook != nil {
			s.hook(RequestInfo{ID: req.ID, Method: req.Method, Responded: o.Responded, Cancelled: o.Cancelled, Err: o.Err})
		}
	}
	ss.peer = session.New(conn, cfg)
	s.log.Info("demo session started", "revision", s.rev.String())
	err := ss.peer.Run(ctx)
	s.log.Info("demo session ended", "err", err)
	return err
}

// ServeStdio serves one session of revision rev over newline-delimited
// JSON on stdin and stdout, until stdin ends or ctx ends. It closes stdin
// (when it is an io.Closer) to stop reading, and leaves stdout open.
func ServeStdio(ctx context.Context, rev schemas.Revision, stdin io.Reader, stdout io.Writer, opts ...Option) error {
	s, err := New(rev, opts...)
	if err != nil {
		return err
	}
	conn := fixture.NewStdioConn(stdin, struct{ io.Writer }{stdout}, 0)
	defer conn.Close()
	return s.Serve(ctx, conn)
}

// lifecycle states of a session.
const (
	stateNew         = iota // nothing but ping and initialize allowed
	stateInitialized        // initialize answered
)

// serverSession is the state of one session.
type serverSession struct {
	srv  *Server
	peer *session.Peer
	// st is set in 2026-07-28, where a serverSession serves the
	// independent requests of one connection.
	st *stateless
	// setRevision, when set, tells the Conn the negotiated revision.
	setRevision func(schemas.Revision)
	// checked, in 2026-07-28 over HTTP, lists the Mcp-Param-* headers
	// checked on the POST this serverSession answers (4.T5); nil over
	// other transports.
	checked []string

	mu         sync.Mutex
	state      int
	clientCaps map[string]json.RawMessage
	logLevel   string // "" until logging/setLevel
	subs       map[string]bool
	signedIn   bool // the url_login tool was called
}

// notified handles the client's notifications.
func (ss *serverSession) notified(_ context.Context, n *session.Notification) {
	switch n.Method {
	case "notifications/initialized":
		ss.srv.log.Debug("client initialized")
	case "notifications/roots/list_changed":
		ss.srv.log.Debug("client roots changed")
	}
}

// errorf returns a JSON-RPC error.
func errorf(code int, format string, args ...any) *jsonrpc.Error {
	return &jsonrpc.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// handle answers the client's requests.
func (ss *serverSession) handle(ctx context.Context, req *session.Request) (any, error) {
	switch req.Method {
	case "ping":
		return struct{}{}, nil
	case "initialize":
		return ss.initialize(req.Params)
	}
	ss.mu.Lock()
	state := ss.state
	ss.mu.Unlock()
	if state == stateNew {
		return nil, errorf(jsonrpc.CodeInvalidRequest, "Invalid Request: %s before initialize", req.Method)
	}
	if ss.srv.profile == ProfileConformance {
		if r, handled, err := ss.conformanceHandle(ctx, req); handled {
			return r, err
		}
	}
	switch req.Method {
	case "logging/setLevel":
		return ss.setLevel(req.Params)
	case "tools/list":
		return map[string]any{"tools": ss.toolList()}, nil
	case "tools/call":
		return ss.callTool(ctx, req)
	case "resources/list":
		return map[string]any{"resources": ss.resourceList()}, nil
	case "resources/templates/list":
		return map[string]any{"resourceTemplates": ss.templateList()}, nil
	case "resources/read":
		return ss.readResource(req.Params)
	case "resources/subscribe", "resources/unsubscribe":
		return ss.subscribe(req.Params, req.Method == "resources/subscribe")
	case "prompts/list":
		return map[string]any{"prompts": ss.promptList()}, nil
	case "prompts/get":
		return ss.getPrompt(req.Params)
	case "completion/complete":
		return ss.complete(req.Params)
	}
	return nil, errorf(jsonrpc.CodeMethodNotFound, "Method not found: %s", req.Method)
}

// decodeParams decodes params (which may be absent) into v.
func decodeParams(params json.RawMessage, v any) error {
	if len(params) == 0 {
		return nil
	}
	if err := json.Unmarshal(params, v); err != nil {
		return errorf(jsonrpc.CodeInvalidParams, "Invalid params: %v", err)
	}
	return nil
}

func (ss *serverSession) initialize(params json.RawMessage) (any, error) {
	var p struct {
		ProtocolVersion string                     `json:"protocolVersion"`
		Capabilities    map[string]json.RawMessage `json:"capabilities"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	rev := ss.srv.rev
	// The server answers the requested revision if it speaks it, else its
	// own (the only one it has); the client decides whether to go on. A
	// stateless revision requested in initialize gets the same answer.
	if n, err := schemas.Negotiate(p.ProtocolVersion, []schemas.Revision{rev}); err == nil {
		rev = n.Revision
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.state != stateNew {
		return nil, errorf(jsonrpc.CodeInvalidRequest, "Invalid Request: already initialized")
	}
	ss.state = stateInitialized
	ss.clientCaps = p.Capabilities
	if ss.setRevision != nil {
		ss.setRevision(rev)
	}
	if p.ProtocolVersion != rev.String() {
		ss.srv.log.Info("client asked for another protocol version", "requested", p.ProtocolVersion, "answered", rev.String())
	}
	return map[string]any{
		"protocolVersion": rev.String(),
		"capabilities":    ss.capabilities(),
		"serverInfo":      ss.serverInfo(),
		"instructions":    ss.instructions(),
	}, nil
}

// instructions returns the instructions of initialize or server/discover.
func (ss *serverSession) instructions() string {
	return "Demo server for mcpbroker tests. It speaks MCP " + ss.srv.rev.String() + " only."
}

// capabilities returns the server capabilities of the revision.
func (ss *serverSession) capabilities() map[string]any {
	// In 2026-07-28 the lists never change either, but touch can send
	// list_changed notifications to listens that ask (4.M3).
	// The conformance profile's trigger tools announce list changes.
	listChanged := ss.srv.rev.Stateless() || ss.srv.profile == ProfileConformance
	caps := map[string]any{
		"logging":   map[string]any{},
		"prompts":   map[string]any{"listChanged": listChanged},
		"resources": map[string]any{"subscribe": true, "listChanged": listChanged},
		"tools":     map[string]any{"listChanged": listChanged},
	}
	if ss.srv.rev >= schemas.V20250326 {
		caps["completions"] = map[string]any{}
	}
	return caps
}

// serverInfo returns the Implementation of the server.
func (ss *serverSession) serverInfo() map[string]any {
	info := map[string]any{"name": "mcpbroker-demo", "version": "1.0.0"}
	if ss.srv.rev >= schemas.V20250618 {
		info["title"] = "mcpbroker demo server (" + ss.srv.rev.String() + ")"
	}
	if ss.srv.rev >= schemas.V20251125 {
		info["description"] = "A demo MCP server that speaks exactly one protocol revision."
		info["icons"] = icons()
		info["websiteUrl"] = "https://github.com/mcpbroker/mcpbroker"
	}
	return info
}

// clientHas reports whether the client declared a capability.
func (ss *serverSession) clientHas(name string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_, ok := ss.clientCaps[name]
	return ok
}

// levelRank returns the rank of an MCP logging level (a syslog severity,
// debug lowest), and false for an unknown level.
func levelRank(level string) (int, bool) {
	switch level {
	case "debug":
		return 0, true
	case "info":
		return 1, true
	case "notice":
		return 2, true
	case "warning":
		return 3, true
	case "error":
		return 4, true
	case "critical":
		return 5, true
	case "alert":
		return 6, true
	case "emergency":
		return 7, true
	}
	return 0, false
}

func (ss *serverSession) setLevel(params json.RawMessage) (any, error) {
	var p struct {
		Level string `json:"level"`
	}
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	if _, ok := levelRank(p.Level); !ok {
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: unknown level %q", p.Level)
	}
	ss.mu.Lock()
	ss.logLevel = p.Level
	ss.mu.Unlock()
	return struct{}{}, nil
}

// cancelledNoticeTimeout bounds the sending of the log message about a
// cancelled request.
const cancelledNoticeTimeout = 5 * time.Second

// cancelled tells the client, with a notifications/message at level info
// (when it asked for that level), that the server stopped a request on its
// notifications/cancelled: the one sign a client can see that its
// cancellation arrived, since the request gets no response.
func (ss *serverSession) cancelled(req *session.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), cancelledNoticeTimeout)
	defer cancel()
	if err := ss.logToClient(ctx, "info", CancelledLogPrefix+req.Method); err != nil {
		ss.srv.log.Debug("cannot report a cancelled request", "method", req.Method, "err", err)
	}
}

// logToClient sends notifications/message when the client asked for
// messages of this level (logging/setLevel); before that it sends none.
// In 2026-07-28 the level is the request's own _meta logLevel, and the
// message goes out on that request's stream (REVISIONS.md 4.M2).
func (ss *serverSession) logToClient(ctx context.Context, level string, data any) error {
	var threshold string
	if ss.st != nil {
		threshold = metaOf(ctx).LogLevel
	} else {
		ss.mu.Lock()
		threshold = ss.logLevel
		ss.mu.Unlock()
	}
	want, _ := levelRank(level)
	if have, ok := levelRank(threshold); !ok || want < have {
		return nil
	}
	return ss.peer.Notify(ctx, "notifications/message", map[string]any{"level": level, "logger": "demo", "data": data})
}
