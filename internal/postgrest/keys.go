package postgrest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Errors of Parse and Verify. Their text never holds key material.
var (
	// ErrShortSecret: a plain jwt-secret under 32 characters; PostgREST
	// refuses to start with it.
	ErrShortSecret = errors.New("postgrest: the JWT secret must be at least 32 characters long")
	// ErrBadKeySet: a JWK Set or JWK that does not parse.
	ErrBadKeySet = errors.New("postgrest: a key of the JWK Set does not parse")
	// ErrNoKey: no key of the set is a candidate for the token (kid, alg,
	// key type); PostgREST answers 401 before checking a signature.
	ErrNoKey = errors.New("postgrest: no suitable key was found to decode the JWT")
	// ErrSignature: candidates exist, and none verifies the signature.
	ErrSignature = errors.New("postgrest: the JWT signature does not verify")
	// ErrMalformed: not a three-part JWS with a JSON header.
	ErrMalformed = errors.New("postgrest: malformed JWT")
)

// Key is one key of PostgREST's key set.
type Key struct {
	// Type is the JWK kty: oct, RSA, EC or OKP; another kty is kept and
	// never selected (jose-jwt's UnsupportedJwk).
	Type string
	// KeyID, Alg and Use are the JWK's kid, alg and use; empty when absent.
	KeyID, Alg, Use string
	// Private is true for a JWK with private material ("d").
	Private bool
	// verify is []byte for oct, else the public key; nil when unsupported.
	verify any
}

// Public returns the key that verifies with k: the secret of an oct key,
// else the public key; nil for an unsupported key.
func (k Key) Public() any { return k.verify }

// Set is PostgREST's jwt-secret turned into keys.
type Set struct {
	keys []Key
}

// Keys returns the set's keys in their configured order.
func (s *Set) Keys() []Key { return append([]Key(nil), s.keys...) }

// Parse reads jwt-secret as PostgREST does: a JWK Set, else one JWK, else
// a plain passphrase of at least 32 characters.
func Parse(secret []byte) (*Set, error) {
	trimmed := bytes.TrimSpace(secret)
	var obj map[string]json.RawMessage
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &obj) == nil {
		var raws []json.RawMessage
		if ks, ok := obj["keys"]; ok {
			if err := json.Unmarshal(ks, &raws); err != nil {
				return nil, ErrBadKeySet
			}
		} else {
			raws = []json.RawMessage{trimmed}
		}
		s := &Set{}
		for _, raw := range raws {
			k, err := parseKey(raw)
			if err != nil {
				return nil, err
			}
			s.keys = append(s.keys, k)
		}
		return s, nil
	}
	if len(secret) < 32 {
		return nil, ErrShortSecret
	}
	return &Set{keys: []Key{{Type: "oct", Alg: "HS256", Use: "sig", verify: bytes.Clone(secret)}}}, nil
}

func parseKey(raw json.RawMessage) (Key, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return Key{}, ErrBadKeySet
	}
	k := Key{Type: string(m.KTY), KeyID: m.KID, Alg: string(m.ALG), Use: string(m.USE), Private: m.D != ""}
	switch m.KTY {
	case jwkset.KtyOct:
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(m.K, "="))
		if err != nil || m.K == "" {
			return Key{}, ErrBadKeySet
		}
		k.verify = b
	case jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP:
		j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: k.Private}, jwkset.JWKValidateOptions{})
		if err != nil {
			return Key{}, ErrBadKeySet
		}
		switch p := j.Key().(type) {
		case crypto.Signer:
			k.verify = p.Public()
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			k.verify = p
		}
	}
	return k, nil
}

// Candidates returns the keys of s that PostgREST would try for a token
// with header alg and kid (hasKid false: no kid in the header).
func (s *Set) Candidates(alg, kid string, hasKid bool) []Key {
	var out []Key
	for _, k := range s.keys {
		if k.verify == nil || k.Use == "enc" {
			continue
		}
		if hasKid && k.KeyID != kid {
			continue
		}
		if k.Alg != "" && k.Alg != alg {
			continue
		}
		if fits(alg, k.Type) {
			out = append(out, k)
		}
	}
	return out
}

// fits is jose-jwt's pairing of JWS algorithms and key types.
func fits(alg, kty string) bool {
	switch alg {
	case "HS256", "HS384", "HS512":
		return kty == "oct"
	case "RS256", "RS384", "RS512":
		return kty == "RSA"
	case "ES256", "ES384", "ES512":
		return kty == "EC"
	case "EdDSA":
		return kty == "OKP"
	}
	return false
}

// Algorithms are the JWS algorithms PostgREST verifies.
var Algorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"}

// Keyfunc returns a golang-jwt Keyfunc that applies PostgREST's key
// selection: its error wraps ErrNoKey when no key is a candidate.
func (s *Set) Keyfunc() jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, hasKid := t.Header["kid"]
		kidStr, isString := kid.(string)
		if hasKid && !isString {
			return nil, ErrMalformed
		}
		cands := s.Candidates(t.Method.Alg(), kidStr, hasKid)
		switch len(cands) {
		case 0:
			return nil, ErrNoKey
		case 1:
			return cands[0].verify, nil
		}
		set := jwt.VerificationKeySet{}
		for _, c := range cands {
			set.Keys = append(set.Keys, c.verify)
		}
		return set, nil
	}
}

// Verify checks token's signature against s as PostgREST does and returns
// its payload segment, decoded. Claims are not checked.
func (s *Set) Verify(token string) ([]byte, error) {
	// No WithValidMethods: the Keyfunc offers no key for an algorithm
	// outside Algorithms (none, PS256), which is PostgREST's "no suitable
	// key" rather than a signature error.
	p := jwt.NewParser(jwt.WithoutClaimsValidation())
	if _, err := p.Parse(token, s.Keyfunc()); err != nil {
		return nil, classify(err)
	}
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload", ErrMalformed)
	}
	return payload, nil
}

// classify maps golang-jwt's errors to this package's, keeping the cause.
func classify(err error) error {
	switch {
	case errors.Is(err, ErrNoKey), errors.Is(err, ErrMalformed):
		return err
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	// An algorithm outside Algorithms ("none", PS256) has no decoder.
	return fmt.Errorf("%w: %w", ErrNoKey, err)
}
