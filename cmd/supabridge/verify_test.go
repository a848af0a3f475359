package main

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/claims"
	"supabridge/shared/config"
)

func TestVerifySupabase(t *testing.T) {
	now := fixedNow
	valid := jwt.MapClaims{"iss": "supabase", "aud": "authenticated", "sub": "alice", "role": "authenticated", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(59 * time.Minute).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range valid {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	otherSecret := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte("another-secret-0123456789abcdefghijkl"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsKey := testprovider.NewKey(t, "k1", "RS256")
	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		want  []string // lines or parts of lines of stdout
	}{
		{"valid", hs256(t, valid, nil), nil, 0, []string{"ok   signature: the Supabase secret", `ok   audience: "authenticated"`, "ok   expiry: 2030-01-01 00:59:00 UTC, expires in 59m0s", `valid: role "authenticated", sub "alice"`}},
		{"signature", otherSecret(valid), nil, 1, []string{"FAIL signature: the token was not signed with this secret — fix: use the secret GoTrue and PostgREST use"}},
		{"expired", hs256(t, with("exp", now.Add(-2*time.Hour).Unix()), nil), nil, 1, []string{"FAIL expiry: expired at 2029-12-31 22:00:00 UTC, 2h ago"}},
		{"not yet valid", hs256(t, with("nbf", now.Add(5*time.Minute).Unix()), nil), nil, 1, []string{"FAIL not yet valid: nbf is 2030-01-01 00:05:00 UTC, not valid for another 5m0s"}},
		{"issued in the future", hs256(t, with("iat", now.Add(time.Hour).Unix()), nil), nil, 1, []string{"FAIL issued at: iat is 2030-01-01 01:00:00 UTC, issued in the future, in 1h"}},
		{"audience", hs256(t, with("aud", "anon"), nil), nil, 1, []string{`FAIL audience: the token's aud is "anon"; accepted: "authenticated"`}},
		{"audience flag", hs256(t, with("aud", "anon"), nil), []string{"--aud", "anon"}, 0, []string{`ok   audience: "anon"`}},
		{"api key without aud", hs256(t, jwt.MapClaims{"iss": "supabase", "role": "anon", "iat": now.Unix(), "exp": now.AddDate(10, 0, 0).Unix()}, nil), nil, 1,
			[]string{`FAIL audience: the token has no aud; accepted: "authenticated" — fix: API keys (anon, service_role) carry no aud`}},
		{"no exp", hs256(t, with("exp", nil), nil), nil, 1, []string{"FAIL expiry: the token has no exp"}},
		{"expired and wrong audience", hs256(t, with("exp", now.Add(-time.Hour).Unix()), nil), []string{"--aud", "other"}, 1, []string{"FAIL expiry: expired at", "FAIL audience: the token's aud"}},
		{"algorithm", rsKey.Sign(t, valid, nil), nil, 1, []string{"FAIL algorithm: the token is signed with RS256; Supabase's tokens are HS256 with the shared secret — fix: a provider's token is checked with --against providers; a token the bridge signed with its own key is checked where SUPABRIDGE_SIGNING_KEY (or SUPABASE_JWT_KEYS) is set"}},
		{"kid noted", hs256(t, valid, map[string]any{"kid": "k"}), nil, 0, []string{"note: the header has a kid with HS256: PostgREST 13+ refuses it"}},
		{"malformed", "not-a-jwt", nil, 1, []string{"FAIL malformed: not a JWT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, "token", tc.token)
			r := runCmd(t, verifyCmd{now: clock(now)}.run, secretEnv, "", append([]string{"--token", file}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("got %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			if strings.Contains(r.stdout+r.stderr, testSecret) || (len(tc.token) > 40 && strings.Contains(r.stdout+r.stderr, tc.token)) {
				t.Error("a secret or the token was printed")
			}
		})
	}
}

func TestVerifySupabaseGolden(t *testing.T) {
	tok := hs256(t, jwt.MapClaims{"iss": "supabase", "aud": "authenticated", "sub": "alice", "role": "authenticated", "iat": fixedNow.Unix(), "exp": fixedNow.Add(time.Hour).Unix()}, nil)
	secretFile := writeFile(t, "secret", testSecret)
	ok := runCmd(t, verifyCmd{now: clock(fixedNow.Add(time.Minute))}.run, nil, tok, "--secret-file", secretFile)
	bad := runCmd(t, verifyCmd{now: clock(fixedNow.Add(3 * time.Hour))}.run, nil, tok, "--secret-file", secretFile)
	if ok.code != 0 || bad.code != 1 {
		t.Fatalf("got %d and %d", ok.code, bad.code)
	}
	golden(t, "verify.supabase.golden", ok.stdout+"----\n"+bad.stdout)
}

func TestVerifyBothOnStdin(t *testing.T) {
	r := runCmd(t, verifyCmd{}.run, nil, "", "--secret-file", "-")
	if r.code != 2 || !strings.Contains(r.stderr, "cannot both read stdin") {
		t.Errorf("got %d %q", r.code, r.stderr)
	}
}

func TestVerifyProviders(t *testing.T) {
	key := testprovider.NewKey(t, "k1", "RS256")
	stranger := testprovider.NewKey(t, "k1", "RS256") // same kid, another key
	es := testprovider.NewKey(t, "e1", "ES256")
	prov := testprovider.New(t, "/application/o/app/", key)
	env := map[string]string{
		"SUPABASE_JWT_SECRET": testSecret,
		"AUTH_ISSUER":         prov.Issuer,
		"AUTH_AUDIENCE":       "app",
		"AUTH_ALGORITHMS":     "RS256",
	}
	now := fixedNow
	claims := func(over map[string]any) map[string]any {
		c := map[string]any{"iss": prov.Issuer, "sub": "alice", "aud": "app", "email": "alice@example.com", "email_verified": true,
			"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(59 * time.Minute).Unix()}
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	hsWithPublic := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims(nil)))
	hsTok, err := hsWithPublic.SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
		want  string
	}{
		{"issuer", key.Sign(t, claims(map[string]any{"iss": "https://elsewhere.example/"}), nil),
			`FAIL issuer: the token's iss "https://elsewhere.example/" is not a configured issuer`},
		{"issuer slash", key.Sign(t, claims(map[string]any{"iss": strings.TrimSuffix(prov.Issuer, "/")}), nil),
			"differs only by a trailing slash"},
		{"algorithm HS256", hsTok, "FAIL algorithm: the token is signed with HS256, a shared secret; providers must sign with a public-key algorithm — fix: select a signing key in the provider"},
		{"algorithm not allowed", es.Sign(t, claims(nil), nil), `FAIL algorithm: the token is signed with ES256; provider "default" allows RS256`},
		{"unknown key", key.Sign(t, claims(nil), map[string]any{"kid": "rotated-away"}), `FAIL unknown key: no key of provider "default" fits the token (kid "rotated-away", alg RS256)`},
		{"signature", stranger.Sign(t, claims(nil), nil), "FAIL signature: the signature does not match"},
		{"expired", key.Sign(t, claims(map[string]any{"exp": now.Add(-2 * time.Hour).Unix()}), nil), "FAIL expiry: expired at 2029-12-31 22:00:00 UTC, 2h ago"},
		{"not yet valid", key.Sign(t, claims(map[string]any{"nbf": now.Add(time.Hour).Unix()}), nil), "FAIL not yet valid: nbf is 2030-01-01 01:00:00 UTC"},
		{"audience", key.Sign(t, claims(map[string]any{"aud": []string{"other", "more"}}), nil), `FAIL audience: the token's aud is ["other","more"]; accepted: "app"`},
		{"no subject", key.Sign(t, claims(map[string]any{"sub": nil}), nil), "FAIL subject: the token has no sub"},
		{"exp a string of digits", key.Sign(t, claims(map[string]any{"exp": "1893459540"}), nil), "FAIL claim type: exp of the wrong type (RFC 7519 §4.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, verifyCmd{now: clock(now)}.run, env, tc.token, "--against", "providers")
			if r.code != 1 || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("got %d, want 1 and %q\n%s%s", r.code, tc.want, r.stdout, r.stderr)
			}
		})
	}

	t.Run("valid", func(t *testing.T) {
		r := runCmd(t, verifyCmd{now: clock(now)}.run, env, key.Sign(t, claims(map[string]any{"role": "service_role", "name": "Alice"}), nil), "--against", "providers")
		if r.code != 0 {
			t.Fatalf("got %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, `"role": "authenticated"`) || strings.Contains(r.stdout, "service_role") {
			t.Errorf("the minted role is not authenticated:\n%s", r.stdout)
		}
		golden(t, "verify.providers.golden", strings.ReplaceAll(r.stdout, prov.Server.URL, "http://provider.test"))
	})
}

// TestVerifySupabaseKeys: with a key of the bridge's own configured, an
// ES256 token is checked against the keys the configuration publishes (the
// signing key and SUPABRIDGE_PREVIOUS_KEYS), picked by kid.
func TestVerifySupabaseKeys(t *testing.T) {
	current, old, impostor := newBridgeJWK(t, "bridge-2026"), newBridgeJWK(t, "bridge-2025"), newBridgeJWK(t, "bridge-2026")
	env := map[string]string{"SUPABRIDGE_SIGNING_KEY": current.private, "SUPABRIDGE_PREVIOUS_KEYS": old.public}
	mint := func(key bridgeJWK) string {
		tok, err := probeToken(mustSupabase(t, map[string]string{"SUPABRIDGE_SIGNING_KEY": key.private}), fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		token string
		code  int
		want  string
	}{
		{"the signing key", env, mint(current), 0, `ok   signature: the bridge's key "bridge-2026"`},
		{"a key of before the rotation", env, mint(old), 0, `ok   signature: the bridge's key "bridge-2025"`},
		{"the old key dropped", map[string]string{"SUPABRIDGE_SIGNING_KEY": current.private}, mint(old), 1,
			`FAIL unknown key: no key the bridge publishes fits the token (kid "bridge-2025", alg ES256)`},
		{"another key under the kid", env, mint(impostor), 1, `FAIL signature: the signature does not match the published key that the kid "bridge-2026" selects`},
		{"HS256 where no secret is configured", env, hs256(t, jwt.MapClaims{"aud": "authenticated", "exp": fixedNow.Add(time.Hour).Unix()}, nil), 1,
			"FAIL signature: the token is HS256, and no Supabase secret is configured here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, verifyCmd{now: clock(fixedNow)}.run, tc.env, "", "--token", writeFile(t, "token", tc.token))
			if r.code != tc.code || !strings.Contains(r.stdout, tc.want) {
				t.Errorf("got %d, want %d and %q:\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

func mustSupabase(t *testing.T, env map[string]string) *claims.Config {
	t.Helper()
	sc, _, err := config.LoadSupabase(config.MapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	return &sc
}
