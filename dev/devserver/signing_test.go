package devserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"

	"supabridge/shared/config"
)

// serveEnv runs Run with env (a provider configured, no development issuer)
// until the test ends and returns its base URL and start-up lines.
func serveEnv(t *testing.T, env map[string]string) (string, *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env[config.EnvAuthIssuer] = "https://idp.example/"
	env[config.EnvAuthPublicKey] = testPublicKeyPEM(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listener: ln, Env: config.MapEnv(env), Out: out, Functions: functions(), Logger: discard()})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, out, "exchange at")
	return "http://" + ln.Addr().String(), out
}

func publishedKeys(t *testing.T, base string) jwkset.JWKSMarshal {
	t.Helper()
	resp, err := http.Get(base + "/functions/v1/exchange/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	return set
}

// TestSigningKey: with a key of the bridge's own, the local runtime makes
// no throwaway secret and publishes the key; without any, it makes one
// (HS256, nothing published).
func TestSigningKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true}, Metadata: jwkset.JWKMetadataOptions{KID: "dev-bridge"}})
	if err != nil {
		t.Fatal(err)
	}
	private, _ := json.Marshal(j.Marshal())

	base, out := serveEnv(t, map[string]string{config.EnvSigningKey: string(private)})
	if strings.Contains(out.String(), "dev secret") {
		t.Errorf("a throwaway secret was made beside a signing key:\n%s", out.String())
	}
	if set := publishedKeys(t, base); len(set.Keys) != 1 || set.Keys[0].KID != "dev-bridge" {
		t.Errorf("published %+v, want the dev-bridge key", set.Keys)
	}

	base, out = serveEnv(t, map[string]string{})
	if !strings.Contains(out.String(), "supabridge: dev secret ") {
		t.Errorf("no throwaway secret without a signing source:\n%s", out.String())
	}
	if set := publishedKeys(t, base); len(set.Keys) != 0 {
		t.Errorf("published %+v for HS256, want none", set.Keys)
	}
}
