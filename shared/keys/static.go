package keys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// ErrBadKeyMaterial is returned by [NewStatic] for unusable key material.
var ErrBadKeyMaterial = errors.New("keys: unusable public key material")

type staticKey struct {
	kid string
	alg string
	key crypto.PublicKey
}

// Static is a fixed set of public keys.
type Static struct {
	keys []staticKey
}

// NewStatic parses a PEM public key or certificate (several blocks allowed),
// or a JWK or JWK Set as JSON. Private and symmetric keys are refused: a
// verifier that holds a secret is a verifier that can be fooled into
// accepting HS256.
func NewStatic(material []byte) (*Static, error) {
	material = bytes.TrimSpace(material)
	var (
		s   Static
		err error
	)
	switch {
	case len(material) == 0:
		return nil, fmt.Errorf("%w: empty", ErrBadKeyMaterial)
	case material[0] == '{':
		s.keys, err = parseJWKJSON(material)
	default:
		s.keys, err = parsePEM(material)
	}
	if err != nil {
		return nil, err
	}
	if len(s.keys) == 0 {
		return nil, fmt.Errorf("%w: no usable public key", ErrBadKeyMaterial)
	}
	return &s, nil
}

func parsePEM(material []byte) ([]staticKey, error) {
	var out []staticKey
	for rest := material; len(bytes.TrimSpace(rest)) > 0; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("%w: not PEM", ErrBadKeyMaterial)
		}
		var pub any
		switch b.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadKeyMaterial, err)
			}
			pub = k
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadKeyMaterial, err)
			}
			pub = k
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadKeyMaterial, err)
			}
			pub = c.PublicKey
		default:
			return nil, fmt.Errorf("%w: PEM block %q is not a public key", ErrBadKeyMaterial, b.Type)
		}
		if !asymmetricPublic(pub) {
			return nil, fmt.Errorf("%w: unsupported key type %T", ErrBadKeyMaterial, pub)
		}
		out = append(out, staticKey{key: pub})
	}
	return out, nil
}

func parseJWKJSON(material []byte) ([]staticKey, error) {
	var probe struct {
		Keys json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(material, &probe); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKeyMaterial, err)
	}
	var raws []json.RawMessage
	if probe.Keys != nil {
		if err := json.Unmarshal(probe.Keys, &raws); err != nil {
			return nil, fmt.Errorf("%w: keys: %w", ErrBadKeyMaterial, err)
		}
	} else {
		raws = []json.RawMessage{material}
	}
	var out []staticKey
	for _, raw := range raws {
		k, sig, err := parseJWK(raw)
		if err != nil {
			return nil, err
		}
		if sig {
			out = append(out, k)
		}
	}
	return out, nil
}

// parseJWK reads one public JWK. sig is false for a key that is not for
// verifying signatures: "use" other than "sig" (RFC 7517 §4.2), or
// "key_ops" without "verify" (§4.3). Such a key must never verify a
// token; the caller drops it. Private and symmetric keys are errors.
func parseJWK(raw json.RawMessage) (k staticKey, sig bool, err error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return k, false, fmt.Errorf("%w: %w", ErrBadKeyMaterial, err)
	}
	if m.D != "" || m.K != "" {
		return k, false, fmt.Errorf("%w: a private or symmetric JWK was given; give the public key", ErrBadKeyMaterial)
	}
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return k, false, fmt.Errorf("%w: %w", ErrBadKeyMaterial, err)
	}
	if !asymmetricPublic(j.Key()) {
		return k, false, fmt.Errorf("%w: unsupported key type %T", ErrBadKeyMaterial, j.Key())
	}
	return staticKey{kid: m.KID, alg: m.ALG.String(), key: j.Key()}, forSignatures(m), nil
}

// forSignatures reports whether a JWK may verify signatures: "use" unset
// or "sig" (RFC 7517 §4.2), and "key_ops", when given, holding "verify"
// (§4.3).
func forSignatures(m jwkset.JWKMarshal) bool {
	if m.USE != "" && m.USE != jwkset.UseSig {
		return false
	}
	return len(m.KEYOPS) == 0 || slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify)
}

// fromJWK is a cached JWK as a key choice sees it; false for a key that is
// not an asymmetric public key for signatures.
func fromJWK(j jwkset.JWK) (staticKey, bool) {
	m := j.Marshal()
	key := j.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	if !asymmetricPublic(key) || !forSignatures(m) {
		return staticKey{}, false
	}
	return staticKey{kid: m.KID, alg: m.ALG.String(), key: key}, true
}

func asymmetricPublic(k any) bool {
	switch k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

// Key implements Source. A token whose kid names a configured key gets that
// key; otherwise every configured key without a kid is a candidate (a PEM
// has no kid, so it verifies tokens whatever their kid says), and a token
// without a kid is tried against every key. A key whose
// JWK "alg" differs from the token's is never a candidate, nor is a JWK
// that is not for signatures (dropped when parsed).
func (s *Static) Key(_ context.Context, t *jwt.Token) (any, error) {
	if k, ok := pick(s.keys, t, true); ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// FetchSet fetches the JWK Set at u once with client (bounded by the
// caller) and parses it as [NewStatic] does. It is for checks, such as
// supabridge doctor, that want one answer now; functions use [Remote],
// which caches and refreshes. A transport failure or a status other than
// 200 wraps [ErrUnavailable]; a body that is no usable JWK Set wraps
// [ErrBadKeyMaterial]. n is the number of keys the set lists.
func FetchSet(ctx context.Context, client *http.Client, u string) (st *Static, n int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: status %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrBadKeyMaterial, ErrNotJWKS)
	}
	if len(set.Keys) == 0 {
		return nil, 0, fmt.Errorf("%w: %w", ErrBadKeyMaterial, ErrEmptySet)
	}
	st, err = NewStatic(body)
	return st, len(set.Keys), err
}
