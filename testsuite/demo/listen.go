package demo

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture/session"
)

// subscriptionFilter is a SubscriptionFilter of 2026-07-28.
type subscriptionFilter struct {
	ToolsListChanged      bool     `json:"toolsListChanged,omitempty"`
	PromptsListChanged    bool     `json:"promptsListChanged,omitempty"`
	ResourcesListChanged  bool     `json:"resourcesListChanged,omitempty"`
	ResourceSubscriptions []string `json:"resourceSubscriptions,omitempty"`
}

// Kinds of list for touch's list argument and listChanged.
const (
	listTools     = "tools"
	listPrompts   = "prompts"
	listResources = "resources"
)

// wants reports whether the filter asked for the list_changed of a list.
func (f *subscriptionFilter) wants(list string) bool {
	switch list {
	case listTools:
		return f.ToolsListChanged
	case listPrompts:
		return f.PromptsListChanged
	case listResources:
		return f.ResourcesListChanged
	}
	return false
}

// note is a notification waiting to go out on a listen stream.
type note struct {
	method string
	params map[string]any
}

// listener is one open subscriptions/listen request.
type listener struct {
	filter subscriptionFilter // what the server acknowledged

	mu     sync.Mutex
	queue  []note
	signal chan struct{} // holds a token while queue is non-empty
}

// push queues a notification for the listen's stream.
func (l *listener) push(n note) {
	l.mu.Lock()
	l.queue = append(l.queue, n)
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// take returns and clears the queued notifications.
func (l *listener) take() []note {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queue
	l.queue = nil
	return q
}

// hub holds the open listens of a 2026-07-28 server: every connection's,
// since a stateless server has no sessions to keep them apart.
type hub struct {
	mu        sync.Mutex
	listeners map[*listener]struct{}
}

func newHub() *hub { return &hub{listeners: map[*listener]struct{}{}} }

func (h *hub) add(l *listener) {
	h.mu.Lock()
	h.listeners[l] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(l *listener) {
	h.mu.Lock()
	delete(h.listeners, l)
	h.mu.Unlock()
}

// publish queues a notification on every listen for which match is true,
// and returns how many there were.
func (h *hub) publish(match func(*subscriptionFilter) bool, n note) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	count := 0
	for l := range h.listeners {
		if match(&l.filter) {
			l.push(n)
			count++
		}
	}
	return count
}

// resourceUpdated sends notifications/resources/updated to the listens
// subscribed to uri and returns how many there were.
func (h *hub) resourceUpdated(uri string) int {
	return h.publish(func(f *subscriptionFilter) bool { return slices.Contains(f.ResourceSubscriptions, uri) },
		note{method: "notifications/resources/updated", params: map[string]any{"uri": uri}})
}

// listChanged sends notifications/<list>/list_changed to the listens that
// asked for it and returns how many there were.
func (h *hub) listChanged(list string) int {
	return h.publish(func(f *subscriptionFilter) bool { return f.wants(list) },
		note{method: "notifications/" + list + "/list_changed", params: map[string]any{}})
}

// subscribed reports whether a listen is subscribed to uri.
func (h *hub) subscribed(uri string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.listeners {
		if slices.Contains(l.filter.ResourceSubscriptions, uri) {
			return true
		}
	}
	return false
}

// listen serves subscriptions/listen (REVISIONS.md 4.M3): it acknowledges
// the part of the filter the server honours (the three list_changed kinds
// and the URIs of resources that exist), then forwards the matching
// notifications until the client cancels (notifications/cancelled on
// stdio, closing the stream on HTTP: no response then) or the server
// stops (a SubscriptionsListenResult).
func (ss *serverSession) listen(ctx context.Context, req *session.Request) (any, error) {
	var p struct {
		Notifications *subscriptionFilter `json:"notifications"`
	}
	if err := decodeParams(req.Params, &p); err != nil {
		return nil, err
	}
	if p.Notifications == nil {
		return nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: notifications is required")
	}
	want := p.Notifications
	l := &listener{signal: make(chan struct{}, 1), filter: subscriptionFilter{
		ToolsListChanged:     want.ToolsListChanged,
		PromptsListChanged:   want.PromptsListChanged,
		ResourcesListChanged: want.ResourcesListChanged,
	}}
	for _, uri := range want.ResourceSubscriptions {
		if _, ok := readResource(uri); ok && !slices.Contains(l.filter.ResourceSubscriptions, uri) {
			l.filter.ResourceSubscriptions = append(l.filter.ResourceSubscriptions, uri)
		}
	}
	subID := json.RawMessage(req.ID)
	streamMeta := map[string]any{fixture.MetaSubscriptionID: subID}
	// Registered before the acknowledgement: nothing that happens after
	// the client learns it is subscribed is lost.
	hub := ss.srv.hub
	hub.add(l)
	defer hub.remove(l)
	if err := ss.peer.Notify(ctx, "notifications/subscriptions/acknowledged", map[string]any{
		"_meta":         streamMeta,
		"notifications": l.filter,
	}); err != nil {
		return nil, err
	}
	for {
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-ss.st.ending:
			return map[string]any{
				"resultType": fixture.ResultComplete,
				"_meta":      map[string]any{fixture.MetaSubscriptionID: subID, fixture.MetaServerInfo: ss.serverInfo()},
			}, nil
		case <-l.signal:
			for _, n := range l.take() {
				params := map[string]any{"_meta": streamMeta}
				for k, v := range n.params {
					params[k] = v
				}
				if err := ss.peer.Notify(ctx, n.method, params); err != nil {
					return nil, err
				}
			}
		}
	}
}
