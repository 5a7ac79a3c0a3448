package catalogue

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mcpbroker/mcpbroker/schemas"
)

// SchemaID returns the $id of mcpbroker's schema for revision r.
func SchemaID(r schemas.Revision) string {
	return "https://mcpbroker.dev/schemas/" + r.String() + ".json"
}

// Document returns the generated schema document of revision r: draft
// 2020-12, all definitions under $defs, and the method table under
// x-mcp-methods. The output is deterministic (sorted keys, two-space
// indent, trailing newline).
func Document(r schemas.Revision) ([]byte, error) { return document(r, false) }

// DraftDocument is Document without the check that every method's
// definitions exist, for use while the catalogue is being written.
func DraftDocument(r schemas.Revision) ([]byte, error) { return document(r, true) }

func document(r schemas.Revision, allowMissing bool) ([]byte, error) {
	defs, err := Emit(Defs(), r)
	if err != nil {
		return nil, err
	}
	methods := MethodsFor(r)
	for name, m := range methods {
		mm := m.(map[string]any)
		refs := []string{mm["message"].(string)}
		if rs, ok := mm["results"].([]any); ok {
			for _, x := range rs {
				refs = append(refs, x.(string))
			}
		}
		for _, ref := range refs {
			if _, ok := defs[ref]; !ok && !allowMissing {
				return nil, fmt.Errorf("catalogue: method %s in %s names definition %s, which %s lacks", name, r, ref, r)
			}
		}
	}
	simplify(defs)
	doc := map[string]any{
		"$schema":       "https://json-schema.org/draft/2020-12/schema",
		"$id":           SchemaID(r),
		"title":         "MCP " + r.String() + " (mcpbroker)",
		"x-mcp-methods": methods,
		"$defs":         defs,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
