package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpbroker/mcpbroker/conformance"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// conformanceFlags are the flags of the conformance command.
type conformanceFlags struct {
	targetCmd, targetURL, targetSSE string
	clientCmd                       string
	revision                        string
	jsonOut, junitOut, baseline     string
	timeout                         time.Duration
	scenarios                       []string
	list, verbose                   bool
}

func newConformanceCmd() *cobra.Command {
	var f conformanceFlags
	cmd := &cobra.Command{
		Use:   "conformance (--target-cmd CMD | --target-url URL | --target-sse-url URL | --client-cmd CMD)",
		Short: "Check that an MCP server conforms to the protocol revisions it claims",
		Long: `conformance runs the scenario catalogue (docs/conformance.md) against an MCP
server, once per revision, and validates every message the server sends against
the schema of the revision in use.

The server is a command speaking stdio (--target-cmd "CMD ARGS", split like a
shell would, without expansion; started afresh for every scenario), a Streamable
HTTP endpoint (--target-url; 2026-07-28 is tested at the same URL) or a legacy
HTTP+SSE stream (--target-sse-url). --revision all (the default) tests every
revision the server accepts, found by negotiation (initialize, and
server/discover for 2026-07-28).

The results go to stdout as a table, and with --json FILE / --junit FILE also as
JSON and JUnit XML. --baseline FILE lists expected failures (YAML or JSON list
of {id, revision, reason}): a listed failure is reported as "expected" and does
not fail the run; a listed scenario that passes is reported as "fixed".

--client-cmd "CMD ARGS" checks a client instead: the runner hosts a small test
server (Streamable HTTP on 127.0.0.1; revisions 2024-11-05 to 2025-11-25, the one
the client asks for) and runs the program with the server's URL in
` + conformance.ServerURLEnv + ` and as its last argument; when the program ends, the
client checks are made on what it sent (initialize first, notifications/initialized,
valid messages, session id, MCP-Protocol-Version and Accept headers). --timeout
bounds the program's run (it is killed then).

Exit status: 0 when every scenario passed, was skipped or failed as expected,
1 on an unexpected failure of a MUST scenario (a failed SHOULD scenario is a
warning), 2 on a usage error or when the server cannot be reached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConformance(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.targetCmd, "target-cmd", "", `stdio server command line, e.g. "node server.mjs"`)
	fl.StringVar(&f.targetURL, "target-url", "", "Streamable HTTP endpoint of the server")
	fl.StringVar(&f.targetSSE, "target-sse-url", "", "legacy HTTP+SSE stream URL of the server (2024-11-05)")
	fl.StringVar(&f.clientCmd, "client-cmd", "", `client program to check, e.g. "node client.mjs": it gets the URL of a test server in `+conformance.ServerURLEnv+` and as its last argument`)
	fl.StringVar(&f.revision, "revision", "all", "revision to test, or all: "+strings.Join(schemas.Names(), ", "))
	fl.StringVar(&f.jsonOut, "json", "", "also write the results as JSON to FILE")
	fl.StringVar(&f.junitOut, "junit", "", "also write the results as JUnit XML to FILE")
	fl.StringVar(&f.baseline, "baseline", "", "YAML or JSON list of expected failures {id, revision, reason}")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "time limit of each scenario")
	fl.StringSliceVar(&f.scenarios, "scenario", nil, "run only scenarios matching this glob or prefix (repeatable)")
	fl.BoolVar(&f.list, "list", false, "list the scenarios and exit")
	fl.BoolVar(&f.verbose, "verbose", false, "log the server's standard error and transport diagnostics to stderr")
	return cmd
}

func runConformance(cmd *cobra.Command, f *conformanceFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	scen, err := conformance.Select(conformance.Catalogue(), f.scenarios)
	if err != nil {
		return usageErr("conformance: %w", err)
	}
	if f.list {
		for _, s := range scen {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", s.ID, s.Severity, s.Title)
		}
		return nil
	}
	var base conformance.Baseline
	if f.baseline != "" {
		b, err := os.ReadFile(f.baseline)
		if err != nil {
			return usageErr("conformance: %w", err)
		}
		if base, err = conformance.ParseBaseline(b); err != nil {
			return usageErr("conformance: %s: %w", f.baseline, err)
		}
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if f.clientCmd != "" {
		if f.targetCmd != "" || f.targetURL != "" || f.targetSSE != "" {
			return usageErr("conformance: --client-cmd excludes the --target-* flags")
		}
		argv, err := conformance.SplitCommand(f.clientCmd)
		if err != nil {
			return usageErr("conformance: --client-cmd: %w", err)
		}
		cr := &conformance.ClientRunner{Command: argv, Timeout: f.timeout, Stdout: stderr, Stderr: stderr}
		rep, err := cr.Run(ctx)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		return finishConformance(f, rep, base, stdout)
	}
	target, err := conformanceTarget(f)
	if err != nil {
		return err
	}
	var revs []schemas.Revision
	if f.revision != "all" {
		rev, err := schemas.ParseRevision(f.revision)
		if err != nil {
			return usageErr("conformance: --revision: %w", err)
		}
		revs = []schemas.Revision{rev}
	}
	if f.verbose {
		target.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	r := &conformance.Runner{Target: target, Scenarios: scen, Revisions: revs, Timeout: f.timeout}
	if isTerminal(stderr) {
		r.Progress = func(x conformance.Result) {
			fmt.Fprintf(stderr, "%-40s %s  %s\n", x.ID, x.Revision, x.Status)
		}
	}
	rep, err := r.Run(ctx)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if len(rep.Revisions) == 0 {
		return &exitError{code: exitUsage, err: errors.New("conformance: the target accepts none of the revisions " + strings.Join(schemas.Names(), ", "))}
	}
	return finishConformance(f, rep, base, stdout)
}

// finishConformance applies the baseline, writes the outputs and turns
// unexpected failures into exit status 1.
func finishConformance(f *conformanceFlags, rep *conformance.Report, base conformance.Baseline, stdout io.Writer) error {
	base.Apply(rep)
	if err := rep.WriteTable(stdout); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := writeReport(f.jsonOut, rep.WriteJSON); err != nil {
		return err
	}
	if err := writeReport(f.junitOut, rep.WriteJUnit); err != nil {
		return err
	}
	if rep.Failed() {
		return &exitError{code: exitInvalid}
	}
	return nil
}

// conformanceTarget builds the target of exactly one --target-* flag.
func conformanceTarget(f *conformanceFlags) (*conformance.Target, error) {
	n := 0
	for _, s := range []string{f.targetCmd, f.targetURL, f.targetSSE} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, usageErr("conformance: give exactly one of --target-cmd, --target-url and --target-sse-url")
	}
	switch {
	case f.targetCmd != "":
		argv, err := conformance.SplitCommand(f.targetCmd)
		if err != nil {
			return nil, usageErr("conformance: --target-cmd: %w", err)
		}
		return &conformance.Target{Kind: conformance.KindStdio, Command: argv}, nil
	case f.targetURL != "":
		return &conformance.Target{Kind: conformance.KindHTTP, URL: f.targetURL}, nil
	}
	return &conformance.Target{Kind: conformance.KindSSE, URL: f.targetSSE}, nil
}

// writeReport writes a report format to a file, if one is named.
func writeReport(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("conformance: %w", err)}
	}
	return nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
