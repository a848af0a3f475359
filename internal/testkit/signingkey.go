package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
)

// SigningKey is a signing key of the bridge's own, made in the test as
// supabridge keys signing-key makes one: an EC P-256 key with its kid, as
// a private JWK (SUPABRIDGE_SIGNING_KEY) and a public one (for JWT_JWKS).
type SigningKey struct {
	Key             *ecdsa.PrivateKey
	KID             string
	Private, Public string
}

// NewSigningKey makes a SigningKey with kid.
func NewSigningKey(t testing.TB, kid string) SigningKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(key any, private bool) string {
		j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: private},
			Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgES256, USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(j.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return SigningKey{Key: k, KID: kid, Private: enc(k, true), Public: enc(&k.PublicKey, false)}
}

// Header decodes a JWT's header, unverified; a header that is not
// base64url fails t, one that is not a JSON object comes back nil.
func Header(t testing.TB, tok string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	_ = json.Unmarshal(raw, &h)
	return h
}
