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
