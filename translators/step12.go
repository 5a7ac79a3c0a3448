package translators

import "github.com/mcpbroker/mcpbroker/schemas"

// step12 translates between the revisions of REVISIONS.md section 1.
func step12() *Step {
	return &Step{Lo: schemas.V20241105, Hi: schemas.V20250326, Up: up12, Down: down12}
}

func up12(t *Tx)   {}
func down12(t *Tx) {}

// rows12 lists the rows of REVISIONS.md section 1.
func rows12() []Row { return nil }
