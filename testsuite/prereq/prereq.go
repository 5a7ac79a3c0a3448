// Package prereq handles the tests' prerequisites that `make test`
// installs (npm packages, Node, the Jaeger binary): a test without one
// skips on a developer's machine and fails under CI=true, where a missing
// prerequisite is a broken set-up.
package prereq

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Missing skips tb, or fails it when CI=true, saying why and, in hint,
// how to install what is missing.
func Missing(tb testing.TB, why, hint string) {
	tb.Helper()
	msg := why
	if hint != "" {
		msg += "; " + hint
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// NodeModules returns the path of node once it is in PATH and every path
// (relative to dir) of the installed npm packages exists; otherwise it
// calls Missing with hint.
func NodeModules(tb testing.TB, hint, dir string, paths ...string) string {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(tb, "node not found in PATH", hint)
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			Missing(tb, filepath.Join(dir, "node_modules")+" is missing or incomplete ("+p+")", hint)
		}
	}
	return node
}
