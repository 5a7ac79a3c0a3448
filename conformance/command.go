package conformance

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCommandLine is returned (wrapped) by SplitCommand for a command line
// it cannot split.
var ErrCommandLine = errors.New("conformance: invalid command line")

// SplitCommand splits a command line into words the way a POSIX shell
// does for a simple command, without any expansion: blanks separate
// words; 'single quotes' keep everything literally; "double quotes" keep
// everything but \" \\ \$ \` and \newline, whose backslash escapes the
// next character; outside quotes a backslash escapes the next character
// and \newline is removed. Unterminated quotes and a trailing backslash
// are errors, as is a line with no word.
func SplitCommand(line string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	end := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			end()
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("%w: unterminated single quote", ErrCommandLine)
			}
			cur.WriteString(line[i+1 : i+1+j])
			in = true
			i += j + 1
		case c == '"':
			in = true
			i++
			for ; ; i++ {
				if i >= len(line) {
					return nil, fmt.Errorf("%w: unterminated double quote", ErrCommandLine)
				}
				d := line[i]
				if d == '"' {
					break
				}
				if d == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`\n", line[i+1]) >= 0 {
					i++
					if line[i] != '\n' {
						cur.WriteByte(line[i])
					}
					continue
				}
				cur.WriteByte(d)
			}
		case c == '\\':
			if i+1 >= len(line) {
				return nil, fmt.Errorf("%w: trailing backslash", ErrCommandLine)
			}
			i++
			if line[i] != '\n' {
				cur.WriteByte(line[i])
				in = true
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	end()
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: no command", ErrCommandLine)
	}
	return words, nil
}
