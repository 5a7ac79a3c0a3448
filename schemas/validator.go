package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/mcpbroker/mcpbroker/schemas/internal/fastpath"
	"github.com/mcpbroker/mcpbroker/schemas/internal/jsontree"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

//go:embed json/*.json
var schemaFiles embed.FS

// Sentinel errors of validation, matched with errors.Is on a
// *ValidationError.
var (
	// ErrInvalidMessage: the message breaks the JSON-RPC envelope rules of
	// MCP (-32600).
	ErrInvalidMessage = errors.New("invalid JSON-RPC message")
	// ErrUnknownMethod: the revision has no such method, or not in that
	// direction (-32601).
	ErrUnknownMethod = errors.New("unknown method")
	// ErrInvalidParams: a request or notification does not match its
	// method's definition (-32602).
	ErrInvalidParams = errors.New("invalid params")
	// ErrInvalidResult: a result or error response does not match its
	// definition. It is the answerer's fault; a broker relaying it reports
	// -32603 to the requester.
	ErrInvalidResult = errors.New("invalid result")
	// ErrNeedMethod: a result cannot be checked without the method of its
	// request.
	ErrNeedMethod = errors.New("the method of the request is needed to validate a result")
)

// Issue is one reason a message is invalid: where (a JSON pointer into the
// message) and why.
type Issue struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError is the error of a message that failed validation. It
// wraps one of the sentinel errors (ErrInvalidMessage, ErrUnknownMethod,
// ErrInvalidParams, ErrInvalidResult, ErrNeedMethod) or a *jsonrpc.Error for
// bytes that are not a JSON-RPC message at all.
type ValidationError struct {
	Revision   Revision
	Method     string // method of the message, or of the request a result answers
	Definition string // schema definition checked against, if any
	Issues     []Issue
	err        error
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Revision.String())
	if e.Method != "" {
		b.WriteString(" ")
		b.WriteString(e.Method)
	}
	b.WriteString(": ")
	b.WriteString(e.err.Error())
	for i, is := range e.Issues {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if is.Path != "" {
			b.WriteString(is.Path)
			b.WriteString(": ")
		}
		b.WriteString(is.Message)
	}
	return b.String()
}

// Unwrap returns the sentinel (or *jsonrpc.Error) the error is of.
func (e *ValidationError) Unwrap() error { return e.err }

// Code is the JSON-RPC error code that answers the message: -32700 parse
// error, -32600 invalid request, -32601 unknown method, -32602 invalid
// params, -32603 for an invalid result.
func (e *ValidationError) Code() int {
	var je *jsonrpc.Error
	switch {
	case errors.As(e.err, &je):
		return je.Code
	case errors.Is(e.err, ErrInvalidMessage):
		return jsonrpc.CodeInvalidRequest
	case errors.Is(e.err, ErrUnknownMethod):
		return jsonrpc.CodeMethodNotFound
	case errors.Is(e.err, ErrInvalidParams):
		return jsonrpc.CodeInvalidParams
	}
	return jsonrpc.CodeInternalError
}

// Sender is the side of a session that sent a message.
type Sender string

// Senders. The empty Sender means "either side".
const (
	FromClient Sender = "client"
	FromServer Sender = "server"
)

// Check describes what is known about a message beyond its bytes.
type Check struct {
	// Method is the method of the request a result or error answers
	// (required for results; ignored for requests and notifications).
	Method string
	// From is the side that sent the message; empty accepts either side.
	From Sender
}

type methodEntry struct {
	kind    string // "request" or "notification"
	quoted  []byte // the method's name as a JSON string
	senders []Sender
	message string
	results []string
	msgSch  *jsonschema.Schema
	resSch  []*jsonschema.Schema
	// fastMsg and fastRes: the same definitions for fastpath (nil where
	// fastpath cannot compile them).
	fastMsg *fastpath.Schema
	fastRes []*fastpath.Schema
}

type revisionSchemas struct {
	rev      Revision
	url      string
	methods  map[string]*methodEntry
	errorSch *jsonschema.Schema
	// Generic envelopes (JSONRPCRequest, JSONRPCNotification, JSONRPC
	// result response): they constrain params._meta and result._meta,
	// which the method definitions of older revisions do not model.
	requestSch, notificationSch, resultSch *jsonschema.Schema
	defs                                   map[string]any // raw $defs, for DefNames

	// The four envelopes for fastpath (nil where it cannot compile them).
	fastError, fastRequest, fastNotification, fastResult *fastpath.Schema

	mu       sync.Mutex // guards compiler and defCache (ValidateDef only)
	compiler *jsonschema.Compiler
	defCache map[string]*jsonschema.Schema
}

// Validator checks MCP messages against mcpbroker's schema of a revision.
// Build one with NewValidator and share it: it is safe for concurrent use
// and compiles every schema once.
type Validator struct {
	revs    [Latest + 1]*revisionSchemas
	printer *message.Printer
}

// NewValidator compiles the embedded schemas of every revision.
func NewValidator() (*Validator, error) {
	v := &Validator{printer: message.NewPrinter(language.English)}
	for _, r := range All() {
		rs, err := compileRevision(r)
		if err != nil {
			return nil, fmt.Errorf("schemas: compile %s: %w", r, err)
		}
		v.revs[r] = rs
	}
	return v, nil
}

// Schema returns the generated JSON Schema document of a revision.
func Schema(r Revision) ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrUnknownRevision, uint8(r))
	}
	return schemaFiles.ReadFile("json/" + r.String() + ".json")
}

func compileRevision(r Revision) (*revisionSchemas, error) {
	raw, err := Schema(r)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m, _ := doc.(map[string]any)
	url, _ := m["$id"].(string)
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	rs := &revisionSchemas{rev: r, url: url, methods: map[string]*methodEntry{}, compiler: c, defCache: map[string]*jsonschema.Schema{}}
	rs.defs, _ = m["$defs"].(map[string]any)
	compile := func(def string) (*jsonschema.Schema, error) {
		return c.Compile(url + "#/$defs/" + def)
	}
	// fastpath decides valid messages; a definition it cannot compile is
	// left to jsonschema alone. (fastpath treats "format" as an annotation,
	// as c does: c must not assert formats.)
	fc, _ := fastpath.NewCompiler(doc)
	compileFast := func(def string) *fastpath.Schema {
		if fc == nil {
			return nil
		}
		s, _ := fc.Compile("#/$defs/" + def)
		return s
	}
	methods, _ := m["x-mcp-methods"].(map[string]any)
	for name, x := range methods {
		e := x.(map[string]any)
		me := &methodEntry{kind: e["kind"].(string), message: e["message"].(string), quoted: appendJSONString(nil, name)}
		for _, s := range e["senders"].([]any) {
			me.senders = append(me.senders, Sender(s.(string)))
		}
		if me.msgSch, err = compile(me.message); err != nil {
			return nil, err
		}
		me.fastMsg = compileFast(me.message)
		if rr, ok := e["results"].([]any); ok {
			for _, d := range rr {
				me.results = append(me.results, d.(string))
				s, err := compile(d.(string))
				if err != nil {
					return nil, err
				}
				me.resSch = append(me.resSch, s)
				me.fastRes = append(me.fastRes, compileFast(d.(string)))
			}
		}
		rs.methods[name] = me
	}
	errDef, resDef := "JSONRPCError", "JSONRPCResponse"
	if r >= V20251125 {
		errDef, resDef = "JSONRPCErrorResponse", "JSONRPCResultResponse"
	}
	for _, x := range []struct {
		dst  **jsonschema.Schema
		fast **fastpath.Schema
		def  string
	}{
		{&rs.errorSch, &rs.fastError, errDef},
		{&rs.resultSch, &rs.fastResult, resDef},
		{&rs.requestSch, &rs.fastRequest, "JSONRPCRequest"},
		{&rs.notificationSch, &rs.fastNotification, "JSONRPCNotification"},
	} {
		if *x.dst, err = compile(x.def); err != nil {
			return nil, err
		}
		*x.fast = compileFast(x.def)
	}
	return rs, nil
}

// Methods returns the methods of a revision, sorted.
func (v *Validator) Methods(r Revision) []string {
	rs := v.rev(r)
	if rs == nil {
		return nil
	}
	out := make([]string, 0, len(rs.methods))
	for k := range rs.methods {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DefNames returns the names of a revision's definitions, sorted.
func (v *Validator) DefNames(r Revision) []string {
	rs := v.rev(r)
	if rs == nil {
		return nil
	}
	out := make([]string, 0, len(rs.defs))
	for k := range rs.defs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// MethodInfo describes a method of a revision.
type MethodInfo struct {
	Request bool     // a request (else a notification)
	Senders []Sender // sides that may send it
	Message string   // definition of the message
	Results []string // definitions a result may match (requests only)
}

// Method returns what revision r says of a method; ok is false when r has
// no such method.
func (v *Validator) Method(r Revision, method string) (MethodInfo, bool) {
	rs := v.rev(r)
	if rs == nil {
		return MethodInfo{}, false
	}
	me, ok := rs.methods[method]
	if !ok {
		return MethodInfo{}, false
	}
	return MethodInfo{Request: me.kind == "request", Senders: me.senders, Message: me.message, Results: me.results}, true
}

func (v *Validator) rev(r Revision) *revisionSchemas {
	if !r.Valid() {
		return nil
	}
	return v.revs[r]
}

// ValidateBytes parses raw as one JSON-RPC message and validates it. Bytes
// that are not a JSON-RPC message give a *ValidationError wrapping the
// *jsonrpc.Error (code -32700 or -32600).
func (v *Validator) ValidateBytes(r Revision, raw []byte, c Check) error {
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		return &ValidationError{Revision: r, err: err}
	}
	return v.Validate(r, m, c)
}

// Validate checks one parsed message against revision r. Requests and
// notifications are checked against their method's definition; results
// against the result definitions of c.Method; error responses against the
// JSON-RPC error definition. Only params, result or error are decoded, and
// only when the fast path does not accept the message.
//
// Each check runs first on fastpath (schemas/internal/fastpath), which
// reads the raw params, result or error once, without decoding them, and
// accepts valid messages quickly and without allocating; only a message it
// does not accept is decoded (once) and checked with jsonschema, which gives
// the verdict and the issues. fastpath does not check JSON syntax again: m
// must be as jsonrpc.Parse or ParseFrame return it (its params, result and
// error well-formed JSON).
func (v *Validator) Validate(r Revision, m *jsonrpc.Message, c Check) error {
	rs := v.rev(r)
	if rs == nil {
		return fmt.Errorf("%w: %d", ErrUnknownRevision, uint8(r))
	}
	verr := func(method, def string, err error, issues ...Issue) *ValidationError {
		return &ValidationError{Revision: r, Method: method, Definition: def, Issues: issues, err: err}
	}
	// Envelope rules of MCP beyond JSON-RPC: ids are strings or integers.
	switch m.Kind {
	case jsonrpc.KindRequest, jsonrpc.KindResult:
		if !validID(m.ID) {
			return verr(m.Method, "RequestId", ErrInvalidMessage, Issue{"/id", "id must be a string or an integer"})
		}
	case jsonrpc.KindError:
		// 3.F4: from 2025-11-25 an error response may omit its id (when the
		// request's id could not be read); null is never a RequestId.
		if (len(m.ID) > 0 || r < V20251125) && !validID(m.ID) {
			return verr(c.Method, "RequestId", ErrInvalidMessage, Issue{"/id", "id must be a string or an integer"})
		}
	}
	switch m.Kind {
	case jsonrpc.KindRequest, jsonrpc.KindNotification:
		me, ok := rs.methods[m.Method]
		wantReq := m.Kind == jsonrpc.KindRequest
		if !ok {
			return verr(m.Method, "", ErrUnknownMethod, Issue{"/method", fmt.Sprintf("%s has no method %q", r, m.Method)})
		}
		if (me.kind == "request") != wantReq {
			what := "a notification"
			if me.kind == "request" {
				what = "a request"
			}
			return verr(m.Method, me.message, ErrInvalidMessage, Issue{"/id", fmt.Sprintf("%s is %s in %s", m.Method, what, r)})
		}
		if c.From != "" && !slices.Contains(me.senders, c.From) {
			return verr(m.Method, me.message, ErrUnknownMethod, Issue{"/method", fmt.Sprintf("a %s does not send %s in %s", c.From, m.Method, r)})
		}
		env, envDef, fastEnv := rs.notificationSch, "JSONRPCNotification", rs.fastNotification
		if wantReq {
			env, envDef, fastEnv = rs.requestSch, "JSONRPCRequest", rs.fastRequest
		}
		if fastCall(m, me.quoted, fastEnv, me.fastMsg) {
			return nil
		}
		inst := map[string]any{"jsonrpc": "2.0", "method": m.Method}
		if wantReq {
			inst["id"] = idValue(m.ID)
		}
		if m.Params != nil {
			p, err := decode(m.Params)
			if err != nil {
				return verr(m.Method, me.message, err)
			}
			inst["params"] = p
		}
		if err := validate(env, inst); err != nil {
			return verr(m.Method, envDef, ErrInvalidParams, v.issues(err, "")...)
		}
		if err := validate(me.msgSch, inst); err != nil {
			return verr(m.Method, me.message, ErrInvalidParams, v.issues(err, "")...)
		}
		return nil
	case jsonrpc.KindResult:
		if c.Method == "" {
			return verr("", "", ErrNeedMethod)
		}
		me, ok := rs.methods[c.Method]
		if !ok || me.kind != "request" {
			return verr(c.Method, "", ErrUnknownMethod, Issue{"", fmt.Sprintf("%s has no request method %q", r, c.Method)})
		}
		if fastResult(m, rs.fastResult, me.fastRes) {
			return nil
		}
		res, err := decode(m.Result)
		if err != nil {
			return verr(c.Method, "", err)
		}
		env := map[string]any{"jsonrpc": "2.0", "id": idValue(m.ID), "result": res}
		if err := validate(rs.resultSch, env); err != nil {
			return verr(c.Method, "JSONRPCResponse", ErrInvalidResult, v.issues(err, "")...)
		}
		var first error
		for i, s := range me.resSch {
			err := validate(s, res)
			if err == nil {
				return nil
			}
			if i == 0 {
				first = err
			}
		}
		return verr(c.Method, strings.Join(me.results, "|"), ErrInvalidResult, v.issues(first, "/result")...)
	case jsonrpc.KindError:
		if fastError(m, rs.fastError) {
			return nil
		}
		e, err := decode(m.Error)
		if err != nil {
			return verr(c.Method, "", err)
		}
		inst := map[string]any{"jsonrpc": "2.0", "error": e}
		if len(m.ID) > 0 {
			inst["id"] = idValue(m.ID)
		}
		if err := validate(rs.errorSch, inst); err != nil {
			return verr(c.Method, "JSONRPCError", ErrInvalidResult, v.issues(err, "")...)
		}
		return nil
	}
	return verr(m.Method, "", ErrInvalidMessage)
}

// The fast path of Validate: fastpath checks the message as the object
// jsonschema would be given ({"jsonrpc", "id", "method", "params"} for a
// request, ...), with its members' values as raw JSON text: the params,
// result or error bytes are read once, not decoded. Each answers true only
// when fastpath accepts; false leaves the verdict to jsonschema.

var jsonrpcVersion = []byte(`"2.0"`)

// fastCall checks a request or notification against its envelope and its
// method's definition, in one pass; method is m.Method as a JSON string.
func fastCall(m *jsonrpc.Message, method []byte, env, def *fastpath.Schema) bool {
	if env == nil || def == nil {
		return false
	}
	var ms [4]fastpath.Member
	ms[0] = fastpath.Member{Name: "jsonrpc", Value: jsonrpcVersion}
	n := 1
	if m.Kind == jsonrpc.KindRequest {
		ms[n] = fastpath.Member{Name: "id", Value: m.ID}
		n++
	}
	ms[n] = fastpath.Member{Name: "method", Value: method}
	n++
	if m.Params != nil {
		ms[n] = fastpath.Member{Name: "params", Value: m.Params}
		n++
	}
	return fastpath.ValidObject(ms[:n], env, def)
}

// fastResult checks a result against the result envelope and one of the
// result definitions, in one pass per definition tried.
func fastResult(m *jsonrpc.Message, env *fastpath.Schema, defs []*fastpath.Schema) bool {
	if env == nil {
		return false
	}
	ms := [3]fastpath.Member{
		{Name: "jsonrpc", Value: jsonrpcVersion},
		{Name: "id", Value: m.ID},
		{Name: "result", Value: m.Result},
	}
	for _, d := range defs {
		if d == nil {
			continue
		}
		ms[2].Also = d
		if fastpath.ValidObject(ms[:], env) {
			return true
		}
	}
	return false
}

// fastError checks an error response against the error envelope.
func fastError(m *jsonrpc.Message, env *fastpath.Schema) bool {
	if env == nil {
		return false
	}
	ms := [3]fastpath.Member{{Name: "jsonrpc", Value: jsonrpcVersion}}
	n := 1
	if len(m.ID) > 0 {
		ms[n] = fastpath.Member{Name: "id", Value: m.ID}
		n++
	}
	ms[n] = fastpath.Member{Name: "error", Value: m.Error}
	n++
	return fastpath.ValidObject(ms[:n], env)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// validate runs jsonschema. It panics on a number math/big cannot parse
// (an exponent beyond a million, as in 1e1000001, where a bound or an
// integer type applies): such a value is reported invalid.
func validate(s *jsonschema.Schema, inst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot be validated (a number out of range?): %v", r)
		}
	}()
	return s.Validate(inst)
}

// ValidateDef checks an instance (decoded with json.Number numbers, or raw
// JSON bytes) against one named definition of revision r.
func (v *Validator) ValidateDef(r Revision, def string, instance any) error {
	rs := v.rev(r)
	if rs == nil {
		return fmt.Errorf("%w: %d", ErrUnknownRevision, uint8(r))
	}
	if b, ok := instance.([]byte); ok {
		x, err := decode(b)
		if err != nil {
			return &ValidationError{Revision: r, Definition: def, err: err}
		}
		instance = x
	}
	if _, ok := rs.defs[def]; !ok {
		return &ValidationError{Revision: r, Definition: def, err: fmt.Errorf("%s has no definition %s", r, def)}
	}
	// Definitions other than the methods' are compiled on first use; the
	// compiler caches them.
	s, err := v.compileDef(rs, def)
	if err != nil {
		return err
	}
	if err := validate(s, instance); err != nil {
		return &ValidationError{Revision: r, Definition: def, Issues: v.issues(err, ""), err: ErrInvalidParams}
	}
	return nil
}

func (v *Validator) compileDef(rs *revisionSchemas, def string) (*jsonschema.Schema, error) {
	// The compiler is not safe for concurrent use. ValidateDef is for tests
	// and tools, so a lock here keeps Validate lock-free.
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if s, ok := rs.defCache[def]; ok {
		return s, nil
	}
	s, err := rs.compiler.Compile(rs.url + "#/$defs/" + def)
	if err != nil {
		return nil, err
	}
	rs.defCache[def] = s
	return s, nil
}

// issues flattens a jsonschema error into leaf issues, deepest first.
func (v *Validator) issues(err error, prefix string) []Issue {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Issue{{Path: prefix, Message: err.Error()}}
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	sort.SliceStable(leaves, func(i, j int) bool {
		return len(leaves[i].InstanceLocation) > len(leaves[j].InstanceLocation)
	})
	const maxIssues = 5
	out := make([]Issue, 0, min(len(leaves), maxIssues))
	seen := map[Issue]bool{}
	for _, l := range leaves {
		is := Issue{Path: prefix + pointer(l.InstanceLocation), Message: l.ErrorKind.LocalizedString(v.printer)}
		if seen[is] {
			continue
		}
		seen[is] = true
		out = append(out, is)
		if len(out) == maxIssues {
			break
		}
	}
	return out
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// decode turns raw JSON into the value tree the schema library validates,
// keeping numbers exact (json.Number). Unlike encoding/json, invalid UTF-8
// and data after the value are parse errors.
func decode(raw []byte) (any, error) {
	x, err := jsontree.Decode(raw)
	if err != nil {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "parse error: " + err.Error()}
	}
	return x, nil
}

// validID reports whether a raw id is a JSON string or an integer-valued
// number, as MCP's RequestId requires (JSON Schema counts 1.0 and 1e3 as
// integers, and so do we).
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	switch c := id[0]; {
	case c == '"':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		if !bytes.ContainsAny(id, ".eE") {
			return true
		}
		f, ok := new(big.Float).SetString(string(id))
		return ok && f.IsInt()
	}
	return false
}

func idValue(id json.RawMessage) any {
	if len(id) > 0 && id[0] == '"' {
		var s string
		if err := json.Unmarshal(id, &s); err == nil {
			return s
		}
	}
	return json.Number(id)
}
