package sealed

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
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

// testKey returns a fixed key whose bytes all equal b.
func testKey(b byte) Key {
	var k Key
	for i := range k {
		k[i] = b
	}
	return k
}

// quiet is a logger that discards everything.
var quiet = slog.New(slog.DiscardHandler)

// newSealer returns a Sealer over keys with the given clock and a
// deterministic nonce source, failing the test on error.
func newSealer(t testing.TB, clock *fakeClock, keys ...Key) *Sealer {
	t.Helper()
	s, err := New(Options{Keys: keys, Now: clock.Now, Rand: rand.NewChaCha8([32]byte{1}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSeal(t testing.TB, s *Sealer, principal string, payload []byte) string {
	t.Helper()
	tok, err := s.Seal(principal, payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		principal string
		payload   []byte
	}{
		{"empty payload", "alice", nil},
		{"small", "alice", []byte(`{"c":"call-1","m":"tools/call"}`)},
		{"binary", "bob", []byte{0, 1, 2, 0xff, 0xfe}},
		{"empty principal", "", []byte("x")},
		{"unicode principal", "usér@例え", []byte("x")},
		{"large", "alice", bytes.Repeat([]byte("state "), 10000)},
	}
	clock := newClock()
	s := newSealer(t, clock, testKey(1))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustSeal(t, s, tt.principal, tt.payload)
			for _, c := range tok {
				if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", c) {
					t.Fatalf("token has %q, not URL-safe base64", c)
				}
			}
			got, err := s.Open(tt.principal, tok)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.payload) {
				t.Fatalf("payload = %q, want %q", got, tt.payload)
			}
		})
	}
	if st := s.Stats(); st.Sealed != uint64(len(tests)) || st.Opened != uint64(len(tests)) {
		t.Fatalf("stats = %+v", st)
	}
}

func TestTokensDiffer(t *testing.T) {
	s, err := New(Options{Keys: []Key{testKey(1)}})
	if err != nil {
		t.Fatal(err)
	}
	a := mustSeal(t, s, "alice", []byte("same"))
	b := mustSeal(t, s, "alice", []byte("same"))
	if a == b {
		t.Fatal("two seals of the same payload gave the same token")
	}
	if strings.Contains(a, "same") {
		t.Fatal("payload visible in token")
	}
}

// TestTamperEveryByte changes each byte of a decoded token in turn (and
// each character of the text) and expects Open to refuse every variant
// as forged or malformed.
func TestTamperEveryByte(t *testing.T) {
	clock := newClock()
	s := newSealer(t, clock, testKey(1))
	tok := mustSeal(t, s, "alice", []byte("payload"))
	raw, err := encoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			mod := bytes.Clone(raw)
			mod[i] ^= mask
			_, err := s.Open("alice", encoding.EncodeToString(mod))
			if !errors.Is(err, ErrForged) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("byte %d ^ %#x: err = %v, want forged or malformed", i, mask, err)
			}
			if i == 0 && !errors.Is(err, ErrMalformed) {
				t.Fatalf("version byte changed: err = %v, want malformed", err)
			}
		}
	}
	for i := range tok {
		for _, c := range []byte{'A', '_', '='} {
			if tok[i] == c {
				continue
			}
			mod := tok[:i] + string(c) + tok[i+1:]
			_, err := s.Open("alice", mod)
			if !errors.Is(err, ErrForged) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("char %d = %q: err = %v, want forged or malformed", i, c, err)
			}
		}
	}
	for n := range len(tok) {
		if _, err := s.Open("alice", tok[:n]); !errors.Is(err, ErrForged) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
	for _, extra := range []string{"A", "AA", "AAAA", "\n", " "} {
		if _, err := s.Open("alice", tok+extra); !errors.Is(err, ErrForged) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("with %q appended: err = %v", extra, err)
		}
	}
	// None of that used the token up.
	if _, err := s.Open("alice", tok); err != nil {
		t.Fatalf("original after tampering: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	clock := newClock()
	s := newSealer(t, clock, testKey(1))
	other := newSealer(t, clock, testKey(2))
	good := mustSeal(t, s, "alice", []byte("p"))
	foreign := mustSeal(t, other, "alice", []byte("p"))
	forWrongPurpose := func() string {
		p, err := New(Options{Keys: []Key{testKey(1)}, Purpose: "elicitation-id"})
		if err != nil {
			t.Fatal(err)
		}
		return mustSeal(t, p, "alice", []byte("p"))
	}()
	sameID := func() string {
		// A token that names s's key id but was sealed with another key.
		raw, _ := encoding.DecodeString(foreign)
		copy(raw[1:], s.keys[0].id[:])
		return encoding.EncodeToString(raw)
	}()
	tests := []struct {
		name      string
		principal string
		token     string
		want      error
	}{
		{"empty", "alice", "", ErrMalformed},
		{"not base64", "alice", "!!!!", ErrMalformed},
		{"padded", "alice", good + "==", ErrMalformed},
		{"std alphabet", "alice", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+", ErrMalformed},
		{"short", "alice", encoding.EncodeToString(make([]byte, minSealed-1)), ErrMalformed},
		{"version 0", "alice", encoding.EncodeToString(make([]byte, minSealed)), ErrMalformed},
		{"version 2", "alice", encoding.EncodeToString(append([]byte{2}, make([]byte, minSealed)...)), ErrMalformed},
		{"too long", "alice", strings.Repeat("A", DefaultMaxTokenLen+1), ErrMalformed},
		{"unknown key", "alice", foreign, ErrForged},
		{"known id, wrong key", "alice", sameID, ErrForged},
		{"other purpose", "alice", forWrongPurpose, ErrForged},
		{"zero ciphertext", "alice", encoding.EncodeToString(append([]byte{Version}, make([]byte, minSealed)...)), ErrForged},
		{"wrong principal", "bob", good, ErrWrongPrincipal},
		{"principal prefix", "alic", good, ErrWrongPrincipal},
		{"principal case", "Alice", good, ErrWrongPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.Open(tt.principal, tt.token)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if p != nil {
				t.Fatalf("payload %q returned with an error", p)
			}
		})
	}
	st := s.Stats()
	if st.Malformed != 8 || st.Forged != 4 || st.WrongPrincipal != 3 || st.Opened != 0 {
		t.Fatalf("stats = %+v", st)
	}
	// A wrong-principal attempt does not use the token up.
	if _, err := s.Open("alice", good); err != nil {
		t.Fatalf("owner after wrong principal: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name    string
		maxAge  time.Duration
		advance time.Duration
		want    error
	}{
		{"fresh", time.Minute, 0, nil},
		{"just before", time.Minute, time.Minute - time.Millisecond, nil},
		{"at expiry", time.Minute, time.Minute, ErrExpired},
		{"long after", time.Minute, 24 * time.Hour, ErrExpired},
		{"default max age, before", 0, DefaultMaxAge - time.Second, nil},
		{"default max age, after", 0, DefaultMaxAge, ErrExpired},
		{"clock went back", time.Minute, -time.Hour, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			s, err := New(Options{Keys: []Key{testKey(1)}, Now: clock.Now, MaxAge: tt.maxAge})
			if err != nil {
				t.Fatal(err)
			}
			tok := mustSeal(t, s, "alice", []byte("p"))
			clock.Advance(tt.advance)
			_, err = s.Open("alice", tok)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReplay(t *testing.T) {
	clock := newClock()
	s := newSealer(t, clock, testKey(1))
	tok := mustSeal(t, s, "alice", []byte("p"))
	if _, err := s.Open("alice", tok); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Open("alice", tok); !errors.Is(err, ErrReplayed) {
			t.Fatalf("second open: err = %v, want ErrReplayed", err)
		}
	}
	// After the token's expiry a replay is refused as expired, and the
	// replay set lets go of the id at the next Open.
	clock.Advance(DefaultMaxAge)
	if _, err := s.Open("alice", tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry: err = %v, want ErrExpired", err)
	}
	fresh := mustSeal(t, s, "alice", []byte("q"))
	if _, err := s.Open("alice", fresh); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.ReplayEntries != 1 || st.Replayed != 3 || st.Expired != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestReplayCapacity shows the documented bound: when the set is full,
// the id that expires soonest is dropped, and only that token can be
// replayed.
func TestReplayCapacity(t *testing.T) {
	clock := newClock()
	var logs bytes.Buffer
	s, err := New(Options{
		Keys: []Key{testKey(1)}, Now: clock.Now, MaxAge: time.Minute, ReplayCapacity: 3,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var toks []string
	for i := range 4 {
		toks = append(toks, mustSeal(t, s, "alice", []byte{byte(i)}))
		clock.Advance(time.Second) // each later token expires later
	}
	for i, tok := range toks {
		if _, err := s.Open("alice", tok); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.ReplayEvictions != 1 || st.ReplayEntries != 3 {
		t.Fatalf("stats = %+v", st)
	}
	if !strings.Contains(logs.String(), "replay set full") {
		t.Fatalf("no warning logged: %q", logs.String())
	}
	for i := 3; i >= 1; i-- {
		if _, err := s.Open("alice", toks[i]); !errors.Is(err, ErrReplayed) {
			t.Fatalf("token %d: err = %v, want ErrReplayed", i, err)
		}
	}
	if _, err := s.Open("alice", toks[0]); err != nil {
		t.Fatalf("token 0 (dropped from the set) was not accepted again: %v", err)
	}
	// Expired ids leave the set without evictions.
	clock.Advance(2 * time.Minute)
	evictions := s.Stats().ReplayEvictions
	for i := range 3 {
		if _, err := s.Open("alice", mustSeal(t, s, "alice", []byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.ReplayEvictions != evictions || st.ReplayEntries != 3 {
		t.Fatalf("after expiry: stats = %+v", st)
	}
}

func TestKeyRotation(t *testing.T) {
	clock := newClock()
	oldKey, newKey := testKey(1), testKey(2)
	before := newSealer(t, clock, oldKey)
	during := newSealer(t, clock, newKey, oldKey)
	after := newSealer(t, clock, newKey)

	tests := []struct {
		name   string
		sealer *Sealer
		opener *Sealer
		want   error
	}{
		{"old token, rotating replica", before, during, nil},
		{"new token, rotating replica", during, during, nil},
		{"new token, replica not yet rotated", during, before, ErrForged},
		{"new token, rotated replica", during, after, nil},
		{"old token, old key dropped", before, after, ErrForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustSeal(t, tt.sealer, "alice", []byte("p"))
			if _, err := tt.opener.Open("alice", tok); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReplicas: a Sealer with the same key (another replica) opens a token
// minted elsewhere; replay protection is per replica.
func TestReplicas(t *testing.T) {
	clock := newClock()
	a := newSealer(t, clock, testKey(7))
	b, err := New(Options{Keys: []Key{testKey(7)}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := mustSeal(t, a, "alice", []byte("resume me"))
	p, err := b.Open("alice", tok)
	if err != nil || string(p) != "resume me" {
		t.Fatalf("replica: %q, %v", p, err)
	}
	if _, err := b.Open("alice", tok); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replica replay: %v", err)
	}
	if _, err := a.Open("alice", tok); err != nil {
		t.Fatalf("per-replica replay sets: minting replica refused: %v", err)
	}
}

func TestSealTooLarge(t *testing.T) {
	s, err := New(Options{Keys: []Key{testKey(1)}, MaxTokenLen: 200})
	if err != nil {
		t.Fatal(err)
	}
	max := 200*3/4 - minSealed
	tok, err := s.Seal("a", make([]byte, max))
	if err != nil || len(tok) > 200 {
		t.Fatalf("at the limit: %d characters, %v", len(tok), err)
	}
	if _, err := s.Seal("a", make([]byte, max+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestSealRandFailure(t *testing.T) {
	s, err := New(Options{Keys: []Key{testKey(1)}, Rand: failingReader{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal("a", nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"no keys", Options{}, ErrNoKeys},
		{"zero key", Options{Keys: []Key{testKey(1), {}}}, ErrBadKey},
		{"ok", Options{Keys: []Key{testKey(1)}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && s.MaxAge() != DefaultMaxAge {
				t.Fatalf("MaxAge = %v", s.MaxAge())
			}
		})
	}
}

func TestKeyFromConfig(t *testing.T) {
	k := Key{}
	for i := range k {
		k[i] = byte(i*7 + 250)
	}
	hexKey := fmt.Sprintf("%x", k[:])
	std, url := base64.StdEncoding.EncodeToString(k[:]), base64.URLEncoding.EncodeToString(k[:])
	if std == url {
		t.Fatal("test key does not tell the base64 alphabets apart")
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"hex", hexKey, nil},
		{"hex upper", strings.ToUpper(hexKey), nil},
		{"hex with newline", hexKey + "\n", nil},
		{"base64 std padded", std, nil},
		{"base64 std raw", strings.TrimRight(std, "="), nil},
		{"base64 url padded", url, nil},
		{"base64 url raw", strings.TrimRight(url, "="), nil},
		{"base64 with newline", std[:20] + "\n" + std[20:], ErrBadKey},
		{"empty", "", ErrBadKey},
		{"short hex", hexKey[:62], ErrBadKey},
		{"64 non-hex", strings.Repeat("z", 64), ErrBadKey},
		{"16 bytes base64", "AAECAwQFBgcICQoLDA0ODw==", ErrBadKey},
		{"all zero", strings.Repeat("0", 64), ErrBadKey},
		{"passphrase", "correct horse battery staple", ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KeyFromConfig(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err == nil && got != k {
				t.Fatalf("key = %x, want %x", got[:], k[:])
			}
			if err != nil && strings.Contains(err.Error(), tt.in) && tt.in != "" {
				t.Fatalf("error repeats the input: %v", err)
			}
		})
	}
}

func TestNewRandomKey(t *testing.T) {
	a, err := NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewRandomKey()
	if a == b || a == (Key{}) {
		t.Fatal("random keys not random")
	}
}

func TestKeyRedacted(t *testing.T) {
	k := testKey(0xab)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "key", k, "keys", []Key{k})
	outputs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s %x %X %d %q", k, k, k, k, k, k, k, k),
		fmt.Sprintf("%v", Options{Keys: []Key{k}}), logs.String(),
	}
	for _, out := range outputs {
		if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
			t.Fatalf("key leaked: %s", out)
		}
	}
}

func TestKeyText(t *testing.T) {
	k := testKey(0xab)
	b, err := json.Marshal(struct{ Keys []Key }{[]Key{k}})
	if err != nil || strings.Contains(string(b), "171") || !strings.Contains(string(b), redacted) {
		t.Fatalf("json = %s, %v", b, err)
	}
	var cfg struct{ Key Key }
	if err := json.Unmarshal([]byte(`{"Key":"`+strings.Repeat("ab", 32)+`"}`), &cfg); err != nil || cfg.Key != k {
		t.Fatalf("unmarshal: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"Key":"short"}`), &cfg); !errors.Is(err, ErrBadKey) {
		t.Fatalf("unmarshal bad key: %v", err)
	}
}
