package relay

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/cache"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// principalConn gives a client Conn a principal, as the HTTP servers'
// Conns have (transport.Principaled).
type principalConn struct {
	transport.Conn
	name string
}

func (c principalConn) Principal() string { return c.name }

// session26 is a relay session between a legacy test client and a test
// 2026-07-28 server, past discovery and the broker's subscriptions/listen.
type session26 struct {
	*harness
	listenID string // the id of the broker's listen, raw JSON
}

// startCached starts a session with a 2026-07-28 upstream whose client
// speaks clientRev (with no capabilities) and has the given principal ("":
// none, like stdio). The server announces list changes, so the broker
// opens its listen, which the server acknowledges.
func startCached(t *testing.T, cfg Config, clientRev, principal string) *session26 {
	t.Helper()
	cfg.Validator = testValidator(t)
	cfg.UpstreamRevision = schemas.V20260728
	var opts []harnessOption
	if principal != "" {
		opts = append(opts, withWrapClient(func(c transport.Conn) transport.Conn { return principalConn{c, principal} }))
	}
	h := start(t, cfg, opts...)
	h.client.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"` + clientRev + `","capabilities":{},"clientInfo":{"name":"old-client","version":"1"}}}`)
	d := h.server.recvObj()
	wantEq(t, "probe", d["method"], `"server/discover"`)
	h.server.send(`{"jsonrpc":"2.0","id":` + str(d["id"]) + `,"result":{"resultType":"complete","supportedVersions":["2026-07-28"],` +
		`"capabilities":{"tools":{"listChanged":true},"prompts":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true}},` +
		`"ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s26","version":"2"}}}}`)
	wantEq(t, "initialize answered", get(h.client.recvObj(), "result", "protocolVersion"), `"`+clientRev+`"`)
	listen := h.server.recvObj()
	wantEq(t, "listen", listen["method"], `"subscriptions/listen"`)
	s := &session26{harness: h, listenID: str(listen["id"])}
	h.server.send(`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":` + str(get(listen, "params", "notifications")) + `,` + s.subMeta() + `}}`)
	h.client.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s
}

// subMeta is the _meta member of the listen's notifications.
func (s *session26) subMeta() string {
	return `"_meta":{"io.modelcontextprotocol/subscriptionId":` + s.listenID + `}`
}

// notify sends a notification on the broker's listen and waits until the
// client has it (the broker has handled it).
func (s *session26) notify(method, params string) {
	s.tb.Helper()
	if params != "" {
		params += ","
	}
	s.server.send(`{"jsonrpc":"2.0","method":"` + method + `","params":{` + params + s.subMeta() + `}}`)
	wantEq(s.tb, "notification relayed", s.client.recvObj()["method"], `"`+method+`"`)
}

// fetch sends the client request (id, method, params) and lets the server
// answer it with result; it returns the client's answer.
func (s *session26) fetch(id, method, params, result string) []byte {
	s.tb.Helper()
	s.client.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + `}`)
	req := s.server.recvObj()
	wantEq(s.tb, "forwarded", req["method"], `"`+method+`"`)
	s.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":` + result + `}`)
	m := s.client.recv()
	wantEq(s.tb, "answer id", decode(s.tb, m.Raw).(obj)["id"], id)
	return m.Raw
}

// hit sends the client request and expects the broker to answer it
// without the server: the next request the server sees is a probe sent
// after the answer. It returns the client's answer.
func (s *session26) hit(id, method, params string) []byte {
	s.tb.Helper()
	s.client.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + `}`)
	m := s.client.recv()
	wantEq(s.tb, "answer id", decode(s.tb, m.Raw).(obj)["id"], id)
	s.probe()
	return m.Raw
}

// probe checks that nothing reached the server before a new request.
func (s *session26) probe() {
	s.tb.Helper()
	s.client.send(`{"jsonrpc":"2.0","id":"probe","method":"tools/call","params":{"name":"probe","arguments":{}}}`)
	req := s.server.recvObj()
	wantEq(s.tb, "next upstream request", get(req, "params", "name"), `"probe"`)
	s.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"resultType":"complete","content":[]}}`)
	wantEq(s.tb, "probe answered", s.client.recvObj()["id"], `"probe"`)
}

// Results of a 2026-07-28 server with caching hints.
const (
	serverInfo26 = `"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s26","version":"2"}}`
	tools26      = `{"resultType":"complete","tools":[{"name":"echo","title":"Echo","inputSchema":{"type":"object"},` +
		`"outputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}],` + serverInfo26 + `}`
)

// withHints returns result (a JSON object) with ttlMs and cacheScope.
func withHints(result string, ttlMs, scope string) string {
	return strings.TrimSuffix(result, "}") + `,"ttlMs":` + ttlMs + `,"cacheScope":"` + scope + `"}`
}

// Test4F2CacheHit: a repeated tools/list is answered from the cache and
// never reaches the server (a private result, within the one session of a
// client without a principal); the answer is the fresh one with the new
// id, translated for the client (no ttlMs, cacheScope, resultType); the
// hit is counted and logged. Params that differ only in per-hop _meta
// (progressToken) share the entry; other params (a cursor) do not.
func Test4F2CacheHit(t *testing.T) {
	c := cache.New(cache.Options{})
	s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "")
	fresh := s.fetch(`1`, "tools/list", `{}`, withHints(tools26, "60000", "private"))
	checkValid(t, schemas.V20251125, fresh, schemas.FromServer, "tools/list")
	for _, k := range []string{"ttlMs", "cacheScope", "resultType"} {
		if get(decode(t, fresh), "result", k) != nil {
			t.Errorf("%s reached the legacy client: %s", k, fresh)
		}
	}
	again := s.hit(`"two"`, "tools/list", `{"_meta":{"progressToken":"pt"}}`)
	if want := strings.Replace(string(fresh), `"id":1`, `"id":"two"`, 1); string(again) != want {
		t.Errorf("cached answer\n%s\nwant\n%s", again, want)
	}
	s.fetch(`3`, "tools/list", `{"cursor":"next"}`, withHints(tools26, "60000", "private"))
	st := c.Stats()
	if st.Hits != 1 || st.Misses != 2 || st.Stores != 2 {
		t.Errorf("stats %+v, want 1 hit, 2 misses, 2 stores", st)
	}
	if !strings.Contains(s.logs.String(), "answered from the cache") {
		t.Errorf("no debug line for the hit:\n%s", s.logs)
	}
}

// Test4F2CacheSharedAcrossRevisions: a public entry stored by a
// 2025-06-18 client's session answers the sessions of clients of every
// legacy revision (with the same capabilities) of the same upstream, each
// byte for byte as a fresh answer of the same result to that revision is:
// outputSchema and title stripped for 2024-11-05 and 2025-03-26, tools
// marked for task emulation for 2025-11-25 (4.M5).
func Test4F2CacheSharedAcrossRevisions(t *testing.T) {
	c := cache.New(cache.Options{})
	result := withHints(tools26, "60000", "public")
	startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-06-18", "alice").fetch(`1`, "tools/list", `{}`, result)
	for _, rev := range legacy() {
		t.Run(rev.String(), func(t *testing.T) {
			cached := startCached(t, Config{Cache: c, CacheUpstream: "u"}, rev.String(), "bob").hit(`1`, "tools/list", `{}`)
			fresh := startCached(t, Config{Cache: c, CacheUpstream: "elsewhere-" + rev.String()}, rev.String(), "bob").fetch(`1`, "tools/list", `{}`, result)
			if string(cached) != string(fresh) {
				t.Errorf("cached answer\n%s\nfresh answer\n%s", cached, fresh)
			}
			checkValid(t, rev, cached, schemas.FromServer, "tools/list")
			schema := get(decode(t, cached), "result", "tools", 0, "outputSchema")
			if (schema != nil) != (rev >= schemas.V20250618) {
				t.Errorf("outputSchema %s for %s: %s", str(schema), rev, cached)
			}
			task := get(decode(t, cached), "result", "tools", 0, "execution", "taskSupport")
			if (task != nil) != (rev == schemas.V20251125) {
				t.Errorf("taskSupport %s for %s: %s", str(task), rev, cached)
			}
		})
	}
}

// Test4F7CacheScopes: a private result is served only to sessions of the
// same principal (4.F7: lists may vary by authorization); two sessions
// without a principal are different authorization contexts; a public
// result is served to every session of the upstream, and to no session
// of another upstream.
func Test4F7CacheScopes(t *testing.T) {
	tests := []struct {
		name          string
		scope         string
		first, second string // principals; "" = none
		otherUpstream bool   // the second session's CacheUpstream differs
		wantHit       bool
	}{
		{"private, same principal", "private", "alice", "alice", false, true},
		{"private, other principal", "private", "alice", "bob", false, false},
		{"private, no principal", "private", "", "", false, false},
		{"private, principal then none", "private", "alice", "", false, false},
		{"public, other principal", "public", "alice", "bob", false, true},
		{"public, no principal", "public", "", "", false, true},
		{"public, other upstream", "public", "alice", "alice", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.New(cache.Options{})
			result := withHints(tools26, "60000", tt.scope)
			startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", tt.first).fetch(`1`, "tools/list", `{}`, result)
			up := "u"
			if tt.otherUpstream {
				up = "v"
			}
			second := startCached(t, Config{Cache: c, CacheUpstream: up}, "2025-11-25", tt.second)
			if tt.wantHit {
				second.hit(`2`, "tools/list", `{}`)
			} else {
				second.fetch(`2`, "tools/list", `{}`, result)
			}
		})
	}
}

// fakeClock is a settable clock for cache.Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// Test4F2CacheTTL: an entry serves until its ttlMs has passed (on the
// cache's clock), then the request goes to the server again and the new
// result is cached in turn; Options.MaxTTL caps a longer ttlMs.
func Test4F2CacheTTL(t *testing.T) {
	tests := []struct {
		name   string
		ttlMs  string
		maxTTL time.Duration
		life   time.Duration // how long the entry serves
	}{
		{"ttlMs", "1000", 0, time.Second},
		{"capped by MaxTTL", "3600000", 250 * time.Millisecond, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			c := cache.New(cache.Options{Now: clock.Now, MaxTTL: tt.maxTTL})
			s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-06-18", "alice")
			result := withHints(tools26, tt.ttlMs, "private")
			s.fetch(`1`, "prompts/list", `{}`, withHints(`{"resultType":"complete","prompts":[]}`, tt.ttlMs, "private"))
			s.fetch(`2`, "tools/list", `{}`, result)
			clock.advance(tt.life - time.Millisecond)
			s.hit(`3`, "tools/list", `{}`)
			clock.advance(time.Millisecond)
			s.fetch(`4`, "tools/list", `{}`, result)
			s.hit(`5`, "tools/list", `{}`)
			s.fetch(`6`, "prompts/list", `{}`, withHints(`{"resultType":"complete","prompts":[]}`, tt.ttlMs, "private"))
			if st := c.Stats(); st.Expirations != 2 {
				t.Errorf("stats %+v, want 2 expirations", st)
			}
		})
	}
}

// Test4F2CacheInvalidation: notifications from the server's listen drop
// what they make stale, for the sessions of every principal, and nothing
// else: tools/list_changed the tools list, resources/list_changed the
// resource and template lists, resources/updated the reads of its URI. A
// notification that comes while a request is with the server keeps its
// result out of the cache (the epoch), and a lost upstream drops all.
func Test4F2CacheInvalidation(t *testing.T) {
	requests := []struct{ method, params, result string }{
		{"tools/list", `{}`, tools26},
		{"prompts/list", `{}`, `{"resultType":"complete","prompts":[]}`},
		{"resources/list", `{}`, `{"resultType":"complete","resources":[]}`},
		{"resources/templates/list", `{}`, `{"resultType":"complete","resourceTemplates":[]}`},
		{"resources/read", `{"uri":"demo://a"}`, `{"resultType":"complete","contents":[{"uri":"demo://a","text":"a"}]}`},
		{"resources/read", `{"uri":"demo://b"}`, `{"resultType":"complete","contents":[{"uri":"demo://b","text":"b"}]}`},
	}
	tests := []struct {
		name, notification, params string
		dropped                    []bool // per request
	}{
		{"tools list changed", "notifications/tools/list_changed", "", []bool{true, false, false, false, false, false}},
		{"prompts list changed", "notifications/prompts/list_changed", "", []bool{false, true, false, false, false, false}},
		{"resources list changed", "notifications/resources/list_changed", "", []bool{false, false, true, true, false, false}},
		{"resource updated", "notifications/resources/updated", `"uri":"demo://a"`, []bool{false, false, false, false, true, false}},
		{"log message", "notifications/message", `"level":"info","data":"x"`, []bool{false, false, false, false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.New(cache.Options{})
			s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "alice")
			other := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "bob")
			for i, r := range requests {
				s.fetch(`1`+string(rune('0'+i)), r.method, r.params, withHints(r.result, "60000", "private"))
			}
			other.notify(tt.notification, tt.params)
			for i, r := range requests {
				id := `2` + string(rune('0'+i))
				if tt.dropped[i] {
					s.fetch(id, r.method, r.params, withHints(r.result, "60000", "private"))
				} else {
					s.hit(id, r.method, r.params)
				}
			}
		})
	}

	t.Run("notification while the request is upstream", func(t *testing.T) {
		c := cache.New(cache.Options{})
		s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "alice")
		s.client.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`)
		req := s.server.recvObj()
		s.notify("notifications/tools/list_changed", "")
		s.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":` + withHints(tools26, "60000", "private") + `}`)
		wantEq(t, "answer", s.client.recvObj()["id"], `1`)
		s.fetch(`2`, "tools/list", `{}`, withHints(tools26, "60000", "private"))
		s.hit(`3`, "tools/list", `{}`)
	})

	t.Run("upstream lost", func(t *testing.T) {
		c := cache.New(cache.Options{})
		s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "alice")
		other := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "alice")
		s.fetch(`1`, "tools/list", `{}`, withHints(tools26, "60000", "private"))
		other.hit(`1`, "tools/list", `{}`)
		// s's server goes away with a request pending.
		s.client.send(`{"jsonrpc":"2.0","id":"lost","method":"tools/call","params":{"name":"slow","arguments":{}}}`)
		s.server.recv()
		s.server.conn.Close()
		wantEq(t, "lost", errorCode(s.client.recvObj()), `-32603`)
		other.fetch(`2`, "tools/list", `{}`, withHints(tools26, "60000", "private"))
	})
}

// Test4F2CacheUncacheable: results the cache must not keep go to the
// server every time: no hints, ttlMs 0, an unknown cacheScope, an error,
// the result of an MRTR retry (4.M6: resources/read after an
// InputRequiredResult), and any result of a legacy upstream, even one
// that carries hint-like members.
func Test4F2CacheUncacheable(t *testing.T) {
	tests := []struct {
		name   string
		answer string // the server's answer: a result or an error member
	}{
		{"no hints", `"result":` + tools26},
		{"ttlMs 0", `"result":` + withHints(tools26, "0", "public")},
		{"unknown scope", `"result":` + withHints(tools26, "60000", "everyone")},
		{"error", `"error":{"code":-32603,"message":"busy"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.New(cache.Options{})
			s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "alice")
			for _, id := range []string{"1", "2"} {
				s.client.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/list","params":{}}`)
				req := s.server.recvObj()
				wantEq(t, "forwarded", req["method"], `"tools/list"`)
				s.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,` + tt.answer + `}`)
				wantEq(t, "answered", s.client.recvObj()["id"], id)
			}
			if st := c.Stats(); st.Stores != 0 || st.Hits != 0 {
				t.Errorf("stats %+v, want nothing stored or served", st)
			}
		})
	}

	t.Run("MRTR retry", func(t *testing.T) {
		c := cache.New(cache.Options{})
		s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-11-25", "alice")
		read := `{"resultType":"complete","contents":[{"uri":"demo://a","text":"a"}]}`
		for _, id := range []string{"1", "2"} {
			s.client.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"resources/read","params":{"uri":"demo://a"}}`)
			first := s.server.recvObj()
			s.server.send(`{"jsonrpc":"2.0","id":` + str(first["id"]) + `,"result":{"resultType":"input_required","requestState":"st"}}`)
			retry := s.server.recvObj()
			wantEq(t, "retry", get(retry, "params", "requestState"), `"st"`)
			s.server.send(`{"jsonrpc":"2.0","id":` + str(retry["id"]) + `,"result":` + withHints(read, "60000", "public") + `}`)
			wantEq(t, "answered", s.client.recvObj()["id"], id)
		}
		if st := c.Stats(); st.Stores != 0 || st.Hits != 0 {
			t.Errorf("stats %+v, want nothing stored or served", st)
		}
	})

	t.Run("legacy upstream", func(t *testing.T) {
		c := cache.New(cache.Options{})
		h := start(t, Config{Validator: testValidator(t), Cache: c, CacheUpstream: "u"})
		h.handshake("2025-11-25", "2025-11-25", "2025-11-25", `{}`, `{"tools":{}}`)
		for _, id := range []string{"1", "2"} {
			h.client.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/list"}`)
			req := h.server.recvObj()
			wantEq(t, "forwarded", req["method"], `"tools/list"`)
			h.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"tools":[],"ttlMs":60000,"cacheScope":"public"}}`)
			wantEq(t, "answered", h.client.recvObj()["id"], id)
		}
		if st := c.Stats(); st.Stores != 0 || st.Hits != 0 || st.Misses != 0 {
			t.Errorf("stats %+v, want the cache untouched", st)
		}
	})
}

// Test4F2CacheHitInBatch: in a 2025-03-26 client's batch, a cached
// request is answered from the cache and one that is not goes to the
// server; the batch's answer gathers both.
func Test4F2CacheHitInBatch(t *testing.T) {
	c := cache.New(cache.Options{})
	s := startCached(t, Config{Cache: c, CacheUpstream: "u"}, "2025-03-26", "")
	s.fetch(`1`, "tools/list", `{}`, withHints(tools26, "60000", "private"))
	s.client.send(`[{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}},{"jsonrpc":"2.0","id":3,"method":"prompts/list","params":{}}]`)
	req := s.server.recvObj()
	wantEq(t, "the only request upstream", req["method"], `"prompts/list"`)
	s.server.send(`{"jsonrpc":"2.0","id":` + str(req["id"]) + `,"result":{"resultType":"complete","prompts":[]}}`)
	arr := s.client.recv()
	elems, ok := decode(t, arr.Raw).([]any)
	if !ok || len(elems) != 2 {
		t.Fatalf("batch answer = %s, want an array of 2", arr.Raw)
	}
	byID := map[string]any{}
	for _, e := range elems {
		byID[str(get(e, "id"))] = e
	}
	wantEq(t, "cached tools/list", get(byID["2"], "result", "tools", 0, "name"), `"echo"`)
	wantEq(t, "fresh prompts/list", get(byID["3"], "result", "prompts"), `[]`)
	if st := c.Stats(); st.Hits != 1 {
		t.Errorf("stats %+v, want 1 hit", st)
	}
}
