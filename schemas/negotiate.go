package schemas

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNoCommonRevision is returned (wrapped) when two sides share no revision.
var ErrNoCommonRevision = errors.New("no common MCP protocol revision")

// ErrUnsupportedRevision is returned (wrapped) when a stateless (2026-07-28
// or later) request names a revision the server does not support. The
// protocol answers it with UnsupportedProtocolVersionError (-32022).
var ErrUnsupportedRevision = errors.New("unsupported MCP protocol revision")

// Negotiation is a server's answer to a requested revision.
type Negotiation struct {
	// Revision is what the server answers (InitializeResult.protocolVersion
	// for legacy revisions, the revision it serves the request in for
	// stateless ones).
	Revision Revision
	// Exact reports whether the answer is the requested revision.
	Exact bool
}

// Negotiate returns what a server that supports the given revisions answers
// to a client that requests the revision named requested.
//
// Legacy lifecycle (initialize, up to 2025-11-25): if the server supports
// the requested revision it answers with it; otherwise it answers with the
// latest revision it supports, and the client decides whether to go on.
// An unknown or malformed requested string is treated like an unsupported
// revision: the server still answers with its latest one.
//
// Stateless lifecycle (2026-07-28 on): there is no counter-offer; a request
// in an unsupported revision is an error (-32022 with the supported list),
// reported here as ErrUnsupportedRevision. A requested revision that is
// legacy but sent to a server that supports only stateless revisions gets
// the same error.
func Negotiate(requested string, supported []Revision) (Negotiation, error) {
	if len(supported) == 0 {
		return Negotiation{}, fmt.Errorf("%w: server supports none", ErrNoCommonRevision)
	}
	req, err := ParseRevision(requested)
	if err == nil && slices.Contains(supported, req) {
		return Negotiation{Revision: req, Exact: true}, nil
	}
	if err == nil && req.Stateless() {
		return Negotiation{}, fmt.Errorf("%w: %s (supported: %v)", ErrUnsupportedRevision, req, supported)
	}
	// Legacy counter-offer: the latest legacy revision the server supports.
	best := Revision(0)
	for _, r := range supported {
		if !r.Stateless() && r > best {
			best = r
		}
	}
	if best == 0 {
		return Negotiation{}, fmt.Errorf("%w: %q requested, server only speaks stateless revisions %v", ErrUnsupportedRevision, requested, supported)
	}
	return Negotiation{Revision: best}, nil
}

// Common returns the newest revision in both sets, as a client that speaks
// the first set would choose when it knows what the server supports.
func Common(a, b []Revision) (Revision, error) {
	best := Revision(0)
	for _, r := range a {
		if r > best && slices.Contains(b, r) {
			best = r
		}
	}
	if best == 0 {
		return 0, fmt.Errorf("%w: %v and %v", ErrNoCommonRevision, a, b)
	}
	return best, nil
}

// HeaderMeaning says how a server of a given negotiated revision reads the
// HTTP MCP-Protocol-Version header of a request.
type HeaderMeaning int

const (
	// HeaderIgnored: the negotiated revision has no such header (2024-11-05,
	// 2025-03-26); whatever is there is ignored.
	HeaderIgnored HeaderMeaning = iota
	// HeaderOK: the header names the negotiated revision.
	HeaderOK
	// HeaderAbsentAssumeDefault: no header; the server SHOULD assume
	// 2025-03-26 (REVISIONS.md 2.T2) and carry on.
	HeaderAbsentAssumeDefault
	// HeaderInvalid: the header names an unknown revision or one other than
	// the negotiated one; the server answers HTTP 400.
	HeaderInvalid
)

// String names the meaning for logs.
func (m HeaderMeaning) String() string {
	switch m {
	case HeaderIgnored:
		return "ignored"
	case HeaderOK:
		return "ok"
	case HeaderAbsentAssumeDefault:
		return "absent (assume 2025-03-26)"
	case HeaderInvalid:
		return "invalid"
	}
	return fmt.Sprintf("HeaderMeaning(%d)", int(m))
}

// DefaultHeaderRevision is what a server assumes when a request carries no
// MCP-Protocol-Version header (REVISIONS.md 2.T2 and 4.T5).
const DefaultHeaderRevision = V20250326

// InterpretHeader tells what the MCP-Protocol-Version header value (empty
// when absent) means on a request to a server whose session negotiated the
// given revision. For stateless revisions, negotiated is the revision named
// in the request's _meta; a mismatch there is a HeaderMismatchError (-32020)
// and is reported as HeaderInvalid.
func InterpretHeader(negotiated Revision, header string) HeaderMeaning {
	if !negotiated.HasProtocolVersionHeader() {
		return HeaderIgnored
	}
	if header == "" {
		if negotiated.Stateless() {
			return HeaderInvalid // 2026-07-28: the header MUST be present (4.T5)
		}
		return HeaderAbsentAssumeDefault
	}
	r, err := ParseRevision(header)
	if err != nil || r != negotiated {
		return HeaderInvalid
	}
	return HeaderOK
}
