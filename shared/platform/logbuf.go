package platform

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Access-log buffering in HTTP mode.
const (
	// LogBufferSize is the most log output held before it is written.
	LogBufferSize = 32 << 10
	// LogFlushDelay is the longest a log line waits before it is written.
	LogFlushDelay = 100 * time.Millisecond
)

// logBuffer is the log's writer in HTTP mode: lines are gathered and
// written at most LogFlushDelay after the first of them, or when
// LogBufferSize bytes wait, instead of one write system call per line. The
// access log writes a line per request, and that write was a real share of
// a request's CPU time. Close writes what waits; run closes it before the
// process exits.
//
// Lambda mode never buffers: the Runtime API freezes the process once the
// response is sent, so a buffered line would wait for the next invocation,
// or be lost with the sandbox.
type logBuffer struct {
	mu      sync.Mutex
	w       *bufio.Writer
	timer   *time.Timer
	pending bool // a flush is scheduled
	closed  bool
}

func newLogBuffer(w io.Writer) *logBuffer {
	b := &logBuffer{w: bufio.NewWriterSize(w, LogBufferSize)}
	b.timer = time.AfterFunc(LogFlushDelay, b.flush)
	b.timer.Stop()
	return b
}

// Write implements io.Writer. After Close it writes through.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.w.Write(p)
	switch {
	case b.closed:
		if err == nil {
			err = b.w.Flush()
		}
	case !b.pending && b.w.Buffered() > 0:
		b.pending = true
		b.timer.Reset(LogFlushDelay)
	}
	return n, err
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = false
	_ = b.w.Flush()
}

// Close writes what waits; later writes go straight through.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.timer.Stop()
	return b.w.Flush()
}
