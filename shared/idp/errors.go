package idp

import "errors"

// Errors of this package, matched with errors.Is.
var (
	// ErrUnavailable wraps every failure to get a usable answer from the
	// provider: transport errors, timeouts, 5xx, unreadable or oversized
	// bodies, unusable metadata. Not the caller's fault.
	ErrUnavailable = errors.New("idp: provider unavailable")
	// ErrIssuerMismatch: the metadata's "issuer" is not the configured one.
	// It comes wrapped in ErrUnavailable.
	ErrIssuerMismatch = errors.New("idp: metadata issuer differs from the configured issuer")
	// ErrBodyTooLarge is returned while reading a response over the limit.
	ErrBodyTooLarge = errors.New("idp: response body over the size limit")
	// ErrInvalidGrant: the provider refused the refresh token.
	ErrInvalidGrant = errors.New("idp: refresh token refused")
	// ErrRedirect: a provider answered with a redirect we do not follow:
	// any redirect from the token endpoint, a redirect to another origin
	// from discovery or a JWKS. It comes wrapped in the caller's error.
	ErrRedirect = errors.New("idp: redirect refused")
	// ErrInsecureURL: a provider URL is plain http to a host that is not
	// loopback, and the provider does not allow it (insecure_http).
	ErrInsecureURL = errors.New("idp: plain http to a host that is not loopback; use https")
	// ErrNotHTTPURL: a provider URL is not an absolute http(s) URL.
	ErrNotHTTPURL = errors.New("idp: not an absolute http(s) URL")
	// ErrClient: the provider refused our client or our request (a wrong
	// client id or secret, an unsupported grant): an operator's problem.
	ErrClient = errors.New("idp: the provider refused our client or request")
)
