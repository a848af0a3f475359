package faults_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"supabridge/internal/testprovider"
	"supabridge/shared/exchange"
)

// TestJWKSSlow: a JWKS that stops answering holds nothing but the requests
// that need it, and those only for AUTH_HTTP_TIMEOUT.
func TestJWKSSlow(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	bound := timeout + 1500*time.Millisecond

	t.Run("after warm-up", func(t *testing.T) {
		t.Parallel()
		k1 := testprovider.NewKey(t, "k1", "RS256")
		p := testprovider.New(t, "/app/", k1)
		h, logs := served(t, "exchange", exchange.New, jwksEnv(p, timeout.String()))
		good := token(t, p, k1, "alice")
		if r := do(t, h, exchangeReq(good)); r.status != http.StatusOK {
			t.Fatalf("warm-up: got %d %v", r.status, r.body)
		}
		p.SetMode(testprovider.Slow)

		if r := do(t, h, exchangeReq(good)); r.status != http.StatusOK || r.elapsed > 500*time.Millisecond {
			t.Fatalf("known key while the JWKS hangs: got %d in %v, want 200 at once", r.status, r.elapsed)
		}
		k2 := testprovider.NewKey(t, "k2", "ES256")
		unknown := token(t, p, k2, "bob")
		r := do(t, h, exchangeReq(unknown))
		if r.status != http.StatusBadGateway || r.code != "temporarily_unavailable" {
			t.Fatalf("unknown kid while the JWKS hangs: got %d %v, want 502 temporarily_unavailable", r.status, r.body)
		}
		if r.elapsed < timeout*3/4 || r.elapsed > bound {
			t.Fatalf("unknown kid answered in %v, want about the %v timeout", r.elapsed, timeout)
		}

		// Many clients at once: each is answered within the bound, and
		// the known key is never held up behind them.
		var wg sync.WaitGroup
		errs := make(chan string, 64)
		for i := range 16 {
			wg.Go(func() {
				tok, want := unknown, http.StatusBadGateway
				if i%2 == 0 {
					tok, want = good, http.StatusOK
				}
				r := do(t, h, exchangeReq(tok))
				if r.status != want && !(want == http.StatusBadGateway && r.status == http.StatusUnauthorized) {
					errs <- fmt.Sprintf("got %d %v, want %d", r.status, r.body, want)
				}
				if r.elapsed > bound {
					errs <- fmt.Sprintf("answered in %v, want within %v", r.elapsed, bound)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		logs.NoTokens(t, good, unknown)
	})

	t.Run("from the start", func(t *testing.T) {
		t.Parallel()
		k1 := testprovider.NewKey(t, "k1", "RS256")
		p := testprovider.New(t, "/app/", k1)
		p.SetMode(testprovider.Slow)
		start := time.Now()
		h, _ := served(t, "exchange", exchange.New, jwksEnv(p, timeout.String()))
		if d := time.Since(start); d > bound {
			t.Fatalf("start-up took %v with a hanging JWKS, want within %v", d, bound)
		}
		r := do(t, h, exchangeReq(token(t, p, k1, "alice")))
		if r.status != http.StatusBadGateway || r.elapsed > bound {
			t.Fatalf("got %d %v in %v, want 502 within %v", r.status, r.body, r.elapsed, bound)
		}
		p.SetMode(testprovider.Up)
		if r := do(t, h, httptestGet("/healthz")); r.status != http.StatusOK {
			t.Fatalf("healthz: got %d", r.status)
		}
	})
}

// TestJWKSFailsAfterWarmUp: when the JWKS answers 500, garbage or nothing
// after warm-up, known keys keep working, an unknown kid is 502 (an outage
// must not look like a forged token), and once the JWKS is back a key
// published meanwhile is accepted without a restart.
func TestJWKSFailsAfterWarmUp(t *testing.T) {
	t.Parallel()
	const interval = 100 * time.Millisecond
	for _, tt := range []struct {
		name string
		mode testprovider.Mode
	}{
		{"500", testprovider.Error500},
		{"garbage", testprovider.Garbage},
		{"connection closed", testprovider.Down},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k1 := testprovider.NewKey(t, "k1", "RS256")
			p := testprovider.New(t, "/app/", k1)
			h, logs := servedFastKeys(t, jwksEnv(p, "1s"), interval)
			good := token(t, p, k1, "alice")
			if r := do(t, h, exchangeReq(good)); r.status != http.StatusOK {
				t.Fatalf("warm-up: got %d %v", r.status, r.body)
			}

			p.SetMode(tt.mode)
			k2 := testprovider.NewKey(t, "k2", "EdDSA")
			rotated := token(t, p, k2, "bob")
			for i := range 3 {
				time.Sleep(interval + 20*time.Millisecond)
				if r := do(t, h, exchangeReq(good)); r.status != http.StatusOK {
					t.Fatalf("known key, round %d: got %d %v, want 200", i, r.status, r.body)
				}
				if r := do(t, h, exchangeReq(rotated)); r.status != http.StatusBadGateway || r.code != "temporarily_unavailable" {
					t.Fatalf("unknown kid, round %d: got %d %v, want 502 temporarily_unavailable", i, r.status, r.body)
				}
			}

			// The provider recovers, having rotated to k2 meanwhile.
			p.SetMode(testprovider.Up)
			p.SetKeys(k1, k2)
			ok := eventually(3*time.Second, interval/2, func() bool {
				return do(t, h, exchangeReq(rotated)).status == http.StatusOK
			})
			if !ok {
				t.Fatal("the key published during the outage is still refused after recovery")
			}
			if r := do(t, h, exchangeReq(good)); r.status != http.StatusOK {
				t.Fatalf("after recovery: got %d %v", r.status, r.body)
			}
			// A kid nobody publishes is a forgery again, not an outage.
			time.Sleep(interval + 20*time.Millisecond)
			forged := token(t, p, testprovider.NewKey(t, "k3", "ES256"), "mallory")
			if r := do(t, h, exchangeReq(forged)); r.status != http.StatusUnauthorized || r.code != "invalid_token" {
				t.Fatalf("unknown kid after recovery: got %d %v, want 401", r.status, r.body)
			}
			logs.NoTokens(t, good, rotated, forged)
		})
	}
}

// TestUnknownKidFlood: many clients at once, each with a kid nobody
// publishes, make a bounded number of JWKS fetches and never slow the
// holders of a good token.
func TestUnknownKidFlood(t *testing.T) {
	t.Parallel()
	const (
		clients = 8
		each    = 20
	)
	type setup struct {
		name     string
		build    func(t *testing.T, p *testprovider.Provider) http.Handler
		interval time.Duration // the unknown-kid refresh interval in force
	}
	for _, s := range []setup{
		{"production defaults", func(t *testing.T, p *testprovider.Provider) http.Handler {
			h, _ := served(t, "exchange", exchange.New, jwksEnv(p, "2s"))
			return h
		}, 30 * time.Second},
		// With an interval shorter than the HTTP timeout, every forged
		// request waits its turn at the limiter and then fetches: the
		// fetches stay paced, the forged requests queue (for at most the
		// timeout). Production's 30 s against 5 s never queues.
		{"20ms interval", func(t *testing.T, p *testprovider.Provider) http.Handler {
			h, _ := servedFastKeys(t, jwksEnv(p, "2s"), 20*time.Millisecond)
			return h
		}, 20 * time.Millisecond},
	} {
		for _, mode := range []testprovider.Mode{testprovider.Up, testprovider.Down} {
			name := s.name + map[testprovider.Mode]string{testprovider.Up: ", provider up", testprovider.Down: ", provider down"}[mode]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				k1 := testprovider.NewKey(t, "k1", "ES256")
				p := testprovider.New(t, "/app/", k1)
				h := s.build(t, p)
				good := token(t, p, k1, "alice")
				if r := do(t, h, exchangeReq(good)); r.status != http.StatusOK {
					t.Fatalf("warm-up: got %d %v", r.status, r.body)
				}
				forged := make([]string, 16)
				for i := range forged {
					forged[i] = token(t, p, testprovider.NewKey(t, fmt.Sprintf("flood-%d", i), "ES256"), "mallory")
				}
				p.SetMode(mode)
				before := p.Fetches()
				start := time.Now()
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					statuses = map[int]int{}
					slowest  time.Duration
					failures []string
				)
				for c := range clients {
					wg.Go(func() {
						for i := range each {
							tok, legit := forged[(c*each+i)%len(forged)], false
							if i%5 == 0 {
								tok, legit = good, true
							}
							r := do(t, h, exchangeReq(tok))
							mu.Lock()
							statuses[r.status]++
							slowest = max(slowest, r.elapsed)
							switch {
							case legit && r.status != http.StatusOK:
								failures = append(failures, fmt.Sprintf("good token: got %d %v", r.status, r.body))
							case !legit && r.status != http.StatusUnauthorized && r.status != http.StatusBadGateway:
								failures = append(failures, fmt.Sprintf("forged token: got %d %v", r.status, r.body))
							case !legit && mode == testprovider.Up && r.status != http.StatusUnauthorized:
								failures = append(failures, fmt.Sprintf("forged token, provider up: got %d, want 401", r.status))
							}
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				fetches := p.Fetches() - before
				for _, f := range failures[:min(len(failures), 5)] {
					t.Error(f)
				}
				// The limiter allows one fetch at once and one per interval;
				// the transport may retry a fetch whose reused connection
				// was closed; one more for timing at the edges.
				if limit := int64(elapsed/s.interval) + 3; fetches > limit {
					t.Errorf("got %d JWKS fetches for %d requests in %v, want at most %d", fetches, clients*each, elapsed, limit)
				}
				if slowest > 3*time.Second {
					t.Errorf("slowest answer took %v", slowest)
				}
				t.Logf("%d requests from %d clients in %v: statuses %v, %d JWKS fetches, slowest %v", clients*each, clients, elapsed.Round(time.Millisecond), statuses, fetches, slowest.Round(time.Millisecond))
			})
		}
	}
}

func httptestGet(path string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, path, nil)
	return r
}
