package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// counting is a deterministic stand-in for crypto/rand: 0, 1, 2, ...
type counting struct{ n byte }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

func TestSecretGolden(t *testing.T) {
	var out strings.Builder
	for _, args := range [][]string{nil, {"--hex"}} {
		r := runCmd(t, secretCmd{rand: &counting{}}.run, nil, "", args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: got %d, %q", args, r.code, r.stderr)
		}
		out.WriteString(r.stdout)
	}
	golden(t, "secret.golden", out.String())
}

func TestSecretIsRandomAndLongEnough(t *testing.T) {
	a := runCmd(t, secretCmd{}.run, nil, "")
	b := runCmd(t, secretCmd{}.run, nil, "")
	if a.code != 0 || b.code != 0 {
		t.Fatalf("got %d and %d", a.code, b.code)
	}
	if a.stdout == b.stdout {
		t.Error("two secrets are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(a.stdout))
	if err != nil || len(raw) != 48 || len(strings.TrimSpace(a.stdout)) != 64 {
		t.Errorf("got %d random bytes (%v) in %d characters, want 48 in 64", len(raw), err, len(strings.TrimSpace(a.stdout)))
	}
	h := runCmd(t, secretCmd{}.run, nil, "", "--hex")
	raw, err = hex.DecodeString(strings.TrimSpace(h.stdout))
	if err != nil || len(raw) != 32 {
		t.Errorf("--hex: got %d bytes (%v), want 32", len(raw), err)
	}
	if bytes.Equal(raw, make([]byte, 32)) {
		t.Error("--hex: all zero")
	}
}
