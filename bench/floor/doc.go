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
// [Handler] is the same floor behind a plain net/http handler, and
// cmd/floorserver serves it: bench/load drives it with the same load as the
// exchange binary so the two throughputs can be compared in one run.
//
// The budget (issue 7) is stated against this floor: the exchange handler
// end to end at most 1.3x [Floor.Exchange]'s ns/op, and the exchange
// binary's maximum throughput at least 80% of floorserver's.
package floor
