package faults

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mcpbroker/mcpbroker/broker/transport"
	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// sseClient opens a strict 2024-11-05 fixture client over the legacy
// HTTP+SSE transport and initializes it.
func sseClient(t *testing.T, b *broker) *fixture.Client {
	t.Helper()
	ctx := testCtx(t)
	conn, err := transport.DialSSE(ctx, "http://"+b.addr+"/sse", nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := fixture.NewClient(schemas.V20241105, conn, fixture.WithValidator(validator))
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Initialize(ctx); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

// rawSSEEndpoint opens GET /sse and returns the POST endpoint URL of its
// endpoint event; the stream stays open until the test ends.
func rawSSEEndpoint(t *testing.T, b *broker) string {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.addr+"/sse", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /sse: %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	endpoint := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("GET /sse: no endpoint event: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "event: endpoint" || line == "event:endpoint":
			endpoint = true
		case endpoint && strings.HasPrefix(line, "data:"):
			u, err := url.Parse("http://" + b.addr + "/sse")
			if err != nil {
				t.Fatal(err)
			}
			ref, err := url.Parse(strings.TrimSpace(strings.TrimPrefix(line, "data:")))
			if err != nil {
				t.Fatalf("endpoint %q: %v", line, err)
			}
			return u.ResolveReference(ref).String()
		}
	}
}

// ssePost POSTs body to a legacy endpoint URL.
func ssePost(t *testing.T, rawURL, contentType, body string) rawResp {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := rawResp{status: resp.StatusCode, header: resp.Header}
	buf := new(strings.Builder)
	_, _ = bufio.NewReader(resp.Body).WriteTo(buf)
	r.body = []byte(buf.String())
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		r.msgs = append(r.msgs, r.body)
	}
	return r
}

// TestLegacySSEFaults sends refused POSTs to the legacy /messages endpoint
// (unknown and missing session, malformed JSON, wrong Content-Type,
// oversized body, bad Origin) and checks the status and JSON-RPC error
// code, with a legacy SSE client and a Streamable HTTP client open before
// the faults and working after them.
func TestLegacySSEFaults(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil, "--max-message-size", "4096")
	otherSSE := sseClient(t, b)
	other := client(t, b)
	endpoint := rawSSEEndpoint(t, b)
	base := "http://" + b.addr + "/messages"
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`

	wantStatusCode(t, ssePost(t, base+"?session=no-such-session", "application/json", ping), http.StatusNotFound, jsonrpc.CodeInvalidRequest)
	wantStatusCode(t, ssePost(t, base, "application/json", ping), http.StatusBadRequest, jsonrpc.CodeInvalidRequest)
	wantStatusCode(t, ssePost(t, endpoint, "application/json", `{"jsonrpc":`), http.StatusBadRequest, jsonrpc.CodeParseError)
	wantStatusCode(t, ssePost(t, endpoint, "text/plain", ping), http.StatusUnsupportedMediaType, jsonrpc.CodeInvalidRequest)
	wantStatusCode(t, ssePost(t, endpoint, "application/json", `{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":"`+strings.Repeat("y", 8192)+`"}}`),
		http.StatusRequestEntityTooLarge, jsonrpc.CodeInvalidRequest)

	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, "http://"+b.addr+"/sse", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /sse with a bad Origin: %d, want 403", resp.StatusCode)
	}

	mustEcho(t, otherSSE, "concurrent legacy session")
	mustEcho(t, sseClient(t, b), "new legacy session")
	stillServing(t, b, other)
}
