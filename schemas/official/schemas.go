package official

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/catalogue"
)

// Message kinds, as returned by Classify and stored in Entry.Kind.
const (
	KindRequest      = "request"      // has method and id
	KindNotification = "notification" // has method, no id
	KindResult       = "result"       // has result
	KindError        = "error"        // has error
	KindBatch        = "batch"        // a JSON array (2025-03-26 only)
)

// Revisions returns the names of the revisions whose official schemas
// Schemas loads, oldest first.
func Revisions() []string {
	return []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"}
}

// Schemas holds the compiled official schemas of every revision. Each
// schema.json is read and added to the compiler once; a definition is
// compiled the first time it is used and cached. A Schemas is safe for
// concurrent use.
type Schemas struct {
	dir  string
	revs map[string]*revision

	mu       sync.Mutex // guards compiler and compiled
	compiler *jsonschema.Compiler
	compiled map[defKey]*jsonschema.Schema
}

// revision is what Schemas knows about one revision.
type revision struct {
	name    string
	url     string            // resource URL of its schema.json
	prefix  string            // "#/definitions/" or "#/$defs/"
	defs    map[string]bool   // definition names
	methods map[string]method // method table, from the catalogue
}

// method is one row of a revision's method table.
type method struct {
	kind    string   // KindRequest or KindNotification
	message string   // definition of the message
	results []string // definitions a result may match (requests only)
}

type defKey struct{ rev, def string }

// New reads <dir>/<rev>/schema.json for every revision in Revisions and
// adds each to a jsonschema compiler under file:///official/<rev>/schema.json.
func New(dir string) (*Schemas, error) { return NewPatched(dir, nil) }

// Patch edits the decoded official schema document of a revision in
// memory before it is compiled. Differential tests use it to apply the
// intentional differences of schemas/DIFFERENCES.md, so that everything
// else must agree exactly. The files on disk are never changed.
type Patch func(rev string, doc map[string]any) error

// NewPatched is New with patch applied to each revision's document (nil:
// no patch).
func NewPatched(dir string, patch Patch) (*Schemas, error) {
	s := &Schemas{
		dir:      dir,
		revs:     map[string]*revision{},
		compiler: jsonschema.NewCompiler(),
		compiled: map[defKey]*jsonschema.Schema{},
	}
	// jsonschema/v6 asserts `format` for draft-07 documents (2024-11-05 to
	// 2025-06-18) and not for 2020-12 ones. mcpbroker never asserts formats
	// (schemas/DIFFERENCES.md D3), so the official formats are made no-ops
	// here too; otherwise the verdicts of the old revisions would hinge on
	// v6's uri and uri-template parsers.
	for _, f := range []string{"uri", "uri-reference", "uri-template", "email", "date", "date-time", "byte"} {
		s.compiler.RegisterFormat(&jsonschema.Format{Name: f, Validate: func(any) error { return nil }})
	}
	for _, name := range Revisions() {
		r, doc, err := loadRevision(dir, name)
		if err != nil {
			return nil, err
		}
		if patch != nil {
			if err := patch(name, doc.(map[string]any)); err != nil {
				return nil, fmt.Errorf("patch official %s schema: %w", name, err)
			}
		}
		if err := s.compiler.AddResource(r.url, doc); err != nil {
			return nil, fmt.Errorf("add official %s schema: %w", name, err)
		}
		s.revs[name] = r
	}
	return s, nil
}

// ForTest returns the official schemas from SpecDir, failing the test if
// they cannot be loaded (and skipping it where SpecDir skips).
func ForTest(t testing.TB) *Schemas {
	t.Helper()
	s, err := New(SpecDir(t))
	if err != nil {
		t.Fatalf("load official schemas: %v", err)
	}
	return s
}

// loadRevision reads one schema.json and the revision's method table.
func loadRevision(dir, name string) (*revision, any, error) {
	path := filepath.Join(dir, name, "schema.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read official %s schema: %w", name, err)
	}
	doc, err := Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", path, err)
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s: top level is not an object", path)
	}
	r := &revision{name: name, url: "file:///official/" + name + "/schema.json", defs: map[string]bool{}}
	var defs map[string]any
	if d, ok := root["$defs"].(map[string]any); ok {
		r.prefix, defs = "#/$defs/", d
	} else if d, ok := root["definitions"].(map[string]any); ok {
		r.prefix, defs = "#/definitions/", d
	} else {
		return nil, nil, fmt.Errorf("%s: neither $defs nor definitions", path)
	}
	for k := range defs {
		r.defs[k] = true
	}
	if r.methods, err = methodTable(name); err != nil {
		return nil, nil, err
	}
	return r, doc, nil
}

// methodTable reads the catalogue's method table of one revision.
func methodTable(name string) (map[string]method, error) {
	rev, err := schemas.ParseRevision(name)
	if err != nil {
		return nil, fmt.Errorf("method table: %w", err)
	}
	out := map[string]method{}
	for mname, raw := range catalogue.MethodsFor(rev) {
		e, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("method table %s: entry %s is %T, not an object", name, mname, raw)
		}
		var m method
		m.kind, _ = e["kind"].(string)
		m.message, _ = e["message"].(string)
		if m.kind != KindRequest && m.kind != KindNotification || m.message == "" {
			return nil, fmt.Errorf("method table %s: entry %s has kind %q, message %q", name, mname, m.kind, m.message)
		}
		rs, _ := e["results"].([]any)
		for _, x := range rs {
			d, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("method table %s: entry %s has result %v (%T)", name, mname, x, x)
			}
			m.results = append(m.results, d)
		}
		if m.kind == KindRequest && len(m.results) == 0 {
			return nil, fmt.Errorf("method table %s: request %s has no result definitions", name, mname)
		}
		out[mname] = m
	}
	return out, nil
}

// Dir returns the folder the schemas were loaded from.
func (s *Schemas) Dir() string { return s.dir }

// DefNames returns the sorted definition names of a revision's official
// schema, or nil for an unknown revision.
func (s *Schemas) DefNames(rev string) []string {
	r := s.revs[rev]
	if r == nil {
		return nil
	}
	out := make([]string, 0, len(r.defs))
	for k := range r.defs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Methods returns the sorted names of the methods (requests and
// notifications) of a revision, from the catalogue's method table.
func (s *Schemas) Methods(rev string) []string {
	r := s.revs[rev]
	if r == nil {
		return nil
	}
	out := make([]string, 0, len(r.methods))
	for k := range r.methods {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MethodKind returns KindRequest or KindNotification for a method of a
// revision, or "" if the revision has no such method.
func (s *Schemas) MethodKind(rev, name string) string {
	if r := s.revs[rev]; r != nil {
		return r.methods[name].kind
	}
	return ""
}

// DefError reports that an instance does not match one official
// definition.
type DefError struct {
	Rev      string // revision, e.g. "2025-06-18"
	Def      string // definition name, e.g. "CallToolRequest"
	Location string // JSON pointer of the first failing instance location
	Reason   string // what failed there
	Err      error  // the *jsonschema.ValidationError
}

// Error implements error.
func (e *DefError) Error() string {
	loc := e.Location
	if loc == "" {
		loc = "(root)"
	}
	return fmt.Sprintf("official %s schema, %s: at %s: %s", e.Rev, e.Def, loc, e.Reason)
}

// Unwrap returns the underlying jsonschema error.
func (e *DefError) Unwrap() error { return e.Err }

// ValidateDef validates a decoded instance (see Decode) against one named
// definition of a revision's official schema. A *DefError (possibly
// wrapped) reports a mismatch; other errors mean the revision or definition
// is unknown.
func (s *Schemas) ValidateDef(rev, def string, instance any) error {
	return s.validateAt(rev, def, instance, "")
}

// validateAt is ValidateDef with the instance's location inside the
// message, used as a prefix for reported locations.
func (s *Schemas) validateAt(rev, def string, instance any, at string) error {
	sch, err := s.schema(rev, def)
	if err != nil {
		return err
	}
	err = sch.Validate(instance)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("official %s schema, %s: %w", rev, def, err)
	}
	loc, reason := firstFailure(verr)
	return &DefError{Rev: rev, Def: def, Location: at + loc, Reason: reason, Err: verr}
}

// schema returns the compiled definition, compiling it on first use.
func (s *Schemas) schema(rev, def string) (*jsonschema.Schema, error) {
	r := s.revs[rev]
	if r == nil {
		return nil, fmt.Errorf("official schemas: unknown revision %q (loaded: %s)", rev, strings.Join(Revisions(), ", "))
	}
	if !r.defs[def] {
		return nil, fmt.Errorf("official %s schema has no definition %q", rev, def)
	}
	key := defKey{rev, def}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch := s.compiled[key]; sch != nil {
		return sch, nil
	}
	sch, err := s.compiler.Compile(r.url + r.prefix + def)
	if err != nil {
		return nil, fmt.Errorf("compile official %s schema, %s: %w", rev, def, err)
	}
	s.compiled[key] = sch
	return sch, nil
}

// firstFailure follows the first cause down to a leaf and returns its
// instance location and message.
func firstFailure(e *jsonschema.ValidationError) (loc, reason string) {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	out := e.BasicOutput()
	loc = out.InstanceLocation
	if out.Error != nil {
		reason = out.Error.String()
	} else {
		reason = "invalid"
	}
	return loc, reason
}

// Decode decodes one JSON value the way the validator expects it: numbers
// become json.Number, and trailing data is an error.
func Decode(raw []byte) (any, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	return v, nil
}

// IDKey returns the JSON text of a decoded JSON-RPC id (a string is
// quoted, a json.Number is written as is), the key used by
// ValidateBatch and Entry.Methods. It returns "" for a missing or null id.
func IDKey(id any) string {
	switch v := id.(type) {
	case string:
		return quote(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// Classify returns the kind of a decoded message: KindRequest,
// KindNotification, KindResult, KindError, KindBatch, or "" when it is
// none of these.
func Classify(msg any) string {
	switch m := msg.(type) {
	case []any:
		return KindBatch
	case map[string]any:
		_, hasMethod := m["method"]
		_, hasID := m["id"]
		_, hasResult := m["result"]
		_, hasError := m["error"]
		switch {
		case hasMethod && hasID:
			return KindRequest
		case hasMethod:
			return KindNotification
		case hasResult:
			return KindResult
		case hasError:
			return KindError
		}
	}
	return ""
}

// ValidateMessage validates one raw JSON-RPC message of revision rev as the
// official schema would:
//
//   - request: JSONRPCRequest and the method's message definition (allOf);
//   - notification: JSONRPCNotification and the method's definition;
//   - result: JSONRPCResponse (JSONRPCResultResponse from 2025-11-25 on),
//     with "result" matching any of the result definitions of the request
//     method named by the method argument;
//   - error: JSONRPCError (JSONRPCErrorResponse from 2025-11-25 on).
//
// Method names come from the catalogue's method table; a method the
// revision does not have is an error. In 2025-03-26 a JSON array is a
// batch: it must match JSONRPCBatchRequest or JSONRPCBatchResponse and
// every element is checked as above, with the method argument used for
// every result in it (see ValidateBatch for per-id methods).
func (s *Schemas) ValidateMessage(rev string, msg []byte, method string) error {
	v, err := Decode(msg)
	if err != nil {
		return fmt.Errorf("official %s schema: %w", rev, err)
	}
	return s.validateValue(rev, v, func(string) string { return method })
}

// ValidateBatch is ValidateMessage for a batch whose responses answer
// different methods: methods maps IDKey(id) to the request method. A
// message that is not an array is validated with the method of its id.
func (s *Schemas) ValidateBatch(rev string, msg []byte, methods map[string]string) error {
	v, err := Decode(msg)
	if err != nil {
		return fmt.Errorf("official %s schema: %w", rev, err)
	}
	return s.validateValue(rev, v, func(id string) string { return methods[id] })
}

// validateValue validates a decoded message; methodOf maps a response's
// IDKey to the method of its request.
func (s *Schemas) validateValue(rev string, v any, methodOf func(id string) string) error {
	r := s.revs[rev]
	if r == nil {
		return fmt.Errorf("official schemas: unknown revision %q", rev)
	}
	arr, ok := v.([]any)
	if !ok {
		return s.validateOne(r, v, "", methodOf)
	}
	if !r.defs["JSONRPCBatchRequest"] {
		return fmt.Errorf("official %s schema: a JSON array (batch) is not a message of this revision", rev)
	}
	var nReq, nResp int
	for _, el := range arr {
		switch Classify(el) {
		case KindRequest, KindNotification:
			nReq++
		default:
			nResp++
		}
	}
	def := "JSONRPCBatchRequest"
	if nResp > 0 {
		def = "JSONRPCBatchResponse"
	}
	if nReq > 0 && nResp > 0 {
		return fmt.Errorf("official %s schema: batch mixes %d requests/notifications with %d other elements", rev, nReq, nResp)
	}
	if err := s.validateAt(rev, def, v, ""); err != nil {
		return err
	}
	for i, el := range arr {
		if err := s.validateOne(r, el, fmt.Sprintf("/%d", i), methodOf); err != nil {
			return fmt.Errorf("batch element %d: %w", i, err)
		}
	}
	return nil
}

// validateOne validates a single (non-batch) message found at pointer at.
func (s *Schemas) validateOne(r *revision, v any, at string, methodOf func(id string) string) error {
	obj, _ := v.(map[string]any)
	kind := Classify(v)
	switch kind {
	case KindRequest, KindNotification:
		env := "JSONRPCRequest"
		if kind == KindNotification {
			env = "JSONRPCNotification"
		}
		if err := s.validateAt(r.name, env, v, at); err != nil {
			return err
		}
		name, _ := obj["method"].(string)
		m, ok := r.methods[name]
		if !ok {
			return fmt.Errorf("official %s schema: unknown method %q (not in the %s method table)", r.name, name, r.name)
		}
		if m.kind != kind {
			return fmt.Errorf("official %s schema: %s is a %s in %s but the message is a %s", r.name, name, m.kind, r.name, kind)
		}
		return s.validateAt(r.name, m.message, v, at)
	case KindResult:
		env := pick(r, "JSONRPCResultResponse", "JSONRPCResponse")
		if err := s.validateAt(r.name, env, v, at); err != nil {
			return err
		}
		id := IDKey(obj["id"])
		name := methodOf(id)
		if name == "" {
			return fmt.Errorf("official %s schema: result with id %s: request method not given", r.name, id)
		}
		m, ok := r.methods[name]
		if !ok {
			return fmt.Errorf("official %s schema: result with id %s: unknown method %q (not in the %s method table)", r.name, id, name, r.name)
		}
		if m.kind != KindRequest {
			return fmt.Errorf("official %s schema: result with id %s: %s is a %s, it has no result", r.name, id, name, m.kind)
		}
		var first error
		for _, def := range m.results {
			err := s.validateAt(r.name, def, obj["result"], at+"/result")
			if err == nil {
				return nil
			}
			var de *DefError
			if !errors.As(err, &de) {
				return err
			}
			if first == nil {
				first = err
			}
		}
		return fmt.Errorf("official %s schema: result of %s matches none of %s: %w", r.name, name, strings.Join(m.results, ", "), first)
	case KindError:
		return s.validateAt(r.name, pick(r, "JSONRPCErrorResponse", "JSONRPCError"), v, at)
	}
	return s.unclassified(r, v, at)
}

// unclassified explains why a value is not a JSON-RPC message: it is
// checked against JSONRPCMessage so the error names a location.
func (s *Schemas) unclassified(r *revision, v any, at string) error {
	if err := s.validateAt(r.name, "JSONRPCMessage", v, at); err != nil {
		return fmt.Errorf("not a JSON-RPC message (no method, result or error): %w", err)
	}
	return fmt.Errorf("official %s schema: not a JSON-RPC message (no method, result or error)", r.name)
}

// pick returns the first of defs that the revision has.
func pick(r *revision, defs ...string) string {
	if i := slices.IndexFunc(defs, func(d string) bool { return r.defs[d] }); i >= 0 {
		return defs[i]
	}
	return defs[len(defs)-1]
}
