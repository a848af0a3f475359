// Package dex holds the integration tests of the exchange and refresh
// handlers against a real OIDC provider, Dex, run on loopback by
// internal/testenv/dex: the password grant's ID token exchanged, a refresh
// with rotation, a spent refresh token refused, Dex stopped mid-test, and one
// process trusting Dex beside two other providers.
package dex
