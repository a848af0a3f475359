package keys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

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

// Remote is a JWKS fetched from a URL and cached by keyfunc/v3 and jwkset.
//
// Look-ups go first to the cache alone (cached, a keyfunc over the URL's
// own storage, which never fetches). Only a miss takes the refresh path
// (refreshing, a keyfunc over jwkset's HTTP client, which refetches on an
// unknown kid behind the rate limiter), one miss at a time: requests that
// miss while a rotation is being fetched wait for that fetch and then find
// the new key, instead of hitting the limiter and being refused.
type Remote struct {
	cached     keyfunc.Keyfunc
	refreshing keyfunc.Keyfunc
	miss       sync.Mutex
	failing    atomic.Bool
	fetches    atomic.Int64
}

// NewRemote starts a cache of the JWKS at url. Its first fetch happens here,
// bounded by HTTPTimeout; when it fails the cache starts empty and the next
// token with a kid triggers another try. ctx ends the background refresh.
func NewRemote(ctx context.Context, url string, o RemoteOptions) (*Remote, error) {
	o = o.withDefaults()
	r := &Remote{}
	client := idp.NewHTTPClient(idp.HTTPOptions{
		Timeout:   o.HTTPTimeout,
		Transport: o.Transport,
		Observe: func(status int, err error) {
			r.fetches.Add(1)
			if err == nil && status == http.StatusOK {
				r.failing.Store(false)
			}
		},
	})
	onError := func(_ context.Context, err error) {
		r.failing.Store(true)
		if o.OnRefreshError != nil {
			o.OnRefreshError(err)
		}
	}
	store, err := jwkset.NewStorageFromHTTP(url, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx,
		HTTPTimeout:               o.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       onError,
		RefreshInterval:           o.RefreshInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("keys: jwks cache: %w", err)
	}
	httpClient, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:       map[string]jwkset.Storage{url: store},
		PrioritizeHTTP: true,
		// jwkset bounds both the wait for the limiter and the fetch that
		// follows with this one value, so it must be the HTTP timeout.
		RateLimitWaitMax:  o.HTTPTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDInterval), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("keys: jwks cache: %w", err)
	}
	if r.cached, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: store}); err != nil {
		return nil, fmt.Errorf("keys: jwks cache: %w", err)
	}
	if r.refreshing, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: httpClient}); err != nil {
		return nil, fmt.Errorf("keys: jwks cache: %w", err)
	}
	return r, nil
}

// Fetches returns how many JWKS requests this Remote has made.
func (r *Remote) Fetches() int64 { return r.fetches.Load() }

// Key implements Source.
func (r *Remote) Key(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := kid(t); !ok {
		set, err := r.cached.VerificationKeySet(ctx)
		if err == nil && len(set.Keys) > 0 {
			return set, nil
		}
		return nil, r.classify(err)
	}
	if k, err := r.cached.KeyfuncCtx(ctx)(t); err == nil {
		return k, nil
	}
	r.miss.Lock()
	defer r.miss.Unlock()
	// Another request may have fetched the key while this one waited.
	k, err := r.refreshing.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, r.classify(err)
	}
	return k, nil
}

// classify a failed look-up: while the last fetch failed we cannot tell a
// forged kid from a rotated one, so the answer is "unavailable".
func (r *Remote) classify(err error) error {
	if r.failing.Load() {
		return errors.Join(ErrUnavailable, err)
	}
	if err == nil || errors.Is(err, jwkset.ErrKeyNotFound) {
		return ErrUnknownKey
	}
	// Rate-limited refresh, alg disagreeing with the JWK, a non-string kid.
	return errors.Join(ErrUnknownKey, err)
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

func (d *Discovered) get(ctx context.Context) (*Remote, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remote != nil {
		return d.remote, nil
	}
	doc, err := d.disc.Get(ctx)
	if err != nil {
		return nil, err
	}
	r, err := NewRemote(d.ctx, doc.JWKSURI, d.opts)
	if err != nil {
		return nil, err
	}
	d.remote = r
	return r, nil
}
