package cache

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 7, 28, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// key returns a tools/list key of upstream "up" for auth.
func key(auth string) Key {
	return Key{Upstream: "up", Auth: auth, Revision: "2026-07-28", Method: "tools/list"}
}

var (
	private = Hints{TTL: time.Minute, Scope: Private}
	public  = Hints{TTL: time.Minute, Scope: Public}
)

// TestPrincipalIsolation: a private result is only ever served to the
// requester it was stored for; a public one to everyone with the same
// request.
func TestPrincipalIsolation(t *testing.T) {
	modify := func(f func(*Key)) Key { k := key("alice"); f(&k); return k }
	tests := []struct {
		name   string
		put    Key
		hints  Hints
		stored bool
		get    Key
		hit    bool
	}{
		{"private, same principal", key("alice"), private, true, key("alice"), true},
		{"private, other principal", key("alice"), private, true, key("bob"), false},
		{"private, anonymous reader", key("alice"), private, true, key(""), false},
		{"private, principal is a prefix", key("alice"), private, true, key("alic"), false},
		{"private, principal differs in case", key("alice"), private, true, key("Alice"), false},
		{"private, anonymous writer", key(""), private, false, key(""), false},
		{"private, anonymous writer, other reader", key(""), private, false, key("bob"), false},
		{"public, other principal", key("alice"), public, true, key("bob"), true},
		{"public, anonymous reader", key("alice"), public, true, key(""), true},
		{"public, anonymous writer", key(""), public, true, key("bob"), true},
		{"public, other upstream", key("alice"), public, true, modify(func(k *Key) { k.Upstream = "other" }), false},
		{"public, other revision", key("alice"), public, true, modify(func(k *Key) { k.Revision = "2025-11-25" }), false},
		{"public, other method", key("alice"), public, true, modify(func(k *Key) { k.Method = "prompts/list" }), false},
		{"public, other params", key("alice"), public, true, modify(func(k *Key) { k.Params = `{"cursor":"2"}` }), false},
		{"private, other params", key("alice"), private, true, modify(func(k *Key) { k.Params = `{"cursor":"2"}` }), false},
		{"no scope", key("alice"), Hints{TTL: time.Minute}, false, key("alice"), false},
		{"ttl 0", key("alice"), Hints{Scope: Public}, false, key("alice"), false},
		{"uncacheable method", modify(func(k *Key) { k.Method = "tools/call" }), public, false,
			modify(func(k *Key) { k.Method = "tools/call" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			raw := []byte(`{"tools":[],"from":"` + tt.put.Auth + `"}`)
			if got := c.Put(tt.put, c.Epoch(), raw, tt.hints); got != tt.stored {
				t.Fatalf("Put = %v, want %v", got, tt.stored)
			}
			got, hit := c.Get(tt.get)
			if hit != tt.hit {
				t.Fatalf("Get hit = %v, want %v", hit, tt.hit)
			}
			if hit && string(got) != string(raw) {
				t.Fatalf("Get = %s, want %s", got, raw)
			}
		})
	}
}

// TestPrivateBeforePublic: Get prefers the requester's own entry.
func TestPrivateBeforePublic(t *testing.T) {
	c := New(Options{})
	c.Put(key("alice"), 0, []byte(`"public"`), public)
	c.Put(key("alice"), 0, []byte(`"alice"`), private)
	for auth, want := range map[string]string{"alice": `"alice"`, "bob": `"public"`, "": `"public"`} {
		if got, ok := c.Get(key(auth)); !ok || string(got) != want {
			t.Fatalf("Get(%q) = %s, %v; want %s", auth, got, ok, want)
		}
	}
}

func TestTTL(t *testing.T) {
	tests := []struct {
		name    string
		ttl     time.Duration
		maxTTL  time.Duration
		advance time.Duration
		hit     bool
	}{
		{"fresh", 10 * time.Second, 0, 0, true},
		{"just before", 10 * time.Second, 0, 10*time.Second - time.Nanosecond, true},
		{"at ttl", 10 * time.Second, 0, 10 * time.Second, false},
		{"after ttl", 10 * time.Second, 0, time.Hour, false},
		{"capped by MaxTTL", time.Hour, time.Minute, time.Minute, false},
		{"under MaxTTL", time.Hour, time.Minute, time.Minute - time.Second, true},
		{"capped by DefaultMaxTTL", 24 * time.Hour, 0, DefaultMaxTTL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			c := New(Options{Now: clock.Now, MaxTTL: tt.maxTTL})
			if !c.Put(key("a"), 0, []byte(`{}`), Hints{TTL: tt.ttl, Scope: Private}) {
				t.Fatal("not stored")
			}
			clock.Advance(tt.advance)
			if _, hit := c.Get(key("a")); hit != tt.hit {
				t.Fatalf("hit = %v, want %v", hit, tt.hit)
			}
			if st := c.Stats(); !tt.hit && (st.Expirations != 1 || st.Entries != 0 || st.Bytes != 0) {
				t.Fatalf("stats after expiry = %+v", st)
			}
		})
	}
}

// TestByteBound fills the cache past its byte bound: the least recently
// used entries go first, and the bytes charged never exceed the bound.
func TestByteBound(t *testing.T) {
	raw := []byte(strings.Repeat("x", 1000))
	perEntry := int64(len(raw)+len("up")+len("a")+len("2026-07-28")+len("tools/list")+len(`{"cursor":"0"}`)) + entryOverhead
	c := New(Options{MaxBytes: 4 * perEntry, MaxEntryBytes: perEntry})
	page := func(i int) Key {
		k := key("a")
		k.Params = fmt.Sprintf(`{"cursor":"%d"}`, i)
		return k
	}
	for i := range 4 {
		if !c.Put(page(i), 0, raw, private) {
			t.Fatalf("page %d not stored", i)
		}
	}
	if _, ok := c.Get(page(0)); !ok { // page 0 becomes the most recently used
		t.Fatal("page 0 missing")
	}
	c.Put(page(4), 0, raw, private) // evicts page 1
	c.Put(page(5), 0, raw, private) // evicts page 2
	for i, want := range []bool{true, false, false, true, true, true} {
		if _, ok := c.Get(page(i)); ok != want {
			t.Fatalf("page %d present = %v, want %v", i, ok, want)
		}
	}
	st := c.Stats()
	if st.Bytes > 4*perEntry || st.Entries != 4 || st.Evictions != 2 || st.Bytes != 4*perEntry {
		t.Fatalf("stats = %+v (per entry %d)", st, perEntry)
	}
	// A result larger than MaxEntryBytes is declined and evicts nothing.
	if c.Put(page(9), 0, append(raw, 'y'), private) {
		t.Fatal("oversized entry stored")
	}
	if st := c.Stats(); st.Entries != 4 || st.Rejected != 1 {
		t.Fatalf("after oversized Put: %+v", st)
	}
	// Replacing an entry charges its new size only once.
	c.Put(page(0), 0, raw[:10], private)
	if st := c.Stats(); st.Bytes != 3*perEntry+perEntry-990 || st.Entries != 4 {
		t.Fatalf("after replace: %+v", st)
	}
}

func TestEntryLargerThanCache(t *testing.T) {
	c := New(Options{MaxBytes: 1000, MaxEntryBytes: 5000})
	if c.Put(key("a"), 0, make([]byte, 2000), private) {
		t.Fatal("stored an entry larger than the cache")
	}
	if !c.Put(key("a"), 0, make([]byte, 500), private) {
		t.Fatal("small entry not stored")
	}
	if st := c.Stats(); st.Bytes > 1000 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestEntryBound(t *testing.T) {
	c := New(Options{MaxEntries: 3})
	for i := range 10 {
		k := key(fmt.Sprint("user", i))
		c.Put(k, 0, []byte(`{}`), private)
	}
	st := c.Stats()
	if st.Entries != 3 || st.Evictions != 7 {
		t.Fatalf("stats = %+v", st)
	}
	for i := 7; i < 10; i++ {
		if _, ok := c.Get(key(fmt.Sprint("user", i))); !ok {
			t.Fatalf("user%d evicted", i)
		}
	}
}

func TestGetReturnsReadOnlyCopy(t *testing.T) {
	c := New(Options{})
	raw := []byte(`{"a":1}`)
	c.Put(key("a"), 0, raw, private)
	raw[2] = 'X' // the caller's buffer is not the cache's
	got, _ := c.Get(key("a"))
	if string(got) != `{"a":1}` {
		t.Fatalf("Put kept the caller's buffer: %s", got)
	}
	_ = append(got, '!') // capacity is capped: appending copies
	again, _ := c.Get(key("a"))
	if string(again) != `{"a":1}` || cap(got) != len(got) {
		t.Fatalf("append reached the cache: %s", again)
	}
}

func TestInvalidation(t *testing.T) {
	read := func(upstream, auth, uri string) Key {
		k, err := KeyFor(upstream, auth, "2026-07-28", "resources/read", []byte(`{"uri":"`+uri+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	list := func(upstream, method string) Key {
		return Key{Upstream: upstream, Auth: "a", Revision: "2026-07-28", Method: method}
	}
	all := []Key{
		list("up", "tools/list"), list("up", "prompts/list"), list("up", "resources/list"),
		list("up", "resources/templates/list"), read("up", "a", "file:///x"), read("up", "b", "file:///x"),
		read("up", "a", "file:///y"), list("other", "tools/list"), read("other", "a", "file:///x"),
	}
	tests := []struct {
		name    string
		do      func(c *Cache) int
		dropped []int // indexes into all
	}{
		{"tools list_changed", func(c *Cache) int {
			return c.InvalidateNotification("up", "notifications/tools/list_changed", nil)
		}, []int{0}},
		{"prompts list_changed", func(c *Cache) int {
			return c.InvalidateNotification("up", "notifications/prompts/list_changed", []byte(`{}`))
		}, []int{1}},
		{"resources list_changed", func(c *Cache) int {
			return c.InvalidateNotification("up", "notifications/resources/list_changed", nil)
		}, []int{2, 3}},
		{"resources updated", func(c *Cache) int {
			return c.InvalidateNotification("up", "notifications/resources/updated", []byte(`{"uri":"file:///x"}`))
		}, []int{4, 5}},
		{"resources updated, unreadable params", func(c *Cache) int {
			return c.InvalidateNotification("up", "notifications/resources/updated", []byte(`[`))
		}, []int{4, 5, 6}},
		{"other notification", func(c *Cache) int {
			return c.InvalidateNotification("up", "notifications/message", nil)
		}, nil},
		{"method", func(c *Cache) int { return c.InvalidateMethod("other", "tools/list") }, []int{7}},
		{"uri", func(c *Cache) int { return c.InvalidateURI("up", "file:///y") }, []int{6}},
		{"upstream", func(c *Cache) int { return c.InvalidateUpstream("other") }, []int{7, 8}},
		{"purge", func(c *Cache) int { c.Purge(); return 9 }, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			for _, k := range all {
				if !c.Put(k, 0, []byte(`{}`), private) {
					t.Fatalf("%+v not stored", k)
				}
			}
			if n := tt.do(c); n != len(tt.dropped) {
				t.Fatalf("dropped %d, want %d", n, len(tt.dropped))
			}
			for i, k := range all {
				_, ok := c.Get(k)
				want := true
				for _, d := range tt.dropped {
					if d == i {
						want = false
					}
				}
				if ok != want {
					t.Fatalf("entry %d (%+v) present = %v, want %v", i, k, ok, want)
				}
			}
			if st := c.Stats(); st.Invalidations != uint64(len(tt.dropped)) {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

// TestStaleEpoch: a result fetched before an invalidation is not stored
// after it.
func TestStaleEpoch(t *testing.T) {
	c := New(Options{})
	epoch := c.Epoch()
	// ... the request is forwarded; meanwhile the list changes:
	c.InvalidateNotification("up", "notifications/tools/list_changed", nil)
	if c.Put(key("a"), epoch, []byte(`{}`), private) {
		t.Fatal("stale result stored")
	}
	if !c.Put(key("a"), c.Epoch(), []byte(`{}`), private) {
		t.Fatal("fresh result not stored")
	}
	if st := c.Stats(); st.Rejected != 1 || st.Stores != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestStore(t *testing.T) {
	tests := []struct {
		name   string
		auth   string
		raw    string
		stored bool
	}{
		{"private", "a", `{"tools":[],"ttlMs":1000,"cacheScope":"private","resultType":"complete"}`, true},
		{"public", "", `{"tools":[],"ttlMs":1000,"cacheScope":"public"}`, true},
		{"private without auth", "", `{"tools":[],"ttlMs":1000,"cacheScope":"private"}`, false},
		{"ttl 0", "a", `{"tools":[],"ttlMs":0,"cacheScope":"private"}`, false},
		{"no hints (legacy)", "a", `{"tools":[]}`, false},
		{"input required", "a", `{"resultType":"input_required","ttlMs":1000,"cacheScope":"private","requestState":"x"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{})
			if got := c.Store(key(tt.auth), c.Epoch(), []byte(tt.raw)); got != tt.stored {
				t.Fatalf("Store = %v, want %v", got, tt.stored)
			}
		})
	}
}

// TestConcurrent hammers one Cache from several goroutines (run with
// -race) and checks that no private entry ever reaches another principal.
func TestConcurrent(t *testing.T) {
	clock := newClock()
	c := New(Options{MaxEntries: 50, MaxBytes: 1 << 16, Now: clock.Now})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				auth := fmt.Sprint("user", (g+i)%5)
				k := key(auth)
				k.Params = fmt.Sprintf(`{"cursor":"%d"}`, i%7)
				switch i % 10 {
				case 0:
					c.Put(k, c.Epoch(), []byte(`"public"`), public)
				case 1:
					c.InvalidateNotification("up", "notifications/tools/list_changed", nil)
				case 2:
					clock.Advance(time.Second)
				case 3:
					c.Stats()
				default:
					c.Put(k, c.Epoch(), []byte(`"`+auth+`"`), private)
				}
				if got, ok := c.Get(k); ok && string(got) != `"`+auth+`"` && string(got) != `"public"` {
					errs <- fmt.Errorf("%s got %s", auth, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.Entries > 50 || st.Bytes > 1<<16 || st.Hits == 0 || st.Stores == 0 {
		t.Fatalf("stats = %+v", st)
	}
}
