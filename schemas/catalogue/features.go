package catalogue

// featureDefs: content blocks, tools, resources, prompts, completion,
// logging and list-changed notifications.
func featureDefs() []Def {
	return []Def{
		D("Role", Always, Enum("assistant", "user")),
		// 1.F2: Annotated (2024-11-05) became Annotations; same wire shape.
		D("Annotations", Since(R2), Obj(
			Opt("audience", Arr(Ref("Role"))),
			Opt("priority", Range(Num(), 0, 1)),
			Opt("lastModified", Str()).In(Since(R3)), // 2.F5
		)),
		D("TextContent", Always, Obj(
			Req("type", Const("text")),
			Req("text", Str()),
			Opt("annotations", annotations()),
			Opt("_meta", meta()).In(Since(R3)), // 2.F4
		)),
	}
}

// annotations is the annotations property of content and resources: an
// inline object in 2024-11-05 (from the Annotated base), the Annotations
// definition afterwards (1.F2).
func annotations() Node {
	return Variant(
		When(Until(R1), Obj(
			Opt("audience", Arr(Ref("Role"))),
			Opt("priority", Range(Num(), 0, 1)),
		)),
		When(Since(R2), Ref("Annotations")),
	)
}
