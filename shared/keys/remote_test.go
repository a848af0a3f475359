package keys_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/idp"
	"supabridge/shared/keys"
)

// parse verifies raw against src. It does not touch a testing.T, so
// goroutines may call it.
func parse(ctx context.Context, src keys.Source, raw string) error {
	_, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
		return src.Key(ctx, tok)
	}, jwt.WithValidMethods([]string{"EdDSA", "ES256", "RS256"}))
	return err
}

func sign(t *testing.T, k *testprovider.Key) string {
	t.Helper()
	return k.Sign(t, map[string]any{"sub": "alice"}, nil)
}

func signNoKid(t *testing.T, k *testprovider.Key) string {
	t.Helper()
	return k.Sign(t, map[string]any{"sub": "alice"}, map[string]any{"kid": nil})
}

func newRemote(t *testing.T, url string, o keys.RemoteOptions) *keys.Remote {
	t.Helper()
	r, err := keys.NewRemote(t.Context(), url, o)
	if err != nil {
		t.Fatalf("NewRemote: %v", err)
	}
	return r
}

// wantFetches checks the provider's own count of JWKS requests.
func wantFetches(t *testing.T, p *testprovider.Provider, want int64, when string) {
	t.Helper()
	if got := p.Fetches(); got != want {
		t.Fatalf("%s: provider saw %d JWKS fetches, want %d", when, got, want)
	}
}

// isOnly checks that err matches want and not the other key-source error:
// the two are answered 502 and 401, so one must never pass for the other.
func isOnly(t *testing.T, err, want error, when string) {
	t.Helper()
	other := keys.ErrUnknownKey
	if want == keys.ErrUnknownKey {
		other = keys.ErrUnavailable
	}
	if !errors.Is(err, want) || errors.Is(err, other) {
		t.Fatalf("%s: got %v, want %q and not %q", when, err, want, other)
	}
}

func TestRemoteServesFromCache(t *testing.T) {
	k1 := testprovider.NewKey(t, "k1", "EdDSA")
	k2 := testprovider.NewKey(t, "k2", "ES256")
	p := testprovider.New(t, "", k1, k2)
	r := newRemote(t, p.JWKSURL(), keys.RemoteOptions{UnknownKIDInterval: time.Hour})
	wantFetches(t, p, 1, "after NewRemote")
	if r.Fetches() != 1 {
		t.Fatalf("Remote counts %d fetches, want 1", r.Fetches())
	}

	for range 5 {
		for _, raw := range []string{sign(t, k1), sign(t, k2), signNoKid(t, k2)} {
			if err := parse(t.Context(), r, raw); err != nil {
				t.Fatalf("known key: got %v, want verified", err)
			}
		}
	}
	wantFetches(t, p, 1, "after tokens of known keys")

	// A known kid whose JWK alg differs from the token's: refused without a
	// fetch, since the kid is in the cache.
	_, err := r.Key(t.Context(), tok("ES256", "k1"))
	isOnly(t, err, keys.ErrUnknownKey, "known kid with another alg")
	wantFetches(t, p, 1, "after a known kid with another alg")
}

func TestRemoteRotation(t *testing.T) {
	k1 := testprovider.NewKey(t, "k1", "EdDSA")
	k2 := testprovider.NewKey(t, "k2", "EdDSA")
	p := testprovider.New(t, "", k1)
	r := newRemote(t, p.JWKSURL(), keys.RemoteOptions{UnknownKIDInterval: time.Millisecond})
	if err := parse(t.Context(), r, sign(t, k1)); err != nil {
		t.Fatal(err)
	}

	p.SetKeys(k2) // rotate, and revoke k1
	if err := parse(t.Context(), r, sign(t, k2)); err != nil {
		t.Fatalf("rotated key: got %v, want verified after one refetch", err)
	}
	wantFetches(t, p, 2, "after the rotated kid")
	if err := parse(t.Context(), r, sign(t, k2)); err != nil {
		t.Fatal(err)
	}
	wantFetches(t, p, 2, "after the rotated kid again")

	// The refetch replaced the cache: the revoked key is gone.
	isOnly(t, parse(t.Context(), r, sign(t, k1)), keys.ErrUnknownKey, "revoked key")
	wantFetches(t, p, 3, "after the revoked kid")
}

// gatedTransport holds every request while hold is set, until release is
// closed, and tells entered of each held request.
type gatedTransport struct {
	hold    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.hold.Load() {
		g.entered <- struct{}{}
		<-g.release
	}
	return http.DefaultTransport.RoundTrip(req)
}

// After a rotation, many requests miss the cache at once. With the
// unknown-kid limit at one fetch an hour, any second fetch would be refused
// by the limiter: all succeed only if the waiters find the key the first
// miss fetched.
func TestRemoteConcurrentMissesFetchOnce(t *testing.T) {
	k1 := testprovider.NewKey(t, "k1", "EdDSA")
	k2 := testprovider.NewKey(t, "k2", "EdDSA")
	p := testprovider.New(t, "", k1)
	g := &gatedTransport{entered: make(chan struct{}, 64), release: make(chan struct{})}
	r := newRemote(t, p.JWKSURL(), keys.RemoteOptions{UnknownKIDInterval: time.Hour, Transport: g})
	wantFetches(t, p, 1, "after NewRemote")

	p.SetKeys(k1, k2)
	raw := sign(t, k2)
	g.hold.Store(true)
	const n = 32
	var (
		started, done sync.WaitGroup
		errs          = make([]error, n)
	)
	started.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			started.Done()
			errs[i] = parse(t.Context(), r, raw)
		}()
	}
	started.Wait()
	<-g.entered // the first miss is fetching
	// Let the others reach the miss lock; the result does not depend on it.
	time.Sleep(50 * time.Millisecond)
	close(g.release)
	done.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: got %v, want verified", i, err)
		}
	}
	wantFetches(t, p, 2, "after the concurrent misses")
	if got := r.Fetches(); got != 2 {
		t.Errorf("Remote counts %d fetches, want 2", got)
	}
	if len(g.entered) != 0 {
		t.Errorf("%d more fetches were held, want none", len(g.entered))
	}
}

func TestRemoteUnknownKIDRateLimited(t *testing.T) {
	k1 := testprovider.NewKey(t, "k1", "EdDSA")
	forged := testprovider.NewKey(t, "forged", "EdDSA")

	t.Run("interval longer than the timeout: one fetch, then refused at once", func(t *testing.T) {
		p := testprovider.New(t, "", k1)
		r := newRemote(t, p.JWKSURL(), keys.RemoteOptions{HTTPTimeout: 2 * time.Second, UnknownKIDInterval: time.Hour})
		for range 10 {
			isOnly(t, parse(t.Context(), r, sign(t, forged)), keys.ErrUnknownKey, "forged kid")
			wantFetches(t, p, 2, "after forged kids")
		}
		if err := parse(t.Context(), r, sign(t, k1)); err != nil {
			t.Fatalf("known key while limited: got %v, want verified", err)
		}
	})

	t.Run("interval shorter than the timeout: the next fetch waits for it", func(t *testing.T) {
		const interval = 100 * time.Millisecond
		p := testprovider.New(t, "", k1)
		r := newRemote(t, p.JWKSURL(), keys.RemoteOptions{HTTPTimeout: 5 * time.Second, UnknownKIDInterval: interval})
		start := time.Now()
		for range 3 {
			isOnly(t, parse(t.Context(), r, sign(t, forged)), keys.ErrUnknownKey, "forged kid")
		}
		wantFetches(t, p, 4, "after three forged kids")
		// The first refetch is free (the limiter's burst), the next two each
		// wait an interval.
		if d := time.Since(start); d < 2*interval-interval/5 {
			t.Fatalf("three refetches took %v, want at least about %v", d, 2*interval)
		}
	})
}

func TestRemoteProviderFailing(t *testing.T) {
	modes := []struct {
		name string
		mode testprovider.Mode
	}{
		{"connection closed", testprovider.Down},
		{"HTTP 500", testprovider.Error500},
		{"not JSON", testprovider.Garbage},
		{"slower than the timeout", testprovider.Slow},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			k1 := testprovider.NewKey(t, "k1", "EdDSA")
			k2 := testprovider.NewKey(t, "k2", "EdDSA")
			forged := testprovider.NewKey(t, "forged", "EdDSA")
			p := testprovider.New(t, "", k1)
			var refreshErrs atomic.Int64
			r := newRemote(t, p.JWKSURL(), keys.RemoteOptions{
				HTTPTimeout:        300 * time.Millisecond,
				UnknownKIDInterval: time.Millisecond,
				OnRefreshError:     func(error) { refreshErrs.Add(1) },
			})

			p.SetMode(m.mode)
			if err := parse(t.Context(), r, sign(t, k1)); err != nil {
				t.Fatalf("known kid while failing: got %v, want verified from the cache", err)
			}
			if err := parse(t.Context(), r, signNoKid(t, k1)); err != nil {
				t.Fatalf("token without kid while failing: got %v, want verified from the cache", err)
			}
			wantFetches(t, p, 1, "known keys while failing")

			isOnly(t, parse(t.Context(), r, sign(t, forged)), keys.ErrUnavailable, "unknown kid while failing")
			if p.Fetches() < 2 {
				t.Fatalf("unknown kid while failing: provider saw %d fetches, want a refetch", p.Fetches())
			}
			if refreshErrs.Load() == 0 {
				t.Fatal("OnRefreshError was not called")
			}
			if err := parse(t.Context(), r, sign(t, k1)); err != nil {
				t.Fatalf("known kid after a failed refetch: got %v, want the cache kept", err)
			}

			p.SetMode(testprovider.Up)
			p.SetKeys(k1, k2)
			before := p.Fetches()
			isOnly(t, parse(t.Context(), r, sign(t, forged)), keys.ErrUnknownKey, "unknown kid once the provider is back")
			wantFetches(t, p, before+1, "unknown kid once the provider is back")
			if err := parse(t.Context(), r, sign(t, k2)); err != nil {
				t.Fatalf("key published while failing: got %v, want verified", err)
			}
			wantFetches(t, p, before+1, "key the last refetch brought")
		})
	}
}

func TestRemoteDownAtStart(t *testing.T) {
	k1 := testprovider.NewKey(t, "k1", "EdDSA")
	p := testprovider.New(t, "", k1)
	p.SetMode(testprovider.Error500)
	var refreshErrs atomic.Int64
	r := newRemote(t, p.JWKSURL(), keys.RemoteOptions{
		UnknownKIDInterval: time.Millisecond,
		OnRefreshError:     func(error) { refreshErrs.Add(1) },
	})
	if refreshErrs.Load() != 1 {
		t.Fatalf("OnRefreshError called %d times by the failed first fetch, want 1", refreshErrs.Load())
	}
	isOnly(t, parse(t.Context(), r, signNoKid(t, k1)), keys.ErrUnavailable, "no kid, empty cache")
	isOnly(t, parse(t.Context(), r, sign(t, k1)), keys.ErrUnavailable, "kid, provider still down")

	p.SetMode(testprovider.Up)
	if err := parse(t.Context(), r, sign(t, k1)); err != nil {
		t.Fatalf("kid once the provider is up: got %v, want verified", err)
	}
	if err := parse(t.Context(), r, signNoKid(t, k1)); err != nil {
		t.Fatalf("no kid once the cache is filled: got %v, want verified", err)
	}
}

func TestDiscovered(t *testing.T) {
	k1 := testprovider.NewKey(t, "k1", "EdDSA")
	p := testprovider.New(t, "/realms/main", k1)
	disc := idp.NewDiscovery(p.Issuer, idp.NewHTTPClient(idp.HTTPOptions{}), time.Minute)
	d := keys.NewDiscovered(t.Context(), disc, keys.RemoteOptions{UnknownKIDInterval: time.Hour})
	if p.Requests() != 0 {
		t.Fatalf("NewDiscovered made %d requests, want none before first use", p.Requests())
	}

	raw := sign(t, k1)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = parse(t.Context(), d, raw) })
	}
	wg.Wait()
	for range 4 {
		errs = append(errs, parse(t.Context(), d, raw))
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: got %v, want verified", i, err)
		}
	}
	if p.Discoveries() != 1 || p.Fetches() != 1 {
		t.Fatalf("provider saw %d discovery and %d JWKS requests, want 1 and 1", p.Discoveries(), p.Fetches())
	}
}

func TestDiscoveredFailure(t *testing.T) {
	tests := []struct {
		name    string
		mode    testprovider.Mode
		issuer  func(p *testprovider.Provider) string
		wantErr error
	}{
		{name: "HTTP 500", mode: testprovider.Error500},
		{name: "not JSON", mode: testprovider.Garbage},
		{name: "connection closed", mode: testprovider.Down},
		{
			name:    "issuer differs by a trailing slash",
			issuer:  func(p *testprovider.Provider) string { return p.Issuer + "/" },
			wantErr: idp.ErrIssuerMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k1 := testprovider.NewKey(t, "k1", "EdDSA")
			p := testprovider.New(t, "/realms/main", k1)
			issuer := p.Issuer
			if tt.issuer != nil {
				issuer = tt.issuer(p)
			}
			// Retry at once: this test is about the answer, not the back-off.
			disc := idp.NewDiscovery(issuer, idp.NewHTTPClient(idp.HTTPOptions{}), time.Nanosecond)
			d := keys.NewDiscovered(t.Context(), disc, keys.RemoteOptions{})
			p.SetMode(tt.mode)

			err := parse(t.Context(), d, sign(t, k1))
			isOnly(t, err, keys.ErrUnavailable, "discovery failing")
			if !errors.Is(err, idp.ErrUnavailable) {
				t.Errorf("got %v, want the discovery's idp.ErrUnavailable kept", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
			wantFetches(t, p, 0, "discovery failing")

			if tt.issuer != nil {
				return
			}
			p.SetMode(testprovider.Up)
			if err := parse(t.Context(), d, sign(t, k1)); err != nil {
				t.Fatalf("once discovery works: got %v, want verified", err)
			}
		})
	}
}
