package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzHints checks ExtractHints against referenceHints (encoding/json's
// token stream) on every valid JSON input, and that it never panics on
// any input.
func FuzzHints(f *testing.F) {
	for _, seed := range []string{
		`{"tools":[{"name":"a","inputSchema":{"type":"object"}}],"ttlMs":60000,"cacheScope":"public","resultType":"complete"}`,
		`{"ttlMs":0,"cacheScope":"private"}`,
		`{"ttl\u004ds":7,"cacheScope":"pub\u006cic"}`,
		`{"a":"}\"{[","b":["]",{"c":"\\"}],"ttlMs":3,"cacheScope":"public"}`,
		`{"ttlMs":5,"cacheScope":"public","cacheScope":"private"}`,
		`{"resultType":"input_required","inputRequests":{},"requestState":"x"}`,
		`{"ttlMs":99999999999999999999999999,"cacheScope":"public"}`,
		`{"ttlMs":-1,"cacheScope":"public"}`, `{"ttlMs":1.5,"cacheScope":"public"}`,
		`[]`, `{}`, `{`, `"`, `{"a":"\`, ``, `{"a":1}x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, ok := ExtractHints(raw)
		if ok && (h.TTL < 0 || h.TTL > MaxHintTTL || h.Scope == NoScope) {
			t.Fatalf("accepted out-of-range hints %+v", h)
		}
		if !json.Valid(raw) {
			return
		}
		ref, refOK := referenceHints(raw)
		if h != ref || ok != refOK {
			t.Fatalf("ExtractHints = %+v, %v; reference = %+v, %v", h, ok, ref, refOK)
		}
	})
}

// FuzzCanonicalParams checks that CanonicalParams never panics, fails only
// with ErrUncacheable, agrees with referenceCanonical (encoding/json's
// token stream), and returns valid JSON that is its own canonical form and
// means the same as the input (apart from the per-hop _meta keys).
func FuzzCanonicalParams(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `{"cursor":"abc"}`, `{"uri":"file:///a","_meta":{"progressToken":1,"com.example/x":[1,{"b":2,"a":1}]}}`,
		`{"uri":"a","uri":"b"}`, `{"uri":"\ud800"}`, `{"requestState":"s"}`, `{"n":1.0e5,"s":"<&>\u2028"}`,
		`{"_meta":{"progressToken":1}}`, `{"_meta":"x"}`, `[1]`, `{"a":`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		canon, err := CanonicalParams(params)
		ref, refErr := referenceCanonical(params)
		if canon != ref || (err == nil) != (refErr == nil) {
			t.Fatalf("CanonicalParams(%q) = %q, %v; reference %q, %v", params, canon, err, ref, refErr)
		}
		if err != nil {
			if !errors.Is(err, ErrUncacheable) {
				t.Fatalf("foreign error: %v", err)
			}
			return
		}
		if canon == "" {
			return
		}
		if !json.Valid([]byte(canon)) {
			t.Fatalf("invalid JSON %q from %q", canon, params)
		}
		again, err := CanonicalParams([]byte(canon))
		if err != nil || again != canon {
			t.Fatalf("not idempotent: %q -> %q (%v)", canon, again, err)
		}
		// Numbers as json.Number: the canonical form keeps each number as
		// written, and float64 cannot hold some valid ones (1e700).
		var in, out map[string]any
		if decodeNumbers(params, &in) != nil || decodeNumbers([]byte(canon), &out) != nil {
			t.Fatalf("undecodable: %q -> %q", params, canon)
		}
		if meta, ok := in["_meta"].(map[string]any); ok {
			for k := range meta {
				if perHopMeta(k) {
					delete(meta, k)
				}
			}
			if len(meta) == 0 {
				delete(in, "_meta")
			}
		}
		a, _ := json.Marshal(in)
		b, _ := json.Marshal(out)
		if string(a) != string(b) {
			t.Fatalf("meaning changed: %s vs %s", a, b)
		}
	})
}

// decodeNumbers is json.Unmarshal with numbers decoded as json.Number.
func decodeNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}
