package main

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"sigs.k8s.io/yaml"

	"supabridge/internal/testenv/pg"
	"supabridge/shared/config"
)

var secretEnv = map[string]string{"SUPABASE_JWT_SECRET": testSecret}

// envKeys reads ANON_KEY and SERVICE_ROLE_KEY from keys' env output.
func envKeys(t *testing.T, out string) (anon, service string) {
	t.Helper()
	m, err := parseEnvFile(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["ANON_KEY"] == "" || m["SERVICE_ROLE_KEY"] == "" {
		t.Fatalf("got %v, want ANON_KEY and SERVICE_ROLE_KEY only", m)
	}
	return m["ANON_KEY"], m["SERVICE_ROLE_KEY"]
}

func TestKeysGolden(t *testing.T) {
	cmd := keysCmd{now: clock(fixedNow.Add(1500 * time.Millisecond))} // iat drops the fraction
	for _, tc := range []struct {
		file string
		args []string
	}{
		{"keys.env.golden", nil},
		{"keys.ref.env.golden", []string{"--ref", "abcdefghijklmnopqrst", "--expiry", "1y"}},
		{"keys.k8s.golden", []string{"--format", "k8s", "--namespace", "supabase"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := runCmd(t, cmd.run, secretEnv, "", tc.args...)
			if r.code != 0 {
				t.Fatalf("got %d: %s", r.code, r.stderr)
			}
			golden(t, tc.file, r.stdout)
		})
	}
}

// TestKeysVerify checks that both keys verify with the secret and carry
// Supabase's claims, in its order, for every expiry form.
func TestKeysVerify(t *testing.T) {
	for _, tc := range []struct {
		expiry string
		want   time.Time
	}{
		{"10y", fixedNow.AddDate(10, 0, 0)},
		{"1y", fixedNow.AddDate(1, 0, 0)},
		{"30d", fixedNow.AddDate(0, 0, 30)},
		{"90m", fixedNow.Add(90 * time.Minute)},
	} {
		t.Run(tc.expiry, func(t *testing.T) {
			secretFile := writeFile(t, "secret", testSecret+"\n")
			r := runCmd(t, keysCmd{now: clock(fixedNow)}.run, nil, "", "--secret-file", secretFile, "--expiry", tc.expiry, "--ref", "proj")
			if r.code != 0 {
				t.Fatalf("got %d: %s", r.code, r.stderr)
			}
			anon, service := envKeys(t, r.stdout)
			for role, key := range map[string]string{"anon": anon, "service_role": service} {
				var c jwt.MapClaims
				tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clock(fixedNow)), jwt.WithExpirationRequired()).
					ParseWithClaims(key, &c, func(*jwt.Token) (any, error) { return []byte(testSecret), nil })
				if err != nil {
					t.Fatalf("%s: %v", role, err)
				}
				if _, hasKid := tok.Header["kid"]; hasKid || tok.Header["typ"] != "JWT" {
					t.Errorf("%s: header %v, want {alg HS256, typ JWT}", role, tok.Header)
				}
				exp, _ := c.GetExpirationTime()
				iat, _ := c.GetIssuedAt()
				if c["iss"] != "supabase" || c["ref"] != "proj" || c["role"] != role || !iat.Equal(fixedNow) || !exp.Equal(tc.want) {
					t.Errorf("%s: got %v, want iss supabase, ref proj, role %s, iat %v, exp %v", role, c, role, fixedNow, tc.want)
				}
				if len(c) != 5 {
					t.Errorf("%s: got %d claims, want 5 (no aud, no sub)", role, len(c))
				}
				payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(key, ".")[1])
				if order := []string{`"iss"`, `"ref"`, `"role"`, `"iat"`, `"exp"`}; !inOrder(string(payload), order) {
					t.Errorf("%s: payload %s, want members in the order %v", role, payload, order)
				}
				// And through supabridge verify, as an operator would.
				keyFile := writeFile(t, "key", key+"\n")
				v := runCmd(t, verifyCmd{now: clock(fixedNow)}.run, secretEnv, "", "--token", keyFile, "--aud", "")
				if v.code != 0 || !strings.Contains(v.stdout, `valid: role "`+role+`"`) {
					t.Errorf("%s: supabridge verify: %d %s%s", role, v.code, v.stdout, v.stderr)
				}
			}
		})
	}
}

func inOrder(s string, parts []string) bool {
	at := 0
	for _, p := range parts {
		i := strings.Index(s[at:], p)
		if i < 0 {
			return false
		}
		at += i + len(p)
	}
	return true
}

func TestKeysK8sManifest(t *testing.T) {
	r := runCmd(t, keysCmd{now: clock(fixedNow)}.run, secretEnv, "", "--format", "k8s")
	if r.code != 0 {
		t.Fatalf("got %d: %s", r.code, r.stderr)
	}
	var m struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]string `json:"metadata"`
		Type       string            `json:"type"`
		StringData map[string]string `json:"stringData"`
	}
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	if m.APIVersion != "v1" || m.Kind != "Secret" || m.Metadata["name"] != "supabase-secrets" || len(m.Metadata) != 1 || m.Type != "Opaque" {
		t.Errorf("got %+v", m)
	}
	keys := make([]string, 0, len(m.StringData))
	for k := range m.StringData {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"ANON_KEY", "JWT_SECRET", "SERVICE_ROLE_KEY"}) || m.StringData["JWT_SECRET"] != testSecret {
		t.Errorf("stringData has %v (secret right: %v)", keys, m.StringData["JWT_SECRET"] == testSecret)
	}
}

func TestKeysRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		code  int
		wants string
	}{
		{"short secret", map[string]string{"JWT_SECRET": "only-31-bytes-long-0123456789ab"}, nil, 1, "JWT_SECRET must be at least 32 bytes"},
		{"no secret", nil, nil, 1, "SUPABASE_JWT_SECRET is required"},
		{"example secret", map[string]string{"JWT_SECRET": config.ExampleSecret}, nil, 1, "example secret of Supabase's self-hosting .env"},
		{"bad expiry", secretEnv, []string{"--expiry", "ten years"}, 2, "--expiry: not like 10y, 30d or 8760h"},
		{"negative expiry", secretEnv, []string{"--expiry", "-1h"}, 2, "--expiry: must be positive"},
		{"bad format", secretEnv, []string{"--format", "yaml"}, 2, "--format must be env or k8s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, keysCmd{now: clock(fixedNow)}.run, tc.env, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.wants) || r.stdout != "" {
				t.Errorf("got %d, stdout %q, stderr %q; want %d and %q", r.code, r.stdout, r.stderr, tc.code, tc.wants)
			}
			for _, v := range tc.env {
				if strings.Contains(r.stderr, v) {
					t.Errorf("the secret was printed")
				}
			}
		})
	}
}

// TestKeysAgainstRLS applies the keys the way PostgREST does (SET LOCAL
// ROLE <role claim>, request.jwt.claims) to a database holding Supabase's
// roles and our RLS migration: anon sees no private row, service_role
// bypasses RLS.
//
// e2e/rls exports a Gateway that does this, but it always requires an aud
// (PostgREST's PGRST_JWT_AUD) and API keys carry none, so the few lines it
// takes are written here.
func TestKeysAgainstRLS(t *testing.T) {
	r := runCmd(t, keysCmd{}.run, secretEnv, "")
	if r.code != 0 {
		t.Fatalf("keys: %d %s", r.code, r.stderr)
	}
	anon, service := envKeys(t, r.stdout)

	db := pg.Start(t)
	db.ApplyFiles(t, filepath.Join("..", "..", "docs", "sql", "00_supabase_bootstrap.sql"), filepath.Join("..", "..", "docs", "sql", "10_app_rls.sql"))
	if _, err := db.Conn(t).Exec(t.Context(), "insert into public.notes (user_id, body) values ('someone', 'private note')"); err != nil {
		t.Fatal(err)
	}
	api, err := pgx.Connect(t.Context(), db.ConnStringAs(t, "authenticator"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close(context.Background()) })

	for _, tc := range []struct {
		role string
		key  string
		want []string
	}{
		{"anon", anon, nil},
		{"service_role", service, []string{"private note"}},
	} {
		t.Run(tc.role, func(t *testing.T) {
			var c jwt.MapClaims
			if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()).
				ParseWithClaims(tc.key, &c, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
				t.Fatal(err)
			}
			role, _ := c["role"].(string)
			payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tc.key, ".")[1])
			tx, err := api.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(context.Background()) }()
			if _, err := tx.Exec(t.Context(), "set local role "+pgx.Identifier{role}.Sanitize()); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(t.Context(), "select set_config('request.jwt.claims', $1, true)", string(payload)); err != nil {
				t.Fatal(err)
			}
			var user string
			if err := tx.QueryRow(t.Context(), "select current_user").Scan(&user); err != nil || user != tc.role {
				t.Errorf("runs as %q (%v), want %s", user, err, tc.role)
			}
			rows, err := tx.Query(t.Context(), "select body from public.notes")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s sees %q, want %q", tc.role, got, tc.want)
			}
		})
	}
}
