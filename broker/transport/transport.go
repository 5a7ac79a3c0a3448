// Package transport moves MCP messages between mcpbroker and its peers:
// stdio (NDJSON), Streamable HTTP and the legacy HTTP+SSE transport of
// 2024-11-05, each on the client-facing side (the broker as a server) and
// on the upstream side (the broker as a client).
//
// A Conn is one MCP session with one peer, as a stream of JSON-RPC
// messages in both directions. Transports do not interpret messages beyond
// what routing needs (ids, the related request); validation, translation
// and id remapping happen in the relay.
//
// # Transports
//
// Toward a peer that is a server (upstream):
//
//   - [NewStdio] over any reader and writer, and [StartCommand] (or
//     [Command.Start]) for a server run as a child process.
//   - [DialHTTP]: Streamable HTTP, revisions 2025-03-26 to 2025-11-25.
//   - [DialSSE]: the legacy HTTP+SSE transport of 2024-11-05.
//   - [DialHTTP2026] (client-facing: [HTTP2026Server]): stateless 2026-07-28.
//
// Toward a peer that is a client (client-facing), servers that yield one
// Conn per session through Accept:
//
//   - [HTTPServer]: Streamable HTTP, an [http.Handler] for the MCP
//     endpoint.
//   - [SSEServer]: legacy HTTP+SSE, an http.Handler for the SSE stream and
//     the message endpoint.
//
// (A stdio client of the broker is served with NewStdio on the broker's
// own standard input and output.)
//
// # Frames
//
// Recv returns frames as the peer sent them, batches (2025-03-26) included
// as one array; the relay splits and gathers them (REVISIONS.md 2.T1).
// Send takes one message or array per call. The HTTP transports parse what
// they send and receive with [jsonrpc.ParseFrame] to route responses by id
// (with [jsonrpc.IDKey]); they answer input that is not JSON-RPC
// themselves (HTTP 400 with the -32700 or -32600 error as body).
//
// Optional interfaces: [RevisionSetter] (HTTP Conns need the negotiated
// revision for the MCP-Protocol-Version header), [SessionIDer] and
// [Principaled] (the credentials a client session is bound to).
//
// # Errors
//
// Recv returns [ErrClosed] after Close, and an error wrapping io.EOF when
// the peer ended the session (end of stdio input, child exit with its
// status, DELETE, dropped legacy stream). Two Recv errors are not final:
// one wrapping [jsonrpc.ErrTooLarge] (an oversized stdio line, skipped)
// and one wrapping [ErrSessionExpired] (an upstream HTTP session is gone;
// the relay may send initialize again on the same Conn). HTTP client
// transports report unexpected statuses as [*StatusError].
package transport

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mcpbroker/mcpbroker/schemas"
)

// Message is one frame on a Conn: a single JSON-RPC message or, on
// revisions that have them, a batch array.
type Message struct {
	// Raw is the JSON text, without a trailing newline.
	Raw []byte
	// Related is the id (raw JSON, in this Conn's id space) of the
	// request the message belongs to, when the transport or the sender
	// knows it: a response, or a notification or server request sent on a
	// request's own stream (Streamable HTTP). Empty when unrelated.
	Related json.RawMessage
	// Trace holds the W3C trace headers of the HTTP request that carried
	// the frame, on the Conns of the client-facing HTTP servers; nil when
	// the request had none and on other transports. Send ignores it: the
	// upstream HTTP clients inject the trace context of Send's ctx.
	Trace *TraceHeaders
}

// Conn is one MCP session with a peer.
//
// Recv, Send and Close may be called concurrently. Errors from Recv that
// the package documents as non-fatal (an oversized stdio line, an expired
// HTTP session) leave the Conn usable; any other Recv error is final.
type Conn interface {
	// Recv returns the next frame the peer sent. It returns io.EOF (or an
	// error wrapping it) once the peer is gone, and ctx.Err() when ctx ends.
	Recv(ctx context.Context) (Message, error)
	// Send delivers a frame to the peer. Responses are routed to the
	// request they answer; Related tells which request stream a
	// notification or server request belongs to.
	Send(ctx context.Context, m Message) error
	// Close ends the session (an HTTP DELETE upstream, closing streams,
	// stopping a child process).
	Close() error
}

// ErrClosed is returned by a Conn that was closed.
var ErrClosed = errors.New("transport: connection closed")

// RevisionSetter is implemented by Conns of the HTTP transports, which need
// the protocol revision negotiated for the session: the client side sends
// it in the MCP-Protocol-Version header of every later request (2025-06-18
// on, REVISIONS.md 2.T2), the server side checks that header with
// [schemas.InterpretHeader] and answers 400 to an invalid value. The relay
// calls SetRevision once it has seen the initialize result. Conns of other
// transports do not implement it.
type RevisionSetter interface {
	// SetRevision records the revision negotiated for the session.
	SetRevision(rev schemas.Revision)
}

// StreamOpener is implemented by upstream Conns that open their stream for
// unsolicited server messages (the standalone GET stream of Streamable
// HTTP) only on demand: DialHTTP with [ClientOptions.LazyGET]. The relay
// calls OpenStream once its client can receive such messages, so that an
// idle session whose client never listens holds no upstream stream.
type StreamOpener interface {
	// OpenStream opens the stream once the session is initialized (at
	// once if it is), and keeps it open as without LazyGET. It is
	// idempotent.
	OpenStream()
}

// StreamWatcher is implemented by client-facing Conns whose client may or
// may not listen for unsolicited messages: a Streamable HTTP session,
// whose client opens the standalone GET stream or not.
type StreamWatcher interface {
	// OnStream registers f, called once in a goroutine of its own when
	// the client first opens its standalone stream (at once if it has).
	OnStream(f func())
}

// Pusher is implemented by Conns that can hand what they receive to a
// function instead of queueing it for Recv, so that their user needs no
// goroutine blocked in Recv for as long as the session lasts (DialHTTP's
// Conn: an idle session then costs no goroutine on the broker's upstream
// side).
type Pusher interface {
	// Push makes the Conn call f for each frame it receives (err nil) and
	// for each error Recv would have returned, with the same meaning (a
	// final error last, unless the Conn was closed by its user), and
	// reports whether it will: when it returns false, use Recv. f runs on
	// the transport's goroutines, concurrently for frames of different
	// requests and in order for the frames of one request's stream; while
	// it runs, that stream waits. Frames received before Push are handed
	// over first. Call it before sending anything; after it, do not call
	// Recv.
	Push(f func(m Message, err error)) bool
}

// SessionIDer is implemented by Conns of the Streamable HTTP transport,
// whose sessions carry an Mcp-Session-Id, and of the legacy HTTP+SSE
// transport, whose sessions carry a session key in the POST URL.
type SessionIDer interface {
	// SessionID returns the session id, or "" while there is none.
	SessionID() string
}
