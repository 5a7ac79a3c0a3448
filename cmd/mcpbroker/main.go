// Command mcpbroker is an MCP gateway that lets clients and servers of
// different MCP protocol revisions talk to each other. This binary also
// validates MCP messages against the schema of their revision.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mcpbroker/mcpbroker/testsuite/demo"
)

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// Exit codes shared by the subcommands.
const (
	exitOK      = 0
	exitInvalid = 1 // some input was invalid (validate), rejected (translate), ...
	exitUsage   = 2 // usage or I/O error
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "mcpbroker:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "mcpbroker:", err)
	return exitUsage
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "mcpbroker",
		Short:         "MCP gateway that translates between protocol revisions",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%w\n%s", err, c.UsageString())}
	})
	root.AddCommand(newVersionCmd(), newValidateCmd(), newTranslateCmd(), demo.Command(), newServeCmd(), newConformanceCmd())
	return root
}

// usageErr wraps an error as a usage error (exit 2).
func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}
