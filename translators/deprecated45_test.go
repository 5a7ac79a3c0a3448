package translators

import (
	"bytes"
	"testing"
)

// Test4D1DeprecatedStillTranslated: REVISIONS.md 4.D1. Roots, sampling
// (includeContext "thisServer" and "allServers" included) and logging are
// deprecated in 2026-07-28 but still functional: every message of theirs
// crosses the 2025-11-25 / 2026-07-28 boundary in both directions with the
// outcome its own row gives, never a rejection or a silent drop.
func Test4D1DeprecatedStillTranslated(t *testing.T) {
	up, down := lm45Chains(t)
	for _, tc := range []struct {
		name   string
		chain  *Chain
		dir    Direction
		method string // of the request a result answers
		msg    string
		want   OutcomeKind
		row    string
	}{
		{"legacy server samples with includeContext thisServer", up, ServerToClient, "",
			`{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5,"includeContext":"thisServer"}}`, Emulate, "4.M6"},
		{"legacy server samples with includeContext allServers", up, ServerToClient, "",
			`{"jsonrpc":"2.0","id":2,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5,"includeContext":"allServers"}}`, Emulate, "4.M6"},
		{"legacy server lists roots", up, ServerToClient, "",
			`{"jsonrpc":"2.0","id":3,"method":"roots/list"}`, Emulate, "4.M6"},
		{"legacy server logs", up, ServerToClient, "",
			`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`, Forward, ""},
		{"legacy client sets the log level", up, ClientToServer, "",
			`{"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"debug"}}`, Answer, "4.M2"},
		{"2026 client's per-request log level", down, ClientToServer, "",
			`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
				`"io.modelcontextprotocol/clientCapabilities":{"sampling":{},"roots":{}},"io.modelcontextprotocol/logLevel":"debug"}}}`, Forward, ""},
		{"2026 server asks for sampling with includeContext allServers and roots", down, ServerToClient, "tools/call",
			`{"jsonrpc":"2.0","id":6,"result":{"resultType":"input_required","inputRequests":{"s":{"method":"sampling/createMessage","params":{"messages":[],"maxTokens":5,"includeContext":"allServers"}},"r":{"method":"roots/list"}}}}`, Emulate, "4.M6"},
		{"2026 server logs", down, ServerToClient, "",
			`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`, Forward, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := Context{Method: tc.method}.Defaults()
			o, err := tc.chain.TranslateBytes([]byte(tc.msg), tc.dir, &ctx)
			if err != nil {
				t.Fatal(err)
			}
			if o.Kind != tc.want || (tc.row != "" && o.Row != tc.row) {
				t.Fatalf("outcome %v %s (%s), want %v %s", o.Kind, o.Row, o.Reason, tc.want, tc.row)
			}
			if tc.method == "" && tc.dir == ClientToServer && o.Kind == Forward && bytes.Contains(o.Message, []byte("logLevel")) {
				t.Errorf("logLevel not consumed (4.M2): %s", o.Message)
			}
		})
	}
	// The capabilities of the deprecated features survive the reshaping
	// both ways (4.L4).
	caps := NewJSON(`{"sampling":{"context":{}},"roots":{"listChanged":true}}`)
	if c := ClientCapabilitiesTo2026(caps, CapabilityOptions{}); !c.Has("sampling") || !c.Has("roots") {
		t.Errorf("to 2026: %s", c.Raw())
	}
	if c := ClientCapabilitiesToLegacy(caps, CapabilityOptions{}); !c.Has("sampling") || !c.Has("roots") {
		t.Errorf("to legacy: %s", c.Raw())
	}
	if c := ServerCapabilitiesTo2026(NewJSON(`{"logging":{}}`), CapabilityOptions{}); !c.Has("logging") {
		t.Errorf("server logging to 2026: %s", c.Raw())
	}
}
