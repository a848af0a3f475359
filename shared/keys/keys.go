package keys

import (
	"context"
	"errors"

	"github.com/golang-jwt/jwt/v5"
)

// Errors returned by a Source.
var (
	// ErrUnknownKey: no configured key matches the token.
	ErrUnknownKey = errors.New("keys: no configured key matches the token")
	// ErrUnavailable: the key set could not be fetched, so the token could
	// not be checked. Not the token's fault.
	ErrUnavailable = errors.New("keys: provider key set unavailable")
	// ErrNotJWKS: a fetched body is not a JWK Set. It comes wrapped in
	// ErrBadKeyMaterial.
	ErrNotJWKS = errors.New("not a JWK Set (a JSON object with a keys array)")
	// ErrEmptySet: a fetched JWK Set lists no key. It comes wrapped in
	// ErrBadKeyMaterial.
	ErrEmptySet = errors.New("the key set is empty")
)

// Source returns the key, or a jwt.VerificationKeySet, for a parsed but not
// yet verified token. Implementations are safe for concurrent use.
type Source interface {
	Key(ctx context.Context, t *jwt.Token) (any, error)
}

// kid returns the token's "kid" header, if it is a string.
func kid(t *jwt.Token) (string, bool) {
	k, ok := t.Header["kid"].(string)
	return k, ok
}

// pick returns the key, or the jwt.VerificationKeySet of keys, that may
// verify t among ks, and false when there is none. A key is a candidate
// only if its JWK "alg" is unset or equal to the token's (a key declared
// RS256 never verifies PS256, with or without a kid). A token with a kid
// takes the keys with that kid; with anyKid and no such key, it takes the
// keys without a kid (a static PEM has none). A token without a kid is
// tried against every candidate.
func pick(ks []staticKey, t *jwt.Token, anyKid bool) (any, bool) {
	want, hasKid := kid(t)
	alg := t.Method.Alg()
	// named: the keys t's kid names; other: the keys tried when none does.
	isNamed := func(k staticKey) bool { return hasKid && k.kid == want }
	isOther := func(k staticKey) bool { return !hasKid || (anyKid && k.kid == "") }
	var named, other int
	for _, k := range ks {
		switch {
		case k.alg != "" && k.alg != alg:
		case isNamed(k):
			named++
		case isOther(k):
			other++
		}
	}
	in := isNamed
	n := named
	if n == 0 {
		in, n = isOther, other
	}
	if n == 0 {
		return nil, false
	}
	var set jwt.VerificationKeySet
	for _, k := range ks {
		if (k.alg == "" || k.alg == alg) && in(k) {
			if n == 1 {
				return k.key, true
			}
			set.Keys = append(set.Keys, k.key)
		}
	}
	return set, true
}
