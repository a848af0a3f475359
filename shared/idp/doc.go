// Package idp talks to an OpenID Connect / OAuth 2.0 identity provider: the
// one bounded HTTP client every call to a provider goes through
// ([NewHTTPClient]), the provider's metadata (OpenID Connect Discovery 1.0,
// [Discovery]) and its token endpoint for the refresh_token grant (RFC 6749
// §6, [TokenClient]).
//
// What it refuses: a response body over the size limit (an error, never a
// silently truncated body), a redirect to another origin (scheme, host and
// port) from discovery or a JWKS, any redirect from the token endpoint, a
// metadata document whose "issuer" differs from the configured issuer by a
// single byte (Discovery §4.3), and a second request to a failing provider
// within the back-off interval. It tells a refused refresh token
// ([ErrInvalidGrant]) from a provider that is down, slow or answering
// nonsense ([ErrUnavailable]), and never puts a refresh token, a client
// secret or a provider's response body in an error.
//
// The token endpoint client is golang.org/x/oauth2 with our own
// *http.Client and an explicit client authentication style: the library's
// auto-detection retries a refused request with the other style, which
// would send a rejected refresh token twice.
package idp
