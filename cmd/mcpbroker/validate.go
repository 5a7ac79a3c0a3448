package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// defaultMaxMessage is the default limit on one NDJSON line.
const defaultMaxMessage = 4 << 20

type validateOpts struct {
	revision string
	method   string
	format   string
	from     string
	maxSize  int
}

func newValidateCmd() *cobra.Command {
	var o validateOpts
	cmd := &cobra.Command{
		Use:   "validate --revision R [FILE|-]",
		Short: "Validate a stream of MCP messages (NDJSON) against a revision's schema",
		Long: `Validate reads JSON-RPC messages, one per line (a JSON array line is a batch),
and checks each against mcpbroker's schema of the revision. A response is checked
against the result type of the request with the same id earlier in the stream, or of
--method when that request is not there.

Exit code: 0 all valid, 1 some invalid, 2 usage or I/O error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.revision, "revision", "", "MCP revision of the messages (required): "+fmt.Sprint(schemas.Names()))
	f.StringVar(&o.method, "method", "", "method of the request that responses answer, when the request is not in the stream")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.StringVar(&o.from, "from", "", "side that sent the messages: client or server (default: either)")
	f.IntVar(&o.maxSize, "max-size", defaultMaxMessage, "maximum size of one message in bytes")
	return cmd
}

// validateResult is one line of --format json output.
type validateResult struct {
	Index  int             `json:"index"`
	Valid  bool            `json:"valid"`
	Kind   string          `json:"kind,omitempty"`
	Method string          `json:"method,omitempty"`
	Errors []schemas.Issue `json:"errors"`
}

func runValidate(cmd *cobra.Command, args []string, o validateOpts) error {
	if o.revision == "" {
		return usageErr("--revision is required (one of %v)", schemas.Names())
	}
	rev, err := schemas.ParseRevision(o.revision)
	if err != nil {
		return usageErr("%w", err)
	}
	if o.format != "text" && o.format != "json" {
		return usageErr("--format must be text or json, not %q", o.format)
	}
	check := schemas.Check{Method: o.method}
	switch o.from {
	case "":
	case "client":
		check.From = schemas.FromClient
	case "server":
		check.From = schemas.FromServer
	default:
		return usageErr("--from must be client or server, not %q", o.from)
	}
	if o.maxSize <= 0 {
		return usageErr("--max-size must be positive")
	}
	in, name, closeIn, err := openInput(cmd, args)
	if err != nil {
		return err
	}
	defer closeIn()
	v, err := schemas.NewValidator()
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	out := cmd.OutOrStdout()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)

	pending := map[string]string{} // request id key -> method
	var index, invalid int
	report := func(res validateResult) error {
		if !res.Valid {
			invalid++
		}
		if res.Errors == nil {
			res.Errors = []schemas.Issue{}
		}
		if o.format == "json" {
			return enc.Encode(res)
		}
		if res.Valid {
			return nil
		}
		what := res.Kind
		if what == "" {
			what = "unparsed"
		}
		if res.Method != "" {
			what += " " + res.Method
		}
		for _, is := range res.Errors {
			path := is.Path
			if path == "" {
				path = "/"
			}
			if _, err := fmt.Fprintf(out, "%s: message %d (%s): %s: %s\n", name, res.Index, what, path, is.Message); err != nil {
				return err
			}
		}
		return nil
	}
	checkOne := func(m *jsonrpc.Message) validateResult {
		res := validateResult{Index: index, Kind: m.Kind.String(), Method: m.Method}
		index++
		c := check
		switch m.Kind {
		case jsonrpc.KindRequest:
			pending[jsonrpc.IDKey(m.ID)] = m.Method
		case jsonrpc.KindResult, jsonrpc.KindError:
			if meth, ok := pending[jsonrpc.IDKey(m.ID)]; ok {
				c.Method = meth
				delete(pending, jsonrpc.IDKey(m.ID))
			}
			res.Method = c.Method
		}
		if err := v.Validate(rev, m, c); err != nil {
			res.Errors = issuesOf(err)
			return res
		}
		res.Valid = true
		return res
	}
	fail := func(err error) validateResult {
		res := validateResult{Index: index}
		index++
		res.Errors = issuesOf(err)
		return res
	}

	wrap := func(err error) error {
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		return nil
	}
	if err := eachMessage(in, name, o.maxSize, rev,
		func(m *jsonrpc.Message) error { return wrap(report(checkOne(m))) },
		func(err error) error { return wrap(report(fail(err))) }); err != nil {
		return err
	}
	if o.format == "text" {
		fmt.Fprintf(out, "%d messages, %d valid, %d invalid (%s)\n", index, index-invalid, invalid, rev)
	}
	if invalid > 0 {
		return &exitError{code: exitInvalid}
	}
	return nil
}

// issuesOf turns any validation or parse error into issues.
func issuesOf(err error) []schemas.Issue {
	var ve *schemas.ValidationError
	if errors.As(err, &ve) {
		if len(ve.Issues) > 0 {
			return ve.Issues
		}
		var je *jsonrpc.Error
		if errors.As(err, &je) {
			return []schemas.Issue{{Message: je.Message}}
		}
		return []schemas.Issue{{Message: ve.Error()}}
	}
	var je *jsonrpc.Error
	if errors.As(err, &je) {
		return []schemas.Issue{{Message: je.Message}}
	}
	return []schemas.Issue{{Message: err.Error()}}
}
