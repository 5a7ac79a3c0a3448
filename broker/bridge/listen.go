package bridge

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// listen is an open subscriptions/listen of a 2026-07-28 client, served by
// a lane's unsolicited notifications (4.M3).
type listen struct {
	lane     *lane
	clientID json.RawMessage
	tools    bool
	prompts  bool
	lists    bool // resources/list_changed
	uris     []string
}

// wants reports whether the listen asked for a notification.
func (ls *listen) wants(method string, params *translators.Node) bool {
	switch method {
	case "notifications/tools/list_changed":
		return ls.tools
	case "notifications/prompts/list_changed":
		return ls.prompts
	case "notifications/resources/list_changed":
		return ls.lists
	case "notifications/resources/updated":
		return slices.Contains(ls.uris, params.Get("uri").Str())
	}
	return false
}

// listenFilter is the SubscriptionFilter of a listen request and of its
// acknowledgement.
type listenFilter struct {
	ToolsListChanged      bool     `json:"toolsListChanged,omitempty"`
	PromptsListChanged    bool     `json:"promptsListChanged,omitempty"`
	ResourcesListChanged  bool     `json:"resourcesListChanged,omitempty"`
	ResourceSubscriptions []string `json:"resourceSubscriptions,omitempty"`
}

// listen opens a subscriptions/listen: the lane subscribes to the asked
// resources (reference counted across the lane's listens), then the
// client gets the acknowledgement of what the server can honour (4.M3,
// 4.M10). The request stays open until the client closes it.
func (b *bridge) listen(ctx context.Context, m *jsonrpc.Message, f requestFacts) {
	var p struct {
		Notifications *listenFilter `json:"notifications"`
	}
	if err := json.Unmarshal(m.Params, &p); err != nil || p.Notifications == nil {
		b.rejectError(ctx, m, jsonrpc.CodeInvalidParams, "Invalid params: notifications is required", nil)
		return
	}
	l, err := b.getLane(ctx, f)
	if err != nil {
		b.rejectError(ctx, m, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil)
		return
	}
	// The upstream's stream for unsolicited notifications opens with the
	// lane's first listen.
	l.relayEnd.open()
	caps := translators.Parse(l.serverCaps)
	want := p.Notifications
	ls := &listen{
		lane:     l,
		clientID: m.ID,
		tools:    want.ToolsListChanged && caps.Get("tools").Get("listChanged").Bool(),
		prompts:  want.PromptsListChanged && caps.Get("prompts").Get("listChanged").Bool(),
		lists:    want.ResourcesListChanged && caps.Get("resources").Get("listChanged").Bool(),
	}
	if caps.Get("resources").Get("subscribe").Bool() {
		for _, uri := range want.ResourceSubscriptions {
			if slices.Contains(ls.uris, uri) {
				continue
			}
			if b.subscribe(ctx, l, uri) {
				ls.uris = append(ls.uris, uri)
			}
		}
	}
	key := jsonrpc.IDKey(m.ID)
	b.mu.Lock()
	_, dup := b.listens[key]
	cancelled := b.started(key, f.dispatch)
	if !dup && !cancelled {
		b.listens[key] = ls
	}
	b.mu.Unlock()
	if cancelled {
		b.unlisten(ctx, ls)
		return
	}
	if dup {
		b.unlisten(ctx, ls)
		b.rejectError(ctx, m, jsonrpc.CodeInvalidRequest, "Invalid Request: request id "+string(m.ID)+" is already in use", nil)
		return
	}
	ack := listenFilter{ToolsListChanged: ls.tools, PromptsListChanged: ls.prompts, ResourcesListChanged: ls.lists, ResourceSubscriptions: ls.uris}
	params, _ := json.Marshal(map[string]any{
		"_meta":         map[string]json.RawMessage{metaSubscriptionID: m.ID},
		"notifications": ack,
	})
	raw := append([]byte(`{"jsonrpc":"2.0","method":"`+methodAcknowledged+`","params":`), params...)
	b.sendClient(ctx, append(raw, '}'), m.ID)
}

// subscribe adds one listen's interest in uri to the lane, sending
// resources/subscribe for the first one. It reports whether the server
// accepted.
func (b *bridge) subscribe(ctx context.Context, l *lane, uri string) bool {
	l.mu.Lock()
	n := l.subs[uri]
	l.subs[uri] = n + 1
	l.mu.Unlock()
	if n > 0 {
		return true
	}
	params, _ := json.Marshal(map[string]string{"uri": uri})
	rctx, cancel := context.WithTimeout(ctx, b.timeout())
	defer cancel()
	resp, err := l.request(rctx, "resources/subscribe", params)
	if err == nil && resp.Kind == jsonrpc.KindResult {
		return true
	}
	l.mu.Lock()
	if l.subs[uri]--; l.subs[uri] <= 0 {
		delete(l.subs, uri)
	}
	l.mu.Unlock()
	b.log.InfoContext(ctx, "bridge: resources/subscribe refused by the upstream", "uri", uri, "err", err)
	return false
}

// unlisten ends a listen: the lane unsubscribes from resources no other
// listen wants, and the lane is released.
func (b *bridge) unlisten(ctx context.Context, ls *listen) {
	l := ls.lane
	for _, uri := range ls.uris {
		l.mu.Lock()
		l.subs[uri]--
		last := l.subs[uri] <= 0
		if last {
			delete(l.subs, uri)
		}
		l.mu.Unlock()
		if last {
			params, _ := json.Marshal(map[string]string{"uri": uri})
			go func() {
				rctx, cancel := context.WithTimeout(b.ctx, b.timeout())
				defer cancel()
				if _, err := l.request(rctx, "resources/unsubscribe", params); err != nil {
					b.log.DebugContext(ctx, "bridge: resources/unsubscribe", "uri", uri, "err", err)
				}
			}()
		}
	}
	l.done()
}

// fanOut sends a lane's list_changed or resources/updated to every listen
// of the lane that asked for it, tagged with its subscriptionId.
func (b *bridge) fanOut(ctx context.Context, l *lane, m *jsonrpc.Message) {
	params := translators.Parse(m.Params)
	b.mu.Lock()
	var to []*listen
	for _, ls := range b.listens {
		if ls.lane == l && ls.wants(m.Method, params) {
			to = append(to, ls)
		}
	}
	b.mu.Unlock()
	if len(to) == 0 {
		return
	}
	tctx := translators.Context{ServerInfo: l.serverInfo}
	out := b.up.Translate(m, translators.ServerToClient, &tctx)
	if out.Kind != translators.Forward {
		return
	}
	for _, ls := range to {
		b.sendClient(ctx, setMeta(out.Message, metaSubscriptionID, ls.clientID), ls.clientID)
	}
}
