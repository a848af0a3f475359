package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/idp"
)

// RemoteOptions configures a [Remote]. The zero value means the defaults.
type RemoteOptions struct {
	// HTTPTimeout bounds each fetch. Default 5 s.
	HTTPTimeout time.Duration
	// RefreshInterval is the background refresh period. Default 1 h.
	RefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two fetches caused by an
	// unknown kid, whatever the load. Default 30 s.
	UnknownKIDInterval time.Duration
	// Transport is the HTTP transport (tests); nil means the default.
	Transport http.RoundTripper
	// OnRefreshError, when set, is told of each failed fetch.
	OnRefreshError func(err error)
	// InsecureHTTP allows a plain-http JWKS URL to a host that is not
	// loopback (idp.CheckURL).
	InsecureHTTP bool
}

func (o RemoteOptions) withDefaults() RemoteOptions {
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = idp.DefaultTimeout
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = time.Hour
	}
	if o.UnknownKIDInterval <= 0 {
		o.UnknownKIDInterval = 30 * time.Second
	}
	return o
}

// Remote is a JWKS fetched from a URL and cached.
//
// Every fetch (the first, the hourly refresh, the refetch on an unknown
// kid) runs detached from the request that caused it, under the Remote's
// own context and HTTPTimeout, one at a time (as coreos/go-oidc's
// RemoteKeySet does): a request that needs a fetch starts one or joins the
// one in flight, and waits for it with its own context. A client that hangs
// up gives up its own wait and nothing else, so its cancellation is never
// recorded as the provider failing, and never spends the unknown-kid
// allowance without a fetch to show for it.
//
// Only a miss (no cached key fits the token) causes a refetch, at most one
// per UnknownKIDInterval; a miss while a fetch is in flight waits for it.
type Remote struct {
	url     string
	client  *http.Client
	ctx     context.Context
	opts    RemoteOptions
	fetches atomic.Int64

	mu       sync.Mutex
	keys     []staticKey // the last set fetched; replaced whole, never changed
	failing  bool        // the last fetch failed
	lastMiss time.Time   // when a miss last started a fetch
	inflight *jwksFetch
}

// jwksFetch is one fetch in flight; done is closed when it has been
// recorded.
type jwksFetch struct{ done chan struct{} }

// NewRemote starts a cache of the JWKS at url. Its first fetch happens here,
// bounded by HTTPTimeout; when it fails the cache starts empty and the next
// token triggers another try. ctx ends the background refresh and any fetch
// in flight.
func NewRemote(ctx context.Context, url string, o RemoteOptions) (*Remote, error) {
	r, err := startRemote(ctx, url, o)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	f := r.inflight
	r.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
		case <-ctx.Done():
		}
	}
	return r, nil
}

// startRemote is NewRemote without waiting for the first fetch.
func startRemote(ctx context.Context, url string, o RemoteOptions) (*Remote, error) {
	o = o.withDefaults()
	if err := idp.CheckURL(url, o.InsecureHTTP); err != nil {
		return nil, fmt.Errorf("keys: jwks: %w", err)
	}
	r := &Remote{url: url, ctx: ctx, opts: o}
	r.client = idp.NewHTTPClient(idp.HTTPOptions{
		Timeout:   o.HTTPTimeout,
		Transport: o.Transport,
		Observe:   func(int, error) { r.fetches.Add(1) },
	})
	r.mu.Lock()
	r.startLocked()
	r.mu.Unlock()
	go r.refreshEvery(o.RefreshInterval)
	return r, nil
}

// Fetches returns how many JWKS requests this Remote has made.
func (r *Remote) Fetches() int64 { return r.fetches.Load() }

// Key implements Source.
func (r *Remote) Key(ctx context.Context, t *jwt.Token) (any, error) {
	if k, ok := pick(r.cached(), t, false); ok {
		return k, nil
	}
	if err := r.refetch(ctx); err != nil {
		return nil, err
	}
	if k, ok := pick(r.cached(), t, false); ok {
		return k, nil
	}
	// While the last fetch failed we cannot tell a forged kid from a
	// rotated one, so the answer is "unavailable".
	r.mu.Lock()
	failing := r.failing
	r.mu.Unlock()
	if failing {
		return nil, ErrUnavailable
	}
	return nil, ErrUnknownKey
}

func (r *Remote) cached() []staticKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys
}

// refetch waits for a fetch after a miss: the one in flight, or a new one
// when the unknown-kid allowance permits. It fails only when ctx ends first.
func (r *Remote) refetch(ctx context.Context) error {
	r.mu.Lock()
	f := r.inflight
	if f == nil {
		if !r.lastMiss.IsZero() && time.Since(r.lastMiss) < r.opts.UnknownKIDInterval {
			r.mu.Unlock()
			return nil
		}
		r.lastMiss = time.Now()
		f = r.startLocked()
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return errors.Join(ErrUnavailable, context.Cause(ctx))
	}
}

// startLocked starts a fetch unless one is in flight, and returns the one
// in flight. r.mu must be held.
func (r *Remote) startLocked() *jwksFetch {
	if r.inflight == nil {
		r.inflight = &jwksFetch{done: make(chan struct{})}
		go r.run(r.inflight)
	}
	return r.inflight
}

func (r *Remote) refreshEvery(d time.Duration) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-tick.C:
			r.mu.Lock()
			r.startLocked()
			r.mu.Unlock()
		}
	}
}

// run does one fetch, detached from every caller, and records it. A fetch
// cut short because r.ctx ended (the function is stopping) is no provider
// failure and is not recorded as one.
func (r *Remote) run(f *jwksFetch) {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.HTTPTimeout)
	ks, err := r.fetch(ctx)
	cancel()
	stopping := r.ctx.Err() != nil
	r.mu.Lock()
	switch {
	case err == nil:
		r.keys, r.failing = ks, false
	case !stopping:
		r.failing = true
	}
	r.inflight = nil
	r.mu.Unlock()
	close(f.done)
	if err != nil && !stopping && r.opts.OnRefreshError != nil {
		r.opts.OnRefreshError(err)
	}
}

// fetch gets and parses the set. Keys that are not for signatures, or that
// cannot be used (an unknown key type, a private or symmetric key), are
// left out; the others still count.
func (r *Remote) fetch(ctx context.Context) ([]staticKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("keys: jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("keys: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("keys: jwks: status %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || set.Keys == nil {
		return nil, fmt.Errorf("keys: jwks: %w", ErrNotJWKS)
	}
	ks := make([]staticKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		if k, sig, err := parseJWK(raw); err == nil && sig {
			ks = append(ks, k)
		}
	}
	return ks, nil
}

// Discovered is a Remote whose URL is the jwks_uri of the issuer's
// discovery document, resolved on first use so that a provider that is down
// at start-up delays nothing but its own tokens.
type Discovered struct {
	ctx  context.Context
	disc *idp.Discovery
	opts RemoteOptions

	mu     sync.Mutex
	remote *Remote
}

// NewDiscovered returns a Discovered source. ctx ends the background refresh.
func NewDiscovered(ctx context.Context, disc *idp.Discovery, o RemoteOptions) *Discovered {
	return &Discovered{ctx: ctx, disc: disc, opts: o}
}

// Key implements Source.
func (d *Discovered) Key(ctx context.Context, t *jwt.Token) (any, error) {
	r, err := d.get(ctx)
	if err != nil {
		return nil, errors.Join(ErrUnavailable, err)
	}
	return r.Key(ctx, t)
}

// get returns the Remote, making it once the discovery document is known.
// Neither wait holds the lock: a caller waits for discovery and for the
// first JWKS fetch with its own context.
func (d *Discovered) get(ctx context.Context) (*Remote, error) {
	d.mu.Lock()
	r := d.remote
	d.mu.Unlock()
	if r != nil {
		return r, nil
	}
	doc, err := d.disc.Get(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remote == nil {
		r, err := startRemote(d.ctx, doc.JWKSURI, d.opts)
		if err != nil {
			return nil, err
		}
		d.remote = r
	}
	return d.remote, nil
}
