package main

import (
	"context"
	"fmt"
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
// missing Mcp-Session-Id.
func eraMux(legacy, modern http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("MCP-Protocol-Version"); v != "" {
			rev, err := schemas.ParseRevision(v)
			unknown := err != nil && r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == ""
			if unknown || (err == nil && rev.Stateless()) {
				modern.ServeHTTP(w, r)
				return
			}
		}
		legacy.ServeHTTP(w, r)
	})
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
	modern := false
	if msg, err := jsonrpc.Parse(m.Raw); err == nil && msg.Kind == jsonrpc.KindRequest && msg.Method != "initialize" {
		// A stateless revision, or one unknown to the broker (the bridge
		// answers it -32022, 4.L3).
		if pv := translators.Parse(msg.Params).Get("_meta").Get("io.modelcontextprotocol/protocolVersion"); pv.IsString() && pv.Str() != "" {
			rev, err := schemas.ParseRevision(pv.Str())
			modern = err != nil || rev.Stateless()
		}
	}
	return &peekConn{Conn: conn, first: &m}, modern, nil
}
