package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

type translateOpts struct {
	from, to    string
	direction   string
	method      string
	contextFile string
	maxSize     int
}

func newTranslateCmd() *cobra.Command {
	var o translateOpts
	cmd := &cobra.Command{
		Use:   "translate --from A --to B --direction c2s|s2c [FILE|-]",
		Short: "Translate a stream of MCP messages (NDJSON) from one revision to another",
		Long: `Translate reads JSON-RPC messages as validate does (one per line, a JSON array line
is a batch, split into its elements), validates each against revision A, translates it
into revision B as sent by the given side (c2s: the client sent it; s2c: the server did),
and prints the translated messages as NDJSON on stdout.

A response is translated by the method of the request with the same id earlier in the
stream, or of --method; a request in the stream that only the other side sends is
used as such context and not translated. Session facts a single message lacks (client info and
capabilities for a 2026-07-28 request, server info, log level, caching hints) come from
--context FILE, a JSON object with the keys clientInfo, clientCapabilities, serverInfo,
serverCapabilities, logLevel, cacheTtlMs, cacheScope; defaults: clientInfo
{"name":"mcpbroker","version":"0"}, clientCapabilities {}, cacheScope "private".

Messages the broker must handle itself (answer, emulate) and rejected ones are reported
on stderr with the REVISIONS.md row ID; dropped notifications too.

Exit code: 0 all translated (or dropped), 1 some message was invalid, rejected or needs
the broker, 2 usage or I/O error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTranslate(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "revision of the input messages (required)")
	f.StringVar(&o.to, "to", "", "revision to translate into (required)")
	f.StringVar(&o.direction, "direction", "", "side that sent the messages: c2s (client) or s2c (server) (required)")
	f.StringVar(&o.method, "method", "", "method of the request that responses answer, when the request is not in the stream")
	f.StringVar(&o.contextFile, "context", "", "JSON file with session facts (see above)")
	f.IntVar(&o.maxSize, "max-size", defaultMaxMessage, "maximum size of one message in bytes")
	return cmd
}

func runTranslate(cmd *cobra.Command, args []string, o translateOpts) error {
	if o.from == "" || o.to == "" || o.direction == "" {
		return usageErr("--from, --to and --direction are required")
	}
	from, err := schemas.ParseRevision(o.from)
	if err != nil {
		return usageErr("--from: %w", err)
	}
	to, err := schemas.ParseRevision(o.to)
	if err != nil {
		return usageErr("--to: %w", err)
	}
	dir, err := translators.ParseDirection(o.direction)
	if err != nil {
		return usageErr("--direction: %w", err)
	}
	var ctx translators.Context
	if o.contextFile != "" {
		b, err := os.ReadFile(o.contextFile)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		if err := json.Unmarshal(b, &ctx); err != nil {
			return usageErr("--context %s: %w", o.contextFile, err)
		}
	}
	ctx = ctx.Defaults()
	in, name, closeIn, err := openInput(cmd, args)
	if err != nil {
		return err
	}
	defer closeIn()
	chain, err := translators.NewChain(from, to)
	if err != nil {
		return usageErr("%w", err)
	}
	v, err := schemas.NewValidator()
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	sender, receiver := schemas.FromClient, schemas.FromServer
	if dir == translators.ServerToClient {
		sender, receiver = receiver, sender
	}
	out := jsonrpc.NewWriter(cmd.OutOrStdout())
	errw := cmd.ErrOrStderr()
	pending := map[string]string{}
	var index, bad int
	report := func(what, format string, a ...any) {
		fmt.Fprintf(errw, "%s: message %d (%s): %s\n", name, index, what, fmt.Sprintf(format, a...))
	}
	one := func(m *jsonrpc.Message) error {
		defer func() { index++ }()
		what := m.Kind.String()
		c := ctx
		switch m.Kind {
		case jsonrpc.KindRequest:
			pending[jsonrpc.IDKey(m.ID)] = m.Method
			what += " " + m.Method
			if info, ok := v.Method(from, m.Method); ok && !slices.Contains(info.Senders, sender) && slices.Contains(info.Senders, receiver) {
				// A request of the other side, in the stream so that the
				// responses after it can be typed: context, not input.
				report(what, "context only: sent by the %s, so not translated", receiver)
				return nil
			}
		case jsonrpc.KindNotification:
			what += " " + m.Method
		default:
			c.Method = o.method
			if meth, ok := pending[jsonrpc.IDKey(m.ID)]; ok {
				c.Method = meth
				delete(pending, jsonrpc.IDKey(m.ID))
			}
			if c.Method != "" {
				what += " to " + c.Method
			}
		}
		// A response travels opposite to its request: it is checked as sent
		// by the side that answers.
		check := schemas.Check{Method: c.Method, From: sender}
		if err := v.Validate(from, m, check); err != nil {
			bad++
			report(what, "invalid in %s: %v", from, err)
			return nil
		}
		oc := chain.Translate(m, dir, &c)
		switch oc.Kind {
		case translators.Forward:
			if err := v.ValidateBytes(to, oc.Message, schemas.Check{Method: c.Method, From: sender}); err != nil {
				bad++
				report(what, "internal error: the translation is invalid in %s: %v", to, err)
				return nil
			}
			if len(oc.Losses) > 0 {
				var ls []string
				for _, l := range oc.Losses {
					ls = append(ls, fmt.Sprintf("%s %s (%s)", l.Row, l.Path, l.Detail))
				}
				report(what, "lossy: %s", strings.Join(ls, "; "))
			}
			return out.Write(oc.Message)
		case translators.Drop:
			report(what, "drop %s: %s", oc.Row, oc.Reason)
		case translators.Reject:
			bad++
			report(what, "reject %s: %v", oc.Row, oc.Error)
		default: // Answer, Emulate: needs the broker
			bad++
			if oc.Reply != nil {
				report(what, "%s %s: %s; reply to the %s: %s", oc.Kind, oc.Row, oc.Reason, receiver, oc.Reply)
			} else {
				report(what, "%s %s: %s", oc.Kind, oc.Row, oc.Reason)
			}
		}
		return nil
	}
	// 1.L1, 2.T1: batch elements are translated one by one.
	err = eachMessage(in, name, o.maxSize, from,
		func(m *jsonrpc.Message) error {
			if err := one(m); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		},
		func(err error) error {
			bad++
			report("unparsed", "%v", err)
			index++
			return nil
		})
	if err != nil {
		return err
	}
	if bad > 0 {
		return &exitError{code: exitInvalid}
	}
	return nil
}
