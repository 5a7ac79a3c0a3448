package sealed

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// fuzzEpoch is the fixed clock of the fuzz targets.
var fuzzEpoch = time.Date(2026, 7, 28, 0, 0, 0, 0, time.UTC)

// fuzzSealer returns a Sealer with the fuzz targets' fixed key, clock and
// nonce stream, so that the tokens it seals are the same on every run.
func fuzzSealer(f testing.TB) *Sealer {
	s, err := New(Options{
		Keys:   []Key{testKey(0x42), testKey(0x43)},
		Now:    func() time.Time { return fuzzEpoch },
		Rand:   rand.NewChaCha8([32]byte{'f', 'u', 'z', 'z'}),
		Logger: quiet,
	})
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// FuzzOpen feeds arbitrary principals and tokens to Open. It must never
// panic, must fail only with this package's errors, and must accept only
// tokens the fuzz Sealer sealed, for their own principal, with their own
// payload.
func FuzzOpen(f *testing.F) {
	minter := fuzzSealer(f)
	type sealedToken struct{ principal, payload string }
	known := map[string]sealedToken{}
	for _, tc := range []sealedToken{
		{"alice", ""},
		{"alice", `{"c":"call-1","m":"tools/call"}`},
		{"bob", "\x00\xff"},
		{"", "anonymous"},
	} {
		tok, err := minter.Seal(tc.principal, []byte(tc.payload))
		if err != nil {
			f.Fatal(err)
		}
		known[tok] = tc
		f.Add(tc.principal, tok)
		f.Add("mallory", tok)
		f.Add(tc.principal, tok[:len(tok)-1]+"A")
		f.Add(tc.principal, tok+"\n")
	}
	f.Add("alice", "")
	f.Add("alice", "AQ")
	f.Add("alice", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, principal, token string) {
		// A fresh opener each time: no replay state carries over.
		opener := fuzzSealer(t)
		payload, err := opener.Open(principal, token)
		if err != nil {
			for _, want := range []error{ErrMalformed, ErrForged, ErrWrongPrincipal, ErrExpired, ErrReplayed} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("Open failed with a foreign error: %v", err)
		}
		tc, ok := known[token]
		if !ok {
			t.Fatalf("Open accepted a token it never sealed: %q", token)
		}
		if principal != tc.principal || string(payload) != tc.payload {
			t.Fatalf("Open(%q) = %q; sealed for %q with %q", principal, payload, tc.principal, tc.payload)
		}
		if _, err := opener.Open(principal, token); !errors.Is(err, ErrReplayed) {
			t.Fatalf("second Open: %v", err)
		}
	})
}

// FuzzParseState feeds arbitrary payloads to ParseState: it must never
// panic, fail only with ErrInvalidState, and whatever it accepts must
// survive Marshal and ParseState unchanged.
func FuzzParseState(f *testing.F) {
	for _, seed := range []string{
		`{"c":"x","m":"tools/call"}`,
		`{"i":"b1","c":"x","s":"s","m":"resources/read","d":"AQID","k":["a","b"],"r":2,"u":"inner"}`,
		`{"c":"x","m":"y","r":-1}`,
		`{"c":"","m":""}`,
		`null`, `[]`, `{`, ``, `{"c":"x","m":"y"} {}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseState(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidState) {
				t.Fatalf("foreign error: %v", err)
			}
			return
		}
		again, err := st.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed state: %v", err)
		}
		st2, err := ParseState(again)
		if err != nil {
			t.Fatalf("ParseState(Marshal(st)): %v", err)
		}
		b1, _ := st2.Marshal()
		if string(b1) != string(again) {
			t.Fatalf("round trip changed the state: %s vs %s", again, b1)
		}
	})
}

// FuzzParamsDigest feeds arbitrary params to ParamsDigest: it must never
// panic, fail only with ErrInvalidParams, and give an MRTR retry of the
// same params (with inputResponses and requestState added) the same
// digest.
func FuzzParamsDigest(f *testing.F) {
	for _, seed := range []string{
		`{"name":"t","arguments":{"a":1}}`, `{"uri":"file:///x","_meta":{"progressToken":1}}`,
		``, `null`, `[]`, `{"a":1e400}`, `{"a":"\ud800"}`, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		d, err := ParamsDigest(params)
		if err != nil {
			if !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("foreign error: %v", err)
			}
			return
		}
		t2 := bytes.TrimSpace(params)
		if len(t2) < 2 || t2[0] != '{' {
			return
		}
		retry := append([]byte(`{"requestState":"s","inputResponses":{"k":{}},`), t2[1:]...)
		if bytes.Equal(bytes.TrimSpace(t2[1:]), []byte("}")) {
			retry = []byte(`{"requestState":"s","inputResponses":{"k":{}}}`)
		}
		d2, err := ParamsDigest(retry)
		if err != nil {
			t.Fatalf("retry %q: %v", retry, err)
		}
		if !bytes.Equal(d, d2) {
			t.Fatalf("retry digest differs for %q", params)
		}
	})
}
