package translators

import "github.com/mcpbroker/mcpbroker/schemas"

// step45 translates between the revisions of REVISIONS.md section 4.
func step45() *Step {
	return &Step{Lo: schemas.V20251125, Hi: schemas.V20260728, Up: up45, Down: down45}
}

func up45(t *Tx) {
	if up45Fields(t); t.Done() {
		return
	}
}

func down45(t *Tx) {
	if down45Fields(t); t.Done() {
		return
	}
}

// rows45 lists the rows of REVISIONS.md section 4.
func rows45() []Row { return rows45Fields() }
