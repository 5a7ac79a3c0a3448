package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/mcpbroker/mcpbroker/broker/bridge"
	"github.com/mcpbroker/mcpbroker/broker/cache"
	"github.com/mcpbroker/mcpbroker/broker/relay"
	"github.com/mcpbroker/mcpbroker/broker/sealed"
	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/broker/upstream"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// upstreamWorkerIdle is how long a goroutine of the upstream POST
// exchanges waits, idle, for the next exchange before it exits.
const upstreamWorkerIdle = 30 * time.Second

// serveConfig is the configuration of `mcpbroker serve`, from flags, a
// YAML file (--config) and MCPBROKER_* environment variables, in viper's
// order of precedence (flag > env > file > default).
type serveConfig struct {
	Config           string        `mapstructure:"config"` // the --config flag itself
	Listen           string        `mapstructure:"listen"`
	Stdio            bool          `mapstructure:"stdio"`
	UpstreamCmd      string        `mapstructure:"upstream-cmd"`
	UpstreamURL      string        `mapstructure:"upstream-url"`
	UpstreamSSEURL   string        `mapstructure:"upstream-sse-url"`
	UpstreamRevision string        `mapstructure:"upstream-revision"`
	UpstreamMode     string        `mapstructure:"upstream-mode"`
	UpstreamMax      int           `mapstructure:"upstream-max"`
	UpstreamSpare    int           `mapstructure:"upstream-spare"`
	ClientValidation string        `mapstructure:"client-validation"`
	ServerValidation string        `mapstructure:"server-validation"`
	MaxMessageSize   int           `mapstructure:"max-message-size"`
	AllowedOrigins   []string      `mapstructure:"allowed-origins"`
	SessionIdleTTL   time.Duration `mapstructure:"session-idle-ttl"`
	MaxSessions      int           `mapstructure:"max-sessions"`
	BindHeaders      []string      `mapstructure:"session-bind-headers"`
	RequestTimeout   time.Duration `mapstructure:"request-timeout"`
	KeepAlive        time.Duration `mapstructure:"keep-alive"`
	ShutdownTimeout  time.Duration `mapstructure:"shutdown-timeout"`
	LogLevel         string        `mapstructure:"log-level"`

	RequestStateKeys  []string      `mapstructure:"request-state-keys"`
	RequestStateTTL   time.Duration `mapstructure:"request-state-ttl"`
	Instance          string        `mapstructure:"instance"`
	BridgeMaxLanes    int           `mapstructure:"bridge-max-lanes"`
	BridgeLaneIdleTTL time.Duration `mapstructure:"bridge-lane-idle-ttl"`

	Cache         string        `mapstructure:"cache"`
	CacheMaxBytes int64         `mapstructure:"cache-max-bytes"`
	CacheMaxTTL   time.Duration `mapstructure:"cache-max-ttl"`

	UpstreamOAuthConfig `mapstructure:",squash"` // oauth.go
	Telemetry           telemetryConfig          `mapstructure:",squash"` // telemetry.go
}

// demoRevision is the revision of the built-in demo server that serve
// fronts when no upstream is configured.
const demoRevision = "2024-11-05"

func newServeCmd() *cobra.Command {
	cmd, _ := newServeCmdViper()
	return cmd
}

// newServeCmdViper returns the serve command and the viper instance its
// flags are bound to.
func newServeCmdViper() (*cobra.Command, *viper.Viper) {
	v := viper.New()
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker in front of an MCP server",
		Long: `Serve runs the broker: clients of any MCP revision connect to it (Streamable HTTP
at /mcp, the legacy HTTP+SSE transport of 2024-11-05 at /sse and /messages, or stdio
with --stdio) and reach the upstream server, whatever its revision, through validation
and translation.

Upstream: --upstream-cmd "CMD ARGS" (a child process over stdio), --upstream-url URL
(Streamable HTTP) or --upstream-sse-url URL (legacy HTTP+SSE). With none, serve fronts
the built-in demo server at 2024-11-05. --upstream-mode per-session (default) gives
each client session its own upstream session (child process), with --upstream-spare
children started ahead and at most --upstream-max at once; shared serves every client
session with one (only for servers that keep no per-client state). A lost upstream is
restarted by the next request of its session.

--upstream-revision pins the server's revision (2026-07-28 selects the stateless bridge).
auto finds out the server's era: the broker sends server/discover first and uses the
stateless bridge when the server lists 2026-07-28, else initializes it as a legacy server
(over stdio on the same process; over --upstream-url the probe is a 2026 POST and a legacy
server then gets the legacy Streamable HTTP client).

With --upstream-revision 2026-07-28, list and read results that carry caching hints
(ttlMs, cacheScope) are kept in a response cache shared by all sessions and repeated
requests are answered from it (--cache on, the default): "public" results serve
everyone, "private" ones only sessions bound to the same credentials.

Every flag can also be set in the YAML file given with --config (same names) or in
an environment variable MCPBROKER_<FLAG> (upper case, '-' as '_'), for example
MCPBROKER_UPSTREAM_CMD.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServeConfig(v, configFile)
			if err != nil {
				return err
			}
			return runServe(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML configuration file")
	f.String("listen", "127.0.0.1:8080", "HTTP listen address: Streamable HTTP at /mcp, legacy HTTP+SSE at /sse and /messages")
	f.Bool("stdio", false, "serve one client over stdin/stdout instead of HTTP")
	f.String("upstream-cmd", "", "run the MCP server as a child process over stdio (one per client session)")
	f.String("upstream-url", "", "the MCP server's Streamable HTTP endpoint")
	f.String("upstream-sse-url", "", "the MCP server's legacy HTTP+SSE endpoint")
	f.String("upstream-revision", "", "pin the server's revision, or auto: probe with server/discover and use 2026-07-28 or, for a legacy server, initialize (default: negotiate a legacy revision, offering the newest)")
	f.String("upstream-mode", "per-session", "per-session: an upstream session (a child process for --upstream-cmd) per client session; shared: one for all (only for servers that keep no per-client state)")
	f.Int("upstream-max", 0, "most upstream sessions at once (per-session) or clients of the shared one (shared); beyond it initialize fails (0: no limit)")
	f.Int("upstream-spare", 1, "pre-started child processes kept ready for new sessions (per-session mode, --upstream-cmd only)")
	f.String("client-validation", "strict", "validation of client messages: strict, warn or off")
	f.String("server-validation", "warn", "validation of server messages: strict, warn or off")
	f.Int("max-message-size", defaultMaxMessage, "largest message accepted, in bytes (HTTP bodies over it get 413)")
	f.StringSlice("allowed-origins", nil, "Origin values accepted on HTTP (default: none but requests without Origin and loopback origins)")
	f.Duration("session-idle-ttl", 30*time.Minute, "close client sessions idle this long (0: never)")
	f.Int("max-sessions", 10000, "most client sessions at once; beyond it the least recently used idle session is closed")
	f.StringSlice("session-bind-headers", []string{"Authorization"}, "request headers a client session is bound to (a later request with other values gets 403); empty: no binding")
	f.Duration("request-timeout", 0, "fail requests the server has not answered in this time (0: none)")
	f.Duration("keep-alive", 15*time.Second, "interval of SSE keep-alive comments on quiet streams, so that proxies keep them open (REVISIONS.md 4.T7; 0: none)")
	f.Duration("shutdown-timeout", 10*time.Second, "on SIGTERM, how long to drain in-flight requests")
	f.String("log-level", "info", "log level: debug, info, warn or error")
	f.StringSlice("request-state-keys", nil, "secrets (32 bytes, hex or base64) sealing the requestState of suspended 2026-07-28 requests: the first seals, all open (rotation); replicas share them (default: a random key per process)")
	f.Duration("request-state-ttl", sealed.DefaultMaxAge, "how long a 2026-07-28 client may take to retry a request that needs input")
	f.String("instance", "", "this replica's name in requestStates, for sticky routing of retries (default: host:pid)")
	f.Int("bridge-max-lanes", bridge.DefaultMaxLanes, "most pooled upstream sessions serving 2026-07-28 clients (one per credentials and client capabilities)")
	f.Duration("bridge-lane-idle-ttl", bridge.DefaultLaneIdleTTL, "close a pooled upstream session of 2026-07-28 clients idle this long")
	f.String("cache", "on", "answer repeated list and read requests to a 2026-07-28 server from a cache that honours its ttlMs and cacheScope (private results only within one principal): on or off")
	f.Int64("cache-max-bytes", cache.DefaultMaxBytes, "most bytes the response cache holds (least recently used entries go first)")
	f.Duration("cache-max-ttl", cache.DefaultMaxTTL, "longest time a result stays in the response cache, whatever its ttlMs says")
	addOAuthFlags(f)
	addTelemetryFlags(f)
	if err := v.BindPFlags(f); err != nil {
		panic(err) // only on programming errors: every flag exists
	}
	v.SetEnvPrefix("MCPBROKER")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	return cmd, v
}

// loadServeConfig reads the configuration file (if any) into v and
// decodes v's settings. A key that names no setting (a typo in the file)
// is an error rather than silently ignored.
func loadServeConfig(v *viper.Viper, file string) (serveConfig, error) {
	var cfg serveConfig
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return cfg, usageErr("--config: %w", err)
		}
	}
	if err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) { dc.ErrorUnused = true }); err != nil {
		return cfg, usageErr("configuration: %w", err)
	}
	return cfg, nil
}

func parseMode(name, s string) (relay.Mode, error) {
	switch s {
	case "strict":
		return relay.Strict, nil
	case "warn":
		return relay.Warn, nil
	case "off":
		return relay.Off, nil
	}
	return 0, usageErr("--%s must be strict, warn or off, not %q", name, s)
}

func runServe(cmd *cobra.Command, cfg serveConfig) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return usageErr("--log-level: %w", err)
	}
	logger := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})))
	tel, stopTelemetry, err := startTelemetry(cmd.Context(), cfg.Telemetry, logger)
	if err != nil {
		return err
	}
	defer stopTelemetry()
	audit, err := openAudit(cfg.Telemetry, cfg.Stdio)
	if err != nil {
		return err
	}
	defer func() {
		if err := audit.Close(); err != nil {
			logger.Warn("closing the audit sink", "err", err)
		}
	}()
	rcfg := relay.Config{Logger: logger, RequestTimeout: cfg.RequestTimeout, Telemetry: tel, LogPayloads: cfg.Telemetry.LogPayloads, Audit: audit}
	if rcfg.ClientValidation, err = parseMode("client-validation", cfg.ClientValidation); err != nil {
		return err
	}
	if rcfg.ServerValidation, err = parseMode("server-validation", cfg.ServerValidation); err != nil {
		return err
	}
	switch cfg.UpstreamRevision {
	case "":
	case revisionAuto:
		// 4.L3: server/discover first, initialize if it is a legacy server.
		rcfg.UpstreamAuto = true
	default:
		if rcfg.UpstreamRevision, err = schemas.ParseRevision(cfg.UpstreamRevision); err != nil {
			return usageErr("--upstream-revision: %w (or %s)", err, revisionAuto)
		}
	}
	if rcfg.Validator, err = schemas.NewValidator(); err != nil {
		return err
	}
	start, legacyStart, describe, isCmd, err := upstreamStarter(cfg, logger)
	if err != nil {
		return err
	}
	respCache, err := newResponseCache(cfg)
	if err != nil {
		return err
	}
	if respCache != nil {
		rcfg.Cache, rcfg.CacheUpstream = respCache, describe
		defer logCacheStats(logger, respCache)
	}
	mode, err := upstream.ParseMode(cfg.UpstreamMode)
	if err != nil {
		return usageErr("--upstream-mode: %w", err)
	}
	spare := cfg.UpstreamSpare
	if !isCmd || cfg.Stdio || mode == upstream.Shared {
		spare = 0 // dialing HTTP costs nothing; one stdio client needs no spare
	}
	if cfg.UpstreamMax > 0 {
		spare = min(spare, cfg.UpstreamMax)
	}
	pool, err := upstream.New(start, upstream.Options{Mode: mode, Max: cfg.UpstreamMax, Spare: spare, Logger: logger})
	if err != nil {
		return usageErr("upstream: %w", err)
	}
	defer pool.Close()
	if legacyStart != nil {
		// auto over HTTP: the 2026 client probes; a legacy server gets
		// the legacy client, from a pool of its own. The origin's era is
		// remembered for the next sessions.
		legacyPool, err := upstream.New(legacyStart, upstream.Options{Mode: mode, Max: cfg.UpstreamMax, Logger: logger})
		if err != nil {
			return usageErr("upstream: %w", err)
		}
		defer legacyPool.Close()
		rcfg.LegacyDial = legacyPool.Dial
		rcfg.Eras = &relay.EraCache{}
	}
	dial := pool.Dial
	ctx := cmd.Context()
	bcfg, err := bridgeConfig(cfg, rcfg, dial, logger)
	if err != nil {
		return err
	}
	if cfg.Stdio {
		logger.Info("serving one client over stdio", "upstream", describe)
		var conn transport.Conn = transport.NewStdio(cmd.InOrStdin(), nopWriteCloser{cmd.OutOrStdout()}, cfg.MaxMessageSize)
		defer conn.Close()
		conn, modern, err := stdioEra(ctx, conn)
		if err != nil {
			return err
		}
		if modern {
			logger.Info("the stdio client speaks 2026-07-28: serving it from pooled upstream sessions")
			return bridge.Serve(ctx, conn, bcfg)
		}
		return relay.Run(ctx, conn, dial, rcfg)
	}
	return serveHTTP(ctx, cfg, rcfg, bcfg, dial, describe, logger)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// revisionAuto is the --upstream-revision that detects the upstream's era.
const revisionAuto = "auto"

// upstreamStarter returns how to start an upstream session, how to start a
// legacy one after an auto probe found a legacy server when that differs
// (--upstream-url: the 2026 client probes, the legacy client initializes;
// nil otherwise), a description for the logs, and whether it starts a
// child process.
func upstreamStarter(cfg serveConfig, logger *slog.Logger) (start, legacyStart upstream.StartFunc, describe string, isCmd bool, err error) {
	n := 0
	for _, s := range []string{cfg.UpstreamCmd, cfg.UpstreamURL, cfg.UpstreamSSEURL} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, nil, "", false, usageErr("give at most one of --upstream-cmd, --upstream-url, --upstream-sse-url")
	}
	if cfg.UpstreamSSEURL != "" && cfg.UpstreamRevision == revisionAuto {
		return nil, nil, "", false, usageErr("--upstream-revision %s probes stdio and Streamable HTTP servers; HTTP+SSE (--upstream-sse-url) is 2024-11-05's", revisionAuto)
	}
	// LazyGET: an upstream Streamable HTTP session opens its GET stream
	// only once the client listens (an idle session without a listening
	// client holds no upstream stream). Workers: the POST exchanges of all
	// upstream sessions run on shared, reused goroutines.
	opts := &transport.ClientOptions{Logger: logger, LazyGET: true, Workers: transport.NewWorkers(upstreamWorkerIdle)}
	if opts.HTTPClient, err = upstreamHTTPClient(cfg.UpstreamOAuthConfig, cfg.UpstreamURL != "" || cfg.UpstreamSSEURL != "", logger); err != nil {
		return nil, nil, "", false, err
	}
	dial2026 := func(ctx context.Context) (transport.Conn, error) {
		return transport.DialHTTP2026(ctx, cfg.UpstreamURL, opts)
	}
	dialLegacy := func(ctx context.Context) (transport.Conn, error) {
		return transport.DialHTTP(ctx, cfg.UpstreamURL, opts)
	}
	switch {
	case cfg.UpstreamURL != "" && cfg.UpstreamRevision == "2026-07-28":
		// The stateless Streamable HTTP of 2026-07-28 (4.T1-4.T8).
		return dial2026, nil, "streamable-http (2026-07-28) " + cfg.UpstreamURL, false, nil
	case cfg.UpstreamURL != "" && cfg.UpstreamRevision == revisionAuto:
		// 4.L3: the probe is a 2026 POST; a legacy server answers 400 or
		// a JSON-RPC error, and gets the legacy transport then.
		return dial2026, dialLegacy, "streamable-http (era detected) " + cfg.UpstreamURL, false, nil
	case cfg.UpstreamURL != "":
		return dialLegacy, nil, "streamable-http " + cfg.UpstreamURL, false, nil
	case cfg.UpstreamSSEURL != "":
		return func(ctx context.Context) (transport.Conn, error) {
			return transport.DialSSE(ctx, cfg.UpstreamSSEURL, opts)
		}, nil, "http+sse " + cfg.UpstreamSSEURL, false, nil
	}
	argv := strings.Fields(cfg.UpstreamCmd)
	describe = "stdio " + cfg.UpstreamCmd
	if len(argv) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, nil, "", false, fmt.Errorf("find the built-in demo server: %w", err)
		}
		argv = []string{self, "demo-server", "--revision", demoRevision}
		describe = "built-in demo server " + demoRevision + " (stdio)"
	}
	// auto over stdio probes the very process it then initializes.
	cmd := &transport.Command{Argv: argv, MaxSize: cfg.MaxMessageSize, Logger: logger}
	return cmd.Start, nil, describe, true, nil
}

// serveHTTP serves Streamable HTTP at /mcp and legacy HTTP+SSE at /sse and
// /messages until ctx ends, then drains.
func serveHTTP(ctx context.Context, cfg serveConfig, rcfg relay.Config, bcfg bridge.Config, dial func(context.Context) (transport.Conn, error), describe string, logger *slog.Logger) error {
	bind := cfg.BindHeaders
	if bind == nil {
		bind = []string{} // configured empty: no binding
	}
	hs := transport.NewHTTPServer(&transport.HTTPServerOptions{
		AllowedOrigins: cfg.AllowedOrigins,
		MaxBodySize:    int64(cfg.MaxMessageSize),
		IdleTimeout:    cfg.SessionIdleTTL,
		MaxSessions:    cfg.MaxSessions,
		BindHeaders:    bind,
		KeepAlive:      cfg.KeepAlive,
		Logger:         logger,
	})
	ss := transport.NewSSEServer(&transport.SSEServerOptions{
		Endpoint:       "/messages",
		AllowedOrigins: cfg.AllowedOrigins,
		MaxBodySize:    int64(cfg.MaxMessageSize),
		IdleTimeout:    cfg.SessionIdleTTL,
		MaxSessions:    cfg.MaxSessions,
		BindHeaders:    bind,
		KeepAlive:      cfg.KeepAlive,
		Logger:         logger,
	})
	keepAlive26 := cfg.KeepAlive
	if keepAlive26 <= 0 {
		keepAlive26 = -1 // off (zero would mean the transport's default)
	}
	hs26 := transport.NewHTTP2026Server(&transport.HTTP2026ServerOptions{
		AllowedOrigins: cfg.AllowedOrigins,
		MaxBodySize:    int64(cfg.MaxMessageSize),
		KeepAlive:      keepAlive26,
		Logger:         logger,
	})
	var inflight atomic.Int64
	rcfg.Inflight = &inflight
	bcfg.Relay.Inflight = &inflight
	mux := http.NewServeMux()
	mux.Handle("/mcp", eraMux(hs, hs26, int64(cfg.MaxMessageSize)))
	mux.Handle("/sse", ss)
	mux.Handle("/messages", ss)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("listen: %w", err)}
	}
	// IdleTimeout closes keep-alive connections idle between requests
	// (streams in progress are not idle).
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	logger.Info("mcpbroker listening", "addr", ln.Addr().String(),
		"streamable_http", "http://"+ln.Addr().String()+"/mcp", "legacy_sse", "http://"+ln.Addr().String()+"/sse",
		"upstream", describe)

	sessCtx, stopSessions := context.WithCancel(context.Background())
	defer stopSessions()
	var sessions sync.WaitGroup
	accept := func(name string, accept func(context.Context) (transport.Conn, error)) {
		for {
			conn, err := accept(sessCtx)
			if err != nil {
				return
			}
			sessions.Add(1)
			go func() {
				defer sessions.Done()
				defer conn.Close()
				logger.Info("session started", "transport", name)
				err := relay.Run(sessCtx, conn, dial, rcfg)
				logger.Info("session ended", "transport", name, "err", err)
			}()
		}
	}
	go accept("streamable-http", hs.Accept)
	go accept("http+sse", ss.Accept)
	sessions.Add(1)
	go func() {
		// 2026-07-28 clients: one Conn for the endpoint, served by the
		// bridge until shutdown.
		defer sessions.Done()
		conn, err := hs26.Accept(sessCtx)
		if err != nil {
			return
		}
		defer conn.Close()
		err = bridge.Serve(sessCtx, conn, bcfg)
		logger.Debug("2026-07-28 bridge ended", "err", err)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// Drain: stop taking new connections, let the requests in flight
	// finish for up to the shutdown timeout, then end every session (the
	// relay answers what is still pending with an error) and wait for the
	// handlers to write those answers.
	logger.Info("shutting down", "in_flight", inflight.Load(), "timeout", cfg.ShutdownTimeout)
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	deadline := time.NewTimer(cfg.ShutdownTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	drained := true
wait:
	for inflight.Load() > 0 {
		select {
		case <-deadline.C:
			drained = false
			break wait
		case <-tick.C:
		}
	}
	if !drained {
		logger.Warn("drain timed out; answering the requests still in flight with an error", "in_flight", inflight.Load())
	}
	stopSessions()
	sessions.Wait()
	hs.Close()
	ss.Close()
	hs26.Close()
	select {
	case err = <-stopped:
	case <-time.After(handlerGrace):
		logger.Warn("HTTP handlers still running after the sessions closed; closing connections")
		err = srv.Close()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	logger.Info("stopped")
	return err
}

// handlerGrace is how long the shutdown waits, once every session is
// closed, for HTTP handlers to write their last answers.
const handlerGrace = 2 * time.Second
