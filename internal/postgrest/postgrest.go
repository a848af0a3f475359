// Package postgrest checks a bearer token's signature the way PostgREST 13
// does, so that tests and supabridge doctor can tell whether PostgREST would
// accept what the bridge mints without running PostgREST.
//
// It follows PostgREST's own code and documentation, not supabridge's:
//
//   - jwt-secret (PGRST_JWT_SECRET; Supabase's compose file passes
//     ${JWT_JWKS:-${JWT_SECRET}}) is read as a JWK Set, else as one JWK,
//     else as a plain HS256 passphrase of at least 32 characters, which
//     becomes an oct key with no kid, "use":"sig" and "alg":"HS256"
//     (PostgREST.Config.parseSecret).
//   - A token's kid selects keys: with a kid, only keys whose kid equals
//     it (a key without kid never matches); without a kid, every key is
//     tried in turn until one verifies (docs: references/auth, "kid
//     verification").
//   - A key is a candidate only when its "use" is not "enc", its "alg",
//     when set, equals the token's, and its type fits the algorithm: oct
//     for HS256/384/512, RSA for RS256/384/512, EC for ES256/384/512, OKP
//     for EdDSA (jose-jwt's Jose.Jwk.canDecodeJws, which PostgREST calls
//     through Jose.Jwt.decode). PS* is not supported. Private keys verify
//     with their public half.
//   - No candidate is a refusal before any signature is checked.
//
// One difference, on the side of caution: a JWK Set with a key that does
// not parse is an error here, where PostgREST would fall back to reading
// the whole text as a passphrase.
//
// Claims (exp, aud, role) are not this package's: it returns the verified
// payload and leaves the claim policy to the caller.
package postgrest
