package jsonrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

// toolsCallRequest is a typical MCP tools/call request (about 200 bytes).
const toolsCallRequest = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_files","arguments":{"path":"/home/user/project","pattern":"*.go","maxResults":50},"_meta":{"progressToken":"tok-42"}}}`

// toolsListResult returns a tools/list result of at least size bytes.
func toolsListResult(size int) []byte {
	type tool struct {
		Name        string         `json:"name"`
		Title       string         `json:"title"`
		Description string         `json:"description"`
		InputSchema map[string]any `json:"inputSchema"`
		Annotations map[string]any `json:"annotations"`
	}
	var tools []tool
	for i := 0; ; i++ {
		tools = append(tools, tool{
			Name:        fmt.Sprintf("tool_%03d", i),
			Title:       fmt.Sprintf("Tool nº %d — “quoted”", i),
			Description: "Searches the \"workspace\" for files matching a pattern.\nReturns paths & line numbers <relative to root>.",
			InputSchema: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"path":       map[string]any{"type": "string", "description": "Directory to search"},
					"pattern":    map[string]any{"type": "string", "description": "Glob pattern, e.g. *.go"},
					"maxResults": map[string]any{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
					"caseFold":   map[string]any{"type": "boolean", "default": false},
				},
				"required":             []string{"path", "pattern"},
				"additionalProperties": false,
			},
			Annotations: map[string]any{"readOnlyHint": true, "openWorldHint": false},
		})
		b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "result": map[string]any{"tools": tools, "nextCursor": "c2Vjb25k"}})
		if err != nil {
			panic(err)
		}
		if len(b) >= size {
			return b
		}
	}
}

func BenchmarkParseToolsCall(b *testing.B) {
	msg := []byte(toolsCallRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		m, err := Parse(msg)
		if err != nil || m.Kind != KindRequest {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFrameToolsCall(b *testing.B) {
	msg := []byte(toolsCallRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := ParseFrame(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseToolsListResult(b *testing.B) {
	msg := toolsListResult(30 << 10)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		m, err := Parse(msg)
		if err != nil || m.Kind != KindResult {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdlibToolsListResult is a point of comparison: encoding/json
// decoding the same envelope with a raw result.
func BenchmarkStdlibToolsListResult(b *testing.B) {
	msg := toolsListResult(30 << 10)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var env struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Result  json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(msg, &env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReader(b *testing.B) {
	var in bytes.Buffer
	for i := range 10_000 {
		fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`+"\r\n", i)
	}
	data := in.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), 1<<20)
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 10_000 {
			b.Fatalf("%d lines", n)
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	w := NewWriter(io.Discard)
	msg := []byte(toolsCallRequest)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := w.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func TestToolsListResultSize(t *testing.T) {
	msg := toolsListResult(30 << 10)
	if len(msg) < 30<<10 || len(msg) > 40<<10 || !strings.Contains(string(msg), `"tools"`) {
		t.Fatalf("fixture is %d bytes", len(msg))
	}
	m, err := Parse(msg)
	if err != nil || m.Kind != KindResult || string(m.Raw) != string(msg) {
		t.Fatalf("Parse = %v", err)
	}
}
