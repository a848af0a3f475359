// Package discovery fetches and caches an issuer's OpenID Provider metadata
// (OpenID Connect Discovery 1.0 §4) for the key source and the refresh client.
//
// It refuses a document whose "issuer" differs from the configured issuer by a
// single byte (§4.3), and it never asks a failing provider more than once per
// back-off interval.
package discovery
