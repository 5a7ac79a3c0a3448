package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// testLogger returns a logger writing text lines to the returned buffer.
func testLogger() (*slog.Logger, *syncBuffer) {
	var logs syncBuffer
	return slog.New(slog.NewTextHandler(&logs, nil)), &logs
}

// initWith initializes a Streamable HTTP session with extra request
// headers and returns its id and peer.
func initWith(t *testing.T, url string, ps *peers, extra ...string) (string, *peer) {
	t.Helper()
	resp := post(t, url, initReq, extra...)
	body := readAll(t, resp.Body)
	sid := resp.Header.Get(HeaderSessionID)
	if resp.StatusCode != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %s %q: %s", resp.Status, sid, body)
	}
	return sid, ps.next(t)
}

// alive checks that p's session has not ended.
func (p *peer) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("session ended: %v", p.err)
	default:
	}
}

// ended waits for p's session to end with an error wrapping io.EOF whose
// text contains want.
func (p *peer) ended(t *testing.T, want string) {
	t.Helper()
	err := p.wait(t)
	if !errors.Is(err, io.EOF) || !strings.Contains(err.Error(), want) {
		t.Errorf("Recv = %v, want io.EOF and %q", err, want)
	}
}

const notification = `{"jsonrpc":"2.0","method":"notifications/initialized"}`

func TestHTTPServerEviction(t *testing.T) {
	logger, logs := testLogger()
	ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{MaxSessions: 2, Logger: logger}), nil)
	sid1, p1 := initWith(t, ts.URL, ps)
	sid2, p2 := initWith(t, ts.URL, ps)
	// A request makes session 1 the more recently used.
	if resp := post(t, ts.URL, notification, HeaderSessionID+": "+sid1); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST to session 1: %s", resp.Status)
	}
	sid3, p3 := initWith(t, ts.URL, ps)

	p2.ended(t, "evicted: session limit 2 reached")
	if resp := post(t, ts.URL, notification, HeaderSessionID+": "+sid2); resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST to the evicted session: %s", resp.Status)
	}
	want := fmt.Sprintf(`level=WARN msg="session: evicted: session limit 2 reached" session=%s`, sid2)
	if !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, logs)
	}
	for _, sid := range []string{sid1, sid3} {
		if resp := post(t, ts.URL, notification, HeaderSessionID+": "+sid); resp.StatusCode != http.StatusAccepted {
			t.Errorf("POST to a kept session: %s", resp.Status)
		}
	}
	p1.alive(t)
	p3.alive(t)
}

// TestHTTPServerBusyDoesNotExpire keeps session A busy (a POST in flight,
// or an open GET stream) while session B, started later, expires: A has
// then outlived its idle timeout. Once A is idle it expires too, an idle
// timeout later.
func TestHTTPServerBusyDoesNotExpire(t *testing.T) {
	const ttl = 100 * time.Millisecond
	tests := []struct {
		name string
		// busy makes the session busy and returns what ends that.
		busy func(t *testing.T, url, sid string, p *peer) (stop func())
	}{
		{"POST in flight", func(t *testing.T, url, sid string, p *peer) func() {
			resp := post(t, url, `{"jsonrpc":"2.0","id":"h","method":"test/hold"}`, HeaderSessionID+": "+sid)
			r := newSSEReader(resp.Body, 1<<20)
			if _, err := r.next(); err != nil { // the progress notification
				t.Fatal(err)
			}
			return func() {
				p.release <- struct{}{}
				if ev, err := r.next(); err != nil || parse(t, ev.data).Kind != jsonrpc.KindResult {
					t.Errorf("held answer: %v", err)
				}
			}
		}},
		{"GET stream", func(t *testing.T, url, sid string, p *peer) func() {
			ctx, cancel := context.WithCancel(t.Context())
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			setHeaders(req, []string{HeaderSessionID + ": " + sid, "Accept: text/event-stream"})
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET: %v %v", resp, err)
			}
			return func() {
				cancel()
				resp.Body.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{IdleTimeout: ttl}), nil)
			sidA, pA := initWith(t, ts.URL, ps)
			stop := tt.busy(t, ts.URL, sidA, pA)
			start := time.Now()
			_, pB := initWith(t, ts.URL, ps)
			pB.ended(t, "expired after 100ms idle")
			if d := time.Since(start); d < ttl {
				t.Fatalf("B expired after %v", d)
			}
			// Half a timeout more, so that A's idle time measured from
			// anything but the end of its request would show.
			select {
			case <-pA.done:
				t.Fatalf("busy session ended: %v", pA.err)
			case <-time.After(ttl / 2):
			}
			stop()
			idle := time.Now()
			pA.ended(t, "expired after 100ms idle")
			// Idle time counts from the end of the last request.
			if d := time.Since(idle); d < ttl {
				t.Errorf("A expired %v after it went idle, before the timeout", d)
			}
			if resp := post(t, ts.URL, notification, HeaderSessionID+": "+sidA); resp.StatusCode != http.StatusNotFound {
				t.Errorf("POST to the expired session: %s", resp.Status)
			}
		})
	}
}

func TestHTTPServerCredentialBinding(t *testing.T) {
	const (
		alice   = "Authorization: Bearer alice"
		mallory = "Authorization: Bearer mallory"
		none    = "Authorization:"
	)
	tests := []struct {
		name     string
		bind     []string
		init     []string // headers of the initialize request
		other    []string // headers of the other requests
		want     int      // status of a POST with other
		wantNote bool     // whether the other requests reach the session
	}{
		{"other token", nil, []string{alice}, []string{mallory}, http.StatusForbidden, false},
		{"no token", nil, []string{alice}, []string{none}, http.StatusForbidden, false},
		{"token where none was", nil, nil, []string{alice}, http.StatusForbidden, false},
		{"same token", nil, []string{alice}, []string{alice}, http.StatusAccepted, true},
		{"binding off", []string{}, []string{alice}, []string{mallory}, http.StatusAccepted, true},
		{"other header bound", []string{"X-Api-Key"}, []string{alice, "X-Api-Key: k1"}, []string{mallory, "X-Api-Key: k1"}, http.StatusAccepted, true},
		{"other header differs", []string{"X-Api-Key"}, []string{"X-Api-Key: k1"}, []string{"X-Api-Key: k2"}, http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logger, logs := testLogger()
			ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{BindHeaders: tt.bind, Logger: logger}), nil)
			sid, p := initWith(t, ts.URL, ps, tt.init...)
			withSID := HeaderSessionID + ": " + sid
			other := append([]string{withSID}, tt.other...)

			resp := post(t, ts.URL, `{"jsonrpc":"2.0","method":"test/other"}`, other...)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("POST: %s %s, want %d", resp.Status, body, tt.want)
			}
			if tt.want != http.StatusForbidden {
				p.waitNote(t, "test/other")
				return
			}
			if code := errorCode(body); code != jsonrpc.CodeInvalidRequest || !strings.Contains(string(body), "Forbidden: session is bound to other credentials") {
				t.Errorf("403 body %s", body)
			}
			for _, method := range []string{"GET", "DELETE"} {
				if resp := do(t, method, ts.URL, append(other, "Accept: text/event-stream")...); resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %s", method, resp.Status)
				}
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "session="+sid) {
				t.Errorf("no Warn line naming the session:\n%s", logs)
			}
			if strings.Contains(logs.String(), "mallory") || strings.Contains(logs.String(), "alice") {
				t.Errorf("credentials in the logs:\n%s", logs)
			}
			// The session is unharmed for its own credentials.
			p.alive(t)
			own := append([]string{withSID}, tt.init...)
			if resp := post(t, ts.URL, `{"jsonrpc":"2.0","method":"test/own"}`, own...); resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST with the session's credentials: %s", resp.Status)
			}
			p.waitNote(t, "test/own")
			if resp := do(t, "DELETE", ts.URL, own...); resp.StatusCode != http.StatusNoContent {
				t.Errorf("DELETE with the session's credentials: %s", resp.Status)
			}
			p.ended(t, "deleted by the client")
		})
	}
}

// TestHTTPServerForbiddenDoesNotTouch checks through eviction order that
// a refused request does not make its session recently used.
func TestHTTPServerForbiddenDoesNotTouch(t *testing.T) {
	ts, ps := serve(t, NewHTTPServer(&HTTPServerOptions{MaxSessions: 2, Logger: slog.New(slog.DiscardHandler)}), nil)
	sid1, p1 := initWith(t, ts.URL, ps, "Authorization: Bearer one")
	_, p2 := initWith(t, ts.URL, ps, "Authorization: Bearer two")
	if resp := post(t, ts.URL, notification, HeaderSessionID+": "+sid1, "Authorization: Bearer two"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with other credentials: %s", resp.Status)
	}
	initWith(t, ts.URL, ps)
	p1.ended(t, "evicted")
	p2.alive(t)
}
