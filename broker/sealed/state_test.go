package sealed

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestStateRoundTrip(t *testing.T) {
	clock := newClock()
	s := newSealer(t, clock, testKey(1))
	tests := []struct {
		name string
		st   State
	}{
		{"minimal", State{Call: "c1", Method: "tools/call"}},
		{"full", State{
			Instance: "broker-2", Call: "c1", Session: "sess-9", Method: "resources/read",
			ParamsDigest: []byte{1, 2, 3}, Keys: []string{"elicit-1", "roots"}, Round: 3,
			Inner: `opaque "server" state ✓`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.SealState("alice", tt.st)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.OpenState("alice", tok)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.st) {
				t.Fatalf("got %+v, want %+v", got, tt.st)
			}
			if _, err := s.OpenState("alice", tok); !errors.Is(err, ErrReplayed) {
				t.Fatalf("second open: %v", err)
			}
			if _, err := s.OpenState("bob", tok); !errors.Is(err, ErrWrongPrincipal) {
				t.Fatalf("other principal: %v", err)
			}
		})
	}
}

func TestStateInvalid(t *testing.T) {
	s := newSealer(t, newClock(), testKey(1))
	for _, st := range []State{{}, {Call: "c"}, {Method: "tools/call"}, {Call: "c", Method: "m", Round: -1}} {
		if _, err := s.SealState("a", st); !errors.Is(err, ErrInvalidState) {
			t.Fatalf("SealState(%+v): %v", st, err)
		}
	}
	// A genuine token whose payload is not a State.
	tok := mustSeal(t, s, "a", []byte("not json"))
	if _, err := s.OpenState("a", tok); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("OpenState: %v", err)
	}
}

func TestParseState(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want State
		err  error
	}{
		{"minimal", `{"c":"x","m":"tools/call"}`, State{Call: "x", Method: "tools/call"}, nil},
		{"unknown field ignored", `{"c":"x","m":"y","z":1}`, State{Call: "x", Method: "y"}, nil},
		{"white space", " {\"c\":\"x\",\"m\":\"y\"}\n", State{Call: "x", Method: "y"}, nil},
		{"empty", ``, State{}, ErrInvalidState},
		{"null", `null`, State{}, ErrInvalidState},
		{"array", `[]`, State{}, ErrInvalidState},
		{"no call", `{"m":"y"}`, State{}, ErrInvalidState},
		{"no method", `{"c":"x"}`, State{}, ErrInvalidState},
		{"wrong type", `{"c":1,"m":"y"}`, State{}, ErrInvalidState},
		{"bad digest", `{"c":"x","m":"y","d":"!"}`, State{}, ErrInvalidState},
		{"trailing", `{"c":"x","m":"y"}{}`, State{}, ErrInvalidState},
		{"trailing garbage", `{"c":"x","m":"y"} x`, State{}, ErrInvalidState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseState([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParamsDigest(t *testing.T) {
	base := `{"name":"deploy","arguments":{"env":"prod","n":1.0},"_meta":{"progressToken":1}}`
	same := []string{
		`{"arguments":{"n":1.0,"env":"prod"},"name":"deploy"}`,
		`{"name":"deploy","arguments":{"env":"prod","n":1.0},"_meta":{"progressToken":2,"traceparent":"x"},` +
			`"inputResponses":{"elicit-1":{"action":"accept","content":{}}},"requestState":"tok"}`,
	}
	differ := []string{
		`{"name":"deploy","arguments":{"env":"staging","n":1.0}}`,
		`{"name":"deploy","arguments":{"env":"prod","n":1}}`,
		`{"name":"deploy2","arguments":{"env":"prod","n":1.0}}`,
		`{"name":"deploy"}`,
	}
	d0, err := ParamsDigest([]byte(base))
	if err != nil || len(d0) != 32 {
		t.Fatalf("digest: %x, %v", d0, err)
	}
	for _, p := range same {
		if d, err := ParamsDigest([]byte(p)); err != nil || !bytes.Equal(d, d0) {
			t.Fatalf("%s: digest differs (%v)", p, err)
		}
	}
	for _, p := range differ {
		if d, err := ParamsDigest([]byte(p)); err != nil || bytes.Equal(d, d0) {
			t.Fatalf("%s: same digest (%v)", p, err)
		}
	}
	empty, _ := ParamsDigest([]byte(`{}`))
	for _, p := range []string{``, `null`, ` {"_meta":{}} `} {
		if d, err := ParamsDigest([]byte(p)); err != nil || !bytes.Equal(d, empty) {
			t.Fatalf("%q: %x, %v", p, d, err)
		}
	}
	for _, p := range []string{`[]`, `"x"`, `{`, `{} {}`, `1`} {
		if _, err := ParamsDigest([]byte(p)); !errors.Is(err, ErrInvalidParams) {
			t.Fatalf("%q: %v", p, err)
		}
	}
}
