package sealed

import (
	"testing"
	"time"
)

// benchState is a typical MRTR state: a suspended tools/call with one
// elicitation pending.
var benchState = State{
	Instance: "broker-1", Call: "c-000123", Session: "pool-7", Method: "tools/call",
	ParamsDigest: make([]byte, 32), Keys: []string{"elicit-1"}, Round: 1,
}

func benchSealer(b *testing.B) *Sealer {
	s, err := New(Options{Keys: []Key{testKey(1)}, MaxAge: time.Hour, ReplayCapacity: b.N + 1, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkSeal(b *testing.B) {
	s := benchSealer(b)
	payload, _ := benchState.Marshal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal("alice", payload); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens distinct tokens (each one once), including the
// replay-set insert.
func BenchmarkOpen(b *testing.B) {
	s := benchSealer(b)
	payload, _ := benchState.Marshal()
	toks := make([]string, b.N)
	for i := range toks {
		toks[i], _ = s.Seal("alice", payload)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Open("alice", toks[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealOpenState is a whole round: marshal and seal a State, then
// open and parse it.
func BenchmarkSealOpenState(b *testing.B) {
	s := benchSealer(b)
	b.ReportAllocs()
	for b.Loop() {
		tok, err := s.SealState("alice", benchState)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.OpenState("alice", tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenForged is the cost of refusing a forged token.
func BenchmarkOpenForged(b *testing.B) {
	s := benchSealer(b)
	tok, _ := s.Seal("alice", []byte("payload"))
	forged := tok[:len(tok)-2] + "AA"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open("alice", forged); err == nil {
			b.Fatal("accepted")
		}
	}
}
