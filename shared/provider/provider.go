package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"supabridge/shared/discovery"
)

// Errors returned by [Client.Refresh].
var (
	ErrInvalidGrant = errors.New("provider: refresh token refused")
	ErrUnavailable  = errors.New("provider: token endpoint unavailable")
	ErrClient       = errors.New("provider: the provider refused our client or request")
)

// Config is one provider's token-endpoint configuration.
type Config struct {
	// TokenURL, when empty, comes from the discovery document.
	TokenURL     string
	ClientID     string
	ClientSecret []byte
	// PostAuth sends the client credentials in the form body
	// (client_secret_post) instead of HTTP Basic (client_secret_basic).
	PostAuth bool
}

// Client refreshes tokens at one provider. It is safe for concurrent use.
type Client struct {
	conf oauth2.Config
	disc *discovery.Client
	http *http.Client
}

// New returns a Client. disc may be nil when cfg.TokenURL is set; client is
// the bounded HTTP client for the token endpoint.
func New(cfg Config, disc *discovery.Client, client *http.Client) (*Client, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("provider: no client id")
	}
	if cfg.TokenURL == "" && disc == nil {
		return nil, errors.New("provider: no token endpoint and no issuer to discover it from")
	}
	style := oauth2.AuthStyleInHeader
	if cfg.PostAuth {
		style = oauth2.AuthStyleInParams
	}
	return &Client{
		conf: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: string(cfg.ClientSecret),
			Endpoint:     oauth2.Endpoint{TokenURL: cfg.TokenURL, AuthStyle: style},
		},
		disc: disc,
		http: client,
	}, nil
}

// Tokens is a provider's answer to a refresh.
type Tokens struct {
	AccessToken string
	// RefreshToken is the new refresh token, or the old one when the
	// provider does not rotate.
	RefreshToken string
	// IDToken is empty when the provider returned none.
	IDToken string
}

// Refresh runs the refresh_token grant.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	conf := c.conf
	if conf.Endpoint.TokenURL == "" {
		d, err := c.disc.Get(ctx)
		if err != nil {
			return Tokens{}, fmt.Errorf("%w: discovery: %w", ErrUnavailable, err)
		}
		if d.TokenEndpoint == "" {
			return Tokens{}, fmt.Errorf("%w: discovery document has no token_endpoint", ErrUnavailable)
		}
		conf.Endpoint.TokenURL = d.TokenEndpoint
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return Tokens{}, classify(err)
	}
	t := Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}
	if t.RefreshToken == "" {
		t.RefreshToken = refreshToken
	}
	if id, ok := tok.Extra("id_token").(string); ok {
		t.IDToken = id
	}
	return t, nil
}

// classify keeps the protocol facts of a failure and drops the provider's
// body, which could echo what we sent.
func classify(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		switch {
		case re.ErrorCode == "invalid_grant":
			return ErrInvalidGrant
		case re.ErrorCode == "invalid_request" && status == http.StatusBadRequest:
			// Dex (v2.45) answers a reused or unknown refresh token with
			// invalid_request. Our request is fixed and well-formed, so the
			// only variable part it can refuse is the refresh token.
			return ErrInvalidGrant
		case status >= 500 || (re.ErrorCode == "" && status != http.StatusBadRequest && status != http.StatusUnauthorized):
			return fmt.Errorf("%w: status %d", ErrUnavailable, status)
		default:
			return fmt.Errorf("%w: status %d, error %q", ErrClient, status, re.ErrorCode)
		}
	}
	// Transport errors, timeouts, oversized or unparseable bodies.
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
