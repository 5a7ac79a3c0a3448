package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboardMatchesMetrics: every metric and label the Grafana
// dashboard queries exists in the broker's /metrics once each instrument
// has been recorded, so a renamed metric cannot leave the dashboard empty.
func TestDashboardMatchesMetrics(t *testing.T) {
	clearEnv(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "observability", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}

	p, err := Setup(context.Background(), Config{Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()
	m := p.Metrics()
	_, in := p.StartServer(ctx, Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"t"}`), Revision: "2024-11-05", Transport: TransportTCP})
	in.End(RPCError(-32602, "x"))
	_, out := p.StartClient(ctx, Op{Method: "tools/call", ID: []byte("1"), Params: []byte(`{"name":"t"}`), Revision: "2025-11-25",
		Transport: TransportTCP, ServerAddress: "up", ServerPort: 1})
	out.End(Failure("timeout", ""))
	for _, side := range []Side{ClientSide, ServerSide} {
		s := Session{Side: side, Revision: "2024-11-05", Transport: TransportTCP, ServerAddress: "up"}
		m.SessionStarted(ctx, &s)
		m.SessionEnded(ctx, &s, time.Second, "")
	}
	m.TranslationDone(ctx, "a", "b", "forward")
	m.ValidationFailed(ctx, ClientSide, "2024-11-05")
	m.UpstreamError(ctx, "up", "timeout")
	m.UpstreamRestarted(ctx, "up")
	m.CacheLookup(ctx, "tools/list", true)
	m.CacheLookup(ctx, "tools/list", false)
	rr := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rr.Body)
	exposition := string(body)

	metricRE := regexp.MustCompile(`\b((?:mcp|mcpbroker)_[a-z_]+)\{`) // every query selects by job
	labelRE := regexp.MustCompile(`(?:by \(|[{,] ?)([a-z_]+)(?:[,)]|=~|!=|=)`)
	exprs := 0
	for _, panel := range dash.Panels {
		if len(panel.Targets) == 0 {
			t.Errorf("panel %q has no query", panel.Title)
		}
		for _, target := range panel.Targets {
			exprs++
			names := metricRE.FindAllStringSubmatch(target.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %s", panel.Title, target.Expr)
			}
			for _, sub := range names {
				name := sub[1]
				if !strings.Contains(exposition, "\n"+name+"{") {
					t.Errorf("panel %q: no series %s", panel.Title, name)
				}
			}
			for _, sub := range labelRE.FindAllStringSubmatch(target.Expr, -1) {
				label := sub[1]
				if label == "job" || label == "by" {
					continue // added by the Prometheus scrape
				}
				if !strings.Contains(exposition, label+`="`) {
					t.Errorf("panel %q: no label %s", panel.Title, label)
				}
			}
		}
	}
	if exprs < 10 {
		t.Errorf("only %d queries in the dashboard", exprs)
	}
}
