package claims

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Algorithms a [Signer] signs with.
const (
	AlgHS256 = "HS256"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// MinSecret is the shortest HS256 secret a Signer accepts (GoTrue's rule
// for JWT_SECRET).
const MinSecret = 32

// MinRSABits is the smallest RSA modulus a Signer accepts.
const MinRSABits = 2048

// Errors returned by the Signer constructors. Their text never holds key
// material.
var (
	ErrShortSecret    = errors.New("claims: the HS256 secret must be at least 32 bytes")
	ErrNoKeyID        = errors.New("claims: a signing key needs a kid")
	ErrUnsupportedKey = errors.New("claims: unsupported signing key (EC P-256 for ES256, RSA of at least 2048 bits for RS256)")
	ErrDuplicateKeyID = errors.New("claims: two published keys share a kid")
)

// Signer signs the tokens a [Minter] mints: one algorithm, one key and the
// key's id. It is built by configuration from exactly one source: the
// legacy shared secret (HS256, no kid), a key of Supabase Auth's JWT_KEYS
// (ES256, RS256, or HS256 with a kid), or a key of the bridge's own. Only
// the header's alg and kid and the signature depend on it; the claims
// never do. A Signer is immutable and safe for concurrent use; it prints
// without key material.
type Signer struct {
	method jwt.SigningMethod
	key    any // []byte for HMAC, *ecdsa.PrivateKey or *rsa.PrivateKey
	public crypto.PublicKey
	kid    string
	header string // base64url of the JOSE header
	sigLen int    // the length of a signature's base64url (for a buffer's size)
}

// NewHMACSigner returns a Signer for HS256 with secret. kid is empty for
// the legacy secret, whose tokens must carry none (PostgREST 13 refuses a
// kid that matches no key, and the secret given as PGRST_JWT_SECRET has
// none); it is the oct key's kid when the secret comes from a JWK.
func NewHMACSigner(secret []byte, kid string) (*Signer, error) {
	if len(secret) < MinSecret {
		return nil, ErrShortSecret
	}
	return newSigner(jwt.SigningMethodHS256, bytes.Clone(secret), nil, kid)
}

// NewKeySigner returns a Signer for an asymmetric private key: an EC P-256
// key signs ES256, an RSA key of at least 2048 bits RS256. kid is required:
// verifiers holding several keys (PostgREST, Realtime, Storage with
// JWT_JWKS) pick the key by it.
func NewKeySigner(key crypto.Signer, kid string) (*Signer, error) {
	if kid == "" {
		return nil, ErrNoKeyID
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, ErrUnsupportedKey
		}
		return newSigner(jwt.SigningMethodES256, k, &k.PublicKey, kid)
	case *rsa.PrivateKey:
		if k.N.BitLen() < MinRSABits {
			return nil, ErrUnsupportedKey
		}
		return newSigner(jwt.SigningMethodRS256, k, &k.PublicKey, kid)
	}
	return nil, ErrUnsupportedKey
}

func newSigner(m jwt.SigningMethod, key any, public crypto.PublicKey, kid string) (*Signer, error) {
	h := struct {
		Alg string `json:"alg"`
		Kid string `json:"kid,omitempty"`
		Typ string `json:"typ"`
	}{m.Alg(), kid, "JWT"}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("claims: header: %w", err)
	}
	s := &Signer{method: m, key: key, public: public, kid: kid, header: base64.RawURLEncoding.EncodeToString(b)}
	switch k := key.(type) {
	case []byte:
		s.sigLen = base64.RawURLEncoding.EncodedLen(sha256.Size)
	case *ecdsa.PrivateKey:
		s.sigLen = base64.RawURLEncoding.EncodedLen(64)
	case *rsa.PrivateKey:
		s.sigLen = base64.RawURLEncoding.EncodedLen(k.Size())
	}
	return s, nil
}

// Algorithm is the "alg" of the tokens s signs: HS256, ES256 or RS256.
func (s *Signer) Algorithm() string { return s.method.Alg() }

// KeyID is the "kid" of the tokens s signs; empty for the legacy secret.
func (s *Signer) KeyID() string { return s.kid }

// Symmetric reports whether s signs with a shared secret (HS256).
func (s *Signer) Symmetric() bool { return s.public == nil }

// Public returns the public key that verifies s's tokens; nil for HS256.
func (s *Signer) Public() crypto.PublicKey { return s.public }

// Sign signs the JWS signing input (base64url header "." base64url
// payload) and returns the raw signature.
func (s *Signer) Sign(signingInput string) ([]byte, error) {
	return s.method.Sign(signingInput, s.key)
}

// String implements fmt.Stringer without key material.
func (s *Signer) String() string {
	if s.kid == "" {
		return s.Algorithm() + ", no kid"
	}
	return fmt.Sprintf("%s, kid %q", s.Algorithm(), s.kid)
}

// GoString implements fmt.GoStringer, so %#v prints no key material.
func (s *Signer) GoString() string { return "claims.Signer{" + s.String() + "}" }

// LogValue implements slog.LogValuer.
func (s *Signer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("alg", s.Algorithm()), slog.String("kid", s.kid))
}

// PublicKey is a public key the bridge publishes: the signer's, or one it
// signed with before a rotation, so that tokens it minted then still verify
// until they expire.
type PublicKey struct {
	// KeyID is the key's kid; required.
	KeyID string
	// Key is an *ecdsa.PublicKey (P-256) or an *rsa.PublicKey.
	Key crypto.PublicKey
}

// Algorithm is the algorithm k verifies: ES256 or RS256.
func (k PublicKey) Algorithm() (string, error) {
	switch p := k.Key.(type) {
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return AlgES256, nil
		}
	case *rsa.PublicKey:
		if p.N.BitLen() >= MinRSABits {
			return AlgRS256, nil
		}
	}
	return "", ErrUnsupportedKey
}

// PublicKeys returns the keys a Minter configured with c publishes: the
// signer's public key first (none for HS256), then c.Previous.
func (c *Config) PublicKeys() []PublicKey {
	var out []PublicKey
	if c.Signer != nil && !c.Signer.Symmetric() {
		out = append(out, PublicKey{KeyID: c.Signer.KeyID(), Key: c.Signer.Public()})
	}
	return append(out, c.Previous...)
}

// JWKS returns the JWK Set a function serves at /.well-known/jwks.json:
// c.PublicKeys() as public JWKs with kid, alg, "use":"sig" and
// "key_ops":["verify"], the shape Supabase Auth publishes. A shared secret
// is never in it: an HS256-only configuration publishes {"keys":[]}.
func (c *Config) JWKS() ([]byte, error) {
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	seen := map[string]bool{}
	for _, k := range c.PublicKeys() {
		alg, err := k.Algorithm()
		if err != nil {
			return nil, err
		}
		if k.KeyID == "" {
			return nil, ErrNoKeyID
		}
		if seen[k.KeyID] {
			return nil, ErrDuplicateKeyID
		}
		seen[k.KeyID] = true
		j, err := jwkset.NewJWKFromKey(k.Key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
			ALG: jwkset.ALG(alg), KID: k.KeyID, USE: jwkset.UseSig, KEYOPS: []jwkset.KEYOPS{jwkset.KeyOpsVerify},
		}})
		if err != nil {
			return nil, fmt.Errorf("claims: publish key %q: %w", k.KeyID, err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	return json.Marshal(set)
}
