package schemas_test

import (
	"errors"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// FuzzValidate feeds arbitrary bytes to the validator of every revision:
// it must never panic, every failure must carry a JSON-RPC code, and a
// message it accepts must be a well-formed JSON-RPC message.
func FuzzValidate(f *testing.F) {
	for _, r := range schemas.All() {
		f.Add(callToolRequest(r), uint8(r), "")
		f.Add(toolsListResult(r, 2), uint8(r), "tools/list")
	}
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`), uint8(1), "")
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}`), uint8(2), "ping")
	f.Add([]byte(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}`), uint8(3), "")
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`), uint8(2), "")
	f.Add([]byte(`{"jsonrpc":"2.0","id":1.5,"result":{}}`), uint8(4), "ping")
	v, err := schemas.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, rev uint8, method string) {
		r := schemas.Revision(rev%uint8(schemas.Latest) + 1)
		err := v.ValidateBytes(r, raw, schemas.Check{Method: method})
		if err == nil {
			if _, perr := jsonrpc.Parse(raw); perr != nil {
				t.Fatalf("validator accepted bytes the codec rejects: %v", perr)
			}
			return
		}
		var ve *schemas.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error is not a *ValidationError: %T %v", err, err)
		}
		switch ve.Code() {
		case -32700, -32600, -32601, -32602, -32603:
		default:
			t.Fatalf("unexpected code %d for %v", ve.Code(), err)
		}
	})
}
