package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Error codes defined by the JSON-RPC 2.0 specification.
const (
	// CodeParseError means the input was not well-formed JSON.
	CodeParseError = -32700
	// CodeInvalidRequest means the input was JSON but not a valid
	// JSON-RPC 2.0 message.
	CodeInvalidRequest = -32600
	// CodeMethodNotFound means the method does not exist or is not
	// available.
	CodeMethodNotFound = -32601
	// CodeInvalidParams means the method parameters were invalid.
	CodeInvalidParams = -32602
	// CodeInternalError means an internal JSON-RPC error occurred.
	CodeInternalError = -32603
)

// Error is a JSON-RPC error. [Parse] and [ParseFrame] return it for input
// that must be answered with an error response; it marshals to the JSON-RPC
// error object.
//
// Errors compare by code with [errors.Is]:
//
//	errors.Is(err, &jsonrpc.Error{Code: jsonrpc.CodeParseError})
type Error struct {
	// Code is the JSON-RPC error code, such as CodeInvalidRequest.
	Code int `json:"code"`
	// Message is a short description of the error, sent to the peer.
	Message string `json:"message"`
	// Data is optional additional information, marshalled with
	// encoding/json.
	Data any `json:"data,omitempty"`
	// ID is the id of the message the error answers, exactly as the peer
	// sent it. It is nil when the id is unknown (always for parse errors),
	// absent or null; the error response then carries a null id.
	ID json.RawMessage `json:"-"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return "jsonrpc: " + e.Message + " (code " + strconv.Itoa(e.Code) + ")"
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &Error{Code: CodeParseError}) matches any parse error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// Response returns the JSON-RPC error response answering e, addressed to
// e.ID. See [ErrorResponse].
func (e *Error) Response() []byte {
	return ErrorResponse(e.ID, e.Code, e.Message, e.Data)
}

// ErrorResponse returns the JSON-RPC 2.0 error response
//
//	{"jsonrpc":"2.0","id":ID,"error":{"code":CODE,"message":MESSAGE,"data":DATA}}
//
// without a trailing newline. id is copied verbatim; when it is nil, or not
// a JSON string, number or null, the response carries a null id. message is
// encoded as a JSON string (invalid UTF-8 becomes U+FFFD). data is
// marshalled with encoding/json without HTML escaping; the "data" member is
// omitted when data is nil or cannot be marshalled. The result never
// contains a raw newline byte, so it can be written with [Writer.Write].
func ErrorResponse(id json.RawMessage, code int, message string, data any) []byte {
	var d []byte
	if data != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if enc.Encode(data) == nil {
			d = bytes.TrimRight(buf.Bytes(), "\n")
		}
	}
	id = trimSpace(id)
	if !validID(id) {
		id = json.RawMessage("null")
	}
	b := make([]byte, 0, 64+len(id)+len(message)+len(d))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = appendQuoted(b, message)
	if d != nil {
		b = append(b, `,"data":`...)
		b = append(b, d...)
	}
	return append(b, "}}"...)
}

// validID reports whether id is a single JSON string, number or null.
func validID(id []byte) bool {
	if len(id) == 0 {
		return false
	}
	s := scanner{data: id}
	var err *Error
	switch c := id[0]; {
	case c == '"':
		_, err = s.str()
	case c == 'n':
		err = s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		err = s.number()
	default:
		return false
	}
	return err == nil && s.pos == len(id)
}

// appendQuoted appends s to b as a JSON string. Only the characters JSON
// requires are escaped; invalid UTF-8 is replaced with U+FFFD.
func appendQuoted(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				b = append(b, c)
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// trimSpace returns b without leading and trailing JSON whitespace.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}
