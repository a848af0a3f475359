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
// A Remote caches with jwkset and refetches on an unknown kid through
// keyfunc/v3, detached from the request that needs the keys: keyfunc
// refetches under the context it is given, so the Remote gives it its own
// (bounded by the provider timeout) and lets concurrent misses wait for
// that one refetch. A client that hangs up gives up its own wait and never
// makes a fetch fail for everyone else.
package keys
