// Package provider talks to an OAuth 2.0 / OIDC provider's token endpoint
// for the refresh_token grant (RFC 6749 §6), on golang.org/x/oauth2 with our
// own bounded *http.Client and an explicit client authentication style (the
// library's auto-detection retries a refused request with the other style,
// which would send a rejected refresh token twice).
//
// It tells a refused refresh token ([ErrInvalidGrant]) from a provider that
// is down, slow or answering nonsense ([ErrUnavailable]). It never puts a
// refresh token, a client secret or a provider's response body in an error.
package provider
