package idp

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
)

// TokenConfig is one provider's token-endpoint configuration.
type TokenConfig struct {
	// TokenURL, when empty, comes from the discovery document.
	TokenURL     string
	ClientID     string
	ClientSecret []byte
	// PostAuth sends the client credentials in the form body
	// (client_secret_post) instead of HTTP Basic (client_secret_basic).
	PostAuth bool
	// InsecureHTTP allows a plain-http token endpoint to a host that is
	// not loopback ([CheckURL]).
	InsecureHTTP bool
}

// TokenClient refreshes tokens at one provider's token endpoint. It is safe
// for concurrent use.
type TokenClient struct {
	conf     oauth2.Config
	disc     *Discovery
	http     *http.Client
	insecure bool
}

// NewTokenClient returns a TokenClient. disc may be nil when cfg.TokenURL is
// set; client is the bounded HTTP client for the token endpoint. The
// TokenClient uses a copy of client that follows no redirect: a token
// endpoint answering 307 would have the refresh token (and, with
// PostAuth, the client secret) posted again to wherever it points.
func NewTokenClient(cfg TokenConfig, disc *Discovery, client *http.Client) (*TokenClient, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("idp: no client id")
	}
	if cfg.TokenURL == "" && disc == nil {
		return nil, errors.New("idp: no token endpoint and no issuer to discover it from")
	}
	if cfg.TokenURL != "" {
		if err := CheckURL(cfg.TokenURL, cfg.InsecureHTTP); err != nil {
			return nil, fmt.Errorf("idp: token endpoint: %w", err)
		}
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error {
		return fmt.Errorf("%w: the token endpoint answered with a redirect", ErrRedirect)
	}
	style := oauth2.AuthStyleInHeader
	if cfg.PostAuth {
		style = oauth2.AuthStyleInParams
	}
	return &TokenClient{
		conf: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: string(cfg.ClientSecret),
			Endpoint:     oauth2.Endpoint{TokenURL: cfg.TokenURL, AuthStyle: style},
		},
		disc:     disc,
		http:     &noRedirect,
		insecure: cfg.InsecureHTTP,
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
func (c *TokenClient) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	conf := c.conf
	if conf.Endpoint.TokenURL == "" {
		d, err := c.disc.Get(ctx)
		if err != nil {
			return Tokens{}, fmt.Errorf("idp: discovery: %w", err)
		}
		if d.TokenEndpoint == "" {
			return Tokens{}, fmt.Errorf("%w: discovery document has no token_endpoint", ErrUnavailable)
		}
		if err := CheckURL(d.TokenEndpoint, c.insecure); err != nil {
			return Tokens{}, fmt.Errorf("%w: discovered token_endpoint: %w", ErrUnavailable, err)
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
