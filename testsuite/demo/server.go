// Package demo is a demo MCP server that speaks exactly one protocol
// revision, for testing the broker: a client of one revision and a demo
// server of another, with the broker between them, must work as if they
// spoke the same one.
//
// The server offers, using only what its revision has: the tools echo,
// add, sample, elicit (2025-06-18 on), progress, slow, content, roots,
// touch and ping_client; the resources demo://static/readme and
// demo://static/logo and the template demo://items/{id}, with
// subscriptions; the prompt greet; completion of the prompt argument and
// the template variable; logging (a request the client cancels is logged
// to it at level info). In strict mode (the default) it
// validates every message it receives against its revision, and every
// message it sends.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// ErrUnsupportedRevision is returned (wrapped) by New for a revision the
// demo server cannot speak: 2026-07-28 (stateless, no initialize) is not
// implemented yet.
var ErrUnsupportedRevision = errors.New("demo: unsupported revision")

// CancelledLogPrefix starts the data of the notifications/message (level
// info) the server sends when the client cancelled a request; the method
// follows.
const CancelledLogPrefix = "demo: cancelled by the client: "

// DefaultSlowTimeout is how long the slow tool waits for its cancellation
// before it answers.
const DefaultSlowTimeout = 10 * time.Second

// MCP error code of a resource that does not exist.
const codeResourceNotFound = -32002

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

// Server is a demo MCP server of one revision. It holds only
// configuration: one Server can serve many sessions at once.
type Server struct {
	rev         schemas.Revision
	validator   *schemas.Validator
	log         *slog.Logger
	strict      bool
	slowTimeout time.Duration
	hook        func(RequestInfo)
}

// New returns a demo server that speaks revision rev, which must be one of
// 2024-11-05, 2025-03-26, 2025-06-18 or 2025-11-25.
func New(rev schemas.Revision, opts ...Option) (*Server, error) {
	if !rev.Valid() || rev.Stateless() {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedRevision, rev)
	}
	s := &Server{rev: rev, strict: true, slowTimeout: DefaultSlowTimeout}
	for _, opt := range opts {
		opt(s)
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
func (s *Server) Serve(ctx context.Context, conn transport.Conn) error {
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
		Handler:        ss.handle,
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
	// setRevision, when set, tells the Conn the negotiated revision.
	setRevision func(schemas.Revision)

	mu         sync.Mutex
	state      int
	clientCaps map[string]json.RawMessage
	logLevel   string // "" until logging/setLevel
	subs       map[string]bool
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
		"instructions":    "Demo server for mcpbroker tests. It speaks MCP " + ss.srv.rev.String() + " only.",
	}, nil
}

// capabilities returns the server capabilities of the revision.
func (ss *serverSession) capabilities() map[string]any {
	caps := map[string]any{
		"logging":   map[string]any{},
		"prompts":   map[string]any{"listChanged": false},
		"resources": map[string]any{"subscribe": true, "listChanged": false},
		"tools":     map[string]any{"listChanged": false},
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
func (ss *serverSession) logToClient(ctx context.Context, level string, data any) error {
	ss.mu.Lock()
	threshold := ss.logLevel
	ss.mu.Unlock()
	want, _ := levelRank(level)
	if have, ok := levelRank(threshold); !ok || want < have {
		return nil
	}
	return ss.peer.Notify(ctx, "notifications/message", map[string]any{"level": level, "logger": "demo", "data": data})
}
