// Package keys finds the public key that should verify a provider token. A
// [Source] is built from exactly one of: a JWKS URL (a [Remote]: cached,
// refreshed in the background and on an unknown "kid", rate-limited), a
// static PEM public key or JWK / JWK Set, or the jwks_uri of the issuer's
// discovery document, resolved on first use. JWKs are parsed by jwkset.
//
// It never uses a key named by the token itself ("jku", "x5u", "jwk", "x5c"):
// the token's "kid" only selects among keys the operator configured, and a
// key is a candidate only if its JWK "alg" is unset or the token's and it is
// meant for signatures ("use" unset or "sig", "key_ops" unset or holding
// "verify"). It tells a provider outage ([ErrUnavailable], answered 502)
// from a key it does not know ([ErrUnknownKey], answered 401): a Remote
// records whether its last fetch failed.
//
// A Remote fetches detached from the request that needs the keys (one
// fetch at a time, bounded by its own timeout): a client that hangs up
// never makes a fetch fail for everyone else. keyfunc/v3, which this
// package used before, refetches under the caller's context.
package keys
