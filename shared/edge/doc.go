// Package edge is the HTTP edge every function shares, the part of the
// contract that does not depend on what the function does: the method gate
// (405 with Allow), CORS headers on every response and the OPTIONS
// preflight, GET /healthz, GET /.well-known/jwks.json (the public keys the
// function signs with, cacheable for ten minutes; never a shared secret),
// the 64 KiB body limit, Content-Type and Cache-Control: no-store, panic
// recovery, and one JSON access-log line per request.
//
// The access log holds the function, method, status, duration, error code
// and request id: never a header, a body, a query or a token.
package edge
