package testkit

import (
	"sync"
	"testing"
)

// Phrases collects the error descriptions seen. The contract's descriptions
// are fixed phrases that never hold what the request sent, so over any
// number of inputs there are only a few of them: a description that echoed
// input would show up as a new phrase for each input. Safe for concurrent
// use; the zero value is ready.
type Phrases struct {
	mu   sync.Mutex
	seen map[string]bool
}

// MaxPhrases is how many distinct descriptions Check allows.
const MaxPhrases = 40

// Check records desc and fails t once more than MaxPhrases distinct
// descriptions were seen.
func (p *Phrases) Check(t testing.TB, desc string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[desc] = true
	if len(p.seen) > MaxPhrases {
		t.Fatalf("more than %d distinct error descriptions, so they vary with the input; the latest: %q", MaxPhrases, desc)
	}
}
