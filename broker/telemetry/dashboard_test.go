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

// TestDashboardModel checks the parts of the Grafana dashboard model that
// an import relies on: the datasource input that every panel, query and
// variable uses, unique panel ids, panels inside the 24-column grid that
// do not overlap, and a unique refId per query of a panel. (The queries
// themselves are evaluated by Prometheus's engine in tools/promql.)
func TestDashboardModel(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "observability", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	}
	var dash struct {
		Inputs []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			PluginID string `json:"pluginId"`
		} `json:"__inputs"`
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name       string     `json:"name"`
				Datasource datasource `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int                      `json:"id"`
			Type       string                   `json:"type"`
			Title      string                   `json:"title"`
			Datasource datasource               `json:"datasource"`
			GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
			Targets    []struct {
				RefID      string     `json:"refId"`
				Datasource datasource `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("dashboard uid %q, title %q: both are needed", dash.UID, dash.Title)
	}
	if len(dash.Inputs) != 1 || dash.Inputs[0].Type != "datasource" || dash.Inputs[0].PluginID != "prometheus" {
		t.Fatalf("__inputs %+v: want one Prometheus datasource input", dash.Inputs)
	}
	want := datasource{Type: "prometheus", UID: "${" + dash.Inputs[0].Name + "}"}
	for _, v := range dash.Templating.List {
		if v.Datasource != want {
			t.Errorf("variable %q: datasource %+v, want %+v", v.Name, v.Datasource, want)
		}
	}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "" || p.Datasource != want {
			t.Errorf("panel %q: type %q, datasource %+v; want a type and %+v", p.Title, p.Type, p.Datasource, want)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
	cells:
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					t.Errorf("panel %q overlaps panel %q at (%d,%d)", p.Title, other, x, y)
					break cells
				}
				taken[cell{x, y}] = p.Title
			}
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if q.RefID == "" || refs[q.RefID] {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			if q.Datasource != want {
				t.Errorf("panel %q, query %s: datasource %+v, want %+v", p.Title, q.RefID, q.Datasource, want)
			}
		}
	}
}
