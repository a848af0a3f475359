package rls

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"supabridge/internal/testkit"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/postgrest"
)

// signingMode is one way the bridge signs, with the key set PostgREST
// verifies with. The RLS suite runs once per mode, unchanged.
type signingMode struct {
	name string
	// alg and kid are what the minted tokens' header must say.
	alg, kid string
	// env are the exchange's signing variables. Both modes keep the legacy
	// secret in the environment, as an envFrom of supabase-secrets does.
	env map[string]string
	// pgrst is PostgREST's jwt-secret (PGRST_JWT_SECRET).
	pgrst []byte
	// sign signs claims as the bridge does in this mode.
	sign func(t *testing.T, c jwt.MapClaims) string
	// foreign are signers PostgREST must refuse before any SQL: name, the
	// exchange's signing variables, and the error the gateway wraps.
	foreign []foreignSigner
}

type foreignSigner struct {
	name string
	env  map[string]string
	want error
}

// signingModes are the legacy secret (HS256, no kid; PostgREST holds the
// passphrase) and a key of the bridge's own (ES256 with its kid; PostgREST
// holds JWT_JWKS at the end of the migration path: Auth's EC key and the
// bridge's, the legacy oct key removed).
func signingModes(t *testing.T) []signingMode {
	t.Helper()
	secret := randomSecret(t)
	own := testkit.NewSigningKey(t, "supabridge-rls")
	auth := testkit.NewSigningKey(t, "auth-rls")
	jwks, err := json.Marshal(map[string][]json.RawMessage{"keys": {json.RawMessage(auth.Public), json.RawMessage(own.Public)}})
	if err != nil {
		t.Fatal(err)
	}
	return []signingMode{
		{
			name: "HS256", alg: "HS256",
			env:   map[string]string{"SUPABASE_JWT_SECRET": string(secret)},
			pgrst: secret,
			sign:  func(t *testing.T, c jwt.MapClaims) string { return mintHS256(t, jwt.SigningMethodHS256, secret, c) },
			foreign: []foreignSigner{
				{"another secret", map[string]string{"SUPABASE_JWT_SECRET": string(randomSecret(t))}, postgrest.ErrSignature},
				{"the secret under a kid", map[string]string{"SUPABASE_JWT_KEYS": octKeys(secret, "legacy-with-kid")}, postgrest.ErrNoKey},
			},
		},
		{
			name: "ES256", alg: "ES256", kid: own.KID,
			env:   map[string]string{"SUPABRIDGE_SIGNING_KEY": own.Private, "JWT_SECRET": string(secret)},
			pgrst: jwks,
			sign: func(t *testing.T, c jwt.MapClaims) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
				tok.Header["kid"] = own.KID
				s, err := tok.SignedString(own.Key)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			foreign: []foreignSigner{
				{"a key not in the JWKS", map[string]string{"SUPABRIDGE_SIGNING_KEY": testkit.NewSigningKey(t, "not-published").Private}, postgrest.ErrNoKey},
				{"a kid pointing at another key", map[string]string{"SUPABRIDGE_SIGNING_KEY": testkit.NewSigningKey(t, own.KID).Private}, postgrest.ErrSignature},
				{"the legacy secret, its oct key removed", map[string]string{"SUPABASE_JWT_SECRET": string(secret)}, postgrest.ErrNoKey},
			},
		},
	}
}

// octKeys is a SUPABASE_JWT_KEYS array whose signing key is secret as an
// oct key with kid.
func octKeys(secret []byte, kid string) string {
	b, _ := json.Marshal([]map[string]any{{
		"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(secret), "kid": kid, "alg": "HS256", "key_ops": []string{"sign", "verify"},
	}})
	return string(b)
}

// with returns m's signing variables plus the pairs kv.
func (m signingMode) with(kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m.env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
