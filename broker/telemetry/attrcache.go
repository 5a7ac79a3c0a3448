package telemetry

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// maxCachedSets bounds each attribute cache of a [Metrics]. Past it,
// measurements with attribute values not seen yet build their set for
// each measurement, as without a cache: the caches speed up the few
// series a broker records over and over, and cannot grow with values a
// peer chooses (tool names, revisions).
const maxCachedSets = 512

// attrCache maps the attribute values of a measurement, as a comparable
// key, to the measurement options carrying their attribute.Set. Building
// a Set (sorting, de-duplicating and hashing the attributes, and boxing
// the option) costs more than the measurement itself; a hit costs a map
// lookup under a read lock and allocates nothing. The zero attrCache is
// empty and ready; it is safe for concurrent use.
type attrCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]measureOpts
}

// measureOpts are the options of a measurement with one attribute set,
// as the variadic arguments of Record and Add: passed with ..., they cost
// no allocation. The instruments only read them.
type measureOpts struct {
	rec []metric.RecordOption
	add []metric.AddOption
}

// get returns the options of the attributes that build appends, cached
// under k (build is called on a miss only, and must give the same
// attributes for the same k).
func (c *attrCache[K]) get(k K, build func([]attribute.KeyValue) []attribute.KeyValue) measureOpts {
	c.mu.RLock()
	opt, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return opt
	}
	return c.add(k, build)
}

// add builds the options of a miss and caches them when there is room.
func (c *attrCache[K]) add(k K, build func([]attribute.KeyValue) []attribute.KeyValue) measureOpts {
	o := metric.WithAttributeSet(attribute.NewSet(build(make([]attribute.KeyValue, 0, 16))...))
	opt := measureOpts{rec: []metric.RecordOption{o}, add: []metric.AddOption{o}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached, ok := c.m[k]; ok {
		return cached
	}
	if len(c.m) < maxCachedSets {
		if c.m == nil {
			c.m = make(map[K]measureOpts)
		}
		c.m[k] = opt
	}
	return opt
}

// len returns the number of cached options.
func (c *attrCache[K]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// opKey is what the attributes of an operation duration measurement
// depend on: the histogram, the message's metric attributes and its
// outcome.
type opKey struct {
	client                bool
	method, tool, prompt  string
	revision              string
	transport             Transport
	protoName, protoVer   string
	serverAddr            string
	serverPort            int
	errorType, statusCode string
}

// translationKey is what the attributes of mcpbroker.translations depend
// on.
type translationKey struct{ from, to, outcome string }

// validationKey is what the attributes of mcpbroker.validation.failures
// depend on.
type validationKey struct {
	side     Side
	revision string
}

// upstreamKey is what the attributes of mcpbroker.upstream.errors depend
// on.
type upstreamKey struct{ upstream, kind string }
