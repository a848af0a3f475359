// Package claims owns the two claim sets supabridge handles: [Payload], the
// payload of a verified provider token, decoded once; and the Supabase token it
// mints from it with [Minter], signed by a [Signer]: HS256 with the legacy
// JWT secret, or ES256/RS256 (or HS256 with a kid) with a key of Supabase
// Auth's JWT_KEYS or of the bridge's own. The signer changes only the
// header's alg and kid and the signature, never the claims.
//
// The mapping is fail-closed by construction: the output role is always
// "authenticated", the registered and Supabase-reserved claim names are never
// copied from a provider whatever the configuration says, and the expiry is never
// later than the provider's. The legacy secret signs with no "kid" (PostgREST
// 13+ refuses a kid that matches none of its keys, and the shared secret of a
// self-hosted Supabase has none); every other key signs with its kid.
//
// [Config.JWKS] is the set of public keys a function publishes at
// /.well-known/jwks.json: the signer's, and those of before a rotation. It
// never holds a shared secret. Neither a Signer nor a [Secret] prints key
// material.
package claims
