package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// errClientDone ends the client loop when the client closes the session.
var errClientDone = errors.New("relay: client closed the session")

// Method names the relay itself looks at.
const (
	methodInitialize = "initialize"
	methodPing       = "ping"
	methodCancelled  = "notifications/cancelled"
	methodProgress   = "notifications/progress"
)

// serverIDPrefix starts the broker ids of server-to-client requests.
const serverIDPrefix = "mcpbroker-"

// link is what the handshake established. It is immutable once published.
type link struct {
	clientRev, upRev schemas.Revision
	c2s, s2c         *translators.Chain
	tctx             translators.Context // Method is empty
	// inDown and inUp carry the input requests of a stateless upstream's
	// InputRequiredResult to the client and its answers back (newest
	// legacy revision <-> the client's); nil for a legacy upstream.
	inDown, inUp *translators.Chain
}

// call is a client request forwarded upstream, waiting for its response.
type call struct {
	key       string          // pending key: the broker's upstream id, as IDKey
	upID      json.RawMessage // the broker's upstream id
	clientID  json.RawMessage // the client's id, exactly as sent
	clientKey string          // jsonrpc.IDKey(clientID)
	method    string
	batch     *batch // the client batch the request came in, or nil
	token     string // IDKey of its progress token, or ""
	timer     *time.Timer
	init      bool // the broker's own initialize
	// reinit is set on the broker's initialize of a restarted upstream
	// (1.T2), and on other requests of the broker's own that wait for
	// their answer (ownRequest): the response (nil if the upstream went
	// away) goes to reinit instead of a client.
	reinit chan *jsonrpc.Message
	// internal is set on requests the broker replays to a restarted
	// upstream (logging/setLevel, resources/subscribe): their responses
	// are dropped.
	internal bool
	counted  bool // counted in Config.Inflight
	discover bool // the broker's server/discover toward a stateless upstream
	// upRaw is the request as first sent upstream (stateless upstream,
	// MRTR methods only): a retry adds inputResponses to it (4.M6).
	upRaw  []byte
	rounds int // input rounds so far
	// cache says where Config.Cache stores the result, or nil (cache.go).
	cache *cacheTicket
}

// serverCall is a server request forwarded to the client.
type serverCall struct {
	key       string // the broker's id toward the client, as IDKey
	brokerID  json.RawMessage
	serverID  json.RawMessage // the server's id, exactly as sent
	serverKey string
	method    string
	// round and inputKey are set on an input request of a stateless
	// upstream's InputRequiredResult, whose answer goes into the round.
	round    *mrtrRound
	inputKey string
	// span is the SERVER span of the server's request and out the CLIENT
	// span of the request sent to the client (telemetry.go); nil when
	// telemetry is off.
	span, out *telemetry.Call
}

// session is the state of one Run.
type session struct {
	ctx    context.Context // Run's context; used by timer callbacks only
	cfg    Config
	log    *slog.Logger
	client transport.Conn
	dial   func(context.Context) (transport.Conn, error)
	wg     sync.WaitGroup // the upstream loops
	// handshake receives the outcome of the upstream initialize, exactly
	// once: from whoever removes the broker's initialize call from pending.
	handshake chan error
	link      atomic.Pointer[link]

	clientMu sync.Mutex // serializes sends to the client

	upMu sync.Mutex // serializes sends to the upstream; guards up and listen
	up   transport.Conn
	// listen is set once the client can receive unsolicited messages: the
	// upstream's stream for them (transport.StreamOpener) is open.
	listen bool

	// restartMu serializes upstream restarts; it guards the fields below
	// it, which only restarts use.
	restartMu sync.Mutex
	upInit    []byte    // the broker's upstream initialize, replayed on restart
	failures  int       // consecutive failed restarts
	retryAt   time.Time // no restart attempt before this time (back-off)

	mu          sync.Mutex
	initStarted bool
	clientRev   schemas.Revision    // client side revision, from initialize
	tctx        translators.Context // client info and capabilities, from initialize
	upGone      bool                // the upstream ended: restart it before forwarding
	closed      bool                // Run is returning: timers do nothing
	nextUp      int64
	nextServer  int64
	pending     map[string]*call       // upstream id key -> client request
	byClient    map[string]string      // client id key -> upstream id key
	progress    map[string]*call       // progress token key -> client request
	serverCalls map[string]*serverCall // broker id key -> server request
	byServer    map[string]string      // server id key -> broker id key
	replay      replayState            // upstream state to restore on restart
	logLevel    atomic.Pointer[string] // the client's logging/setLevel (stateless upstream, 4.M2)
	subs        map[string]bool        // subscribed URIs (stateless upstream, 4.M3)
	listenKey   string                 // pending key of the upstream subscriptions/listen, or ""
	ackWaiters  map[string][]waiter    // subscribe requests answered when that listen is acknowledged
	tasks       *taskStore             // emulated tasks (4.M5, tasks.go); nil until the first task
	hdrs        toolHeaders            // x-mcp-header annotations of a stateless upstream's tools (4.T5)
	timers      sync.WaitGroup         // timer callbacks at work
	pushes      sync.WaitGroup         // upstreamReceived calls at work
	cached      sessionCache           // Config.Cache state (cache.go)
	tel         *sessionTelemetry      // nil when telemetry is off (telemetry.go)
	auditID     string                 // session id of audit events when the client transport has none (audit.go)
}

func newSession(ctx context.Context, cfg Config, client transport.Conn, dial func(context.Context) (transport.Conn, error)) *session {
	s := &session{
		ctx:         ctx,
		cfg:         cfg,
		log:         cfg.Logger,
		client:      client,
		dial:        dial,
		handshake:   make(chan error, 1),
		pending:     map[string]*call{},
		byClient:    map[string]string{},
		progress:    map[string]*call{},
		serverCalls: map[string]*serverCall{},
		byServer:    map[string]string{},
		replay:      replayState{subscriptions: map[string][]byte{}},
		subs:        map[string]bool{},
		ackWaiters:  map[string][]waiter{},
		tel:         newSessionTelemetry(cfg.Telemetry, client),
	}
	if cfg.Audit != nil {
		if _, ok := client.(transport.SessionIDer); !ok {
			s.auditID = newAuditSessionID()
			if s.tel != nil {
				s.auditID = s.tel.ownID
			}
		}
	}
	return s
}

// shutdown stops the timers and closes the upstream. Both loops are done.
func (s *session) shutdown() {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.pending {
		if c.timer != nil {
			c.timer.Stop()
		}
	}
	s.stopTasksLocked()
	s.mu.Unlock()
	s.timers.Wait()
	s.pushes.Wait()
	s.upMu.Lock()
	defer s.upMu.Unlock()
	if s.up != nil {
		if err := s.up.Close(); err != nil {
			s.log.Debug("relay: closing upstream", "err", err)
		}
	}
}

// ---- sending ----

// sendClient sends one frame to the client. related is the client's id of
// the request the frame belongs to, or nil.
func (s *session) sendClient(ctx context.Context, raw []byte, related json.RawMessage) {
	if isTaskCall(related) {
		raw, related = s.taskRelated(ctx, raw, related) // 4.M5
	}
	s.clientMu.Lock()
	defer s.clientMu.Unlock()
	if err := s.client.Send(ctx, transport.Message{Raw: raw, Related: related}); err != nil {
		s.log.DebugContext(ctx, "relay: send to client failed", "err", err)
	}
}

// sendUp sends one frame upstream. related is the server's id of the
// request the frame belongs to, or nil.
func (s *session) sendUp(ctx context.Context, raw []byte, related json.RawMessage) error {
	s.upMu.Lock()
	defer s.upMu.Unlock()
	if s.up == nil {
		return errNoUpstream
	}
	ctx = s.withParamHeaders(ctx, raw) // 4.T5
	if err := s.up.Send(ctx, transport.Message{Raw: raw, Related: related}); err != nil {
		s.log.DebugContext(ctx, "relay: send upstream failed", "err", err)
		return fmt.Errorf("relay: send upstream: %w", err)
	}
	return nil
}

// replyClient answers a client request: inside its batch when it came in
// one, else as a frame of its own. raw nil means the request will get no
// answer (it was cancelled), which only matters to a batch.
func (s *session) replyClient(ctx context.Context, clientID json.RawMessage, b *batch, raw []byte) {
	if s.tel != nil {
		defer s.tel.answered(clientID, raw)
	}
	if b != nil {
		if arr := b.done(raw); arr != nil {
			s.sendClient(ctx, arr, b.related())
		}
		return
	}
	if raw != nil {
		s.sendClient(ctx, raw, clientID)
	}
}

// ---- the client side ----

// clientLoop reads the client until it ends.
func (s *session) clientLoop(ctx context.Context) error {
	for {
		m, err := s.client.Recv(ctx)
		if errors.Is(err, jsonrpc.ErrTooLarge) {
			// The line is gone and its id unknown: answer with a null id
			// and go on (the session survives bad input).
			s.log.WarnContext(ctx, "relay: oversized message from client", "err", err)
			s.audit(ctx, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeRejected, Side: "client",
				ErrorCode: jsonrpc.CodeParseError, Detail: "message too large"})
			s.sendClient(ctx, jsonrpc.ErrorResponse(nil, jsonrpc.CodeParseError, "message too large: "+err.Error(), nil), nil)
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) && ctx.Err() == nil {
				return errClientDone
			}
			return fmt.Errorf("relay: client receive: %w", err)
		}
		if err := s.fromClient(ctx, m); err != nil {
			return err
		}
	}
}

// fromClient handles one frame from the client. It returns an error only
// when the session must end.
func (s *session) fromClient(ctx context.Context, tm transport.Message) error {
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.DebugContext(ctx, "relay: from client", "payload", telemetry.Payload(s.cfg.LogPayloads, tm.Raw))
	}
	if s.tel != nil && tm.Trace != nil {
		ctx = httpTraceContext(ctx, tm.Trace)
	}
	f, err := jsonrpc.ParseFrame(tm.Raw)
	if err != nil {
		var je *jsonrpc.Error
		if errors.As(err, &je) {
			s.log.DebugContext(ctx, "relay: malformed frame from client", "code", je.Code, "err", je.Message)
			s.audit(ctx, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeRejected, Side: "client",
				RequestID: telemetry.AuditRequestID(je.ID), ErrorCode: je.Code, Detail: je.Message})
			s.sendClient(ctx, je.Response(), je.ID)
		}
		return nil
	}
	if !f.Batch {
		return s.clientMessage(ctx, f.Messages[0], nil)
	}
	if l := s.link.Load(); l != nil && !l.clientRev.HasBatching() && s.cfg.ClientValidation == Strict {
		s.audit(ctx, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeRejected, Side: "client",
			ErrorCode: jsonrpc.CodeInvalidRequest, Detail: l.clientRev.String() + " has no JSON-RPC batches"})
		s.sendClient(ctx, jsonrpc.ErrorResponse(nil, jsonrpc.CodeInvalidRequest,
			"Invalid Request: "+l.clientRev.String()+" has no JSON-RPC batches", nil), nil)
		return nil
	}
	// 1.L1/2.T1: split the batch; gather the answers to its requests into
	// one array.
	b := &batch{}
	for i, m := range f.Messages {
		if m == nil {
			e := f.Errors[i]
			s.audit(ctx, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeRejected, Side: "client",
				RequestID: telemetry.AuditRequestID(e.ID), ErrorCode: e.Code, Detail: e.Message})
			b.expect(e.ID)
			b.done(e.Response())
			continue
		}
		if m.Kind == jsonrpc.KindRequest {
			b.expect(m.ID)
		}
		if err := s.clientMessage(ctx, m, b); err != nil {
			return err
		}
	}
	if arr := b.seal(); arr != nil {
		s.sendClient(ctx, arr, b.related())
	}
	return nil
}

// clientMessage handles one message from the client; b is its batch or nil.
func (s *session) clientMessage(ctx context.Context, m *jsonrpc.Message, b *batch) error {
	switch m.Kind {
	case jsonrpc.KindRequest:
		return s.clientRequest(ctx, m, b)
	case jsonrpc.KindNotification:
		s.clientNotification(ctx, m)
	default:
		s.clientResponse(ctx, m)
	}
	return nil
}

func (s *session) clientRequest(ctx context.Context, m *jsonrpc.Message, b *batch) error {
	l := s.link.Load()
	if s.tel != nil {
		if l == nil && m.Method == methodInitialize && b == nil && !s.initIsStarted() {
			return s.tracedInitialize(ctx, m)
		}
		var dup *telemetry.Call
		ctx, dup = s.startRequest(ctx, m, l)
		if dup != nil {
			defer dup.End(telemetry.RPCError(jsonrpc.CodeInvalidRequest, "request id already in use"))
		}
	}
	if m.Method == methodPing {
		// Ping is hop by hop: the broker answers for the server.
		_, span := s.startEmulation(ctx, telemetry.EmulationSyntheticAnswer, m.Method)
		s.replyClient(ctx, m.ID, b, translators.EmptyResult(m.ID))
		span.End()
		return nil
	}
	if l == nil {
		s.mu.Lock()
		started := s.initStarted
		s.mu.Unlock()
		switch {
		case m.Method == methodInitialize && b == nil && !started:
			return s.initialize(ctx, m)
		case m.Method == methodInitialize && b != nil:
			s.rejectClient(ctx, m, b, invalidRequest(m.ID, "initialize must not be sent in a batch"))
		default:
			s.rejectClient(ctx, m, b, invalidRequest(m.ID, "the session is not initialized: the first request must be initialize"))
		}
		return nil
	}
	if m.Method == methodInitialize {
		s.rejectClient(ctx, m, b, invalidRequest(m.ID, "the session is already initialized"))
		return nil
	}
	if ve := s.validate(ctx, l.clientRev, m, schemas.FromClient, "", s.cfg.ClientValidation); ve != nil {
		s.replyClient(ctx, m.ID, b, validationError(m.ID, ve.Code(), ve))
		return nil
	}
	tctx := s.requestContext(l)
	out := s.translate(ctx, l.c2s, m, translators.ClientToServer, &tctx, m.Method)
	s.logOutcome(ctx, "c2s", m.Method, m, out)
	switch {
	case s.handleTask(ctx, l, m, out, b): // 4.M5, tasks.go
	case out.Kind == translators.Forward:
		s.forward(ctx, m, out.Message, b)
	case out.Kind == translators.Emulate && l.inDown != nil && (m.Method == "resources/subscribe" || m.Method == "resources/unsubscribe"):
		ectx, span := s.startEmulation(ctx, telemetry.EmulationSubscription, m.Method)
		s.subscribe(ectx, l, m, b)
		span.End()
	case out.Kind == translators.Answer && out.Reply != nil:
		_, span := s.startEmulation(ctx, telemetry.EmulationSyntheticAnswer, m.Method)
		if m.Method == "logging/setLevel" {
			// 4.M2: the level travels in every later request's _meta.
			lv := translators.Parse(m.Params).Get("level").Str()
			s.logLevel.Store(&lv)
		}
		s.replyClient(ctx, m.ID, b, out.Reply)
		span.End()
	default:
		s.rejectClient(ctx, m, b, s.refusal(m.ID, m.Method, l.upRev, out))
	}
	return nil
}

// rejectClient answers client request m with the broker's error raw and
// records it as an audit event.
func (s *session) rejectClient(ctx context.Context, m *jsonrpc.Message, b *batch, raw []byte) {
	s.auditReply(ctx, m, raw)
	s.replyClient(ctx, m.ID, b, raw)
}

// forward sends a translated client request upstream under a broker id,
// restarting the upstream first when it is gone. An upstream Streamable
// HTTP session found expired on send (HTTP 404, 1.T2) is re-initialized
// and the request sent again, once.
func (s *session) forward(ctx context.Context, m *jsonrpc.Message, raw []byte, b *batch) {
	clientID := bytes.Clone(m.ID)
	clientKey := jsonrpc.IDKey(m.ID)
	s.mu.Lock()
	_, dup := s.byClient[clientKey]
	s.mu.Unlock()
	if dup {
		s.rejectClient(ctx, m, b, invalidRequest(clientID, "request id "+string(clientID)+" is already in use by a pending request"))
		return
	}
	ck, answered := s.cacheLookup(ctx, m, raw, b)
	if answered {
		return
	}
	if s.toolCallRefused(ctx, m, raw, b) {
		return // 4.T5: its arguments cannot be mirrored into headers
	}
	token := translators.ProgressToken(m.Params)
	for attempt := 0; ; attempt++ {
		if err := s.ensureUp(ctx); err != nil {
			s.rejectClient(ctx, m, b, jsonrpc.ErrorResponse(clientID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil))
			return
		}
		c := &call{clientID: clientID, clientKey: clientKey, method: m.Method, batch: b, cache: s.cacheTicket(ck)}
		var uop telemetry.Op
		if s.tel != nil {
			uop = s.upOp(m.Method, nil, m.Params, linkUpRev(s.link.Load()))
		}
		if l := s.link.Load(); l != nil && l.inDown != nil && slices.Contains(mrtrMethods, m.Method) {
			c.upRaw = raw
		}
		s.mu.Lock()
		if s.upGone {
			s.mu.Unlock()
			s.rejectClient(ctx, m, b, upstreamClosed(clientID))
			return
		}
		s.registerLocked(c)
		if token != nil {
			c.token = jsonrpc.IDKey(token)
			s.progress[c.token] = c
		}
		s.remember(m, raw)
		var up []byte
		sendCtx := ctx
		if s.tel != nil {
			sendCtx, up = s.startUp(ctx, c, uop, m, raw) // before another goroutine can take c
		}
		s.mu.Unlock()
		if up == nil {
			up = withID(raw, m, c.upID)
		}
		err := s.sendUp(sendCtx, up, nil) // the CLIENT span's context, for HTTP headers
		if err == nil {
			s.arm(c)
			return
		}
		if s.take(c.key) == nil {
			return // answered meanwhile (the upstream went away)
		}
		s.endUp(c, telemetry.Failure("transport", err.Error()))
		if attempt == 0 && connLost(err) {
			s.log.InfoContext(ctx, "relay: upstream session lost on send; re-initializing", "err", err)
			s.loseUpstream(ctx, err)
			continue
		}
		s.rejectClient(ctx, m, b, jsonrpc.ErrorResponse(clientID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil))
		return
	}
}

// registerLocked gives c a broker id and records it as pending.
func (s *session) registerLocked(c *call) {
	s.nextUp++
	c.upID = strconv.AppendInt(nil, s.nextUp, 10)
	c.key = string(c.upID)
	s.pending[c.key] = c
	if !c.init && c.reinit == nil && !c.internal {
		s.byClient[c.clientKey] = c.key
	}
	if c.reinit == nil && !c.internal && s.cfg.Inflight != nil {
		c.counted = true
		s.cfg.Inflight.Add(1)
	}
}

// arm starts the timeout of a call once it has been sent upstream, unless
// it was answered meanwhile.
func (s *session) arm(c *call) {
	d := s.cfg.RequestTimeout
	if d <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[c.key] == c && !s.closed {
		key := c.key
		c.timer = time.AfterFunc(d, func() { s.expire(key) })
	}
}

// take removes the pending call with the given key and returns it, or nil
// when it is no longer pending (answered, cancelled, expired).
func (s *session) take(key string) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.pending[key]
	if c != nil {
		s.removeLocked(c)
	}
	return c
}

func (s *session) removeLocked(c *call) {
	delete(s.pending, c.key)
	if c.counted {
		c.counted = false
		s.cfg.Inflight.Add(-1)
	}
	if s.byClient[c.clientKey] == c.key {
		delete(s.byClient, c.clientKey)
	}
	if c.token != "" && s.progress[c.token] == c {
		delete(s.progress, c.token)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
}

// expire answers a client request the upstream did not answer in time.
func (s *session) expire(key string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	c := s.pending[key]
	if c == nil {
		s.mu.Unlock()
		return
	}
	s.removeLocked(c)
	s.timers.Add(1)
	s.mu.Unlock()
	defer s.timers.Done()

	ctx := s.ctx
	msg := fmt.Sprintf("Request timed out: the upstream did not answer within %v", s.cfg.RequestTimeout)
	if sctx := s.endUp(c, telemetry.Failure("timeout", msg)); sctx != nil {
		ctx = sctx // the client request's SERVER span: the log line, audit event and cancellation belong to it
	}
	s.log.WarnContext(ctx, "relay: request timed out", "method", c.method, "id", string(c.clientID), "timeout", s.cfg.RequestTimeout)
	s.auditCall(ctx, c, CodeRequestTimeout, msg)
	s.replyClient(ctx, c.clientID, c.batch, jsonrpc.ErrorResponse(c.clientID, CodeRequestTimeout, msg, nil))
	if c.init {
		// initialize must not be cancelled; the session ends instead.
		s.handshake <- fmt.Errorf("%w: initialize timed out after %v", ErrHandshake, s.cfg.RequestTimeout)
		return
	}
	_ = s.sendOwn(ctx, translators.CancelledNotification(c.upID, "mcpbroker: request timed out"))
}

func (s *session) clientNotification(ctx context.Context, m *jsonrpc.Message) {
	l := s.link.Load()
	if s.tel != nil {
		var span *telemetry.Call
		ctx, span = s.tel.p.StartServer(ctx, s.clientOp(m.Method, nil, m.Params, linkClientRev(l)))
		defer span.End(telemetry.Result{})
	}
	if l == nil {
		s.log.DebugContext(ctx, "relay: client notification before initialize dropped", "method", m.Method)
		return
	}
	if ve := s.validate(ctx, l.clientRev, m, schemas.FromClient, "", s.cfg.ClientValidation); ve != nil {
		return // logged by validate
	}
	var cancelled *call
	if m.Method == methodCancelled {
		reqID := translators.Parse(m.Params).Get("requestId")
		if reqID == nil {
			s.log.DebugContext(ctx, "relay: notifications/cancelled without requestId dropped")
			return
		}
		s.mu.Lock()
		cancelled = s.pending[s.byClient[jsonrpc.IDKey(reqID.Raw())]]
		s.mu.Unlock()
		if cancelled == nil {
			s.log.DebugContext(ctx, "relay: cancellation of an unknown or finished request dropped", "requestId", string(reqID.Raw()))
			return
		}
	}
	tctx := l.tctx
	out := s.translate(ctx, l.c2s, m, translators.ClientToServer, &tctx, m.Method)
	s.logOutcome(ctx, "c2s", m.Method, m, out)
	if out.Kind != translators.Forward {
		return
	}
	raw := out.Message
	if cancelled != nil {
		if s.take(cancelled.key) == nil {
			return // answered meanwhile
		}
		s.endUp(cancelled, telemetry.Failure("cancelled", "the client cancelled the request"))
		// The client ignores any late response; a batch no longer waits.
		s.replyClient(ctx, cancelled.clientID, cancelled.batch, nil)
		raw = translators.SetParam(raw, "requestId", cancelled.upID)
	}
	sendCtx := ctx
	if s.tel != nil {
		uctx, span := s.tel.p.StartClient(ctx, s.upOp(m.Method, nil, m.Params, l.upRev))
		if injected, err := telemetry.InjectMessage(uctx, raw); err == nil {
			raw = injected
		}
		sendCtx = uctx
		defer span.End(telemetry.Result{})
	}
	_ = s.sendUp(sendCtx, raw, nil)
}

// clientResponse relays the client's answer to a server request.
func (s *session) clientResponse(ctx context.Context, m *jsonrpc.Message) {
	s.mu.Lock()
	sc := s.serverCalls[jsonrpc.IDKey(m.ID)]
	if sc != nil {
		s.removeServerLocked(sc)
	}
	s.mu.Unlock()
	if sc == nil {
		s.log.DebugContext(ctx, "relay: client response to an unknown or cancelled request dropped", "id", string(m.ID))
		return
	}
	var r *telemetry.Result
	if sc.out != nil {
		rr := resultOf(sc.method, m)
		r = &rr
		sc.out.End(rr)
	}
	if sc.round != nil {
		s.mrtrAnswer(ctx, sc, m)
		if r != nil {
			sc.span.End(*r)
		}
		return
	}
	l := s.link.Load()
	if ve := s.validate(ctx, l.clientRev, m, schemas.FromClient, sc.method, s.cfg.ClientValidation); ve != nil {
		s.answerUp(ctx, sc.span, sc.method, validationError(sc.serverID, jsonrpc.CodeInternalError, ve), sc.serverID, nil)
		return
	}
	tctx := l.tctx
	tctx.Method = sc.method
	out := s.translate(ctx, l.c2s, m, translators.ClientToServer, &tctx, sc.method)
	s.logOutcome(ctx, "c2s", tctx.Method, m, out)
	var raw []byte
	switch out.Kind {
	case translators.Forward:
		raw = withID(out.Message, m, sc.serverID)
	default:
		raw, r = s.refusal(sc.serverID, sc.method, l.upRev, out), nil
	}
	s.answerUp(ctx, sc.span, sc.method, raw, sc.serverID, r)
}

func (s *session) removeServerLocked(sc *serverCall) {
	delete(s.serverCalls, sc.key)
	if s.byServer[sc.serverKey] == sc.key {
		delete(s.byServer, sc.serverKey)
	}
}

// initialize performs the broker's handshake with the upstream for the
// client's initialize request m, and waits for its outcome.
func (s *session) initialize(ctx context.Context, m *jsonrpc.Message) error {
	params := translators.Parse(m.Params)
	requested := params.Get("protocolVersion").Str()
	clientRev := latestLegacy()
	if n, err := schemas.Negotiate(requested, legacy()); err == nil {
		clientRev = n.Revision
	}
	if ve := s.validate(ctx, clientRev, m, schemas.FromClient, "", s.cfg.ClientValidation); ve != nil {
		s.sendClient(ctx, validationError(m.ID, ve.Code(), ve), m.ID)
		return nil // keep waiting for a valid initialize
	}
	tctx := translators.Context{
		ClientInfo:         bytes.Clone(params.Get("clientInfo").Raw()),
		ClientCapabilities: bytes.Clone(params.Get("capabilities").Raw()),
	}
	offered := s.cfg.UpstreamRevision
	if offered.Stateless() {
		return s.initializeStateless(ctx, m, clientRev, tctx)
	}
	chain, err := translators.NewChain(clientRev, offered)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	out := chain.Translate(m, translators.ClientToServer, &tctx)
	s.logOutcome(ctx, "c2s", m.Method, m, out)
	if out.Kind != translators.Forward {
		raw := s.refusal(m.ID, m.Method, offered, out)
		s.auditReply(ctx, m, raw)
		s.sendClient(ctx, raw, m.ID)
		return nil
	}
	n := translators.Parse(out.Message)
	n.Get("params").Set("protocolVersion", translators.NewString(offered.String()))

	s.restartMu.Lock()
	s.upInit = bytes.Clone(n.Raw())
	s.restartMu.Unlock()
	c := &call{clientID: bytes.Clone(m.ID), clientKey: jsonrpc.IDKey(m.ID), method: methodInitialize, init: true}
	request := func(id json.RawMessage) []byte {
		n.Set("id", translators.Parse(id))
		return n.Raw()
	}
	if s.cfg.UpstreamAuto {
		return s.initializeAuto(ctx, m, clientRev, tctx, c, request) // 4.L3: server/discover first
	}
	return s.handshakeUp(ctx, m, clientRev, tctx, c, request)
}

// handshakeUp records the client's revision and Context, dials the
// upstream and sends it the broker's first request c (built by request
// with the broker id), then waits for the outcome that finishHandshake or
// finishDiscover reports. It answers the client's initialize m itself when
// the upstream cannot be reached.
func (s *session) handshakeUp(ctx context.Context, m *jsonrpc.Message, clientRev schemas.Revision, tctx translators.Context, c *call, request func(id json.RawMessage) []byte) error {
	if err := s.connectUp(ctx, m, clientRev, tctx); err != nil {
		return err
	}
	return s.handshakeSend(ctx, m, c, request)
}

// connectUp is the first half of handshakeUp: it records the client's
// revision and Context, dials the upstream and reads it.
func (s *session) connectUp(ctx context.Context, m *jsonrpc.Message, clientRev schemas.Revision, tctx translators.Context) error {
	s.mu.Lock()
	s.initStarted = true
	s.clientRev = clientRev
	s.tctx = tctx
	s.mu.Unlock()

	s.log.DebugContext(ctx, "relay: dialing upstream", "client_revision", clientRev, "offered", s.cfg.UpstreamRevision)
	up, err := s.dial(ctx)
	if err != nil {
		raw := jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInternalError, "mcpbroker: upstream unavailable: "+err.Error(), nil)
		s.auditReply(ctx, m, raw)
		s.sendClient(ctx, raw, m.ID)
		return fmt.Errorf("relay: dial upstream: %w", err)
	}
	s.upMu.Lock()
	s.up = up
	s.upMu.Unlock()
	s.goUpstream(ctx, up)
	return nil
}

// handshakeSend is the second half of handshakeUp: it sends the broker's
// first request c on the connected upstream and waits for the outcome.
func (s *session) handshakeSend(ctx context.Context, m *jsonrpc.Message, c *call, request func(id json.RawMessage) []byte) error {
	s.mu.Lock()
	s.registerLocked(c)
	s.mu.Unlock()
	sendCtx, raw := s.traceOwn(ctx, c, request(c.upID), true)
	if err := s.sendUp(sendCtx, raw, nil); err != nil {
		if s.take(c.key) != nil {
			s.endOwn(telemetry.Failure("transport", err.Error()), c)
			raw := jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil)
			s.auditReply(ctx, m, raw)
			s.sendClient(ctx, raw, m.ID)
		}
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	s.arm(c)
	select {
	case err := <-s.handshake:
		return err
	case <-ctx.Done():
		return fmt.Errorf("relay: waiting for the upstream %s: %w", c.method, ctx.Err())
	}
}

// ---- the upstream side ----

// goUpstream arranges for what up receives to be handled: pushed to
// s.upstreamReceived by the transport's own goroutines when up is a
// transport.Pusher (an idle session then has no goroutine here), else read
// in a goroutine counted in s.wg until it ends.
func (s *session) goUpstream(ctx context.Context, up transport.Conn) {
	if p, ok := up.(transport.Pusher); ok && p.Push(func(m transport.Message, err error) { s.upstreamReceived(ctx, up, m, err) }) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.upstreamLoop(ctx, up)
	}()
}

// upstreamReceived handles one frame or error pushed by up. It does
// nothing once the session is shutting down; shutdown waits for the calls
// in progress (s.pushes).
func (s *session) upstreamReceived(ctx context.Context, up transport.Conn, m transport.Message, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pushes.Add(1)
	s.mu.Unlock()
	defer s.pushes.Done()
	switch {
	case errors.Is(err, jsonrpc.ErrTooLarge):
		s.log.WarnContext(ctx, "relay: oversized message from the server dropped", "err", err)
	case err != nil:
		if ctx.Err() == nil {
			s.upstreamGone(ctx, up, err)
		}
	default:
		s.fromServer(ctx, m)
	}
}

// upstreamLoop reads the upstream until it ends. An upstream that ends
// while the client is connected does not end the session: its pending
// requests are answered with errors and the next client request restarts
// it (ensureUp).
func (s *session) upstreamLoop(ctx context.Context, up transport.Conn) {
	for {
		m, err := up.Recv(ctx)
		if errors.Is(err, jsonrpc.ErrTooLarge) {
			s.log.WarnContext(ctx, "relay: oversized message from the server dropped", "err", err)
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				s.upstreamGone(ctx, up, err)
			}
			return
		}
		s.fromServer(ctx, m)
	}
}

// loseUpstream gives up the current upstream connection (see upstreamGone).
func (s *session) loseUpstream(ctx context.Context, cause error) {
	s.upMu.Lock()
	up := s.up
	s.upMu.Unlock()
	s.upstreamGone(ctx, up, cause)
}

// upstreamGone handles the end of the upstream connection up, unless a
// restart replaced it already: it closes it and answers every pending
// client request with "upstream closed". A failed handshake ends the
// session; otherwise the next client request restarts the upstream.
func (s *session) upstreamGone(ctx context.Context, up transport.Conn, cause error) {
	s.upMu.Lock()
	current := up != nil && s.up == up
	s.upMu.Unlock()
	if !current {
		return
	}
	s.mu.Lock()
	if s.upGone {
		s.mu.Unlock()
		return
	}
	s.upGone = true
	calls := make([]*call, 0, len(s.pending))
	for _, c := range s.pending {
		calls = append(calls, c)
	}
	for _, c := range calls {
		s.removeLocked(c)
	}
	var scs []*serverCall
	if s.tel != nil {
		for _, sc := range s.serverCalls {
			scs = append(scs, sc)
		}
	}
	clear(s.serverCalls)
	clear(s.byServer)
	s.mu.Unlock()
	if s.tel != nil {
		s.tel.p.Metrics().UpstreamError(ctx, s.upstreamName(), "closed")
		for _, sc := range scs {
			endServerCall(sc, telemetry.Failure("transport", "upstream closed"))
		}
		for _, c := range calls {
			s.endUp(c, telemetry.Failure("transport", fmt.Sprint(cause)))
		}
	}
	s.cacheUpstreamLost()
	if err := up.Close(); err != nil {
		s.log.DebugContext(ctx, "relay: closing the lost upstream", "err", err)
	}
	s.log.WarnContext(ctx, "relay: upstream closed; the next request restarts it", "err", cause, "pending", len(calls))
	for _, c := range calls {
		switch {
		case c.reinit != nil:
			c.reinit <- nil
		case c.internal:
			s.releaseWaiters(ctx, c.key, upstreamClosed)
		case c.init:
			s.auditCall(ctx, c, jsonrpc.CodeInternalError, "upstream closed")
			s.replyClient(ctx, c.clientID, c.batch, upstreamClosed(c.clientID))
			s.handshake <- fmt.Errorf("%w: upstream closed: %w", ErrHandshake, cause)
		default:
			s.auditCall(ctx, c, jsonrpc.CodeInternalError, "upstream closed")
			s.replyClient(ctx, c.clientID, c.batch, upstreamClosed(c.clientID))
		}
	}
}

// fromServer handles one frame from the upstream.
func (s *session) fromServer(ctx context.Context, tm transport.Message) {
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.DebugContext(ctx, "relay: from server", "payload", telemetry.Payload(s.cfg.LogPayloads, tm.Raw))
	}
	f, err := jsonrpc.ParseFrame(tm.Raw)
	if err != nil {
		s.log.WarnContext(ctx, "relay: malformed frame from upstream dropped", "err", err)
		return
	}
	if f.Batch {
		s.log.DebugContext(ctx, "relay: splitting upstream batch", "len", len(f.Messages))
	}
	for i, m := range f.Messages {
		if m == nil {
			s.log.WarnContext(ctx, "relay: invalid batch element from upstream dropped", "index", i, "err", f.Errors[i])
			continue
		}
		if err := s.serverMessage(ctx, m, tm.Related); err != nil {
			// The handshake failed: the session is ending (initialize
			// returns the error to Run).
			return
		}
	}
}

// serverMessage handles one message from the server; related is the
// upstream's Message.Related (a broker id).
func (s *session) serverMessage(ctx context.Context, m *jsonrpc.Message, related json.RawMessage) error {
	switch m.Kind {
	case jsonrpc.KindRequest:
		s.serverRequest(ctx, m, related)
	case jsonrpc.KindNotification:
		s.serverNotification(ctx, m, related)
	default:
		return s.serverResponse(ctx, m, related)
	}
	return nil
}

// clientRelated maps the upstream's Related (a broker id) to the id of the
// client request it belongs to.
func (s *session) clientRelated(related json.RawMessage) json.RawMessage {
	if len(related) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.pending[jsonrpc.IDKey(related)]; c != nil && !c.init {
		return c.clientID
	}
	return nil
}

func (s *session) serverRequest(ctx context.Context, m *jsonrpc.Message, related json.RawMessage) {
	l := s.link.Load()
	var span *telemetry.Call
	if s.tel != nil {
		ctx, span = s.startServerRequest(ctx, m, l, related)
	}
	if m.Method == methodPing {
		// Ping is hop by hop: the broker answers for the client.
		_, es := s.startEmulation(ctx, telemetry.EmulationSyntheticAnswer, m.Method)
		s.answerUp(ctx, span, m.Method, translators.EmptyResult(m.ID), m.ID, &telemetry.Result{})
		es.End()
		return
	}
	if l == nil {
		s.answerUp(ctx, span, m.Method, invalidRequest(m.ID, "the session is not initialized"), m.ID, nil)
		return
	}
	if ve := s.validate(ctx, l.upRev, m, schemas.FromServer, "", s.cfg.ServerValidation); ve != nil {
		s.answerUp(ctx, span, m.Method, validationError(m.ID, ve.Code(), ve), m.ID, nil)
		return
	}
	tctx := l.tctx
	out := s.translate(ctx, l.s2c, m, translators.ServerToClient, &tctx, m.Method)
	s.logOutcome(ctx, "s2c", m.Method, m, out)
	switch {
	case out.Kind == translators.Forward:
	case out.Kind == translators.Answer && out.Reply != nil:
		_, es := s.startEmulation(ctx, telemetry.EmulationSyntheticAnswer, m.Method)
		s.answerUp(ctx, span, m.Method, out.Reply, m.ID, nil)
		es.End()
		return
	default:
		s.answerUp(ctx, span, m.Method, s.refusal(m.ID, m.Method, l.clientRev, out), m.ID, nil)
		return
	}
	sc := &serverCall{serverID: bytes.Clone(m.ID), serverKey: jsonrpc.IDKey(m.ID), method: m.Method, span: span}
	s.mu.Lock()
	if _, dup := s.byServer[sc.serverKey]; dup {
		s.mu.Unlock()
		s.answerUp(ctx, span, m.Method, invalidRequest(m.ID, "request id "+string(m.ID)+" is already in use by a pending request"), m.ID, nil)
		return
	}
	s.nextServer++
	sc.brokerID = strconv.AppendQuote(nil, serverIDPrefix+strconv.FormatInt(s.nextServer, 10))
	sc.key = jsonrpc.IDKey(sc.brokerID)
	raw := withID(out.Message, m, sc.brokerID)
	if s.tel != nil {
		// Under s.mu: the client's answer may not end sc.out before it
		// is set.
		var cctx context.Context
		cctx, sc.out = s.tel.p.StartClient(ctx, s.clientOp(m.Method, sc.brokerID, m.Params, l.clientRev))
		if injected, err := telemetry.InjectMessage(cctx, raw); err == nil {
			raw = injected
		}
	}
	s.serverCalls[sc.key] = sc
	s.byServer[sc.serverKey] = sc.key
	s.mu.Unlock()
	s.sendClient(ctx, raw, s.clientRelated(related))
}

func (s *session) serverNotification(ctx context.Context, m *jsonrpc.Message, related json.RawMessage) {
	l := s.link.Load()
	if s.tel != nil {
		var span *telemetry.Call
		ctx, span = s.startServerRequest(ctx, m, l, related)
		defer span.End(telemetry.Result{})
	}
	if l == nil {
		s.log.DebugContext(ctx, "relay: upstream notification before the handshake dropped", "method", m.Method)
		return
	}
	s.cacheNotified(l, m)
	if ve := s.validate(ctx, l.upRev, m, schemas.FromServer, "", s.cfg.ServerValidation); ve != nil {
		return // logged by validate
	}
	if m.Method == methodAcknowledged {
		s.acknowledged(ctx, m, related)
	}
	rel := s.clientRelated(related)
	var cancelled *serverCall
	switch m.Method {
	case methodCancelled:
		reqID := translators.Parse(m.Params).Get("requestId")
		if reqID == nil {
			break // task cancellation (2025-11-25): nothing to rewrite
		}
		s.mu.Lock()
		cancelled = s.serverCalls[s.byServer[jsonrpc.IDKey(reqID.Raw())]]
		s.mu.Unlock()
		if cancelled == nil {
			s.log.DebugContext(ctx, "relay: upstream cancellation of an unknown or finished request dropped", "requestId", string(reqID.Raw()))
			return
		}
	case methodProgress:
		if rel == nil {
			if tok := translators.Parse(m.Params).Get("progressToken"); tok != nil {
				s.mu.Lock()
				if c := s.progress[jsonrpc.IDKey(tok.Raw())]; c != nil {
					rel = c.clientID
				}
				s.mu.Unlock()
			}
		}
	}
	tctx := l.tctx
	out := l.s2c.Translate(m, translators.ServerToClient, &tctx)
	s.logOutcome(ctx, "s2c", m.Method, m, out)
	if out.Kind != translators.Forward {
		return
	}
	raw := out.Message
	if cancelled != nil {
		s.mu.Lock()
		_, mine := s.serverCalls[cancelled.key]
		s.removeServerLocked(cancelled)
		s.mu.Unlock()
		if mine {
			endServerCall(cancelled, telemetry.Failure("cancelled", "the server cancelled the request"))
		}
		raw = translators.SetParam(raw, "requestId", cancelled.brokerID)
	}
	s.notifyClient(ctx, m.Method, m.Params, raw, rel, false)
}

// serverResponse relays the server's answer to a client request (or
// completes the handshake).
//
// An error response without an id (3.F4: the server could not read the
// request's id) answers the request named by related when the transport
// knows it (the POST it came back on); otherwise it is logged and dropped.
func (s *session) serverResponse(ctx context.Context, m *jsonrpc.Message, related json.RawMessage) error {
	if len(m.ID) == 0 || m.ID[0] == 'n' {
		if len(related) == 0 {
			s.log.WarnContext(ctx, "relay: upstream error response without an id dropped", "error", string(m.Error))
			return nil
		}
		fixed, err := jsonrpc.Parse(withID(m.Raw, m, related))
		if err != nil {
			s.log.WarnContext(ctx, "relay: upstream error response without an id dropped", "error", string(m.Error), "err", err)
			return nil
		}
		m = fixed
	}
	c := s.take(jsonrpc.IDKey(m.ID))
	if c == nil {
		s.log.DebugContext(ctx, "relay: upstream response to an unknown, cancelled or expired request dropped", "id", string(m.ID))
		return nil
	}
	// rr is how the upstream answered, for the CLIENT span and, when the
	// answer is forwarded as is, the client request's SERVER span (read
	// once: it scans a tools/call result for isError).
	var rr telemetry.Result
	answer := m
	if s.tel != nil {
		rr = resultOf(c.method, m)
		if sctx := s.endUp(c, rr); sctx != nil {
			ctx = sctx // the SERVER span's: validation and translation of the answer are its children
		}
	}
	switch {
	case c.reinit != nil:
		c.reinit <- m
		return nil
	case c.internal:
		if m.Kind == jsonrpc.KindError {
			s.log.WarnContext(ctx, "relay: the upstream refused a request of the broker's", "method", c.method, "error", string(m.Error))
		}
		s.releaseWaiters(ctx, c.key, nil) // a listen that ended
		return nil
	}
	if c.init {
		if c.discover {
			return s.finishDiscover(ctx, c, m)
		}
		return s.finishHandshake(ctx, c, m)
	}
	l := s.link.Load()
	if m = s.toolHeaderAnswer(l, c, m); m == nil {
		return nil // 4.T5: sent again with fresh x-mcp-header annotations
	}
	if s.cfg.ServerValidation == Strict {
		if ve := s.validate(ctx, l.upRev, m, schemas.FromServer, c.method, Strict); ve != nil {
			s.replyClient(ctx, c.clientID, c.batch, validationError(c.clientID, jsonrpc.CodeInternalError, ve))
			return nil
		}
	} else {
		// Warn (or off): the verdict changes nothing but a log line, so
		// the answer goes out first and is checked after, off the
		// request's critical path.
		defer s.validate(ctx, l.upRev, m, schemas.FromServer, c.method, s.cfg.ServerValidation)
	}
	tctx := l.tctx
	tctx.Method = c.method
	out := s.translate(ctx, l.s2c, m, translators.ServerToClient, &tctx, c.method)
	s.logOutcome(ctx, "s2c", tctx.Method, m, out)
	var raw []byte
	switch {
	case out.Kind == translators.Forward:
		if s.tel != nil {
			if m != answer {
				rr = resultOf(c.method, m)
			}
			s.tel.settle(c.clientKey, rr)
		}
		if m.Kind == jsonrpc.KindError && s.cfg.Audit != nil {
			code, msg := errorOf(m.Raw)
			s.audit(ctx, telemetry.Event{Kind: telemetry.AuditUpstreamError, Outcome: telemetry.OutcomeError, Side: "server",
				Method: c.method, RequestID: telemetry.AuditRequestID(c.clientID), ErrorCode: code, Detail: msg})
		}
		raw = s.forwardedAnswer(l, c.method, out.Message, m, c.clientID)
		s.cacheStore(c, m)
	case out.Kind == translators.Emulate && c.upRaw != nil && s.inputRequired(ctx, l, c, m):
		return nil // 4.M6: the input requests went to the client
	default:
		raw = s.refusal(c.clientID, c.method, l.clientRev, out)
		if s.cfg.Audit != nil {
			code, msg := errorOf(raw)
			s.audit(ctx, telemetry.Event{Kind: telemetry.AuditProtocolError, Outcome: telemetry.OutcomeRejected, Side: "server",
				Method: c.method, RequestID: telemetry.AuditRequestID(c.clientID), ErrorCode: code, Detail: msg})
		}
	}
	s.replyClient(ctx, c.clientID, c.batch, raw)
	return nil
}

// finishHandshake handles the upstream's answer to the broker's
// initialize: it fixes the upstream revision, publishes the link and
// answers the client's initialize.
func (s *session) finishHandshake(ctx context.Context, c *call, m *jsonrpc.Message) error {
	fail := func(reply []byte, err error) error {
		s.auditHandshake(ctx, c, reply, m.Kind == jsonrpc.KindError)
		s.sendClient(ctx, reply, c.clientID)
		err = fmt.Errorf("%w: %w", ErrHandshake, err)
		s.log.WarnContext(ctx, "relay: upstream handshake failed", "err", err)
		s.handshake <- err
		return err
	}
	if m.Kind == jsonrpc.KindError {
		return fail(withID(m.Raw, m, c.clientID), fmt.Errorf("upstream answered initialize with error %s", m.Error))
	}
	res := translators.Parse(m.Result)
	pv := res.Get("protocolVersion").Str()
	upRev, err := schemas.ParseRevision(pv)
	if err == nil && upRev.Stateless() {
		err = fmt.Errorf("%w: %s has no initialize handshake", schemas.ErrUnsupportedRevision, upRev)
	}
	if err != nil {
		return fail(jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError,
			fmt.Sprintf("mcpbroker: the upstream server answered protocolVersion %q, which the broker does not speak", pv),
			map[string]any{"supported": legacyNames()}), err)
	}
	if ve := s.validate(ctx, upRev, m, schemas.FromServer, methodInitialize, s.cfg.ServerValidation); ve != nil {
		return fail(validationError(c.clientID, jsonrpc.CodeInternalError, ve), ve)
	}
	s.mu.Lock()
	clientRev, tctx := s.clientRev, s.tctx
	s.mu.Unlock()
	tctx.ServerInfo = bytes.Clone(res.Get("serverInfo").Raw())
	tctx.ServerCapabilities = bytes.Clone(res.Get("capabilities").Raw())
	l := &link{clientRev: clientRev, upRev: upRev, tctx: tctx}
	if l.c2s, err = translators.NewChain(clientRev, upRev); err == nil {
		l.s2c, err = translators.NewChain(upRev, clientRev)
	}
	if err != nil {
		return fail(jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil), err)
	}
	tc := tctx
	tc.Method = methodInitialize
	out := l.s2c.Translate(m, translators.ServerToClient, &tc)
	s.logOutcome(ctx, "s2c", tc.Method, m, out)
	if out.Kind != translators.Forward {
		return fail(s.refusal(c.clientID, methodInitialize, clientRev, out), fmt.Errorf("InitializeResult: %s %s: %s", out.Kind, out.Row, out.Reason))
	}
	n := translators.Parse(out.Message)
	n.Set("id", translators.Parse(c.clientID))
	n.Get("result").Set("protocolVersion", translators.NewString(clientRev.String()))
	s.link.Store(l)
	s.setRevisions(l)
	s.log.InfoContext(ctx, "relay: session established", "client_revision", clientRev, "upstream_revision", upRev,
		"offered", s.cfg.UpstreamRevision)
	s.sendClient(ctx, n.Raw(), c.clientID)
	s.handshake <- nil
	return nil
}

// setRevisions tells the transports that carry the revision (the
// MCP-Protocol-Version header of Streamable HTTP, 2.T2) the revision of
// their side, and arranges for the upstream's stream of unsolicited
// messages to open when the client listens for them: at once, unless the
// client's transport says when (a Streamable HTTP client opening its GET
// stream).
func (s *session) setRevisions(l *link) {
	if rs, ok := s.client.(transport.RevisionSetter); ok {
		rs.SetRevision(l.clientRev)
	}
	s.upMu.Lock()
	if rs, ok := s.up.(transport.RevisionSetter); ok {
		rs.SetRevision(l.upRev)
	}
	s.upMu.Unlock()
	if w, ok := s.client.(transport.StreamWatcher); ok {
		w.OnStream(s.openStream)
	} else {
		s.openStream()
	}
}

// ---- shared helpers ----

// validate checks m against revision rev. It returns a non-nil error only
// when the message must be refused (Strict); in Warn mode it logs.
func (s *session) validate(ctx context.Context, rev schemas.Revision, m *jsonrpc.Message, from schemas.Sender, method string, mode Mode) *schemas.ValidationError {
	if mode == Off {
		return nil
	}
	var v telemetry.Validation
	if s.tel != nil {
		name := m.Method
		if name == "" {
			name = method
		}
		v = s.startValidation(ctx, rev, from, name)
	}
	err := s.cfg.Validator.Validate(rev, m, schemas.Check{Method: method, From: from})
	v.End(err)
	if err == nil {
		return nil
	}
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) {
		ve = &schemas.ValidationError{Revision: rev, Method: m.Method, Issues: []schemas.Issue{{Message: err.Error()}}}
	}
	if s.cfg.Audit != nil {
		s.auditInvalid(ctx, m, from, method, mode, ve)
	}
	if mode == Strict {
		s.log.WarnContext(ctx, "relay: invalid message refused", "from", from, "kind", m.Kind, "err", err)
		return ve
	}
	s.log.WarnContext(ctx, "relay: invalid message relayed", "from", from, "kind", m.Kind, "err", err)
	return nil
}

// refusal is the error response for a message the chain did not forward:
// Reject's own error; otherwise (Answer without a reply, Emulate, Drop of a
// non-notification) -32601 when the target revision has no such method,
// else -32603, naming the REVISIONS.md row and its reason. The stateful
// emulations are not implemented by the relay.
func (s *session) refusal(id json.RawMessage, method string, target schemas.Revision, out translators.Outcome) []byte {
	if out.Kind == translators.Reject && out.Error != nil {
		return jsonrpc.ErrorResponse(id, out.Error.Code, out.Error.Message, out.Error.Data)
	}
	code := jsonrpc.CodeInternalError
	what := "is not supported by mcpbroker yet"
	if s.cfg.Validator != nil {
		if _, ok := s.cfg.Validator.Method(target, method); !ok {
			code = jsonrpc.CodeMethodNotFound
			what = "does not exist in " + target.String() + " and mcpbroker does not emulate it yet"
		}
	}
	msg := fmt.Sprintf("mcpbroker: %s %s (REVISIONS.md %s, %s): %s", method, what, out.Row, out.Kind, out.Reason)
	return jsonrpc.ErrorResponse(id, code, msg, map[string]string{"row": out.Row, "outcome": out.Kind.String()})
}

// logOutcome logs what the chain did to a message, at debug level.
func (s *session) logOutcome(ctx context.Context, dir, method string, m *jsonrpc.Message, out translators.Outcome) {
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	if out.Kind == translators.Forward && len(out.Applied) == 0 {
		return
	}
	s.log.DebugContext(ctx, "relay: translated", "dir", dir, "kind", m.Kind, "method", method,
		"outcome", out.Kind, "row", out.Row, "reason", out.Reason, "applied", out.Applied, "losses", len(out.Losses))
}

func legacyNames() []string {
	var out []string
	for _, r := range legacy() {
		out = append(out, r.String())
	}
	return out
}

// forwardedAnswer is the client's answer to a request (method) that the
// server answered with m, which the chain forwarded as raw: raw with the
// client's id, tools marked for task emulation (4.M5). A cached result
// takes the same way (cache.go).
func (s *session) forwardedAnswer(l *link, method string, raw []byte, m *jsonrpc.Message, clientID json.RawMessage) []byte {
	return s.markTaskTools(l, method, withID(raw, m, clientID)) // 4.M5
}

// withID returns raw, the chain's output for m, with its id replaced by
// id. When the chain left m untouched (raw is m.Raw), the new id is spliced
// in where the parser found the old one; otherwise the lazy Node rewrites
// the top-level member (adding it when m had none).
func withID(raw []byte, m *jsonrpc.Message, id json.RawMessage) []byte {
	if off, ok := idOffset(raw, m); ok {
		out := make([]byte, 0, len(raw)-len(m.ID)+len(id))
		out = append(out, raw[:off]...)
		out = append(out, id...)
		return append(out, raw[off+len(m.ID):]...)
	}
	n := translators.Parse(raw)
	n.Set("id", translators.Parse(id))
	return n.Raw()
}

// idOffset returns where m.ID lies in raw when raw is m.Raw itself. m.ID
// and m.Raw are subslices of the same parsed input, so the difference of
// their capacities is the offset; the pointer comparison proves it.
func idOffset(raw []byte, m *jsonrpc.Message) (int, bool) {
	if len(raw) == 0 || len(m.ID) == 0 || len(raw) != len(m.Raw) || &raw[0] != &m.Raw[0] {
		return 0, false
	}
	off := cap(m.Raw) - cap(m.ID)
	if off <= 0 || off+len(m.ID) > len(raw) || &raw[off] != &m.ID[0] {
		return 0, false
	}
	return off, true
}

func invalidRequest(id json.RawMessage, detail string) []byte {
	return jsonrpc.ErrorResponse(id, jsonrpc.CodeInvalidRequest, "Invalid Request: "+detail, nil)
}

func upstreamClosed(id json.RawMessage) []byte {
	return jsonrpc.ErrorResponse(id, jsonrpc.CodeInternalError, "mcpbroker: upstream closed", nil)
}

// validationError is the error response for an invalid message: the
// validation error's text, and its issues in data.
func validationError(id json.RawMessage, code int, ve *schemas.ValidationError) []byte {
	data := map[string]any{"revision": ve.Revision.String(), "issues": ve.Issues}
	if ve.Definition != "" {
		data["definition"] = ve.Definition
	}
	return jsonrpc.ErrorResponse(id, code, "mcpbroker: invalid message: "+ve.Error(), data)
}
