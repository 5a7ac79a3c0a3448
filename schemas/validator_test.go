package schemas_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/mcpbroker/mcpbroker/schemas"
	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

func TestValidateErrors(t *testing.T) {
	v := newValidator(t)
	tests := []struct {
		name     string
		rev      schemas.Revision
		msg      string
		check    schemas.Check
		sentinel error
		code     int
		path     string
	}{
		{"parse error", schemas.V20250618, `{"jsonrpc":`, schemas.Check{}, nil, jsonrpc.CodeParseError, ""},
		{"not JSON-RPC", schemas.V20250618, `{"id":1,"method":"ping"}`, schemas.Check{}, nil, jsonrpc.CodeInvalidRequest, ""},
		{"fractional id", schemas.V20250618, `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, schemas.Check{}, schemas.ErrInvalidMessage, jsonrpc.CodeInvalidRequest, "/id"},
		{"integral id 1e3 is an integer", schemas.V20250618, `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, schemas.Check{}, nil, 0, ""},
		{"unknown method", schemas.V20241105, `{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{}}`, schemas.Check{}, schemas.ErrUnknownMethod, jsonrpc.CodeMethodNotFound, "/method"},
		{"wrong direction", schemas.V20250618, `{"jsonrpc":"2.0","id":1,"method":"roots/list"}`, schemas.Check{From: schemas.FromClient}, schemas.ErrUnknownMethod, jsonrpc.CodeMethodNotFound, "/method"},
		{"notification sent as request", schemas.V20250618, `{"jsonrpc":"2.0","id":1,"method":"notifications/initialized"}`, schemas.Check{}, schemas.ErrInvalidMessage, jsonrpc.CodeInvalidRequest, "/id"},
		{"invalid params", schemas.V20251125, `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":5}}`, schemas.Check{}, schemas.ErrInvalidParams, jsonrpc.CodeInvalidParams, "/params/name"},
		{"_meta not an object (envelope)", schemas.V20241105, `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","_meta":1}}`, schemas.Check{}, schemas.ErrInvalidParams, jsonrpc.CodeInvalidParams, "/params/_meta"},
		{"2026 request without _meta (4.L1)", schemas.V20260728, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`, schemas.Check{}, schemas.ErrInvalidParams, jsonrpc.CodeInvalidParams, "/params"},
		{"result without method", schemas.V20250618, `{"jsonrpc":"2.0","id":1,"result":{}}`, schemas.Check{}, schemas.ErrNeedMethod, jsonrpc.CodeInternalError, ""},
		{"invalid result", schemas.V20250618, `{"jsonrpc":"2.0","id":1,"result":{"tools":{}}}`, schemas.Check{Method: "tools/list"}, schemas.ErrInvalidResult, jsonrpc.CodeInternalError, "/result/tools"},
		{"error without id before 2025-11-25", schemas.V20250618, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"x"}}`, schemas.Check{}, schemas.ErrInvalidMessage, jsonrpc.CodeInvalidRequest, "/id"},
		{"error without id from 2025-11-25 (3.F4)", schemas.V20251125, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"x"}}`, schemas.Check{}, nil, 0, ""},
		{"error object without message", schemas.V20251125, `{"jsonrpc":"2.0","id":4,"error":{"code":-32700}}`, schemas.Check{}, schemas.ErrInvalidResult, jsonrpc.CodeInternalError, "/error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.ValidateBytes(tt.rev, []byte(tt.msg), tt.check)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %T %v", err, err)
			}
			if ve.Code() != tt.code {
				t.Errorf("code %d, want %d (%v)", ve.Code(), tt.code, err)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v is not %v", err, tt.sentinel)
			}
			if tt.path != "" && (len(ve.Issues) == 0 || ve.Issues[0].Path != tt.path) {
				t.Errorf("issues %+v, want first at %s", ve.Issues, tt.path)
			}
		})
	}
}

// TestValidateConcurrent shares one Validator between goroutines (run with
// -race): the broker validates every session's messages with it.
func TestValidateConcurrent(t *testing.T) {
	v := newValidator(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := schemas.All()[g%len(schemas.All())]
			for range 20 {
				if err := v.ValidateBytes(r, callToolRequest(r), schemas.Check{}); err != nil {
					t.Error(err)
					return
				}
				if err := v.ValidateDef(r, "TextContent", []byte(`{"type":"text","text":"x"}`)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestHugeNumbers: jsonschema panics on a number math/big will not parse
// (1e1000001) where a bound applies; Validate reports it invalid instead.
func TestHugeNumbers(t *testing.T) {
	v := newValidator(t)
	for _, c := range []struct {
		rev    schemas.Revision
		method string
		msg    string
	}{
		{schemas.V20250618, "tools/call", `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"x","annotations":{"priority":1e1000001}}]}}`},
		{schemas.V20260728, "tools/list", `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"ttlMs":1e1000001,"resultType":"complete","cacheScope":"public"}}`},
		{schemas.V20250618, "", `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1e1000001}}`},
	} {
		err := v.ValidateBytes(c.rev, []byte(c.msg), schemas.Check{Method: c.method})
		t.Logf("%s: %v", c.rev, err)
		var ve *schemas.ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Errorf("%s: %T %v", c.msg, err, err)
		}
	}
	if err := v.ValidateDef(schemas.V20250618, "Annotations", []byte(`{"priority":-1e1000001}`)); err == nil {
		t.Error("Annotations with priority -1e1000001 valid")
	}
}
