package main

import (
	"log/slog"
	"strings"

	"github.com/mcpbroker/mcpbroker/broker/cache"
)

// newResponseCache returns the response cache that serve's relay sessions
// share (REVISIONS.md 4.F2), or nil when --cache is off. The cache keeps
// only results of a 2026-07-28 server that carry caching hints, so it
// stays empty in front of a legacy server.
func newResponseCache(cfg serveConfig) (*cache.Cache, error) {
	on, err := parseOnOff("cache", cfg.Cache)
	if err != nil || !on {
		return nil, err
	}
	if cfg.CacheMaxBytes <= 0 {
		return nil, usageErr("--cache-max-bytes must be positive, not %d", cfg.CacheMaxBytes)
	}
	if cfg.CacheMaxTTL <= 0 {
		return nil, usageErr("--cache-max-ttl must be positive, not %v", cfg.CacheMaxTTL)
	}
	return cache.New(cache.Options{MaxBytes: cfg.CacheMaxBytes, MaxTTL: cfg.CacheMaxTTL}), nil
}

// parseOnOff reads an on/off setting. A YAML boolean decodes as "1" or
// "0" (viper's weak typing), so true/false and 1/0 are accepted too.
func parseOnOff(name, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, usageErr("--%s must be on or off, not %q", name, s)
}

// logCacheStats logs the response cache's counters (at shutdown).
func logCacheStats(logger *slog.Logger, c *cache.Cache) {
	st := c.Stats()
	logger.Info("response cache", "hits", st.Hits, "misses", st.Misses, "stores", st.Stores,
		"rejected", st.Rejected, "evictions", st.Evictions, "expirations", st.Expirations,
		"invalidations", st.Invalidations, "entries", st.Entries, "bytes", st.Bytes)
}
