package config_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/config"
)

// testJWK is a key made in the test and its JWK forms.
type testJWK struct {
	key     crypto.Signer
	kid     string
	private map[string]any // the private JWK, as Supabase's tools write it
	public  map[string]any
}

func newECJWK(t *testing.T, kid string, curve elliptic.Curve) *testJWK {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jwkOf(t, k, kid, "")
}

func newRSAJWK(t *testing.T, kid string) *testJWK {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jwkOf(t, k, kid, "RS256")
}

func jwkOf(t *testing.T, k crypto.Signer, kid, alg string) *testJWK {
	t.Helper()
	if alg == "" {
		alg = "ES256"
	}
	toMap := func(private bool) map[string]any {
		var key any = k.Public()
		if private {
			key = k
		}
		j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: private},
			Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.ALG(alg), USE: jwkset.UseSig}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(j.Marshal())
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	return &testJWK{key: k, kid: kid, private: toMap(true), public: toMap(false)}
}

// with returns a copy of m with key set (or removed when v is nil).
func with(m map[string]any, key string, v any) map[string]any {
	out := map[string]any{}
	for k, x := range m {
		out[k] = x
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// octJWK is the legacy secret as Supabase's add-new-auth-keys.sh writes it
// into JWT_KEYS and JWT_JWKS: no kid, no key_ops.
func octJWK(secret string) map[string]any {
	return map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString([]byte(secret)), "alg": "HS256"}
}

// supabaseKeys is JWT_KEYS as Supabase's self-hosting script makes it: the
// EC signing key (key_ops sign and verify, "ext") and the legacy secret.
func supabaseKeys(t *testing.T, ec *testJWK) string {
	t.Helper()
	signing := with(with(ec.private, "key_ops", []string{"sign", "verify"}), "ext", true)
	return js(t, []any{signing, octJWK(testSecret)})
}

// header decodes a token's JOSE header.
func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// verifies reports whether tok verifies with key under alg, kid in the header.
func verifies(t *testing.T, tok, alg, kid string, key any) bool {
	t.Helper()
	h := header(t, tok)
	got, has := h["kid"]
	if h["alg"] != alg || has != (kid != "") || (has && got != kid) {
		t.Errorf("header %v, want alg %s, kid %q", h, alg, kid)
		return false
	}
	_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return key, nil }, jwt.WithValidMethods([]string{alg}))
	if err != nil {
		t.Errorf("does not verify: %v", err)
	}
	return err == nil
}

// publishedKids is the kids of cfg's JWKS; it fails on a key with "d" or "k".
func publishedKids(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	b, err := cfg.Supabase.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	kids := []string{}
	for _, k := range set.Keys {
		if k.D != "" || k.K != "" || k.KTY == jwkset.KtyOct {
			t.Errorf("published key %q holds private or symmetric material", k.KID)
		}
		kids = append(kids, k.KID)
	}
	return kids
}

func TestSigningSources(t *testing.T) {
	own := newECJWK(t, "bridge-2026", elliptic.P256())
	auth := newECJWK(t, "auth-2026", elliptic.P256())
	oldAuth := newECJWK(t, "auth-2025", elliptic.P256())
	rsaKey := newRSAJWK(t, "auth-rsa")
	previous := newECJWK(t, "bridge-2025", elliptic.P256())

	tests := []struct {
		name        string
		env         map[string]string // over env(nil), which sets SUPABASE_JWT_SECRET
		source      string
		ignored     []string
		alg, kid    string
		verifyKey   any
		wantPublish []string
	}{
		{
			name:   "legacy secret alone",
			env:    nil,
			source: "SUPABASE_JWT_SECRET", alg: "HS256", kid: "", verifyKey: []byte(testSecret),
			wantPublish: []string{},
		},
		{
			name:   "JWT_SECRET alone",
			env:    map[string]string{"SUPABASE_JWT_SECRET": unset, "JWT_SECRET": testSecret},
			source: "JWT_SECRET", alg: "HS256", kid: "", verifyKey: []byte(testSecret),
			wantPublish: []string{},
		},
		{
			name:   "own key, no secret anywhere",
			env:    map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABRIDGE_SIGNING_KEY": js(t, own.private)},
			source: "SUPABRIDGE_SIGNING_KEY", alg: "ES256", kid: "bridge-2026", verifyKey: own.key.Public(),
			wantPublish: []string{"bridge-2026"},
		},
		{
			name:   "own key beside an envFrom of supabase-secrets",
			env:    map[string]string{"SUPABASE_JWT_SECRET": unset, "JWT_SECRET": testSecret, "SUPABASE_JWT_KEYS": supabaseKeys(t, auth), "SUPABRIDGE_SIGNING_KEY": js(t, own.private)},
			source: "SUPABRIDGE_SIGNING_KEY", ignored: []string{"SUPABASE_JWT_KEYS", "JWT_SECRET"},
			alg: "ES256", kid: "bridge-2026", verifyKey: own.key.Public(),
			wantPublish: []string{"bridge-2026"},
		},
		{
			name:   "own key and a previous one",
			env:    map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_PREVIOUS_KEYS": js(t, map[string]any{"keys": []any{previous.public}})},
			source: "SUPABRIDGE_SIGNING_KEY", ignored: []string{"SUPABASE_JWT_SECRET"},
			alg: "ES256", kid: "bridge-2026", verifyKey: own.key.Public(),
			wantPublish: []string{"bridge-2026", "bridge-2025"},
		},
		{
			name:   "previous key as one JWK",
			env:    map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_PREVIOUS_KEYS": js(t, previous.public)},
			source: "SUPABRIDGE_SIGNING_KEY", ignored: []string{"SUPABASE_JWT_SECRET"},
			alg: "ES256", kid: "bridge-2026", verifyKey: own.key.Public(),
			wantPublish: []string{"bridge-2026", "bridge-2025"},
		},
		{
			name:   "Supabase's JWT_KEYS: the EC key signs with its kid, the oct key is never published",
			env:    map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_KEYS": supabaseKeys(t, auth)},
			source: "SUPABASE_JWT_KEYS", alg: "ES256", kid: "auth-2026", verifyKey: auth.key.Public(),
			wantPublish: []string{"auth-2026"},
		},
		{
			name: "JWT_KEYS during Auth's rotation: the old key is published",
			env: map[string]string{"SUPABASE_JWT_KEYS": js(t, []any{
				with(oldAuth.private, "key_ops", []string{"verify"}),
				with(auth.private, "key_ops", []string{"sign", "verify"}),
				octJWK(testSecret),
			})},
			source: "SUPABASE_JWT_KEYS", ignored: []string{"SUPABASE_JWT_SECRET"},
			alg: "ES256", kid: "auth-2026", verifyKey: auth.key.Public(),
			wantPublish: []string{"auth-2026", "auth-2025"},
		},
		{
			name: "JWT_KEYS with a symmetric signing key: HS256 with its kid",
			env: map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_KEYS": js(t, []any{
				with(with(octJWK(aliasSecret), "kid", "oct-1"), "key_ops", []string{"sign", "verify"}),
				with(auth.private, "key_ops", []string{"verify"}),
			})},
			source: "SUPABASE_JWT_KEYS", alg: "HS256", kid: "oct-1", verifyKey: []byte(aliasSecret),
			wantPublish: []string{"auth-2026"},
		},
		{
			name:   "JWT_KEYS with an RSA signing key",
			env:    map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_KEYS": js(t, []any{with(rsaKey.private, "key_ops", []string{"sign"})})},
			source: "SUPABASE_JWT_KEYS", alg: "RS256", kid: "auth-rsa", verifyKey: rsaKey.key.Public(),
			wantPublish: []string{"auth-rsa"},
		},
		{
			name:   "own key from a file",
			env:    map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABRIDGE_SIGNING_KEY_FILE": writeFile(t, t.TempDir(), "key.json", js(t, own.private)+"\n")},
			source: "SUPABRIDGE_SIGNING_KEY", alg: "ES256", kid: "bridge-2026", verifyKey: own.key.Public(),
			wantPublish: []string{"bridge-2026"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, env(tt.env))
			if cfg.Signing.Source != tt.source || strings.Join(cfg.Signing.Ignored, ",") != strings.Join(tt.ignored, ",") {
				t.Errorf("signing: got %+v, want source %s, ignored %v", cfg.Signing, tt.source, tt.ignored)
			}
			verifies(t, mintOne(t, cfg), tt.alg, tt.kid, tt.verifyKey)
			if got := publishedKids(t, cfg); strings.Join(got, ",") != strings.Join(tt.wantPublish, ",") {
				t.Errorf("published kids %v, want %v", got, tt.wantPublish)
			}
			if s := cfg.Signing.String(); !strings.Contains(s, tt.source) {
				t.Errorf("Signing.String() = %q, want it to name %s", s, tt.source)
			}
		})
	}
}

// TestSigningErrors: every unusable signing input stops the start with one
// line that names the variable and holds no key material.
func TestSigningErrors(t *testing.T) {
	own := newECJWK(t, "bridge-1", elliptic.P256())
	other := newECJWK(t, "bridge-x", elliptic.P256())
	p384 := newECJWK(t, "p384", elliptic.P384())
	auth := newECJWK(t, "auth-1", elliptic.P256())
	d := func(k *testJWK) string { return k.private["d"].(string) }
	octK := base64.RawURLEncoding.EncodeToString([]byte(testSecret))
	leaks := []string{d(own), d(other), d(auth), d(p384), octK, testSecret}
	mixed := with(own.private, "d", other.private["d"])

	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing to sign with", map[string]string{"SUPABASE_JWT_SECRET": unset},
			[]string{"a signing key is required", "SUPABRIDGE_SIGNING_KEY", "SUPABASE_JWT_KEYS", "SUPABASE_JWT_SECRET"}},
		{"own key: a public key where the private one is expected", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.public)},
			[]string{"SUPABRIDGE_SIGNING_KEY", "a public key", "private JWK"}},
		{"own key without kid", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, with(own.private, "kid", nil))},
			[]string{"SUPABRIDGE_SIGNING_KEY", "no kid"}},
		{"own key on P-384", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, p384.private)},
			[]string{"SUPABRIDGE_SIGNING_KEY", "unsupported key"}},
		{"own key with a foreign alg", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, with(own.private, "alg", "ES384"))},
			[]string{"SUPABRIDGE_SIGNING_KEY", `"alg" does not fit`}},
		{"own key is the shared secret", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, with(octJWK(testSecret), "kid", "k"))},
			[]string{"SUPABRIDGE_SIGNING_KEY", "shared secret", "SUPABASE_JWT_SECRET"}},
		{"own key is not JSON", map[string]string{"SUPABRIDGE_SIGNING_KEY": "-----BEGIN EC PRIVATE KEY-----"},
			[]string{"SUPABRIDGE_SIGNING_KEY", "not a JWK", "supabridge keys signing-key"}},
		{"own key whose d belongs to another key", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, mixed)},
			[]string{"SUPABRIDGE_SIGNING_KEY", `"d" does not belong`}},
		{"own key for encryption", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, with(own.private, "use", "enc"))},
			[]string{"SUPABRIDGE_SIGNING_KEY", `"use" is not "sig"`}},
		{"own key whose key_ops lack sign", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, with(own.private, "key_ops", []string{"verify"}))},
			[]string{"SUPABRIDGE_SIGNING_KEY", `lack "sign"`}},
		{"JWT_KEYS as a JWK Set, not Auth's array", map[string]string{"SUPABASE_JWT_KEYS": js(t, map[string]any{"keys": []any{with(auth.private, "key_ops", []string{"sign"})}})},
			[]string{"SUPABASE_JWT_KEYS", "not a JSON array", "GOTRUE_JWT_KEYS"}},
		{"JWT_KEYS with no signing key", map[string]string{"SUPABASE_JWT_KEYS": js(t, []any{auth.private, octJWK(testSecret)})},
			[]string{"SUPABASE_JWT_KEYS", "no signing key"}},
		{"JWT_KEYS with two signing keys", map[string]string{"SUPABASE_JWT_KEYS": js(t, []any{
			with(auth.private, "key_ops", []string{"sign"}), with(own.private, "key_ops", []string{"sign"})})},
			[]string{"SUPABASE_JWT_KEYS", "2 signing keys", "exactly one"}},
		{"JWT_KEYS whose signing key is public", map[string]string{"SUPABASE_JWT_KEYS": js(t, []any{with(auth.public, "key_ops", []string{"sign"})})},
			[]string{"SUPABASE_JWT_KEYS", `kid "auth-1"`, "is a public key"}},
		{"JWT_KEYS whose signing key has no kid", map[string]string{"SUPABASE_JWT_KEYS": js(t, []any{with(octJWK(testSecret), "key_ops", []string{"sign"})})},
			[]string{"SUPABASE_JWT_KEYS", "has no kid"}},
		{"JWT_KEYS whose signing key is a short secret", map[string]string{"SUPABASE_JWT_KEYS": js(t, []any{
			with(with(octJWK("short"), "kid", "o"), "key_ops", []string{"sign"})})},
			[]string{"SUPABASE_JWT_KEYS", "under 32 bytes"}},
		{"JWT_KEYS with a broken key", map[string]string{"SUPABASE_JWT_KEYS": js(t, []any{with(auth.private, "x", "!!"), octJWK(testSecret)})},
			[]string{"SUPABASE_JWT_KEYS", "key 1", "not a usable JWK"}},
		{"previous key is private", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_PREVIOUS_KEYS": js(t, other.private)},
			[]string{"SUPABRIDGE_PREVIOUS_KEYS", "private key", "public JWK"}},
		{"previous key is the shared secret", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_PREVIOUS_KEYS": js(t, map[string]any{"keys": []any{octJWK(testSecret)}})},
			[]string{"SUPABRIDGE_PREVIOUS_KEYS", "shared secret"}},
		{"previous key without kid", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_PREVIOUS_KEYS": js(t, with(other.public, "kid", nil))},
			[]string{"SUPABRIDGE_PREVIOUS_KEYS", "no kid"}},
		{"previous key with the signing key's kid", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_PREVIOUS_KEYS": js(t, with(other.public, "kid", "bridge-1"))},
			[]string{"SUPABRIDGE_PREVIOUS_KEYS", "share a kid"}},
		{"previous key on P-384", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_PREVIOUS_KEYS": js(t, p384.public)},
			[]string{"SUPABRIDGE_PREVIOUS_KEYS", "unsupported key"}},
		{"own key and its file", map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private), "SUPABRIDGE_SIGNING_KEY_FILE": writeFile(t, t.TempDir(), "k", js(t, own.private))},
			[]string{"SUPABRIDGE_SIGNING_KEY", "both set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, env(tt.env))
			checkErr(t, err, tt.want, leaks)
		})
	}
}

// TestLoadSecret: the legacy secret for the tools that sign API keys with
// it, read whatever signs the bridge's tokens.
func TestLoadSecret(t *testing.T) {
	own := newECJWK(t, "bridge-1", elliptic.P256())
	s, err := config.LoadSecret(config.MapEnv(map[string]string{"JWT_SECRET": testSecret, "SUPABRIDGE_SIGNING_KEY": js(t, own.private)}))
	if err != nil || string(s) != testSecret {
		t.Fatalf("got %d bytes, %v; want JWT_SECRET", len(s), err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SUPABRIDGE_SIGNING_KEY": js(t, own.private)}, []string{"SUPABASE_JWT_SECRET is required"}},
		{map[string]string{"SUPABASE_JWT_SECRET": "short"}, []string{"SUPABASE_JWT_SECRET must be at least 32 bytes"}},
		{map[string]string{"SUPABASE_JWT_SECRET": testSecret, "JWT_SECRET": aliasSecret}, []string{"differ"}},
	} {
		_, err := config.LoadSecret(config.MapEnv(tc.env))
		checkErr(t, err, tc.want, []string{testSecret, aliasSecret})
	}
}
