package official

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Entry is one line of a seed corpus file.
type Entry struct {
	Line int    // 1-based line number in <rev>.ndjson
	Raw  []byte // the message, exactly as on the line
	// Method is the JSON-RPC method: the message's own for requests and
	// notifications, the method of the earlier request with the same id for
	// results and errors ("" for an error whose id matches no request, and
	// for batches).
	Method string
	Kind   string // KindRequest, KindNotification, KindResult, KindError or KindBatch
	// Methods maps IDKey(id) to the request method for every response
	// element of a batch (nil otherwise); pass it to Schemas.ValidateBatch.
	Methods map[string]string
}

// Name returns a short label for the entry, like "line-17-tools/call".
func (e Entry) Name() string {
	m := e.Method
	if m == "" {
		m = e.Kind
	}
	return fmt.Sprintf("line-%d-%s", e.Line, m)
}

// CorpusFile returns the path of a revision's seed corpus,
// schemas/testdata/corpus/<rev>.ndjson in the repository.
func CorpusFile(t testing.TB, rev string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("seed corpus: %v", err)
	}
	return filepath.Join(root, "schemas", "testdata", "corpus", rev+".ndjson")
}

// Corpus reads the seed corpus of a revision: one JSON-RPC message per
// line, each valid under that revision's official schema. It fails the
// test when the file is missing or a line is not JSON, is not a JSON-RPC
// message, or is a result whose id matches no earlier request.
func Corpus(t testing.TB, rev string) []Entry {
	t.Helper()
	path := CorpusFile(t, rev)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("seed corpus: %v", err)
	}
	entries, err := parseCorpus(b)
	if err != nil {
		t.Fatalf("seed corpus %s: %v", path, err)
	}
	return entries
}

// parseCorpus splits a corpus file into entries and resolves the method
// of every response from the earlier request with the same id.
func parseCorpus(b []byte) ([]Entry, error) {
	requests := map[string]string{} // IDKey → method
	var out []Entry
	for i, line := range bytes.Split(b, []byte("\n")) {
		n := i + 1
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		v, err := Decode(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		e := Entry{Line: n, Raw: line, Kind: Classify(v)}
		if e.Kind == "" {
			return nil, fmt.Errorf("line %d: not a JSON-RPC message or batch", n)
		}
		if e.Kind == KindBatch {
			for j, el := range v.([]any) {
				if _, err := resolve(el, requests, &e); err != nil {
					return nil, fmt.Errorf("line %d, element %d: %w", n, j, err)
				}
			}
		} else {
			if e.Method, err = resolve(v, requests, nil); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// resolve returns the method of one message, remembering request ids in
// requests. For a batch element, batch collects response methods.
func resolve(v any, requests map[string]string, batch *Entry) (string, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("not a JSON object")
	}
	id := IDKey(obj["id"])
	switch Classify(v) {
	case KindRequest:
		name, _ := obj["method"].(string)
		if prev, dup := requests[id]; dup {
			return "", fmt.Errorf("request id %s reused (earlier request: %s)", id, prev)
		}
		requests[id] = name
		return name, nil
	case KindNotification:
		name, _ := obj["method"].(string)
		return name, nil
	case KindResult, KindError:
		name, found := requests[id]
		if !found && Classify(v) == KindResult {
			return "", fmt.Errorf("result id %s matches no earlier request", id)
		}
		if batch != nil && name != "" {
			if batch.Methods == nil {
				batch.Methods = map[string]string{}
			}
			batch.Methods[id] = name
		}
		return name, nil
	}
	return "", fmt.Errorf("not a JSON-RPC message")
}
