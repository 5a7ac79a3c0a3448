package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"

	"github.com/mcpbroker/mcpbroker/broker/bridge"
	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// bridgeConfig builds the configuration of the 2026-07-28 bridge (stateless
// clients served from pooled legacy upstream sessions).
func bridgeConfig(cfg serveConfig, rcfg relay.Config, dial func(context.Context) (transport.Conn, error), logger *slog.Logger) (bridge.Config, error) {
	var keys []sealed.Key
	for i, s := range cfg.RequestStateKeys {
		k, err := sealed.KeyFromConfig(s)
		if err != nil {
			return bridge.Config{}, usageErr("--request-state-keys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		k, err := sealed.NewRandomKey()
		if err != nil {
			return bridge.Config{}, err
		}
		keys = append(keys, k)
		logger.Info("no --request-state-keys: requestStates of suspended 2026-07-28 requests use a random key of this process (a retry reaching another replica or a restarted broker is refused)")
	}
	sealer, err := sealed.New(sealed.Options{Keys: keys, MaxAge: cfg.RequestStateTTL, Logger: logger})
	if err != nil {
		return bridge.Config{}, usageErr("request state: %w", err)
	}
	instance := cfg.Instance
	if instance == "" {
		host, _ := os.Hostname()
		instance = host + ":" + strconv.Itoa(os.Getpid())
	}
	bind := cfg.BindHeaders
	if bind == nil {
		bind = []string{}
	}
	return bridge.Config{
		Relay:             rcfg,
		Dial:              dial,
		Sealer:            sealer,
		Instance:          instance,
		MaxLanes:          cfg.BridgeMaxLanes,
		LaneIdleTTL:       cfg.BridgeLaneIdleTTL,
		CredentialHeaders: bind,
	}, nil
}

// eraMux sends the POSTs of 2026-07-28 clients (MCP-Protocol-Version names
// a stateless revision) to modern and everything else to legacy: one /mcp
// endpoint serves both eras (4.T1). A POST outside any session whose
// MCP-Protocol-Version names a revision the broker does not know goes to
// modern too, which answers it UnsupportedProtocolVersionError (-32022,
// HTTP 400) with the request's id and the supported revisions (4.L3), as
// stdioEra does for stdio; the legacy handler could only refuse it for its
// missing Mcp-Session-Id. So does a POST outside any session whose header
// names a legacy revision (or is absent) but whose body is a request other
// than initialize naming a stateless or unknown revision in _meta: modern
// answers the disagreement HeaderMismatchError (-32020, 4.T6) where legacy
// could again only say "missing session". Only such session-less POSTs,
// which in the legacy era are initialize requests, have their body (at most
// maxBody bytes) read ahead.
func eraMux(legacy, modern http.Handler, maxBody int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sessionless := r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == ""
		if v := r.Header.Get("MCP-Protocol-Version"); v != "" {
			rev, err := schemas.ParseRevision(v)
			if (err != nil && sessionless) || (err == nil && rev.Stateless()) {
				modern.ServeHTTP(w, r)
				return
			}
		}
		if sessionless && r.Body != nil && modernBody(r, maxBody) {
			modern.ServeHTTP(w, r)
			return
		}
		legacy.ServeHTTP(w, r)
	})
}

// modernBody reads up to maxBody bytes of r's body ahead, leaves r.Body
// yielding the whole body again, and reports whether it is a request other
// than initialize whose _meta names a stateless or unknown revision (what
// stdioEra looks for in a stdio client's first message).
func modernBody(r *http.Request, maxBody int64) bool {
	if maxBody <= 0 {
		maxBody = defaultMaxMessage
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil || int64(len(head)) > maxBody {
		return false // the handler reports the error or the size
	}
	return modernRequest(head)
}

// modernRequest reports whether raw is a request other than initialize
// whose _meta names a stateless revision or one unknown to the broker.
func modernRequest(raw []byte) bool {
	msg, err := jsonrpc.Parse(raw)
	if err != nil || msg.Kind != jsonrpc.KindRequest || msg.Method == "initialize" {
		return false
	}
	pv := translators.Parse(msg.Params).Get("_meta").Get("io.modelcontextprotocol/protocolVersion")
	if !pv.IsString() || pv.Str() == "" {
		return false
	}
	rev, err := schemas.ParseRevision(pv.Str())
	return err != nil || rev.Stateless()
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// peekConn is a Conn whose first received message was read ahead.
type peekConn struct {
	transport.Conn
	first *transport.Message
}

func (c *peekConn) Recv(ctx context.Context) (transport.Message, error) {
	if m := c.first; m != nil {
		c.first = nil
		return *m, nil
	}
	return c.Conn.Recv(ctx)
}

// stdioEra reads a stdio client's first message and reports whether the
// client speaks 2026-07-28: its first request is not initialize and names
// a stateless revision in _meta (4.L1). The returned Conn yields that
// message again.
func stdioEra(ctx context.Context, conn transport.Conn) (transport.Conn, bool, error) {
	m, err := conn.Recv(ctx)
	if err != nil {
		return conn, false, fmt.Errorf("stdio client: %w", err)
	}
	// A stateless revision, or one unknown to the broker (the bridge
	// answers it -32022, 4.L3).
	modern := modernRequest(m.Raw)
	return &peekConn{Conn: conn, first: &m}, modern, nil
}
