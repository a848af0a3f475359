package devserver

import "errors"

// Errors Run returns before serving anything.
var (
	// ErrNoProvider is a server with no provider configured and no development
	// issuer asked for.
	ErrNoProvider = errors.New("devserver: no provider configured: set AUTH_ISSUER, AUTH_JWKS_URL, AUTH_PUBLIC_KEY or AUTH_PROVIDERS, or ask for the development issuer")
	// ErrDevIssuerWithProvider is the development issuer asked for beside a
	// configured provider or refresh client.
	ErrDevIssuerWithProvider = errors.New("devserver: the development issuer replaces the provider; unset the provider variables or drop the development issuer")
	// ErrDevIssuerRealSecret is the development issuer asked for with a real
	// Supabase secret: it would sign sessions a real Supabase accepts, for any
	// sub.
	ErrDevIssuerRealSecret = errors.New("devserver: the development issuer signs a token for any sub, so it never runs with a real Supabase secret; unset it (a throwaway one is made) or use Supabase's example secret")
	// ErrDevIssuerNotLoopback is the development issuer asked for on an address
	// other machines can reach.
	ErrDevIssuerNotLoopback = errors.New("devserver: the development issuer signs a token for any sub, so it listens on a loopback address only (127.0.0.1, ::1)")
	// ErrNothingServed is a server none of whose functions could start.
	ErrNothingServed = errors.New("devserver: no function could start")
)
