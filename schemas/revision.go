// Package schemas holds mcpbroker's own JSON Schemas for every MCP protocol
// revision, the registry of revisions, version negotiation, and a validator
// that checks one raw JSON-RPC message against the schema of its revision.
package schemas

import (
	"errors"
	"fmt"
	"strings"
)

// Revision is an MCP protocol revision. Revisions are ordered: a smaller
// value is an older revision, so they compare with < and >. The zero value
// is not a revision.
type Revision uint8

// The protocol revisions mcpbroker knows, oldest first.
const (
	_         Revision = iota
	V20241105          // 2024-11-05: HTTP+SSE, initialize handshake
	V20250326          // 2025-03-26: Streamable HTTP, batching, audio
	V20250618          // 2025-06-18: elicitation, structured output, no batching
	V20251125          // 2025-11-25: tasks, URL elicitation, icons, sampling tools
	V20260728          // 2026-07-28: stateless, MRTR, server/discover
)

// Oldest and Latest bound the known revisions.
const (
	Oldest = V20241105
	Latest = V20260728
)

// DraftAlias is the name of the in-progress revision. At the spec commit
// mcpbroker was written against, draft is identical to 2026-07-28.
const DraftAlias = "draft"

var revisionNames = [...]string{
	V20241105: "2024-11-05",
	V20250326: "2025-03-26",
	V20250618: "2025-06-18",
	V20251125: "2025-11-25",
	V20260728: "2026-07-28",
}

// ErrUnknownRevision is returned (wrapped) by ParseRevision for a string that
// names no known revision.
var ErrUnknownRevision = errors.New("unknown MCP protocol revision")

// All returns every known revision, oldest first.
func All() []Revision {
	return []Revision{V20241105, V20250326, V20250618, V20251125, V20260728}
}

// ParseRevision parses a revision name such as "2025-06-18". "draft" is
// accepted as an alias of 2026-07-28.
func ParseRevision(s string) (Revision, error) {
	if s == DraftAlias {
		return V20260728, nil
	}
	for r := Oldest; r <= Latest; r++ {
		if revisionNames[r] == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w %q (known: %s, or %s)", ErrUnknownRevision, s, strings.Join(Names(), ", "), DraftAlias)
}

// MustParseRevision is like ParseRevision but panics on error. It is meant
// for constants in tests and tables.
func MustParseRevision(s string) Revision {
	r, err := ParseRevision(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Names returns the names of all known revisions, oldest first.
func Names() []string {
	out := make([]string, 0, len(revisionNames)-1)
	for _, r := range All() {
		out = append(out, r.String())
	}
	return out
}

// String returns the revision's date name, or "Revision(N)" for a value that
// is not a known revision.
func (r Revision) String() string {
	if r.Valid() {
		return revisionNames[r]
	}
	return fmt.Sprintf("Revision(%d)", uint8(r))
}

// Valid reports whether r is a known revision.
func (r Revision) Valid() bool { return r >= Oldest && r <= Latest }

// MarshalText implements encoding.TextMarshaler.
func (r Revision) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownRevision, uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Revision) UnmarshalText(b []byte) error {
	v, err := ParseRevision(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Stateless reports whether the revision has no initialize handshake and no
// sessions: every request carries its revision and client metadata in
// params._meta (2026-07-28 on; REVISIONS.md 4.L1).
func (r Revision) Stateless() bool { return r >= V20260728 }

// HasBatching reports whether JSON-RPC batches (arrays) are legal in the
// revision. Only 2025-03-26 has them (REVISIONS.md 1.L1, 2.T1).
func (r Revision) HasBatching() bool { return r == V20250326 }

// HasProtocolVersionHeader reports whether HTTP requests after
// initialization carry the MCP-Protocol-Version header (2025-06-18 on,
// REVISIONS.md 2.T2; in 2026-07-28 on every request, 4.T5).
func (r Revision) HasProtocolVersionHeader() bool { return r >= V20250618 }
