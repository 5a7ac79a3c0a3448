package translators

import "sort"

// Row is one row of the translation matrix (../shared/spec/REVISIONS.md
// sections 1 to 4) and where mcpbroker handles it.
type Row struct {
	// ID is the row ID, for example "1.F1".
	ID string
	// Verb summarises the actions of the two columns, for example
	// "MAP / PASS" (OC→NS / NC→OS).
	Verb string
	// Owner is "translators" for rows handled (or reported with a typed
	// outcome) by the stateless translators, or the broker issue that owns
	// the stateful part, for example "broker (issue 5)".
	Owner string
	// Note says briefly what the translator does for the row.
	Note string
	// Tests names tests other than the golden cases that prove the row.
	Tests []string
}

// Rows returns every row of the matrix with its owner, sorted by ID.
func Rows() []Row {
	var all []Row
	for _, rs := range [][]Row{rows12(), rows23(), rows34(), rows45()} {
		all = append(all, rs...)
	}
	sort.SliceStable(all, func(i, j int) bool { return rowLess(all[i].ID, all[j].ID) })
	return all
}

// rowLess orders row IDs as REVISIONS.md does: by section, then by letter
// group in table order (T, L, M, F, J, E, A, D), then by number.
func rowLess(a, b string) bool {
	ka, kb := rowKey(a), rowKey(b)
	for i := range ka {
		if ka[i] != kb[i] {
			return ka[i] < kb[i]
		}
	}
	return false
}

func rowKey(id string) [3]int {
	const groups = "TLMFJEAD"
	var k [3]int
	if len(id) < 4 {
		return k
	}
	k[0] = int(id[0] - '0')
	for i := range len(groups) {
		if groups[i] == id[2] {
			k[1] = i
		}
	}
	n := 0
	for _, c := range id[3:] {
		if c >= '0' && c <= '9' {
			n = n*10 + int(c-'0')
		}
	}
	k[2] = n
	return k
}
