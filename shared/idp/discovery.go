package idp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Metadata is the subset of the provider metadata (OpenID Connect
// Discovery 1.0 §3) supabridge reads.
type Metadata struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
}

// DiscoveryURL returns the metadata URL of issuer: the well-known suffix
// appended after any trailing slash is removed (Discovery §4).
func DiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// FetchMetadata gets and checks the metadata of issuer once. Every failure
// wraps [ErrUnavailable].
func FetchMetadata(ctx context.Context, c *http.Client, issuer string) (*Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, DiscoveryURL(issuer), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrUnavailable, resp.StatusCode)
	}
	var d Metadata
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: decode: %w", ErrUnavailable, err)
	}
	if d.Issuer != issuer {
		return &d, fmt.Errorf("%w: %w", ErrUnavailable, ErrIssuerMismatch)
	}
	if d.JWKSURI == "" {
		return &d, fmt.Errorf("%w: no jwks_uri", ErrUnavailable)
	}
	return &d, nil
}

// Discovery caches one issuer's metadata. After a failure it answers with
// the same error, without a request, until the retry interval has passed.
//
// The fetch is shared: it runs detached from the request that started it,
// bounded by the HTTP client's own timeout, one at a time; every caller
// waits for it with its own context and gives up on that context alone. A
// client that hangs up therefore never cancels the fetch, and its
// cancellation is never remembered as the provider's failure.
type Discovery struct {
	issuer     string
	http       *http.Client
	retryAfter time.Duration
	timeout    time.Duration
	now        func() time.Time

	mu       sync.Mutex
	doc      *Metadata
	lastErr  error
	lastTry  time.Time
	inflight *metadataFetch
}

// metadataFetch is one fetch in flight; done is closed when doc and err are
// set.
type metadataFetch struct {
	done chan struct{}
	doc  *Metadata
	err  error
}

// NewDiscovery returns a Discovery for issuer. retryAfter <= 0 means 5 s.
// Each fetch is bounded by c.Timeout (DefaultTimeout when zero).
func NewDiscovery(issuer string, c *http.Client, retryAfter time.Duration) *Discovery {
	if retryAfter <= 0 {
		retryAfter = 5 * time.Second
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Discovery{issuer: issuer, http: c, retryAfter: retryAfter, timeout: timeout, now: time.Now}
}

// Issuer returns the issuer whose metadata this is.
func (c *Discovery) Issuer() string { return c.issuer }

// Get returns the cached metadata, fetching it on first use. When ctx ends
// first, Get returns an error wrapping [ErrUnavailable] and ctx's cause, and
// the fetch goes on for the callers that follow.
func (c *Discovery) Get(ctx context.Context) (*Metadata, error) {
	c.mu.Lock()
	if c.doc != nil {
		defer c.mu.Unlock()
		return c.doc, nil
	}
	f := c.inflight
	if f == nil {
		if c.lastErr != nil && c.now().Sub(c.lastTry) < c.retryAfter {
			defer c.mu.Unlock()
			return nil, c.lastErr
		}
		f = &metadataFetch{done: make(chan struct{})}
		c.inflight = f
		go c.fetch(f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.doc, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: gave up waiting for discovery: %w", ErrUnavailable, context.Cause(ctx))
	}
}

// fetch runs one detached fetch and records its outcome.
func (c *Discovery) fetch(f *metadataFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	d, err := FetchMetadata(ctx, c.http, c.issuer)
	c.mu.Lock()
	if err != nil {
		d = nil
		c.lastErr, c.lastTry = err, c.now()
	} else {
		c.doc, c.lastErr = d, nil
	}
	c.inflight = nil
	c.mu.Unlock()
	f.doc, f.err = d, err
	close(f.done)
}
