package bridge

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// Test4L1MissingRequestMeta: a 2026-07-28 request without
// _meta protocolVersion or clientCapabilities is refused with -32602, and
// nothing reaches (or even dials) the upstream.
func Test4L1MissingRequestMeta(t *testing.T) {
	h := newHarness(t)
	cases := map[string]obj{
		"no params":                    nil,
		"no _meta":                     {},
		"no protocolVersion":           {"_meta": obj{kCaps: obj{}}},
		"no clientCapabilities":        {"_meta": obj{kPV: "2026-07-28"}},
		"capabilities not an object":   {"_meta": obj{kPV: "2026-07-28", kCaps: "all"}},
		"protocolVersion not a string": {"_meta": obj{kPV: 20260728, kCaps: obj{}}},
	}
	for name, params := range cases {
		t.Run(name, func(t *testing.T) {
			id := h.newID()
			h.sendReq(req{id: id, method: "tools/list", params: params})
			e := h.errorOf(id, jsonrpc.CodeInvalidParams)
			if msg, _ := e["message"].(string); msg == "" {
				t.Errorf("no message: %s", js(e))
			}
		})
	}
	// The same without schema validation: the bridge's own check (the
	// chain's 4.L1 row) refuses them too.
	t.Run("without validator", func(t *testing.T) {
		h := newHarness(t, withConfig(func(c *Config) { c.Relay.Validator = nil }))
		for name, params := range cases {
			id := h.newID()
			h.sendReq(req{id: id, method: "tools/call", params: params})
			e := h.errorOf(id, jsonrpc.CodeInvalidParams)
			if msg, _ := e["message"].(string); !strings.Contains(msg, "protocolVersion") {
				t.Errorf("%s: message does not say what is missing: %s", name, js(e))
			}
		}
		if n := h.up.dials.Load(); n != 0 {
			t.Errorf("upstream dialed %d times for refused requests", n)
		}
	})
	if n := h.up.dials.Load(); n != 0 {
		t.Errorf("upstream dialed %d times for refused requests", n)
	}
}

// Test4L3UnsupportedProtocolVersion: an unknown or older protocolVersion
// gets -32022 with data {supported, requested}; nothing reaches the
// upstream.
func Test4L3UnsupportedProtocolVersion(t *testing.T) {
	for _, validated := range []bool{true, false} {
		t.Run(fmt.Sprintf("validator=%v", validated), func(t *testing.T) {
			h := newHarness(t, withConfig(func(c *Config) {
				if !validated {
					c.Relay.Validator = nil
				}
			}))
			for _, v := range []string{"2025-11-25", "2024-11-05", "2099-01-01", "latest"} {
				id := h.newID()
				h.sendReq(req{id: id, method: "tools/list", params: obj{"_meta": obj{kPV: v, kCaps: obj{}}}})
				e := h.errorOf(id, -32022)
				data, _ := e["data"].(obj)
				if js(data["supported"]) != `["2026-07-28"]` || data["requested"] != v {
					t.Errorf("%s: data = %s, want {supported:[2026-07-28], requested:%s}", v, js(data), v)
				}
			}
			if n := h.up.dials.Load(); n != 0 {
				t.Errorf("upstream dialed %d times for refused requests", n)
			}
		})
	}
}

// Test4L2DiscoverFromPooledSession: server/discover is answered from the
// lane's InitializeResult; many requests with the same key, concurrent
// ones included, cost one upstream initialize, which carries the request's
// capabilities (4.L4) and clientInfo.
func Test4L2DiscoverFromPooledSession(t *testing.T) {
	h := newHarness(t)
	const n = 8
	ids := make([]string, n)
	for i := range n {
		ids[i] = string(h.send("server/discover", nil, "Bearer a"))
	}
	var wg sync.WaitGroup
	results := make([]obj, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.result([]byte(ids[i]))
		}()
	}
	wg.Wait()
	h.call("tools/list", nil, "Bearer a")
	h.call("server/discover", nil, "Bearer a")
	if got := h.up.initializes(); got != 1 {
		t.Fatalf("%d upstream initializes for one key, want 1", got)
	}
	if got := h.up.dials.Load(); got != 1 {
		t.Errorf("%d upstream dials, want 1", got)
	}
	init := h.up.log.all(isRequest("initialize"))[0].obj()
	if got := js(get(init, "params", "capabilities")); got != `{"elicitation":{},"roots":{},"sampling":{}}` {
		t.Errorf("initialize capabilities %s", got)
	}
	if got := js(get(init, "params", "clientInfo")); got != `{"name":"test-client","version":"1"}` {
		t.Errorf("initialize clientInfo %s", got)
	}
	if got := get(init, "params", "protocolVersion"); got != "2025-11-25" {
		t.Errorf("initialize protocolVersion %v", got)
	}
	for _, r := range results {
		if r["resultType"] != "complete" || js(r["supportedVersions"]) != `["2026-07-28"]` ||
			r["instructions"] != "fake instructions" || fmt.Sprint(r["ttlMs"]) != "0" || r["cacheScope"] != "private" {
			t.Errorf("discover result %s", js(r))
		}
		if got := js(get(r, "_meta", metaServerInfo)); got != `{"name":"fake-upstream","version":"1.0.1"}` {
			t.Errorf("discover serverInfo %s", got)
		}
		caps := js(r["capabilities"])
		if !strings.Contains(caps, `"subscribe":true`) || !strings.Contains(caps, `"tools":{"listChanged":true}`) {
			t.Errorf("discover capabilities %s", caps)
		}
	}
	// 4.F2: configured caching hints.
	h2 := newHarness(t, withConfig(func(c *Config) { c.CacheTTLMs, c.CacheScope = 5000, "public" }))
	r := h2.call("server/discover", nil, "")
	if fmt.Sprint(r["ttlMs"]) != "5000" || r["cacheScope"] != "public" {
		t.Errorf("configured caching hints not used: %s", js(r))
	}
}

// Test4L4UnknownExtension: a 2026-07-28 client's capabilities may declare
// extensions the broker and the legacy server do not know; they never reach
// the legacy server (4.L4: a legacy initialize has no extensions), the
// request is served, the discover result advertises no extension, and a
// method of an unknown extension is refused with -32601 (4.T5: on HTTP the
// transport answers it with 404).
func Test4L4UnknownExtension(t *testing.T) {
	h := newHarness(t)
	caps := obj{"sampling": obj{}, "extensions": obj{"io.example/unknown": obj{"mode": "x"}}}
	res := h.call("tools/list", obj{"_meta": meta(caps)}, "")
	if _, ok := res["tools"]; !ok {
		t.Fatalf("tools/list with an unknown extension declared: %s", js(res))
	}
	init := h.up.log.all(isRequest("initialize"))[0].obj()
	if got := js(get(init, "params", "capabilities")); got != `{"sampling":{}}` {
		t.Errorf("the legacy server was initialized with %s, want the extension dropped", got)
	}
	d := h.call("server/discover", obj{"_meta": meta(caps)}, "")
	if ext := get(d, "capabilities", "extensions"); ext != nil {
		t.Errorf("discover advertises extensions %s the server does not have", js(ext))
	}
	id := h.send("io.example/unknown/do", obj{"_meta": meta(caps)}, "")
	h.errorOf(id, jsonrpc.CodeMethodNotFound)
	if n := len(h.up.log.all(isRequest("io.example/unknown/do"))); n != 0 {
		t.Errorf("the unknown method reached the upstream %d times", n)
	}
}
