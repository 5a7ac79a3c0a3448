package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mcpbroker/mcpbroker/broker/telemetry"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/translators"
)

// This file lets a legacy client session (2024-11-05 to 2025-11-25) reach a
// stateless 2026-07-28 server (REVISIONS.md section 4, OC→NS column). The
// broker terminates the legacy session: it answers initialize from the
// server's server/discover (4.L1, 4.L2), answers ping and logging/setLevel
// itself (4.M1, 4.M2; the translator chain does both), adds the per-request
// _meta the chain builds from the session's Context (4.L1, with the log
// level the client set), and turns an InputRequiredResult into legacy
// server-to-client requests, collecting the client's answers and retrying
// the original request with inputResponses and requestState (4.M6, MRTR).
// resources/subscribe is emulated with subscriptions/listen (4.M3), tasks
// of a 2025-11-25 client by the broker itself (4.M5, tasks.go).

// Method names of the stateless bridge.
const (
	methodDiscover = "server/discover"
	// mrtrMaxRounds bounds the input rounds of one request: a server
	// that keeps asking gets its client an error instead of a loop.
	mrtrMaxRounds = 8
)

// Reserved _meta keys of 2026-07-28 (4.L1).
const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaClientInfo         = "io.modelcontextprotocol/clientInfo"
	metaServerInfo         = "io.modelcontextprotocol/serverInfo"
)

// mrtrMethods are the requests a 2026 server may answer with an
// InputRequiredResult (4.M6: only these three).
var mrtrMethods = []string{"tools/call", "prompts/get", "resources/read"}

// mrtrRound is one set of input requests a 2026 server asked for: the
// client's answers are collected here until all have come.
type mrtrRound struct {
	call    *call                      // the client request being answered
	state   json.RawMessage            // requestState to echo, or nil
	answers map[string]json.RawMessage // inputResponses gathered so far, by key
	want    int                        // input requests in the round
	failed  bool                       // an answer was an error: the call was answered
	done    bool                       // every answer came: the request was retried
	timer   *time.Timer                // bounds the wait for the client's answers
}

// defaultInputTimeout bounds the wait for a client's answers to the input
// requests of one round when the configuration sets no RequestTimeout.
const defaultInputTimeout = 5 * time.Minute

// armRound bounds the wait for the round's answers: when the client has
// not answered them all in time, the request fails with
// CodeRequestTimeout (a 2026 server keeps no state for it: nothing to
// cancel upstream).
func (s *session) armRound(round *mrtrRound) {
	d := s.cfg.RequestTimeout
	if d <= 0 {
		d = defaultInputTimeout
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if round.failed || round.done || s.closed {
		return
	}
	round.timer = time.AfterFunc(d, func() {
		s.mu.Lock()
		if s.closed || round.failed || round.done {
			s.mu.Unlock()
			return
		}
		s.timers.Add(1)
		s.mu.Unlock()
		defer s.timers.Done()
		s.mrtrFailCode(s.ctx, round, CodeRequestTimeout, fmt.Sprintf("the client did not answer the server's input requests within %v", d))
	})
}

// discoverRequest is the broker's server/discover toward a stateless
// upstream, with the client's capabilities and info as _meta (4.L2).
func discoverRequest(id json.RawMessage, tctx translators.Context) []byte {
	params := translators.NewObject()
	params.Set("_meta", requestMeta(tctx))
	n := translators.NewJSON(`{"jsonrpc":"2.0","method":"server/discover"}`)
	n.Set("id", translators.Parse(id))
	n.Set("params", params)
	return n.Raw()
}

// requestMeta is the _meta of a request the broker itself sends to a
// stateless upstream on the client's behalf (4.L1).
func requestMeta(tctx translators.Context) *translators.Node {
	caps := translators.ClientCapabilitiesTo2026(translators.Parse(tctx.ClientCapabilities), translators.CapabilityOptions{})
	meta := translators.NewObject()
	meta.Set(metaProtocolVersion, translators.NewString(schemas.V20260728.String()))
	if caps == nil {
		caps = translators.NewObject()
	}
	meta.Set(metaClientCapabilities, caps)
	if len(tctx.ClientInfo) > 0 {
		meta.Set(metaClientInfo, translators.Parse(tctx.ClientInfo))
	}
	return meta
}

// subscribe emulates a legacy client's resources/subscribe or
// resources/unsubscribe toward a stateless upstream (4.M3): the broker
// keeps the session's set of subscribed URIs and reopens its upstream
// subscriptions/listen with it, then answers {}. The listen's
// notifications reach the client through the chain (4.F5 strips the
// subscriptionId, 4.M10 drops the acknowledgement).
func (s *session) subscribe(ctx context.Context, l *link, m *jsonrpc.Message, b *batch) {
	uri := translators.Parse(m.Params).Get("uri").Str()
	s.mu.Lock()
	if m.Method == "resources/subscribe" {
		s.subs[uri] = true
	} else {
		delete(s.subs, uri)
	}
	s.mu.Unlock()
	// The answer waits for the new listen's acknowledgement, so that a
	// change right after it is not missed (4.M3).
	if s.relisten(ctx, l, &waiter{id: bytes.Clone(m.ID), batch: b}) == "" {
		s.replyClient(ctx, m.ID, b, translators.EmptyResult(m.ID))
	}
}

// waiter is a client request answered {} later.
type waiter struct {
	id    json.RawMessage
	batch *batch
}

// methodAcknowledged is the first message of a subscriptions/listen stream
// (4.M10), consumed by the broker.
const methodAcknowledged = "notifications/subscriptions/acknowledged"

// acknowledged answers the subscribe requests waiting for the listen the
// acknowledgement m names (its subscriptionId, or the stream it came on).
func (s *session) acknowledged(ctx context.Context, m *jsonrpc.Message, related json.RawMessage) {
	id := related
	if sid := translators.Parse(m.Params).Get("_meta").Get("io.modelcontextprotocol/subscriptionId"); sid != nil {
		id = sid.Raw()
	}
	s.mu.Lock()
	key := s.listenKey // no id (its _meta is optional): the current listen
	if len(id) > 0 {
		key = jsonrpc.IDKey(id)
	}
	ws := s.ackWaiters[key]
	delete(s.ackWaiters, key)
	s.mu.Unlock()
	for _, w := range ws {
		s.replyClient(ctx, w.id, w.batch, translators.EmptyResult(w.id))
	}
}

// releaseWaiters answers the subscribe requests waiting for the listen
// with the given pending key, which ended or was replaced without an
// acknowledgement: with {} (reply nil) or with reply(id).
func (s *session) releaseWaiters(ctx context.Context, key string, reply func(json.RawMessage) []byte) {
	s.mu.Lock()
	ws := s.ackWaiters[key]
	delete(s.ackWaiters, key)
	s.mu.Unlock()
	for _, w := range ws {
		if reply == nil {
			s.replyClient(ctx, w.id, w.batch, translators.EmptyResult(w.id))
		} else {
			s.replyClient(ctx, w.id, w.batch, reply(w.id))
		}
	}
}

// listChangedFilter returns the list_changed members of a
// SubscriptionFilter for the lists whose changes the server announces
// (its capabilities, legacy shape: tools.listChanged ...).
func listChangedFilter(serverCaps json.RawMessage) map[string]bool {
	caps := translators.Parse(serverCaps)
	out := map[string]bool{}
	for list, member := range map[string]string{"tools": "toolsListChanged", "prompts": "promptsListChanged", "resources": "resourcesListChanged"} {
		if caps.Get(list).Get("listChanged").Bool() {
			out[member] = true
		}
	}
	return out
}

// relisten replaces the session's upstream subscriptions/listen (4.M3),
// returning the pending key of the new one ("" when none was opened):
// it cancels the one open (stdio semantics of 4.M8: a
// notifications/cancelled for its id) and opens one with the current
// subscriptions and the list changes the server announces, unless there
// is nothing to listen for. The listen is the broker's own request: it
// never times out and its end is not relayed.
//
// w, when not nil, is answered {} once the new listen is acknowledged (it
// is registered before the listen is sent, so that a fast acknowledgement
// is not missed); when no listen is opened the caller answers it.
func (s *session) relisten(ctx context.Context, l *link, w *waiter) string {
	lists := listChangedFilter(l.tctx.ServerCapabilities)
	s.mu.Lock()
	var old *call
	if s.listenKey != "" {
		old = s.pending[s.listenKey]
		if old != nil {
			s.removeLocked(old)
		}
		s.listenKey = ""
	}
	uris := make([]string, 0, len(s.subs))
	for u := range s.subs {
		uris = append(uris, u)
	}
	var c *call
	if len(uris) > 0 || len(lists) > 0 {
		c = &call{internal: true, method: "subscriptions/listen"}
		s.registerLocked(c)
		s.listenKey = c.key
		if w != nil {
			s.ackWaiters[c.key] = append(s.ackWaiters[c.key], *w)
		}
	}
	s.mu.Unlock()
	if old != nil {
		s.endOwn(telemetry.Failure("cancelled", "subscription set changed"), old)
		_ = s.sendOwn(ctx, translators.CancelledNotification(old.upID, "mcpbroker: subscription set changed"))
		s.releaseWaiters(ctx, old.key, nil)
	}
	if c == nil {
		return ""
	}
	slices.Sort(uris)
	filter := translators.NewObject()
	for member := range lists {
		filter.Set(member, translators.NewValue(true))
	}
	if len(uris) > 0 {
		arr := translators.NewArray()
		for _, u := range uris {
			arr.Append(translators.NewString(u))
		}
		filter.Set("resourceSubscriptions", arr)
	}
	params := translators.NewObject()
	params.Set("_meta", requestMeta(s.requestContext(l)))
	params.Set("notifications", filter)
	n := translators.NewJSON(`{"jsonrpc":"2.0","method":"subscriptions/listen"}`)
	n.Set("id", translators.Parse(c.upID))
	n.Set("params", params)
	sendCtx, raw := s.traceOwn(ctx, c, n.Raw(), true)
	if err := s.sendUp(sendCtx, raw, nil); err != nil {
		if s.take(c.key) != nil {
			s.endOwn(telemetry.Failure("transport", err.Error()), c)
		}
		s.log.WarnContext(ctx, "relay: opening the upstream subscriptions/listen failed", "err", err)
		s.releaseWaiters(ctx, c.key, nil)
	}
	return c.key
}

// initializeStateless answers the client's initialize m for a stateless
// upstream: it dials, sends server/discover and waits for finishDiscover.
func (s *session) initializeStateless(ctx context.Context, m *jsonrpc.Message, clientRev schemas.Revision, tctx translators.Context) error {
	c := &call{clientID: bytes.Clone(m.ID), clientKey: jsonrpc.IDKey(m.ID), method: methodDiscover, init: true, discover: true}
	return s.handshakeUp(ctx, m, clientRev, tctx, c, func(id json.RawMessage) []byte { return discoverRequest(id, tctx) })
}

// finishDiscover handles the upstream's answer to the broker's
// server/discover: it checks that the server speaks 2026-07-28, publishes
// the link and answers the client's initialize with an InitializeResult
// built from the DiscoverResult (4.L2, capabilities reshaped by 4.L4).
func (s *session) finishDiscover(ctx context.Context, c *call, m *jsonrpc.Message) error {
	if s.autoDiscovered(m) {
		return nil // 4.L3: a legacy server; initializeAuto initializes it
	}
	fail := func(reply []byte, err error) error {
		s.auditHandshake(ctx, c, reply, m.Kind == jsonrpc.KindError)
		s.sendClient(ctx, reply, c.clientID)
		err = fmt.Errorf("%w: %w", ErrHandshake, err)
		s.log.WarnContext(ctx, "relay: upstream discovery failed", "err", err)
		s.handshake <- err
		return err
	}
	if m.Kind == jsonrpc.KindError {
		return fail(withID(m.Raw, m, c.clientID), fmt.Errorf("upstream answered server/discover with error %s", m.Error))
	}
	upRev := schemas.V20260728
	if ve := s.validate(ctx, upRev, m, schemas.FromServer, methodDiscover, s.cfg.ServerValidation); ve != nil {
		return fail(validationError(c.clientID, jsonrpc.CodeInternalError, ve), ve)
	}
	res := translators.Parse(m.Result)
	var supported []string
	for _, v := range res.Get("supportedVersions").Elems() {
		supported = append(supported, v.Str())
	}
	if !slices.Contains(supported, upRev.String()) {
		return fail(jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError,
			fmt.Sprintf("mcpbroker: the upstream server supports %v, not %s", supported, upRev), nil),
			fmt.Errorf("%w: upstream supports %v", schemas.ErrUnsupportedRevision, supported))
	}
	s.mu.Lock()
	clientRev, tctx := s.clientRev, s.tctx
	s.mu.Unlock()
	caps := translators.ServerCapabilitiesToLegacy(res.Get("capabilities"), translators.CapabilityOptions{Tasks: tasksEmulated(clientRev, upRev)})
	if caps == nil {
		caps = translators.NewObject()
	}
	info := res.Get("_meta").Get(metaServerInfo)
	if !info.IsObject() {
		info = translators.NewJSON(`{"name":"mcpbroker-upstream","version":"0"}`)
	}
	tctx.ServerInfo = bytes.Clone(info.Raw())
	tctx.ServerCapabilities = bytes.Clone(caps.Raw())

	// The InitializeResult of the newest legacy revision, then down the
	// chain to the client's own.
	newest := latestLegacy()
	init := translators.NewJSON(`{"jsonrpc":"2.0","result":{}}`)
	init.Set("id", translators.Parse(c.clientID))
	r := init.Get("result")
	r.Set("protocolVersion", translators.NewString(newest.String()))
	r.Set("capabilities", caps)
	r.Set("serverInfo", info)
	if ins := res.Get("instructions"); ins.IsString() {
		r.Set("instructions", ins)
	}
	raw := init.Raw()
	l := &link{clientRev: clientRev, upRev: upRev, tctx: tctx}
	var err error
	if l.c2s, err = translators.NewChain(clientRev, upRev); err == nil {
		if l.s2c, err = translators.NewChain(upRev, clientRev); err == nil {
			if l.inDown, err = translators.NewChain(newest, clientRev); err == nil {
				l.inUp, err = translators.NewChain(clientRev, newest)
			}
		}
	}
	if err != nil {
		return fail(jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil), err)
	}
	if clientRev != newest {
		im, perr := jsonrpc.Parse(raw)
		if perr != nil {
			return fail(jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError, "mcpbroker: "+perr.Error(), nil), perr)
		}
		tc := tctx
		tc.Method = methodInitialize
		out := l.inDown.Translate(im, translators.ServerToClient, &tc)
		if out.Kind != translators.Forward {
			return fail(s.refusal(c.clientID, methodInitialize, clientRev, out), fmt.Errorf("InitializeResult: %s %s: %s", out.Kind, out.Row, out.Reason))
		}
		n := translators.Parse(out.Message)
		n.Get("result").Set("protocolVersion", translators.NewString(clientRev.String()))
		raw = n.Raw()
	}
	// 4.T5: tool arguments go into Mcp-Param-* headers on a transport
	// that has headers.
	s.hdrs.enabled.Store(s.upCarriesHeaders())
	s.link.Store(l)
	s.setRevisions(l)
	s.log.InfoContext(ctx, "relay: session established", "client_revision", clientRev, "upstream_revision", upRev,
		"upstream_supports", supported)
	s.sendClient(ctx, raw, c.clientID)
	// List changes the server announces reach the legacy client through
	// the broker's listen (4.M3).
	s.relisten(ctx, l, nil)
	s.handshake <- nil
	return nil
}

// inputRequired handles a 2026 InputRequiredResult answering c (4.M6): it
// sends each input request to the client as a request of the client's
// revision, under a broker id, and records the round; the answers come
// back through clientResponse (mrtrAnswer). It reports false when the
// result is no InputRequiredResult.
func (s *session) inputRequired(ctx context.Context, l *link, c *call, m *jsonrpc.Message) bool {
	res := translators.Parse(m.Result)
	if res.Get("resultType").Str() != "input_required" {
		return false
	}
	if c.rounds >= mrtrMaxRounds {
		msg := fmt.Sprintf("mcpbroker: the server asked for input %d times for one request (REVISIONS.md 4.M6)", c.rounds)
		s.auditCall(ctx, c, jsonrpc.CodeInternalError, msg)
		s.replyClient(ctx, c.clientID, c.batch, jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError, msg, nil))
		return true
	}
	ctx, span := s.startEmulation(ctx, telemetry.EmulationMRTRRound, c.method)
	defer span.End()
	reqs := res.Get("inputRequests")
	round := &mrtrRound{call: c, answers: map[string]json.RawMessage{}}
	if st := res.Get("requestState"); st.IsString() {
		round.state = bytes.Clone(st.Raw())
	}
	type send struct {
		raw    []byte
		method string
		key    string
	}
	var sends []send
	for _, key := range reqs.Keys() {
		ir := reqs.Get(key)
		method := ir.Get("method").Str()
		s.mu.Lock()
		s.nextServer++
		brokerID := strconv.AppendQuote(nil, serverIDPrefix+strconv.FormatInt(s.nextServer, 10))
		s.mu.Unlock()
		n := translators.NewJSON(`{"jsonrpc":"2.0"}`)
		n.Set("id", translators.Parse(brokerID))
		n.Set("method", translators.NewString(method))
		if p := ir.Get("params"); p != nil {
			n.Set("params", p)
		}
		req, err := jsonrpc.Parse(n.Raw())
		if err != nil {
			s.mrtrFail(ctx, round, fmt.Sprintf("input request %q is not a valid request: %v", key, err))
			return true
		}
		tctx := s.requestContext(l)
		out := l.inDown.Translate(req, translators.ServerToClient, &tctx)
		s.logOutcome(ctx, "s2c", method, req, out)
		switch {
		case out.Kind == translators.Forward:
			round.want++
			sends = append(sends, send{raw: out.Message, method: method, key: key})
			sc := &serverCall{key: jsonrpc.IDKey(brokerID), brokerID: brokerID, method: method, round: round, inputKey: key}
			s.mu.Lock()
			s.serverCalls[sc.key] = sc
			s.mu.Unlock()
		case out.Kind == translators.Answer && out.Reply != nil:
			// The broker answers for a client that cannot be asked
			// (2.L1: elicitation toward 2025-03-26 is declined).
			if a, err := jsonrpc.Parse(out.Reply); err == nil && a.Kind == jsonrpc.KindResult {
				round.answers[key] = bytes.Clone(a.Result)
				continue
			}
			s.mrtrFail(ctx, round, fmt.Sprintf("input request %q (%s) cannot reach a %s client", key, method, l.clientRev))
			return true
		default:
			s.mrtrFail(ctx, round, fmt.Sprintf("input request %q (%s) cannot reach a %s client: %s %s", key, method, l.clientRev, out.Row, out.Reason))
			return true
		}
	}
	if round.want == 0 {
		s.retry(ctx, l, round)
		return true
	}
	for _, x := range sends {
		s.sendClient(ctx, x.raw, c.clientID)
	}
	s.armRound(round)
	return true
}

// mrtrAnswer records the client's answer to an input request of a round,
// and retries the original request once every answer is in.
func (s *session) mrtrAnswer(ctx context.Context, sc *serverCall, m *jsonrpc.Message) {
	l := s.link.Load()
	round := sc.round
	if ve := s.validate(ctx, l.clientRev, m, schemas.FromClient, sc.method, s.cfg.ClientValidation); ve != nil {
		s.mrtrFail(ctx, round, "invalid answer to "+sc.method+": "+ve.Error())
		return
	}
	if m.Kind == jsonrpc.KindError {
		s.mrtrFail(ctx, round, fmt.Sprintf("the client refused %s: %s", sc.method, m.Error))
		return
	}
	tctx := s.requestContext(l)
	tctx.Method = sc.method
	out := l.inUp.Translate(m, translators.ClientToServer, &tctx)
	if out.Kind != translators.Forward {
		s.mrtrFail(ctx, round, fmt.Sprintf("the answer to %s cannot be relayed: %s %s", sc.method, out.Row, out.Reason))
		return
	}
	a, err := jsonrpc.Parse(out.Message)
	if err != nil {
		s.mrtrFail(ctx, round, err.Error())
		return
	}
	s.mu.Lock()
	if round.failed {
		s.mu.Unlock()
		return
	}
	round.answers[sc.inputKey] = withoutRelatedTask(a.Result) // 4.M5
	done := len(round.answers) == round.want
	if done {
		round.done = true
		if round.timer != nil {
			round.timer.Stop()
		}
	}
	s.mu.Unlock()
	if done {
		s.retry(ctx, l, round)
	}
}

// mrtrFail answers the round's request with a -32603 error and forgets
// the round's other input requests.
func (s *session) mrtrFail(ctx context.Context, round *mrtrRound, why string) {
	s.mrtrFailCode(ctx, round, jsonrpc.CodeInternalError, why)
}

// mrtrFailCode is mrtrFail with the error code.
func (s *session) mrtrFailCode(ctx context.Context, round *mrtrRound, code int, why string) {
	s.mu.Lock()
	if round.failed || round.done {
		s.mu.Unlock()
		return
	}
	round.failed = true
	if round.timer != nil {
		round.timer.Stop()
	}
	for k, sc := range s.serverCalls {
		if sc.round == round {
			delete(s.serverCalls, k)
		}
	}
	s.mu.Unlock()
	c := round.call
	s.log.WarnContext(ctx, "relay: input round failed", "method", c.method, "id", string(c.clientID), "why", why)
	s.auditCall(ctx, c, code, "mcpbroker: "+why)
	s.replyClient(ctx, c.clientID, c.batch, jsonrpc.ErrorResponse(c.clientID, code, "mcpbroker: "+why, nil))
}

// retry sends the round's original request again, under a new broker id,
// with the gathered inputResponses and the server's requestState (4.M6).
func (s *session) retry(ctx context.Context, l *link, round *mrtrRound) {
	old := round.call
	s.taskResumed(ctx, old.clientKey) // 4.M5
	var b bytes.Buffer
	b.WriteByte('{')
	keys := make([]string, 0, len(round.answers))
	for k := range round.answers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		b.Write(round.answers[k])
	}
	b.WriteByte('}')
	n := translators.Parse(old.upRaw)
	p := n.Get("params")
	p.Set("inputResponses", translators.Parse(b.Bytes()))
	if round.state != nil {
		p.Set("requestState", translators.Parse(round.state))
	} else {
		p.Delete("requestState")
	}
	c := &call{clientID: old.clientID, clientKey: old.clientKey, method: old.method, batch: old.batch,
		token: old.token, rounds: old.rounds + 1, upRaw: old.upRaw}
	var uop telemetry.Op
	var sctx context.Context
	if s.tel != nil {
		sctx = s.tel.serverCtx(old.clientKey)
	}
	if sctx != nil {
		uop = s.upOp(old.method, nil, p.Raw(), linkUpRev(s.link.Load()))
	}
	s.mu.Lock()
	s.registerLocked(c)
	if c.token != "" {
		s.progress[c.token] = c
	}
	n.Set("id", translators.Parse(c.upID))
	raw := n.Raw()
	sendCtx := ctx
	if uop.Method != "" {
		// The retry is one more CLIENT span of the same client request.
		uop.ID = c.upID
		uctx, cc := s.tel.p.StartClient(sctx, uop)
		s.tel.setCall(c, &callTelemetry{sctx: sctx, up: cc})
		if injected, err := telemetry.InjectMessage(uctx, raw); err == nil {
			raw = injected
		}
		sendCtx = uctx
	}
	s.mu.Unlock()
	if err := s.sendUp(sendCtx, raw, nil); err != nil {
		if s.take(c.key) != nil {
			s.endUp(c, telemetry.Failure("transport", err.Error()))
			s.auditCall(ctx, c, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error())
			s.replyClient(ctx, c.clientID, c.batch, jsonrpc.ErrorResponse(c.clientID, jsonrpc.CodeInternalError, "mcpbroker: "+err.Error(), nil))
		}
		return
	}
	s.arm(c)
}

// requestContext is the link's Context with the log level the client set
// (4.M2: 2026-07-28 requests carry it per request).
func (s *session) requestContext(l *link) translators.Context {
	tctx := l.tctx
	if lv := s.logLevel.Load(); lv != nil {
		tctx.LogLevel = *lv
	}
	return tctx
}
