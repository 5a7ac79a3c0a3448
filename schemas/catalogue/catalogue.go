package catalogue

// Defs returns every definition of every revision. Each file of this
// package contributes one area of the protocol.
func Defs() []Def {
	var all []Def
	for _, part := range [][]Def{
		baseDefs(),      // base.go: JSON-RPC envelopes, base types, _meta objects, errors, unions
		lifecycleDefs(), // lifecycle.go: initialize, capabilities, ping, cancel, progress, logging, discover, subscriptions
		featureDefs(),   // features.go: content, tools, resources, prompts, completion, logging
		clientDefs(),    // client.go: sampling, elicitation, roots, MRTR input requests
		taskDefs(),      // tasks.go: 2025-11-25 tasks
	} {
		all = append(all, part...)
	}
	return all
}
