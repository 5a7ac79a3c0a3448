package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// This file finds out the era of the upstream (REVISIONS.md 4.L3, 4.T8)
// when Config.UpstreamAuto is set: the broker's first request is the
// server/discover of the stateless bridge, with the client's _meta. A
// modern answer (a DiscoverResult that lists 2026-07-28, or a recognised
// 2026 error) goes on as with UpstreamRevision 2026-07-28; any other
// answer, or none in time, means a legacy server, which then gets the
// initialize of the legacy handshake: on the same connection (stdio), or
// on a fresh one from Config.LegacyDial (Streamable HTTP, whose 2026 and
// legacy clients differ). The test never depends on one error code.

// DefaultProbeTimeout bounds the wait for the answer to the era probe when
// Config.ProbeTimeout is zero: a legacy server that ignores a request
// before initialize is taken for legacy after it.
const DefaultProbeTimeout = 10 * time.Second

// EraCache remembers, for Config.UpstreamAuto, that the upstream was found
// to be a legacy server (REVISIONS.md 4.L3: the result of era detection is
// cached per server process or origin), so that later sessions skip the
// probe and initialize at once. A probe that finds a 2026 server, or a
// legacy handshake that fails, forgets it, and the next session probes
// again. Share one among the sessions of one upstream origin; sessions
// with a stdio server of their own (one process each) need none. The zero
// value is ready; it is safe for concurrent use.
type EraCache struct {
	legacy atomic.Bool
}

// Legacy reports whether the upstream is known to be a legacy server.
func (e *EraCache) Legacy() bool { return e != nil && e.legacy.Load() }

// set records what a probe or handshake found.
func (e *EraCache) set(legacy bool) {
	if e != nil {
		e.legacy.Store(legacy)
	}
}

// legacyUpstream is the outcome of a probe that found a legacy server:
// finishDiscover (or the probe's timeout) reports it instead of a
// handshake error, and initializeAuto falls back to initialize.
type legacyUpstream struct {
	why string
}

func (e *legacyUpstream) Error() string { return "relay: the upstream is a legacy server: " + e.why }

// probeVerdict tells whether the answer m to the era probe shows a legacy
// server, and why. A DiscoverResult listing 2026-07-28 is modern; so are
// the 2026 errors -32020 and -32021, and -32022 when its data.supported
// lists 2026-07-28 (finishDiscover fails the handshake with them: the
// server is modern and refused the broker). Anything else is legacy: a
// result that is no such DiscoverResult, -32601, -32600, -32602, an error
// that names initialize, -32022 without 2026-07-28 among the supported
// versions, the -32603 the 2026 HTTP client makes of a 400 without a
// JSON-RPC body, ...
func probeVerdict(m *jsonrpc.Message) (legacy bool, why string) {
	modern := schemas.V20260728.String()
	lists := func(versions *translators.Node) bool {
		for _, v := range versions.Elems() {
			if v.Str() == modern {
				return true
			}
		}
		return false
	}
	if m.Kind == jsonrpc.KindResult {
		versions := translators.Parse(m.Result).Get("supportedVersions")
		switch {
		case !versions.IsArray():
			return true, "its answer to server/discover is no DiscoverResult"
		case !lists(versions):
			return true, fmt.Sprintf("its server/discover lists the versions %s, not %s", versions.Raw(), modern)
		}
		return false, ""
	}
	switch code := jsonErrorCode(m.Error); code {
	case transport.CodeHeaderMismatch, transport.CodeMissingClientCapability:
		return false, ""
	case transport.CodeUnsupportedProtocolVersion:
		supported := translators.Parse(m.Error).Get("data").Get("supported")
		if lists(supported) {
			return false, ""
		}
		return true, fmt.Sprintf("it answered server/discover with -32022 and supports %s", supported.Raw())
	}
	return true, fmt.Sprintf("it answered server/discover with error %s", m.Error)
}

// initializeAuto is initialize for Config.UpstreamAuto: it probes the
// upstream with server/discover and, when the upstream turns out to be a
// legacy server, sends it the legacy initialize c (built by request)
// instead. See the file comment.
func (s *session) initializeAuto(ctx context.Context, m *jsonrpc.Message, clientRev schemas.Revision, tctx translators.Context, c *call, request func(id json.RawMessage) []byte) error {
	eras := s.cfg.Eras
	if eras.Legacy() {
		s.log.DebugContext(ctx, "relay: the upstream is known to be a legacy server; no probe")
		if s.cfg.LegacyDial != nil {
			s.dial = s.cfg.LegacyDial
		}
		err := s.handshakeUp(ctx, m, clientRev, tctx, c, request)
		if errors.Is(err, ErrHandshake) {
			eras.set(false) // perhaps it changed: the next session probes
		}
		return err
	}
	if err := s.connectUp(ctx, m, clientRev, tctx); err != nil {
		return err
	}
	probe := &call{clientID: c.clientID, clientKey: c.clientKey, method: methodDiscover, init: true, discover: true}
	err := s.probe(ctx, m, probe, tctx)
	var lu *legacyUpstream
	if !errors.As(err, &lu) {
		if err == nil {
			eras.set(false)
		}
		return err
	}
	s.log.InfoContext(ctx, "relay: the upstream is no 2026-07-28 server; initializing it", "why", lu.why, "offered", s.cfg.UpstreamRevision)
	eras.set(true)
	if s.cfg.LegacyDial == nil {
		// stdio: the same process, which answered (or ignored) the probe.
		err = s.handshakeSend(ctx, m, c, request)
	} else {
		// The legacy client of the transport, on a connection of its own;
		// restarts use it too.
		s.upMu.Lock()
		probed := s.up
		s.upMu.Unlock()
		s.dial = s.cfg.LegacyDial
		err = s.handshakeUp(ctx, m, clientRev, tctx, c, request)
		// Closed once replaced: its end is then not the session's.
		if cerr := probed.Close(); cerr != nil {
			s.log.DebugContext(ctx, "relay: closing the probed upstream", "err", cerr)
		}
	}
	if errors.Is(err, ErrHandshake) {
		eras.set(false)
	}
	return err
}

// probe sends the era probe c (the broker's server/discover) on the
// connected upstream and waits for its outcome: nil when finishDiscover
// made the session stateless, a *legacyUpstream when the upstream is a
// legacy server (its answer, or no answer within the probe timeout), or a
// handshake error.
func (s *session) probe(ctx context.Context, m *jsonrpc.Message, c *call, tctx translators.Context) error {
	s.mu.Lock()
	s.registerLocked(c)
	s.mu.Unlock()
	sendCtx, raw := s.traceOwn(ctx, c, discoverRequest(c.upID, tctx), true)
	if err := s.sendUp(sendCtx, raw, nil); err != nil {
		if s.take(c.key) != nil {
			s.endOwn(telemetry.Failure("transport", err.Error()), c)
			raw := jsonrpc.ErrorResponse(m.ID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil)
			s.auditReply(ctx, m, raw)
			s.sendClient(ctx, raw, m.ID)
		}
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	d := s.cfg.ProbeTimeout
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-s.handshake:
		return err
	case <-t.C:
		if s.take(c.key) != nil {
			s.endOwn(telemetry.Failure("timeout", "no answer to the era probe"), c)
			return &legacyUpstream{why: fmt.Sprintf("it did not answer server/discover within %v", d)}
		}
		// Answered just now: its outcome is on the way.
		select {
		case err := <-s.handshake:
			return err
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	return fmt.Errorf("relay: waiting for the upstream server/discover: %w", ctx.Err())
}

// autoDiscovered is finishDiscover's check under Config.UpstreamAuto: it
// reports true, after telling initializeAuto, when the answer m to the
// probe shows a legacy server.
func (s *session) autoDiscovered(m *jsonrpc.Message) bool {
	if !s.cfg.UpstreamAuto {
		return false
	}
	legacy, why := probeVerdict(m)
	if legacy {
		s.handshake <- &legacyUpstream{why: why}
	}
	return legacy
}
