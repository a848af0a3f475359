package testlog_test

import (
	"fmt"
	"sync"
	"testing"

	"supabridge/internal/testlog"
)

func TestBufferConcurrentWritesAndLines(t *testing.T) {
	var b testlog.Buffer
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "{\"n\":%d}\n", i)
		}()
	}
	wg.Wait()
	if got := len(b.Lines(t)); got != 50 {
		t.Fatalf("got %d lines, want 50", got)
	}
	if s := b.Take(); s == "" || b.String() != "" {
		t.Fatalf("Take: got %q, then %q; want everything, then nothing", s, b.String())
	}
}
