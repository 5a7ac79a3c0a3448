package transport

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// HTTP header names that 2026-07-28 Streamable HTTP requests mirror from
// their body (REVISIONS.md 4.T5). The protocol version goes in
// [HeaderProtocolVersion], as before.
const (
	// HeaderMethod carries the request's method, on every POST.
	HeaderMethod = "Mcp-Method"
	// HeaderName carries params.name of tools/call and prompts/get and
	// params.uri of resources/read, encoded with [EncodeHeaderValue].
	HeaderName = "Mcp-Name"
	// HeaderParamPrefix starts the name of a header that mirrors a tool
	// argument annotated with x-mcp-header: "Mcp-Param-" + the
	// annotation's value.
	HeaderParamPrefix = "Mcp-Param-"
)

// JSON-RPC error codes of 2026-07-28 that the 2026 HTTP transport answers
// with or maps to HTTP 400 (REVISIONS.md 4.E1, 4.L3, 4.T5, 4.T6).
const (
	// CodeHeaderMismatch (HeaderMismatchError): a mirrored header is
	// missing, malformed or does not match the body.
	CodeHeaderMismatch = -32020
	// CodeMissingClientCapability (MissingRequiredClientCapabilityError).
	CodeMissingClientCapability = -32021
	// CodeUnsupportedProtocolVersion (UnsupportedProtocolVersionError):
	// data holds the supported versions and the requested one.
	CodeUnsupportedProtocolVersion = -32022
)

// Reserved _meta keys of 2026-07-28 requests and stream messages
// (REVISIONS.md 4.L1, 4.M3, 4.F5).
const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaSubscriptionID     = "io.modelcontextprotocol/subscriptionId"
)

// Errors of the x-mcp-header helpers; the helpers return them wrapped.
var (
	// ErrInvalidAnnotation: a tool's input schema carries an x-mcp-header
	// annotation that breaks the rules of 4.T5. A client must leave such
	// a tool out of the tools/list it exposes.
	ErrInvalidAnnotation = errors.New("transport: invalid x-mcp-header annotation")
	// ErrHeaderValue: a tool argument cannot be mirrored into its header
	// (it does not have the annotated type, or an integer is outside the
	// range -(2^53-1) to 2^53-1).
	ErrHeaderValue = errors.New("transport: argument cannot be mirrored into a header")
	// ErrHeaderMismatch: a mirrored header is missing, malformed or does
	// not match the body. Servers answer it with HTTP 400 and
	// [CodeHeaderMismatch].
	ErrHeaderMismatch = errors.New("transport: header does not match the body")
)

// ParamHeader is one valid x-mcp-header annotation of a tool's input
// schema: the argument at Path goes into the header HeaderParamPrefix+Name.
type ParamHeader struct {
	// Name is the annotation's value, an HTTP token.
	Name string
	// Path is the chain of property names from the schema root to the
	// annotated property (one name for a top-level argument).
	Path []string
	// Type is the property's JSON Schema type: "string", "integer" or
	// "boolean".
	Type string
}

// HeaderKey returns the canonical name of the header, such as
// "Mcp-Param-Region".
func (p ParamHeader) HeaderKey() string {
	return http.CanonicalHeaderKey(HeaderParamPrefix + p.Name)
}

// maxSafeInteger is 2^53-1, the bound of integers mirrored into headers.
const maxSafeInteger = 1<<53 - 1

// ParseParamHeaders returns the x-mcp-header annotations of a tool's input
// schema, ordered by path, after checking them as REVISIONS.md 4.T5 (and
// the 2026-07-28 Streamable HTTP page) asks: each value a non-empty HTTP
// token (RFC 9110 tchar), unique case-insensitively; each on a property of
// type string, integer or boolean (a type array may add "null"); each on a
// property reached from the root through "properties" keys alone (not
// items, allOf/anyOf/oneOf/not, if/then/else, $ref targets, $defs, ...).
// A violation is an error wrapping [ErrInvalidAnnotation]. Keys of a
// "properties" object are property names, so a property named
// "x-mcp-header" is no annotation; values of keywords that hold data
// (const, enum, default, examples) or that the function does not know are
// not searched. An empty or null schema has no annotations.
func ParseParamHeaders(inputSchema json.RawMessage) ([]ParamHeader, error) {
	inputSchema = bytes.TrimSpace(inputSchema)
	if len(inputSchema) == 0 || string(inputSchema) == "null" {
		return nil, nil
	}
	var root any
	if err := decodeJSON(inputSchema, &root); err != nil {
		return nil, fmt.Errorf("%w: input schema: %w", ErrInvalidAnnotation, err)
	}
	w := annotationWalker{seen: make(map[string]string)}
	if err := w.walk(root, nil, "", true); err != nil {
		return nil, err
	}
	slices.SortFunc(w.out, func(a, b ParamHeader) int { return slices.Compare(a.Path, b.Path) })
	return w.out, nil
}

// annotationWalker collects the annotations of one schema.
type annotationWalker struct {
	out  []ParamHeader
	seen map[string]string // lower-case name -> pointer of its property
}

// Keywords whose value is a subschema, an array of subschemas or an object
// of subschemas (JSON Schema 2020-12, plus draft-07's definitions and
// array-form items and additionalItems).
var (
	schemaKeywords = []string{"additionalProperties", "items", "additionalItems", "contains", "not", "if", "then", "else",
		"propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema"}
	schemaArrayKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems", "items"}
	schemaMapKeywords   = []string{"patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}
)

// walk visits the schema node at pointer ptr; path is its property path
// when reachable through properties alone from the root.
func (w *annotationWalker) walk(node any, path []string, ptr string, reachable bool) error {
	obj, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	if v, has := obj["x-mcp-header"]; has {
		if err := w.annotation(obj, v, path, ptr, reachable); err != nil {
			return err
		}
	}
	for _, key := range sortedKeys(obj) {
		val := obj[key]
		kptr := ptr + "/" + escapePointer(key)
		switch {
		case key == "properties":
			props, _ := val.(map[string]any)
			for _, name := range sortedKeys(props) {
				sub := append(slices.Clip(path), name)
				if err := w.walk(props[name], sub, kptr+"/"+escapePointer(name), reachable); err != nil {
					return err
				}
			}
			continue
		case slices.Contains(schemaMapKeywords, key):
			m, _ := val.(map[string]any)
			for _, name := range sortedKeys(m) {
				if err := w.walk(m[name], nil, kptr+"/"+escapePointer(name), false); err != nil {
					return err
				}
			}
			continue
		}
		if arr, isArr := val.([]any); isArr && slices.Contains(schemaArrayKeywords, key) {
			for i, sub := range arr {
				if err := w.walk(sub, nil, kptr+"/"+strconv.Itoa(i), false); err != nil {
					return err
				}
			}
			continue
		}
		if slices.Contains(schemaKeywords, key) {
			if err := w.walk(val, nil, kptr, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// annotation checks the annotation v on the schema obj and records it.
func (w *annotationWalker) annotation(obj map[string]any, v any, path []string, ptr string, reachable bool) error {
	at := ptr
	if at == "" {
		at = "the root"
	}
	if !reachable || len(path) == 0 {
		return fmt.Errorf("%w: at %s, which is not a property reached through \"properties\" alone", ErrInvalidAnnotation, at)
	}
	name, ok := v.(string)
	if !ok {
		return fmt.Errorf("%w: at %s: the value is not a string", ErrInvalidAnnotation, at)
	}
	if !isToken(name) {
		return fmt.Errorf("%w: at %s: %q is not an HTTP token", ErrInvalidAnnotation, at, name)
	}
	lower := strings.ToLower(name)
	if prev, dup := w.seen[lower]; dup {
		return fmt.Errorf("%w: at %s: %q is already used at %s (names compare case-insensitively)", ErrInvalidAnnotation, at, name, prev)
	}
	typ, ok := primitiveType(obj["type"])
	if !ok {
		return fmt.Errorf("%w: at %s: the property's type must be string, integer or boolean", ErrInvalidAnnotation, at)
	}
	w.seen[lower] = at
	w.out = append(w.out, ParamHeader{Name: name, Path: slices.Clone(path), Type: typ})
	return nil
}

// primitiveType returns the type a property annotated with x-mcp-header
// has: "string", "integer" or "boolean", alone or in an array with "null".
func primitiveType(t any) (string, bool) {
	ok := func(s string) bool { return s == "string" || s == "integer" || s == "boolean" }
	switch t := t.(type) {
	case string:
		return t, ok(t)
	case []any:
		found := ""
		for _, e := range t {
			s, _ := e.(string)
			switch {
			case s == "null":
			case ok(s) && found == "":
				found = s
			default:
				return "", false
			}
		}
		return found, found != ""
	}
	return "", false
}

// isToken reports whether s is an HTTP token (RFC 9110 5.6.2: 1*tchar).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// escapePointer escapes a JSON Pointer reference token.
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// decodeJSON decodes b (one JSON value) into v with numbers kept as
// json.Number.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// argumentAt returns the value at path in decoded tool arguments, or nil
// when there is none (absent, null, or a non-object on the way).
func argumentAt(args any, path []string) any {
	cur := args
	for _, name := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[name]
	}
	return cur
}

// decodeArguments decodes a tool call's arguments (nil when absent).
func decodeArguments(args json.RawMessage) (any, error) {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return nil, nil
	}
	var v any
	if err := decodeJSON(args, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// ParamHeaderValues returns the Mcp-Param-* headers (canonical name ->
// encoded value) a tools/call with the given arguments carries, for the
// annotations specs (from [ParseParamHeaders]). An argument that is
// absent or null gets no header. Values are converted as 4.T5 says
// (strings as they are, integers in decimal, booleans as true or false)
// and encoded with [EncodeHeaderValue]. An argument whose JSON type differs
// from the annotated one, or an integer outside ±(2^53-1), is an error
// wrapping [ErrHeaderValue].
func ParamHeaderValues(specs []ParamHeader, args json.RawMessage) (map[string]string, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	v, err := decodeArguments(args)
	if err != nil {
		return nil, fmt.Errorf("%w: arguments: %w", ErrHeaderValue, err)
	}
	out := make(map[string]string, len(specs))
	for _, p := range specs {
		val := argumentAt(v, p.Path)
		if val == nil {
			continue
		}
		s, err := headerText(p.Type, val)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %s: %w", ErrHeaderValue, strings.Join(p.Path, "."), err)
		}
		out[p.HeaderKey()] = EncodeHeaderValue(s)
	}
	return out, nil
}

// ParamHeadersFromSchema is [ParseParamHeaders] followed by
// [ParamHeaderValues]: the Mcp-Param-* headers of a tools/call of the tool
// with that input schema and those arguments.
func ParamHeadersFromSchema(inputSchema, args json.RawMessage) (map[string]string, error) {
	specs, err := ParseParamHeaders(inputSchema)
	if err != nil {
		return nil, err
	}
	return ParamHeaderValues(specs, args)
}

// headerText converts a decoded argument of the annotated type to its
// header text (before encoding).
func headerText(typ string, v any) (string, error) {
	switch typ {
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "boolean":
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
	case "integer":
		if n, ok := v.(json.Number); ok {
			i, ok := safeInteger(string(n))
			if !ok {
				return "", fmt.Errorf("%s is not an integer in ±(2^53-1)", n)
			}
			return strconv.FormatInt(i, 10), nil
		}
	}
	return "", fmt.Errorf("not a JSON %s", typ)
}

// safeInteger parses a JSON number that is an integer (42, 42.0, 4.2e1)
// within ±(2^53-1).
func safeInteger(s string) (int64, bool) {
	r, ok := jsonRat(s)
	if !ok || !r.IsInt() || r.Num().BitLen() > 53 {
		return 0, false
	}
	i := r.Num().Int64()
	return i, i >= -maxSafeInteger && i <= maxSafeInteger
}

// maxExponent bounds the exponent of numbers compared exactly, so that a
// number such as 1e999999999 costs no big computation.
const maxExponent = 400

// jsonRat returns the exact value of a JSON number, reporting false for
// anything else and for exponents beyond ±maxExponent.
func jsonRat(s string) (*big.Rat, bool) {
	var n json.Number
	if json.Unmarshal([]byte(s), &n) != nil || string(n) != s {
		return nil, false
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > maxExponent || exp < -maxExponent {
			return nil, false
		}
	}
	return new(big.Rat).SetString(s)
}

// Base64 sentinel of header values that are not safe plain ASCII.
const (
	sentinelPrefix = "=?base64?"
	sentinelSuffix = "?="
)

// EncodeHeaderValue returns s as the value of an Mcp-Name or Mcp-Param-*
// header: s itself when it is safe plain ASCII (bytes 0x20 to 0x7E, no
// leading or trailing space, not shaped like the sentinel), else the
// sentinel "=?base64?" + standard Base64 of s's UTF-8 + "?=" (REVISIONS.md
// 4.T5).
func EncodeHeaderValue(s string) string {
	if plainHeaderValue(s) {
		return s
	}
	return sentinelPrefix + base64.StdEncoding.EncodeToString([]byte(s)) + sentinelSuffix
}

// plainHeaderValue reports whether s can go into a header as it is.
func plainHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	if s != "" && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return false
	}
	return !isSentinel(s)
}

// isSentinel reports whether s has the shape of a Base64-encoded value.
func isSentinel(s string) bool {
	return len(s) >= len(sentinelPrefix)+len(sentinelSuffix) &&
		strings.HasPrefix(s, sentinelPrefix) && strings.HasSuffix(s, sentinelSuffix)
}

// DecodeHeaderValue undoes [EncodeHeaderValue] on a received Mcp-Name or
// Mcp-Param-* value: a sentinel value is decoded (Base64 with or without
// padding, which must give valid UTF-8); a plain value must hold only
// visible ASCII, space and tab. Anything else is an error wrapping
// [ErrHeaderMismatch] (a header with invalid characters, 4.T5).
func DecodeHeaderValue(v string) (string, error) {
	if isSentinel(v) {
		inner := v[len(sentinelPrefix) : len(v)-len(sentinelSuffix)]
		b, err := base64.StdEncoding.DecodeString(inner)
		if err != nil {
			var err2 error
			if b, err2 = base64.RawStdEncoding.DecodeString(inner); err2 != nil {
				return "", fmt.Errorf("%w: bad Base64 in %q: %w", ErrHeaderMismatch, v, err)
			}
		}
		if !utf8.Valid(b) {
			return "", fmt.Errorf("%w: Base64 value %q is not UTF-8", ErrHeaderMismatch, v)
		}
		return string(b), nil
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c > 0x7e {
			return "", fmt.Errorf("%w: invalid character %q in header value", ErrHeaderMismatch, c)
		}
	}
	return v, nil
}

// CheckParamHeaders checks the Mcp-Param-* headers in h against the
// arguments of a tools/call, as a server does (REVISIONS.md 4.T5): for each
// annotation in specs, an argument that is present (not null) needs its
// header, once, whose decoded value equals it (strings exactly, integers
// numerically, booleans as true or false); an absent or null argument
// needs no header and must have none. Headers for names not in specs are
// ignored. A failure is an error wrapping [ErrHeaderMismatch].
func CheckParamHeaders(specs []ParamHeader, args json.RawMessage, h http.Header) error {
	if len(specs) == 0 {
		return nil
	}
	v, err := decodeArguments(args)
	if err != nil {
		return fmt.Errorf("%w: arguments: %w", ErrHeaderMismatch, err)
	}
	for _, p := range specs {
		key := p.HeaderKey()
		vals := h.Values(key)
		val := argumentAt(v, p.Path)
		switch {
		case len(vals) > 1:
			return fmt.Errorf("%w: %s appears %d times", ErrHeaderMismatch, key, len(vals))
		case val == nil && len(vals) == 0:
			continue
		case val == nil:
			return fmt.Errorf("%w: %s is present but the argument is absent", ErrHeaderMismatch, key)
		case len(vals) == 0:
			return fmt.Errorf("%w: %s is missing", ErrHeaderMismatch, key)
		}
		got, err := DecodeHeaderValue(vals[0])
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if !headerMatches(got, val) {
			return fmt.Errorf("%w: %s %q does not match the argument", ErrHeaderMismatch, key, got)
		}
	}
	return nil
}

// headerMatches compares a decoded header value with a decoded argument.
func headerMatches(header string, v any) bool {
	switch v := v.(type) {
	case string:
		return header == v
	case bool:
		return header == strconv.FormatBool(v)
	case json.Number:
		a, ok1 := jsonRat(header)
		b, ok2 := jsonRat(string(v))
		return ok1 && ok2 && a.Cmp(b) == 0
	}
	return false
}

// callInfo is what the 2026 HTTP transport reads from a request's params.
type callInfo struct {
	params     bool   // params is an object
	version    string // params._meta[protocolVersion], when a string
	hasVersion bool
	hasCaps    bool   // params._meta[clientCapabilities] is an object
	name       string // params.name or params.uri (nameKey), when a string
	hasName    bool
	args       json.RawMessage // params.arguments (tools/call)
}

// nameKey returns the params member that Mcp-Name mirrors for a method, or
// "" when the method has no Mcp-Name (REVISIONS.md 4.T5).
func nameKey(method string) string {
	switch method {
	case "tools/call", "prompts/get":
		return "name"
	case "resources/read":
		return "uri"
	}
	return ""
}

// readCall reads the members of m's params that the 2026 headers mirror.
// It fails only when params is present but not an object.
func readCall(m *jsonrpc.Message) (callInfo, error) {
	var ci callInfo
	p := bytes.TrimSpace(m.Params)
	if len(p) == 0 {
		return ci, nil
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(p, &params); err != nil {
		return ci, fmt.Errorf("params is not an object: %w", err)
	}
	ci.params = true
	if meta := params["_meta"]; len(meta) > 0 {
		var mo map[string]json.RawMessage
		if json.Unmarshal(meta, &mo) == nil {
			ci.version, ci.hasVersion = jsonString(mo[metaProtocolVersion])
			ci.hasCaps = bytes.HasPrefix(bytes.TrimSpace(mo[metaClientCapabilities]), []byte("{"))
		}
	}
	if k := nameKey(m.Method); k != "" && len(params[k]) > 0 {
		ci.name, ci.hasName = jsonString(params[k])
	}
	if m.Method == "tools/call" {
		ci.args = params["arguments"]
	}
	return ci, nil
}

// jsonString decodes raw when it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// deriveHeaders returns the headers of 4.T5 for the message m: rev is the
// revision used when the body names none.
func deriveHeaders(m *jsonrpc.Message, rev schemas.Revision) (http.Header, error) {
	ci, err := readCall(m)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 3)
	v := ci.version
	if !ci.hasVersion {
		if !rev.Valid() {
			rev = schemas.V20260728
		}
		v = rev.String()
	}
	h.Set(HeaderProtocolVersion, v)
	h.Set(HeaderMethod, m.Method)
	if ci.hasName {
		h.Set(HeaderName, EncodeHeaderValue(ci.name))
	}
	return h, nil
}
