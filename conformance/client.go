package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// ServerURLEnv is the environment variable that gives a client program
// under test the URL of the runner's test server (the URL is also its last
// argument).
const ServerURLEnv = "MCP_SERVER_URL"

// ErrClientProgram is returned (wrapped) when the client program cannot
// be started.
var ErrClientProgram = errors.New("conformance: cannot start the client program")

// Exchange is one HTTP request a client sent to the test server.
type Exchange struct {
	Method string
	Header http.Header
	// Messages are the JSON-RPC messages of a POST body (a batch's
	// elements one by one); Invalid describes a body that is not JSON-RPC.
	Messages []*jsonrpc.Message
	Invalid  string
}

// ClientRecord is what a client did during a run.
type ClientRecord struct {
	// Exchanges are the client's HTTP requests in arrival order.
	Exchanges []Exchange
	// Requested is the protocolVersion of the client's initialize;
	// Revision what the test server answered (zero before initialize).
	Requested string
	Revision  schemas.Revision
	// SessionID is the session id the test server issued.
	SessionID string
	// ExitErr is how the client program ended (nil: exit status 0).
	ExitErr error
}

// ClientCheck is one client conformance check, made on the record of a
// run.
type ClientCheck struct {
	ID, Title, Spec string
	Severity        Severity
	// Check returns the failures; skip, when not empty, says why the
	// check does not apply.
	Check func(r *ClientRecord, v *schemas.Validator) (failures []string, skip string)
}

// ClientRunner runs a client program against a test server it hosts on
// 127.0.0.1 (Streamable HTTP; revisions 2024-11-05 to 2025-11-25 by
// negotiation) and checks what the client sends.
type ClientRunner struct {
	// Command is the client program; it gets the server URL in
	// ServerURLEnv and as its last argument. Env is added to the
	// runner's environment.
	Command []string
	Env     []string
	// Timeout bounds the client program's run; zero means 30s. The
	// program is killed when it runs longer.
	Timeout time.Duration
	// Validator checks the client's messages; nil builds one.
	Validator *schemas.Validator
	// Logger receives the program's output and diagnostics; nil discards.
	Logger *slog.Logger
	// Stdout and Stderr, when set, receive the program's output.
	Stdout, Stderr io.Writer
}

// Run starts the test server and the client program, waits for the
// program to end, and returns the report of the client checks.
func (r *ClientRunner) Run(ctx context.Context) (*Report, error) {
	v := r.Validator
	if v == nil {
		var err error
		if v, err = schemas.NewValidator(); err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
	}
	logger := r.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	start := time.Now()
	rec, err := r.record(ctx, logger, timeout)
	if err != nil {
		return nil, err
	}
	rep := &Report{Target: fmt.Sprintf("client %q", r.Command)}
	rev := "none"
	if rec.Revision.Valid() {
		rev = rec.Revision.String()
	}
	rep.Revisions = []string{rev}
	elapsed := time.Since(start)
	for _, c := range ClientChecks() {
		res := Result{ID: c.ID, Revision: rev, Severity: c.Severity, Duration: elapsed}
		if rec.Revision.Valid() {
			res.Spec = "https://modelcontextprotocol.io/specification/" + rev + "/" + c.Spec
		}
		fails, skip := c.Check(rec, v)
		switch {
		case len(fails) > 0:
			res.Status, res.Reason = Fail, joinReasons(fails)
			if c.Severity == Should {
				res.Status = Warn
			}
		case skip != "":
			res.Status, res.Reason = Skip, skip
		default:
			res.Status = Pass
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// record hosts the test server, runs the program and returns the record.
func (r *ClientRunner) record(ctx context.Context, logger *slog.Logger, timeout time.Duration) (*ClientRecord, error) {
	if len(r.Command) == 0 {
		return nil, fmt.Errorf("%w: no command", ErrClientProgram)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("conformance: test server: %w", err)
	}
	ts := &testServer{rec: &ClientRecord{}, log: logger}
	hs := transport.NewHTTPServer(&transport.HTTPServerOptions{Logger: logger, BindHeaders: []string{}})
	srv := &http.Server{Handler: ts.recording(hs), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var sessions sync.WaitGroup
	sessions.Go(func() {
		for {
			conn, err := hs.Accept(sctx)
			if err != nil {
				return
			}
			sessions.Go(func() { ts.serve(sctx, conn) })
		}
	})
	defer func() {
		hs.Close()
		stop()
		srv.Close()
		sessions.Wait()
	}()

	url := "http://" + ln.Addr().String() + "/mcp"
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, r.Command[0], append(r.Command[1:], url)...)
	cmd.Env = append(append(os.Environ(), r.Env...), ServerURLEnv+"="+url)
	cmd.Stdout, cmd.Stderr = r.Stdout, r.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrClientProgram, err)
	}
	exitErr := cmd.Wait()
	if rctx.Err() != nil && ctx.Err() == nil {
		exitErr = fmt.Errorf("killed after %v: %w", timeout, rctx.Err())
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.rec.ExitErr = exitErr
	out := *ts.rec
	return &out, nil
}

// testServer is the runner's small, correct MCP server for client runs.
type testServer struct {
	log *slog.Logger
	mu  sync.Mutex
	rec *ClientRecord
}

// recording records every request before h serves it.
func (ts *testServer) recording(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ex := Exchange{Method: req.Method, Header: req.Header.Clone()}
		if req.Method == http.MethodPost {
			b, err := io.ReadAll(io.LimitReader(req.Body, transport.DefaultMaxBodySize))
			if err != nil {
				http.Error(w, "cannot read the body", http.StatusBadRequest)
				return
			}
			req.Body = io.NopCloser(bytes.NewReader(b))
			if f, err := jsonrpc.ParseFrame(b); err != nil {
				ex.Invalid = fmt.Sprintf("%v: %s", err, clip(b))
			} else {
				for i, m := range f.Messages {
					if m == nil {
						ex.Invalid = f.Errors[i].Error()
						continue
					}
					ex.Messages = append(ex.Messages, m)
				}
			}
		}
		ts.mu.Lock()
		ts.rec.Exchanges = append(ts.rec.Exchanges, ex)
		ts.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

// serve answers one session: initialize (the requested revision if it is
// a legacy one, else 2025-11-25), ping, tools/list and tools/call of its
// one tool echo; other requests get -32601.
func (ts *testServer) serve(ctx context.Context, conn transport.Conn) {
	defer conn.Close()
	for {
		m, err := conn.Recv(ctx)
		if err != nil {
			return
		}
		f, err := jsonrpc.ParseFrame(m.Raw)
		if err != nil {
			continue
		}
		for _, msg := range f.Messages {
			if msg == nil || !msg.IsRequest() {
				continue
			}
			res, rerr := ts.answer(conn, msg)
			var out []byte
			if rerr != nil {
				out = jsonrpc.ErrorResponse(msg.ID, rerr.Code, rerr.Message, nil)
			} else {
				out, _ = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": msg.ID, "result": res})
			}
			if err := conn.Send(ctx, transport.Message{Raw: out, Related: msg.ID}); err != nil {
				ts.log.Debug("conformance test server: send", "err", err)
			}
		}
	}
}

func (ts *testServer) answer(conn transport.Conn, m *jsonrpc.Message) (any, *RPCError) {
	switch m.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		json.Unmarshal(m.Params, &p)
		rev := schemas.V20251125
		if r, err := schemas.ParseRevision(p.ProtocolVersion); err == nil && !r.Stateless() {
			rev = r
		}
		if rs, ok := conn.(transport.RevisionSetter); ok {
			rs.SetRevision(rev)
		}
		ts.mu.Lock()
		ts.rec.Requested, ts.rec.Revision = p.ProtocolVersion, rev
		if s, ok := conn.(transport.SessionIDer); ok {
			ts.rec.SessionID = s.SessionID()
		}
		ts.mu.Unlock()
		return map[string]any{
			"protocolVersion": rev.String(),
			"capabilities":    map[string]any{"tools": map[string]any{}},
			"serverInfo":      map[string]any{"name": "mcpbroker-conformance-test-server", "version": "1.0.0"},
		}, nil
	case "ping":
		return map[string]any{}, nil
	case "tools/list":
		return map[string]any{"tools": []any{map[string]any{
			"name": "echo", "description": "Returns its text argument.",
			"inputSchema": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}, "required": []string{"text"}},
		}}}, nil
	case "tools/call":
		var p struct {
			Name      string `json:"name"`
			Arguments struct {
				Text string `json:"text"`
			} `json:"arguments"`
		}
		json.Unmarshal(m.Params, &p)
		if p.Name != "echo" {
			return nil, &RPCError{Code: jsonrpc.CodeInvalidParams, Message: "Unknown tool: " + p.Name}
		}
		return map[string]any{"content": []any{map[string]any{"type": "text", "text": p.Arguments.Text}}}, nil
	}
	return nil, &RPCError{Code: jsonrpc.CodeMethodNotFound, Message: "Method not found: " + m.Method}
}

// ClientChecks returns the client checks, in report order.
func ClientChecks() []ClientCheck {
	return []ClientCheck{
		{
			ID: "client/initialize-first", Title: "the client's first request is initialize, sent alone", Spec: "basic/lifecycle", Severity: Must,
			Check: func(r *ClientRecord, _ *schemas.Validator) ([]string, string) {
				for _, ex := range r.Exchanges {
					if ex.Method != http.MethodPost {
						continue
					}
					if len(ex.Messages) == 0 {
						return []string{"the first POST holds no JSON-RPC message: " + ex.Invalid}, ""
					}
					if m := ex.Messages[0]; !m.IsRequest() || m.Method != "initialize" || len(ex.Messages) > 1 {
						return []string{fmt.Sprintf("the first POST is %s, not a lone initialize request", describe(ex.Messages))}, ""
					}
					return nil, ""
				}
				return []string{"the client sent no POST at all" + exitNote(r)}, ""
			},
		},
		{
			ID: "client/initialized-notification", Title: "after the initialize result the client sends notifications/initialized before other requests (ping aside)", Spec: "basic/lifecycle", Severity: Must,
			Check: func(r *ClientRecord, _ *schemas.Validator) ([]string, string) {
				if !r.Revision.Valid() {
					return nil, "the client did not initialize"
				}
				for _, m := range afterInitialize(r) {
					switch {
					case m.Method == "notifications/initialized":
						return nil, ""
					case m.IsRequest() && m.Method != "ping":
						return []string{fmt.Sprintf("%s was sent before notifications/initialized", m.Method)}, ""
					}
				}
				return []string{"the client never sent notifications/initialized" + exitNote(r)}, ""
			},
		},
		{
			ID: "client/valid-messages", Title: "every message the client sends is valid in the negotiated revision", Spec: "basic", Severity: Must,
			Check: func(r *ClientRecord, v *schemas.Validator) ([]string, string) {
				if !r.Revision.Valid() {
					return nil, "the client did not initialize"
				}
				var fails []string
				for _, ex := range r.Exchanges {
					if ex.Invalid != "" {
						fails = append(fails, "a POST body is not JSON-RPC: "+ex.Invalid)
					}
					for _, m := range ex.Messages {
						if m.IsResponse() {
							continue // the test server sends no requests
						}
						if err := v.Validate(r.Revision, m, schemas.Check{From: schemas.FromClient}); err != nil {
							fails = append(fails, describeInvalid(m.Method, err)...)
						}
					}
				}
				return fails, ""
			},
		},
		{
			ID: "client/session-id", Title: "every request after initialize carries the issued Mcp-Session-Id", Spec: "basic/transports", Severity: Must,
			Check: func(r *ClientRecord, _ *schemas.Validator) ([]string, string) {
				if r.SessionID == "" {
					return nil, "no session was issued"
				}
				var fails []string
				for _, ex := range exchangesAfterInitialize(r) {
					if got := ex.Header.Get(hdrSession); got != r.SessionID {
						fails = append(fails, fmt.Sprintf("%s %s carries Mcp-Session-Id %q, want %q", ex.Method, describe(ex.Messages), got, r.SessionID))
					}
				}
				return fails, ""
			},
		},
		{
			ID: "client/protocol-version-header", Title: "every request after initialize carries MCP-Protocol-Version with the negotiated revision (2025-06-18 on)", Spec: "basic/transports", Severity: Must,
			Check: func(r *ClientRecord, _ *schemas.Validator) ([]string, string) {
				if !r.Revision.Valid() {
					return nil, "the client did not initialize"
				}
				if !r.Revision.HasProtocolVersionHeader() {
					return nil, r.Revision.String() + " has no MCP-Protocol-Version header"
				}
				var fails []string
				for _, ex := range exchangesAfterInitialize(r) {
					if got := ex.Header.Get(hdrVersion); got != r.Revision.String() {
						fails = append(fails, fmt.Sprintf("%s %s carries MCP-Protocol-Version %q, want %q", ex.Method, describe(ex.Messages), got, r.Revision))
					}
				}
				return fails, ""
			},
		},
		{
			ID: "client/accept-header", Title: "every POST accepts both application/json and text/event-stream", Spec: "basic/transports", Severity: Must,
			Check: func(r *ClientRecord, _ *schemas.Validator) ([]string, string) {
				var fails []string
				for _, ex := range r.Exchanges {
					if ex.Method != http.MethodPost {
						continue
					}
					acc := strings.Join(ex.Header.Values("Accept"), ",")
					if !strings.Contains(acc, "application/json") || !strings.Contains(acc, "text/event-stream") {
						fails = append(fails, fmt.Sprintf("POST %s has Accept %q", describe(ex.Messages), acc))
					}
				}
				return fails, ""
			},
		},
	}
}

// afterInitialize returns the client's messages after its initialize.
func afterInitialize(r *ClientRecord) []*jsonrpc.Message {
	var out []*jsonrpc.Message
	seen := false
	for _, ex := range r.Exchanges {
		for _, m := range ex.Messages {
			if seen {
				out = append(out, m)
			}
			if m.Method == "initialize" {
				seen = true
			}
		}
	}
	return out
}

// exchangesAfterInitialize returns the HTTP requests after the one that
// carried initialize.
func exchangesAfterInitialize(r *ClientRecord) []Exchange {
	for i, ex := range r.Exchanges {
		for _, m := range ex.Messages {
			if m.Method == "initialize" {
				return r.Exchanges[i+1:]
			}
		}
	}
	return nil
}

func describe(ms []*jsonrpc.Message) string {
	if len(ms) == 0 {
		return "(no message)"
	}
	var parts []string
	for _, m := range ms {
		switch {
		case m.Method != "":
			parts = append(parts, m.Method)
		default:
			parts = append(parts, "response "+string(m.ID))
		}
	}
	return strings.Join(parts, "+")
}

func describeInvalid(method string, err error) []string {
	var ve *schemas.ValidationError
	if errors.As(err, &ve) && len(ve.Issues) > 0 {
		var out []string
		for _, is := range ve.Issues {
			out = append(out, fmt.Sprintf("invalid %s: at %s: %s", method, pointer(is.Path), is.Message))
		}
		return out
	}
	return []string{fmt.Sprintf("invalid %s: %v", method, err)}
}

func exitNote(r *ClientRecord) string {
	if r.ExitErr != nil {
		return fmt.Sprintf(" (the program ended: %v)", r.ExitErr)
	}
	return ""
}
