package faults_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"supabridge/internal/testprovider"
	"supabridge/shared/exchange"
)

// providerLatency is how long the provider takes to answer in the hang-up
// tests: long enough for a client to give up in the middle of a fetch.
const providerLatency = 300 * time.Millisecond

// hangupCase is one shared provider fetch a hostile client can start: the
// discovery document of a fresh instance, or the unknown-kid JWKS refetch
// after a key rotation.
type hangupCase struct {
	name string
	// start serves the exchange function over loopback and returns its URL,
	// a valid token and a token that starts the same fetch but fails
	// verification (right iss and kid, garbage signature).
	start func(t *testing.T) (url, valid, hostile string)
}

var hangupCases = []hangupCase{
	{"discovery", func(t *testing.T) (string, string, string) {
		k1 := testprovider.NewKey(t, "k1", "RS256")
		p := testprovider.New(t, "/realms/app", k1)
		p.SetDelay(providerLatency)
		h, _ := served(t, "exchange", exchange.New, map[string]string{"AUTH_ISSUER": p.Issuer, "AUTH_AUDIENCE": "app"})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		valid := token(t, p, k1, "alice")
		return srv.URL + "/functions/v1/exchange", valid, garbled(valid)
	}},
	{"unknown kid after rotation", func(t *testing.T) (string, string, string) {
		k1 := testprovider.NewKey(t, "k1", "RS256")
		p := testprovider.New(t, "/app/", k1)
		h, _ := served(t, "exchange", exchange.New, jwksEnv(p, "5s"))
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		url := srv.URL + "/functions/v1/exchange"
		if status, err := post(t.Context(), url, token(t, p, k1, "alice"), 5*time.Second); err != nil || status != http.StatusOK {
			t.Fatalf("warm-up: got %d, %v", status, err)
		}
		k2 := testprovider.NewKey(t, "k2", "ES256")
		p.SetKeys(k1, k2)
		p.SetDelay(providerLatency)
		valid := token(t, p, k2, "bob")
		return url, valid, garbled(valid)
	}},
}

// garbled returns tok with its signature replaced: the header (kid) and
// payload (iss) still start the same provider fetch.
func garbled(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	return tok[:i+1] + strings.Repeat("A", len(tok)-i-1)
}

// post sends tok as a bearer token and gives up after timeout, as a client
// that hangs up would.
func post(ctx context.Context, url, tok string, timeout time.Duration) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestClientHangUpDuringProviderFetch: a client that hangs up while its
// request waits for a shared provider fetch (discovery, or the unknown-kid
// JWKS refetch) must not make that fetch fail for everyone: the fetch runs
// detached from the caller, and the next valid token is answered 200.
func TestClientHangUpDuringProviderFetch(t *testing.T) {
	t.Parallel()
	for _, tc := range hangupCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, valid, hostile := tc.start(t)
			if _, err := post(t.Context(), url, hostile, 50*time.Millisecond); err == nil {
				t.Fatal("the hostile client got an answer before it hung up; the provider latency did not hold it")
			}
			// Let the server see the hang-up and the fetch notice it.
			time.Sleep(100 * time.Millisecond)
			status, err := post(t.Context(), url, valid, 5*time.Second)
			if err != nil || status != http.StatusOK {
				t.Fatalf("valid token after a client hung up mid-fetch: got %d, %v; want 200", status, err)
			}
		})
	}
}

// TestHangUpLoop is the measurement: on a fresh instance, hostile
// clients hang up in a loop (like `curl -m 0.05` with a garbage signature)
// while a valid user sends a token every 200 ms. It logs how many valid
// requests were answered 200, and requires all of them.
func TestHangUpLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3 s hostile loop per case")
	}
	t.Parallel()
	const (
		loop    = 3 * time.Second
		hostile = 2
	)
	for _, tc := range hangupCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, valid, bad := tc.start(t)
			ctx, cancel := context.WithTimeout(t.Context(), loop)
			defer cancel()
			var (
				wg      sync.WaitGroup
				hangups atomic.Int64
			)
			for range hostile {
				wg.Go(func() {
					for ctx.Err() == nil {
						if _, err := post(ctx, url, bad, 50*time.Millisecond); err != nil {
							hangups.Add(1)
						}
					}
				})
			}
			time.Sleep(100 * time.Millisecond)
			var sent, ok int
			var other []string
			for tick := time.NewTicker(200 * time.Millisecond); ctx.Err() == nil; <-tick.C {
				status, err := post(t.Context(), url, valid, 5*time.Second)
				sent++
				if err == nil && status == http.StatusOK {
					ok++
				} else {
					other = append(other, fmt.Sprintf("%d %v", status, err))
				}
			}
			wg.Wait()
			t.Logf("hostile hang-up loop, %s, %v, provider latency %v: valid requests answered 200: %d of %d (%d hostile hang-ups)",
				tc.name, loop, providerLatency, ok, sent, hangups.Load())
			if ok != sent {
				t.Errorf("%d of %d valid requests failed while clients hung up: %v", sent-ok, sent, other[:min(len(other), 3)])
			}
		})
	}
}
