// Package conformance checks that an MCP server conforms to the protocol
// revisions it claims. A catalogue of scenarios (Catalogue), each with an
// ID, a spec reference and a severity, runs against a target (a stdio
// command, a Streamable HTTP URL or a legacy HTTP+SSE URL) once per
// revision; every message the target sends is validated against the schema
// of the revision in use. Runner runs the catalogue and returns a Report,
// which renders as a table, JSON or JUnit XML and can be compared with a
// Baseline of expected failures.
//
// The package depends only on schemas, schemas/jsonrpc and
// broker/transport; the broker never imports it.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/mcpbroker/mcpbroker/schemas"
)

// Severity is how strongly the spec asks for what a scenario checks.
type Severity string

// Severities. A failed SHOULD scenario is reported as a warning and does
// not make a run fail.
const (
	Must   Severity = "MUST"
	Should Severity = "SHOULD"
)

// Transport names the kind of connection a scenario needs.
type Transport string

// Transports a scenario may ask for.
const (
	// AnyTransport: the scenario speaks JSON-RPC messages over whatever
	// connection the target offers.
	AnyTransport Transport = "any"
	// StdioTransport: the scenario writes raw bytes (not JSON-RPC) to a
	// message stream, which only stdio carries as is.
	StdioTransport Transport = "stdio"
	// HTTPTransport: the scenario makes its own HTTP requests to a
	// Streamable HTTP endpoint.
	HTTPTransport Transport = "http"
)

// Scenario is one conformance check.
type Scenario struct {
	// ID names the scenario, area first ("lifecycle/initialize").
	ID string
	// Title says in one line what is checked.
	Title string
	// Spec is the section of the specification that asks for it, as a
	// path below the revision's specification URL ("basic/lifecycle").
	Spec string
	// Severity is MUST or SHOULD.
	Severity Severity
	// Revisions lists the revisions the scenario applies to.
	Revisions []schemas.Revision
	// Transport is the connection the scenario needs.
	Transport Transport
	// Raw makes the scenario's sessions start uninitialized (lifecycle
	// scenarios do the handshake themselves).
	Raw bool
	// Run performs the checks and reports through t.
	Run func(ctx context.Context, t *T)
}

// SpecURL returns the URL of the scenario's spec section for rev.
func (s *Scenario) SpecURL(rev schemas.Revision) string {
	return "https://modelcontextprotocol.io/specification/" + rev.String() + "/" + s.Spec
}

// AppliesTo reports whether the scenario runs for rev over a target of the
// given kind.
func (s *Scenario) AppliesTo(rev schemas.Revision, kind TargetKind) bool {
	if !slices.Contains(s.Revisions, rev) {
		return false
	}
	switch s.Transport {
	case StdioTransport:
		return kind == KindStdio
	case HTTPTransport:
		return kind == KindHTTP
	}
	return true
}

// ErrNoScenario is returned (wrapped) by Select when a filter matches no
// scenario.
var ErrNoScenario = errors.New("conformance: no scenario matches")

// Select returns the scenarios whose ID matches one of the filters:
// a path.Match glob ("tools/*") or a prefix ("tools"). No filter selects
// all of them.
func Select(all []Scenario, filters []string) ([]Scenario, error) {
	if len(filters) == 0 {
		return all, nil
	}
	var out []Scenario
	for _, s := range all {
		for _, f := range filters {
			if ok, _ := path.Match(f, s.ID); ok || strings.HasPrefix(s.ID, f) {
				out = append(out, s)
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoScenario, filters)
	}
	return out, nil
}

// legacy returns the revisions with the initialize handshake.
func legacy() []schemas.Revision {
	var out []schemas.Revision
	for _, r := range schemas.All() {
		if !r.Stateless() {
			out = append(out, r)
		}
	}
	return out
}

// from returns the revisions from first on.
func from(first schemas.Revision) []schemas.Revision {
	var out []schemas.Revision
	for _, r := range schemas.All() {
		if r >= first {
			out = append(out, r)
		}
	}
	return out
}

// between returns the revisions from first to last.
func between(first, last schemas.Revision) []schemas.Revision {
	var out []schemas.Revision
	for _, r := range from(first) {
		if r <= last {
			out = append(out, r)
		}
	}
	return out
}

// stateless returns the revisions without a handshake.
func stateless() []schemas.Revision { return from(schemas.V20260728) }
