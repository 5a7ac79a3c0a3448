package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// errNoUpstream is returned by sendUp before the upstream is dialed.
var errNoUpstream = errors.New("relay: no upstream connection")

// Restart timing. The first restart after a loss is immediate; each
// consecutive failure doubles the wait, up to maxBackoff, so that a server
// that cannot start (a crash loop, an HTTP server that is down) is not
// hammered while its clients keep calling.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
	// defaultRestartTimeout bounds a restart's initialize when the
	// configuration sets no RequestTimeout.
	defaultRestartTimeout = 30 * time.Second
)

// backoff is the wait after the n-th consecutive failed restart (n >= 1).
func backoff(n int) time.Duration {
	d := minBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// replayState is the upstream session state the client built with
// requests, which a restarted upstream has lost: the relay sends these
// requests again (as the broker's own, their answers dropped) after
// re-initializing. Guarded by session.mu.
type replayState struct {
	logLevel      []byte            // the last logging/setLevel, upstream form
	subscriptions map[string][]byte // resources/subscribe by uri, upstream form
}

// remember records a request the client sent that a restarted upstream
// must see again. raw is its upstream form. Called with s.mu held.
func (s *session) remember(m *jsonrpc.Message, raw []byte) {
	switch m.Method {
	case "logging/setLevel":
		s.replay.logLevel = bytes.Clone(raw)
	case "resources/subscribe", "resources/unsubscribe":
		uri := translators.Parse(m.Params).Get("uri").Str()
		if m.Method == "resources/subscribe" {
			s.replay.subscriptions[uri] = bytes.Clone(raw)
		} else {
			delete(s.replay.subscriptions, uri)
		}
	}
}

// connLost reports whether a send error means the upstream session is gone
// (rather than one request failing): an expired HTTP session (404, 0.2
// rule 6), a closed connection, a broken pipe to a child that exited.
func connLost(err error) bool {
	return errors.Is(err, transport.ErrSessionExpired) || errors.Is(err, transport.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed)
}

// ensureUp makes sure an upstream session is there, restarting it when the
// previous one was lost (a stdio child that exited, an HTTP session that
// expired or a connection that broke), as REVISIONS.md 1.T2 describes:
// dial, replay the broker's initialize (built from the client's original
// InitializeRequest.params), check that the server still speaks the
// session's revision, send notifications/initialized, and replay the
// logging level and resource subscriptions. After a failed restart the
// next attempt waits (exponential back-off); requests meanwhile fail at
// once with an error wrapping ErrUpstreamUnavailable.
func (s *session) ensureUp(ctx context.Context) error {
	s.mu.Lock()
	gone := s.upGone
	s.mu.Unlock()
	if !gone {
		return nil
	}
	s.restartMu.Lock()
	defer s.restartMu.Unlock()
	s.mu.Lock()
	gone = s.upGone
	s.mu.Unlock()
	if !gone {
		return nil // another request restarted it
	}
	if wait := time.Until(s.retryAt); wait > 0 {
		return fmt.Errorf("%w: next restart attempt in %v (after %d failed)", ErrUpstreamUnavailable, wait.Round(time.Millisecond), s.failures)
	}
	start := time.Now()
	if err := s.restart(ctx); err != nil {
		s.failures++
		d := backoff(s.failures)
		s.retryAt = time.Now().Add(d)
		s.log.WarnContext(ctx, "relay: upstream restart failed", "err", err, "attempt", s.failures, "retry_in", d)
		return fmt.Errorf("%w: %w", ErrUpstreamUnavailable, err)
	}
	s.failures, s.retryAt = 0, time.Time{}
	s.log.InfoContext(ctx, "relay: upstream restarted", "took", time.Since(start).String())
	if s.tel != nil {
		s.tel.p.Metrics().UpstreamRestarted(ctx, s.upstreamName())
	}
	return nil
}

// restart dials a new upstream and initializes it. Called with restartMu
// held and upGone set.
func (s *session) restart(ctx context.Context) error {
	l := s.link.Load()
	up, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	s.upMu.Lock()
	s.up = up
	s.upMu.Unlock()
	if l.upRev.Stateless() {
		// Nothing to re-initialize: every request carries its _meta.
		s.goUpstream(ctx, up)
		s.mu.Lock()
		s.upGone = false
		s.listenKey = "" // it died with the old upstream
		s.mu.Unlock()
		s.relisten(ctx, l, nil)
		s.synthGap(ctx, l)
		return nil
	}
	fail := func(err error) error {
		var own []*call
		s.mu.Lock()
		for _, c := range s.pending {
			if c.reinit != nil || c.internal {
				s.removeLocked(c)
				own = append(own, c)
			}
		}
		s.mu.Unlock()
		s.endOwn(telemetry.Failure("handshake", err.Error()), own...)
		if cerr := up.Close(); cerr != nil {
			s.log.DebugContext(ctx, "relay: closing the failed upstream", "err", cerr)
		}
		return err
	}
	c := &call{method: methodInitialize, reinit: make(chan *jsonrpc.Message, 1)}
	s.mu.Lock()
	s.registerLocked(c)
	s.mu.Unlock()
	s.goUpstream(ctx, up)
	n := translators.Parse(s.upInit)
	n.Set("id", translators.Parse(c.upID))
	sendCtx, raw := s.traceOwn(ctx, c, n.Raw(), true)
	if err := s.sendUp(sendCtx, raw, nil); err != nil {
		return fail(err)
	}
	d := s.cfg.RequestTimeout
	if d <= 0 {
		d = defaultRestartTimeout
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var m *jsonrpc.Message
	select {
	case m = <-c.reinit:
	case <-t.C:
		return fail(fmt.Errorf("initialize timed out after %v", d))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	switch {
	case m == nil:
		return fail(errors.New("the upstream closed during initialize"))
	case m.Kind == jsonrpc.KindError:
		return fail(fmt.Errorf("the upstream answered initialize with error %s", m.Error))
	}
	if pv := translators.Parse(m.Result).Get("protocolVersion").Str(); pv != l.upRev.String() {
		return fail(fmt.Errorf("the restarted upstream answered protocolVersion %q; the session speaks %s", pv, l.upRev))
	}
	if rs, ok := up.(transport.RevisionSetter); ok {
		rs.SetRevision(l.upRev)
	}
	s.upMu.Lock()
	listen := s.listen
	s.upMu.Unlock()
	if o, ok := up.(transport.StreamOpener); ok && listen {
		o.OpenStream()
	}
	if err := s.sendOwn(ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)); err != nil {
		return fail(err)
	}
	s.mu.Lock()
	s.upGone = false
	var replay [][]byte
	if s.replay.logLevel != nil {
		replay = append(replay, s.replay.logLevel)
	}
	for _, raw := range s.replay.subscriptions {
		replay = append(replay, raw)
	}
	calls := make([]*call, len(replay))
	for i := range replay {
		calls[i] = &call{internal: true, method: "replay"}
		s.registerLocked(calls[i])
	}
	s.mu.Unlock()
	for i, raw := range replay {
		n := translators.Parse(raw)
		n.Set("id", translators.Parse(calls[i].upID))
		sendCtx, out := s.traceOwn(ctx, calls[i], n.Raw(), true)
		if err := s.sendUp(sendCtx, out, nil); err != nil {
			if s.take(calls[i].key) != nil {
				s.endOwn(telemetry.Failure("transport", err.Error()), calls[i])
			}
			s.log.WarnContext(ctx, "relay: replaying a request to the restarted upstream failed", "err", err)
		}
	}
	s.synthGap(ctx, l)
	return nil
}

// synthGap tells the client, after an upstream restart, that what it
// watches may have changed while the upstream was gone (REVISIONS.md 4.T8,
// 1.T2): a list_changed for every list whose changes the server announces
// and a resources/updated for every resource the client subscribed to.
// The notifications have the same shape in every revision. Nothing is
// sent before the client can receive unsolicited messages.
func (s *session) synthGap(ctx context.Context, l *link) {
	s.upMu.Lock()
	listen := s.listen
	s.upMu.Unlock()
	if !listen {
		return
	}
	caps := translators.Parse(l.tctx.ServerCapabilities)
	for _, list := range []string{"tools", "prompts", "resources"} {
		if caps.Get(list).Get("listChanged").Bool() {
			s.notifyClient(ctx, "notifications/"+list+"/list_changed", nil, []byte(`{"jsonrpc":"2.0","method":"notifications/`+list+`/list_changed"}`), nil, true)
		}
	}
	s.mu.Lock()
	uris := make([]string, 0, len(s.subs)+len(s.replay.subscriptions))
	for u := range s.subs {
		uris = append(uris, u)
	}
	for u := range s.replay.subscriptions {
		if !s.subs[u] {
			uris = append(uris, u)
		}
	}
	s.mu.Unlock()
	slices.Sort(uris)
	for _, u := range uris {
		n := translators.NewJSON(`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{}}`)
		n.Get("params").Set("uri", translators.NewString(u))
		s.notifyClient(ctx, "notifications/resources/updated", n.Get("params").Raw(), n.Raw(), nil, true)
	}
}

// openStream opens the upstream's stream for unsolicited messages, now
// and after every restart.
func (s *session) openStream() {
	s.upMu.Lock()
	s.listen = true
	up := s.up
	s.upMu.Unlock()
	if o, ok := up.(transport.StreamOpener); ok {
		o.OpenStream()
	}
}

// abort answers every request still waiting for the upstream with a
// -32603 error naming reason, and tells the upstream to cancel them. Run
// calls it when its context ends (the broker is shutting down) after both
// loops have stopped, so that no client waits for an answer that will
// never come.
func (s *session) abort(reason string) {
	s.mu.Lock()
	calls := make([]*call, 0, len(s.pending))
	for _, c := range s.pending {
		calls = append(calls, c)
	}
	for _, c := range calls {
		s.removeLocked(c)
	}
	s.mu.Unlock()
	if len(calls) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.log.WarnContext(ctx, "relay: answering pending requests", "reason", reason, "pending", len(calls))
	for _, c := range calls {
		s.endUp(c, telemetry.Failure("cancelled", reason))
		if c.reinit != nil || c.internal {
			continue
		}
		s.auditCall(ctx, c, jsonrpc.CodeInternalError, reason)
		s.replyClient(ctx, c.clientID, c.batch, jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError, "mcpbroker: "+reason, nil))
		if !c.init {
			_ = s.sendOwn(ctx, translators.CancelledNotification(c.upID, "mcpbroker: "+reason))
		}
	}
}
