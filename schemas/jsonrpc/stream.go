package jsonrpc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// DefaultMaxSize is the line length limit used by [NewReader] when given a
// non-positive maxSize.
const DefaultMaxSize = 16 << 20

// ErrTooLarge is returned, wrapped, by [Reader.Next] for a line longer than
// the Reader's limit.
var ErrTooLarge = errors.New("jsonrpc: message too large")

// ErrNewline is returned, wrapped, by [Writer.Write] for a message that
// contains a newline byte and so cannot be framed as one line.
var ErrNewline = errors.New("jsonrpc: message contains a newline")

// maxEmptyReads is how many successive (0, nil) reads are tolerated before
// giving up with io.ErrNoProgress.
const maxEmptyReads = 100

// Reader splits a byte stream into newline-delimited messages, as used by the
// MCP stdio transport.
//
// Lines may end in "\n" or "\r\n"; empty and whitespace-only lines are
// skipped. A line longer than the limit is discarded without being buffered,
// so a Reader never buffers more than maxSize+2 bytes, and reading resumes
// with the following line.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	r       io.Reader
	max     int
	buf     []byte
	start   int   // first unconsumed byte of buf
	end     int   // end of the buffered data
	scanned int   // buf[start:scanned] is known to contain no newline
	err     error // sticky read error
}

// NewReader returns a Reader reading from r that accepts lines of at most
// maxSize bytes, not counting the line ending. A non-positive maxSize means
// [DefaultMaxSize].
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if maxSize > math.MaxInt/2 {
		maxSize = math.MaxInt / 2
	}
	return &Reader{r: r, max: maxSize}
}

// Next returns the next non-empty line without its line ending ("\n" or
// "\r\n"). A final line that is not terminated by a newline is returned
// too; after it Next returns io.EOF.
//
// The returned slice aliases the Reader's buffer: it is valid only until the
// next call to Next, which may overwrite it.
//
// For a line longer than the limit Next returns an error wrapping
// [ErrTooLarge], after consuming the line; the next call continues with the
// following line. Any other error comes from the underlying reader (a
// partial line before a read error other than io.EOF is dropped); it is
// sticky.
func (r *Reader) Next() ([]byte, error) {
	for {
		if i := bytes.IndexByte(r.buf[r.scanned:r.end], '\n'); i >= 0 {
			nl := r.scanned + i
			line := r.buf[r.start:nl]
			r.start = nl + 1
			r.scanned = r.start
			if line, ok, err := r.check(line); ok || err != nil {
				return line, err
			}
			continue
		}
		r.scanned = r.end
		if r.err != nil {
			line := r.buf[r.start:r.end]
			r.start, r.end, r.scanned = 0, 0, 0
			if len(line) > 0 && r.err == io.EOF {
				if line, ok, err := r.check(line); ok || err != nil {
					return line, err
				}
			}
			return nil, r.err
		}
		if r.end-r.start > r.max+1 {
			// Too long even if the next byte is "\r" then "\n".
			if err := r.discard(); err != nil {
				return nil, err
			}
			continue
		}
		r.fill()
	}
}

// check strips a trailing "\r" from a complete line and reports whether it
// is to be returned (ok) or answered with an error; blank lines are neither.
func (r *Reader) check(line []byte) (_ []byte, ok bool, err error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if isBlank(line) {
		return nil, false, nil
	}
	if len(line) > r.max {
		return nil, false, r.tooLarge()
	}
	return line, true, nil
}

// tooLarge returns the error for a line over the limit.
func (r *Reader) tooLarge() error {
	return fmt.Errorf("%w: line longer than %d bytes", ErrTooLarge, r.max)
}

// fill reads more data into the buffer, compacting or growing it as needed.
// The buffer never grows beyond r.max+2 bytes.
func (r *Reader) fill() {
	if r.end == len(r.buf) {
		if r.start > 0 {
			n := copy(r.buf, r.buf[r.start:r.end])
			r.scanned -= r.start
			r.start, r.end = 0, n
		} else {
			size := min(max(2*len(r.buf), 4096), r.max+2)
			buf := make([]byte, size)
			copy(buf, r.buf[:r.end])
			r.buf = buf
		}
	}
	r.read(r.end)
}

// read reads into r.buf[at:], records the data and a read error, and gives
// up with io.ErrNoProgress after too many empty reads.
func (r *Reader) read(at int) {
	for range maxEmptyReads {
		n, err := r.r.Read(r.buf[at:])
		if n < 0 || n > len(r.buf)-at {
			r.err = errors.New("jsonrpc: invalid count returned by Read")
			return
		}
		r.end = at + n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

// discard drops the current line, whose buffered part has no newline and is
// already over the limit, reading and throwing away the rest of it in
// buffer-sized chunks. It returns the error for a too-long line, or nil when
// the line turns out to be blank.
func (r *Reader) discard() error {
	blank := isBlank(r.buf[r.start:r.end])
	r.start, r.end, r.scanned = 0, 0, 0
	for r.err == nil {
		r.read(0)
		chunk := r.buf[:r.end]
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			blank = blank && isBlank(chunk[:i])
			r.start, r.scanned = i+1, i+1
			break
		}
		blank = blank && isBlank(chunk)
		r.end = 0
	}
	if blank {
		return nil
	}
	return r.tooLarge()
}

// isBlank reports whether b holds only JSON whitespace.
func isBlank(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// Writer writes newline-delimited messages, as used by the MCP stdio
// transport. It is safe for concurrent use: each message is written with a
// single Write call on the underlying writer, under a mutex, so concurrent
// messages never interleave.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	err error
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// maxKeptBuffer is the largest write buffer a Writer keeps between calls.
const maxKeptBuffer = 1 << 20

// Write writes msg followed by "\n" in a single write. It refuses, with an
// error wrapping [ErrNewline], a message containing a newline byte. After
// the underlying writer fails, the stream may hold a partial line, so every
// later Write returns the same error.
func (w *Writer) Write(msg []byte) error {
	if i := bytes.IndexByte(msg, '\n'); i >= 0 {
		return fmt.Errorf("%w at offset %d", ErrNewline, i)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.buf = append(append(w.buf[:0], msg...), '\n')
	n, err := w.w.Write(w.buf)
	if err == nil && n != len(w.buf) {
		err = io.ErrShortWrite
	}
	if cap(w.buf) > maxKeptBuffer {
		w.buf = nil
	}
	if err != nil {
		w.err = fmt.Errorf("jsonrpc: write: %w", err)
		return w.err
	}
	return nil
}
