// Package jsonrpc is the JSON-RPC 2.0 envelope and framing codec used on the
// broker's data path.
//
// The package classifies messages without decoding them: [Parse] and
// [ParseFrame] make a single pass over the bytes with a small validating
// scanner, check that the input is well-formed JSON (including UTF-8 and the
// RFC 8259 number grammar) and that it is a JSON-RPC 2.0 request,
// notification, result or error, and return a [Message] whose fields are
// sub-slices of the input. Ids, params, results and error objects are kept
// byte-for-byte as the peer sent them, so a proxy can forward a message
// unchanged (no key re-ordering, no re-escaping, no loss of numeric
// precision in ids).
//
// Failures are reported as *[Error] values carrying the JSON-RPC error code
// to answer with (-32700 for input that is not JSON, -32600 for JSON that is
// not a JSON-RPC 2.0 message) and, when it could be read, the id of the
// offending message; [Error.Response] renders the error response.
//
// [Reader] and [Writer] implement newline-delimited framing as used by the
// MCP stdio transport: one message per line, with bounded memory for
// oversized lines.
//
// # Duplicate and lookalike members
//
// A message in which one of the members that determine its meaning
// ("jsonrpc", "id", "method", "params", "result", "error") appears more than
// once is rejected as an invalid request (-32600). JSON parsers disagree on
// which duplicate wins (encoding/json keeps the last, others keep the
// first), so accepting such a message would let the proxy and the peer
// behind it see two different messages. For the same reason a member whose
// name equals one of these only when compared case-insensitively ("Method",
// "ID", "paramſ", ...) is rejected too: encoding/json, used by Go peers,
// matches member names that way. Any other member, duplicated or not, is
// ignored and stays in Message.Raw.
package jsonrpc
