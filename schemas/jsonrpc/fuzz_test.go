package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func FuzzParseFrame(f *testing.F) {
	for _, seed := range []string{
		toolsCallRequest,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":-3,"result":1.5}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`,
		`{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":{"a":[true,false,null]}}`,
		`{"\u006asonrpc":"2\u002e0","id":"\ud83d\ude00","method":"m\/x","params":[]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"a"},1,[],{"foo":"bar"},{"jsonrpc":"2.0","method":"b"}]`,
		`[]`, `[[]]`, `{}`, `1e3`, `"x"`, `null`, ``, `{"jsonrpc":"2.0","id":1,"method":"m","method":"n"}`,
		"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}",
		`{"jsonrpc":"2.0","method":"m","params":[[[[[[[[[[]]]]]]]]]]}`,
		`{"jsonrpc":"2.0","id":1.5e+10,"error":{"code":1,"message":"m","data":{"x":"<>&"}}}`,
		" \r\n{\"jsonrpc\" : \"2.0\" , \"id\" : \"a\" , \"result\" : \"\\u0000\" }\t",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		frame, err := ParseFrame(b)
		if !bytes.Equal(in, b) {
			t.Fatal("ParseFrame modified its input")
		}
		m, perr := Parse(b)

		if err != nil {
			var e *Error
			if !errors.As(err, &e) || frame != nil {
				t.Fatalf("ParseFrame error %v (%T) with frame %v", err, err, frame)
			}
			if e.Code == CodeParseError && json.Valid(b) && validUTF8Strings(b) && depthOK(b) {
				t.Fatalf("parse error %v for valid JSON %q", err, b)
			}
			if e.Code == CodeInvalidRequest && !json.Valid(b) {
				t.Fatalf("invalid request %v for invalid JSON %q", err, b)
			}
			if e.ID != nil && !validID(e.ID) {
				t.Fatalf("error ID %q is not a valid id", e.ID)
			}
			if !json.Valid(e.Response()) {
				t.Fatalf("Response() %q is not valid JSON", e.Response())
			}
		} else if !json.Valid(b) {
			t.Fatalf("ParseFrame accepted invalid JSON %q", b)
		}

		// Parse agrees with ParseFrame on non-batch input.
		if frame != nil && !frame.Batch {
			if perr != nil || !equalMessage(m, frame.Messages[0]) {
				t.Fatalf("Parse = %+v, %v; ParseFrame = %+v", m, perr, frame.Messages[0])
			}
		}
		if perr == nil && (frame == nil || frame.Batch) {
			t.Fatalf("Parse accepted %q but ParseFrame did not", b)
		}
		if frame == nil {
			return
		}
		if frame.Errors != nil && len(frame.Errors) != len(frame.Messages) {
			t.Fatalf("len(Errors) = %d, len(Messages) = %d", len(frame.Errors), len(frame.Messages))
		}
		for i, msg := range frame.Messages {
			if msg == nil {
				if frame.Errors == nil || frame.Errors[i] == nil {
					t.Fatalf("element %d: neither message nor error", i)
				}
				if frame.Errors[i].Code != CodeInvalidRequest {
					t.Fatalf("element %d: code %d", i, frame.Errors[i].Code)
				}
				continue
			}
			if frame.Errors != nil && frame.Errors[i] != nil {
				t.Fatalf("element %d: both message and error", i)
			}
			checkFuzzMessage(t, msg)
		}
	})
}

// checkFuzzMessage checks the invariants of a successfully parsed message.
func checkFuzzMessage(t *testing.T, msg *Message) {
	t.Helper()
	if !json.Valid(msg.Raw) {
		t.Fatalf("Raw %q is not valid JSON", msg.Raw)
	}
	again, err := Parse(msg.Raw)
	if err != nil {
		t.Fatalf("Parse(Raw %q): %v", msg.Raw, err)
	}
	if again.Kind != msg.Kind || !bytes.Equal(again.ID, msg.ID) || again.Method != msg.Method {
		t.Fatalf("re-parse of %q: %v %s %q, want %v %s %q", msg.Raw, again.Kind, again.ID, again.Method, msg.Kind, msg.ID, msg.Method)
	}
	// Cross-check the classification with encoding/json.
	var std struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  *string         `json:"method"`
	}
	if err := json.Unmarshal(msg.Raw, &std); err != nil {
		t.Fatalf("encoding/json rejects %q: %v", msg.Raw, err)
	}
	if std.JSONRPC != "2.0" {
		t.Fatalf("jsonrpc = %q in accepted %q", std.JSONRPC, msg.Raw)
	}
	switch msg.Kind {
	case KindRequest, KindNotification:
		if std.Method == nil || *std.Method != msg.Method {
			t.Fatalf("method %q, encoding/json says %v", msg.Method, std.Method)
		}
		if msg.Kind == KindRequest && (msg.ID == nil || string(msg.ID) == "null") {
			t.Fatalf("request without a usable id: %q", msg.Raw)
		}
		if msg.Kind == KindNotification && msg.ID != nil {
			t.Fatalf("notification with id: %q", msg.Raw)
		}
	case KindResult:
		if msg.Result == nil || msg.ID == nil || string(msg.ID) == "null" {
			t.Fatalf("bad result %+v", msg)
		}
	case KindError:
		// An error response may lack its id (3.F4); ID is then nil.
		if len(msg.Error) == 0 || msg.Error[0] != '{' || (msg.ID == nil && std.ID != nil) {
			t.Fatalf("bad error %+v", msg)
		}
	default:
		t.Fatalf("Kind %v", msg.Kind)
	}
	if msg.ID != nil {
		if !bytes.Equal(msg.ID, std.ID) {
			t.Fatalf("ID %q, encoding/json says %q", msg.ID, std.ID)
		}
		if string(msg.ID) != "null" {
			k := IDKey(msg.ID)
			if k == "" || IDKey(json.RawMessage(" "+string(msg.ID)+" ")) != k {
				t.Fatalf("IDKey(%q) = %q", msg.ID, k)
			}
		}
		resp := ErrorResponse(msg.ID, CodeInternalError, "x", nil)
		r, err := Parse(resp)
		if err != nil || !bytes.Equal(r.ID, msg.ID) {
			t.Fatalf("ErrorResponse(%q) = %q: %v", msg.ID, resp, err)
		}
	}
}

// validUTF8Strings reports whether b, known to be valid JSON, has only valid
// UTF-8 (encoding/json.Valid does not check).
func validUTF8Strings(b []byte) bool {
	return strings.ToValidUTF8(string(b), "\uFFFD") == string(b)
}

// depthOK reports whether b nests arrays and objects no deeper than
// MaxDepth, counting brackets outside strings.
func depthOK(b []byte) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > MaxDepth {
				return false
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return true
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("a\nb\n"), 10, uint8(0))
	f.Add([]byte("a\r\n\r\n\nb"), 3, uint8(1))
	f.Add([]byte(strings.Repeat("x", 40)+"\nok\n"), 8, uint8(3))
	f.Add([]byte("   \n\t\r\n"+strings.Repeat(" ", 50)+"\nz\r"), 4, uint8(2))
	f.Add([]byte("0123456789\r\n0123456789a\n"), 10, uint8(7))
	f.Add([]byte("\r\r\n\r"), 1, uint8(0))
	f.Add([]byte(toolsCallRequest+"\n"+toolsCallRequest), 64, uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, maxSize int, chunk uint8) {
		if maxSize <= 0 || maxSize > 1<<16 {
			maxSize = 1 + (maxSize%64+64)%64
		}
		r := NewReader(&chunkReader{data: data, chunk: int(chunk)%17 + 1}, maxSize)

		// The reference: split on "\n", drop one trailing "\r", skip
		// whitespace-only lines, flag lines over the limit.
		var want []result
		for line := range strings.SplitSeq(string(data), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if strings.Trim(line, " \t\r") == "" {
				continue
			}
			if len(line) > maxSize {
				want = append(want, result{err: ErrTooLarge})
			} else {
				want = append(want, result{line: line})
			}
		}
		want = append(want, result{err: io.EOF})

		var got []result
		for range len(data) + 2 {
			line, err := r.Next()
			if len(line) > maxSize {
				t.Fatalf("line of %d bytes, limit %d", len(line), maxSize)
			}
			if cap(r.buf) > maxSize+2 {
				t.Fatalf("buffer of %d bytes, limit %d", cap(r.buf), maxSize)
			}
			if err != nil && !errors.Is(err, ErrTooLarge) && err != io.EOF {
				t.Fatalf("unexpected error %v", err)
			}
			if errors.Is(err, ErrTooLarge) {
				err = ErrTooLarge
			}
			got = append(got, result{line: string(line), err: err})
			if err == io.EOF {
				break
			}
		}
		if !equalResults(got, want) {
			t.Fatalf("input %q limit %d:\n got %v\nwant %v", data, maxSize, got, want)
		}
	})
}

// chunkReader returns data at most chunk bytes at a time, with io.EOF
// alongside the last bytes.
type chunkReader struct {
	data  []byte
	chunk int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n := copy(p, c.data[:min(c.chunk, len(c.data))])
	c.data = c.data[n:]
	if len(c.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}
