package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/schemas"
)

// Command returns the demo-server command:
//
//	demo-server --revision R [--listen ADDR]
//
// It serves one session on stdin and stdout, or with --listen any number
// of sessions over HTTP (see [ServeHTTP]), and logs to stderr. It stops
// when the command's context ends (the root command cancels it on SIGTERM
// and interrupt).
func Command() *cobra.Command {
	var (
		revision string
		listen   string
		strict   bool
		slow     time.Duration
		verbose  bool
		cacheTTL time.Duration
		scope    string
		issuer   string
		otelAddr string
		otelName string
		profile  string
	)
	cmd := &cobra.Command{
		Use:   "demo-server --revision R [--listen ADDR]",
		Short: "Run a demo MCP server that speaks exactly one revision",
		Long: `demo-server is an MCP server for testing mcpbroker. It speaks exactly one
protocol revision (` + fmt.Sprint(schemas.Names()) + `) and offers tools (echo,
add, sample, elicit, progress, slow, content, roots, touch, ping_client, route),
resources (demo://static/readme, demo://static/logo, demo://items/{id}), the
prompt greet, completions and logging, using only what its revision has.

It serves one session over stdio (newline-delimited JSON on stdin and stdout),
or with --listen ADDR any number of sessions over HTTP: Streamable HTTP at /mcp
(for 2024-11-05 too, which is harmless) and, for 2024-11-05, its own legacy
HTTP+SSE transport at /sse and /messages; /healthz answers 200.

2026-07-28 is stateless: no initialize and no sessions; every request carries
its _meta (protocolVersion, clientCapabilities), server/discover describes the
server, sample/elicit/roots answer with InputRequiredResult (multi round-trip
requests), subscriptions/listen replaces resources/subscribe, list results carry
the caching hints of --cache-ttl and --cache-scope. Over HTTP it
serves the stateless Streamable HTTP transport of 2026-07-28 at /mcp (POST
only, mirrored MCP-Protocol-Version, Mcp-Method and Mcp-Name headers, and the
Mcp-Param-* headers of the route tool's arguments marked with x-mcp-header), and GET
/stats counts the requests received by method. Once listening
it logs msg="demo-server listening" with the address (addr=HOST:PORT; use
--listen 127.0.0.1:0 for a free port). SIGTERM or interrupt stops it.

It logs to stderr. In strict mode (the default) every message it receives is
validated against the revision, and invalid requests are answered with a
JSON-RPC error.

With --otel-endpoint HOST:PORT it is a traced MCP server: every request it
answers gets a SERVER span, exported over OTLP gRPC (without TLS) to that
collector, whose parent is the W3C trace context in the request's
params._meta (what mcpbroker injects), so the server's span joins the
broker's trace. --otel-service-name names it (default demo-server).

With --profile conformance (revisions 2024-11-05 to 2025-11-25) it offers,
instead of its own fixtures, those the server scenarios of the official
conformance suite (@modelcontextprotocol/conformance) expect: the tools
test_simple_text, test_image_content, test_audio_content, ..., the resources
test://static-text, test://static-binary, test://watched-resource and the
template test://template/{id}/data, the prompts test_simple_prompt,
test_prompt_with_arguments, ..., as far as its revision can express them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if revision == "" {
				return fmt.Errorf("demo-server: --revision is required (one of %v)", schemas.Names())
			}
			rev, err := schemas.ParseRevision(revision)
			if err != nil {
				return fmt.Errorf("demo-server: %w", err)
			}
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			opts := []Option{WithLogger(logger), WithStrict(strict), WithSlowTimeout(slow), WithCacheHints(cacheTTL, scope), WithProfile(profile)}
			if otelAddr != "" {
				p, err := telemetry.Setup(ctx, telemetry.Config{
					Exporter: telemetry.ExporterOTLPGRPC, MetricsExporter: telemetry.ExporterNone,
					Endpoint: otelAddr, Insecure: true, ServiceName: otelName,
				})
				if err != nil {
					return fmt.Errorf("demo-server: telemetry: %w", err)
				}
				defer func() {
					sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
					defer cancel()
					if err := p.Shutdown(sctx); err != nil {
						logger.Warn("demo-server: telemetry shutdown", "err", err)
					}
				}()
				opts = append(opts, WithTelemetry(p))
			}
			if issuer != "" {
				if listen == "" {
					return errors.New("demo-server: --require-token-from needs --listen")
				}
				opts = append(opts, WithTokenIssuer(func() string { return issuer }))
			}
			if listen != "" {
				ln, err := net.Listen("tcp", listen)
				if err != nil {
					return fmt.Errorf("demo-server: %w", err)
				}
				return ServeHTTP(ctx, rev, ln, opts...)
			}
			err = ServeStdio(ctx, rev, cmd.InOrStdin(), cmd.OutOrStdout(), opts...)
			if errors.Is(err, context.Canceled) {
				return nil // interrupted: a normal way to stop
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&revision, "revision", "", "MCP revision to speak (required): "+fmt.Sprint(schemas.Names()))
	f.StringVar(&listen, "listen", "", "serve HTTP on this address (host:port, port 0 for any) instead of stdio")
	f.BoolVar(&strict, "strict", true, "validate every message against the revision")
	f.DurationVar(&slow, "slow-timeout", DefaultSlowTimeout, "how long the slow tool waits for its cancellation")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug messages")
	f.DurationVar(&cacheTTL, "cache-ttl", DefaultCacheTTL, "2026-07-28: ttlMs of list results and server/discover (resources/read always says 0)")
	f.StringVar(&scope, "cache-scope", DefaultCacheScope, "2026-07-28: cacheScope of list, read and server/discover results: public or private")
	f.StringVar(&issuer, "require-token-from", "", "with --listen: accept only access tokens this OAuth issuer issued for the server (checked by introspection); answer others 401 with WWW-Authenticate resource_metadata")
	f.StringVar(&otelAddr, "otel-endpoint", "", "export a SERVER span per request over OTLP gRPC (insecure) to this HOST:PORT, continuing the trace in params._meta")
	f.StringVar(&profile, "profile", ProfileDefault, "fixtures to offer: "+ProfileDefault+" (the demo's own) or "+ProfileConformance+" (those the official conformance suite @modelcontextprotocol/conformance expects, up to 2025-11-25)")
	f.StringVar(&otelName, "otel-service-name", "demo-server", "with --otel-endpoint: the service.name of the spans")
	return cmd
}
