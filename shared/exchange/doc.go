// Package exchange is the exchange function's handler: a provider JWT in, as
// a bearer token or as an RFC 8693 token-exchange form, and a Supabase JWT
// out. The request is parsed once into [Request]; verification and minting
// are package bridge's; the edge (CORS, methods, limits, log) is package
// edge's.
package exchange
