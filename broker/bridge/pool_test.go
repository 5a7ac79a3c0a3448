package bridge

import (
	"testing"
	"time"
)

// sessionOf returns the upstream session that answered the last
// tools/list request of the client; the fake server names it in
// serverInfo.version, so discover tells it too.
func (h *harness) laneOf(auth string, caps any) string {
	h.tb.Helper()
	r := h.call("server/discover", obj{"_meta": meta(caps)}, auth)
	v, _ := get(r, "_meta", metaServerInfo, "version").(string)
	if v == "" {
		h.tb.Fatalf("discover without serverInfo.version: %s", js(r))
	}
	return v
}

// Test4F7PoolKeying: lanes are keyed by principal (a digest of the
// Authorization header) and canonical client capabilities (4.L1, 4.F7):
// two principals never share an upstream session, the same principal with
// the same capabilities (in any key order) does, and different
// capabilities get their own session, initialized with them.
func Test4F7PoolKeying(t *testing.T) {
	h := newHarness(t)
	capsA := obj{"sampling": obj{}, "roots": obj{}}
	capsAReordered := map[string]any{"roots": obj{}, "sampling": obj{}}
	alice := h.laneOf("Bearer alice", capsA)
	bob := h.laneOf("Bearer bob", capsA)
	if alice == bob {
		t.Fatalf("two principals share upstream session %s", alice)
	}
	if again := h.laneOf("Bearer alice", capsAReordered); again != alice {
		t.Errorf("same principal and capabilities: session %s, then %s", alice, again)
	}
	if again := h.laneOf("Bearer bob", capsA); again != bob {
		t.Errorf("same principal and capabilities: session %s, then %s", bob, again)
	}
	other := h.laneOf("Bearer alice", obj{"elicitation": obj{}})
	if other == alice || other == bob {
		t.Errorf("different capabilities share session %s", other)
	}
	anon := h.laneOf("", capsA)
	if anon == alice || anon == bob || anon == other {
		t.Errorf("a request without credentials shares session %s", anon)
	}
	if got := h.up.initializes(); got != 4 {
		t.Errorf("%d upstream initializes, want 4 (alice, bob, alice with other capabilities, anonymous)", got)
	}
	// Each lane was initialized with its own key's capabilities.
	var elicitOnly int
	for _, r := range h.up.log.all(isRequest("initialize")) {
		if js(get(r.obj(), "params", "capabilities")) == `{"elicitation":{}}` {
			elicitOnly++
		}
	}
	if elicitOnly != 1 {
		t.Errorf("%d initializes with the elicitation-only capabilities, want 1", elicitOnly)
	}

	// With no credential header configured, every request is the same
	// principal.
	t.Run("no credential headers", func(t *testing.T) {
		h := newHarness(t, withConfig(func(c *Config) { c.CredentialHeaders = []string{} }))
		if a, b := h.laneOf("Bearer alice", capsA), h.laneOf("Bearer bob", capsA); a != b {
			t.Errorf("one principal, two sessions %s and %s", a, b)
		}
	})
}

// Test4F7MaxLanesEvictsIdleLRU: beyond MaxLanes the least recently used
// idle lane is closed (its upstream session ends); a busy lane is passed
// over, and a principal whose lane was evicted gets a new one.
func Test4F7MaxLanesEvictsIdleLRU(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.MaxLanes = 2 }))
	a := h.laneOf("Bearer a", capsAll) // session 1
	h.laneOf("Bearer b", capsAll)      // session 2
	h.laneOf("Bearer c", capsAll)      // session 3: evicts a's
	awaitClosed(t, h.up.session(1), "the LRU lane a")
	if isClosed(h.up.session(2)) {
		t.Fatal("lane b closed too")
	}
	if again := h.laneOf("Bearer a", capsAll); again == a {
		t.Fatalf("evicted lane a still answers")
	} // session 4: evicts b's (c was used later)
	awaitClosed(t, h.up.session(2), "the LRU lane b")

	// A busy lane (a call in flight) is not evicted although least
	// recently used: the idle one is.
	h.send("tools/call", toolCall(meta(capsAll)), "Bearer c") // session 3 busy
	h.upRequest("tools/call")
	h.laneOf("Bearer a", capsAll) // touch session 4: c's (3) is now the LRU, but busy
	h.laneOf("Bearer d", capsAll) // session 5: evicts a's (4)
	awaitClosed(t, h.up.session(4), "the idle lane a")
	if isClosed(h.up.session(3)) {
		t.Fatal("the busy lane c was evicted")
	}
}

// Test4F7LaneIdleTTL: a lane idle for LaneIdleTTL is closed (and a new
// request gets a new one); a lane with a call in flight is not.
func Test4F7LaneIdleTTL(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.LaneIdleTTL = 30 * time.Millisecond }))
	// Lane a is busy with a call; lane b is idle.
	h.send("tools/call", toolCall(meta(capsAll)), "Bearer a")
	call := h.upRequest("tools/call")
	h.laneOf("Bearer b", capsAll)
	awaitClosed(t, h.up.session(2), "the idle lane b")
	if isClosed(h.up.session(1)) {
		t.Fatal("the busy lane a expired")
	}
	if again := h.laneOf("Bearer b", capsAll); again == "1.0.2" {
		t.Fatal("the expired lane answered")
	}
	if got := h.up.initializes(); got != 3 {
		t.Errorf("%d initializes, want 3", got)
	}
	// Once the call is answered lane a idles out too.
	call.sess.reply(call.m.ID, `{"content":[]}`)
	awaitClosed(t, h.up.session(1), "lane a, idle after its call")
}

func isClosed(s *upSession) bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func awaitClosed(t *testing.T, s *upSession, what string) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(waitTimeout):
		t.Fatalf("upstream session of %s not closed", what)
	}
}
