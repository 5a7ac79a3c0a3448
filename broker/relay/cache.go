package relay

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mcpbroker/mcpbroker/broker/cache"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// This file lets the relay answer a legacy client's repeated list and read
// requests toward a stateless 2026-07-28 server from Config.Cache
// (REVISIONS.md 4.F2: the broker MAY cache, honouring ttlMs and
// cacheScope; 4.F7: lists may vary by authorization, so private results
// stay within one principal).
//
// What is stored is the server's result as it came (the 2026-07-28 bytes),
// under a cache.Key of the request as forwarded: Config.CacheUpstream, the
// session's authorization context, the upstream revision, the method and
// the canonical params, _meta included (so protocolVersion and the client
// capabilities are part of the key; cache.CanonicalParams drops the
// per-hop keys such as clientInfo, logLevel and progressToken). A hit
// goes through the session's translator chain exactly as a fresh answer
// would, with the client's own id, so that clients of every revision can
// share an entry. The cache package decides what may be stored (ttlMs > 0,
// a known cacheScope, a complete result, no MRTR retry) and keeps private
// results to the same authorization context.
//
// A session's authorization context is its client Conn's principal
// (transport.Principaled: the digest of the credentials an HTTP session
// is bound to); a session without one (stdio, an anonymous HTTP client,
// binding off) is its own context, so its private results serve it alone.
// Public results serve every session of the same upstream.
//
// What is stored is what was relayed: with ServerValidation Strict an
// invalid result is refused and never stored; with Warn it is relayed,
// logged once and stored like any other.
//
// The result is stored before it is relayed, so that a request the client
// sends after seeing the answer finds it. Put gets the invalidation epoch
// read before the request was forwarded: a list_changed or
// resources/updated notification (or the loss of the upstream) that
// arrives in between makes the result too old to store.

// cacheTicket says where to store the result of a forwarded request.
type cacheTicket struct {
	key   cache.Key
	epoch uint64 // Config.Cache's epoch before the request was sent
}

// sessionCache is a session's state for Config.Cache.
type sessionCache struct {
	once sync.Once
	auth string // the session's cache.Key.Auth
}

// sessionSeq numbers the sessions that have no principal: each is an
// authorization context of its own.
var sessionSeq atomic.Uint64

// cacheAuth returns the session's authorization context for cache keys:
// "principal:" and the client Conn's principal, else "session:" and a
// number unique in the process.
func (s *session) cacheAuth() string {
	s.cached.once.Do(func() {
		if p, ok := s.client.(transport.Principaled); ok {
			if name := p.Principal(); name != "" {
				s.cached.auth = "principal:" + name
				return
			}
		}
		s.cached.auth = "session:" + strconv.FormatUint(sessionSeq.Add(1), 10)
	})
	return s.cached.auth
}

// cacheLookup answers the client request m from Config.Cache when it
// holds a fresh result for it; raw is m as translated for the upstream
// and b its batch. It reports whether it answered; when it did not, the
// key is where the result may be stored (nil when m is not cacheable: no
// cache, a legacy upstream, a method or params the cache refuses).
func (s *session) cacheLookup(ctx context.Context, m *jsonrpc.Message, raw []byte, b *batch) (*cache.Key, bool) {
	if s.cfg.Cache == nil || !cache.Cacheable(m.Method) {
		return nil, false
	}
	l := s.link.Load()
	if l == nil || !l.upRev.Stateless() {
		return nil, false
	}
	params := translators.Parse(raw).Get("params").Raw()
	key, err := cache.KeyFor(s.cfg.CacheUpstream, s.cacheAuth(), l.upRev.String(), m.Method, params)
	if err != nil {
		if !errors.Is(err, cache.ErrUncacheable) {
			s.log.WarnContext(ctx, "relay: cache key", "method", m.Method, "err", err)
		}
		return nil, false
	}
	cached, ok := s.cfg.Cache.Get(key)
	if s.tel != nil {
		s.tel.p.Metrics().CacheLookup(ctx, m.Method, ok)
	}
	if !ok {
		return &key, false
	}
	ctx, span := s.startEmulation(ctx, telemetry.EmulationCacheHit, m.Method)
	defer span.End()
	// The answer the server would have sent, with the client's id, then
	// the way back as in serverResponse.
	resp := make([]byte, 0, len(`{"jsonrpc":"2.0","id":,"result":}`)+len(m.ID)+len(cached))
	resp = append(resp, `{"jsonrpc":"2.0","id":`...)
	resp = append(resp, m.ID...)
	resp = append(resp, `,"result":`...)
	resp = append(resp, cached...)
	resp = append(resp, '}')
	rm, err := jsonrpc.Parse(resp)
	if err != nil {
		// Unreachable for a result that came parsed; forward instead.
		s.log.WarnContext(ctx, "relay: cached result unusable; forwarding", "method", m.Method, "err", err)
		return &key, false
	}
	tctx := l.tctx
	tctx.Method = m.Method
	out := l.s2c.Translate(rm, translators.ServerToClient, &tctx)
	s.logOutcome(ctx, "s2c", m.Method, rm, out)
	var reply []byte
	if out.Kind == translators.Forward {
		reply = s.forwardedAnswer(l, m.Method, out.Message, rm, m.ID)
	} else {
		reply = s.refusal(m.ID, m.Method, l.clientRev, out)
	}
	s.log.DebugContext(ctx, "relay: answered from the cache", "method", m.Method, "id", string(m.ID))
	s.replyClient(ctx, m.ID, b, reply)
	return nil, true
}

// cacheTicket returns the ticket of a request about to be sent upstream
// whose result may be stored under k (nil: none).
func (s *session) cacheTicket(k *cache.Key) *cacheTicket {
	if k == nil {
		return nil
	}
	return &cacheTicket{key: *k, epoch: s.cfg.Cache.Epoch()}
}

// cacheStore stores the server's answer m to c, when c has a ticket and
// the cache takes it (Cache.Store checks the hints).
func (s *session) cacheStore(c *call, m *jsonrpc.Message) {
	if c.cache == nil || m.Kind != jsonrpc.KindResult {
		return
	}
	if s.cfg.Cache.Store(c.cache.key, c.cache.epoch, m.Result) {
		s.log.Debug("relay: result cached", "method", c.method)
	}
}

// cacheNotified drops the entries a notification from a stateless
// upstream makes stale (list_changed, resources/updated).
func (s *session) cacheNotified(l *link, m *jsonrpc.Message) {
	if s.cfg.Cache == nil || !l.upRev.Stateless() {
		return
	}
	if n := s.cfg.Cache.InvalidateNotification(s.cfg.CacheUpstream, m.Method, m.Params); n > 0 {
		s.log.Debug("relay: cache entries invalidated", "notification", m.Method, "dropped", n)
	}
}

// cacheUpstreamLost drops every entry of the upstream when a stateless
// upstream connection is lost: what the restarted server answers may
// differ.
func (s *session) cacheUpstreamLost() {
	if s.cfg.Cache == nil {
		return
	}
	if l := s.link.Load(); l == nil || !l.upRev.Stateless() {
		return
	}
	n := s.cfg.Cache.InvalidateUpstream(s.cfg.CacheUpstream)
	s.log.Debug("relay: cache entries of the lost upstream invalidated", "dropped", n)
}
