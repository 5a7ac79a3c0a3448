package promql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
)

// dashboard is the part of the Grafana dashboard model the test reads.
type dashboard struct {
	Templating struct {
		List []struct {
			Name     string `json:"name"`
			Query    string `json:"query"`
			AllValue string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
}

// Scrapes of the test: every scrapeInterval of simulated time, for
// scrapes scrapes, as Prometheus would scrape the admin listener; the
// panels are evaluated at the last one with $__rate_interval = 1m.
const (
	scrapes        = 9
	scrapeInterval = 15 * time.Second
	rateInterval   = "1m"
	job            = "mcpbroker"
)

// TestDashboardQueries records a broker's workload with the telemetry
// package (every instrument the dashboard reads), scrapes its Prometheus
// handler as a Prometheus server would (adding job and instance), stores
// the samples in a Prometheus TSDB, and evaluates every panel query (and
// the job variable's) with the PromQL engine, with the variable set to
// All and to the job: each must return series with finite values and the
// labels its legend shows.
func TestDashboardQueries(t *testing.T) {
	for _, env := range []string{"OTEL_METRICS_EXPORTER", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED"} {
		t.Setenv(env, "")
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "observability", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}

	p, err := telemetry.Setup(t.Context(), telemetry.Config{Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	store := teststorage.New(t)
	t.Cleanup(func() { _ = store.Close() })

	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var at time.Time
	for i := range scrapes {
		workload(t, p, i)
		at = start.Add(time.Duration(i) * scrapeInterval)
		if err := ingest(t, store, scrape(t, p), at); err != nil {
			t.Fatalf("scrape %d: %v", i, err)
		}
	}

	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute})
	eval := func(expr string) (promql.Vector, error) {
		q, err := engine.NewInstantQuery(t.Context(), store, nil, expr, at)
		if err != nil {
			return nil, err
		}
		defer q.Close()
		res := q.Exec(t.Context())
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Vector()
	}

	// The job variable: Grafana's label_values(METRIC, job) lists the job
	// label of METRIC's series.
	var jobVar string
	for _, v := range dash.Templating.List {
		if v.Name != "job" {
			continue
		}
		m := regexp.MustCompile(`^label_values\(([a-z_]+), job\)$`).FindStringSubmatch(v.Query)
		if m == nil {
			t.Fatalf("job variable query %q: want label_values(METRIC, job)", v.Query)
		}
		vec, err := eval("count by (job) (" + m[1] + ")")
		if err != nil || len(vec) != 1 || vec[0].Metric.Get("job") != job {
			t.Fatalf("job variable: label_values over %s gave %v (%v), want the job %q", m[1], vec, err, job)
		}
		jobVar = v.AllValue
	}
	if jobVar == "" {
		t.Fatal("the dashboard has no job variable with an All value")
	}

	queries := 0
	legendRE := regexp.MustCompile(`\{\{ *([a-zA-Z_]+) *\}\}`)
	for _, panel := range dash.Panels {
		for _, target := range panel.Targets {
			queries++
			for _, jobValue := range []string{jobVar, job} {
				expr := strings.NewReplacer("$__rate_interval", rateInterval, "$job", jobValue).Replace(target.Expr)
				vec, err := eval(expr)
				switch {
				case err != nil:
					t.Errorf("panel %q, job=~%q: %s: %v", panel.Title, jobValue, expr, err)
					continue
				case len(vec) == 0:
					t.Errorf("panel %q, job=~%q: no series from %s", panel.Title, jobValue, expr)
					continue
				}
				for _, s := range vec {
					if math.IsNaN(s.F) || math.IsInf(s.F, 0) || s.H != nil {
						t.Errorf("panel %q: %s = %v for %s", panel.Title, s.Metric, s.F, expr)
					}
					for _, l := range legendRE.FindAllStringSubmatch(target.LegendFormat, -1) {
						if s.Metric.Get(l[1]) == "" {
							t.Errorf("panel %q: legend %q shows %s, absent from series %s of %s", panel.Title, target.LegendFormat, l[1], s.Metric, expr)
						}
					}
				}
			}
		}
	}
	if queries < 10 {
		t.Errorf("only %d queries in the dashboard", queries)
	}
	t.Logf("%d queries evaluated over %d scrapes", queries, scrapes)
}

// workload records, for scrape i, what a broker in front of two upstreams
// does in a scrape interval: calls answered and failed on both sides,
// sessions started and ended, translations, validation failures, upstream
// errors and restarts, cache hits and misses. Every series the dashboard
// reads moves in every interval, so that its rates are not zero.
func workload(t *testing.T, p *telemetry.Provider, i int) {
	t.Helper()
	ctx := context.Background()
	m := p.Metrics()
	for k := range 10 + i {
		method, params := "tools/call", `{"name":"get-weather"}`
		if k%3 == 1 {
			method, params = "tools/list", `{}`
		}
		up := "weather.internal"
		if k%2 == 1 {
			up = "files.internal"
		}
		r := telemetry.Result{}
		switch k % 5 {
		case 3:
			r = telemetry.RPCError(-32602, "invalid params")
		case 4:
			r = telemetry.ToolError("")
		}
		sctx, in := p.StartServer(ctx, telemetry.Op{Method: method, ID: []byte("1"), Params: []byte(params), Revision: "2024-11-05",
			Transport: telemetry.TransportTCP, ProtocolName: "http", ProtocolVersion: "1.1"})
		_, out := p.StartClient(sctx, telemetry.Op{Method: method, ID: []byte("1"), Params: []byte(params), Revision: "2025-11-25",
			Transport: telemetry.TransportTCP, ProtocolName: "http", ProtocolVersion: "1.1", ServerAddress: up, ServerPort: 8080})
		out.End(r)
		in.End(r)
		m.TranslationDone(ctx, "2024-11-05", "2025-11-25", "forward")
		m.TranslationDone(ctx, "2025-11-25", "2024-11-05", "forward")
	}
	for _, side := range []telemetry.Side{telemetry.ClientSide, telemetry.ServerSide} {
		s := telemetry.Session{Side: side, Revision: "2024-11-05", Transport: telemetry.TransportTCP, ServerAddress: "weather.internal"}
		m.SessionStarted(ctx, &s)
		if i > 0 { // one session of each side stays open
			m.SessionEnded(ctx, &s, time.Duration(i)*time.Second, "")
		}
	}
	m.ValidationFailed(ctx, telemetry.ClientSide, "2024-11-05")
	m.UpstreamError(ctx, "weather.internal", "timeout")
	m.UpstreamRestarted(ctx, "weather.internal")
	m.CacheLookup(ctx, "tools/list", true)
	m.CacheLookup(ctx, "tools/list", true)
	m.CacheLookup(ctx, "tools/list", false)
}

// scrape returns the Prometheus handler's exposition in text format.
func scrape(t *testing.T, p *telemetry.Provider) []byte {
	t.Helper()
	rr := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	p.PrometheusHandler().ServeHTTP(rr, req)
	if rr.Code != 200 {
		t.Fatalf("GET /metrics: %d", rr.Code)
	}
	b, err := io.ReadAll(rr.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ingest parses an exposition as Prometheus's scraper does and appends
// its samples at time at, with the job and instance labels a scrape adds.
func ingest(t *testing.T, store *teststorage.TestStorage, exposition []byte, at time.Time) error {
	t.Helper()
	app := store.Appender(t.Context())
	parser := textparse.NewPromParser(exposition, labels.NewSymbolTable(), false)
	n := 0
	for {
		entry, err := parser.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		if entry != textparse.EntrySeries {
			continue
		}
		_, _, v := parser.Series()
		var ls labels.Labels
		parser.Labels(&ls)
		b := labels.NewBuilder(ls)
		b.Set("job", job)
		b.Set("instance", "127.0.0.1:9464")
		if _, err := app.Append(0, b.Labels(), at.UnixMilli(), v); err != nil {
			return fmt.Errorf("append %s: %w", ls, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no samples")
	}
	return app.Commit()
}
