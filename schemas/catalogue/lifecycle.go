package catalogue

func lifecycleDefs() []Def {
	return []Def{}
}
