package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Errors returned by [Fetch] and [Client.Get]. ErrUnavailable wraps every
// failure to obtain a usable document.
var (
	ErrUnavailable    = errors.New("discovery: provider metadata unavailable")
	ErrIssuerMismatch = errors.New("discovery: metadata issuer differs from the configured issuer")
)

// Document is the subset of the provider metadata supabridge reads.
type Document struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	TokenEndpoint                    string   `json:"token_endpoint"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	GrantTypesSupported              []string `json:"grant_types_supported"`
}

// URL returns the discovery URL of issuer: the well-known suffix appended
// after any trailing slash is removed (§4).
func URL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// Fetch gets and checks the metadata of issuer once.
func Fetch(ctx context.Context, c *http.Client, issuer string) (*Document, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, URL(issuer), nil)
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
	var d Document
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

// Client caches one issuer's document. After a failure it answers with the
// same error, without a request, until RetryAfter has passed.
type Client struct {
	issuer     string
	http       *http.Client
	retryAfter time.Duration
	now        func() time.Time

	mu      sync.Mutex
	doc     *Document
	lastErr error
	lastTry time.Time
}

// NewClient returns a Client for issuer. retryAfter <= 0 means 5 s.
func NewClient(issuer string, c *http.Client, retryAfter time.Duration) *Client {
	if retryAfter <= 0 {
		retryAfter = 5 * time.Second
	}
	return &Client{issuer: issuer, http: c, retryAfter: retryAfter, now: time.Now}
}

// Get returns the cached document, fetching it on first use.
func (c *Client) Get(ctx context.Context) (*Document, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc != nil {
		return c.doc, nil
	}
	if c.lastErr != nil && c.now().Sub(c.lastTry) < c.retryAfter {
		return nil, c.lastErr
	}
	c.lastTry = c.now()
	d, err := Fetch(ctx, c.http, c.issuer)
	if err != nil {
		c.lastErr = err
		return nil, err
	}
	c.doc, c.lastErr = d, nil
	return d, nil
}
