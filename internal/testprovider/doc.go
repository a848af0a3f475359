// Package testprovider is an in-process OIDC provider for tests: keys made in
// the test (RS256, ES256, EdDSA), a JWKS and discovery document served by
// httptest, key rotation, and failures on command (down, slow, 500, garbage),
// with a count of every JWKS fetch.
//
// It is a fast fake that sits beside the real provider tests (Dex), never
// instead of them.
package testprovider
