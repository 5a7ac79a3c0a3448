// Package bridge serves stateless 2026-07-28 clients from legacy MCP
// servers (REVISIONS.md section 4, the NC→OS direction).
//
// A 2026-07-28 client has no session: every request carries its revision,
// client capabilities, client info and log level in params._meta. A legacy
// server (2024-11-05 to 2025-11-25) needs an initialize handshake and keeps
// per-session state. The bridge reconciles the two with a pool of legacy
// upstream sessions, called lanes, keyed by the principal (a digest of the
// request's credentials) and the request's client capabilities (4.L1,
// 4.F7): requests with the same key share one initialized legacy session;
// the pool is bounded and idle lanes expire.
//
// Each lane is a [relay] session whose client is the bridge itself,
// speaking 2025-11-25 over an in-memory [transport.Pipe]: the relay owns
// the upstream (dial, handshake, translation from 2025-11-25 down to the
// server's revision, validation, restarts, id remapping), and the bridge
// owns what 2026-07-28 changed (translated by the 2026-07-28 ↔ 2025-11-25
// chain, with the emulations that chain leaves to the broker):
//
//   - server/discover is answered from the lane's InitializeResult (4.L2);
//   - the per-request logLevel becomes logging/setLevel on the lane (4.M2);
//   - a legacy server's sampling/elicitation/roots request during a
//     tools/call, prompts/get or resources/read suspends the call: the
//     client gets an InputRequiredResult whose requestState is sealed
//     ([sealed.Sealer]: AES-GCM, bound to the principal, single use, with
//     an expiry), the upstream call stays open, and the client's retry
//     delivers the answers to the server and resumes it (4.M6);
//   - subscriptions/listen becomes resources/subscribe on the lane and a
//     fan-out of the lane's list_changed and resources/updated
//     notifications, tagged with the listen's subscriptionId (4.M3, 4.M10);
//   - a closed 2026 stream (notifications/cancelled from the transport)
//     cancels the upstream call (4.M8); progress of a suspended call is
//     buffered and delivered on the retry's stream (4.M9).
package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/session"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// Defaults for the zero fields of [Config].
const (
	DefaultMaxLanes       = 1000
	DefaultLaneIdleTTL    = 10 * time.Minute
	DefaultGather         = 20 * time.Millisecond
	DefaultHandshakeLimit = 30 * time.Second
)

// The reserved _meta keys of 2026-07-28 the bridge reads and writes.
const (
	metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"
	metaClientCaps      = "io.modelcontextprotocol/clientCapabilities"
	metaClientInfo      = "io.modelcontextprotocol/clientInfo"
	metaLogLevel        = "io.modelcontextprotocol/logLevel"
	metaServerInfo      = "io.modelcontextprotocol/serverInfo"
	metaSubscriptionID  = "io.modelcontextprotocol/subscriptionId"
)

// Method names the bridge handles itself.
const (
	methodDiscover     = "server/discover"
	methodListen       = "subscriptions/listen"
	methodCancelled    = "notifications/cancelled"
	methodProgress     = "notifications/progress"
	methodMessage      = "notifications/message"
	methodAcknowledged = "notifications/subscriptions/acknowledged"
)

// laneRevision is the revision the bridge speaks to its lanes: the newest
// legacy one, so that only the 2026-07-28 ↔ 2025-11-25 step is the
// bridge's and everything older is the relay's.
const laneRevision = schemas.V20251125

// Config configures [Serve].
type Config struct {
	// Relay configures the relay session of every lane (validation,
	// upstream revision, request timeout, logger). Relay.Validator, when
	// set, also checks the 2026-07-28 client's messages with
	// Relay.ClientValidation.
	Relay relay.Config
	// Dial opens an upstream session for a new lane. Required.
	Dial func(context.Context) (transport.Conn, error)
	// Sealer seals and opens the requestState of suspended calls.
	// Required.
	Sealer *sealed.Sealer
	// Instance names this broker replica in the requestStates it seals; a
	// retry carrying another replica's state is refused with a message
	// naming it (route retries to the replica that holds the call).
	Instance string
	// MaxLanes bounds the pooled legacy sessions; beyond it the least
	// recently used idle lane is closed. Zero means [DefaultMaxLanes].
	MaxLanes int
	// LaneIdleTTL closes a lane with no request, suspended call or listen
	// for that long. Zero means [DefaultLaneIdleTTL].
	LaneIdleTTL time.Duration
	// InputTimeout bounds how long a suspended call waits for the client's
	// retry; then the bridge answers the server's pending requests on the
	// client's behalf (elicitation: cancel; sampling and roots: an error)
	// and cancels the upstream call. Zero means the Sealer's MaxAge.
	InputTimeout time.Duration
	// Gather is how long the bridge waits after a server request for more
	// before it sends the InputRequiredResult (4.M6 "short debounce").
	// Zero means [DefaultGather].
	Gather time.Duration
	// CredentialHeaders lists the HTTP request headers whose values make
	// up the principal (a SHA-256 digest; the values are never kept or
	// logged). Nil means Authorization; empty means every request is the
	// same principal.
	CredentialHeaders []string
	// CacheTTLMs and CacheScope are the caching hints put on list and read
	// results toward the client (4.F2); zero values give ttlMs 0 and
	// cacheScope "private".
	CacheTTLMs int64
	CacheScope string
}

// ErrConfig is returned, wrapped, by Serve for a Config without Dial or
// Sealer.
var ErrConfig = errors.New("bridge: bad configuration")

func (c Config) withDefaults() (Config, error) {
	if c.Dial == nil || c.Sealer == nil {
		return c, fmt.Errorf("%w: Dial and Sealer are required", ErrConfig)
	}
	if c.Relay.Logger == nil {
		c.Relay.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Relay.ClientValidation == 0 {
		c.Relay.ClientValidation = relay.Strict
	}
	if c.MaxLanes <= 0 {
		c.MaxLanes = DefaultMaxLanes
	}
	if c.LaneIdleTTL <= 0 {
		c.LaneIdleTTL = DefaultLaneIdleTTL
	}
	if c.InputTimeout <= 0 {
		c.InputTimeout = c.Sealer.MaxAge()
	}
	if c.Gather <= 0 {
		c.Gather = DefaultGather
	}
	if c.CredentialHeaders == nil {
		c.CredentialHeaders = []string{"Authorization"}
	}
	return c, nil
}

// Serve answers the 2026-07-28 requests arriving on client until ctx ends
// or client's Recv fails; then it closes every lane and returns the cause.
// client is typically the Conn of a [transport.HTTP2026Server] (one for
// the whole endpoint, ids unique across HTTP clients), or a stdio Conn of
// one 2026-07-28 client.
func Serve(ctx context.Context, client transport.Conn, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	down, err := translators.NewChain(schemas.V20260728, laneRevision)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	up, err := translators.NewChain(laneRevision, schemas.V20260728)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	b := &bridge{
		ctx:       ctx,
		cfg:       cfg,
		log:       cfg.Relay.Logger,
		client:    client,
		down:      down,
		up:        up,
		creating:  map[string]*lane{},
		calls:     map[string]*call{},
		byLane:    map[string]*call{},
		suspended: map[string]*call{},
		listens:   map[string]*listen{},
		progress:  map[string]*call{},
		starting:  map[string]*dispatching{},
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	b.handlePrefix = hex.EncodeToString(rnd[:]) + "-"
	if b.tel = newBridgeTelemetry(cfg.Relay.Telemetry, client); b.tel != nil {
		defer b.tel.close() // after shutdown
	}
	b.lanes = session.New(session.Options[*lane]{
		MaxSessions: cfg.MaxLanes,
		IdleTTL:     cfg.LaneIdleTTL,
		Busy:        func(l *lane) bool { return l.busy.Load() > 0 },
		OnEnd:       func(_ string, l *lane, why session.Reason) { l.end("lane "+why.String(), false) },
		Logger:      b.log,
	})
	defer b.shutdown()
	for {
		m, err := client.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			if errors.Is(err, io.EOF) {
				// The client closed its side (stdio): the requests it
				// already sent are still answered.
				b.drain(ctx)
				return nil
			}
			return fmt.Errorf("bridge: client: %w", err)
		}
		b.fromClient(ctx, m)
	}
}

// drainLimit bounds how long Serve waits, after the client closed its
// side, for the answers to the requests it sent before.
const drainLimit = 30 * time.Second

// drain waits until every request the client sent has been answered (a
// suspended call cannot be retried any more and does not count), ctx ends
// or drainLimit passes.
func (b *bridge) drain(ctx context.Context) {
	b.reqs.Wait()
	b.mu.Lock()
	if len(b.calls) == 0 {
		b.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	b.idle = idle
	b.mu.Unlock()
	t := time.NewTimer(drainLimit)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
		b.log.WarnContext(ctx, "bridge: the client closed its side; requests still unanswered", "after", drainLimit)
	case <-ctx.Done():
	}
}

// callsChangedLocked wakes drain once no request waits for an answer;
// b.mu is held.
func (b *bridge) callsChangedLocked() {
	if b.idle != nil && len(b.calls) == 0 {
		close(b.idle)
		b.idle = nil
	}
}

// bridge is the state of one Serve.
type bridge struct {
	ctx    context.Context
	cfg    Config
	log    *slog.Logger
	client transport.Conn
	down   *translators.Chain // 2026-07-28 -> 2025-11-25: the client's messages
	up     *translators.Chain // 2025-11-25 -> 2026-07-28: the lanes' messages
	lanes  *session.Registry[*lane]
	lanesW sync.WaitGroup // lane goroutines
	timers sync.WaitGroup // timer callbacks at work
	reqs   sync.WaitGroup // client requests being dispatched

	clientMu sync.Mutex // serializes sends to the client

	mu        sync.Mutex
	closed    bool
	nextID    int64
	calls     map[string]*call        // client id key -> call answering it now
	byLane    map[string]*call        // lane id key -> call
	suspended map[string]*call        // handle -> call waiting for the retry
	listens   map[string]*listen      // client id key -> listen
	creating  map[string]*lane        // lanes being created, by key
	progress  map[string]*call        // the bridge's progress token key -> call
	starting  map[string]*dispatching // client id key -> the latest request with that id being dispatched
	// handlePrefix starts the handles of suspended calls: random per
	// Serve, so that a requestState sealed before a restart (same key)
	// names no call of this run.
	handlePrefix string
	handles      int64
	idle         chan struct{}    // closed by callsChangedLocked while drain waits
	tel          *bridgeTelemetry // nil when telemetry is off (telemetry.go)
}

// shutdown closes every lane and waits for their goroutines.
func (b *bridge) shutdown() {
	b.mu.Lock()
	b.closed = true
	for _, c := range b.suspended {
		b.stopTimers(c)
	}
	for _, c := range b.calls {
		b.stopTimers(c)
	}
	b.mu.Unlock()
	b.reqs.Wait()
	b.timers.Wait()
	b.lanes.Close()
	b.lanesW.Wait()
}

// newID returns a fresh id (a JSON string) for the lane id space.
func (b *bridge) newID(prefix string) json.RawMessage {
	n := atomic.AddInt64(&b.nextID, 1)
	return strconv.AppendQuote(nil, prefix+strconv.FormatInt(n, 10))
}

// sendClient sends one frame to the client; related is the client id (in
// the client Conn's id space) of the request it belongs to.
func (b *bridge) sendClient(ctx context.Context, raw []byte, related json.RawMessage) {
	if b.tel != nil {
		defer b.tel.sent(related, raw)
	}
	b.clientMu.Lock()
	defer b.clientMu.Unlock()
	if err := b.client.Send(ctx, transport.Message{Raw: raw, Related: related}); err != nil {
		b.log.DebugContext(ctx, "bridge: send to client failed", "err", err)
	}
}

// replyError answers a client request with a JSON-RPC error.
func (b *bridge) replyError(ctx context.Context, id json.RawMessage, code int, msg string, data any) {
	b.sendClient(ctx, jsonrpc.ErrorResponse(id, code, msg, data), id)
}

// principal names the credentials of the client request with that id as
// transport.Principaled names a session's ("" when the transport does not
// say, as on stdio with its one local principal, or when no credential
// header is configured).
func (b *bridge) principal(id json.RawMessage) string {
	rh, ok := b.client.(transport.RequestHeaders)
	if !ok || len(b.cfg.CredentialHeaders) == 0 {
		return ""
	}
	h, ok := rh.RequestHeader(id)
	if !ok {
		return ""
	}
	return transport.PrincipalOf(h, b.cfg.CredentialHeaders)
}

// ---- from the client ----

func (b *bridge) fromClient(ctx context.Context, tm transport.Message) {
	if b.tel != nil && tm.Trace != nil {
		ctx = withHTTPTrace(ctx, tm.Trace)
	}
	f, err := jsonrpc.ParseFrame(tm.Raw)
	if err != nil {
		b.log.WarnContext(ctx, "bridge: unreadable client message", "err", err)
		// ParseFrame's error is the answer: -32700 for what is not JSON,
		// -32600 (to the request's id when it could be read) for JSON that
		// is no JSON-RPC message.
		var je *jsonrpc.Error
		if !errors.As(err, &je) {
			je = &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "Parse error: " + err.Error()}
		}
		b.auditUnread(ctx, je.ID, je.Code, je.Message)
		b.sendClient(ctx, je.Response(), je.ID)
		return
	}
	if f.Batch {
		b.auditUnread(ctx, nil, jsonrpc.CodeInvalidRequest, "2026-07-28 has no JSON-RPC batches")
		// 2026-07-28 has no batches (removed in 2025-06-18).
		b.sendClient(ctx, jsonrpc.ErrorResponse(nil, jsonrpc.CodeInvalidRequest, "Invalid Request: 2026-07-28 has no JSON-RPC batches", nil), nil)
		return
	}
	m := f.Messages[0]
	switch m.Kind {
	case jsonrpc.KindRequest:
		b.clientRequest(ctx, m)
	case jsonrpc.KindNotification:
		b.clientNotification(ctx, m)
	default:
		// 4.J1: a 2026-07-28 client sends no responses.
		b.log.WarnContext(ctx, "bridge: a 2026-07-28 client sent a response; dropped (4.J1)", "id", string(m.ID))
	}
}

// validate checks a client message against 2026-07-28 when configured;
// it answers an invalid request itself and reports whether m is valid.
func (b *bridge) validate(ctx context.Context, m *jsonrpc.Message) bool {
	v := b.cfg.Relay.Validator
	if v == nil || b.cfg.Relay.ClientValidation == relay.Off {
		return true
	}
	err := v.Validate(schemas.V20260728, m, schemas.Check{From: schemas.FromClient})
	if err == nil {
		return true
	}
	var ve *schemas.ValidationError
	if !errors.As(err, &ve) {
		ve = &schemas.ValidationError{Revision: schemas.V20260728, Method: m.Method, Issues: []schemas.Issue{{Message: err.Error()}}}
	}
	if b.cfg.Relay.ClientValidation == relay.Warn {
		b.log.WarnContext(ctx, "bridge: invalid client message relayed", "method", m.Method, "err", err)
		b.audit(ctx, m, telemetry.Event{Kind: telemetry.AuditValidationRejected, Outcome: telemetry.OutcomeWarned, Detail: relay.ValidationDetail(ve)})
		return true
	}
	b.log.WarnContext(ctx, "bridge: invalid client message refused", "method", m.Method, "err", err)
	e := telemetry.Event{Kind: telemetry.AuditValidationRejected, Outcome: telemetry.OutcomeRejected, Detail: relay.ValidationDetail(ve)}
	if m.Kind == jsonrpc.KindRequest {
		e.ErrorCode = ve.Code()
	}
	b.audit(ctx, m, e)
	if m.Kind == jsonrpc.KindRequest {
		data := map[string]any{"revision": ve.Revision.String(), "issues": ve.Issues}
		b.replyError(ctx, m.ID, ve.Code(), "mcpbroker: invalid message: "+ve.Error(), data)
	}
	return false
}

// requestFacts are the per-request facts of a 2026-07-28 request's _meta.
type requestFacts struct {
	method    string
	principal string
	caps      json.RawMessage // clientCapabilities as sent
	info      json.RawMessage // clientInfo, or nil
	logLevel  string
	token     json.RawMessage // _meta.progressToken, or nil
	dispatch  *dispatching    // the request's dispatch state
}

func factsOf(m *jsonrpc.Message) requestFacts {
	meta := translators.Parse(m.Params).Get("_meta")
	f := requestFacts{method: m.Method}
	if c := meta.Get(metaClientCaps); c.IsObject() {
		f.caps = c.Raw()
	}
	if i := meta.Get(metaClientInfo); i.IsObject() {
		f.info = i.Raw()
	}
	if l := meta.Get(metaLogLevel); l.IsString() {
		f.logLevel = l.Str()
	}
	if t := meta.Get("progressToken"); t != nil && (t.IsString() || t.IsNumber()) {
		f.token = t.Raw()
	}
	return f
}

func (b *bridge) clientRequest(ctx context.Context, m *jsonrpc.Message) {
	if b.tel != nil {
		ctx = b.tel.startRequest(ctx, m)
	}
	if !b.validate(ctx, m) {
		return
	}
	tctx := translators.Context{}
	out := b.down.Translate(m, translators.ClientToServer, &tctx)
	b.logOutcome("c2s", m, out)
	facts := factsOf(m)
	facts.principal = b.principal(m.ID)
	// The rest may wait for an upstream (a new lane's handshake, a
	// subscribe): it runs on its own goroutine so that one slow upstream
	// does not hold up the other clients of the endpoint. A cancel that
	// arrives meanwhile is remembered in starting.
	key := jsonrpc.IDKey(m.ID)
	d := &dispatching{}
	facts.dispatch = d
	b.mu.Lock()
	b.starting[key] = d
	b.mu.Unlock()
	b.reqs.Add(1)
	go func() {
		defer b.reqs.Done()
		b.dispatch(ctx, m, out, facts)
		b.mu.Lock()
		if b.starting[key] == d {
			delete(b.starting, key)
		}
		b.mu.Unlock()
	}()
}

// dispatching is a client request on its way to becoming a call or a
// listen. Each request has its own, so that a cancel marks the request it
// was meant for even when the client reuses the id of a cancelled one
// still being dispatched.
type dispatching struct {
	cancelled bool // guarded by b.mu
}

// started is called, with b.mu held, where a request becomes known to the
// bridge (a call or a listen); it reports whether the client cancelled it
// in the meantime.
func (b *bridge) started(key string, d *dispatching) (cancelled bool) {
	if d == nil {
		return false
	}
	if b.starting[key] == d {
		delete(b.starting, key)
	}
	return d.cancelled
}

// dispatch carries out the chain's outcome for a client request.
func (b *bridge) dispatch(ctx context.Context, m *jsonrpc.Message, out translators.Outcome, facts requestFacts) {
	switch out.Kind {
	case translators.Forward:
		b.forward(ctx, m, out.Message, facts)
	case translators.Answer:
		if out.Reply != nil {
			b.sendClient(ctx, out.Reply, m.ID)
			return
		}
		b.refuse(ctx, m, out)
	case translators.Emulate:
		switch {
		case m.Method == methodDiscover:
			b.discover(ctx, m, facts)
		case m.Method == methodListen:
			b.listen(ctx, m, facts)
		case out.Row == "4.M6":
			b.retry(ctx, m, facts)
		default:
			b.refuse(ctx, m, out)
		}
	default:
		b.refuse(ctx, m, out)
	}
}

// refuse answers a request the chain did not forward and the bridge does
// not emulate.
func (b *bridge) refuse(ctx context.Context, m *jsonrpc.Message, out translators.Outcome) {
	if out.Kind == translators.Reject && out.Error != nil {
		b.rejectError(ctx, m, out.Error.Code, out.Error.Message, out.Error.Data)
		return
	}
	code := jsonrpc.CodeInternalError
	if v := b.cfg.Relay.Validator; v != nil {
		if _, ok := v.Method(schemas.V20260728, m.Method); !ok {
			code = jsonrpc.CodeMethodNotFound
		}
	}
	msg := fmt.Sprintf("mcpbroker: %s is not served to 2026-07-28 clients (REVISIONS.md %s, %s): %s", m.Method, out.Row, out.Kind, out.Reason)
	b.rejectError(ctx, m, code, msg, map[string]string{"row": out.Row, "outcome": out.Kind.String()})
}

func (b *bridge) logOutcome(dir string, m *jsonrpc.Message, out translators.Outcome) {
	if !b.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	b.log.Debug("bridge: translated", "dir", dir, "method", m.Method, "kind", m.Kind.String(),
		"outcome", out.Kind.String(), "row", out.Row, "applied", out.Applied, "losses", len(out.Losses))
}

func (b *bridge) clientNotification(ctx context.Context, m *jsonrpc.Message) {
	if m.Method != methodCancelled {
		// 2026-07-28 clients send only notifications/cancelled (and the
		// transport synthesizes it for a closed stream); anything else has
		// no legacy meaning on a pooled session.
		b.log.DebugContext(ctx, "bridge: client notification dropped", "method", m.Method)
		return
	}
	reqID := translators.Parse(m.Params).Get("requestId")
	if reqID == nil {
		return
	}
	key := jsonrpc.IDKey(reqID.Raw())
	if b.tel != nil {
		b.tel.cancelled(key)
	}
	b.mu.Lock()
	c := b.calls[key]
	var queued []*input
	if c != nil {
		queued = c.queued
		if !b.endLocked(c) {
			c = nil
		}
	}
	ls := b.listens[key]
	if ls != nil {
		delete(b.listens, key)
	}
	if d := b.starting[key]; d != nil && c == nil && ls == nil {
		d.cancelled = true
	}
	b.mu.Unlock()
	if c != nil {
		// 4.M8: a closed 2026-07-28 stream is a cancel upstream (after
		// answering the server requests gathered for the next round).
		c.lane.done()
		b.abandon(ctx, c, queued, "the client cancelled the request")
	}
	if ls != nil {
		b.unlisten(ctx, ls)
	}
}
