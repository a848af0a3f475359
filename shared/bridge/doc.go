// Package bridge is the core of supabridge: a verified provider token in, a
// Supabase session out. Both functions use it — exchange with the token it
// was given, refresh with the id_token the provider returned — so a token is
// turned into a Supabase session by exactly one path.
//
// It also owns [Classify], the one place where any failure becomes the
// contract's status and error code.
package bridge
