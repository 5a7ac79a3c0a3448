package catalogue

func baseDefs() []Def {
	return []Def{}
}

// meta is a _meta property: an open object up to 2025-11-25, the typed
// MetaObject from 2026-07-28 (4.F5).
func meta() Node {
	return Variant(
		When(Until(R4), Obj().Values(Any())),
		When(Since(R5), Ref("MetaObject")),
	)
}
