package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// openInput returns the command's input: the file named by the only
// argument, or stdin when there is none or it is "-". close must be called.
func openInput(cmd *cobra.Command, args []string) (in io.Reader, name string, close func(), err error) {
	if len(args) == 1 && args[0] != "-" {
		f, err := os.Open(args[0])
		if err != nil {
			return nil, "", nil, &exitError{code: exitUsage, err: err}
		}
		return f, args[0], func() { f.Close() }, nil
	}
	return cmd.InOrStdin(), "stdin", func() {}, nil
}

// eachMessage reads an NDJSON stream as validate and translate read it:
// one frame per line, a JSON array line a batch (split into its elements,
// and refused whole in a revision without batches). It calls message for
// every parsed message and bad for every line or element that is not one
// (too large, not JSON-RPC, a batch where rev has none); either may stop
// the reading with an error. Read errors are usage errors (exit 2).
func eachMessage(in io.Reader, name string, maxSize int, rev schemas.Revision,
	message func(*jsonrpc.Message) error, bad func(error) error) error {
	r := jsonrpc.NewReader(in, maxSize)
	for {
		b, err := r.Next()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, jsonrpc.ErrTooLarge):
			if err := bad(err); err != nil {
				return err
			}
			continue
		case err != nil:
			return &exitError{code: exitUsage, err: fmt.Errorf("read %s: %w", name, err)}
		}
		frame, err := jsonrpc.ParseFrame(b)
		if err != nil {
			if err := bad(err); err != nil {
				return err
			}
			continue
		}
		if frame.Batch && !rev.HasBatching() {
			if err := bad(fmt.Errorf("%s has no JSON-RPC batches (only 2025-03-26 has them)", rev)); err != nil {
				return err
			}
			continue
		}
		for i, m := range frame.Messages {
			if m == nil {
				err = bad(frame.Errors[i])
			} else {
				err = message(m)
			}
			if err != nil {
				return err
			}
		}
	}
}
