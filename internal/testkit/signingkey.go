package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
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
