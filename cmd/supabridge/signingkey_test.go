package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"supabridge/internal/testkit"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"sigs.k8s.io/yaml"

	"supabridge/internal/postgrest"
	"supabridge/shared/config"
)

// supabaseJWKS is JWT_JWKS as Supabase's self-hosting script writes it:
// Auth's EC public key with its kid, and the legacy secret as an oct key
// without kid. key signs Auth's tokens.
func supabaseJWKS(t *testing.T) (string, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: "auth-ec", ALG: jwkset.AlgES256, USE: jwkset.UseSig, KEYOPS: []jwkset.KEYOPS{jwkset.KeyOpsVerify}}})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := json.Marshal(j.Marshal())
	set := `{"keys":[` + string(pub) + `,{"kty":"oct","k":"` + base64.RawURLEncoding.EncodeToString([]byte(testSecret)) + `","alg":"HS256"}]}`
	return set, key
}

// mintWith mints a token the way the functions would with env's signing
// variables.
func mintWith(t *testing.T, env map[string]string) string {
	t.Helper()
	sc, _, err := config.LoadSupabase(config.MapEnv(env))
	if err != nil {
		t.Fatalf("the printed key does not load: %v", err)
	}
	tok, err := probeToken(&sc, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkPrintedSet asserts that set (the printed JWT_JWKS) keeps Supabase's
// keys, adds the bridge's public key, and that PostgREST's rules accept
// both the bridge's token and Auth's, and the legacy HS256 ones.
func checkPrintedSet(t *testing.T, set, bridgeToken string, auth *ecdsa.PrivateKey) {
	t.Helper()
	s, err := postgrest.Parse([]byte(set))
	if err != nil {
		t.Fatalf("the printed JWT_JWKS does not parse: %v", err)
	}
	ks := s.Keys()
	if len(ks) != 3 || ks[0].KeyID != "auth-ec" || ks[1].Type != "oct" || ks[2].Private {
		t.Fatalf("printed JWT_JWKS keys %+v, want Auth's, the oct key, then the bridge's public key", ks)
	}
	if _, err := s.Verify(bridgeToken); err != nil {
		t.Errorf("PostgREST would refuse the bridge's token: %v", err)
	}
	authTok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"role": "authenticated"})
	authTok.Header["kid"] = "auth-ec"
	a, _ := authTok.SignedString(auth)
	legacy, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon"}).SignedString([]byte(testSecret))
	for name, tok := range map[string]string{"Auth's ES256 session": a, "a legacy HS256 API key": legacy} {
		if _, err := s.Verify(tok); err != nil {
			t.Errorf("%s no longer verifies: %v", name, err)
		}
	}
}

func TestSigningKeyEnv(t *testing.T) {
	set, auth := supabaseJWKS(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--jwks-file", nil, []string{"--jwks-file", writeFile(t, "jwks.json", set)}},
		{"JWT_JWKS of --env-file", nil, []string{"--env-file", writeFile(t, ".env", "JWT_JWKS='"+set+"'\n")}},
		{"JWT_JWKS of the environment", map[string]string{"JWT_JWKS": set}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, keysCmd{now: clock(fixedNow)}.run, tc.env, "", append([]string{"signing-key", "--kid", "bridge-1"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			m, err := parseEnvFile(strings.NewReader(r.stdout))
			if err != nil {
				t.Fatalf("the output is not a .env file: %v\n%s", err, r.stdout)
			}
			if len(m) != 2 || m["SUPABRIDGE_SIGNING_KEY"] == "" || m["JWT_JWKS"] == "" {
				t.Fatalf("got variables %v, want SUPABRIDGE_SIGNING_KEY and JWT_JWKS", keysOf(m))
			}
			tok := mintWith(t, map[string]string{"SUPABRIDGE_SIGNING_KEY": m["SUPABRIDGE_SIGNING_KEY"]})
			if h := testkit.Header(t, tok); h["alg"] != "ES256" || h["kid"] != "bridge-1" {
				t.Errorf("minted header %v, want ES256 with kid bridge-1", h)
			}
			checkPrintedSet(t, m["JWT_JWKS"], tok, auth)
			var priv jwkset.JWKMarshal
			_ = json.Unmarshal([]byte(m["SUPABRIDGE_SIGNING_KEY"]), &priv)
			if priv.D == "" || strings.Contains(r.stderr, priv.D) || strings.Contains(m["JWT_JWKS"], priv.D) {
				t.Error("the private scalar is missing from the key, or printed elsewhere")
			}
		})
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

var patchLine = regexp.MustCompile(`(?m)^#   kubectl -n supabase patch secret supabase-secrets --type merge -p '(.*)'$`)

func TestSigningKeyK8s(t *testing.T) {
	set, auth := supabaseJWKS(t)
	r := runCmd(t, keysCmd{now: clock(fixedNow)}.run, nil, set, "signing-key", "--format", "k8s", "--namespace", "supabase", "--jwks-file", "-")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var secret struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name, Namespace string }
		Type       string
		Data       map[string]string `json:"stringData"`
	}
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &secret); err != nil {
		t.Fatalf("the manifest does not parse: %v\n%s", err, r.stdout)
	}
	if secret.APIVersion != "v1" || secret.Type != "Opaque" || secret.Kind != "Secret" || secret.Metadata.Name != "supabridge-signing-key" || secret.Metadata.Namespace != "supabase" || len(secret.Data) != 1 {
		t.Fatalf("got %+v", secret)
	}
	tok := mintWith(t, map[string]string{"SUPABRIDGE_SIGNING_KEY_FILE": writeFile(t, "key", secret.Data["SUPABRIDGE_SIGNING_KEY"])})
	m := patchLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no kubectl patch line in\n%s", r.stdout)
	}
	var patch struct {
		StringData map[string]string `json:"stringData"`
	}
	if err := json.Unmarshal([]byte(m[1]), &patch); err != nil || len(patch.StringData) != 1 {
		t.Fatalf("the patch %q is not a merge patch of stringData.JWT_JWKS: %v", m[1], err)
	}
	checkPrintedSet(t, patch.StringData["JWT_JWKS"], tok, auth)
}

func TestSigningKeyWithoutCurrentSet(t *testing.T) {
	r := runCmd(t, keysCmd{}.run, nil, "", "signing-key")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	m, err := parseEnvFile(strings.NewReader(r.stdout))
	if err != nil || len(m) != 1 {
		t.Fatalf("got %v (%v), want SUPABRIDGE_SIGNING_KEY alone", keysOf(m), err)
	}
	tok := mintWith(t, m)
	kid, _ := testkit.Header(t, tok)["kid"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(kid) {
		t.Errorf("kid %q, want a random UUID", kid)
	}
	// The commented public JWK verifies the token.
	pub := regexp.MustCompile(`(?m)^# (\{"kty":"EC".*\})$`).FindStringSubmatch(r.stdout)
	if pub == nil {
		t.Fatalf("no public JWK in\n%s", r.stdout)
	}
	s, err := postgrest.Parse([]byte(`{"keys":[` + pub[1] + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(tok); err != nil {
		t.Errorf("the printed public key does not verify the token: %v", err)
	}
	if again := runCmd(t, keysCmd{}.run, nil, "", "signing-key"); strings.Contains(again.stdout, kid) {
		t.Error("two runs made the same kid")
	}
	k := runCmd(t, keysCmd{}.run, nil, "", "signing-key", "--format", "k8s")
	if !strings.Contains(k.stdout, "| supabridge keys signing-key --format k8s --jwks-file -") {
		t.Errorf("k8s without a current set: no hint to rerun with it\n%s", k.stdout)
	}
}

func TestSigningKeyRefuses(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := jwkset.NewJWKFromKey(priv, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true}, Metadata: jwkset.JWKMetadataOptions{KID: "x"}})
	privJSON, _ := json.Marshal(map[string]any{"keys": []any{j.Marshal()}})
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a current set holding a private key", []string{"--jwks-file", writeFile(t, "j", string(privJSON))}, 1, "holds a private key"},
		{"a kid already in the set", []string{"--kid", "x", "--jwks-file", writeFile(t, "j", `{"keys":[{"kty":"EC","kid":"x"}]}`)}, 1, `already has a key with kid "x"`},
		{"not a set", []string{"--jwks-file", writeFile(t, "j", `[1]`)}, 1, "not a JWK Set"},
		{"a kid with a quote", []string{"--kid", "it's"}, 2, "--kid"},
		{"a bad format", []string{"--format", "yaml"}, 2, "--format"},
		{"a positional argument", []string{"extra"}, 2, "unexpected argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, keysCmd{}.run, nil, "", append([]string{"signing-key"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("got %d, stderr %q, stdout %q; want %d and %q, nothing on stdout", r.code, r.stderr, r.stdout, tc.code, tc.want)
			}
			if strings.Contains(r.stderr, j.Marshal().D) {
				t.Error("the private key of the set was echoed")
			}
		})
	}
}
