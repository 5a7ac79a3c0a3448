package catalogue

func taskDefs() []Def {
	return []Def{}
}
