package demo

import (
	"encoding/json"
	"maps"
	"net/http"
	"sync"
)

// PathStats is where ServeHTTP's 2026-07-28 server reports the requests
// it has received: GET answers {"requests":{"<method>":n,...}}. Tests
// use it to see what reached the server through the broker (its response
// cache, REVISIONS.md 4.F2).
const PathStats = "/stats"

// requestCounts counts requests by method. The zero value is usable.
type requestCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *requestCounts) add(method string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[method]++
}

// RequestCounts returns how many requests of each method the 2026-07-28
// server has received (answered or not), on every connection.
func (s *Server) RequestCounts() map[string]int {
	s.counts.mu.Lock()
	defer s.counts.mu.Unlock()
	return maps.Clone(s.counts.n)
}

// serveStats answers GET PathStats.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, err := json.Marshal(map[string]map[string]int{"requests": s.RequestCounts()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, body)
}
