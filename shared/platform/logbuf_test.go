package platform

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"supabridge/internal/testkit"
)

func TestLogWriterBuffersOnlyOutsideLambda(t *testing.T) {
	var out testkit.Buffer
	w, closeLog := logWriter(true, &out)
	if w != &out {
		t.Fatalf("Lambda mode: got writer %T, want stderr itself (the process freezes after each response)", w)
	}
	closeLog()
	w, closeLog = logWriter(false, &out)
	defer closeLog()
	if _, ok := w.(*logBuffer); !ok {
		t.Fatalf("HTTP mode: got writer %T, want a *logBuffer", w)
	}
}

func TestLogBufferWritesWithinTheDelay(t *testing.T) {
	var out testkit.Buffer
	b := newLogBuffer(&out)
	defer b.Close()
	start := time.Now()
	if _, err := b.Write([]byte("line 1\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("line 2\n")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "" {
		t.Fatalf("right after the writes: got %q written, want nothing yet", got)
	}
	for out.String() == "" && time.Since(start) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.String(); got != "line 1\nline 2\n" {
		t.Fatalf("got %q, want both lines", got)
	}
	if d := time.Since(start); d < LogFlushDelay {
		t.Fatalf("written after %v, want no sooner than %v (one write for both)", d, LogFlushDelay)
	}
	// A later line schedules its own flush.
	if _, err := b.Write([]byte("line 3\n")); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "line 3") && time.Since(start) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.String(); got != "line 1\nline 2\nline 3\n" {
		t.Fatalf("got %q, want the third line too", got)
	}
}

func TestLogBufferFullAndClose(t *testing.T) {
	var out testkit.Buffer
	b := newLogBuffer(&out)
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range LogBufferSize/len(line) + 1 {
		if _, err := b.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(out.String()); n < LogBufferSize {
		t.Fatalf("after more than %d bytes: got %d written, want a full buffer written at once", LogBufferSize, n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(out.String()); n != (LogBufferSize/len(line)+1)*len(line) {
		t.Fatalf("after Close: got %d bytes written, want every line", n)
	}
	if _, err := b.Write([]byte("after close\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "after close\n") {
		t.Fatal("a write after Close: got it held, want it written at once")
	}
}

// TestLogBufferKeepsLinesWhole writes from many goroutines, as concurrent
// requests log: every line arrives once and whole.
func TestLogBufferKeepsLinesWhole(t *testing.T) {
	var out testkit.Buffer
	b := newLogBuffer(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				_, _ = fmt.Fprintf(b, "g%d line %04d %s\n", g, i, strings.Repeat("y", 100))
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*500 {
		t.Fatalf("got %d lines, want %d", len(lines), 8*500)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if len(l) != len("g0 line 0000 ")+100 || seen[l] {
			t.Fatalf("got line %q: torn or repeated", l)
		}
		seen[l] = true
	}
}
