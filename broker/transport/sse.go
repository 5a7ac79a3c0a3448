package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	// id is the stream's last event id when the event was dispatched.
	id string
	// name is the event type; empty means "message".
	name string
	// data is the event data, its lines joined with "\n".
	data []byte
}

// sseReader parses a text/event-stream body as the HTML living standard
// describes, with bounded memory.
type sseReader struct {
	sc      *bufio.Scanner
	max     int
	started bool
	// lastID is the last event id the stream set ("" when none).
	lastID string
	// retry is the last reconnection time the stream set (0 when none).
	retry time.Duration
}

// newSSEReader returns a reader of r whose events carry at most maxSize
// bytes of data.
func newSSEReader(r io.Reader, maxSize int) *sseReader {
	if maxSize <= 0 {
		maxSize = jsonrpc.DefaultMaxSize
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxSize+64)
	sc.Split(scanSSELines)
	return &sseReader{sc: sc, max: maxSize}
}

// scanSSELines is a bufio.SplitFunc for SSE lines, which end in "\r\n",
// "\n" or "\r".
func scanSSELines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		switch {
		case i+1 < len(data) && data[i+1] == '\n':
			return i + 2, data[:i], nil
		case i+1 < len(data) || atEOF:
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // a "\n" may follow the "\r"
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// next returns the next event that has data. Events without data (such as
// the priming events of 2025-11-25, REVISIONS.md 3.T1) only update lastID
// and retry. At the end of the body it returns io.EOF (an unterminated
// last event is discarded); an event over the size limit is an error
// wrapping [jsonrpc.ErrTooLarge].
func (r *sseReader) next() (sseEvent, error) {
	var (
		name string
		data []byte
		has  bool
	)
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		if len(line) == 0 {
			if has && len(data) > 1 {
				return sseEvent{id: r.lastID, name: name, data: data[:len(data)-1]}, nil
			}
			name, data, has = "", data[:0], false
			continue
		}
		if line[0] == ':' {
			continue // comment, such as a keep-alive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			if len(data)+len(value) > r.max {
				return sseEvent{}, fmt.Errorf("transport: SSE event: %w: more than %d bytes of data", jsonrpc.ErrTooLarge, r.max)
			}
			data = append(append(data, value...), '\n')
			has = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 31); err == nil {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return sseEvent{}, fmt.Errorf("transport: SSE line: %w: more than %d bytes", jsonrpc.ErrTooLarge, r.max)
		}
		return sseEvent{}, fmt.Errorf("transport: SSE: %w", err)
	}
	return sseEvent{}, io.EOF
}

// appendSSE appends the encoding of one event to b: its id and type when
// not empty, and data, one "data:" line per line of it (a line break in
// data, which in JSON can only be whitespace, is "\n", "\r\n" or "\r").
func appendSSE(b []byte, id, name string, data []byte) []byte {
	if id != "" {
		b = append(append(append(b, "id: "...), id...), '\n')
	}
	if name != "" {
		b = append(append(append(b, "event: "...), name...), '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			b = append(append(append(b, "data: "...), data...), '\n')
			break
		}
		b = append(append(append(b, "data: "...), data[:i]...), '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(b, '\n')
}
