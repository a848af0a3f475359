package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/MicahParks/jwkset"

	"supabridge/shared/claims"
)

// This file reads JWKs into keys. Its errors are fixed phrases: the caller
// prefixes the variable, and nothing of the key's material (nor of a value
// that failed to parse) is ever part of a message.

// jwk is one parsed JSON Web Key.
type jwk struct {
	kty, crv, alg, kid, use string
	ops                     []string
	// key is *ecdsa.PrivateKey, *ecdsa.PublicKey, *rsa.PrivateKey,
	// *rsa.PublicKey or []byte (oct), or nil for a type supabridge does not
	// sign with (OKP and others).
	key any
}

// private reports whether j holds private or symmetric material.
func (j *jwk) private() bool {
	switch j.key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, []byte:
		return true
	}
	return false
}

// signs reports whether j's key_ops include "sign", the mark by which
// Supabase Auth picks its signing key.
func (j *jwk) signs() bool { return slices.Contains(j.ops, "sign") }

// name is how a message names j: its kid when it has one, else its place.
func (j *jwk) name(i int) string {
	if j.kid != "" {
		return fmt.Sprintf("key %d (kid %q)", i+1, j.kid)
	}
	return fmt.Sprintf("key %d", i+1)
}

var (
	errNotJWK       = errors.New("not a JWK (a JSON object with kty)")
	errBadJWK       = errors.New("not a usable JWK (a parameter is missing or malformed)")
	errMismatch     = errors.New(`the private "d" does not belong to the public "x" and "y"`)
	errUnsupported  = errors.New("unsupported key: supabridge signs ES256 with an EC P-256 key, RS256 with an RSA key of at least 2048 bits, or HS256 with a shared secret")
	errAlgMismatch  = errors.New(`its "alg" does not fit its key type`)
	errShortOct     = errors.New("the shared secret in it is under 32 bytes")
	errUseNotSig    = errors.New(`its "use" is not "sig"`)
	errNoSignOp     = errors.New(`its "key_ops" lack "sign"`)
	errNotPublicSet = errors.New("not a JWK or a JWK Set (a JSON object with a keys array)")
)

// parseJWK reads one JWK, private or public. A kty supabridge cannot use
// (OKP, or one jwkset does not know) gives a jwk with a nil key and no
// error, so that an array may hold keys the bridge only skips.
func parseJWK(raw json.RawMessage) (jwk, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil || m.KTY == "" {
		return jwk{}, errNotJWK
	}
	j := jwk{kty: string(m.KTY), crv: string(m.CRV), alg: string(m.ALG), kid: m.KID, use: string(m.USE)}
	for _, o := range m.KEYOPS {
		j.ops = append(j.ops, string(o))
	}
	switch m.KTY {
	case jwkset.KtyEC, jwkset.KtyRSA, jwkset.KtyOct:
	default:
		return j, nil
	}
	parsed, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	if err != nil {
		return jwk{}, errBadJWK
	}
	j.key = parsed.Key()
	if k, ok := j.key.(*ecdsa.PrivateKey); ok {
		// jwkset does not check that d belongs to x and y; a key whose
		// halves disagree would sign tokens its published half never
		// verifies. Bytes refuses such a key (its pairwise consistency
		// test), and the key rebuilt from d alone must equal the given one.
		raw, err := k.Bytes()
		if err != nil {
			return jwk{}, errMismatch
		}
		rebuilt, err := ecdsa.ParseRawPrivateKey(k.Curve, raw)
		if err != nil {
			return jwk{}, errBadJWK
		}
		if !rebuilt.PublicKey.Equal(&k.PublicKey) {
			return jwk{}, errMismatch
		}
		j.key = rebuilt
	}
	return j, nil
}

// algorithm checks that j is a key supabridge can sign or publish with and
// that its "alg", when given, fits the key, and returns the algorithm.
func (j *jwk) algorithm() (string, error) {
	var want string
	switch k := j.key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			want = claims.AlgES256
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			want = claims.AlgES256
		}
	case *rsa.PrivateKey:
		if k.N.BitLen() >= claims.MinRSABits {
			want = claims.AlgRS256
		}
	case *rsa.PublicKey:
		if k.N.BitLen() >= claims.MinRSABits {
			want = claims.AlgRS256
		}
	case []byte:
		want = claims.AlgHS256
	}
	switch {
	case want == "":
		return "", errUnsupported
	case j.alg != "" && j.alg != want:
		return "", errAlgMismatch
	}
	return want, nil
}

// signer builds the Signer of a private JWK whose kid is required.
func (j *jwk) signer() (*claims.Signer, error) {
	if _, err := j.algorithm(); err != nil {
		return nil, err
	}
	if j.use != "" && j.use != "sig" {
		return nil, errUseNotSig
	}
	switch k := j.key.(type) {
	case []byte:
		s, err := claims.NewHMACSigner(k, j.kid)
		if errors.Is(err, claims.ErrShortSecret) {
			return nil, errShortOct
		}
		return s, err
	case *ecdsa.PrivateKey:
		return claims.NewKeySigner(k, j.kid)
	case *rsa.PrivateKey:
		return claims.NewKeySigner(k, j.kid)
	}
	return nil, errUnsupported
}

// public returns j's public half as a key to publish.
func (j *jwk) public() (claims.PublicKey, error) {
	if _, err := j.algorithm(); err != nil {
		return claims.PublicKey{}, err
	}
	switch k := j.key.(type) {
	case *ecdsa.PrivateKey:
		return claims.PublicKey{KeyID: j.kid, Key: &k.PublicKey}, nil
	case *ecdsa.PublicKey:
		return claims.PublicKey{KeyID: j.kid, Key: k}, nil
	case *rsa.PrivateKey:
		return claims.PublicKey{KeyID: j.kid, Key: &k.PublicKey}, nil
	case *rsa.PublicKey:
		return claims.PublicKey{KeyID: j.kid, Key: k}, nil
	}
	return claims.PublicKey{}, errUnsupported
}

// parseJWKSet reads a JWK Set ({"keys":[...]}) or a single JWK.
func parseJWKSet(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, errNotPublicSet
	}
	keys, isSet := probe["keys"]
	if !isSet {
		return []json.RawMessage{data}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(keys, &raws); err != nil {
		return nil, errNotPublicSet
	}
	return raws, nil
}
