// Package verify decides whether a provider JWT is acceptable, and under
// which provider's policy. It owns the rules of the contract's "Verifying the
// provider's token" section: the 16 KiB size cap, asymmetric algorithms only
// (RS*, PS*, ES*, EdDSA, narrowed per provider; "none" and HS* never), a
// "crit" header refused, keys named in the header never used, and iss, aud,
// exp (required), nbf and iat checked with leeway.
//
// The unverified "iss" is only a look-up key: exactly one configured issuer
// must equal it byte for byte, and from then on only that provider's keys and
// rules apply. An unknown issuer is refused before any outbound request. The
// payload is decoded once; the issuer is read from that decoding.
package verify
