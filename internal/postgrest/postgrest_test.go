package postgrest_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/postgrest"
)

const secret = "a-postgrest-secret-of-at-least-32-characters"

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwk is the JWK of key (public unless private) with kid and alg.
func jwk(t *testing.T, key any, kid, alg, use string, private bool) map[string]any {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: private},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.ALG(alg), USE: jwkset.USE(use)}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(j.Marshal())
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func oct(s, kid string) map[string]any {
	m := map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString([]byte(s)), "alg": "HS256"}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

func set(t *testing.T, keys ...map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, jwt.MapClaims{"role": "authenticated", "sub": "u"})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerify walks PostgREST's rules: a plain secret is an oct key without
// kid; a kid must match a key's kid; without a kid every key is tried; the
// key type, alg and use must fit.
func TestVerify(t *testing.T) {
	ec, other := ecKey(t), ecKey(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// Supabase's JWT_JWKS: the EC public key with its kid, the legacy secret
	// as an oct key without kid.
	supabase := set(t, jwk(t, &ec.PublicKey, "ec-1", "ES256", "sig", false), oct(secret, ""))
	tests := []struct {
		name   string
		secret []byte
		token  string
		want   error // nil: verifies
	}{
		{"plain secret, HS256 without kid", []byte(secret), sign(t, jwt.SigningMethodHS256, []byte(secret), ""), nil},
		{"plain secret, HS256 with a kid: refused", []byte(secret), sign(t, jwt.SigningMethodHS256, []byte(secret), "whatever"), postgrest.ErrNoKey},
		{"plain secret, HS512: the key is HS256", []byte(secret), sign(t, jwt.SigningMethodHS512, []byte(secret), ""), postgrest.ErrNoKey},
		{"plain secret, another secret", []byte(secret), sign(t, jwt.SigningMethodHS256, []byte(secret+"x"), ""), postgrest.ErrSignature},
		{"JWKS, ES256 with its kid", supabase, sign(t, jwt.SigningMethodES256, ec, "ec-1"), nil},
		{"JWKS, ES256 without kid: every key tried", supabase, sign(t, jwt.SigningMethodES256, ec, ""), nil},
		{"JWKS, ES256 with an unknown kid", supabase, sign(t, jwt.SigningMethodES256, ec, "ec-2"), postgrest.ErrNoKey},
		{"JWKS, ES256 by another key under the kid", supabase, sign(t, jwt.SigningMethodES256, other, "ec-1"), postgrest.ErrSignature},
		{"JWKS, ES256 by another key, no kid", supabase, sign(t, jwt.SigningMethodES256, other, ""), postgrest.ErrSignature},
		{"JWKS, HS256 without kid: the oct key", supabase, sign(t, jwt.SigningMethodHS256, []byte(secret), ""), nil},
		{"JWKS, HS256 with the EC key's kid", supabase, sign(t, jwt.SigningMethodHS256, []byte(secret), "ec-1"), postgrest.ErrNoKey},
		{"JWKS without the oct key, HS256", set(t, jwk(t, &ec.PublicKey, "ec-1", "ES256", "sig", false)), sign(t, jwt.SigningMethodHS256, []byte(secret), ""), postgrest.ErrNoKey},
		{"JWKS, oct key with a kid, HS256 with it", set(t, oct(secret, "o")), sign(t, jwt.SigningMethodHS256, []byte(secret), "o"), nil},
		{"key for encryption is never used", set(t, jwk(t, &ec.PublicKey, "ec-1", "ES256", "enc", false)), sign(t, jwt.SigningMethodES256, ec, "ec-1"), postgrest.ErrNoKey},
		{"key whose alg differs", set(t, jwk(t, &ec.PublicKey, "ec-1", "ES384", "sig", false)), sign(t, jwt.SigningMethodES256, ec, "ec-1"), postgrest.ErrNoKey},
		{"RSA key without alg, RS256", set(t, jwk(t, &rk.PublicKey, "r", "", "", false)), sign(t, jwt.SigningMethodRS256, rk, "r"), nil},
		{"PS256 is not PostgREST's", set(t, jwk(t, &rk.PublicKey, "r", "", "", false)), sign(t, jwt.SigningMethodPS256, rk, "r"), postgrest.ErrNoKey},
		{"a single JWK as jwt-secret", mustJSON(t, jwk(t, &ec.PublicKey, "ec-1", "ES256", "sig", false)), sign(t, jwt.SigningMethodES256, ec, "ec-1"), nil},
		{"a private JWK verifies with its public half", set(t, jwk(t, ec, "ec-1", "ES256", "sig", true)), sign(t, jwt.SigningMethodES256, ec, "ec-1"), nil},
		{"not a JWS", []byte(secret), "a.b", postgrest.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := postgrest.Parse(tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			payload, err := s.Verify(tt.token)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if err == nil && !strings.Contains(string(payload), `"sub":"u"`) {
				t.Errorf("payload %s, want the token's", payload)
			}
		})
	}
	t.Run("alg none", func(t *testing.T) {
		s, _ := postgrest.Parse([]byte(secret))
		none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"role": "service_role"}).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(none); !errors.Is(err, postgrest.ErrNoKey) {
			t.Fatalf("got %v, want ErrNoKey", err)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	if _, err := postgrest.Parse([]byte("short")); !errors.Is(err, postgrest.ErrShortSecret) {
		t.Errorf("short secret: got %v", err)
	}
	if _, err := postgrest.Parse([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"!"}]}`)); !errors.Is(err, postgrest.ErrBadKeySet) {
		t.Errorf("broken key: got %v", err)
	}
	ec := ecKey(t)
	s, err := postgrest.Parse(set(t, jwk(t, ec, "priv", "ES256", "sig", true), oct(secret, ""), map[string]any{"kty": "XYZ"}))
	if err != nil {
		t.Fatal(err)
	}
	ks := s.Keys()
	if len(ks) != 3 || !ks[0].Private || ks[0].KeyID != "priv" || ks[1].Type != "oct" || ks[2].Public() != nil {
		t.Fatalf("got %+v", ks)
	}
	if pub, ok := ks[0].Public().(*ecdsa.PublicKey); !ok || !pub.Equal(&ec.PublicKey) {
		t.Errorf("the private key's Public is %T, want its public half", ks[0].Public())
	}
	var _ crypto.PublicKey = ks[0].Public()
}
