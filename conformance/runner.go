package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// TargetKind is how the runner reaches a target.
type TargetKind string

// Target kinds.
const (
	// KindStdio: a child process speaking the stdio transport (or an
	// in-process connection given as Target.Dial).
	KindStdio TargetKind = "stdio"
	// KindHTTP: a Streamable HTTP endpoint (the stateless transport of
	// 2026-07-28 at the same URL).
	KindHTTP TargetKind = "http"
	// KindSSE: the legacy HTTP+SSE transport of 2024-11-05.
	KindSSE TargetKind = "sse"
)

// ErrConnect is returned (wrapped) when the runner cannot reach the
// target at all.
var ErrConnect = errors.New("conformance: cannot connect to the target")

// Target is the server under test.
type Target struct {
	// Kind is the transport.
	Kind TargetKind
	// Command is the argv of a stdio server (KindStdio), started afresh
	// for every session; Env its environment (nil: the runner's own).
	Command []string
	Env     []string
	// URL is the Streamable HTTP endpoint (KindHTTP) or the SSE stream
	// URL (KindSSE).
	URL string
	// HTTPClient makes the HTTP requests; nil means a default client.
	HTTPClient *http.Client
	// Logger receives the standard error of a stdio server and transport
	// diagnostics; nil discards them.
	Logger *slog.Logger
	// Dial, when set, opens every session instead (tests use it for
	// in-process servers).
	Dial func(ctx context.Context, rev schemas.Revision) (transport.Conn, error)
}

// String describes the target for reports.
func (tg *Target) String() string {
	switch {
	case tg.Dial != nil:
		return string(tg.Kind) + " (in-process)"
	case tg.Kind == KindStdio:
		return fmt.Sprintf("stdio %q", tg.Command)
	}
	return string(tg.Kind) + " " + tg.URL
}

func (tg *Target) httpClient() *http.Client {
	if tg.HTTPClient != nil {
		return tg.HTTPClient
	}
	return http.DefaultClient
}

func (tg *Target) dial(ctx context.Context, rev schemas.Revision) (transport.Conn, error) {
	var (
		c   transport.Conn
		err error
	)
	logger := tg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := &transport.ClientOptions{HTTPClient: tg.HTTPClient, Logger: logger, MaxReconnects: 1}
	switch {
	case tg.Dial != nil:
		c, err = tg.Dial(ctx, rev)
	case tg.Kind == KindStdio:
		c, err = (&transport.Command{Argv: tg.Command, Env: tg.Env, Logger: logger}).Start(ctx)
	case tg.Kind == KindHTTP && rev.Stateless():
		c, err = transport.DialHTTP2026(ctx, tg.URL, opts)
	case tg.Kind == KindHTTP:
		c, err = transport.DialHTTP(ctx, tg.URL, opts)
	case tg.Kind == KindSSE:
		c, err = transport.DialSSE(ctx, tg.URL, opts)
	default:
		return nil, fmt.Errorf("conformance: unknown target kind %q", tg.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	return c, nil
}

// Status is the outcome of one scenario in one revision.
type Status string

// Statuses.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Warn: a SHOULD scenario failed; it does not fail the run.
	Warn Status = "warn"
	Skip Status = "skip"
	// Expected: a failure the baseline lists; it does not fail the run.
	Expected Status = "expected"
	// Fixed: the baseline lists a failure that did not happen; the
	// baseline can shrink.
	Fixed Status = "fixed"
)

// Result is the outcome of one scenario in one revision.
type Result struct {
	ID       string        `json:"id"`
	Revision string        `json:"revision"`
	Severity Severity      `json:"severity"`
	Status   Status        `json:"status"`
	Reason   string        `json:"reason,omitempty"`
	Spec     string        `json:"spec"`
	Duration time.Duration `json:"duration_ns"`
}

// Runner runs scenarios against a target.
type Runner struct {
	// Target is the server under test.
	Target *Target
	// Scenarios to run; nil means Catalogue().
	Scenarios []Scenario
	// Revisions to test; nil means every revision the target accepts
	// (Probe).
	Revisions []schemas.Revision
	// Timeout bounds each scenario; zero means 10s.
	Timeout time.Duration
	// Validator checks the target's messages; nil builds one.
	Validator *schemas.Validator
	// Progress, when set, is called after every scenario.
	Progress func(Result)
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 10 * time.Second
}

func (r *Runner) validator() (*schemas.Validator, error) {
	if r.Validator != nil {
		return r.Validator, nil
	}
	v, err := schemas.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	r.Validator = v
	return v, nil
}

// Probe finds the revisions the target accepts: for each legacy revision
// an initialize asking for it must be answered with it; for a stateless
// one server/discover in it must succeed. It returns ErrConnect (wrapped)
// when no session could be opened at all.
func (r *Runner) Probe(ctx context.Context) ([]schemas.Revision, error) {
	v, err := r.validator()
	if err != nil {
		return nil, err
	}
	var (
		out     []schemas.Revision
		lastErr error
		opened  bool
	)
	for _, rev := range schemas.All() {
		if r.Target.Kind == KindSSE && rev != schemas.V20241105 {
			continue
		}
		ok, err := r.probe(ctx, v, rev)
		if err != nil {
			lastErr = err
			if errors.Is(err, ErrConnect) {
				continue
			}
		}
		opened = true
		if ok {
			out = append(out, rev)
		}
	}
	if !opened && lastErr != nil {
		return nil, lastErr
	}
	return out, nil
}

func (r *Runner) probe(ctx context.Context, v *schemas.Validator, rev schemas.Revision) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	t := &T{Rev: rev, target: r.Target, v: v}
	if err := t.open(ctx); err != nil {
		return false, err
	}
	defer t.close()
	if rev.Stateless() {
		resp, err := t.CallErr(ctx, "server/discover", nil)
		if err != nil || resp.Error != nil {
			return false, err
		}
		var res struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		json.Unmarshal(resp.Result, &res)
		return slices.Contains(res.SupportedVersions, rev.String()), nil
	}
	resp, err := t.CallErr(ctx, "initialize", t.InitializeParams(rev.String()))
	if err != nil || resp.Error != nil {
		return false, err
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	json.Unmarshal(resp.Result, &res)
	return res.ProtocolVersion == rev.String(), nil
}

// probeMethod names the request Probe sends in rev.
func probeMethod(rev schemas.Revision) string {
	if rev.Stateless() {
		return "server/discover"
	}
	return "initialize"
}

// Run runs every scenario that applies, revision by revision, and returns
// the report. Revisions nil means Probe first; finding none is ErrConnect
// or, when sessions worked, an empty report. With Revisions given, a
// target that does not answer the probe request of one of them is
// ErrConnect.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	v, err := r.validator()
	if err != nil {
		return nil, err
	}
	revs := r.Revisions
	if revs == nil {
		if revs, err = r.Probe(ctx); err != nil {
			return nil, err
		}
	} else {
		// A target that does not answer at all is a connection error,
		// not a failure of every scenario.
		for _, rev := range revs {
			if _, err := r.probe(ctx, v, rev); err != nil {
				if errors.Is(err, ErrConnect) {
					return nil, err
				}
				return nil, fmt.Errorf("%w: no answer to %s in %s: %w", ErrConnect, probeMethod(rev), rev, err)
			}
		}
	}
	scen := r.Scenarios
	if scen == nil {
		scen = Catalogue()
	}
	rep := &Report{Target: r.Target.String()}
	for _, rev := range revs {
		rep.Revisions = append(rep.Revisions, rev.String())
		for i := range scen {
			s := &scen[i]
			if !s.AppliesTo(rev, r.Target.Kind) {
				continue
			}
			res := r.runOne(ctx, v, s, rev)
			rep.Results = append(rep.Results, res)
			if r.Progress != nil {
				r.Progress(res)
			}
		}
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("conformance: %w", err)
		}
	}
	return rep, nil
}

// runOne runs one scenario in one revision on a fresh session.
func (r *Runner) runOne(ctx context.Context, v *schemas.Validator, s *Scenario, rev schemas.Revision) Result {
	start := time.Now()
	res := Result{ID: s.ID, Revision: rev.String(), Severity: s.Severity, Spec: s.SpecURL(rev)}
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	t := &T{Rev: rev, target: r.Target, v: v}
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil && p != errSkip && p != errFatal {
				// A bug of the scenario on an answer it did not foresee:
				// report it rather than stop the whole run.
				t.Fail("internal error of the runner: %v", p)
			}
		}()
		if s.Transport != HTTPTransport {
			if err := t.open(ctx); err != nil {
				return err
			}
			defer t.close()
			if !s.Raw {
				if rev.Stateless() {
					t.Discover(ctx)
				} else {
					t.Handshake(ctx)
				}
			}
		}
		s.Run(ctx, t)
		return nil
	}()
	res.Duration = time.Since(start)
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err != nil:
		res.Status, res.Reason = Fail, err.Error()
	case len(t.failures) > 0:
		res.Status, res.Reason = Fail, joinReasons(t.failures)
		if s.Severity == Should {
			res.Status = Warn
		}
	case t.skip != "":
		res.Status, res.Reason = Skip, t.skip
	default:
		res.Status = Pass
	}
	return res
}

// joinReasons joins the first few failures of a scenario.
func joinReasons(f []string) string {
	const max = 3
	s := ""
	for i, x := range f {
		if i == max {
			s += fmt.Sprintf("; (%d more)", len(f)-max)
			break
		}
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}
