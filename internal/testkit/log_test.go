package testkit_test

import (
	"fmt"
	"sync"
	"testing"

	"supabridge/internal/testkit"
)

func TestBufferConcurrentWritesAndLines(t *testing.T) {
	var b testkit.Buffer
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

// failRecorder is a testing.TB whose Fatalf is recorded, not fatal.
type failRecorder struct {
	testing.TB
	failed bool
}

func (f *failRecorder) Helper()               {}
func (f *failRecorder) Fatalf(string, ...any) { f.failed = true }

func TestPhrasesFailsOnlyPastTheLimit(t *testing.T) {
	var p testkit.Phrases
	rec := &failRecorder{TB: t}
	for i := range testkit.MaxPhrases {
		p.Check(rec, fmt.Sprintf("phrase %d", i))
		p.Check(rec, "phrase 0") // a repeat is not a new phrase
	}
	if rec.failed {
		t.Fatalf("got a failure at %d distinct phrases, want none", testkit.MaxPhrases)
	}
	p.Check(rec, "one more, echoing input")
	if !rec.failed {
		t.Fatalf("got no failure at %d distinct phrases, want one", testkit.MaxPhrases+1)
	}
}
