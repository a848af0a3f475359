package bridge

import (
	"context"
	"fmt"
	"time"

	"supabridge/shared/claims"
	"supabridge/shared/verify"
)

// Provider is one trusted provider as the bridge sees it.
type Provider struct {
	Policy  verify.Policy
	Mapping claims.Mapping
}

// Bridge verifies provider tokens and mints Supabase sessions.
type Bridge struct {
	verifier  *verify.Verifier
	minter    *claims.Minter
	providers []Provider
}

// New returns a Bridge over providers, minting with minter.
func New(providers []Provider, minter *claims.Minter, v *verify.Verifier) *Bridge {
	return &Bridge{verifier: v, minter: minter, providers: providers}
}

// NewFromPolicies builds the verifier for providers and returns the Bridge.
// now is the verifier's clock; nil means time.Now.
func NewFromPolicies(providers []Provider, minter *claims.Minter, now func() time.Time) (*Bridge, error) {
	policies := make([]verify.Policy, len(providers))
	for i, p := range providers {
		policies[i] = p.Policy
	}
	v, err := verify.New(policies, now)
	if err != nil {
		return nil, err
	}
	return New(providers, minter, v), nil
}

// Session is a minted Supabase session and the provider that vouched for it.
type Session struct {
	Token    claims.Token
	Provider string
}

// Exchange verifies token and mints the Supabase session for it.
func (b *Bridge) Exchange(ctx context.Context, token string) (Session, error) {
	res, err := b.verifier.Verify(ctx, token)
	if err != nil {
		return Session{}, err
	}
	p := &b.providers[res.Provider]
	t, err := b.minter.Mint(res.Claims, &p.Mapping)
	if err != nil {
		return Session{}, fmt.Errorf("bridge: %w", err)
	}
	return Session{Token: t, Provider: p.Policy.Name}, nil
}

// Providers returns the configured providers, in configuration order.
func (b *Bridge) Providers() []Provider { return b.providers }
