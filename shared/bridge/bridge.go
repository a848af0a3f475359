package bridge

import (
	"context"
	"fmt"
	"time"

	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/function"
	"supabridge/shared/idp"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

// Refresher runs the refresh_token grant at one provider; *idp.TokenClient
// is the production one.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string) (idp.Tokens, error)
}

// Trusted is one trusted identity provider, everything the bridge needs of
// it in one value: how its tokens are checked, how they become a Supabase
// session and, when it can refresh, its token endpoint.
type Trusted struct {
	// Policy is what its tokens must satisfy; Policy.Name names it.
	Policy verify.Policy
	// Mapping turns its verified payload into Supabase claims.
	Mapping claims.Mapping
	// Refresher is its token endpoint; nil when it cannot refresh.
	Refresher Refresher
}

// Name returns the provider's configured name.
func (t *Trusted) Name() string { return t.Policy.Name }

// Bridge verifies provider tokens and mints Supabase sessions. It is safe
// for concurrent use.
type Bridge struct {
	verifier *verify.Verifier
	minter   *claims.Minter
	trusted  []*Trusted
	byPolicy map[*verify.Policy]minting
}

// minting is a trusted provider and its mapping, compiled once.
type minting struct {
	trusted *Trusted
	mapping *claims.CompiledMapping
}

// New returns a Bridge over trusted, minting with minter. now is the
// verifier's clock; nil means time.Now.
func New(trusted []*Trusted, minter *claims.Minter, now func() time.Time) (*Bridge, error) {
	b := &Bridge{minter: minter, trusted: trusted, byPolicy: make(map[*verify.Policy]minting, len(trusted))}
	policies := make([]*verify.Policy, len(trusted))
	for i, t := range trusted {
		policies[i] = &t.Policy
		b.byPolicy[&t.Policy] = minting{trusted: t, mapping: t.Mapping.Compile()}
	}
	v, err := verify.New(policies, now)
	if err != nil {
		return nil, err
	}
	b.verifier = v
	return b, nil
}

// FromConfig wires a Bridge from cfg: per provider one bounded HTTP client
// configuration, one discovery cache shared by its key source and its token
// endpoint, its key source (its own cache) and, when it can refresh, its
// token endpoint client. ctx ends background work.
func FromConfig(ctx context.Context, cfg *config.Config, d function.Deps) (*Bridge, error) {
	minter, err := claims.NewMinter(cfg.Supabase, d.Now)
	if err != nil {
		return nil, err
	}
	trusted := make([]*Trusted, len(cfg.Providers))
	for i := range cfg.Providers {
		t, err := trust(ctx, &cfg.Providers[i], d)
		if err != nil {
			return nil, fmt.Errorf("bridge: provider %q: %w", cfg.Providers[i].Name, err)
		}
		trusted[i] = t
	}
	return New(trusted, minter, d.Now)
}

// trust builds the Trusted value of one configured provider.
func trust(ctx context.Context, p *config.Provider, d function.Deps) (*Trusted, error) {
	log := d.Log().With("provider", p.Name)
	client := func(kind string) idp.HTTPOptions {
		return idp.HTTPOptions{Timeout: p.HTTPTimeout, Transport: d.Transport, Observe: d.Metrics.ProviderCall(p.Name, kind)}
	}
	var disc *idp.Discovery
	if p.Issuer != "" {
		disc = idp.NewDiscovery(p.Issuer, idp.NewHTTPClient(client("discovery")), 0)
	}
	ro := d.Keys
	ro.HTTPTimeout = p.HTTPTimeout
	ro.Transport = d.Transport
	ro.Observe = d.Metrics.ProviderCall(p.Name, "jwks")
	ro.OnRefreshError = func(err error) {
		log.Warn("jwks refresh failed", "error", err.Error())
	}
	ro.InsecureHTTP = p.InsecureHTTP
	if p.InsecureHTTP {
		log.Warn("insecure_http is set: this provider's URLs, configured or discovered, may be plain http to any host; " +
			"anyone on that network path can read refresh tokens and client secrets and supply signing keys")
	}
	var (
		src keys.Source
		err error
	)
	switch {
	case len(p.PublicKey) > 0:
		if src, err = keys.NewStatic(p.PublicKey); err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
	case p.JWKSURL != "":
		if src, err = keys.NewRemote(ctx, p.JWKSURL, ro); err != nil {
			return nil, err
		}
	default:
		src = keys.NewDiscovered(ctx, disc, ro)
	}
	t := &Trusted{Policy: p.Policy(), Mapping: p.Mapping}
	t.Policy.Keys = src
	if p.CanRefresh() {
		tc, err := idp.NewTokenClient(idp.TokenConfig{
			TokenURL:     p.TokenURL,
			ClientID:     p.ClientID,
			ClientSecret: p.Secret,
			PostAuth:     p.ClientAuth == config.ClientAuthPost,
			InsecureHTTP: p.InsecureHTTP,
		}, disc, idp.NewHTTPClient(client("token")))
		if err != nil {
			return nil, err
		}
		t.Refresher = tc
	}
	return t, nil
}

// Session is a minted Supabase session and the provider that vouched for it.
type Session struct {
	Token    claims.Token
	Provider *Trusted
}

// Exchange verifies token and mints the Supabase session for it.
func (b *Bridge) Exchange(ctx context.Context, token string) (Session, error) {
	res, err := b.verifier.Verify(ctx, token)
	if err != nil {
		return Session{}, err
	}
	t := b.byPolicy[res.Policy]
	tok, err := b.minter.MintCompiled(res.Claims, t.mapping)
	if err != nil {
		return Session{}, fmt.Errorf("bridge: %w", err)
	}
	return Session{Token: tok, Provider: t.trusted}, nil
}

// Providers returns the trusted providers, in configuration order.
func (b *Bridge) Providers() []*Trusted { return b.trusted }

// Refresher returns the provider named name that can refresh; with name
// empty, the only one that can. Its errors are contract errors.
func (b *Bridge) Refresher(name string) (*Trusted, error) {
	var only *Trusted
	n := 0
	for _, t := range b.trusted {
		if t.Refresher == nil {
			continue
		}
		if name != "" && t.Name() == name {
			return t, nil
		}
		only, n = t, n+1
	}
	switch {
	case name != "" || n == 0:
		return nil, ErrUnknownProvider
	case n > 1:
		return nil, ErrNeedProvider
	}
	return only, nil
}

// CanRefresh reports whether any provider can refresh.
func (b *Bridge) CanRefresh() bool {
	for _, t := range b.trusted {
		if t.Refresher != nil {
			return true
		}
	}
	return false
}
