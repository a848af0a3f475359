// Package jwtoracle is an independent, deliberately simple re-statement of
// the contract's rules for verifying a provider's token ("Verifying the
// provider's token"), used as the oracle of the fuzz targets: a fuzz test
// hands each token both to the real verifier and to Verify, and checks that
// the verifier never accepts what the oracle refuses.
//
// It is written apart from shared/verify on purpose (the signature is
// checked with golang-jwt's signing methods, every other rule by hand) and
// favours being obviously right over being fast. It takes only the
// contract's constants from shared/verify: the size limit and the list of
// asymmetric algorithms.
//
// It is test support: production code never imports it (internal/archtest
// keeps the shared packages and the function binaries free of
// supabridge/internal/...).
package jwtoracle
