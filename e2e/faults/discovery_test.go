package faults_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"supabridge/internal/testprovider"
	"supabridge/shared/exchange"
)

// TestDiscoveryProviderDownAtStart: with only AUTH_ISSUER set, keys come
// from the discovery document. A provider that is down when the function
// starts delays nothing but its own tokens (502), is not hammered while
// down, and is picked up once it is back, without a restart.
func TestDiscoveryProviderDownAtStart(t *testing.T) {
	t.Parallel()
	k1 := testprovider.NewKey(t, "k1", "RS256")
	p := testprovider.New(t, "/realms/app", k1)
	p.SetMode(testprovider.Down)
	env := map[string]string{"AUTH_ISSUER": p.Issuer, "AUTH_AUDIENCE": "app", "AUTH_HTTP_TIMEOUT": "500ms"}

	start := time.Now()
	h, logs := served(t, "exchange", exchange.New, env)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("start-up took %v with the provider down, want no wait", d)
	}
	if n := p.Requests(); n != 0 {
		t.Fatalf("got %d provider requests at start-up, want none before the first token", n)
	}
	if r := do(t, h, httptestGet("/healthz")); r.status != http.StatusOK {
		t.Fatalf("healthz: got %d", r.status)
	}
	good := token(t, p, k1, "alice")
	for i := range 5 {
		r := do(t, h, exchangeReq(good))
		if r.status != http.StatusBadGateway || r.code != "temporarily_unavailable" {
			t.Fatalf("request %d while down: got %d %v, want 502", i, r.status, r.body)
		}
		if r.elapsed > 2*time.Second {
			t.Fatalf("request %d while down took %v", i, r.elapsed)
		}
	}
	// Five requests, one discovery attempt (a connection closed on a fresh
	// connection is not retried by the transport; allow one retry anyway).
	if n := p.Discoveries(); n < 1 || n > 2 {
		t.Fatalf("got %d discovery requests for 5 tokens while down, want 1", n)
	}

	p.SetMode(testprovider.Up)
	up := time.Now()
	ok := eventually(8*time.Second, 200*time.Millisecond, func() bool {
		return do(t, h, exchangeReq(good)).status == http.StatusOK
	})
	if !ok {
		t.Fatal("the provider is back but tokens are still refused after 8 s")
	}
	// The discovery client retries a failure after 5 s.
	if d := time.Since(up); d > 6500*time.Millisecond {
		t.Fatalf("recovered %v after the provider came back, want within about 5 s", d)
	}
	if n := p.Discoveries(); n > 4 {
		t.Fatalf("got %d discovery requests in all, want a handful", n)
	}
	t.Logf("recovered %v after the provider came back; %d discovery and %d JWKS requests", time.Since(up).Round(100*time.Millisecond), p.Discoveries(), p.Fetches())
	logs.NoTokens(t, good)
}

// TestDiscoverySlowAtStart: a discovery document that never comes holds the
// first requests for AUTH_HTTP_TIMEOUT at most, however many arrive at once.
func TestDiscoverySlowAtStart(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	k1 := testprovider.NewKey(t, "k1", "ES256")
	p := testprovider.New(t, "/realms/app", k1)
	p.SetMode(testprovider.Slow)
	h, _ := served(t, "exchange", exchange.New, map[string]string{"AUTH_ISSUER": p.Issuer, "AUTH_HTTP_TIMEOUT": timeout.String()})
	good := token(t, p, k1, "alice")
	var wg sync.WaitGroup
	results := make(chan result, 8)
	for range 8 {
		wg.Go(func() { results <- do(t, h, exchangeReq(good)) })
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.status != http.StatusBadGateway {
			t.Errorf("got %d %v, want 502", r.status, r.body)
		}
		if r.elapsed > timeout+time.Second {
			t.Errorf("answered in %v, want within %v", r.elapsed, timeout+time.Second)
		}
	}
}
