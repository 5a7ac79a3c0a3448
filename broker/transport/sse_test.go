package transport

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

func TestSSEReader(t *testing.T) {
	type ev struct{ id, name, data string }
	tests := []struct {
		name      string
		in        string
		want      []ev
		wantID    string
		wantRetry time.Duration
	}{
		{"simple", "data: {}\n\n", []ev{{"", "", "{}"}}, "", 0},
		{"crlf and cr", "id: 1\r\nevent: message\rdata: a\r\n\r\n", []ev{{"1", "message", "a"}}, "1", 0},
		{"multi-line data", "data: a\ndata:b\n\n", []ev{{"", "", "a\nb"}}, "", 0},
		{"comment and unknown field", ": ping\nfoo: bar\ndata: x\n\n", []ev{{"", "", "x"}}, "", 0},
		{"priming event dropped", "id: 7\ndata:\n\nid: 8\ndata: x\n\n", []ev{{"8", "", "x"}}, "8", 0},
		{"id persists", "id: 3\ndata: a\n\ndata: b\n\n", []ev{{"3", "", "a"}, {"3", "", "b"}}, "3", 0},
		{"retry", "retry: 250\ndata: a\n\nretry: x\n\n", []ev{{"", "", "a"}}, "", 250 * time.Millisecond},
		{"id with NUL ignored", "id: a\x00b\ndata: a\n\n", []ev{{"", "", "a"}}, "", 0},
		{"unterminated event discarded", "data: a\n\ndata: b\n", []ev{{"", "", "a"}}, "", 0},
		{"BOM", "\uFEFFdata: a\n\n", []ev{{"", "", "a"}}, "", 0},
		{"endpoint event", "event: endpoint\ndata: /messages?session=x\n\n", []ev{{"", "endpoint", "/messages?session=x"}}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSSEReader(strings.NewReader(tt.in), 1024)
			var got []ev
			for {
				e, err := r.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev{e.id, e.name, string(e.data)})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("events = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
			if r.lastID != tt.wantID || r.retry != tt.wantRetry {
				t.Errorf("lastID, retry = %q, %v, want %q, %v", r.lastID, r.retry, tt.wantID, tt.wantRetry)
			}
		})
	}
}

func TestSSEReaderTooLarge(t *testing.T) {
	tests := []struct{ name, in string }{
		{"one long line", "data: " + strings.Repeat("x", 200) + "\n\n"},
		{"many lines", strings.Repeat("data: "+strings.Repeat("x", 50)+"\n", 5) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newSSEReader(strings.NewReader(tt.in), 100).next()
			if !errors.Is(err, jsonrpc.ErrTooLarge) {
				t.Errorf("next() = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestAppendSSERoundTrip(t *testing.T) {
	tests := []struct{ id, name, data string }{
		{"1-1", "", `{"jsonrpc":"2.0","method":"x"}`},
		{"", "message", "{\n  \"a\": 1\r\n}"},
		{"", "endpoint", "/messages?session=abc"},
	}
	for _, tt := range tests {
		b := appendSSE(nil, tt.id, tt.name, []byte(tt.data))
		e, err := newSSEReader(strings.NewReader(string(b)), 1024).next()
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(tt.data)
		if e.id != tt.id || e.name != tt.name || string(e.data) != want {
			t.Errorf("round trip of %+v gave %q %q %q", tt, e.id, e.name, e.data)
		}
	}
}
