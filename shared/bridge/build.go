package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/discovery"
	"supabridge/shared/keys"
	"supabridge/shared/outbound"
)

// Deps are the explicit dependencies of a function's handler.
type Deps struct {
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Transport carries every call to a provider; nil means the default.
	Transport http.RoundTripper
	// Keys overrides JWKS cache timing (tests, load runs); HTTPTimeout
	// comes from the provider's configuration.
	Keys keys.RemoteOptions
}

func (d Deps) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Built is a Bridge with the pieces the refresh function needs too.
type Built struct {
	*Bridge
	// Discovery holds one discovery client per provider with an issuer,
	// shared by the key source and the refresh client.
	Discovery []*discovery.Client
}

// Build wires a Bridge from cfg: a key source per provider (its own cache,
// its own client), the verifier and the minter. ctx ends background work.
func Build(ctx context.Context, cfg *config.Config, d Deps) (*Built, error) {
	minter, err := claims.NewMinter(cfg.Supabase, d.Now)
	if err != nil {
		return nil, err
	}
	b := &Built{Discovery: make([]*discovery.Client, len(cfg.Providers))}
	providers := make([]Provider, len(cfg.Providers))
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		log := d.logger().With("provider", p.Name)
		if p.Issuer != "" {
			b.Discovery[i] = discovery.NewClient(p.Issuer, outbound.NewClient(outbound.Options{Timeout: p.HTTPTimeout, Transport: d.Transport}), 0)
		}
		ro := d.Keys
		ro.HTTPTimeout = p.HTTPTimeout
		ro.Transport = d.Transport
		ro.OnRefreshError = func(err error) {
			log.Warn("jwks refresh failed", "error", err.Error())
		}
		var src keys.Source
		switch {
		case len(p.PublicKey) > 0:
			src, err = keys.NewStatic(p.PublicKey)
			if err != nil {
				return nil, fmt.Errorf("bridge: provider %q: public key: %w", p.Name, err)
			}
		case p.JWKSURL != "":
			src, err = keys.NewRemote(ctx, p.JWKSURL, ro)
			if err != nil {
				return nil, fmt.Errorf("bridge: provider %q: %w", p.Name, err)
			}
		default:
			src = keys.NewDiscovered(ctx, b.Discovery[i], ro)
		}
		pol := p.Policy()
		pol.Keys = src
		providers[i] = Provider{Policy: pol, Mapping: p.Mapping}
	}
	br, err := NewFromPolicies(providers, minter, d.Now)
	if err != nil {
		return nil, err
	}
	b.Bridge = br
	return b, nil
}
