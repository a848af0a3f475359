package devserver_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"supabridge/dev/devserver"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/refresh"
)

// lockedBuffer is a bytes.Buffer safe for the server goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestUnconfiguredFunctionIs404 runs the local runtime with a provider but
// no client id, so refresh is not served, and checks the answer a client
// then gets at refresh's URL: 404 not_found in the contract's JSON shape,
// the row the README's error table gives for it.
func TestUnconfiguredFunctionIs404(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	env := config.MapEnv(map[string]string{
		config.EnvSecret:        "a-devserver-test-secret-of-at-least-32-bytes",
		config.EnvAuthIssuer:    "https://auth.example.com/",
		config.EnvAuthPublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		config.EnvAuthAudience:  "app",
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- devserver.Run(ctx, devserver.Options{
			Listener:  ln,
			Env:       env,
			Functions: []devserver.Function{{Name: "exchange", Build: exchange.New}, {Name: "refresh", Build: refresh.New}},
			Out:       &out,
			Logger:    slog.New(slog.DiscardHandler),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err = client.Post(base+"/functions/v1/refresh", "application/json", strings.NewReader(`{"refresh_token":"x"}`))
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNotFound || body["error"] != "not_found" || body["error_description"] == "" || len(body) != 2 {
		t.Fatalf("got %d %v, want 404 not_found with a description", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin: got %q, want * (every response carries the CORS headers)", got)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	if !strings.Contains(out.String(), "refresh not served: ") {
		t.Errorf("start-up lines: got %q, want the reason refresh is not served", out.String())
	}

	// The README promises this answer in its error table.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("| 404 | `not_found` |")) {
		t.Error("README.md: the error table has no row for 404 not_found")
	}
}
