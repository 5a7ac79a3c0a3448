package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestExtractHints(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Hints
		ok   bool
	}{
		{"list", `{"tools":[{"name":"a"}],"ttlMs":60000,"cacheScope":"public","resultType":"complete"}`,
			Hints{time.Minute, Public}, true},
		{"hints first", `{"ttlMs":1,"cacheScope":"private","tools":[]}`, Hints{time.Millisecond, Private}, true},
		{"white space", " {\n \"ttlMs\" : 5 ,\t\"cacheScope\":\"private\" } \n", Hints{5 * time.Millisecond, Private}, true},
		{"ttl 0", `{"ttlMs":0,"cacheScope":"private"}`, Hints{0, Private}, true},
		{"escaped key", `{"ttl\u004ds":7,"cacheScope":"pub\u006cic"}`, Hints{7 * time.Millisecond, Public}, true},
		{"nested hints ignored", `{"x":{"ttlMs":1,"cacheScope":"public"},"ttlMs":2,"cacheScope":"private"}`,
			Hints{2 * time.Millisecond, Private}, true},
		{"tricky strings", `{"a":"}\"{[","b":["]",{"c":"\\"}],"ttlMs":3,"cacheScope":"public"}`,
			Hints{3 * time.Millisecond, Public}, true},
		{"scalars", `{"a":true,"b":null,"c":-1.5e3,"ttlMs":3,"cacheScope":"public"}`, Hints{3 * time.Millisecond, Public}, true},
		{"huge ttl capped", `{"ttlMs":99999999999999999999999999,"cacheScope":"public"}`, Hints{MaxHintTTL, Public}, true},
		{"no hints (legacy result)", `{"tools":[]}`, Hints{}, false},
		{"only ttl", `{"ttlMs":5}`, Hints{}, false},
		{"only scope", `{"cacheScope":"public"}`, Hints{}, false},
		{"unknown scope", `{"ttlMs":5,"cacheScope":"shared"}`, Hints{}, false},
		{"scope case", `{"ttlMs":5,"cacheScope":"Public"}`, Hints{}, false},
		{"negative ttl", `{"ttlMs":-5,"cacheScope":"public"}`, Hints{}, false},
		{"fraction ttl", `{"ttlMs":5.5,"cacheScope":"public"}`, Hints{}, false},
		{"exponent ttl", `{"ttlMs":5e3,"cacheScope":"public"}`, Hints{}, false},
		{"string ttl", `{"ttlMs":"5","cacheScope":"public"}`, Hints{}, false},
		{"input required", `{"resultType":"input_required","ttlMs":5,"cacheScope":"public"}`, Hints{}, false},
		{"task", `{"resultType":"task","ttlMs":5,"cacheScope":"public"}`, Hints{}, false},
		{"duplicate scope", `{"ttlMs":5,"cacheScope":"public","cacheScope":"private"}`, Hints{}, false},
		{"duplicate ttl", `{"ttlMs":5,"ttlMs":6,"cacheScope":"public"}`, Hints{}, false},
		{"duplicate via escape", `{"ttlMs":5,"cacheScope":"private","cache\u0053cope":"public"}`, Hints{}, false},
		{"array", `[{"ttlMs":5,"cacheScope":"public"}]`, Hints{}, false},
		{"empty object", `{}`, Hints{}, false},
		{"empty", ``, Hints{}, false},
		{"trailing", `{"ttlMs":5,"cacheScope":"public"}x`, Hints{}, false},
		{"truncated", `{"ttlMs":5,"cacheScope":"public"`, Hints{}, false},
		{"unterminated string", `{"ttlMs":5,"cacheScope":"public`, Hints{}, false},
		{"backslash at end", `{"a":"\`, Hints{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ExtractHints([]byte(tt.raw))
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ExtractHints = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
			if json.Valid([]byte(tt.raw)) {
				ref, refOK := referenceHints([]byte(tt.raw))
				if ref != got || refOK != ok {
					t.Fatalf("reference = %+v, %v", ref, refOK)
				}
			}
		})
	}
}

func TestScope(t *testing.T) {
	for _, s := range []Scope{Private, Public} {
		if ParseScope(s.String()) != s {
			t.Fatalf("%v does not round trip", s)
		}
	}
	if NoScope.String() != "none" || ParseScope("none") != NoScope || ParseScope("") != NoScope {
		t.Fatal("NoScope")
	}
}

// referenceHints is ExtractHints written the slow way, with
// encoding/json's token stream, for the differential tests.
func referenceHints(raw []byte) (Hints, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Hints{}, false
	}
	seen := map[string]bool{}
	var h Hints
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Hints{}, false
		}
		key := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return Hints{}, false
		}
		switch key {
		case "ttlMs", "cacheScope", "resultType":
			if seen[key] {
				return Hints{}, false
			}
			seen[key] = true
		default:
			continue
		}
		switch key {
		case "ttlMs":
			s := string(v)
			if s == "" || strings.Trim(s, "0123456789") != "" {
				return Hints{}, false
			}
			const limit = int64(MaxHintTTL / time.Millisecond)
			var n int64
			for _, c := range s {
				if n < limit {
					n = n*10 + int64(c-'0')
				}
			}
			h.TTL = time.Duration(min(n, limit)) * time.Millisecond
		case "cacheScope":
			var s string
			if json.Unmarshal(v, &s) != nil {
				return Hints{}, false
			}
			if h.Scope = ParseScope(s); h.Scope == NoScope {
				return Hints{}, false
			}
		case "resultType":
			var s string
			if json.Unmarshal(v, &s) != nil || s != "complete" {
				return Hints{}, false
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return Hints{}, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Hints{}, false
	}
	if !seen["ttlMs"] || !seen["cacheScope"] {
		return Hints{}, false
	}
	return h, true
}
