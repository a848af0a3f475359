// Package refresh is the refresh function's handler: a provider refresh
// token in (form or JSON), the provider's refresh_token grant run
// server-side, and a Supabase JWT plus the provider's new tokens out.
//
// The provider's answer goes through the very same verifier and minter as
// exchange (package bridge): an answer that does not verify is never turned
// into a Supabase token, and a token whose issuer is another provider's is
// refused. The refresh token never reaches a log line.
package refresh
