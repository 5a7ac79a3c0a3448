package cache

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchList is a tools/list result of 50 tools (about 14 KB) with its
// hints at the end, where a server writing struct fields in schema order
// puts them.
func benchList() []byte {
	var b strings.Builder
	b.WriteString(`{"tools":[`)
	for i := range 50 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"tool_%d","title":"Tool %d","description":"Does thing number %d, with \"quotes\" and some more text to make it realistic.",`+
			`"inputSchema":{"type":"object","properties":{"path":{"type":"string","description":"a path"},"n":{"type":"integer"}},"required":["path"]}}`, i, i, i)
	}
	b.WriteString(`],"ttlMs":60000,"cacheScope":"public","resultType":"complete"}`)
	return []byte(b.String())
}

func BenchmarkGetHit(b *testing.B) {
	c := New(Options{})
	for i := range 1000 {
		c.Put(Key{Upstream: "up", Auth: fmt.Sprint("user", i), Revision: "2026-07-28", Method: "tools/list"}, 0, []byte(`{}`),
			Hints{TTL: time.Hour, Scope: Private})
	}
	k, err := KeyFor("up", "user500", "2026-07-28", "tools/list", nil)
	if err != nil {
		b.Fatal(err)
	}
	c.Put(k, 0, benchList(), Hints{TTL: time.Hour, Scope: Public})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Get(k); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkGetHitParallel measures lock contention on the hit path.
func BenchmarkGetHitParallel(b *testing.B) {
	c := New(Options{})
	k, _ := KeyFor("up", "alice", "2026-07-28", "resources/read", []byte(`{"uri":"file:///a"}`))
	c.Put(k, 0, []byte(`{"contents":[]}`), Hints{TTL: time.Hour, Scope: Private})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get(k); !ok {
				b.Error("miss")
				return
			}
		}
	})
}

// BenchmarkLookup is the whole request-side cost of a hit: canonical
// params, key and Get.
func BenchmarkLookup(b *testing.B) {
	c := New(Options{})
	params := []byte(`{"uri":"file:///project/README.md","_meta":{"progressToken":7,` +
		`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}}`)
	k, _ := KeyFor("up", "alice", "2026-07-28", "resources/read", params)
	c.Put(k, 0, []byte(`{"contents":[]}`), Hints{TTL: time.Hour, Scope: Private})
	b.ReportAllocs()
	for b.Loop() {
		k, err := KeyFor("up", "alice", "2026-07-28", "resources/read", params)
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := c.Get(k); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkExtractHints(b *testing.B) {
	raw := benchList()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ExtractHints(raw); !ok {
			b.Fatal("no hints")
		}
	}
}

func BenchmarkPut(b *testing.B) {
	c := New(Options{MaxEntries: 1000})
	raw := benchList()
	keys := make([]Key, 2000)
	for i := range keys {
		keys[i] = Key{Upstream: "up", Auth: fmt.Sprint("user", i), Revision: "2026-07-28", Method: "tools/list"}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Put(keys[i%len(keys)], 0, raw, Hints{TTL: time.Hour, Scope: Private})
		i++
	}
}
