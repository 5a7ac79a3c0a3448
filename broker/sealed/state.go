package sealed

import (
	"bytes"
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
	// ParamsDigest is a digest of the original request's params, without
	// inputResponses, requestState and per-hop _meta keys, computed by the
	// caller, so that a retry whose params differ is refused.
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
