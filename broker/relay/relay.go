// Package relay relays one MCP client session to one upstream server
// session, each side speaking the protocol revision it negotiated.
//
// The relay owns the initialize handshake on both sides (REVISIONS.md 0.2
// rule 4): the client gets the revision it asked for when the broker knows
// it, and the broker negotiates its own revision with the server. Every
// message then goes through schema validation (per [Mode]) and through the
// translator chain of its direction, from the client's revision to the
// server's or back (package translators).
//
// The relay owns all JSON-RPC ids (rule 0.2 #3). Requests forwarded
// upstream carry broker integer ids 1, 2, 3, ... (the broker's first
// request, its initialize or server/discover, is 1); requests the server
// sends to the client carry broker string ids "mcpbroker-1",
// "mcpbroker-2", .... Responses are mapped back to the id the requester
// sent, byte for byte, and notifications/cancelled is rewritten to the id
// space of its receiver. Progress tokens are kept as the client sent them;
// the relay only remembers which request owns a token so that
// notifications/progress can be routed (transport.Message.Related).
//
// The client's revision is one of 2024-11-05 to 2025-11-25. The upstream
// is negotiated among those, or pinned to the stateless 2026-07-28
// (Config.UpstreamRevision), or either, as a server/discover probe finds
// (Config.UpstreamAuto, REVISIONS.md 4.L3). Toward a 2026-07-28 upstream
// the broker terminates the legacy session (initialize answered from
// server/discover, ping and logging/setLevel answered locally,
// per-request _meta added), turns the server's InputRequiredResult into
// legacy server-to-client requests, retrying with the client's answers,
// and mirrors tool arguments into Mcp-Param-* headers over HTTP
// (REVISIONS.md 4.L1, 4.L2, 4.M1, 4.M2, 4.M6, 4.T5). It emulates
// resources/subscribe over subscriptions/listen (4.M3) and, for a
// 2025-11-25 client, task-augmented tools/call and the tasks/* requests
// (4.M5, tasks.go: the broker runs the call in the background and keeps
// the session's tasks). 2026 clients are served by package bridge, whose
// pooled legacy sessions are relay sessions.
//
// With Config.Cache, the results of tools/list, prompts/list,
// resources/list, resources/templates/list and resources/read from a 2026
// server are kept as its ttlMs and cacheScope allow, and a repeated
// request is answered from them without reaching the server: public
// results are shared by every session of the upstream, private ones only
// by sessions of the same principal (transport.Principaled); notifications
// of changes and the loss of the upstream invalidate them (4.F2, 4.F7;
// cache.go).
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/cache"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// Mode says what the relay does with a message that fails schema
// validation. The zero Mode selects the default of the side: Strict for
// messages from the client, Warn for messages from the server.
type Mode uint8

// Validation modes.
const (
	// Strict refuses an invalid message: an invalid request is answered
	// with the JSON-RPC error of the validation failure
	// (schemas.ValidationError.Code, the issues in the message and in
	// data.issues); an invalid response is replaced by a -32603 error to
	// the requester; an invalid notification is dropped and logged. None of
	// them reaches the other side.
	Strict Mode = iota + 1
	// Warn logs an invalid message and relays it anyway.
	Warn
	// Off skips validation.
	Off
)

// String returns "strict", "warn", "off" or "default".
func (m Mode) String() string {
	switch m {
	case 0:
		return "default"
	case Strict:
		return "strict"
	case Warn:
		return "warn"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// CodeRequestTimeout is the JSON-RPC error code a client request gets when
// the upstream does not answer within Config.RequestTimeout. It is in the
// implementation-defined range, like the official SDKs' request timeout.
const CodeRequestTimeout = -32001

// Errors of the relay, matched with errors.Is.
var (
	// ErrUpstreamUnavailable: the upstream is gone and could not be
	// restarted (or a restart is waiting out its back-off). Requests get
	// a -32603 error whose message carries it; the session goes on.
	ErrUpstreamUnavailable = errors.New("upstream unavailable")
	// ErrHandshake: the upstream initialize failed (an error response, an
	// unknown protocolVersion, an invalid result, a timeout). The client's
	// initialize was answered with an error. Run returns it.
	ErrHandshake = errors.New("relay: upstream handshake failed")
)

// Config configures a relay session. The zero value is usable: no
// validation, negotiate the upstream revision, no logging, no timeout.
type Config struct {
	// Validator checks messages against the schema of their revision. It
	// is shared by all sessions (build it once with schemas.NewValidator).
	// A nil Validator disables validation whatever the modes say.
	Validator *schemas.Validator
	// UpstreamRevision is the protocolVersion the broker offers in its
	// initialize to the server. Zero means the newest legacy revision
	// (2025-11-25). Either way the server's answer is accepted when it
	// names a legacy revision the broker knows; anything else fails the
	// handshake. The stateless 2026-07-28 is used when named here (the
	// broker then sends server/discover instead of initialize and
	// requires the server to list 2026-07-28 among its supportedVersions)
	// or when UpstreamAuto finds it.
	UpstreamRevision schemas.Revision
	// UpstreamAuto makes the broker find out the upstream's era
	// (REVISIONS.md 4.L3, 4.T8) instead of assuming one: its first request
	// is server/discover with the 2026-07-28 _meta. A DiscoverResult that
	// lists 2026-07-28 selects the stateless bridge. A recognised 2026
	// error (-32020, -32021, or -32022 whose data.supported lists
	// 2026-07-28) fails the handshake as it would with UpstreamRevision
	// 2026-07-28. Any other answer (an error such as -32601 or -32600, a
	// -32022 without 2026-07-28, an HTTP 400 without a 2026 error, a
	// result that is no such DiscoverResult) or none within ProbeTimeout
	// means a legacy server: the broker sends it the initialize of the
	// legacy handshake, offering UpstreamRevision (which must then be a
	// legacy revision or zero), on the same connection or on one from
	// LegacyDial. Off by default.
	UpstreamAuto bool
	// LegacyDial, with UpstreamAuto, dials the upstream anew for the
	// legacy handshake when the probe found a legacy server, for
	// transports whose 2026 and legacy clients differ (Streamable HTTP:
	// the probe goes over transport.DialHTTP2026, the session over
	// transport.DialHTTP); the probed connection is then closed, and
	// restarts use LegacyDial too. Nil means the legacy initialize goes on
	// the probed connection (stdio: the same process).
	LegacyDial func(context.Context) (transport.Conn, error)
	// ProbeTimeout bounds the wait for the answer to UpstreamAuto's
	// probe. Zero means DefaultProbeTimeout.
	ProbeTimeout time.Duration
	// Eras, with UpstreamAuto, is shared by the sessions of one upstream
	// origin: once a probe found a legacy server, later sessions
	// initialize it without probing. Nil means every session probes.
	Eras *EraCache
	// ClientValidation applies to messages from the client (default
	// Strict); ServerValidation to messages from the server (default Warn).
	ClientValidation, ServerValidation Mode
	// Logger receives the session's logs; nil discards them.
	Logger *slog.Logger
	// RequestTimeout bounds how long a client request may wait for the
	// upstream's answer. When it expires the client gets a
	// CodeRequestTimeout error and the upstream a notifications/cancelled.
	// Zero means no timeout.
	RequestTimeout time.Duration
	// Inflight, when set, counts the client requests waiting for the
	// upstream across every session that shares it: the relay adds one
	// when it forwards a request and subtracts one when the request is
	// answered, cancelled, expired or failed. A server uses it to drain
	// (wait for zero) before closing sessions.
	Inflight *atomic.Int64
	// MaxTasks bounds the tasks one client session may hold at a time
	// when the broker emulates 2025-11-25 tasks toward a stateless
	// 2026-07-28 upstream (REVISIONS.md 4.M5): a task-augmented call
	// beyond it is refused until a task expires. Zero means
	// DefaultMaxTasks.
	MaxTasks int
	// MaxTaskTTL bounds the ttl of such a task, from its creation: a
	// task-augmented call that asks for no ttl or a longer one gets this.
	// When the ttl has passed the task is forgotten and, if still
	// running, cancelled upstream. Each upstream request of a task is
	// still bounded by RequestTimeout. Zero means DefaultMaxTaskTTL.
	MaxTaskTTL time.Duration
	// Cache, when set, answers repeated cacheable requests (tools/list,
	// prompts/list, resources/list, resources/templates/list,
	// resources/read) of sessions with a stateless 2026-07-28 upstream
	// from earlier results, honouring their ttlMs and cacheScope
	// (REVISIONS.md 4.F2); see cache.go. It is shared by all sessions
	// that share it. Nil means no caching.
	Cache *cache.Cache
	// CacheUpstream names the upstream server in the keys of Cache:
	// sessions share entries only with sessions of the same
	// CacheUpstream (and the same principal, for private results).
	CacheUpstream string
	// Telemetry, when set, traces every message of the session and
	// records the metrics of docs/observability.md: a SERVER span per
	// client message (its parent from params._meta), a CLIENT span per
	// request sent upstream (its context injected into the request's
	// params._meta), INTERNAL spans for validation and translation, and
	// the reverse for the server's requests to the client. Nil (or a
	// Provider with tracing and metrics off) means none, at the cost of a
	// nil check per hook.
	Telemetry *telemetry.Provider
	// LogPayloads adds each message's text to the debug log lines of the
	// messages received (telemetry.Payload); off, they show its size
	// only. Messages may carry secrets.
	LogPayloads bool
	// Audit, when set, receives the session's audit events
	// (docs/audit.md): the errors the broker answers client requests with,
	// the messages validation refused or let through invalid, and the
	// upstream's JSON-RPC errors relayed to the client. Each also becomes
	// a mcpbroker.audit event on the current span. Nil means none.
	Audit *telemetry.Audit
	// UpstreamName labels the upstream in metrics (mcpbroker.upstream);
	// never a URL with credentials. Empty means "upstream".
	UpstreamName string
}

// Defaults of the task emulation (REVISIONS.md 4.M5, Config.MaxTasks and
// Config.MaxTaskTTL).
const (
	DefaultMaxTasks   = 64
	DefaultMaxTaskTTL = time.Hour
)

// legacy lists the revisions with an initialize handshake, oldest first.
func legacy() []schemas.Revision {
	var out []schemas.Revision
	for _, r := range schemas.All() {
		if !r.Stateless() {
			out = append(out, r)
		}
	}
	return out
}

// latestLegacy is the newest revision with an initialize handshake.
func latestLegacy() schemas.Revision {
	l := legacy()
	return l[len(l)-1]
}

// withDefaults checks c and fills in the documented defaults.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.UpstreamRevision == 0:
		c.UpstreamRevision = latestLegacy()
	case !c.UpstreamRevision.Valid():
		return c, fmt.Errorf("relay: upstream revision: %w: %d", schemas.ErrUnknownRevision, uint8(c.UpstreamRevision))
	}
	if c.UpstreamAuto {
		if c.UpstreamRevision.Stateless() {
			return c, fmt.Errorf("relay: UpstreamAuto with UpstreamRevision %s: the revision offered to a legacy server must be a legacy one", c.UpstreamRevision)
		}
		switch {
		case c.ProbeTimeout == 0:
			c.ProbeTimeout = DefaultProbeTimeout
		case c.ProbeTimeout < 0:
			return c, fmt.Errorf("relay: negative probe timeout %v", c.ProbeTimeout)
		}
	}
	if c.ClientValidation == 0 {
		c.ClientValidation = Strict
	}
	if c.ServerValidation == 0 {
		c.ServerValidation = Warn
	}
	for _, m := range []Mode{c.ClientValidation, c.ServerValidation} {
		if m > Off {
			return c, fmt.Errorf("relay: unknown validation mode %d", uint8(m))
		}
	}
	if c.Validator == nil {
		c.ClientValidation, c.ServerValidation = Off, Off
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RequestTimeout < 0 {
		return c, fmt.Errorf("relay: negative request timeout %v", c.RequestTimeout)
	}
	switch {
	case c.MaxTasks < 0:
		return c, fmt.Errorf("relay: negative task limit %d", c.MaxTasks)
	case c.MaxTasks == 0:
		c.MaxTasks = DefaultMaxTasks
	}
	switch {
	case c.MaxTaskTTL < 0:
		return c, fmt.Errorf("relay: negative task ttl %v", c.MaxTaskTTL)
	case c.MaxTaskTTL == 0:
		c.MaxTaskTTL = DefaultMaxTaskTTL
	}
	return c, nil
}

// Run relays the client session to an upstream session until the client
// ends it. It reads the client's initialize first (answering any other
// request with -32600), dials the upstream then, performs the broker's own
// handshake with it, and relays both ways.
//
// When the upstream ends while the client is connected (a stdio child
// that exits, an HTTP session that expires with 404, a broken connection),
// the requests waiting for it are answered with -32603 "upstream closed"
// and the session goes on: the next client request dials again and
// re-initializes the upstream with the client's original parameters
// (REVISIONS.md 1.T2), with exponential back-off between failed attempts.
//
// Run returns nil when the client ends the session (io.EOF from Recv), an
// error wrapping ErrHandshake when the first upstream handshake fails, and
// an error wrapping ctx.Err() when ctx ends; in that last case every
// request still waiting is first answered with -32603 "the broker is
// shutting down" and cancelled upstream. It always closes the upstream
// connections it dialed; it never closes client, which belongs to the
// caller. Once Run has returned it sends nothing more on either
// connection: its reading goroutines and timeout callbacks have finished.
//
// Run reads each side in its own goroutine, so a slow peer on one side
// never holds up the other direction beyond its own Send. Sends to one
// Conn are serialized; the Conns need not be safe for concurrent Send.
func Run(ctx context.Context, client transport.Conn, dial func(context.Context) (transport.Conn, error), cfg Config) error {
	if client == nil || dial == nil {
		return errors.New("relay: nil client connection or dial function")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newSession(ctx, cfg, client, dial)
	// The client loop runs on Run's own goroutine: a session costs one
	// goroutine less.
	err = s.clientLoop(ctx)
	cancel()
	s.wg.Wait()
	if parent.Err() != nil {
		s.abort("the broker is shutting down")
	}
	s.shutdown()
	if errors.Is(err, errClientDone) {
		err = nil
	}
	if s.tel != nil {
		errorType := ""
		if err != nil {
			errorType = "_OTHER"
		}
		s.closeTelemetry(errorType)
	}
	return err
}
