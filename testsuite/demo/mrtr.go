package demo

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
	"github.com/mcpbroker/mcpbroker/testsuite/fixture"
)

// Multi round-trip requests (2026-07-28, REVISIONS.md 4.M6). A tool that
// needs the client's model, user or roots answers its first call with an
// InputRequiredResult: inputRequests (key -> {method, params}) and a
// requestState. The client retries the call, with a new id, the same
// params, the inputResponses under the same keys and the requestState as
// it was. The server keeps nothing between the rounds: the requestState
// carries everything, signed so that the client cannot forge it.

// requestStatePrefix starts what the requestState HMAC covers, so that a
// MAC of this server can sign nothing else.
const requestStatePrefix = "mcpbroker-demo-requestState-v1."

// mrtrState is what a requestState carries.
type mrtrState struct {
	// Method and Name identify the call: tools/call and the tool.
	Method string `json:"m"`
	Name   string `json:"n"`
	// Args is the hex SHA-256 of the call's canonical arguments: the
	// retry must be the same call.
	Args string `json:"a"`
	// Asks maps the keys of the inputRequests of this round to their
	// methods.
	Asks map[string]string `json:"k"`
	// Data is the tool's state (the answers of earlier rounds).
	Data json.RawMessage `json:"d,omitempty"`
	// Expires is the end of validity, in Unix milliseconds.
	Expires int64 `json:"x"`
}

// inputRequest is one entry of InputRequests: a bare {method, params}.
type inputRequest struct {
	Method string         `json:"method"`
	Params map[string]any `json:"params,omitempty"`
}

// resultDefinition names the definition of the inputResponses answering
// an input request's method.
func resultDefinition(method string) string {
	switch method {
	case "sampling/createMessage":
		return "CreateMessageResult"
	case "elicitation/create":
		return "ElicitResult"
	case "roots/list":
		return "ListRootsResult"
	}
	return ""
}

// argsDigest returns the hex SHA-256 of canonical JSON arguments (absent,
// null and {} are the same).
func argsDigest(args json.RawMessage) (string, error) {
	canon := []byte("{}")
	if len(args) > 0 && string(args) != "null" {
		dec := json.NewDecoder(bytes.NewReader(args))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("demo: arguments: %w", err)
		}
		b, err := json.Marshal(v) // map keys sorted
		if err != nil {
			return "", fmt.Errorf("demo: arguments: %w", err)
		}
		canon = b
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// mac returns the HMAC-SHA256 of a requestState payload.
func (s *Server) mac(payload string) []byte {
	h := hmac.New(sha256.New, s.stateKey)
	h.Write([]byte(requestStatePrefix))
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// sealState returns the requestState token of st: base64url(JSON) "."
// base64url(HMAC).
func (s *Server) sealState(st *mrtrState) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("demo: requestState: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload)), nil
}

// invalidState is the error answering a requestState the server cannot
// accept (REVISIONS.md 4.M6: tampered or expired → -32602).
func invalidState(format string, args ...any) error {
	return errorf(jsonrpc.CodeInvalidParams, "Invalid params: invalid requestState: "+format, args...)
}

// openState verifies a requestState token and returns what it carries.
func (s *Server) openState(token string) (*mrtrState, error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, invalidState("not a token of this server")
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.mac(payload)) {
		return nil, invalidState("bad signature")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, invalidState("bad payload")
	}
	var st mrtrState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, invalidState("bad payload: %v", err)
	}
	if time.Now().UnixMilli() > st.Expires {
		return nil, invalidState("expired")
	}
	return &st, nil
}

// resume returns the state of a retried call, and the inputResponses
// that answer the state's input requests (each checked against its
// definition in strict mode). On a first call it returns a nil state.
// A response missing for some key is not an error: the caller asks
// again.
func (ss *serverSession) resume(call *toolCall) (*mrtrState, map[string]json.RawMessage, error) {
	if call.RequestState == nil {
		if call.InputResponses != nil {
			return nil, nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: inputResponses without requestState")
		}
		return nil, nil, nil
	}
	st, err := ss.srv.openState(*call.RequestState)
	if err != nil {
		return nil, nil, err
	}
	digest, err := argsDigest(call.Arguments)
	if err != nil {
		return nil, nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: %v", err)
	}
	if st.Method != "tools/call" || st.Name != call.Name || st.Args != digest {
		return nil, nil, invalidState("it belongs to another request")
	}
	got := map[string]json.RawMessage{}
	for key, raw := range call.InputResponses {
		method, ok := st.Asks[key]
		if !ok {
			return nil, nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: inputResponses has %q, which the server did not ask for", key)
		}
		if ss.srv.validator != nil {
			if err := ss.srv.validator.ValidateDef(ss.srv.rev, resultDefinition(method), []byte(raw)); err != nil {
				return nil, nil, errorf(jsonrpc.CodeInvalidParams, "Invalid params: inputResponses[%q] does not answer %s: %v", key, method, err)
			}
		}
		got[key] = raw
	}
	return st, got, nil
}

// ask returns the InputRequiredResult that asks the client for requests,
// with a requestState that carries data.
func (ss *serverSession) ask(call *toolCall, requests map[string]inputRequest, data any) (any, error) {
	digest, err := argsDigest(call.Arguments)
	if err != nil {
		return nil, err
	}
	st := &mrtrState{Method: "tools/call", Name: call.Name, Args: digest, Asks: map[string]string{},
		Expires: time.Now().Add(ss.srv.stateTTL).UnixMilli()}
	for k, r := range requests {
		st.Asks[k] = r.Method
	}
	if data != nil {
		if st.Data, err = json.Marshal(data); err != nil {
			return nil, fmt.Errorf("demo: requestState data: %w", err)
		}
	}
	token, err := ss.srv.sealState(st)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"resultType":    fixture.ResultInputRequired,
		"inputRequests": requests,
		"requestState":  token,
	}, nil
}
