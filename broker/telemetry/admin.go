package telemetry

import (
	"context"
	"net/http"
	"time"
)

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// AdminHandler returns the handler of the broker's admin listener:
//
//   - GET /metrics: Prometheus text format (404 unless Config.Prometheus);
//   - GET /healthz: 200 "ok" while the process serves HTTP (liveness);
//   - GET /readyz: 200 "ready" when ready returns nil, else 503 with the
//     error's text (readiness: upstream reachable, not shutting down, ...).
//     A nil ready is always ready.
//
// The admin listener is meant for 127.0.0.1 or a private network: it is
// separate from the MCP listener so that metrics never share its origin
// checks and authentication.
func AdminHandler(p *Provider, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	if h := p.PrometheusHandler(); h != nil {
		mux.Handle("GET /metrics", h)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
