package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.Contains(out, "2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestValidate(t *testing.T) {
	const (
		ping     = `{"jsonrpc":"2.0","id":1,"method":"ping"}`
		pong     = `{"jsonrpc":"2.0","id":1,"result":{}}`
		badCall  = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"arguments":{}}}`
		audio    = `{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"audio","data":"AAA=","mimeType":"audio/wav"}]}}`
		progress = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}`
	)
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantOut  []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{"all valid", []string{"validate", "--revision", "2025-06-18"}, ping + "\n" + pong + "\n" + progress + "\n", 0,
			[]string{"3 messages, 3 valid, 0 invalid"}, ""},
		{"invalid params with pointer", []string{"validate", "--revision", "2024-11-05", "-"}, badCall + "\n", 1,
			[]string{"message 0 (request tools/call): /params: missing property 'name'", "1 invalid"}, ""},
		// 1.F1: audio content does not exist in 2024-11-05 ...
		{"audio in 2024-11-05 (1.F1)", []string{"validate", "--revision", "2024-11-05", "--method", "tools/call"}, audio + "\n", 1,
			[]string{"/result/content/0/type"}, ""},
		// ... but does in 2025-03-26.
		{"audio in 2025-03-26 (1.F1)", []string{"validate", "--revision", "2025-03-26", "--method", "tools/call"}, audio + "\n", 0,
			[]string{"1 valid"}, ""},
		{"result needs a method", []string{"validate", "--revision", "2025-06-18"}, pong + "\n", 1,
			[]string{"method of the request is needed"}, ""},
		{"batch in 2025-03-26 (1.L1)", []string{"validate", "--revision", "2025-03-26"}, "[" + ping + "," + progress + "]\n", 0,
			[]string{"2 messages, 2 valid"}, ""},
		{"batch in 2025-06-18 (2.T1)", []string{"validate", "--revision", "2025-06-18"}, "[" + ping + "]\n", 1,
			[]string{"no JSON-RPC batches"}, ""},
		{"parse error, then go on", []string{"validate", "--revision", "2025-06-18"}, "{oops\r\n\r\n" + ping + "\r\n", 1,
			[]string{"message 0 (unparsed)", "2 messages, 1 valid, 1 invalid"}, ""},
		{"oversized line", []string{"validate", "--revision", "2025-06-18", "--max-size", "20"}, ping + "\n", 1,
			[]string{"too large"}, ""},
		{"client may not send sampling", []string{"validate", "--revision", "2025-06-18", "--from", "client"},
			`{"jsonrpc":"2.0","id":9,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5}}` + "\n", 1,
			[]string{"client does not send sampling/createMessage"}, ""},
		{"2026 has no ping (4.M1)", []string{"validate", "--revision", "2026-07-28"}, ping + "\n", 1,
			[]string{`has no method "ping"`}, ""},
		{"draft alias", []string{"validate", "--revision", "draft"}, ping + "\n", 1, []string{"(2026-07-28)"}, ""},
		{"missing revision", []string{"validate"}, "", 2, nil, "--revision is required"},
		{"unknown revision", []string{"validate", "--revision", "2023-01-01"}, "", 2, nil, "unknown MCP protocol revision"},
		{"bad format", []string{"validate", "--revision", "2025-06-18", "--format", "xml"}, "", 2, nil, "--format"},
		{"missing file", []string{"validate", "--revision", "2025-06-18", "/nonexistent/file"}, "", 2, nil, "no such file"},
		{"unknown flag", []string{"validate", "--nope"}, "", 2, nil, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errs)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if tt.wantErr != "" && !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errs)
			}
		})
	}
}

// TestValidateJSONGolden pins the --format json output for the example
// file of the README's run command.
func TestValidateJSONGolden(t *testing.T) {
	example := filepath.Join("..", "..", "examples", "messages", "2025-06-18.ndjson")
	code, out, errs := runCLI(t, "", "validate", "--revision", "2025-06-18", "--format", "json", example)
	if code != 1 {
		t.Fatalf("exit %d (the example has two invalid messages on purpose); stderr %s", code, errs)
	}
	golden := filepath.Join("testdata", "validate-example.golden.ndjson")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if out != string(want) {
		t.Errorf("output differs from %s (run with -update if intended):\n%s", golden, out)
	}
}
