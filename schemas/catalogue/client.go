package catalogue

func clientDefs() []Def {
	return []Def{}
}
