package sealed

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// State is what the broker needs to resume a suspended multi round-trip
// request, sealed as its requestState. The principal and the expiry are
// not fields: the Sealer binds them to the token.
//
// The JSON names are one letter to keep tokens short; unknown names are
// ignored when parsing, so that replicas of different versions can open
// each other's states during a rolling upgrade.
type State struct {
	// Instance names the broker replica that holds the suspended upstream
	// call, for sticky routing of the retry.
	Instance string `json:"i,omitempty"`
	// Call is the broker's handle of the suspended call. Required.
	Call string `json:"c"`
	// Session is the key of the upstream session the call runs on.
	Session string `json:"s,omitempty"`
	// Method is the method of the original request (tools/call,
	// prompts/get or resources/read). Required.
	Method string `json:"m"`
	// ParamsDigest is the [ParamsDigest] of the original request's params,
	// so that a retry whose params differ can be refused.
	ParamsDigest []byte `json:"d,omitempty"`
	// Keys are the inputRequests keys the client was asked to answer in
	// this round.
	Keys []string `json:"k,omitempty"`
	// Round counts the InputRequiredResults of this call so far, so that
	// a state from an earlier round is told apart from the current one.
	Round int `json:"r,omitempty"`
	// Inner is the upstream server's own requestState, verbatim, when the
	// broker wraps the state of a 2026 server: the broker sends it back
	// upstream on the retry.
	Inner string `json:"u,omitempty"`
}

// ErrInvalidState is returned, wrapped, by [ParseState] for a payload that
// is not a State, and by [State.Marshal] for a State that lacks a required
// field.
var ErrInvalidState = errors.New("sealed: invalid state")

// validate checks the required fields.
func (st *State) validate() error {
	switch {
	case st.Call == "":
		return fmt.Errorf("%w: no call handle", ErrInvalidState)
	case st.Method == "":
		return fmt.Errorf("%w: no method", ErrInvalidState)
	case st.Round < 0:
		return fmt.Errorf("%w: negative round %d", ErrInvalidState, st.Round)
	}
	return nil
}

// Marshal returns the JSON encoding of st. It fails with [ErrInvalidState]
// when Call or Method is empty.
func (st State) Marshal() ([]byte, error) {
	if err := st.validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("sealed: marshal state: %w", err)
	}
	return b, nil
}

// ParseState decodes a State written by [State.Marshal]. It fails with
// [ErrInvalidState] for anything but one JSON object with the required
// fields.
func ParseState(b []byte) (State, error) {
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&st); err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return State{}, fmt.Errorf("%w: data after the object", ErrInvalidState)
	}
	if err := st.validate(); err != nil {
		return State{}, err
	}
	return st, nil
}

// SealState seals st for principal; see [Sealer.Seal].
func (s *Sealer) SealState(principal string, st State) (string, error) {
	b, err := st.Marshal()
	if err != nil {
		return "", err
	}
	return s.Seal(principal, b)
}

// OpenState opens a token made by [Sealer.SealState]; see [Sealer.Open].
// A genuine token whose payload is not a State fails with
// [ErrInvalidState] (and is used up all the same).
func (s *Sealer) OpenState(principal, token string) (State, error) {
	b, err := s.Open(principal, token)
	if err != nil {
		return State{}, err
	}
	return ParseState(b)
}

// ErrInvalidParams is returned, wrapped, by [ParamsDigest] for params that
// are not a JSON object.
var ErrInvalidParams = errors.New("sealed: params are not a JSON object")

// ParamsDigest returns a SHA-256 digest of a request's params that an MRTR
// retry shares with the original request: inputResponses, requestState
// and the whole _meta (a client may send a new progressToken or trace
// context on the retry) are left out, and the rest is hashed in a
// canonical form (sorted keys, numbers as written). Absent or null params
// digest like {}. It fails with [ErrInvalidParams] for anything but one
// JSON object.
func ParamsDigest(params []byte) ([]byte, error) {
	obj := map[string]any{}
	if t := bytes.TrimSpace(params); len(t) > 0 && string(t) != "null" {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidParams, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: data after the object", ErrInvalidParams)
		}
		var ok bool
		if obj, ok = v.(map[string]any); !ok {
			return nil, ErrInvalidParams
		}
	}
	delete(obj, "inputResponses")
	delete(obj, "requestState")
	delete(obj, "_meta")
	// encoding/json sorts map keys and writes json.Number as it was read.
	canonical, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidParams, err)
	}
	sum := sha256.Sum256(canonical)
	return sum[:], nil
}
