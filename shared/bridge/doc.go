// Package bridge is the core of supabridge: a verified provider token in, a
// Supabase session out. Both functions use it — exchange with the token it
// was given, refresh with the id_token the provider returned — so a token is
// turned into a Supabase session by exactly one path. Each configured
// provider is one [Trusted] value: its policy, its claim mapping and its
// token endpoint travel together.
//
// It also owns the contract's errors (errors.go): every error value the
// functions answer with and [Classify], the one place where any failure
// becomes the contract's status and error code, written by [Fail].
package bridge
