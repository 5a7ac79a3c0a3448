// Package sealed mints and opens sealed tokens: short URL-safe strings
// that carry a payload only the broker can read, bound to one principal,
// valid until an expiry and accepted once.
//
// The broker uses them as the requestState of multi round-trip requests
// (MRTR, 2026-07-28): when a legacy server asks the client something during
// a call, the broker answers a modern client with an InputRequiredResult
// whose requestState is a sealed [State] naming the suspended call; the
// client echoes it on its retry. A client cannot forge a state (AES-256-GCM
// authenticates it), read it (it is encrypted), move it to another
// principal (the principal is bound inside), keep it past its expiry, or
// replay it on the same replica (each token opens once). Any replica
// configured with the same key can open it, so a retry that lands on
// another replica can at least be recognised and routed (see
// [State.Instance]).
//
// # Token format
//
// A token is the unpadded URL-safe base64 encoding of
//
//	version (1 byte, 1) | key id (4) | nonce (12) | AES-256-GCM(plaintext) with its 16-byte tag
//
// where the plaintext is
//
//	expiry (8, Unix milliseconds, big endian) | SHA-256(principal) (32) | payload
//
// and the header (version, key id, nonce) is the additional data. The
// AES key and the key id are derived from the configured [Key] and
// [Options.Purpose] with HKDF-SHA256, so one configured secret can serve
// several purposes without a token of one being accepted as another.
// Nonces are random: rotate a key well before 2^32 seals (the GCM limit
// for random 96-bit nonces), which at a thousand suspended calls a second
// is a century.
//
// # Keys and rotation
//
// A [Sealer] holds one or more keys. The first one seals; all of them
// open. To rotate, put the new key first and keep the old one until the
// tokens it sealed have expired ([Options.MaxAge]), then drop it.
//
// # Replay protection and its limits
//
// Open remembers the id (key id and nonce) of every token it accepted until
// that token's expiry, in a set bounded by [Options.ReplayCapacity]. When
// the set is full the entry closest to its expiry is dropped first, so a
// replay is still possible for a token whose id was dropped, during what
// remained of its validity; this happens only when more than
// ReplayCapacity tokens are opened within MaxAge, is counted in
// [Stats.ReplayEvictions] and logged. Rejecting new tokens when full was
// the alternative; it would turn a burst of legitimate retries into
// failures, while the broker's own state (a suspended call resumes once per
// round) is a second line against replays. The set is per Sealer and so
// per replica: a token can be opened once on each replica that holds the
// key. Route retries to the replica named in the state (sticky routing),
// and treat a state opened on the wrong replica as not resumable there.
//
// # Principals
//
// Open reports a token sealed for another principal as
// [ErrWrongPrincipal], distinct from [ErrForged]: the caller, who already
// holds the token, learns only that it is genuine but not theirs, never
// whose it is (the plaintext holds a digest, and it is encrypted). Such an
// attempt does not use the token up, so a stolen token presented by the
// wrong principal does not lock out its owner.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"
)

// Version is the format version written as the first byte of every token.
const Version byte = 1

// Sizes of the parts of a token, in bytes.
const (
	keyIDSize  = 4
	nonceSize  = 12
	tagSize    = 16
	headerSize = 1 + keyIDSize + nonceSize
	expirySize = 8
	digestSize = sha256.Size
	// minSealed is the smallest decoded token: header, fixed plaintext, tag.
	minSealed = headerSize + expirySize + digestSize + tagSize
)

// Defaults for the zero fields of [Options].
const (
	// DefaultMaxAge is how long a token is valid when Options.MaxAge is 0.
	DefaultMaxAge = 5 * time.Minute
	// DefaultReplayCapacity bounds the replay set when
	// Options.ReplayCapacity is 0.
	DefaultReplayCapacity = 100_000
	// DefaultMaxTokenLen bounds a token's length (in characters) when
	// Options.MaxTokenLen is 0.
	DefaultMaxTokenLen = 1 << 20
	// DefaultPurpose separates the keys derived for MRTR request states
	// from those of any other use of the same configured secret.
	DefaultPurpose = "mrtr-request-state"
)

// The errors of this package. Open and Seal wrap them with detail: match
// them with errors.Is.
var (
	// ErrMalformed: the token is not base64, is too short or too long, or
	// names an unknown format version. No key was tried.
	ErrMalformed = errors.New("sealed: malformed token")
	// ErrForged: the token names no key this Sealer holds, or it fails
	// authentication under the key it names (tampered, truncated, sealed
	// with another key or for another purpose).
	ErrForged = errors.New("sealed: forged token")
	// ErrExpired: the token is genuine but its expiry has passed.
	ErrExpired = errors.New("sealed: token expired")
	// ErrWrongPrincipal: the token is genuine but was sealed for another
	// principal. It is not used up.
	ErrWrongPrincipal = errors.New("sealed: token belongs to another principal")
	// ErrReplayed: the token was already opened by this Sealer.
	ErrReplayed = errors.New("sealed: token already used")
	// ErrBadKey: a configured key is not 32 bytes of hex or base64, or is
	// all zero.
	ErrBadKey = errors.New("sealed: bad key")
	// ErrNoKeys: [New] was given no key.
	ErrNoKeys = errors.New("sealed: no key configured")
	// ErrTooLarge: Seal was given a payload whose token would exceed
	// Options.MaxTokenLen.
	ErrTooLarge = errors.New("sealed: payload too large")
)

// encoding is the text encoding of tokens: URL-safe, unpadded, and strict,
// so that each token has exactly one accepted spelling.
var encoding = base64.RawURLEncoding.Strict()

// Options configures a [Sealer]. Keys is required; the other fields have
// defaults.
type Options struct {
	// Keys are the secrets: Keys[0] seals, every key opens. Required.
	Keys []Key
	// MaxAge is how long a sealed token stays valid. Zero means
	// [DefaultMaxAge].
	MaxAge time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// ReplayCapacity bounds the number of opened token ids remembered
	// against replays. Size it to at least the number of tokens opened
	// within MaxAge. Zero means [DefaultReplayCapacity].
	ReplayCapacity int
	// Purpose separates the keys (and so the tokens) of different uses of
	// the same configured secret. Empty means [DefaultPurpose].
	Purpose string
	// Rand is the source of nonces. Nil means crypto/rand; tests may make
	// tokens reproducible with a deterministic reader.
	Rand io.Reader
	// MaxTokenLen bounds a token's length in characters, both the tokens
	// Seal makes and those Open reads. Zero means [DefaultMaxTokenLen].
	MaxTokenLen int
	// Logger receives a Warn line when the replay set starts dropping ids
	// before their expiry. Nil means slog.Default().
	Logger *slog.Logger
}

// Sealer seals and opens tokens. It is safe for concurrent use.
type Sealer struct {
	keys     []derivedKey // keys[0] seals
	maxAge   time.Duration
	now      func() time.Time
	rand     io.Reader
	maxToken int
	logger   *slog.Logger
	replay   *replaySet

	sealed, opened, malformed, forged, expired, wrongPrincipal, replayed atomic.Uint64
}

// derivedKey is a configured key turned into an AEAD and its id.
type derivedKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// Stats is a snapshot of a Sealer's counters.
type Stats struct {
	Sealed         uint64 // tokens minted
	Opened         uint64 // tokens accepted by Open
	Malformed      uint64 // Open failures with ErrMalformed
	Forged         uint64 // Open failures with ErrForged
	Expired        uint64 // Open failures with ErrExpired
	WrongPrincipal uint64 // Open failures with ErrWrongPrincipal
	Replayed       uint64 // Open failures with ErrReplayed
	// ReplayEvictions counts ids dropped from the full replay set before
	// their expiry: each is a token that could be replayed once more.
	ReplayEvictions uint64
	ReplayEntries   int // ids remembered now
}

// New returns a Sealer configured by opts. It fails with [ErrNoKeys]
// without keys and [ErrBadKey] for an all-zero key.
func New(opts Options) (*Sealer, error) {
	if len(opts.Keys) == 0 {
		return nil, ErrNoKeys
	}
	purpose := opts.Purpose
	if purpose == "" {
		purpose = DefaultPurpose
	}
	s := &Sealer{
		maxAge:   opts.MaxAge,
		now:      opts.Now,
		rand:     opts.Rand,
		maxToken: opts.MaxTokenLen,
		logger:   opts.Logger,
	}
	if s.maxAge <= 0 {
		s.maxAge = DefaultMaxAge
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.maxToken <= 0 {
		s.maxToken = DefaultMaxTokenLen
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	capacity := opts.ReplayCapacity
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	s.replay = newReplaySet(capacity)
	for i, k := range opts.Keys {
		if k == (Key{}) {
			return nil, fmt.Errorf("%w: key %d is all zero", ErrBadKey, i)
		}
		dk, err := derive(k, purpose)
		if err != nil {
			return nil, fmt.Errorf("sealed: key %d: %w", i, err)
		}
		s.keys = append(s.keys, dk)
	}
	return s, nil
}

// derive turns a configured key into the AEAD and key id for purpose.
func derive(k Key, purpose string) (derivedKey, error) {
	aeadKey, err := hkdf.Key(sha256.New, k[:], nil, "mcpbroker/sealed/v1 aead "+purpose, 32)
	if err != nil {
		return derivedKey{}, fmt.Errorf("derive aead key: %w", err)
	}
	id, err := hkdf.Key(sha256.New, k[:], nil, "mcpbroker/sealed/v1 key-id "+purpose, keyIDSize)
	if err != nil {
		return derivedKey{}, fmt.Errorf("derive key id: %w", err)
	}
	block, err := aes.NewCipher(aeadKey)
	if err != nil {
		return derivedKey{}, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return derivedKey{}, fmt.Errorf("gcm: %w", err)
	}
	dk := derivedKey{aead: aead}
	copy(dk.id[:], id)
	return dk, nil
}

// MaxAge returns how long the tokens this Sealer mints stay valid.
func (s *Sealer) MaxAge() time.Duration { return s.maxAge }

// Seal returns a token carrying payload for principal, valid for MaxAge
// from now and openable once. It fails with [ErrTooLarge] when the token
// would exceed Options.MaxTokenLen.
func (s *Sealer) Seal(principal string, payload []byte) (string, error) {
	n := minSealed + len(payload)
	if encoding.EncodedLen(n) > s.maxToken {
		return "", fmt.Errorf("%w: %d-byte payload makes a %d-character token, limit %d",
			ErrTooLarge, len(payload), encoding.EncodedLen(n), s.maxToken)
	}
	k := &s.keys[0]
	buf := make([]byte, headerSize, n)
	buf[0] = Version
	copy(buf[1:], k.id[:])
	nonce := buf[1+keyIDSize : headerSize]
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("sealed: nonce: %w", err)
	}
	// The plaintext is built in the space after the header and sealed in
	// place (Seal allows exact overlap of plaintext and output).
	pt := buf[headerSize : headerSize+expirySize+digestSize+len(payload)]
	exp := s.now().Add(s.maxAge).UnixMilli()
	binary.BigEndian.PutUint64(pt, uint64(exp))
	digest := sha256.Sum256([]byte(principal))
	copy(pt[expirySize:], digest[:])
	copy(pt[expirySize+digestSize:], payload)
	out := k.aead.Seal(pt[:0], nonce, pt, buf[:headerSize])
	s.sealed.Add(1)
	return encoding.EncodeToString(buf[:headerSize+len(out)]), nil
}

// Open checks token and returns its payload. The token must have been
// sealed by a Sealer holding one of this Sealer's keys, with the same
// purpose, for the same principal, must not have expired, and must not
// have been opened by this Sealer before: a successful Open uses it up.
// Failures wrap [ErrMalformed], [ErrForged], [ErrWrongPrincipal],
// [ErrExpired] or [ErrReplayed], checked in that order.
func (s *Sealer) Open(principal, token string) ([]byte, error) {
	if len(token) > s.maxToken {
		s.malformed.Add(1)
		return nil, fmt.Errorf("%w: %d characters, limit %d", ErrMalformed, len(token), s.maxToken)
	}
	raw, err := encoding.DecodeString(token)
	if err != nil {
		s.malformed.Add(1)
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if encoding.EncodedLen(len(raw)) != len(token) {
		// The decoder skips CR and LF; a token has exactly one spelling.
		s.malformed.Add(1)
		return nil, fmt.Errorf("%w: line breaks in token", ErrMalformed)
	}
	if len(raw) < minSealed {
		s.malformed.Add(1)
		return nil, fmt.Errorf("%w: %d bytes, at least %d expected", ErrMalformed, len(raw), minSealed)
	}
	if raw[0] != Version {
		s.malformed.Add(1)
		return nil, fmt.Errorf("%w: format version %d, want %d", ErrMalformed, raw[0], Version)
	}
	header, sealedPart := raw[:headerSize], raw[headerSize:]
	id, nonce := header[1:1+keyIDSize], header[1+keyIDSize:]
	var pt []byte
	known := false
	for i := range s.keys {
		k := &s.keys[i]
		if subtle.ConstantTimeCompare(k.id[:], id) != 1 {
			continue
		}
		known = true
		// Decrypt into a fresh buffer: sealedPart must stay intact in case
		// another key shares the id.
		if p, err := k.aead.Open(nil, nonce, sealedPart, header); err == nil {
			pt = p
			break
		}
	}
	if pt == nil {
		s.forged.Add(1)
		if !known {
			return nil, fmt.Errorf("%w: unknown key id %x", ErrForged, id)
		}
		return nil, fmt.Errorf("%w: authentication failed", ErrForged)
	}
	exp := int64(binary.BigEndian.Uint64(pt))
	digest := sha256.Sum256([]byte(principal))
	if subtle.ConstantTimeCompare(digest[:], pt[expirySize:expirySize+digestSize]) != 1 {
		s.wrongPrincipal.Add(1)
		return nil, ErrWrongPrincipal
	}
	now := s.now().UnixMilli()
	if now >= exp {
		s.expired.Add(1)
		return nil, fmt.Errorf("%w: %s ago", ErrExpired, time.Duration(now-exp)*time.Millisecond)
	}
	var rid replayID
	copy(rid[:], header[1:])
	switch added, evicted := s.replay.add(rid, exp, now); {
	case !added:
		s.replayed.Add(1)
		return nil, ErrReplayed
	case evicted:
		if n := s.replay.evictions.Load(); n&(n-1) == 0 {
			s.logger.Warn("sealed: replay set full; dropping ids before their expiry",
				"capacity", s.replay.capacity, "evictions", n)
		}
	}
	s.opened.Add(1)
	return pt[expirySize+digestSize:], nil
}

// Stats returns a snapshot of the Sealer's counters.
func (s *Sealer) Stats() Stats {
	return Stats{
		Sealed:          s.sealed.Load(),
		Opened:          s.opened.Load(),
		Malformed:       s.malformed.Load(),
		Forged:          s.forged.Load(),
		Expired:         s.expired.Load(),
		WrongPrincipal:  s.wrongPrincipal.Load(),
		Replayed:        s.replayed.Load(),
		ReplayEvictions: s.replay.evictions.Load(),
		ReplayEntries:   s.replay.len(),
	}
}
