// Package oauth is the protocol vocabulary of supabridge: the OAuth 2.0 error
// codes of RFC 6749 §5.2 and RFC 6750 §3.1, the grant and token-type URNs of
// RFC 8693, the [Error] value that carries a contract error, and the writers
// that put JSON on the wire.
//
// It owns the response shape of the contract ({"error","error_description"})
// and nothing else: deciding which failure becomes which Error is the job of
// package bridge, so there is exactly one such mapping in the program.
package oauth
