package sealed

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// KeySize is the size in bytes of a [Key].
const KeySize = 32

// Key is a 32-byte secret from which a [Sealer] derives its AES-256-GCM
// key and its key id. It prints as a redacted placeholder with every fmt
// verb, in slog and when marshalled as text or JSON, so that logging or
// dumping a configuration cannot leak it; use key[:] for the bytes (and
// hex.EncodeToString(key[:]) to write one into a configuration). It
// unmarshals from text with [KeyFromConfig].
type Key [KeySize]byte

// NewRandomKey returns a Key from crypto/rand, for a configuration
// generator or a single-replica broker that does not need its states to
// survive a restart.
func NewRandomKey() (Key, error) {
	var k Key
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return Key{}, fmt.Errorf("sealed: random key: %w", err)
	}
	return k, nil
}

// KeyFromConfig parses a key written in a configuration file or an
// environment variable: 64 hexadecimal digits, or the standard or URL-safe
// base64 encoding of 32 bytes, with or without padding. Surrounding white
// space is ignored. It fails with [ErrBadKey] for anything else and for
// the all-zero key (a placeholder, not a secret).
func KeyFromConfig(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var k Key
	var raw []byte
	switch {
	case len(s) == 2*KeySize:
		b, err := hex.DecodeString(s)
		if err != nil {
			return Key{}, fmt.Errorf("%w: 64 characters but not hexadecimal: %w", ErrBadKey, err)
		}
		raw = b
	default:
		b, err := decodeAnyBase64(s)
		if err != nil {
			return Key{}, fmt.Errorf("%w: neither 64 hexadecimal digits nor base64: %w", ErrBadKey, err)
		}
		raw = b
	}
	if len(raw) != KeySize {
		return Key{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(raw), KeySize)
	}
	copy(k[:], raw)
	if k == (Key{}) {
		return Key{}, fmt.Errorf("%w: all zero", ErrBadKey)
	}
	return k, nil
}

// decodeAnyBase64 decodes standard or URL-safe base64, padded or not.
func decodeAnyBase64(s string) ([]byte, error) {
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	s = strings.TrimRight(s, "=")
	b, err := enc.Strict().DecodeString(s)
	if err == nil && enc.EncodedLen(len(b)) != len(s) {
		return nil, errors.New("line breaks inside the key")
	}
	return b, err
}

// redacted is what a Key prints as.
const redacted = "sealed.Key(redacted)"

// String returns a redacted placeholder, never the key.
func (Key) String() string { return redacted }

// GoString returns a redacted placeholder, never the key.
func (Key) GoString() string { return redacted }

// Format writes a redacted placeholder for every verb, so that %x or %d
// cannot print the key either.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue makes slog print a redacted placeholder.
func (Key) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns the redacted placeholder, never the key: a
// configuration marshalled as JSON or YAML shows that a key is set, not
// which.
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText parses text with [KeyFromConfig].
func (k *Key) UnmarshalText(text []byte) error {
	parsed, err := KeyFromConfig(string(text))
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}
