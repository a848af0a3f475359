// Package faults holds the fault tests of the functions as they are served:
// the handlers built by platform.NewHandler (or, where a test needs a JWKS
// cache faster than production's, the same pieces with only the cache's
// timing changed) against providers that fail on command, and the HTTP
// server against slow and abusive clients.
//
// What they establish: a JWKS that is slow, failing, garbled or gone after
// warm-up leaves known keys working and answers an unknown kid with 502
// within AUTH_HTTP_TIMEOUT, then recovers without a restart; a provider
// found by discovery may be down at start; a flood of unknown kids from many
// clients at once makes a bounded number of JWKS fetches; the refresh
// function's token endpoint cannot hold a request past the timeout or feed
// it an endless body; and no client can hold the server with a slow header
// or body.
package faults
