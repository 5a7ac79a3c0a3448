// Package cache is the broker's response cache for the results that
// 2026-07-28 marks cacheable (tools/list, prompts/list, resources/list,
// resources/templates/list, resources/read, server/discover), honouring
// their caching hints: ttlMs (how long a result stays fresh) and
// cacheScope ("public": shared across authorization contexts; "private":
// reused only within the same one).
//
// # Keys and scopes
//
// A [Key] names the upstream server, the requester's authorization
// context ([Key.Auth]), the protocol revision the bytes are shaped for,
// the method and the canonical params ([CanonicalParams]). A private
// result is stored under the full key, so it is only ever served to the
// same Auth; a public one is stored without Auth and served to anyone
// whose request has the same other parts. [Cache.Get] looks for a private
// entry of the requester first, then a public one. A private result with
// an empty Auth is not stored: without an authorization context there is
// nothing to keep it apart from other requesters'.
//
// Results without hints, with ttlMs 0, with an unknown cacheScope or with
// a resultType other than "complete" (an InputRequiredResult) are not
// stored, and MRTR retries are not cacheable requests.
//
// # Bounds, expiry and invalidation
//
// The cache holds at most [Options.MaxEntries] entries and
// [Options.MaxBytes] bytes (payload plus key plus a fixed overhead per
// entry), evicting the least recently used. A TTL is capped by
// [Options.MaxTTL]; an entry past its TTL is never served and is dropped
// when met. The Invalidate methods drop entries on list_changed and
// resources/updated notifications. A result fetched before an
// invalidation but stored after it would bring stale data back, so Put
// takes the [Cache.Epoch] read before the request was forwarded and drops
// the result if any invalidation happened since.
//
// The lead's relay decides where the cache sits; the cache stores and
// returns raw result bytes and never parses them beyond the hints.
package cache

import (
	"bytes"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Defaults for the zero fields of [Options].
const (
	// DefaultMaxEntries bounds the number of entries when
	// Options.MaxEntries is 0.
	DefaultMaxEntries = 10_000
	// DefaultMaxBytes bounds the size of the cache when Options.MaxBytes
	// is 0.
	DefaultMaxBytes = 64 << 20
	// DefaultMaxTTL caps the TTL of entries when Options.MaxTTL is 0.
	DefaultMaxTTL = time.Hour
)

// entryOverhead is the bookkeeping charged per entry on top of its bytes
// and key (map slot, list element, entry struct).
const entryOverhead = 160

// Key identifies a cacheable request. Build it with [KeyFor], which
// canonicalises the params. Key is comparable.
type Key struct {
	// Upstream names the server the request is routed to.
	Upstream string
	// Auth is the requester's authorization context: the authenticated
	// principal, or whatever the broker keys authorization by (a
	// credential hash, or the session when there is no authentication).
	// Private results are only served to the same Auth.
	Auth string
	// Revision is the protocol revision the stored bytes are shaped for.
	Revision string
	// Method is the request's method; only [Cacheable] methods are stored.
	Method string
	// Params is the canonical params, from [CanonicalParams].
	Params string
}

// Options configures a [Cache]. The zero value is usable.
type Options struct {
	// MaxEntries bounds the number of entries. Zero means
	// [DefaultMaxEntries].
	MaxEntries int
	// MaxBytes bounds the bytes held. Zero means [DefaultMaxBytes].
	MaxBytes int64
	// MaxEntryBytes bounds one entry; larger results are not stored.
	// Zero means MaxBytes/16; more than MaxBytes means MaxBytes.
	MaxEntryBytes int64
	// MaxTTL caps the TTL of an entry, whatever ttlMs said. Zero means
	// [DefaultMaxTTL].
	MaxTTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Stats is a snapshot of a Cache's counters.
type Stats struct {
	Hits          uint64 // Get served an entry
	Misses        uint64 // Get found nothing fresh
	Stores        uint64 // Put stored an entry
	Rejected      uint64 // Put declined (hints, size, stale epoch, scope without Auth)
	Evictions     uint64 // entries dropped to respect the bounds
	Expirations   uint64 // entries dropped past their TTL
	Invalidations uint64 // entries dropped by the Invalidate methods and Purge
	Entries       int    // entries held now
	Bytes         int64  // bytes charged now
}

// slot is where an entry lives: a public entry's key has no Auth.
type slot struct {
	scope Scope
	Key
}

// entry is a stored result.
type entry struct {
	raw     []byte
	expires time.Time
	size    int64
	uri     string // the params' uri, for resources/read
}

// Cache is a bounded, expiring response cache, safe for concurrent use.
type Cache struct {
	maxEntries int
	maxBytes   int64
	maxEntry   int64
	maxTTL     time.Duration
	now        func() time.Time
	epoch      atomic.Uint64

	hits, misses, stores, rejected, evictions, expirations, invalidations atomic.Uint64

	mu    sync.Mutex
	lru   *simplelru.LRU[slot, *entry]
	bytes int64
}

// New returns an empty Cache configured by opts.
func New(opts Options) *Cache {
	c := &Cache{
		maxEntries: opts.MaxEntries,
		maxBytes:   opts.MaxBytes,
		maxEntry:   opts.MaxEntryBytes,
		maxTTL:     opts.MaxTTL,
		now:        opts.Now,
	}
	if c.maxEntries <= 0 {
		c.maxEntries = DefaultMaxEntries
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxBytes
	}
	if c.maxEntry <= 0 {
		c.maxEntry = c.maxBytes / 16
	}
	c.maxEntry = min(c.maxEntry, c.maxBytes)
	if c.maxTTL <= 0 {
		c.maxTTL = DefaultMaxTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	// The Cache makes room itself before adding, so the LRU never evicts
	// on its own; the callback keeps the byte count for every removal.
	lru, err := simplelru.NewLRU(c.maxEntries, func(_ slot, e *entry) { c.bytes -= e.size })
	if err != nil {
		panic("cache: " + err.Error()) // unreachable: the size is positive
	}
	c.lru = lru
	return c
}

// Get returns the fresh result stored for k: the requester's private
// entry if there is one, else the public one. The returned bytes are
// shared with the cache and must not be modified (their capacity is
// capped, so appending copies).
func (c *Cache) Get(k Key) ([]byte, bool) {
	now := c.now()
	c.mu.Lock()
	raw, ok := c.lookup(slot{Private, k}, now)
	if !ok {
		k.Auth = ""
		raw, ok = c.lookup(slot{Public, k}, now)
	}
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return raw, ok
}

// lookup returns the fresh entry in s; c.mu is held.
func (c *Cache) lookup(s slot, now time.Time) ([]byte, bool) {
	if s.scope == Private && s.Auth == "" {
		return nil, false
	}
	e, ok := c.lru.Get(s)
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		c.lru.Remove(s)
		c.expirations.Add(1)
		return nil, false
	}
	return e.raw[:len(e.raw):len(e.raw)], true
}

// Epoch returns the invalidation epoch: read it before forwarding a
// request whose result you mean to Put.
func (c *Cache) Epoch() uint64 { return c.epoch.Load() }

// Put stores a copy of raw, the result of the request k, under the hints
// h (see [ExtractHints]; the broker may also give its own, e.g. for a
// legacy server whose results carry none). epoch is [Cache.Epoch] as read
// before the request was forwarded. Put reports whether it stored the
// result: it declines hints that are not [Hints.Cacheable], a method that
// is not [Cacheable], a private result with an empty Auth, a result
// larger than Options.MaxEntryBytes, and a result older than an
// invalidation (epoch is not current).
func (c *Cache) Put(k Key, epoch uint64, raw []byte, h Hints) bool {
	if !h.Cacheable() || !Cacheable(k.Method) || (h.Scope == Private && k.Auth == "") {
		c.rejected.Add(1)
		return false
	}
	s := slot{h.Scope, k}
	if h.Scope == Public {
		s.Auth = ""
	}
	size := int64(len(raw)+len(s.Upstream)+len(s.Auth)+len(s.Revision)+len(s.Method)+len(s.Params)) + entryOverhead
	if size > c.maxEntry {
		c.rejected.Add(1)
		return false
	}
	e := &entry{raw: bytes.Clone(raw), size: size}
	if e.raw == nil {
		e.raw = []byte{}
	}
	if k.Method == "resources/read" {
		e.uri = paramsURI(k.Params)
	}
	now := c.now()
	e.expires = now.Add(min(h.TTL, c.maxTTL))

	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch.Load() {
		c.rejected.Add(1)
		return false
	}
	c.lru.Remove(s)
	for c.lru.Len() > 0 && (c.lru.Len() >= c.maxEntries || c.bytes+size > c.maxBytes) {
		_, old, _ := c.lru.RemoveOldest()
		if now.Before(old.expires) {
			c.evictions.Add(1)
		} else {
			c.expirations.Add(1)
		}
	}
	c.lru.Add(s, e)
	c.bytes += size
	c.stores.Add(1)
	return true
}

// Store extracts the hints of raw with [ExtractHints] and Puts it; it
// reports whether raw was stored.
func (c *Cache) Store(k Key, epoch uint64, raw []byte) bool {
	h, ok := ExtractHints(raw)
	if !ok {
		c.rejected.Add(1)
		return false
	}
	return c.Put(k, epoch, raw, h)
}

// paramsURI returns the uri member of canonical params, or "".
func paramsURI(params string) string {
	var p struct {
		URI string `json:"uri"`
	}
	if json.Unmarshal([]byte(params), &p) != nil {
		return ""
	}
	return p.URI
}

// InvalidateMethod drops every entry of method from upstream, for all
// requesters, and returns how many it dropped. Use it on
// notifications/*/list_changed (or call [Cache.InvalidateNotification]).
func (c *Cache) InvalidateMethod(upstream, method string) int {
	return c.removeIf(func(s slot, _ *entry) bool { return s.Upstream == upstream && s.Method == method })
}

// InvalidateURI drops every resources/read entry of uri from upstream and
// returns how many it dropped. Use it on notifications/resources/updated.
func (c *Cache) InvalidateURI(upstream, uri string) int {
	return c.removeIf(func(s slot, e *entry) bool {
		return s.Upstream == upstream && s.Method == "resources/read" && e.uri == uri
	})
}

// InvalidateUpstream drops every entry from upstream, e.g. when it
// restarts or its session is re-initialized, and returns how many.
func (c *Cache) InvalidateUpstream(upstream string) int {
	return c.removeIf(func(s slot, _ *entry) bool { return s.Upstream == upstream })
}

// InvalidateNotification drops what a notification from upstream makes
// stale and returns how many entries it dropped:
// notifications/{tools,prompts}/list_changed drop that list,
// notifications/resources/list_changed drops resources/list and
// resources/templates/list, and notifications/resources/updated drops the
// resources/read entries of params.uri. Other notifications drop nothing.
func (c *Cache) InvalidateNotification(upstream, method string, params []byte) int {
	switch method {
	case "notifications/tools/list_changed":
		return c.InvalidateMethod(upstream, "tools/list")
	case "notifications/prompts/list_changed":
		return c.InvalidateMethod(upstream, "prompts/list")
	case "notifications/resources/list_changed":
		return c.removeIf(func(s slot, _ *entry) bool {
			return s.Upstream == upstream && (s.Method == "resources/list" || s.Method == "resources/templates/list")
		})
	case "notifications/resources/updated":
		var p struct {
			URI string `json:"uri"`
		}
		if json.Unmarshal(params, &p) != nil {
			// Cannot tell which resource: drop them all.
			return c.InvalidateMethod(upstream, "resources/read")
		}
		return c.InvalidateURI(upstream, p.URI)
	}
	return 0
}

// Purge drops every entry.
func (c *Cache) Purge() {
	c.removeIf(func(slot, *entry) bool { return true })
}

// removeIf drops the entries for which drop is true and advances the
// epoch, so that results fetched before now are not stored.
func (c *Cache) removeIf(drop func(slot, *entry) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch.Add(1)
	n := 0
	for _, s := range c.lru.Keys() {
		if e, ok := c.lru.Peek(s); ok && drop(s, e) {
			c.lru.Remove(s)
			n++
		}
	}
	c.invalidations.Add(uint64(n))
	return n
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	entries, size := c.lru.Len(), c.bytes
	c.mu.Unlock()
	return Stats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Stores:        c.stores.Load(),
		Rejected:      c.rejected.Load(),
		Evictions:     c.evictions.Load(),
		Expirations:   c.expirations.Load(),
		Invalidations: c.invalidations.Load(),
		Entries:       entries,
		Bytes:         size,
	}
}
