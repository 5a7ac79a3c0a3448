package translators

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden outputs under testdata/golden")

// goldenCase is one input file testdata/golden/<from>_<to>/<ROW>__<name>.in.json.
// The directory names the chain; the file name starts with the row ID the
// case proves.
type goldenCase struct {
	Dir     string          `json:"dir"` // "c2s" or "s2c"
	Context Context         `json:"context"`
	In      json.RawMessage `json:"in"`
}

// goldenOut is the pinned outcome, written to <...>.out.json.
type goldenOut struct {
	Kind    OutcomeKind     `json:"kind"`
	Message json.RawMessage `json:"message,omitempty"`
	Reply   json.RawMessage `json:"reply,omitempty"`
	Row     string          `json:"row,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Error   json.RawMessage `json:"error,omitempty"`
	Applied []string        `json:"applied,omitempty"`
	Losses  []Loss          `json:"losses,omitempty"`
}

// goldenFiles returns the input files, sorted.
func goldenFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "*.in.json"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// goldenChain parses "<from>_<to>" into a chain.
func goldenChain(t testing.TB, dir string) *Chain {
	from, to, ok := strings.Cut(filepath.Base(dir), "_")
	if !ok {
		t.Fatalf("golden directory %s is not <from>_<to>", dir)
	}
	c, err := NewChain(schemas.MustParseRevision(from), schemas.MustParseRevision(to))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGolden runs every golden case. A case's test name is
// <from>_<to>/<ROW>__<name>; a forwarded message must also be valid under
// the target revision's schema (ours; the official one is checked in the
// property tests).
func TestGolden(t *testing.T) {
	v, err := schemas.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range goldenFiles(t) {
		dir := filepath.Dir(in)
		name := filepath.Base(dir) + "/" + strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := json.Unmarshal(b, &gc); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			d, err := ParseDirection(gc.Dir)
			if err != nil {
				t.Fatal(err)
			}
			c := goldenChain(t, dir)
			ctx := gc.Context.Defaults()
			o, err := c.TranslateBytes(gc.In, d, &ctx)
			if err != nil {
				t.Fatalf("input is not a JSON-RPC message: %v", err)
			}
			row := strings.SplitN(filepath.Base(in), "__", 2)[0]
			if o.Row != row && !containsRow(o.Applied, row) && o.Kind == Forward && row != "PASS" {
				t.Errorf("case is named for row %s but the translation applied %v", row, o.Applied)
			}
			if o.Kind == Forward {
				sender := schemas.FromClient
				if d == ServerToClient {
					sender = schemas.FromServer
				}
				if err := v.ValidateBytes(c.To(), o.Message, schemas.Check{Method: gc.Context.Method, From: sender}); err != nil {
					t.Errorf("output is invalid in %s: %v\n%s", c.To(), err, o.Message)
				}
			}
			got := goldenOut{Kind: o.Kind, Row: o.Row, Reason: o.Reason, Applied: o.Applied, Losses: o.Losses}
			if o.Message != nil {
				got.Message = o.Message
			}
			if o.Reply != nil {
				got.Reply = o.Reply
			}
			if o.Error != nil {
				got.Error, _ = json.Marshal(o.Error)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			out := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if *update {
				if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("outcome differs from %s (go test -update if intended):\n%s", out, buf.Bytes())
			}
		})
	}
}

func containsRow(rows []string, row string) bool {
	for _, r := range rows {
		if r == row {
			return true
		}
	}
	return false
}
