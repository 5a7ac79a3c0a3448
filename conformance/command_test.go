package conformance

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		line string
		want []string
		err  bool
	}{
		{line: "node server.mjs", want: []string{"node", "server.mjs"}},
		{line: "  a\t b \n c  ", want: []string{"a", "b", "c"}},
		{line: `go run ./cmd/mcpbroker demo-server --revision 2025-06-18`, want: []string{"go", "run", "./cmd/mcpbroker", "demo-server", "--revision", "2025-06-18"}},
		{line: `a 'b c' "d e"`, want: []string{"a", "b c", "d e"}},
		{line: `a 'it''s'`, want: []string{"a", "its"}},
		{line: `a "x\"y" "\$HOME" "\n"`, want: []string{"a", `x"y`, "$HOME", `\n`}},
		{line: `a b\ c`, want: []string{"a", "b c"}},
		{line: `a '' ""`, want: []string{"a", "", ""}},
		{line: "a \\\nb", want: []string{"a", "b"}},
		{line: `a 'b`, err: true},
		{line: `a "b`, err: true},
		{line: `a \`, err: true},
		{line: "   ", err: true},
	}
	for _, tt := range tests {
		got, err := SplitCommand(tt.line)
		if tt.err {
			if !errors.Is(err, ErrCommandLine) {
				t.Errorf("SplitCommand(%q) = %q, %v; want ErrCommandLine", tt.line, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tt.line, got, err, tt.want)
		}
	}
}

// FuzzSplitCommand: splitting never panics, and words joined with
// single-quoting split back to the same words.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"a b", `a 'b c' "d\"e"`, "x\\ y", `"`, "'", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := SplitCommand(line)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := SplitCommand(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Fatalf("round trip of %q: %q, %v", words, again, err)
		}
	})
}
