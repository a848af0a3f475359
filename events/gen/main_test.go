package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestCommittedEventsAreCurrent regenerates the events from the committed key
// into a temporary directory and compares them byte for byte with events/,
// so a change to the generator without `make events` fails here.
func TestCommittedEventsAreCurrent(t *testing.T) {
	key, err := os.ReadFile(filepath.Join("..", keyFile))
	if err != nil {
		t.Fatalf("read committed key: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, keyFile), key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(dir); err != nil {
		t.Fatalf("run: %v", err)
	}
	fresh, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob(filepath.Join("..", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh) != len(committed) {
		t.Errorf("got %d generated files, %d committed; run `go run ./events/gen`", len(fresh), len(committed))
	}
	for _, f := range fresh {
		name := filepath.Base(f)
		want, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Errorf("%s: not committed (%v); run `go run ./events/gen`", name, err)
			continue
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: differs from a fresh generation; run `go run ./events/gen`", name)
		}
	}
}

// TestCreatesKeyWhenMissing checks the key is generated once and then reused,
// and that the valid token verifies with the public key written to env.json.
func TestCreatesKeyWhenMissing(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir); err != nil {
		t.Fatalf("first run: %v", err)
	}
	key1, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatalf("key not created: %v", err)
	}
	if !strings.HasPrefix(string(key1), "TEST-ONLY") {
		t.Errorf("key file does not start with the TEST-ONLY notice")
	}
	ev1, err := os.ReadFile(filepath.Join(dir, "exchange.http-v2.valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := run(dir); err != nil {
		t.Fatalf("second run: %v", err)
	}
	key2, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key1, key2) {
		t.Errorf("second run replaced the existing key")
	}
	ev2, err := os.ReadFile(filepath.Join(dir, "exchange.http-v2.valid.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev1, ev2) {
		t.Errorf("second run changed an event: output is not deterministic")
	}

	var env map[string]map[string]string
	raw, err := os.ReadFile(filepath.Join(dir, "env.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	pub, err := jwt.ParseRSAPublicKeyFromPEM([]byte(env["ExchangeFunction"]["AUTH_PUBLIC_KEY"]))
	if err != nil {
		t.Fatalf("AUTH_PUBLIC_KEY: %v", err)
	}
	var ev struct {
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(ev1, &ev); err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(ev.Headers["authorization"], "Bearer ")
	if !ok {
		t.Fatalf("got authorization %q, want a Bearer token", ev.Headers["authorization"])
	}
	keyfunc := func(*jwt.Token) (any, error) { return pub, nil }
	if _, err := jwt.Parse(tok, keyfunc, jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience), jwt.WithExpirationRequired()); err != nil {
		t.Errorf("valid event's token does not verify: %v", err)
	}
	forged, err := forge(tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(forged, keyfunc, jwt.WithValidMethods([]string{"RS256"})); err == nil {
		t.Errorf("forged token verifies; want a signature error")
	}
}
