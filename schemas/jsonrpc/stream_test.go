package jsonrpc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// result is one outcome of Reader.Next: a line, or an error.
type result struct {
	line string
	err  error
}

// readAll calls Next until io.EOF or another non-ErrTooLarge error.
func readAll(r *Reader) []result {
	var out []result
	for {
		line, err := r.Next()
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				out = append(out, result{err: ErrTooLarge})
				continue
			}
			out = append(out, result{err: err})
			return out
		}
		out = append(out, result{line: string(line)})
	}
}

func TestReader(t *testing.T) {
	tooLarge := result{err: ErrTooLarge}
	eof := result{err: io.EOF}
	tests := []struct {
		name string
		in   string
		max  int
		want []result
	}{
		{"empty input", "", 10, []result{eof}},
		{"one line", "abc\n", 10, []result{{line: "abc"}, eof}},
		{"final line without newline", "abc\ndef", 10, []result{{line: "abc"}, {line: "def"}, eof}},
		{"CRLF", "abc\r\ndef\r\n", 10, []result{{line: "abc"}, {line: "def"}, eof}},
		{"final CR without newline", "abc\r", 10, []result{{line: "abc"}, eof}},
		{"only one CR stripped", "abc\r\r\n", 10, []result{{line: "abc\r"}, eof}},
		{"inner CR kept", "a\rb\n", 10, []result{{line: "a\rb"}, eof}},
		{"empty lines", "\n\n\nabc\n\n\r\n\ndef\n\n", 10, []result{{line: "abc"}, {line: "def"}, eof}},
		{"whitespace-only lines", " \t \n \r\nabc\n\t\n", 10, []result{{line: "abc"}, eof}},
		{"spaces kept in lines", "  abc  \n", 10, []result{{line: "  abc  "}, eof}},
		{"line at the limit", "0123456789\n", 10, []result{{line: "0123456789"}, eof}},
		{"CRLF line at the limit", "0123456789\r\nx\n", 10, []result{{line: "0123456789"}, {line: "x"}, eof}},
		{"line one over the limit", "0123456789a\nok\n", 10, []result{tooLarge, {line: "ok"}, eof}},
		{"long line then good line", strings.Repeat("x", 1000) + "\n{\"ok\":1}\n", 10, []result{tooLarge, {line: `{"ok":1}`}, eof}},
		{"long CRLF line then good line", strings.Repeat("x", 1000) + "\r\nok\r\n", 10, []result{tooLarge, {line: "ok"}, eof}},
		{"good, long, good", "a\n" + strings.Repeat("y", 50) + "\nb\n", 10, []result{{line: "a"}, tooLarge, {line: "b"}, eof}},
		{"two long lines", strings.Repeat("x", 30) + "\n" + strings.Repeat("y", 30) + "\nz", 10, []result{tooLarge, tooLarge, {line: "z"}, eof}},
		{"long final line without newline", "a\n" + strings.Repeat("x", 100), 10, []result{{line: "a"}, tooLarge, eof}},
		{"final line one over the limit", "a\n0123456789a", 10, []result{{line: "a"}, tooLarge, eof}},
		{"long blank line skipped", strings.Repeat(" ", 100) + "\nok\n", 10, []result{{line: "ok"}, eof}},
		{"long line blank at start", strings.Repeat(" ", 100) + "x\nok\n", 10, []result{tooLarge, {line: "ok"}, eof}},
		{"long line ends in CR", strings.Repeat("x", 100) + "\r", 10, []result{tooLarge, eof}},
		{"limit one", "a\nbb\nc\r\n", 1, []result{{line: "a"}, tooLarge, {line: "c"}, eof}},
	}
	readers := map[string]func(string) io.Reader{
		"whole":   func(s string) io.Reader { return strings.NewReader(s) },
		"onebyte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"dataerr": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
		"halfread": func(s string) io.Reader {
			return iotest.HalfReader(strings.NewReader(s))
		},
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				r := NewReader(mk(tt.in), tt.max)
				got := readAll(r)
				if !equalResults(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
				if len(r.buf) > tt.max+2 {
					t.Errorf("buffer grew to %d bytes, limit %d", len(r.buf), tt.max)
				}
				// EOF is sticky.
				if _, err := r.Next(); err != io.EOF {
					t.Errorf("Next after EOF = %v", err)
				}
			})
		}
	}
}

func equalResults(a, b []result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].line != b[i].line || !errors.Is(a[i].err, b[i].err) {
			return false
		}
	}
	return true
}

func TestReaderTooLargeError(t *testing.T) {
	r := NewReader(strings.NewReader(strings.Repeat("x", 20)+"\n"), 10)
	_, err := r.Next()
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "10") {
		t.Errorf("error %q does not mention the limit", err)
	}
}

// countingReader produces n bytes of 'x' then "\nok\n", counting reads.
type countingReader struct {
	n     int
	tail  *strings.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	if c.n > 0 {
		k := min(len(p), c.n)
		for i := range k {
			p[i] = 'x'
		}
		c.n -= k
		return k, nil
	}
	return c.tail.Read(p)
}

func TestReaderBoundedMemory(t *testing.T) {
	const limit = 1 << 10
	src := &countingReader{n: 64 << 20, tail: strings.NewReader("\n{\"a\":1}\n")}
	r := NewReader(src, limit)
	if _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if cap(r.buf) > limit+2 {
		t.Errorf("buffer capacity %d exceeds limit+2 = %d", cap(r.buf), limit+2)
	}
	line, err := r.Next()
	if err != nil || string(line) != `{"a":1}` {
		t.Fatalf("Next = %q, %v", line, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want EOF", err)
	}
}

func TestReaderLargeLimitSmallBuffer(t *testing.T) {
	r := NewReader(strings.NewReader("a\nb\n"), 0)
	if r.max != DefaultMaxSize {
		t.Errorf("max = %d, want DefaultMaxSize", r.max)
	}
	for _, want := range []string{"a", "b"} {
		line, err := r.Next()
		if err != nil || string(line) != want {
			t.Fatalf("Next = %q, %v, want %q", line, err, want)
		}
	}
	if len(r.buf) > 4096 {
		t.Errorf("buffer is %d bytes for a tiny input", len(r.buf))
	}
}

func TestReaderGrowsToLimit(t *testing.T) {
	long := strings.Repeat("z", 100_000)
	r := NewReader(iotest.HalfReader(strings.NewReader("a\n"+long+"\r\nb")), 100_000)
	got := readAll(r)
	want := []result{{line: "a"}, {line: long}, {line: "b"}, {err: io.EOF}}
	if !equalResults(got, want) {
		t.Errorf("got %d results, want %d", len(got), len(want))
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	src := io.MultiReader(strings.NewReader("a\npartial"), iotest.ErrReader(boom))
	r := NewReader(src, 100)
	if line, err := r.Next(); err != nil || string(line) != "a" {
		t.Fatalf("Next = %q, %v", line, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next = %v, want boom (partial line dropped)", err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("error not sticky: %v", err)
	}
}

func TestReaderReadErrorDuringDiscard(t *testing.T) {
	boom := errors.New("boom")
	src := io.MultiReader(strings.NewReader(strings.Repeat("x", 100)), iotest.ErrReader(boom))
	r := NewReader(src, 10)
	if _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Next = %v, want ErrTooLarge", err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next = %v, want boom", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	r := NewReader(emptyReader{}, 10)
	if _, err := r.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next = %v, want io.ErrNoProgress", err)
	}
}

func TestReaderReusesBuffer(t *testing.T) {
	r := NewReader(strings.NewReader("first\nsecond\n"), 100)
	a, _ := r.Next()
	keep := string(a)
	b, _ := r.Next()
	if keep != "first" || string(b) != "second" {
		t.Errorf("got %q, %q", keep, b)
	}
}

func TestReaderMessages(t *testing.T) {
	in := "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\r\n" +
		"{\"jsonrpc\":\"2.0\",\"id\":-3,\"result\":{}}\n" +
		"not json\n" +
		"[{\"jsonrpc\":\"2.0\",\"method\":\"m\"}]"
	r := NewReader(iotest.OneByteReader(strings.NewReader(in)), 1024)
	var kinds []string
	for {
		line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFrame(line)
		if err != nil {
			kinds = append(kinds, fmt.Sprint(err.(*Error).Code))
			continue
		}
		for _, m := range f.Messages {
			kinds = append(kinds, m.Kind.String())
		}
	}
	if got, want := strings.Join(kinds, ","), "request,result,-32700,notification"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([]byte("{\"a\":\n1}")); !errors.Is(err, ErrNewline) {
		t.Errorf("Write with newline = %v, want ErrNewline", err)
	}
	if err := w.Write([]byte("{}\n")); !errors.Is(err, ErrNewline) {
		t.Errorf("Write with trailing newline = %v, want ErrNewline", err)
	}
	if err := w.Write(ErrorResponse(nil, CodeParseError, "a\nb", nil)); err != nil {
		t.Errorf("Write(ErrorResponse) = %v", err)
	}
	want := `{"a":1}` + "\n" + `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"a\nb"}}` + "\n"
	if buf.String() != want {
		t.Errorf("output %q, want %q", buf.String(), want)
	}
}

// chunkWriter records each Write call separately.
type chunkWriter struct {
	mu     sync.Mutex
	chunks []string
}

func (c *chunkWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.chunks = append(c.chunks, string(p))
	return len(p), nil
}

func TestWriterConcurrent(t *testing.T) {
	cw := &chunkWriter{}
	w := NewWriter(cw)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Sprintf(`{"jsonrpc":"2.0","method":"m","params":{"g":%d,"i":%d,"pad":%q}}`, g, i, strings.Repeat("p", i))
				if err := w.Write([]byte(msg)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(cw.chunks) != writers*each {
		t.Fatalf("%d writes, want %d", len(cw.chunks), writers*each)
	}
	all := strings.Join(cw.chunks, "")
	r := NewReader(strings.NewReader(all), 4096)
	n := 0
	for _, c := range cw.chunks {
		if !strings.HasSuffix(c, "\n") || strings.Count(c, "\n") != 1 {
			t.Fatalf("write %q is not exactly one line", c)
		}
		line, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(line); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		n++
	}
	if n != writers*each {
		t.Errorf("%d lines", n)
	}
}

type failWriter struct {
	n   int // bytes accepted
	err error
}

func (f *failWriter) Write(p []byte) (int, error) { return min(f.n, len(p)), f.err }

func TestWriterErrors(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(&failWriter{n: 3, err: boom})
	if err := w.Write([]byte("{}")); !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want boom", err)
	}
	if err := w.Write([]byte("{}")); !errors.Is(err, boom) {
		t.Fatalf("second Write = %v, want sticky boom", err)
	}
	w = NewWriter(&failWriter{n: 1})
	if err := w.Write([]byte("{}")); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short Write = %v, want io.ErrShortWrite", err)
	}
}
