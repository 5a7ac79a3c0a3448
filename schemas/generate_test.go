package schemas_test

import (
	"bytes"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/catalogue"
)

// TestGeneratedUpToDate fails when schemas/json differs from what the
// catalogue generates: run `make generate` and commit the result.
func TestGeneratedUpToDate(t *testing.T) {
	for _, r := range schemas.All() {
		t.Run(r.String(), func(t *testing.T) {
			want, err := catalogue.Document(r)
			if err != nil {
				t.Fatalf("catalogue: %v", err)
			}
			got, err := schemas.Schema(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("schemas/json/%s.json is stale: run `make generate`", r)
			}
		})
	}
}
