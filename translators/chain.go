// Package translators rewrites MCP messages of one protocol revision into
// the equivalent messages of another. Each Step translates between two
// adjacent revisions, up (older to newer) and down, for messages sent by
// the client and by the server; a Chain composes steps for any pair.
//
// Translators are pure: they do no I/O and keep no state between messages.
// What a message needs from its session (the method a result answers, the
// client's capabilities and info, the server's info) comes in a Context.
// Rows of ../shared/spec/REVISIONS.md that need broker state (ANSWER,
// EMULATE, CAP and the stateful parts of section 4) are reported as typed
// outcomes, never silently dropped.
package translators

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// RuleNegotiateEachSide is recorded when a translated initialize request or
// result is made to name the target revision (REVISIONS.md 0.2 rule 4).
const RuleNegotiateEachSide = "0.2#4"

// Direction is the side that sent a message.
type Direction uint8

// Directions.
const (
	ClientToServer Direction = iota + 1
	ServerToClient
)

// String returns "c2s" or "s2c".
func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "c2s"
	case ServerToClient:
		return "s2c"
	}
	return fmt.Sprintf("Direction(%d)", uint8(d))
}

// ParseDirection parses "c2s" or "s2c".
func ParseDirection(s string) (Direction, error) {
	switch s {
	case "c2s":
		return ClientToServer, nil
	case "s2c":
		return ServerToClient, nil
	}
	return 0, fmt.Errorf("unknown direction %q (want c2s or s2c)", s)
}

// Context holds the session facts a translation may need. The zero value
// works for messages that need none; Defaults fills in what translate uses
// when a single message is translated outside a session.
type Context struct {
	// Method is the method of the request that a result or error answers.
	Method string `json:"method,omitempty"`
	// ClientInfo is the client's Implementation object (clientInfo).
	ClientInfo json.RawMessage `json:"clientInfo,omitempty"`
	// ClientCapabilities are the capabilities the client declared, as it
	// declared them (any revision's shape).
	ClientCapabilities json.RawMessage `json:"clientCapabilities,omitempty"`
	// ServerInfo is the server's Implementation object (serverInfo).
	ServerInfo json.RawMessage `json:"serverInfo,omitempty"`
	// ServerCapabilities are the capabilities the server declared.
	ServerCapabilities json.RawMessage `json:"serverCapabilities,omitempty"`
	// LogLevel is the logging level the client set (logging/setLevel), if
	// any; 2026-07-28 requests carry it per request (4.M2).
	LogLevel string `json:"logLevel,omitempty"`
	// CacheTTLMs and CacheScope are the caching hints added to results
	// toward 2026-07-28 clients (4.F2); defaults 0 and "private".
	CacheTTLMs int64  `json:"cacheTtlMs,omitempty"`
	CacheScope string `json:"cacheScope,omitempty"`
}

// Defaults returns a copy of c with documented defaults for what is unset:
// clientInfo {"name":"mcpbroker","version":"0"}, client capabilities {},
// serverInfo {"name":"mcpbroker-upstream","version":"0"}, cache scope
// "private".
func (c Context) Defaults() Context {
	if len(c.ClientInfo) == 0 {
		c.ClientInfo = json.RawMessage(`{"name":"mcpbroker","version":"0"}`)
	}
	if len(c.ClientCapabilities) == 0 {
		c.ClientCapabilities = json.RawMessage(`{}`)
	}
	if len(c.ServerInfo) == 0 {
		c.ServerInfo = json.RawMessage(`{"name":"mcpbroker-upstream","version":"0"}`)
	}
	if c.CacheScope == "" {
		c.CacheScope = "private"
	}
	return c
}

// Step translates between two adjacent revisions Lo < Hi.
type Step struct {
	Lo, Hi schemas.Revision
	// Up rewrites a message of Lo into Hi; Down the other way. Either is
	// told who sent the message through t.Dir.
	Up, Down func(t *Tx)
}

// Tx is one message on its way through a chain: the lazily decoded
// message, what is known about it, and what the steps did.
type Tx struct {
	// Dir is the side that sent the message.
	Dir Direction
	// Kind of message; Method is the method of a request or notification,
	// or for a result/error the method of the request it answers.
	Kind   jsonrpc.Kind
	Method string
	// From and To are the revisions of the current step: the message is in
	// From and is being rewritten into To.
	From, To schemas.Revision
	// Msg is the whole message.
	Msg *Node
	// Ctx is the session context.
	Ctx *Context

	outcome Outcome
	done    bool
}

// Params returns the params object of a request or notification (nil when
// absent).
func (t *Tx) Params() *Node { return t.Msg.Get("params") }

// EnsureParams returns the params object, adding an empty one if absent.
func (t *Tx) EnsureParams() *Node {
	p := t.Msg.Get("params")
	if p == nil || !p.IsObject() {
		p = NewObject()
		t.Msg.Set("params", p)
	}
	return p
}

// Result returns the result object of a result response (nil otherwise).
func (t *Tx) Result() *Node { return t.Msg.Get("result") }

// Error returns the error object of an error response (nil otherwise).
func (t *Tx) Error() *Node { return t.Msg.Get("error") }

// IsRequest reports whether the message is a request (not a notification
// or a response).
func (t *Tx) IsRequest() bool { return t.Kind == jsonrpc.KindRequest }

// IsNotification reports whether the message is a notification.
func (t *Tx) IsNotification() bool { return t.Kind == jsonrpc.KindNotification }

// IsResult reports whether the message is a result response.
func (t *Tx) IsResult() bool { return t.Kind == jsonrpc.KindResult }

// IsError reports whether the message is an error response.
func (t *Tx) IsError() bool { return t.Kind == jsonrpc.KindError }

// Apply records that a row rewrote the message.
func (t *Tx) Apply(row string) {
	if !slices.Contains(t.outcome.Applied, row) {
		t.outcome.Applied = append(t.outcome.Applied, row)
	}
}

// Lose records information lost by a MAP (for logs and traces); it also
// records the row as applied.
func (t *Tx) Lose(row, path, detail string) {
	t.Apply(row)
	t.outcome.Losses = append(t.outcome.Losses, Loss{Row: row, Path: path, Detail: detail})
}

// Answer ends the translation: the broker must answer the message itself
// (ANSWER rows). reply is the result object to send back when it is known
// without broker state (for example {} for ping), else nil.
func (t *Tx) Answer(row, reason string, reply *Node) {
	t.finish(Outcome{Kind: Answer, Row: row, Reason: reason})
	if reply != nil && t.IsRequest() {
		t.outcome.Reply = responseFor(t.Msg.Get("id"), reply)
	}
}

// Emulate ends the translation: the broker must emulate the feature with
// its own state (EMULATE rows and the stateful parts of section 4).
func (t *Tx) Emulate(row, reason string) {
	t.finish(Outcome{Kind: Emulate, Row: row, Reason: reason})
}

// Reject ends the translation with a JSON-RPC error for the sender.
func (t *Tx) Reject(row string, code int, message string) {
	t.finish(Outcome{Kind: Reject, Row: row, Reason: message,
		Error: &jsonrpc.Error{Code: code, Message: message, ID: rawID(t.Msg.Get("id"))}})
}

// Drop ends the translation of a notification (DROP rows). A request or a
// response must never be dropped; Drop on one is turned into an Emulate
// outcome so the broker still sees it.
func (t *Tx) Drop(row, reason string) {
	if !t.IsNotification() {
		t.Emulate(row, "not droppable (only notifications are): "+reason)
		return
	}
	t.finish(Outcome{Kind: Drop, Row: row, Reason: reason})
}

// Done reports whether a step ended the translation.
func (t *Tx) Done() bool { return t.done }

func (t *Tx) finish(o Outcome) {
	o.Applied = append(t.outcome.Applied, o.Row)
	o.Losses = t.outcome.Losses
	t.outcome = o
	t.done = true
}

func rawID(id *Node) json.RawMessage {
	if id == nil {
		return nil
	}
	return json.RawMessage(id.Raw())
}

func responseFor(id *Node, result *Node) []byte {
	m := NewObject()
	m.Set("jsonrpc", NewString("2.0"))
	if id != nil {
		m.Set("id", Parse(id.Raw()))
	}
	m.Set("result", result)
	return m.Raw()
}

// OutcomeKind says what became of a message.
type OutcomeKind uint8

// Outcome kinds.
const (
	// Forward: Outcome.Message is the translated message.
	Forward OutcomeKind = iota + 1
	// Answer: the broker answers the message itself (ANSWER rows);
	// Outcome.Reply holds the response when it needs no broker state.
	Answer
	// Emulate: the broker must emulate the feature (EMULATE rows).
	Emulate
	// Reject: the message is refused; Outcome.Error is the JSON-RPC error.
	Reject
	// Drop: a notification the other side must not see (DROP rows).
	Drop
)

// String names the kind.
func (k OutcomeKind) String() string {
	switch k {
	case Forward:
		return "forward"
	case Answer:
		return "answer"
	case Emulate:
		return "emulate"
	case Reject:
		return "reject"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("OutcomeKind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k OutcomeKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Loss is information that a MAP could not carry into the target revision.
type Loss struct {
	Row    string `json:"row"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// Outcome is the result of translating one message.
type Outcome struct {
	Kind    OutcomeKind    `json:"kind"`
	Message []byte         `json:"-"`
	Reply   []byte         `json:"-"`
	Row     string         `json:"row,omitempty"`
	Reason  string         `json:"reason,omitempty"`
	Error   *jsonrpc.Error `json:"error,omitempty"`
	Applied []string       `json:"applied,omitempty"`
	Losses  []Loss         `json:"losses,omitempty"`
}

// Chain translates messages from one revision to another through the
// adjacent steps between them. A Chain is immutable and safe for
// concurrent use.
type Chain struct {
	from, to schemas.Revision
	steps    []*Step
	up       bool
}

// NewChain returns the chain from revision from to revision to (equal
// revisions give the identity chain).
func NewChain(from, to schemas.Revision) (*Chain, error) {
	if !from.Valid() || !to.Valid() {
		return nil, fmt.Errorf("%w: %v -> %v", schemas.ErrUnknownRevision, from, to)
	}
	all := Steps()
	c := &Chain{from: from, to: to, up: from < to}
	lo, hi := min(from, to), max(from, to)
	for _, s := range all {
		if s.Lo >= lo && s.Hi <= hi {
			c.steps = append(c.steps, s)
		}
	}
	if !c.up {
		slices.Reverse(c.steps)
	}
	return c, nil
}

// From returns the revision messages are translated from.
func (c *Chain) From() schemas.Revision { return c.from }

// To returns the revision messages are translated into.
func (c *Chain) To() schemas.Revision { return c.to }

// Translate rewrites one parsed message sent by dir. The message is
// decoded at most once across all steps and encoded once at the end; a
// message no step touches comes out byte for byte.
func (c *Chain) Translate(m *jsonrpc.Message, dir Direction, ctx *Context) Outcome {
	if ctx == nil {
		ctx = &Context{}
	}
	t := &Tx{Dir: dir, Kind: m.Kind, Method: m.Method, Msg: Parse(m.Raw), Ctx: ctx}
	if m.Kind == jsonrpc.KindResult || m.Kind == jsonrpc.KindError {
		t.Method = ctx.Method
	}
	for _, s := range c.steps {
		if c.up {
			t.From, t.To = s.Lo, s.Hi
			s.Up(t)
		} else {
			t.From, t.To = s.Hi, s.Lo
			s.Down(t)
		}
		if t.done {
			return t.outcome
		}
	}
	if len(c.steps) > 0 && t.Method == "initialize" {
		// Rule 0.2 #4: each side negotiates in its own revision, so the
		// translated handshake names the target revision.
		var body *Node
		switch t.Kind {
		case jsonrpc.KindRequest:
			body = t.Params()
		case jsonrpc.KindResult:
			body = t.Result()
		}
		if pv := body.Get("protocolVersion"); pv.IsString() && pv.Str() != c.to.String() {
			path := "/params/protocolVersion"
			if t.Kind == jsonrpc.KindResult {
				path = "/result/protocolVersion"
			}
			body.Set("protocolVersion", NewString(c.to.String()))
			t.Lose(RuleNegotiateEachSide, path, "was "+pv.Str())
		}
	}
	o := t.outcome
	o.Kind = Forward
	o.Message = t.Msg.Raw()
	return o
}

// TranslateBytes parses raw as one JSON-RPC message and translates it.
func (c *Chain) TranslateBytes(raw []byte, dir Direction, ctx *Context) (Outcome, error) {
	m, err := jsonrpc.Parse(raw)
	if err != nil {
		return Outcome{}, err
	}
	return c.Translate(m, dir, ctx), nil
}

// Steps returns the adjacent steps, oldest pair first.
func Steps() []*Step {
	return []*Step{step12(), step23(), step34(), step45()}
}
