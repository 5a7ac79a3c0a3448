// Package audittest checks audit events (telemetry.Event JSON lines)
// against the JSON Schema of docs/audit.md, for tests of the packages that
// emit them.
package audittest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	once   sync.Once
	schema *jsonschema.Schema
	err    error
)

// load compiles the json block after <!-- audit-schema --> in
// docs/audit.md, found relative to this file.
func load() (*jsonschema.Schema, error) {
	once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		var doc []byte
		doc, err = os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "docs", "audit.md"))
		if err != nil {
			return
		}
		_, after, _ := strings.Cut(string(doc), "<!-- audit-schema -->\n```json\n")
		block, _, _ := strings.Cut(after, "\n```")
		var v any
		if v, err = jsonschema.UnmarshalJSON(strings.NewReader(block)); err != nil {
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err = c.AddResource("audit.json", v); err != nil {
			return
		}
		schema, err = c.Compile("audit.json")
	})
	return schema, err
}

// Validate fails t unless every line of lines is an event that the
// schema accepts; it returns the decoded events.
func Validate(t testing.TB, lines []byte) []map[string]any {
	t.Helper()
	s, err := load()
	if err != nil {
		t.Fatalf("audit schema: %v", err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSuffix(lines, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			t.Fatalf("audit line %s: %v", line, err)
		}
		if err := s.Validate(v); err != nil {
			t.Fatalf("audit line %s does not match docs/audit.md: %v", line, err)
		}
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}
