// Package issuer is a development OpenID Connect issuer for `make run` and
// tests: its own RS256 key made at start, a JWKS, a discovery document, and a
// token endpoint that signs a token for any sub and email it is given, with a
// refresh token. Refresh tokens rotate: each is redeemed once (for the public
// client ClientID) for a new token and a new refresh token, and a spent one is
// invalid_grant, as Authentik and Dex answer. The store of refresh tokens is
// bounded (MaxRefreshTokens, RefreshTokenTTL).
//
// It authenticates nobody. Only the local runtime (`supabridge serve
// --dev-issuer`) imports it, and that refuses to run it off loopback or with a
// real Supabase secret; the function binaries never import it, and a test
// checks that.
package issuer
