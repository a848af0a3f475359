package function

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"supabridge/shared/config"
	"supabridge/shared/keys"
	"supabridge/shared/metrics"
)

// Deps are the explicit dependencies of a function's handler. The zero
// value is usable: every field has a default.
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
	// Metrics counts tokens, refusals and provider calls; nil is off.
	Metrics *metrics.Metrics
}

// Log returns d.Logger, or a logger that discards everything.
func (d Deps) Log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// Builder constructs a function's handler from validated configuration.
// exchange.New and refresh.New are Builders. ctx ends background work
// (JWKS refreshes).
type Builder func(ctx context.Context, cfg *config.Config, deps Deps) (http.Handler, error)
