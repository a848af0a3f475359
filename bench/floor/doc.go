// Package floor is the bare-crypto FLOOR of supabridge's performance budget.
// It is a yardstick, never part of the product: no function binary, no
// shared/ package and nothing under cmd/ or functions/ imports it.
//
// [Floor.Exchange] does, by hand with the standard library only, the least
// work an exchange can get away with: one RS256 signature verification
// (crypto/rsa) and one HS256 signature (crypto/hmac). It parses no JSON,
// checks no claim (iss, aud, exp), looks up no key and writes no log: it
// re-signs the provider's payload segment as it is. It is therefore NOT a
// secure exchange; it only says how fast the crypto alone can go on this
// machine.
//
// [Std] is the second floor: the exchange a careful engineer writes with the
// standard library alone (encoding/json decode of the header and payload,
// the contract's claim checks, the contract's claim set minted with
// encoding/json and crypto/hmac), served by [StdHandler]. The exchange is
// compared with both: the first says what the crypto costs, the second what
// a plain, library-free implementation of the same rules costs.
//
// [Handler] is the bare floor behind a plain net/http handler, and
// cmd/floorserver serves it: bench/load drives it with the same load as the
// exchange binary so the two throughputs can be compared in one run.
//
// The budgets are stated against these floors: the exchange handler end to
// end at most 1.3x [Floor.Exchange]'s ns/op (issue 7), and at most 1.25x
// [StdHandler] through the same harness (issue 20).
package floor
