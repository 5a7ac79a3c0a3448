package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTranslate(t *testing.T) {
	const (
		call2024 = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`
		ping     = `{"jsonrpc":"2.0","id":2,"method":"ping"}`
		audio    = `{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"audio","data":"AAAA","mimeType":"audio/wav"}]}}`
		listed   = `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`
		initd    = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	)
	ctxFile := filepath.Join(t.TempDir(), "ctx.json")
	if err := os.WriteFile(ctxFile, []byte(`{"clientInfo":{"name":"cli-test","version":"9"},"clientCapabilities":{"roots":{"listChanged":true}},"logLevel":"debug"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  []string
		notOut   []string
		wantErr  []string
	}{
		{"identity keeps bytes", []string{"translate", "--from", "2025-06-18", "--to", "2025-06-18", "--direction", "c2s"}, call2024 + "\n", 0,
			[]string{call2024}, nil, nil},
		{"2024 request to 2026 gets _meta (4.L1) from --context", []string{"translate", "--from", "2024-11-05", "--to", "2026-07-28", "--direction", "c2s", "--context", ctxFile}, call2024 + "\n", 0,
			[]string{`"io.modelcontextprotocol/protocolVersion":"2026-07-28"`, `"name":"cli-test"`, `"io.modelcontextprotocol/logLevel":"debug"`}, []string{`listChanged`}, nil},
		{"ping toward 2026 needs the broker (4.M1)", []string{"translate", "--from", "2025-06-18", "--to", "2026-07-28", "--direction", "c2s"}, ping + "\n", 1,
			nil, nil, []string{"answer 4.M1", `"result":{}`}},
		{"audio result down to 2024 is lossy (1.F1)", []string{"translate", "--from", "2025-03-26", "--to", "2024-11-05", "--direction", "s2c", "--method", "tools/call"}, audio + "\n", 0,
			[]string{`"type":"resource"`, `"blob":"AAAA"`}, nil, []string{"lossy: 1.F1 /result/content/0"}},
		{"notification dropped toward 2026 (4.L1)", []string{"translate", "--from", "2025-11-25", "--to", "2026-07-28", "--direction", "c2s"}, initd + "\n", 0,
			nil, nil, []string{"drop 4.L1"}},
		{"response method from the stream", []string{"translate", "--from", "2025-11-25", "--to", "2026-07-28", "--direction", "s2c"},
			`{"jsonrpc":"2.0","id":7,"method":"tools/list"}` + "\n" + `{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}` + "\n", 0,
			[]string{`"resultType":"complete"`, `"cacheScope":"private"`}, []string{`"method":"tools/list"`}, []string{"context only"}},
		{"notification passes", []string{"translate", "--from", "2024-11-05", "--to", "2025-11-25", "--direction", "s2c"}, listed + "\n", 0,
			[]string{listed}, nil, nil},
		{"invalid input is reported", []string{"translate", "--from", "2024-11-05", "--to", "2025-06-18", "--direction", "c2s"}, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}` + "\n", 1,
			nil, nil, []string{"invalid in 2024-11-05"}},
		{"batch split (1.L1)", []string{"translate", "--from", "2025-03-26", "--to", "2024-11-05", "--direction", "s2c"}, "[" + listed + "," + listed + "]\n", 0,
			[]string{listed + "\n" + listed + "\n"}, nil, nil},
		{"missing flags", []string{"translate", "--from", "2024-11-05"}, "", 2, nil, nil, []string{"required"}},
		{"bad direction", []string{"translate", "--from", "2024-11-05", "--to", "2025-03-26", "--direction", "up"}, "", 2, nil, nil, []string{"direction"}},
		{"bad context file", []string{"translate", "--from", "2024-11-05", "--to", "2025-03-26", "--direction", "c2s", "--context", "/nonexistent"}, "", 2, nil, nil, []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %s:\n%s", w, out)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %s:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %s:\n%s", w, errs)
				}
			}
		})
	}
}
