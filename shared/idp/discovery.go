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
type Discovery struct {
	issuer     string
	http       *http.Client
	retryAfter time.Duration
	now        func() time.Time

	mu      sync.Mutex
	doc     *Metadata
	lastErr error
	lastTry time.Time
}

// NewDiscovery returns a Discovery for issuer. retryAfter <= 0 means 5 s.
func NewDiscovery(issuer string, c *http.Client, retryAfter time.Duration) *Discovery {
	if retryAfter <= 0 {
		retryAfter = 5 * time.Second
	}
	return &Discovery{issuer: issuer, http: c, retryAfter: retryAfter, now: time.Now}
}

// Issuer returns the issuer whose metadata this is.
func (c *Discovery) Issuer() string { return c.issuer }

// Get returns the cached metadata, fetching it on first use.
func (c *Discovery) Get(ctx context.Context) (*Metadata, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc != nil {
		return c.doc, nil
	}
	if c.lastErr != nil && c.now().Sub(c.lastTry) < c.retryAfter {
		return nil, c.lastErr
	}
	try := c.now()
	d, err := FetchMetadata(ctx, c.http, c.issuer)
	if err != nil {
		// A caller that gave up says nothing about the provider: caching
		// its context error would refuse everyone else for retryAfter.
		if ctx.Err() == nil {
			c.lastErr, c.lastTry = err, try
		}
		return nil, err
	}
	c.doc, c.lastErr = d, nil
	return d, nil
}
