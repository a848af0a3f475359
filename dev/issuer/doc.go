// Package issuer is a development OpenID Connect issuer for `make run` and
// tests: its own RS256 key made at start, a JWKS, a discovery document, and a
// token endpoint that mints a token for any sub and email it is given.
//
// It authenticates nobody. Only the local runtime (`supabridge serve`)
// imports it; the function binaries never do, and a test checks that.
package issuer
