package conformance

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
)

// Report is the outcome of a run.
type Report struct {
	// Target describes the server under test.
	Target string `json:"target"`
	// Revisions lists the revisions tested, in order.
	Revisions []string `json:"revisions"`
	// Results holds one entry per scenario and revision.
	Results []Result `json:"results"`
}

// Counts returns how many results have each status.
func (r *Report) Counts() map[Status]int {
	c := map[Status]int{}
	for _, x := range r.Results {
		c[x.Status]++
	}
	return c
}

// Failed reports whether the run has unexpected failures (Fail).
func (r *Report) Failed() bool { return r.Counts()[Fail] > 0 }

// Summary is one line of counts.
func (r *Report) Summary() string {
	c := r.Counts()
	var parts []string
	for _, s := range []Status{Pass, Fail, Warn, Skip, Expected, Fixed} {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[s], s))
		}
	}
	if len(parts) == 0 {
		return "no scenario ran"
	}
	return strings.Join(parts, ", ")
}

// WriteTable writes the results as an aligned table and a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tREVISION\tSEVERITY\tRESULT\tREASON")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.ID, x.Revision, x.Severity, x.Status, oneLine(x.Reason))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("conformance: write table: %w", err)
	}
	_, err := fmt.Fprintf(w, "target %s, revisions %s: %s\n", r.Target, strings.Join(r.Revisions, " "), r.Summary())
	return err
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	const max = 160
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("conformance: write JSON: %w", err)
	}
	return nil
}

// JUnit XML, as CI systems read it.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Name    string       `xml:"name,attr"`
	Tests   int          `xml:"tests,attr"`
	Fails   int          `xml:"failures,attr"`
	Skips   int          `xml:"skipped,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name  string      `xml:"name,attr"`
	Tests int         `xml:"tests,attr"`
	Fails int         `xml:"failures,attr"`
	Skips int         `xml:"skipped,attr"`
	Time  string      `xml:"time,attr"`
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: a testsuite per revision,
// a testcase per scenario. Failures are <failure>; skips, warnings and
// expected failures are <skipped> with the reason (they do not fail the
// run); fixed ones pass with a note in system-out.
func (r *Report) WriteJUnit(w io.Writer) error {
	all := junitSuites{Name: "mcpbroker conformance " + r.Target}
	for _, rev := range r.Revisions {
		s := junitSuite{Name: "conformance " + rev}
		var total float64
		for _, x := range r.Results {
			if x.Revision != rev {
				continue
			}
			secs := x.Duration.Seconds()
			total += secs
			c := junitCase{Name: x.ID, Classname: "conformance." + rev, Time: fmt.Sprintf("%.3f", secs)}
			msg := &junitMessage{Message: fmt.Sprintf("%s (%s): %s", x.Status, x.Severity, oneLine(x.Reason)), Text: x.Reason + "\n" + x.Spec}
			switch x.Status {
			case Fail:
				msg.Type = string(x.Severity)
				c.Failure = msg
				s.Fails++
			case Skip, Warn, Expected:
				c.Skipped = msg
				s.Skips++
			case Fixed:
				c.SystemOut = "listed in the baseline as failing, but passed: remove it from the baseline"
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		s.Time = fmt.Sprintf("%.3f", total)
		all.Tests += s.Tests
		all.Fails += s.Fails
		all.Skips += s.Skips
		all.Suites = append(all.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("conformance: write JUnit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("conformance: write JUnit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Expectation is one expected failure of a baseline.
type Expectation struct {
	// ID is the scenario; Revision the revision ("" or "all": every
	// revision).
	ID       string `json:"id" yaml:"id"`
	Revision string `json:"revision,omitempty" yaml:"revision,omitempty"`
	// Reason says why the failure is accepted.
	Reason string `json:"reason" yaml:"reason"`
}

// Baseline is a list of expected failures.
type Baseline []Expectation

// ErrBaseline is returned (wrapped) for a baseline file that cannot be
// read.
var ErrBaseline = errors.New("conformance: invalid baseline")

// ParseBaseline reads a baseline: a YAML (or JSON) list of {id, revision,
// reason}. Every entry needs an id and a reason.
func ParseBaseline(b []byte) (Baseline, error) {
	var out Baseline
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBaseline, err)
	}
	for i, e := range out {
		if e.ID == "" {
			return nil, fmt.Errorf("%w: entry %d has no id", ErrBaseline, i+1)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return nil, fmt.Errorf("%w: entry %d (%s) has no reason", ErrBaseline, i+1, e.ID)
		}
	}
	return out, nil
}

// match returns the baseline entry for a result, if any.
func (b Baseline) match(x Result) (Expectation, bool) {
	for _, e := range b {
		if e.ID == x.ID && (e.Revision == "" || e.Revision == "all" || e.Revision == x.Revision) {
			return e, true
		}
	}
	return Expectation{}, false
}

// Apply marks the failures (and warnings) the baseline lists as
// Expected, and the listed scenarios that passed as Fixed.
func (b Baseline) Apply(r *Report) {
	for i := range r.Results {
		x := &r.Results[i]
		e, ok := b.match(*x)
		if !ok {
			continue
		}
		switch x.Status {
		case Fail, Warn:
			x.Status = Expected
			x.Reason = "expected (" + e.Reason + "): " + x.Reason
		case Pass:
			x.Status = Fixed
			x.Reason = "listed in the baseline (" + e.Reason + ") but passed"
		}
	}
}
