package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAdminHandler(t *testing.T) {
	clearEnv(t)
	prom, err := Setup(context.Background(), Config{Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	defer prom.Shutdown(context.Background())
	prom.Metrics().UpstreamRestarted(context.Background(), "demo")
	notReady := func(context.Context) error { return errors.New("upstream down") }
	tests := []struct {
		name     string
		p        *Provider
		ready    func(context.Context) error
		method   string
		path     string
		wantCode int
		wantBody string
	}{
		{"metrics", prom, nil, "GET", "/metrics", 200, "mcpbroker_upstream_restarts_total"},
		{"metrics off", Noop(), nil, "GET", "/metrics", 404, ""},
		{"healthz", Noop(), notReady, "GET", "/healthz", 200, "ok"},
		{"readyz without check", Noop(), nil, "GET", "/readyz", 200, "ready"},
		{"readyz ready", Noop(), func(context.Context) error { return nil }, "GET", "/readyz", 200, "ready"},
		{"readyz not ready", Noop(), notReady, "GET", "/readyz", 503, "not ready: upstream down"},
		{"readyz gets a deadline", Noop(), func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return nil
		}, "GET", "/readyz", 200, "ready"},
		{"POST refused", Noop(), nil, "POST", "/healthz", 405, ""},
		{"unknown path", Noop(), nil, "GET", "/", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			AdminHandler(tt.p, tt.ready).ServeHTTP(rr, httptest.NewRequest(tt.method, tt.path, nil))
			body, _ := io.ReadAll(rr.Body)
			if rr.Code != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.path, rr.Code, body, tt.wantCode, tt.wantBody)
			}
			if rr.Code == http.StatusOK && tt.path != "/metrics" && rr.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("content type %q", rr.Header().Get("Content-Type"))
			}
		})
	}
}
