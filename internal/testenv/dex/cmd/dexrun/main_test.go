package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"supabridge/internal/testenv/dex"
)

// TestRun starts dexrun as a JavaScript test would use it: read the JSON
// line, log in with the printed credentials, close stdin, and find Dex gone.
func TestRun(t *testing.T) {
	if os.Getenv(dex.SkipEnv) == "1" {
		t.Skipf("%s=1", dex.SkipEnv)
	}
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var stderr bytes.Buffer // written only by run, read after it returns
	done := make(chan error, 1)
	go func() {
		err := run([]string{"-id-token-ttl", "2m"}, stdinR, stdoutW, &stderr)
		stdoutW.Close()
		done <- err
	}()
	t.Cleanup(func() { stdinW.Close() })

	line, err := bufio.NewReader(stdoutR).ReadBytes('\n')
	if err != nil {
		stdinW.Close()
		t.Fatalf("read the JSON line: %v; run: %v\n%s", err, <-done, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdoutR) }()
	var got info
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	if got.Issuer == "" || got.TokenURL != got.Issuer+"/token" || got.ClientSecret == "" || len(got.Users) != 2 {
		t.Fatalf("issuer %q token_url %q secret empty %v users %d; want a token URL under the issuer, a secret, 2 users",
			got.Issuer, got.TokenURL, got.ClientSecret == "", len(got.Users))
	}

	// The printed credentials work: the same calls a client would make.
	s := &dex.Server{Issuer: got.Issuer, TokenURL: got.TokenURL, ClientID: got.ClientID, ClientSecret: got.ClientSecret}
	tok, err := s.PasswordGrant(t.Context(), got.Users[0].Email, got.Users[0].Password)
	if err != nil {
		t.Fatalf("password grant with the printed credentials: %v", err)
	}
	if tok.ExpiresIn <= 0 || tok.ExpiresIn > 120 {
		t.Errorf("expires_in %d, want 1..120 (-id-token-ttl 2m)", tok.ExpiresIn)
	}

	stdinW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after stdin closed: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run still going 15 s after stdin closed")
	}
	if _, err := s.PasswordGrant(t.Context(), got.Users[0].Email, got.Users[0].Password); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after dexrun returned: got %v, want connection refused", err)
	}
}
