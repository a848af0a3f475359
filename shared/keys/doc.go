// Package keys finds the public key that should verify a provider token. A
// [Source] is built from exactly one of: a JWKS URL (cached by keyfunc/v3,
// refreshed in the background and on an unknown "kid", rate-limited), a
// static PEM public key or JWK / JWK Set, or the jwks_uri of the issuer's
// discovery document, resolved on first use.
//
// It never uses a key named by the token itself ("jku", "x5u", "jwk", "x5c"):
// the token's "kid" only selects among keys the operator configured. It tells
// a provider outage ([ErrUnavailable], answered 502) from a key it does not
// know ([ErrUnknownKey], answered 401): keyfunc reports both as "key not
// found", so a Remote watches its own fetches.
package keys
