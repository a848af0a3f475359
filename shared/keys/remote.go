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
	// InsecureHTTP allows a plain-http JWKS URL to a host that is not
	// loopback (idp.CheckURL).
	InsecureHTTP bool
	// Observe, when set, is told of each JWKS request's status (0 when
	// there was none) and transport error, as idp.HTTPOptions.Observe.
	Observe func(status int, err error)
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
// Look-ups go first to the cache alone (jwkset's storage for the URL,
// which never fetches). Only a miss takes the refresh path (refreshing, a
// keyfunc over jwkset's HTTP client, which refetches on an unknown kid
// behind the rate limiter). That refetch runs detached from the
// request that caused it, under the Remote's own context and HTTPTimeout,
// one at a time (as coreos/go-oidc's RemoteKeySet does): a miss starts one
// or joins the one in flight, waits for it with its own context, then
// looks in the cache again. A client that hangs up gives up its own wait
// and nothing else: its cancellation never cuts a fetch short, so it is
// never recorded as the provider failing, and the fetch it started still
// brings a rotated key in for the requests behind it.
type Remote struct {
	ctx        context.Context
	timeout    time.Duration
	store      jwkset.Storage // the URL's own storage: reading it never fetches
	refreshing keyfunc.Keyfunc
	failing    atomic.Bool
	fetches    atomic.Int64

	mu       sync.Mutex
	inflight chan struct{} // closed when the refetch in flight ends
}

// NewRemote starts a cache of the JWKS at url. Its first fetch happens here,
// bounded by HTTPTimeout; when it fails the cache starts empty and the next
// token with a kid triggers another try. ctx ends the background refresh.
func NewRemote(ctx context.Context, url string, o RemoteOptions) (*Remote, error) {
	o = o.withDefaults()
	if err := idp.CheckURL(url, o.InsecureHTTP); err != nil {
		return nil, fmt.Errorf("keys: jwks: %w", err)
	}
	r := &Remote{ctx: ctx, timeout: o.HTTPTimeout}
	client := idp.NewHTTPClient(idp.HTTPOptions{
		Timeout:   o.HTTPTimeout,
		Transport: o.Transport,
		Observe: func(status int, err error) {
			r.fetches.Add(1)
			if o.Observe != nil {
				o.Observe(status, err)
			}
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
	r.store = store
	if r.refreshing, err = keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: httpClient}); err != nil {
		return nil, fmt.Errorf("keys: jwks cache: %w", err)
	}
	return r, nil
}

// Fetches returns how many JWKS requests this Remote has made.
func (r *Remote) Fetches() int64 { return r.fetches.Load() }

// Key implements Source. A key is chosen among the cached ones as a
// static set chooses (pick): a JWK whose "alg" is set and differs from the
// token's, or that is not for signatures ("use", "key_ops"), is never a
// candidate, with or without a kid. A token whose kid is not cached makes
// the cache refetch (refetch) and is looked up again.
func (r *Remote) Key(ctx context.Context, t *jwt.Token) (any, error) {
	if k, ok := r.fromCache(ctx, t); ok {
		return k, nil
	}
	if _, hasKid := kid(t); !hasKid {
		return nil, r.notFound()
	}
	if err := r.refetch(ctx, t); err != nil {
		return nil, err
	}
	// The refetch brought whatever the provider publishes now.
	if k, ok := r.fromCache(ctx, t); ok {
		return k, nil
	}
	return nil, r.notFound()
}

// fromCache picks t's key among the cached keys: the one its kid names, or
// for a token without a kid every one.
func (r *Remote) fromCache(ctx context.Context, t *jwt.Token) (any, bool) {
	// Converting a cached JWK is a few field reads; jwkset's storage is
	// read on every look-up, so a refresh that drops a key (revocation)
	// takes effect at once, with no second cache to keep in step.
	var buf [4]staticKey
	ks := buf[:0]
	if want, ok := kid(t); ok {
		j, err := r.store.KeyRead(ctx, want)
		if err != nil {
			return nil, false
		}
		if k, ok := fromJWK(j); ok {
			ks = append(ks, k)
		}
	} else {
		all, err := r.store.KeyReadAll(ctx)
		if err != nil {
			return nil, false
		}
		for _, j := range all {
			if k, ok := fromJWK(j); ok {
				ks = append(ks, k)
			}
		}
	}
	return pick(ks, t, false)
}

// refetch makes the cache refetch on t's unknown kid (behind the rate
// limiter), detached from ctx, joining the refetch already in flight if
// there is one; ctx bounds only the wait.
func (r *Remote) refetch(ctx context.Context, t *jwt.Token) error {
	r.mu.Lock()
	done := r.inflight
	if done == nil {
		done = make(chan struct{})
		r.inflight = done
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.timeout)
			defer cancel()
			if r.ctx.Err() == nil {
				// The key is read again from the cache by every waiter.
				_, _ = r.refreshing.KeyfuncCtx(fctx)(t)
			}
			r.mu.Lock()
			r.inflight = nil
			r.mu.Unlock()
			close(done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.Join(ErrUnavailable, context.Cause(ctx))
	}
}

// notFound is the error of a failed look-up: while the last fetch failed
// we cannot tell a forged kid from a rotated one, so the answer is
// "unavailable".
func (r *Remote) notFound() error {
	if r.failing.Load() {
		return ErrUnavailable
	}
	return ErrUnknownKey
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
// The wait for discovery holds no lock: a caller waits with its own
// context, and the fetch goes on for the others (idp.Discovery).
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
		r, err := NewRemote(d.ctx, doc.JWKSURI, d.opts)
		if err != nil {
			return nil, err
		}
		d.remote = r
	}
	return d.remote, nil
}
