// Command gen writes mcpbroker's per-revision JSON Schemas from the
// catalogue (schemas/catalogue) into schemas/json. Run it with
// `go generate ./schemas`; the generated files are checked in so that
// `go build` needs no generation step.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/catalogue"
)

func main() {
	out := flag.String("out", "json", "directory to write the schemas into")
	draft := flag.Bool("draft", false, "allow methods whose definitions are missing (while writing the catalogue)")
	flag.Parse()
	if err := run(*out, *draft); err != nil {
		slog.Error("gen", "err", err)
		os.Exit(1)
	}
}

func run(dir string, draft bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, r := range schemas.All() {
		doc := catalogue.Document
		if draft {
			doc = catalogue.DraftDocument
		}
		b, err := doc(r)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, r.String()+".json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}
