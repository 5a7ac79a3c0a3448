package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Kind classifies a JSON-RPC 2.0 message. The zero Kind is not a valid
// message kind.
type Kind uint8

// Message kinds.
const (
	// KindRequest is a request: it has a method and a non-null id and
	// expects a response.
	KindRequest Kind = iota + 1
	// KindNotification is a notification: it has a method and no id.
	KindNotification
	// KindResult is a successful response: it has a result and an id.
	KindResult
	// KindError is an error response: it has an error object and an id,
	// which may be null.
	KindError
)

// String returns "request", "notification", "result" or "error".
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResult:
		return "result"
	case KindError:
		return "error"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Message is a classified JSON-RPC 2.0 message. Params, results and error
// objects are not decoded.
//
// The byte-slice fields alias the input given to [Parse] or [ParseFrame]:
// the caller must not modify that input while the Message is in use, and
// must copy what it keeps beyond the input's lifetime.
type Message struct {
	// Raw is the exact bytes of the message, without surrounding
	// whitespace. For a batch element it is the element's own bytes.
	Raw []byte
	// Kind classifies the message.
	Kind Kind
	// ID is the id exactly as sent: a JSON string, a JSON number, or null
	// (error responses only). It is nil for notifications.
	ID json.RawMessage
	// Method is the decoded method name of a request or notification.
	Method string
	// Params is the raw params object or array of a request or
	// notification, or nil when absent.
	Params json.RawMessage
	// Result is the raw result of a KindResult message (any JSON value,
	// including null).
	Result json.RawMessage
	// Error is the raw error object of a KindError message. Only its being
	// an object is checked.
	Error json.RawMessage
}

// IsRequest reports whether m is a request (it has a method and an id).
func (m *Message) IsRequest() bool { return m.Kind == KindRequest }

// IsNotification reports whether m is a notification (it has a method and
// no id).
func (m *Message) IsNotification() bool { return m.Kind == KindNotification }

// IsCall reports whether m is a request or a notification.
func (m *Message) IsCall() bool { return m.Kind == KindRequest || m.Kind == KindNotification }

// IsResponse reports whether m is a result or an error response.
func (m *Message) IsResponse() bool { return m.Kind == KindResult || m.Kind == KindError }

// Frame is the content of one transport frame (one line of the stdio
// transport, one HTTP body): a single message or a batch.
//
// For a batch, Messages has one entry per array element, in order. When an
// element is not a valid message, its Messages entry is nil and Errors, then
// non-nil and of the same length as Messages, holds the error to answer it
// with at the same index; Errors is nil when every element is valid. For a
// single message, Messages holds it and Errors is nil.
type Frame struct {
	// Batch reports whether the frame is a JSON array.
	Batch bool
	// Messages holds the messages of the frame, nil where an element of a
	// batch is invalid.
	Messages []*Message
	// Errors is nil or aligned with Messages: Errors[i] is non-nil exactly
	// when Messages[i] is nil.
	Errors []*Error
}

// Parse parses b, which must hold exactly one JSON-RPC 2.0 message object,
// optionally surrounded by whitespace.
//
// Parse validates the whole input as JSON in a single pass without decoding
// params, results or error objects; strings must be valid UTF-8 and nesting
// may not exceed [MaxDepth]. Members other than jsonrpc, id, method, params,
// result and error are ignored (they stay in Message.Raw); a duplicate of
// one of these six is an invalid request. The returned Message aliases b.
//
// On failure the error is an *[Error]: CodeParseError when b is not a single
// well-formed JSON value, CodeInvalidRequest when it is JSON but not a
// JSON-RPC 2.0 message (not an object, jsonrpc not "2.0", bad id, method,
// params or error member, both or neither of result and error, ...). For an
// invalid request whose id could be read, Error.ID holds it.
func Parse(b []byte) (*Message, error) {
	m, err := parse(b)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// parse is Parse with a concrete error type.
func parse(b []byte) (*Message, *Error) {
	s := scanner{data: b}
	s.skipWS()
	if s.pos >= len(b) {
		return nil, parseError("empty input")
	}
	if b[s.pos] != '{' {
		return nil, s.notObject()
	}
	m := new(Message)
	if err := s.message(0, m); err != nil {
		return nil, s.endAfter(err)
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseFrame parses b, which must hold one JSON-RPC 2.0 message or a batch
// (a JSON array of messages), as told by its first non-whitespace byte.
//
// ParseFrame returns an error, always an *[Error], only when the frame as a
// whole must be answered with a single error response: b is not well-formed
// JSON (CodeParseError, even if the syntax error is inside one batch
// element), b is an empty array (CodeInvalidRequest), or b is not an array
// and not a valid message (as for [Parse]). Otherwise each batch element is
// classified on its own and invalid elements are reported through
// Frame.Errors, so that the caller can answer them element by element.
// Element messages alias b; their Raw is the element's bytes.
func ParseFrame(b []byte) (*Frame, error) {
	f, err := parseFrame(b)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// single holds the Frame of a single message with its one-element slice and
// the message, so that they are allocated together.
type single struct {
	frame Frame
	slot  [1]*Message
	msg   Message
}

// parseFrame is ParseFrame with a concrete error type.
func parseFrame(b []byte) (*Frame, *Error) {
	s := scanner{data: b}
	s.skipWS()
	if s.pos >= len(b) {
		return nil, parseError("empty input")
	}
	switch b[s.pos] {
	case '{':
		one := new(single)
		if err := s.message(0, &one.msg); err != nil {
			return nil, s.endAfter(err)
		}
		if err := s.end(); err != nil {
			return nil, err
		}
		one.slot[0] = &one.msg
		one.frame.Messages = one.slot[:]
		return &one.frame, nil
	case '[':
	default:
		return nil, s.notObject()
	}
	f := &Frame{Batch: true}
	s.pos++
	s.skipWS()
	if s.pos < len(b) && b[s.pos] == ']' {
		s.pos++
		if err := s.end(); err != nil {
			return nil, err
		}
		return nil, invalidRequest("empty batch", nil)
	}
	for {
		if s.pos >= len(b) {
			return nil, s.syntaxError("")
		}
		var m *Message
		var elemErr *Error
		if b[s.pos] == '{' {
			m = new(Message)
			if err := s.message(1, m); err != nil {
				if err.Code == CodeParseError {
					return nil, err
				}
				m, elemErr = nil, err
			}
		} else {
			if err := s.value(1); err != nil {
				return nil, err
			}
			elemErr = invalidRequest("batch element is not an object", nil)
		}
		if elemErr != nil && f.Errors == nil {
			f.Errors = make([]*Error, len(f.Messages), cap(f.Messages)+1)
		}
		f.Messages = append(f.Messages, m)
		if f.Errors != nil {
			f.Errors = append(f.Errors, elemErr)
		}
		s.skipWS()
		if s.pos >= len(b) {
			return nil, s.syntaxError("")
		}
		if b[s.pos] == ']' {
			s.pos++
			break
		}
		if b[s.pos] != ',' {
			return nil, s.syntaxError("after batch element")
		}
		s.pos++
		s.skipWS()
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	return f, nil
}

// endAfter returns the error for a top-level message that failed with err:
// err itself if it is a parse error or only whitespace follows, or the parse
// error for what follows, which takes precedence over an invalid request.
func (s *scanner) endAfter(err *Error) *Error {
	if err.Code == CodeParseError {
		return err
	}
	if perr := s.end(); perr != nil {
		return perr
	}
	return err
}

// notObject handles a top-level value that is not an object: a parse error
// if it is not well-formed JSON, an invalid request otherwise.
func (s *scanner) notObject() *Error {
	if err := s.value(0); err != nil {
		return err
	}
	if err := s.end(); err != nil {
		return err
	}
	return invalidRequest("message is not a JSON object", nil)
}

// invalidRequest returns a -32600 error with the given detail and id.
func invalidRequest(detail string, id json.RawMessage) *Error {
	return &Error{Code: CodeInvalidRequest, Message: "Invalid Request: " + detail, ID: id}
}

// member records where a significant member's value lies in the input.
type member struct {
	start, end int
	count      int  // occurrences
	escaped    bool // a string value containing escapes
}

// envelope holds the significant members of a message object.
type envelope struct {
	jsonrpc, id, method, params, result, error member
	// lookalike is the name of a member that equals a significant name
	// only when compared case-insensitively, or nil.
	lookalike []byte
}

// significantNames lists the names of the members that give a message its
// meaning.
func significantNames() [6]string {
	return [...]string{"jsonrpc", "id", "method", "params", "result", "error"}
}

// lookup returns the member named by the quoted JSON string key, or nil if
// the name is not significant. A name that matches a significant one only
// case-insensitively (as encoding/json would match it, Unicode folding
// included) is recorded in e.lookalike.
func (e *envelope) lookup(key []byte, escaped bool) *member {
	// Significant names have at most 7 runes; their case-insensitive
	// lookalikes take at most 3 bytes a rune, or 6 when escaped.
	if len(key) > 7*6+2 {
		return nil
	}
	name := key[1 : len(key)-1]
	var buf [7 * 6]byte
	if escaped {
		name = appendUnquoted(buf[:0], key)
	}
	if m := e.lookupName(name); m != nil {
		return m
	}
	if e.lookalike == nil && len(name) >= 2 && len(name) <= 7*3 {
		for _, s := range significantNames() {
			if bytes.EqualFold(name, []byte(s)) {
				e.lookalike = key
				break
			}
		}
	}
	return nil
}

// lookupName returns the member with the given decoded name, or nil.
func (e *envelope) lookupName(name []byte) *member {
	switch string(name) {
	case "jsonrpc":
		return &e.jsonrpc
	case "id":
		return &e.id
	case "method":
		return &e.method
	case "params":
		return &e.params
	case "result":
		return &e.result
	case "error":
		return &e.error
	}
	return nil
}

// message scans the object at s.pos, enclosed in depth containers, and
// classifies it into m. A syntax error is returned as soon as it is found;
// semantic errors (CodeInvalidRequest) only once the whole object is known
// to be well-formed.
func (s *scanner) message(depth int, m *Message) *Error {
	start := s.pos
	if depth+1 > MaxDepth {
		return parseError("nesting too deep")
	}
	var env envelope
	s.pos++ // '{'
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
	} else {
		for {
			if s.pos >= len(s.data) || s.data[s.pos] != '"' {
				return s.syntaxError("looking for an object member name")
			}
			keyStart := s.pos
			keyEscaped, err := s.str()
			if err != nil {
				return err
			}
			key := s.data[keyStart:s.pos]
			if err := s.colon(); err != nil {
				return err
			}
			valueStart := s.pos
			valueEscaped := false
			if s.data[s.pos] == '"' {
				valueEscaped, err = s.str()
			} else {
				err = s.value(depth + 1)
			}
			if err != nil {
				return err
			}
			if f := env.lookup(key, keyEscaped); f != nil {
				f.count++
				f.start, f.end, f.escaped = valueStart, s.pos, valueEscaped
			}
			s.skipWS()
			if s.pos >= len(s.data) {
				return s.syntaxError("")
			}
			if s.data[s.pos] == '}' {
				s.pos++
				break
			}
			if s.data[s.pos] != ',' {
				return s.syntaxError("after object member")
			}
			s.pos++
			s.skipWS()
		}
	}
	return env.classify(s.data, s.data[start:s.pos], m)
}

// classify checks the members of a well-formed message object and fills m.
func (e *envelope) classify(data, raw []byte, m *Message) *Error {
	value := func(f *member) []byte { return data[f.start:f.end] }

	// The id to answer with, when it is usable.
	var id json.RawMessage
	nullID := false
	if e.id.count == 1 {
		switch v := value(&e.id); v[0] {
		case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			id = v
		case 'n':
			nullID = true
		}
	}

	for _, name := range significantNames() {
		if e.lookupName([]byte(name)).count > 1 {
			return invalidRequest("duplicate "+strconv.Quote(name)+" member", id)
		}
	}
	if e.lookalike != nil {
		return invalidRequest("member name "+string(e.lookalike)+" differs from a JSON-RPC member name only in case", id)
	}
	if e.jsonrpc.count == 0 {
		return invalidRequest(`missing "jsonrpc" member`, id)
	}
	if v := value(&e.jsonrpc); !bytes.Equal(v, []byte(`"2.0"`)) {
		var buf [16]byte
		if !e.jsonrpc.escaped || len(v) > 40 || string(appendUnquoted(buf[:0], v)) != "2.0" {
			return invalidRequest(`"jsonrpc" member must be "2.0"`, id)
		}
	}
	if e.id.count == 1 && id == nil && !nullID {
		return invalidRequest(`"id" member must be a string, a number or null`, nil)
	}

	m.Raw = raw
	switch {
	case e.method.count == 1:
		v := value(&e.method)
		if v[0] != '"' {
			return invalidRequest(`"method" member must be a string`, id)
		}
		if e.result.count != 0 || e.error.count != 0 {
			return invalidRequest(`message has both "method" and "`+resultOrError(e)+`" members`, id)
		}
		if e.params.count == 1 {
			p := value(&e.params)
			if p[0] != '{' && p[0] != '[' {
				return invalidRequest(`"params" member must be an object or an array`, id)
			}
			m.Params = p
		}
		switch {
		case e.id.count == 0:
			m.Kind = KindNotification
		case nullID:
			return invalidRequest(`request "id" must not be null`, nil)
		default:
			m.Kind = KindRequest
			m.ID = id
		}
		if e.method.escaped {
			m.Method = string(appendUnquoted(nil, v))
		} else {
			m.Method = methodName(v[1 : len(v)-1])
		}
	case e.result.count == 1 && e.error.count == 1:
		return invalidRequest(`response has both "result" and "error" members`, id)
	case e.result.count == 1 || e.error.count == 1:
		if e.params.count != 0 {
			return invalidRequest(`response has a "params" member`, id)
		}
		if e.id.count == 0 && e.result.count == 1 {
			// An error response may lack its id: the id of the request could
			// not be read (MCP 2025-11-25 made it optional, 3.F4).
			return invalidRequest(`result response has no "id" member`, nil)
		}
		if e.result.count == 1 {
			if nullID {
				return invalidRequest(`result "id" must not be null`, nil)
			}
			m.Kind = KindResult
			m.ID = id
			m.Result = value(&e.result)
		} else {
			v := value(&e.error)
			if v[0] != '{' {
				return invalidRequest(`"error" member must be an object`, id)
			}
			m.Kind = KindError
			if e.id.count != 0 {
				m.ID = value(&e.id)
			}
			m.Error = v
		}
	default:
		return invalidRequest(`message has no "method", "result" or "error" member`, id)
	}
	return nil
}

// resultOrError names the response member present in e.
func resultOrError(e *envelope) string {
	if e.result.count != 0 {
		return "result"
	}
	return "error"
}

// methodName returns name as a string, without allocating for the method
// names defined by MCP.
func methodName(name []byte) string {
	switch string(name) {
	case "initialize":
		return "initialize"
	case "ping":
		return "ping"
	case "tools/list":
		return "tools/list"
	case "tools/call":
		return "tools/call"
	case "resources/list":
		return "resources/list"
	case "resources/read":
		return "resources/read"
	case "resources/templates/list":
		return "resources/templates/list"
	case "resources/subscribe":
		return "resources/subscribe"
	case "resources/unsubscribe":
		return "resources/unsubscribe"
	case "prompts/list":
		return "prompts/list"
	case "prompts/get":
		return "prompts/get"
	case "completion/complete":
		return "completion/complete"
	case "logging/setLevel":
		return "logging/setLevel"
	case "roots/list":
		return "roots/list"
	case "sampling/createMessage":
		return "sampling/createMessage"
	case "elicitation/create":
		return "elicitation/create"
	case "tasks/get":
		return "tasks/get"
	case "tasks/list":
		return "tasks/list"
	case "tasks/result":
		return "tasks/result"
	case "tasks/cancel":
		return "tasks/cancel"
	case "notifications/initialized":
		return "notifications/initialized"
	case "notifications/cancelled":
		return "notifications/cancelled"
	case "notifications/progress":
		return "notifications/progress"
	case "notifications/message":
		return "notifications/message"
	case "notifications/resources/updated":
		return "notifications/resources/updated"
	case "notifications/resources/list_changed":
		return "notifications/resources/list_changed"
	case "notifications/tools/list_changed":
		return "notifications/tools/list_changed"
	case "notifications/prompts/list_changed":
		return "notifications/prompts/list_changed"
	case "notifications/roots/list_changed":
		return "notifications/roots/list_changed"
	case "notifications/tasks/status":
		return "notifications/tasks/status"
	case "notifications/elicitation/complete":
		return "notifications/elicitation/complete"
	}
	return string(name)
}

// IDKey returns a canonical map key for the id of a message, for matching
// responses to requests. String ids are decoded, so "\u0061" and "a" have
// the same key; numbers are kept as their literal, so 1, 1.0 and 1e0 have
// distinct keys; a string and a number never share a key (the key of a
// string starts with a double quote). The key of null is "null"; the key of
// nil (no id) is "". Unpaired surrogate escapes decode to U+FFFD, so such
// string ids may share a key. id should come from a parsed Message;
// surrounding whitespace is ignored.
func IDKey(id json.RawMessage) string {
	id = trimSpace(id)
	if len(id) < 2 || id[0] != '"' || bytes.IndexByte(id, '\\') < 0 {
		return string(id)
	}
	var buf [64]byte
	k := appendUnquoted(append(buf[:0], '"'), id)
	return string(append(k, '"'))
}
