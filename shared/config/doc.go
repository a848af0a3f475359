// Package config is the only package that reads the environment. It turns
// the variables of the contract (and the *_FILE forms of secrets, the
// JWT_SECRET alias, and AUTH_PROVIDERS for several providers) into one typed
// [Config], validated at start. The single-provider variables (AUTH_ISSUER,
// AUTH_JWKS_URL, ...) are read as a list of one entry and go through the
// same checks and defaults as each AUTH_PROVIDERS entry; errors name the
// variable the operator set ([EnvName]).
//
// It also chooses the one key that signs minted tokens ([Signing]: a key of
// the bridge's own, Supabase Auth's JWT_KEYS, or the legacy secret, in that
// order of precedence) and reads it into a claims.Signer, with the public
// keys of before a rotation that stay published. Keys are JWKs read with
// jwkset; a private key where a public one belongs, a key without kid, an
// unsupported curve or algorithm, or an array without its one signing key
// is a start error.
//
// Every problem is collected into one error whose text names each variable
// (or provider entry and field) and never a value, so a bad deployment stops
// with one clear line. A secret is held as [Secret], which prints redacted
// through fmt and log/slog.
package config
