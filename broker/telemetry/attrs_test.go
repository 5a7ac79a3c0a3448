package telemetry

import (
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		method, params string
		want           Target
		wantName       string
	}{
		{"tools/call", `{"name":"get-weather","arguments":{"name":"not this"}}`, Target{Tool: "get-weather"}, "get-weather"},
		{"tools/call", `{"arguments":{"name":"nested"},"name":"late"}`, Target{Tool: "late"}, "late"},
		{"tools/call", `{"name":"caf\u00e9"}`, Target{Tool: "café"}, "café"},
		{"tools/call", `{"name":1}`, Target{}, ""},
		{"tools/call", ``, Target{}, ""},
		{"prompts/get", `{"name":"analyze-code","arguments":{}}`, Target{Prompt: "analyze-code"}, "analyze-code"},
		{"resources/read", `{"uri":"file:///a.txt"}`, Target{ResourceURI: "file:///a.txt"}, ""},
		{"resources/subscribe", `{"uri":"x://y"}`, Target{ResourceURI: "x://y"}, ""},
		{"resources/unsubscribe", `{"uri":"x://y"}`, Target{ResourceURI: "x://y"}, ""},
		{"notifications/resources/updated", `{"uri":"x://y"}`, Target{ResourceURI: "x://y"}, ""},
		{"tools/list", `{"name":"x"}`, Target{}, ""},
		{"resources/list", `{"uri":"x"}`, Target{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.params, func(t *testing.T) {
			got := ParseTarget(tt.method, []byte(tt.params))
			if got != tt.want {
				t.Errorf("ParseTarget = %+v, want %+v", got, tt.want)
			}
			if got.Name() != tt.wantName {
				t.Errorf("Name = %q, want %q", got.Name(), tt.wantName)
			}
		})
	}
}

func TestSpanNameAndOperation(t *testing.T) {
	tests := []struct{ method, target, want, op string }{
		{"tools/call", "get-weather", "tools/call get-weather", "execute_tool"},
		{"prompts/get", "analyze-code", "prompts/get analyze-code", ""},
		{"initialize", "", "initialize", ""},
		{"notifications/cancelled", "", "notifications/cancelled", ""},
	}
	for _, tt := range tests {
		if got := SpanName(tt.method, tt.target); got != tt.want {
			t.Errorf("SpanName(%q, %q) = %q, want %q", tt.method, tt.target, got, tt.want)
		}
		if got := OperationName(tt.method); got != tt.op {
			t.Errorf("OperationName(%q) = %q, want %q", tt.method, got, tt.op)
		}
	}
}

func TestIDString(t *testing.T) {
	tests := []struct{ id, want string }{
		{`10`, "10"}, {`"request-7"`, "request-7"}, {`"a\"b"`, `a"b`}, {` 1.5e3 `, "1.5e3"},
		{`null`, ""}, {``, ""}, {`"unterminated`, ""},
	}
	for _, tt := range tests {
		if got := idString([]byte(tt.id)); got != tt.want {
			t.Errorf("idString(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestResultOf(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		result, err string
		want        Result
	}{
		{"success", "tools/list", `{"tools":[]}`, "", Result{}},
		{"json-rpc error", "tools/call", "", `{"code":-32602,"message":"Unknown tool: x"}`,
			Result{ErrorType: "-32602", StatusCode: "-32602", Message: "Unknown tool: x"}},
		{"error with data first", "ping", "", `{"data":{"code":1},"message":"m","code":-32001}`,
			Result{ErrorType: "-32001", StatusCode: "-32001", Message: "m"}},
		{"error without integer code", "ping", "", `{"code":1.5,"message":"odd"}`, Result{ErrorType: "_OTHER", Message: "odd"}},
		{"tool error", "tools/call", `{"content":[],"isError":true}`, "", Result{ErrorType: "tool_error"}},
		{"isError false", "tools/call", `{"content":[],"isError":false}`, "", Result{}},
		{"isError on another method", "prompts/get", `{"isError":true}`, "", Result{}},
		{"nested isError", "tools/call", `{"structuredContent":{"isError":true}}`, "", Result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res, eo []byte
			if tt.result != "" {
				res = []byte(tt.result)
			}
			if tt.err != "" {
				eo = []byte(tt.err)
			}
			got := ResultOf(tt.method, res, eo)
			if got != tt.want {
				t.Errorf("ResultOf = %+v, want %+v", got, tt.want)
			}
			if got.Failed() != (tt.want.ErrorType != "") {
				t.Errorf("Failed = %v", got.Failed())
			}
		})
	}
	if got := Failure("", "x"); got.ErrorType != "_OTHER" {
		t.Errorf("Failure without type = %+v", got)
	}
	if got := ToolError("boom"); got != (Result{ErrorType: ErrorTypeTool, Message: "boom"}) {
		t.Errorf("ToolError = %+v", got)
	}
}

func TestOpAttributes(t *testing.T) {
	op := Op{
		Method: "tools/call", ID: []byte(`"req-1"`), Params: []byte(`{"name":"echo"}`),
		SessionID: "s1", Revision: "2025-11-25", Transport: TransportTCP, ProtocolName: "http", ProtocolVersion: "1.1",
		ServerAddress: "127.0.0.1", ServerPort: 9000, ClientAddress: "10.0.0.1", ClientPort: 5555,
	}
	wantMetric := []attribute.KeyValue{
		AttrMCPMethodName.String("tools/call"), AttrGenAIToolName.String("echo"), AttrGenAIOperationName.String("execute_tool"),
		AttrMCPProtocolVersion.String("2025-11-25"), AttrNetworkTransport.String("tcp"), AttrNetworkProtocolName.String("http"),
		AttrNetworkProtocolVersion.String("1.1"), AttrServerAddress.String("127.0.0.1"), AttrServerPort.Int(9000),
	}
	if got := op.AppendMetricAttributes(nil); !reflect.DeepEqual(got, wantMetric) {
		t.Errorf("metric attributes\n got %v\nwant %v", got, wantMetric)
	}
	wantSpan := append(append([]attribute.KeyValue(nil), wantMetric...),
		AttrJSONRPCRequestID.String("req-1"), AttrMCPSessionID.String("s1"),
		AttrClientAddress.String("10.0.0.1"), AttrClientPort.Int(5555))
	if got := op.AppendSpanAttributes(nil); !reflect.DeepEqual(got, wantSpan) {
		t.Errorf("span attributes\n got %v\nwant %v", got, wantSpan)
	}
	read := Op{Method: "resources/read", Params: []byte(`{"uri":"file:///x"}`), Transport: TransportPipe}
	got := read.AppendSpanAttributes(nil)
	want := []attribute.KeyValue{AttrMCPMethodName.String("resources/read"), AttrNetworkTransport.String("pipe"), AttrMCPResourceURI.String("file:///x")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resources/read span attributes\n got %v\nwant %v", got, want)
	}
	for _, kv := range read.AppendMetricAttributes(nil) {
		if kv.Key == AttrMCPResourceURI {
			t.Errorf("resource URI on metrics")
		}
	}
	if (Transport(9)).String() != "" || (Side(9)).String() != "" || ClientSide.String() != "client" || ServerSide.String() != "server" {
		t.Errorf("String of unknown values")
	}
}
