package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the broker's tracer and meter.
const ScopeName = "github.com/mcpbroker/mcpbroker/broker/telemetry"

// DefaultServiceName is the service.name when neither Config.ServiceName
// nor OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) set
// one.
const DefaultServiceName = "mcpbroker"

// Exporter selects where traces and metrics go.
type Exporter string

// Exporters.
const (
	// ExporterEnv (empty) takes the exporter from OTEL_TRACES_EXPORTER
	// (otlp, console, none; unset means none) and, for otlp, the protocol
	// from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
	// (grpc or http/protobuf, the default).
	ExporterEnv Exporter = ""
	// ExporterOTLPGRPC sends OTLP over gRPC (default endpoint localhost:4317).
	ExporterOTLPGRPC Exporter = "otlp-grpc"
	// ExporterOTLPHTTP sends OTLP over HTTP with protobuf (default
	// endpoint localhost:4318).
	ExporterOTLPHTTP Exporter = "otlp-http"
	// ExporterStdout writes spans and metrics as JSON to Config.Output.
	ExporterStdout Exporter = "stdout"
	// ExporterNone exports nothing: no spans are created.
	ExporterNone Exporter = "none"
)

// ErrConfig is wrapped by every configuration error of [Setup].
var ErrConfig = errors.New("telemetry: invalid configuration")

// Config configures [Setup]. Every field set here wins over the matching
// OTEL_* environment variable; a zero field lets the variable (read by the
// OpenTelemetry SDK itself) or the default apply.
type Config struct {
	// Exporter of traces; see [Exporter].
	Exporter Exporter
	// MetricsExporter is where metrics are pushed: ExporterNone for none
	// (Prometheus, when on, still serves them; trace-only backends such as
	// Jaeger take no metrics), or the same kind as Exporter (the endpoint,
	// headers and TLS settings are shared). Empty: OTEL_METRICS_EXPORTER
	// (otlp, console, none), else the same as Exporter.
	MetricsExporter Exporter
	// Endpoint of the OTLP collector: "host:port" or a URL
	// ("http://host:4318", "https://collector/otlp"). For otlp-http a URL's
	// path is a base to which /v1/traces and /v1/metrics are appended, as
	// with OTEL_EXPORTER_OTLP_ENDPOINT. An http:// URL implies Insecure.
	// Empty: OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT, else the SDK
	// default.
	Endpoint string
	// Headers sent with every export (authentication). Nil:
	// OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]HEADERS.
	Headers map[string]string
	// Insecure disables TLS towards the endpoint. False lets
	// OTEL_EXPORTER_OTLP_INSECURE or an http:// endpoint decide.
	Insecure bool
	// SampleRatio, when not nil, samples that fraction (0 to 1) of new
	// traces and follows the parent's decision otherwise
	// (ParentBased(TraceIDRatioBased)). Nil: OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG, else parent-based always-on.
	SampleRatio *float64
	// ServiceName is service.name. Empty: OTEL_SERVICE_NAME, else
	// service.name of OTEL_RESOURCE_ATTRIBUTES, else "mcpbroker".
	ServiceName string
	// ServiceVersion is service.version when not empty.
	ServiceVersion string
	// ResourceAttributes are added to the resource; they win over
	// OTEL_RESOURCE_ATTRIBUTES.
	ResourceAttributes map[string]string
	// Prometheus enables the Prometheus handler (Provider.PrometheusHandler)
	// for an admin listener's /metrics, in addition to any exporter.
	Prometheus bool
	// Output receives the stdout exporter's JSON; nil means os.Stderr,
	// since stdout carries the MCP stream when the broker serves stdio.
	Output io.Writer
	// MetricInterval is the period of OTLP and stdout metric exports.
	// Zero: OTEL_METRIC_EXPORT_INTERVAL, else 60 s.
	MetricInterval time.Duration
}

// Provider is the broker's telemetry: a tracer, the metric instruments,
// the optional Prometheus handler, and their shutdown. Its methods are
// safe for concurrent use. A nil *Provider behaves as [Noop].
type Provider struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	tracer   trace.Tracer
	metrics  *Metrics
	prom     http.Handler
	tracing  bool
	metering bool
	closers  []func(context.Context) error
	// ends ends calls in the background (see ender.go).
	ends *ender

	shutdownOnce sync.Once
	shutdownErr  error
}

// Noop returns a Provider with tracing and metrics off. Its helpers cost
// a few nanoseconds and allocate nothing.
func Noop() *Provider {
	tp := tracenoop.NewTracerProvider()
	m, _ := NewMetrics(metricnoop.NewMeterProvider()) // noop instruments cannot fail
	m.enabled = false
	return &Provider{tp: tp, mp: metricnoop.NewMeterProvider(), tracer: tp.Tracer(ScopeName), metrics: m, ends: &ender{}}
}

// NewProvider returns a Provider over providers the caller built and owns
// (Shutdown does not shut them down): tests use it with an SDK
// TracerProvider holding a tracetest.SpanRecorder and a MeterProvider with
// a ManualReader. A nil tp turns tracing off, a nil mp metrics.
func NewProvider(tp trace.TracerProvider, mp metric.MeterProvider) (*Provider, error) {
	p := Noop()
	if tp != nil {
		p.tp, p.tracer, p.tracing = tp, tp.Tracer(ScopeName), true
	}
	if mp != nil {
		m, err := NewMetrics(mp)
		if err != nil {
			return nil, err
		}
		p.mp, p.metrics, p.metering = mp, m, true
	}
	return p, nil
}

// Setup builds the Provider described by cfg and the OTEL_* environment.
// With no exporter and no Prometheus it returns [Noop]. The caller must
// call Shutdown to flush what is buffered.
func Setup(ctx context.Context, cfg Config) (*Provider, error) {
	exp, err := resolveExporter(cfg.Exporter)
	if err != nil {
		return nil, err
	}
	if cfg.SampleRatio != nil && !(*cfg.SampleRatio >= 0 && *cfg.SampleRatio <= 1) {
		return nil, fmt.Errorf("%w: sample ratio %v is not between 0 and 1", ErrConfig, *cfg.SampleRatio)
	}
	metricsExp, err := resolveMetricsExporter(cfg.MetricsExporter, exp)
	if err != nil {
		return nil, err
	}
	if exp == ExporterNone && metricsExp == ExporterNone && !cfg.Prometheus {
		return Noop(), nil
	}
	res, err := buildResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := Noop()
	ok := false
	defer func() {
		if !ok {
			_ = p.Shutdown(context.WithoutCancel(ctx))
		}
	}()

	if exp != ExporterNone {
		se, err := spanExporter(ctx, exp, cfg)
		if err != nil {
			return nil, err
		}
		opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(se), sdktrace.WithResource(res)}
		if cfg.SampleRatio != nil {
			opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*cfg.SampleRatio))))
		}
		tp := sdktrace.NewTracerProvider(opts...)
		p.closers = append(p.closers, tp.Shutdown)
		p.tp, p.tracer, p.tracing = tp, tp.Tracer(ScopeName), true
	}

	var readers []sdkmetric.Option
	if metricsExp != ExporterNone {
		me, err := metricExporter(ctx, metricsExp, cfg)
		if err != nil {
			return nil, err
		}
		var ropts []sdkmetric.PeriodicReaderOption
		if cfg.MetricInterval > 0 {
			ropts = append(ropts, sdkmetric.WithInterval(cfg.MetricInterval))
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, ropts...)))
	}
	if cfg.Prometheus {
		reg := prometheus.NewRegistry()
		pe, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(pe))
		p.prom = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if len(readers) > 0 {
		mp := sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		p.closers = append(p.closers, mp.Shutdown)
		m, err := NewMetrics(mp)
		if err != nil {
			return nil, err
		}
		p.mp, p.metrics, p.metering = mp, m, true
	}
	ok = true
	return p, nil
}

// resolveExporter returns the exporter to use, reading the environment
// for [ExporterEnv].
func resolveExporter(e Exporter) (Exporter, error) {
	switch e {
	case ExporterOTLPGRPC, ExporterOTLPHTTP, ExporterStdout, ExporterNone:
		return e, nil
	case ExporterEnv:
	default:
		return "", fmt.Errorf("%w: exporter %q (want otlp-grpc, otlp-http, stdout or none)", ErrConfig, e)
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return ExporterNone, nil
	}
	switch v := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")); v {
	case "", "none":
		return ExporterNone, nil
	case "console":
		return ExporterStdout, nil
	case "otlp":
		return otlpFromEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	default:
		return "", fmt.Errorf("%w: OTEL_TRACES_EXPORTER %q (want otlp, console or none)", ErrConfig, v)
	}
}

// otlpFromEnv returns the OTLP exporter named by the signal's protocol
// variable, else OTEL_EXPORTER_OTLP_PROTOCOL: grpc or http/protobuf (the
// default).
func otlpFromEnv(signalVar string) (Exporter, error) {
	name, proto := signalVar, strings.TrimSpace(os.Getenv(signalVar))
	if proto == "" {
		name, proto = "OTEL_EXPORTER_OTLP_PROTOCOL", strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	switch proto {
	case "grpc":
		return ExporterOTLPGRPC, nil
	case "", "http/protobuf":
		return ExporterOTLPHTTP, nil
	}
	return "", fmt.Errorf("%w: %s %q (want grpc or http/protobuf)", ErrConfig, name, proto)
}

// resolveMetricsExporter returns the metrics exporter, traces being
// exported with traces.
func resolveMetricsExporter(e, traces Exporter) (Exporter, error) {
	switch e {
	case ExporterOTLPGRPC, ExporterOTLPHTTP, ExporterStdout, ExporterNone:
		return e, nil
	case ExporterEnv:
	default:
		return "", fmt.Errorf("%w: metrics exporter %q (want otlp-grpc, otlp-http, stdout or none)", ErrConfig, e)
	}
	switch v := strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER")); v {
	case "":
		return traces, nil
	case "none":
		return ExporterNone, nil
	case "console":
		return ExporterStdout, nil
	case "otlp":
		return otlpFromEnv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
	default:
		return "", fmt.Errorf("%w: OTEL_METRICS_EXPORTER %q (want otlp, console or none)", ErrConfig, v)
	}
}

// buildResource merges, later winning: service.name=mcpbroker, the SDK's
// telemetry.sdk.*, OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, then
// cfg's attributes and service name and version.
func buildResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	var own []attribute.KeyValue
	for k, v := range cfg.ResourceAttributes {
		own = append(own, attribute.String(k, v))
	}
	if cfg.ServiceName != "" {
		own = append(own, attribute.String("service.name", cfg.ServiceName))
	}
	if cfg.ServiceVersion != "" {
		own = append(own, attribute.String("service.version", cfg.ServiceVersion))
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", DefaultServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
		resource.WithAttributes(own...),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// endpoint splits cfg.Endpoint into host:port, a base path and whether
// the scheme says plain text.
func endpoint(cfg Config) (host, base string, insecure bool, err error) {
	e := strings.TrimSpace(cfg.Endpoint)
	insecure = cfg.Insecure
	if e == "" || !strings.Contains(e, "://") {
		return e, "", insecure, nil
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", "", false, fmt.Errorf("%w: endpoint: %w", ErrConfig, err)
	}
	switch u.Scheme {
	case "http":
		insecure = true
	case "https":
	default:
		return "", "", false, fmt.Errorf("%w: endpoint scheme %q (want http or https)", ErrConfig, u.Scheme)
	}
	if u.Host == "" {
		return "", "", false, fmt.Errorf("%w: endpoint %q has no host", ErrConfig, e)
	}
	return u.Host, u.Path, insecure, nil
}

func spanExporter(ctx context.Context, exp Exporter, cfg Config) (sdktrace.SpanExporter, error) {
	host, base, insecure, err := endpoint(cfg)
	if err != nil {
		return nil, err
	}
	var se sdktrace.SpanExporter
	switch exp {
	case ExporterOTLPGRPC:
		var o []otlptracegrpc.Option
		if host != "" {
			o = append(o, otlptracegrpc.WithEndpoint(host))
		}
		if insecure {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		if cfg.Headers != nil {
			o = append(o, otlptracegrpc.WithHeaders(cfg.Headers))
		}
		se, err = otlptracegrpc.New(ctx, o...)
	case ExporterOTLPHTTP:
		var o []otlptracehttp.Option
		if host != "" {
			o = append(o, otlptracehttp.WithEndpoint(host))
		}
		if base != "" {
			o = append(o, otlptracehttp.WithURLPath(path.Join(base, "v1/traces")))
		}
		if insecure {
			o = append(o, otlptracehttp.WithInsecure())
		}
		if cfg.Headers != nil {
			o = append(o, otlptracehttp.WithHeaders(cfg.Headers))
		}
		se, err = otlptracehttp.New(ctx, o...)
	case ExporterStdout:
		se, err = stdouttrace.New(stdouttrace.WithWriter(output(cfg)))
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s span exporter: %w", exp, err)
	}
	return se, nil
}

func metricExporter(ctx context.Context, exp Exporter, cfg Config) (sdkmetric.Exporter, error) {
	host, base, insecure, err := endpoint(cfg)
	if err != nil {
		return nil, err
	}
	var me sdkmetric.Exporter
	switch exp {
	case ExporterOTLPGRPC:
		var o []otlpmetricgrpc.Option
		if host != "" {
			o = append(o, otlpmetricgrpc.WithEndpoint(host))
		}
		if insecure {
			o = append(o, otlpmetricgrpc.WithInsecure())
		}
		if cfg.Headers != nil {
			o = append(o, otlpmetricgrpc.WithHeaders(cfg.Headers))
		}
		me, err = otlpmetricgrpc.New(ctx, o...)
	case ExporterOTLPHTTP:
		var o []otlpmetrichttp.Option
		if host != "" {
			o = append(o, otlpmetrichttp.WithEndpoint(host))
		}
		if base != "" {
			o = append(o, otlpmetrichttp.WithURLPath(path.Join(base, "v1/metrics")))
		}
		if insecure {
			o = append(o, otlpmetrichttp.WithInsecure())
		}
		if cfg.Headers != nil {
			o = append(o, otlpmetrichttp.WithHeaders(cfg.Headers))
		}
		me, err = otlpmetrichttp.New(ctx, o...)
	case ExporterStdout:
		me, err = stdoutmetric.New(stdoutmetric.WithWriter(output(cfg)))
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s metric exporter: %w", exp, err)
	}
	return me, nil
}

func output(cfg Config) io.Writer {
	if cfg.Output != nil {
		return cfg.Output
	}
	return os.Stderr
}

// TracerProvider returns the provider of the broker's tracer (a no-op one
// when tracing is off).
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil {
		return tracenoop.NewTracerProvider()
	}
	return p.tp
}

// MeterProvider returns the provider of the broker's meter (a no-op one
// when metrics are off).
func (p *Provider) MeterProvider() metric.MeterProvider {
	if p == nil {
		return metricnoop.NewMeterProvider()
	}
	return p.mp
}

// Metrics returns the broker's instruments; never nil (no-op instruments
// when metrics are off).
func (p *Provider) Metrics() *Metrics {
	if p == nil {
		return Noop().metrics
	}
	return p.metrics
}

// PrometheusHandler returns the handler of /metrics in Prometheus text
// format, or nil unless Config.Prometheus was set. It serves only the
// broker's registry, not the process-wide default one. A scrape first
// waits (briefly) for the calls that ended before it to be recorded (see
// [Provider.Sync]), so that it counts them.
func (p *Provider) PrometheusHandler() http.Handler {
	if p == nil || p.prom == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrapeSyncTimeout)
		_ = p.Sync(ctx) // a scrape is never refused: late calls count in the next one
		cancel()
		p.prom.ServeHTTP(w, r)
	})
}

// scrapeSyncTimeout bounds how long a scrape waits for Sync.
const scrapeSyncTimeout = 100 * time.Millisecond

// Tracing reports whether spans are created.
func (p *Provider) Tracing() bool { return p != nil && p.tracing }

// Metering reports whether metrics are recorded.
func (p *Provider) Metering() bool { return p != nil && p.metering }

// Shutdown flushes and stops the exporters Setup created. Later calls
// return the first call's result; a Noop Provider has nothing to stop.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.shutdownOnce.Do(func() {
		var errs []error
		if err := p.ends.close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ending calls: %w", err))
		}
		for _, c := range p.closers {
			if err := c(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			p.shutdownErr = fmt.Errorf("telemetry: shutdown: %w", err)
		}
	})
	return p.shutdownErr
}
