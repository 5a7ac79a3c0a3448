package translators

import "github.com/mcpbroker/mcpbroker/schemas"

// step23 translates between the revisions of REVISIONS.md section 2.
func step23() *Step {
	return &Step{Lo: schemas.V20250326, Hi: schemas.V20250618, Up: up23, Down: down23}
}

func up23(t *Tx)   {}
func down23(t *Tx) {}

// rows23 lists the rows of REVISIONS.md section 2.
func rows23() []Row { return nil }
