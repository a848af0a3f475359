// Package dex runs a real Dex OIDC provider on 127.0.0.1 for integration
// tests.
//
// Start obtains a Dex binary (DEX_BIN, or scripts/dex-build.sh, which builds
// the version pinned in tools/dex once per machine and caches it outside
// the repository), writes a generated configuration into a temporary
// directory and runs "dex serve" on a free loopback port. The configuration
// is:
//
//   - issuer http://127.0.0.1:<port>/dex, in-memory storage, one local
//     signing key (RS256);
//   - the password database, with static users (DefaultUser, or
//     Options.Users); a user without a precomputed PasswordHash is hashed
//     at start with bcrypt cost 10, the lowest Dex accepts, which takes
//     about 0.5 s (5 s under -race): DefaultUser and PlainUser carry theirs;
//   - one confidential static client (id and a random secret) allowed the
//     authorization_code, refresh_token and password grants, the password
//     grant going to the "local" connector, so tests get tokens with no
//     browser;
//   - ID tokens valid for 10 minutes by default, rotating refresh tokens and
//     a reuse interval of 0, so a refresh token already exchanged is refused
//     at once.
//
// Start waits for the discovery document, stops Dex in t.Cleanup and prints
// Dex's own log only when the test failed. Server.Stop takes Dex down in the
// middle of a test, to exercise a provider outage. Launch is the same
// without a testing.TB, for cmd/dexrun, which serves Dex to tests written in
// other languages.
//
// Facts about Dex (v2.45.1) that tests built on this package depend on:
//   - The token endpoint answers a refresh token that was already used (or
//     is unknown, or expired) with 400 "invalid_request", not
//     "invalid_grant"; only a token of another client gets "invalid_grant".
//   - A wrong password gets 401 "access_denied".
//   - The ID token's "sub" is not the user's UserID but a base64 protobuf of
//     UserID and connector id: it is never a UUID.
//   - The password database does emit "preferred_username" (scope profile)
//     and "groups" (scope groups) when the static user has them; they are
//     left out when the user has none.
//   - Storage is in memory: stopping Dex forgets every key and token.
//
// What the package refuses:
//   - to skip silently. When the binary cannot be had (no DEX_BIN, and the
//     build fails, for example because the Go module proxy is unreachable)
//     Start fails the test with the build's output. Only SUPABRIDGE_SKIP_DEX=1
//     turns that into a skip.
//   - to listen anywhere but 127.0.0.1, and to log tokens, passwords or the
//     client secret.
package dex
