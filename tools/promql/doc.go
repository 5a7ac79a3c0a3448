// Package promql evaluates the queries of the broker's Grafana dashboard
// (deploy/observability/grafana-dashboard.json) with Prometheus's own
// PromQL engine over series scraped from the broker's /metrics, so that a
// panel whose query no longer matches the broker's metrics fails a test.
//
// It is a module of its own so that the product's go.mod does not carry
// Prometheus and its dependencies; `make test` runs its test.
package promql
