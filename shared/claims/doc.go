// Package claims owns the two claim sets supabridge handles: [Payload], the
// payload of a verified provider token, decoded once; and the Supabase token it
// mints from it with [Minter], signed HS256 with the project's JWT secret.
//
// The mapping is fail-closed by construction: the output role is always
// "authenticated", the registered and Supabase-reserved claim names are never
// copied from a provider whatever the configuration says, the expiry is never
// later than the provider's, and the header never carries a "kid" (PostgREST
// 13+ refuses a kid that matches none of its keys, and the shared secret of a
// self-hosted Supabase has none).
package claims
