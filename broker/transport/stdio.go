package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/mcpbroker/mcpbroker/schemas/jsonrpc"
)

// stdioQueue is how many frames a stdio Conn reads ahead of Recv.
const stdioQueue = 16

// stdioConn is a Conn over newline-delimited JSON.
type stdioConn struct {
	w      *jsonrpc.Writer
	wc     io.WriteCloser
	rc     io.Closer // the reader, when it is one
	in     *inbox
	closed chan struct{}
	// readerDone is closed when the reading goroutine has returned.
	readerDone chan struct{}

	closeOnce sync.Once
	closeErr  error
	// stop, when set, runs during Close after the streams are closed (to
	// stop a child process).
	stop func()
	// end, when set, turns the reader's final error into the error Recv
	// returns (to add a child's exit status).
	end func(error) error
}

// NewStdio returns a Conn that exchanges newline-delimited JSON-RPC frames
// (the MCP stdio transport): it reads frames from r, one per line, and
// writes each frame sent as one line to w.
//
// Lines longer than maxSize bytes (a non-positive maxSize means
// [jsonrpc.DefaultMaxSize]) are discarded without being buffered; for each
// one Recv returns an error wrapping [jsonrpc.ErrTooLarge]. That error is
// not fatal: the line is gone (its id unknown), the relay may answer it with
// a -32700 error carrying a null id, and the next Recv returns the next
// line. Empty lines are skipped. Frames are passed on as read: Recv does not
// validate them, and Message.Related is always empty.
//
// When r reaches end of file, Recv returns an error wrapping io.EOF. Close
// closes w, and r too when it is an [io.Closer]; Recv and Send then return
// [ErrClosed]. Lines read after Close are discarded. A reader that is not
// an io.Closer keeps one goroutine blocked in Read until the Read returns.
//
// Send writes the frame (which must not contain a newline byte) with a
// single Write; it checks ctx before writing but cannot interrupt a Write
// that blocks because the peer does not read: Close does.
func NewStdio(r io.Reader, w io.WriteCloser, maxSize int) Conn {
	return newStdio(r, w, maxSize, nil)
}

// newStdio is NewStdio with an optional end hook, set before the reading
// goroutine starts.
func newStdio(r io.Reader, w io.WriteCloser, maxSize int, end func(error) error) *stdioConn {
	c := &stdioConn{
		w:          jsonrpc.NewWriter(w),
		wc:         w,
		in:         newInbox(stdioQueue),
		closed:     make(chan struct{}),
		readerDone: make(chan struct{}),
		end:        end,
	}
	if rc, ok := r.(io.Closer); ok {
		c.rc = rc
	}
	go c.read(jsonrpc.NewReader(r, maxSize))
	return c
}

// read moves lines from r to the inbox until r fails.
func (c *stdioConn) read(r *jsonrpc.Reader) {
	defer close(c.readerDone)
	ctx := context.Background() // put returns once the inbox ends
	for {
		line, err := r.Next()
		switch {
		case c.in.ended() && (err == nil || errors.Is(err, jsonrpc.ErrTooLarge)):
			// Nobody will take it: keep draining, so that a child being
			// stopped is not blocked writing to a full pipe.
			continue
		case err == nil:
			c.in.put(ctx, item{msg: Message{Raw: bytes.Clone(line)}})
			continue
		case errors.Is(err, jsonrpc.ErrTooLarge):
			c.in.put(ctx, item{err: fmt.Errorf("transport: stdio: %w", err)})
			continue
		}
		var final error
		select {
		case <-c.closed:
			return // Close ended the inbox and closed r
		default:
		}
		switch {
		case c.end != nil:
			final = c.end(err)
		case errors.Is(err, io.EOF):
			final = fmt.Errorf("transport: stdio: peer closed its output: %w", err)
		default:
			final = fmt.Errorf("transport: stdio: read: %w", err)
		}
		c.in.finish(final, false)
		return
	}
}

// Recv returns the next line. See NewStdio for its errors.
func (c *stdioConn) Recv(ctx context.Context) (Message, error) {
	return c.in.recv(ctx)
}

// Send writes m.Raw as one line.
func (c *stdioConn) Send(ctx context.Context, m Message) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.w.Write(m.Raw); err != nil {
		select {
		case <-c.closed:
			return ErrClosed
		default:
		}
		return fmt.Errorf("transport: stdio: %w", err)
	}
	return nil
}

// Close closes the streams (and stops the child process of a command).
func (c *stdioConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.in.finish(ErrClosed, true)
		c.closeErr = c.wc.Close()
		if c.stop != nil {
			c.stop() // the child may still write while it shuts down
		}
		if c.rc != nil {
			if err := c.rc.Close(); c.closeErr == nil {
				c.closeErr = err
			}
		}
		if c.closeErr != nil {
			c.closeErr = fmt.Errorf("transport: stdio: close: %w", c.closeErr)
		}
	})
	return c.closeErr
}

// DefaultGrace is the grace period of a [Command] that sets none.
const DefaultGrace = 2 * time.Second

// Command is an MCP server run as a child process that speaks the stdio
// transport on its standard input and output.
type Command struct {
	// Argv is the program and its arguments. The program is looked up in
	// PATH when it contains no path separator.
	Argv []string
	// Env is the child's environment, as for [exec.Cmd]: nil means the
	// broker's own environment, otherwise it is the whole environment.
	Env []string
	// Dir is the child's working directory; empty means the broker's.
	Dir string
	// MaxSize bounds the length of a line read from the child, as for
	// [NewStdio].
	MaxSize int
	// Grace is how long Close waits for the child to exit after closing
	// its standard input, and again after SIGTERM, before killing it.
	// Zero means [DefaultGrace].
	Grace time.Duration
	// Logger receives the child's standard error, one record per line, and
	// lifecycle events. Nil means [slog.Default].
	Logger *slog.Logger
}

// StartCommand starts argv as a child process with the environment env
// (nil: the broker's own) and returns a Conn speaking the stdio transport
// with it. It is short for (&Command{Argv: argv, Env: env}).Start(ctx).
func StartCommand(ctx context.Context, argv []string, env []string) (Conn, error) {
	return (&Command{Argv: argv, Env: env}).Start(ctx)
}

// Start starts the child process and returns a Conn speaking the stdio
// transport with it.
//
// The child's standard error is logged line by line. As with
// [exec.CommandContext], the process is stopped when ctx is done, exactly
// as by Close; pass a context that lives as long as the session.
//
// Close follows the MCP stdio shutdown sequence: it closes the child's
// standard input, waits up to Grace for the child to exit (reading and
// discarding what it still writes), sends SIGTERM, waits up to Grace
// again, then kills the child, and returns once the child has been reaped.
// Close must be called even after the child exited on its own. When the child exits (or closes its standard
// output) on its own, Recv returns an error wrapping io.EOF and, when the
// exit status is known, the [*exec.ExitError] for a non-zero status or a
// signal; its message names the status.
func (c *Command) Start(ctx context.Context) (Conn, error) {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return nil, errors.New("transport: command: empty argv")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transport: command %s: %w", c.Argv[0], err)
	}
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.Default()
	}
	name := c.Argv[0]

	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("transport: command %s: %w", name, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("transport: command %s: %w", name, err)
	}
	cmd := exec.Command(name, c.Argv[1:]...)
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdin = inR
	cmd.Stdout = outW
	stderr := &lineLogger{logger: logger.With("cmd", name)}
	cmd.Stderr = stderr
	// Wait gives up on the standard error copy that long after the child
	// exits, should a grandchild keep the pipe open.
	cmd.WaitDelay = grace
	err = cmd.Start()
	// The child has its own copies of these ends (or never will).
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("transport: command %s: start: %w", name, err)
	}
	pid := cmd.Process.Pid
	stderr.logger = stderr.logger.With("pid", pid)
	logger.Debug("transport: command started", "cmd", name, "pid", pid)

	p := &process{cmd: cmd, name: name, exited: make(chan struct{}), logger: logger.With("cmd", name, "pid", pid)}
	conn := newStdio(outR, inW, c.MaxSize, func(err error) error { return p.endError(err, grace) })
	conn.stop = func() { p.stop(grace) }

	go func() {
		p.waitErr = cmd.Wait() // also waits for the standard error copier
		stderr.flush()
		close(p.exited)
		p.logger.Debug("transport: command exited", "status", cmd.ProcessState.String())
		// A grandchild may hold the standard output open: stop reading
		// once the data the child wrote has had time to be read.
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-conn.readerDone:
		case <-t.C:
			outR.Close()
		}
	}()
	stopAfter := context.AfterFunc(ctx, func() { conn.Close() })
	go func() {
		<-conn.closed
		stopAfter()
	}()
	return conn, nil
}

// process is a running child of a Command.
type process struct {
	cmd     *exec.Cmd
	name    string
	logger  *slog.Logger
	exited  chan struct{} // closed once waitErr is set
	waitErr error
}

// endError is the error Recv returns once the child's standard output
// reaches its end (err): it waits up to grace for the exit status.
func (p *process) endError(err error, grace time.Duration) error {
	if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("transport: command %s: read: %w", p.name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		return fmt.Errorf("transport: command %s closed its standard output: %w", p.name, io.EOF)
	}
	if p.waitErr != nil {
		return fmt.Errorf("transport: command %s: %w: %w", p.name, p.waitErr, io.EOF)
	}
	return fmt.Errorf("transport: command %s: exit status 0: %w", p.name, io.EOF)
}

// stop waits for the child to exit (its standard input is closed already),
// then sends SIGTERM, then kills it, giving it grace at each step, and
// returns once it has been reaped.
func (p *process) stop(grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return
	case <-t.C:
	}
	p.logger.Info("transport: command still running after its input closed; sending SIGTERM", "grace", grace)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err == nil {
		t.Reset(grace)
		select {
		case <-p.exited:
			return
		case <-t.C:
		}
		p.logger.Warn("transport: command ignored SIGTERM; killing it", "grace", grace)
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.logger.Warn("transport: command: kill failed", "err", err)
	}
	<-p.exited
}

// maxStderrLine bounds the length of one logged standard error line; a
// longer line is logged in pieces.
const maxStderrLine = 4096

// lineLogger is an io.Writer that logs what a child writes to its standard
// error, one record per line. exec.Cmd calls Write from one goroutine.
type lineLogger struct {
	logger *slog.Logger
	buf    []byte
}

// Write logs every complete line of p and keeps the rest.
func (l *lineLogger) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p...)
			if len(l.buf) >= maxStderrLine {
				l.flush()
			}
			break
		}
		l.buf = append(l.buf, p[:i]...)
		l.flush()
		p = p[i+1:]
	}
	return n, nil
}

// flush logs the buffered partial line, if any.
func (l *lineLogger) flush() {
	line := bytes.TrimRight(l.buf, "\r")
	if len(line) > 0 {
		l.logger.Info("transport: command stderr", "line", string(line))
	}
	l.buf = l.buf[:0]
}
