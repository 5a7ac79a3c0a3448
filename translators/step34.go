package translators

import "github.com/mcpbroker/mcpbroker/schemas"

// step34 translates between the revisions of REVISIONS.md section 3.
func step34() *Step {
	return &Step{Lo: schemas.V20250618, Hi: schemas.V20251125, Up: up34, Down: down34}
}

func up34(t *Tx)   {}
func down34(t *Tx) {}

// rows34 lists the rows of REVISIONS.md section 3.
func rows34() []Row { return nil }
