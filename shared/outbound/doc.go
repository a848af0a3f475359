// Package outbound builds the one kind of *http.Client supabridge uses to talk
// to an identity provider (discovery, JWKS, token endpoint): a whole-call
// timeout, bounded response bodies, no redirects to other schemes, and an
// optional observer that sees each call's outcome (the key cache uses it to
// tell a provider outage from a forged token).
//
// It refuses to read more than MaxBody bytes of any response: a provider
// that sends more is treated as failing, never buffered.
package outbound
