package config_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
	"supabridge/shared/config"
)

// Secrets used by the tests: long enough, and distinctive so that a leak
// into an error text cannot be a coincidence.
const (
	testSecret  = "TEST-SUPABASE-SECRET-0123456789abcdefghij"  // 41 bytes
	aliasSecret = "TEST-ALIAS-SECRET-0123456789abcdefghijklmn" // 42 bytes, differs
	jwksURL     = "https://idp.example.com/jwks"
	unset       = "\x00unset" // marks a key to delete from the base env
)

// env is a valid single-provider environment with overrides applied; a
// value of unset removes the key.
func env(over map[string]string) map[string]string {
	m := map[string]string{
		"SUPABASE_JWT_SECRET": testSecret,
		"AUTH_JWKS_URL":       jwksURL,
	}
	for k, v := range over {
		if v == unset {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func load(t *testing.T, m map[string]string) (*config.Config, error) {
	t.Helper()
	cfg, err := config.Load(config.MapEnv(m))
	if err == nil && cfg == nil {
		t.Fatal("got nil config and nil error")
	}
	if err != nil && cfg != nil {
		t.Fatalf("got a config beside the error %v", err)
	}
	return cfg, err
}

// signsWith reports whether cfg mints tokens that verify as HS256 with
// secret and carry no kid: the legacy signer, observed from outside.
func signsWith(t *testing.T, cfg *config.Config, secret string) bool {
	t.Helper()
	tok := mintOne(t, cfg)
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		return false
	}
	_, kid := parsed.Header["kid"]
	return !kid
}

// mintOne mints a token with cfg's Supabase configuration.
func mintOne(t *testing.T, cfg *config.Config) string {
	t.Helper()
	m, err := claims.NewMinter(cfg.Supabase, nil)
	if err != nil {
		t.Fatalf("minter: %v", err)
	}
	tok, err := m.Mint(&claims.Payload{RegisteredClaims: jwt.RegisteredClaims{Subject: "u"}}, &claims.Mapping{})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok.JWT
}

func mustLoad(t *testing.T, m map[string]string) *config.Config {
	t.Helper()
	cfg, err := load(t, m)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	return cfg
}

// checkErr asserts err names every string of want, is one line, and holds
// none of leaks.
func checkErr(t *testing.T, err error, want []string, leaks []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one naming %q", want)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("got error %q, want it to contain %q", msg, w)
		}
	}
	for _, l := range leaks {
		if l != "" && strings.Contains(msg, l) {
			t.Errorf("got error %q, want it without the value %q", msg, l)
		}
	}
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("got a multi-line error %q, want one line", msg)
	}
	if !strings.HasPrefix(msg, "config: ") {
		t.Errorf("got error %q, want the prefix %q", msg, "config: ")
	}
}

// writeFile writes content into dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	cfg := mustLoad(t, env(nil))

	if got, want := cfg.Supabase.Issuer, "supabase"; got != want {
		t.Errorf("issuer: got %q, want %q", got, want)
	}
	if got, want := cfg.Supabase.Audience, "authenticated"; got != want {
		t.Errorf("audience: got %q, want %q", got, want)
	}
	if got, want := cfg.Supabase.MaxTTL, 3600*time.Second; got != want {
		t.Errorf("max TTL: got %v, want %v", got, want)
	}
	if !signsWith(t, cfg, testSecret) {
		t.Error("the configured signer does not sign HS256 with SUPABASE_JWT_SECRET")
	}
	if cfg.Signing.Source != "SUPABASE_JWT_SECRET" || cfg.Signing.Ignored != nil {
		t.Errorf("signing: got %+v, want SUPABASE_JWT_SECRET alone", cfg.Signing)
	}
	if cfg.Port != 8080 {
		t.Errorf("port: got %d, want 8080", cfg.Port)
	}
	if cfg.LogLevel != slog.LevelInfo {
		t.Errorf("log level: got %v, want %v", cfg.LogLevel, slog.LevelInfo)
	}
	if cfg.CORSOrigins != nil {
		t.Errorf("CORS origins: got %q, want nil (meaning *)", cfg.CORSOrigins)
	}
	if len(cfg.Providers) != 1 {
		t.Fatalf("providers: got %d, want 1", len(cfg.Providers))
	}
	p := cfg.Providers[0]
	if p.Name != "default" {
		t.Errorf("provider name: got %q, want %q", p.Name, "default")
	}
	if p.JWKSURL != jwksURL {
		t.Errorf("JWKS URL: got %q, want %q", p.JWKSURL, jwksURL)
	}
	if p.Issuer != "" || len(p.PublicKey) != 0 || len(p.Audience) != 0 || len(p.Algorithms) != 0 {
		t.Errorf("got issuer %q, public key %q, audience %q, algorithms %q; want all empty", p.Issuer, p.PublicKey, p.Audience, p.Algorithms)
	}
	if p.Leeway != 30*time.Second {
		t.Errorf("leeway: got %v, want 30s", p.Leeway)
	}
	if p.ClientAuth != "basic" {
		t.Errorf("client auth: got %q, want %q", p.ClientAuth, "basic")
	}
	if p.HTTPTimeout != 5*time.Second {
		t.Errorf("HTTP timeout: got %v, want 5s", p.HTTPTimeout)
	}
	if len(p.Secret) != 0 || p.ClientID != "" || p.TokenURL != "" {
		t.Errorf("got client id %q, token URL %q, secret of %d bytes; want none", p.ClientID, p.TokenURL, len(p.Secret))
	}
	wantPass := []string{"email", "email_verified", "name", "preferred_username", "groups", "org_id"}
	if !slices.Equal(p.Mapping.Passthrough, wantPass) {
		t.Errorf("passthrough: got %q, want %q", p.Mapping.Passthrough, wantPass)
	}
	if p.Mapping.Sub != claims.SubPassthrough {
		t.Errorf("sub mapping: got %q, want %q", p.Mapping.Sub, claims.SubPassthrough)
	}
	if got, want := p.Mapping.Namespace.String(), "6ba7b811-9dad-11d1-80b4-00c04fd430c8"; got != want {
		t.Errorf("UUID namespace: got %s, want %s", got, want)
	}
	if p.Mapping.Provider != "default" {
		t.Errorf("mapping provider: got %q, want %q", p.Mapping.Provider, "default")
	}
	if p.Mapping.Rules != nil {
		t.Errorf("rules: got %v, want none", p.Mapping.Rules)
	}
	if p.CanRefresh() {
		t.Error("CanRefresh: got true without a client id, want false")
	}
}

// TestLoadDefaultsAreNotShared checks that changing one loaded
// configuration does not change the next one (no aliasing of package
// defaults).
func TestLoadDefaultsAreNotShared(t *testing.T) {
	first := mustLoad(t, env(nil))
	first.Providers[0].Mapping.Passthrough[0] = "mutated"
	second := mustLoad(t, env(nil))
	if got := second.Providers[0].Mapping.Passthrough[0]; got != "email" {
		t.Fatalf("passthrough[0] of a fresh load: got %q, want %q", got, "email")
	}
}

func TestLoadSupabaseSecret(t *testing.T) {
	short := strings.Repeat("s", 31)
	exact := "EXACTLY-32-BYTES-0123456789abcde"
	if len(exact) != 32 {
		t.Fatalf("exact is %d bytes", len(exact))
	}
	tests := []struct {
		name string
		// env builds the environment; dir is a fresh temporary directory.
		env        func(t *testing.T, dir string) map[string]string
		wantSecret string
		wantErr    []string
		leaks      []string
	}{
		{
			name:       "SUPABASE_JWT_SECRET",
			env:        func(*testing.T, string) map[string]string { return env(nil) },
			wantSecret: testSecret,
		},
		{
			name: "exactly 32 bytes",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": exact})
			},
			wantSecret: exact,
		},
		{
			name: "JWT_SECRET alias alone",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "JWT_SECRET": aliasSecret})
			},
			wantSecret: aliasSecret,
		},
		{
			name: "empty SUPABASE_JWT_SECRET is unset, alias used",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": "", "JWT_SECRET": aliasSecret})
			},
			wantSecret: aliasSecret,
		},
		{
			name: "both set and equal",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"JWT_SECRET": testSecret})
			},
			wantSecret: testSecret,
		},
		{
			name: "both set and different",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"JWT_SECRET": aliasSecret})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET", "JWT_SECRET", "differ"},
			leaks:   []string{testSecret, aliasSecret},
		},
		{
			name: "missing",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET", "required"},
		},
		{
			name: "empty and empty alias",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": "", "JWT_SECRET": "", "SUPABASE_JWT_SECRET_FILE": ""})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET", "required"},
		},
		{
			name: "31 bytes",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": short})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET", "32 bytes"},
			leaks:   []string{short},
		},
		{
			name: "31-byte alias",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "JWT_SECRET": short})
			},
			wantErr: []string{"JWT_SECRET", "32 bytes"},
			leaks:   []string{short},
		},
		{
			name: "SUPABASE_JWT_SECRET_FILE, trailing newline trimmed",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", testSecret+"\n")})
			},
			wantSecret: testSecret,
		},
		{
			name: "SUPABASE_JWT_SECRET_FILE, CRLF trimmed",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", testSecret+"\r\n")})
			},
			wantSecret: testSecret,
		},
		{
			name: "SUPABASE_JWT_SECRET_FILE without newline",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", testSecret)})
			},
			wantSecret: testSecret,
		},
		{
			name: "empty SUPABASE_JWT_SECRET beside the _FILE form",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": "", "SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", testSecret+"\n")})
			},
			wantSecret: testSecret,
		},
		{
			name: "JWT_SECRET_FILE",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "JWT_SECRET_FILE": writeFile(t, dir, "a", aliasSecret+"\n")})
			},
			wantSecret: aliasSecret,
		},
		{
			name: "SUPABASE_JWT_SECRET_FILE equal to JWT_SECRET",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", testSecret+"\n"), "JWT_SECRET": testSecret})
			},
			wantSecret: testSecret,
		},
		{
			name: "SUPABASE_JWT_SECRET_FILE different from JWT_SECRET_FILE",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{
					"SUPABASE_JWT_SECRET":      unset,
					"SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", testSecret+"\n"),
					"JWT_SECRET_FILE":          writeFile(t, dir, "a", aliasSecret+"\n"),
				})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET", "JWT_SECRET", "differ"},
			leaks:   []string{testSecret, aliasSecret},
		},
		{
			name: "SUPABASE_JWT_SECRET and SUPABASE_JWT_SECRET_FILE",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", aliasSecret+"\n")})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET_FILE", "both set"},
			leaks:   []string{testSecret, aliasSecret},
		},
		{
			name: "JWT_SECRET and JWT_SECRET_FILE",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"JWT_SECRET": testSecret, "JWT_SECRET_FILE": writeFile(t, dir, "a", aliasSecret+"\n")})
			},
			wantErr: []string{"JWT_SECRET_FILE", "both set"},
			leaks:   []string{testSecret, aliasSecret},
		},
		{
			name: "SUPABASE_JWT_SECRET_FILE missing",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_SECRET_FILE": filepath.Join(dir, "nope")})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET_FILE", "cannot read"},
		},
		{
			name: "SUPABASE_JWT_SECRET_FILE is a directory",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_SECRET_FILE": dir})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET_FILE", "cannot read"},
		},
		{
			name: "JWT_SECRET_FILE missing",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "JWT_SECRET_FILE": filepath.Join(dir, "nope")})
			},
			wantErr: []string{"JWT_SECRET_FILE", "cannot read"},
		},
		{
			name: "short secret in a file",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"SUPABASE_JWT_SECRET": unset, "SUPABASE_JWT_SECRET_FILE": writeFile(t, dir, "s", "SHORT-FILE-SECRET\n")})
			},
			wantErr: []string{"SUPABASE_JWT_SECRET", "32 bytes"},
			leaks:   []string{"SHORT-FILE-SECRET"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, tt.env(t, t.TempDir()))
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr, tt.leaks)
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !signsWith(t, cfg, tt.wantSecret) {
				t.Fatalf("the signer does not sign HS256 with the %d-byte secret (prefix %.8q)", len(tt.wantSecret), tt.wantSecret)
			}
		})
	}
}

func TestLoadClientSecret(t *testing.T) {
	const clientSecret = "TEST-CLIENT-SECRET-value-42"
	tests := []struct {
		name       string
		env        func(t *testing.T, dir string) map[string]string
		wantSecret string
		wantErr    []string
	}{
		{
			name: "AUTH_CLIENT_SECRET",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"AUTH_CLIENT_ID": "cid", "AUTH_CLIENT_SECRET": clientSecret})
			},
			wantSecret: clientSecret,
		},
		{
			name: "AUTH_CLIENT_SECRET_FILE, trailing newline trimmed",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"AUTH_CLIENT_ID": "cid", "AUTH_CLIENT_SECRET_FILE": writeFile(t, dir, "c", clientSecret+"\n")})
			},
			wantSecret: clientSecret,
		},
		{
			name:       "none: a public client",
			env:        func(*testing.T, string) map[string]string { return env(map[string]string{"AUTH_CLIENT_ID": "cid"}) },
			wantSecret: "",
		},
		{
			name: "empty AUTH_CLIENT_SECRET is unset",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"AUTH_CLIENT_ID": "cid", "AUTH_CLIENT_SECRET": ""})
			},
			wantSecret: "",
		},
		{
			name: "both AUTH_CLIENT_SECRET and AUTH_CLIENT_SECRET_FILE",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"AUTH_CLIENT_ID": "cid", "AUTH_CLIENT_SECRET": clientSecret, "AUTH_CLIENT_SECRET_FILE": writeFile(t, dir, "c", "OTHER-CLIENT-SECRET\n")})
			},
			wantErr: []string{"AUTH_CLIENT_SECRET_FILE", "both set"},
		},
		{
			name: "AUTH_CLIENT_SECRET_FILE unreadable",
			env: func(t *testing.T, dir string) map[string]string {
				return env(map[string]string{"AUTH_CLIENT_ID": "cid", "AUTH_CLIENT_SECRET_FILE": filepath.Join(dir, "missing")})
			},
			wantErr: []string{"AUTH_CLIENT_SECRET_FILE", "cannot read"},
		},
		{
			name: "secret without AUTH_CLIENT_ID",
			env: func(*testing.T, string) map[string]string {
				return env(map[string]string{"AUTH_CLIENT_SECRET": clientSecret})
			},
			wantErr: []string{"AUTH_CLIENT_ID"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, tt.env(t, t.TempDir()))
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr, []string{clientSecret, "OTHER-CLIENT-SECRET"})
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := string(cfg.Providers[0].Secret); got != tt.wantSecret {
				t.Fatalf("client secret: got %d bytes, want %d", len(got), len(tt.wantSecret))
			}
		})
	}
}

// TestLoadErrorNamesVariable checks each rule: the error names the variable
// and never carries the value.
func TestLoadErrorNamesVariable(t *testing.T) {
	tests := []struct {
		name    string
		over    map[string]string
		wantErr []string
		leak    string // the offending value, which must not be echoed
	}{
		{"max TTL not a duration", map[string]string{"SUPABASE_JWT_MAX_TTL": "zz-ttl-zz"}, []string{"SUPABASE_JWT_MAX_TTL"}, "zz-ttl-zz"},
		{"max TTL negative", map[string]string{"SUPABASE_JWT_MAX_TTL": "-98765"}, []string{"SUPABASE_JWT_MAX_TTL"}, "98765"},
		{"max TTL zero", map[string]string{"SUPABASE_JWT_MAX_TTL": "0s"}, []string{"SUPABASE_JWT_MAX_TTL", "positive"}, ""},
		{"sub mapping unknown", map[string]string{"SUB_MAPPING": "zz-sub-zz"}, []string{"SUB_MAPPING", "passthrough or uuid5"}, "zz-sub-zz"},
		{"sub mapping wrong case", map[string]string{"SUB_MAPPING": "UUID5"}, []string{"SUB_MAPPING"}, "UUID5"},
		{"namespace not a UUID", map[string]string{"SUB_UUID_NAMESPACE": "zz-ns-zz"}, []string{"SUB_UUID_NAMESPACE", "UUID"}, "zz-ns-zz"},
		{"namespace without dashes", map[string]string{"SUB_UUID_NAMESPACE": "6ba7b8119dad11d180b400c04fd430c8"}, []string{"SUB_UUID_NAMESPACE"}, "6ba7b8119dad11d180b400c04fd430c8"},
		{"algorithms HS256", map[string]string{"AUTH_ALGORITHMS": "HS256"}, []string{"AUTH_ALGORITHMS", "asymmetric"}, "HS256"},
		{"algorithms none", map[string]string{"AUTH_ALGORITHMS": "none"}, []string{"AUTH_ALGORITHMS"}, "none"},
		{"algorithms with one HS512", map[string]string{"AUTH_ALGORITHMS": "RS256, HS512"}, []string{"AUTH_ALGORITHMS"}, "HS512"},
		{"algorithms lower case", map[string]string{"AUTH_ALGORITHMS": "rs256"}, []string{"AUTH_ALGORITHMS"}, "rs256"},
		{"leeway", map[string]string{"AUTH_LEEWAY": "zz-leeway"}, []string{"AUTH_LEEWAY"}, "zz-leeway"},
		{"leeway negative", map[string]string{"AUTH_LEEWAY": "-31s"}, []string{"AUTH_LEEWAY"}, "-31s"},
		{"HTTP timeout", map[string]string{"AUTH_HTTP_TIMEOUT": "zz-timeout"}, []string{"AUTH_HTTP_TIMEOUT"}, "zz-timeout"},
		{"issuer not a URL", map[string]string{"AUTH_ISSUER": "zz-issuer"}, []string{"AUTH_ISSUER", "URL"}, "zz-issuer"},
		{"JWKS URL not http", map[string]string{"AUTH_JWKS_URL": "ftp://zz.example/jwks"}, []string{"AUTH_JWKS_URL"}, "zz.example"},
		{"token URL without host", map[string]string{"AUTH_TOKEN_URL": "https:///zz-token"}, []string{"AUTH_TOKEN_URL"}, "zz-token"},
		{"client auth", map[string]string{"AUTH_CLIENT_AUTH": "zz-auth"}, []string{"AUTH_CLIENT_AUTH", "basic or post"}, "zz-auth"},
		{"JWKS URL and public key", map[string]string{"AUTH_PUBLIC_KEY": "zz-pem"}, []string{"AUTH_JWKS_URL", "AUTH_PUBLIC_KEY"}, "zz-pem"},
		{"no key source", map[string]string{"AUTH_JWKS_URL": unset}, []string{"AUTH_JWKS_URL", "AUTH_PUBLIC_KEY", "AUTH_ISSUER", "AUTH_PROVIDERS"}, ""},
		{"no key source, all empty", map[string]string{"AUTH_JWKS_URL": "", "AUTH_ISSUER": "", "AUTH_PUBLIC_KEY": "", "AUTH_PROVIDERS": ""}, []string{"AUTH_JWKS_URL"}, ""},
		{"port not a number", map[string]string{"PORT": "zz-port"}, []string{"PORT"}, "zz-port"},
		{"port 0", map[string]string{"PORT": "0"}, []string{"PORT"}, ""},
		{"port too large", map[string]string{"PORT": "65536"}, []string{"PORT"}, "65536"},
		{"metrics port not a number", map[string]string{"METRICS_PORT": "on"}, []string{"METRICS_PORT"}, ""},
		{"metrics port is the function's port", map[string]string{"PORT": "9000", "METRICS_PORT": "9000"}, []string{"METRICS_PORT", "PORT"}, ""},
		{"log level", map[string]string{"LOG_LEVEL": "zz-level"}, []string{"LOG_LEVEL"}, "zz-level"},
		{"CORS origin without scheme", map[string]string{"CORS_ALLOWED_ORIGINS": "zz-origin.example"}, []string{"CORS_ALLOWED_ORIGINS"}, "zz-origin"},
		{"CORS origin with a path", map[string]string{"CORS_ALLOWED_ORIGINS": "https://ok.example,https://zz.example/app"}, []string{"CORS_ALLOWED_ORIGINS"}, "zz.example"},
		{"CORS origin with a trailing slash", map[string]string{"CORS_ALLOWED_ORIGINS": "https://zz-slash.example/"}, []string{"CORS_ALLOWED_ORIGINS"}, "zz-slash"},
		{"CORS * inside a list", map[string]string{"CORS_ALLOWED_ORIGINS": "https://zz-list.example,*"}, []string{"CORS_ALLOWED_ORIGINS"}, "zz-list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, env(tt.over))
			checkErr(t, err, tt.wantErr, []string{tt.leak, testSecret})
		})
	}
}

func TestLoadAllProblemsInOneError(t *testing.T) {
	_, err := load(t, map[string]string{
		"SUPABASE_JWT_SECRET":  "short-zz-secret",
		"SUPABASE_JWT_MAX_TTL": "zz-ttl",
		"SUB_MAPPING":          "zz-sub",
		"AUTH_ISSUER":          "zz-issuer",
		"AUTH_ALGORITHMS":      "HS256",
		"PORT":                 "zz-port",
		"LOG_LEVEL":            "zz-level",
		"CORS_ALLOWED_ORIGINS": "zz-origin",
	})
	want := []string{"SUPABASE_JWT_SECRET", "SUPABASE_JWT_MAX_TTL", "SUB_MAPPING", "AUTH_ISSUER", "AUTH_ALGORITHMS", "PORT", "LOG_LEVEL", "CORS_ALLOWED_ORIGINS"}
	checkErr(t, err, want, []string{"short-zz-secret", "zz-ttl", "zz-sub", "zz-issuer", "zz-port", "zz-level", "zz-origin"})
}

func TestLoadCORS(t *testing.T) {
	tests := []struct {
		value string
		want  []string
	}{
		{"", nil},
		{"*", nil},
		{" * ", nil},
		{"https://app.example.com", []string{"https://app.example.com"}},
		{"https://a.example, http://localhost:3000 ,,", []string{"https://a.example", "http://localhost:3000"}},
		{"https://a.example:8443", []string{"https://a.example:8443"}},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.value), func(t *testing.T) {
			cfg := mustLoad(t, env(map[string]string{"CORS_ALLOWED_ORIGINS": tt.value}))
			if !slices.Equal(cfg.CORSOrigins, tt.want) || (cfg.CORSOrigins == nil) != (tt.want == nil) {
				t.Fatalf("got %q, want %q", cfg.CORSOrigins, tt.want)
			}
		})
	}
}

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	pem := "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----"
	pemFile := writeFile(t, dir, "key.pem", pem+"\n")
	tests := []struct {
		name  string
		over  map[string]string
		check func(t *testing.T, c *config.Config)
	}{
		{"issuer and audience", map[string]string{"SUPABASE_JWT_ISSUER": "https://db.example.com/auth/v1", "SUPABASE_JWT_AUDIENCE": "api"}, func(t *testing.T, c *config.Config) {
			if c.Supabase.Issuer != "https://db.example.com/auth/v1" || c.Supabase.Audience != "api" {
				t.Errorf("got issuer %q audience %q, want the configured ones", c.Supabase.Issuer, c.Supabase.Audience)
			}
		}},
		{"empty issuer and audience are unset", map[string]string{"SUPABASE_JWT_ISSUER": "", "SUPABASE_JWT_AUDIENCE": " "}, func(t *testing.T, c *config.Config) {
			if c.Supabase.Issuer != "supabase" || c.Supabase.Audience != "authenticated" {
				t.Errorf("got issuer %q audience %q, want the defaults", c.Supabase.Issuer, c.Supabase.Audience)
			}
		}},
		{"max TTL in seconds", map[string]string{"SUPABASE_JWT_MAX_TTL": "600"}, func(t *testing.T, c *config.Config) {
			if c.Supabase.MaxTTL != 10*time.Minute {
				t.Errorf("got %v, want 10m", c.Supabase.MaxTTL)
			}
		}},
		{"max TTL as a duration", map[string]string{"SUPABASE_JWT_MAX_TTL": "15m"}, func(t *testing.T, c *config.Config) {
			if c.Supabase.MaxTTL != 15*time.Minute {
				t.Errorf("got %v, want 15m", c.Supabase.MaxTTL)
			}
		}},
		{"port", map[string]string{"PORT": "9000"}, func(t *testing.T, c *config.Config) {
			if c.Port != 9000 {
				t.Errorf("got %d, want 9000", c.Port)
			}
			if c.MetricsPort != 0 {
				t.Errorf("metrics port: got %d, want 0 (off by default)", c.MetricsPort)
			}
		}},
		{"metrics port", map[string]string{"METRICS_PORT": "9464"}, func(t *testing.T, c *config.Config) {
			if c.MetricsPort != 9464 {
				t.Errorf("got %d, want 9464", c.MetricsPort)
			}
		}},
		{"metrics off", map[string]string{"METRICS_PORT": "off"}, func(t *testing.T, c *config.Config) {
			if c.MetricsPort != 0 {
				t.Errorf("got %d, want 0", c.MetricsPort)
			}
		}},
		{"log level", map[string]string{"LOG_LEVEL": "debug"}, func(t *testing.T, c *config.Config) {
			if c.LogLevel != slog.LevelDebug {
				t.Errorf("got %v, want DEBUG", c.LogLevel)
			}
		}},
		{"passthrough list", map[string]string{"CLAIMS_PASSTHROUGH": "email, org_id,,tenant"}, func(t *testing.T, c *config.Config) {
			if got, want := c.Providers[0].Mapping.Passthrough, []string{"email", "org_id", "tenant"}; !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		}},
		// The one documented exception to "empty is unset" (template.yaml).
		{"passthrough explicitly empty copies nothing", map[string]string{"CLAIMS_PASSTHROUGH": ""}, func(t *testing.T, c *config.Config) {
			if got := c.Providers[0].Mapping.Passthrough; len(got) != 0 {
				t.Errorf("got %q, want none", got)
			}
		}},
		{"uuid5 with the default namespace", map[string]string{"SUB_MAPPING": "uuid5"}, func(t *testing.T, c *config.Config) {
			m := c.Providers[0].Mapping
			if m.Sub != claims.SubUUID5 || m.Namespace != claims.NamespaceURL {
				t.Errorf("got %q in %s, want uuid5 in the URL namespace", m.Sub, m.Namespace)
			}
		}},
		{"uuid5 with a namespace", map[string]string{"SUB_MAPPING": "uuid5", "SUB_UUID_NAMESPACE": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}, func(t *testing.T, c *config.Config) {
			if got := c.Providers[0].Mapping.Namespace.String(); got != "6ba7b810-9dad-11d1-80b4-00c04fd430c8" {
				t.Errorf("got namespace %s, want the DNS namespace", got)
			}
		}},
		{"explicit passthrough", map[string]string{"SUB_MAPPING": "passthrough"}, func(t *testing.T, c *config.Config) {
			if got := c.Providers[0].Mapping.Sub; got != claims.SubPassthrough {
				t.Errorf("got %q, want passthrough", got)
			}
		}},
		{"the single provider", map[string]string{
			"AUTH_ISSUER":       "https://auth.example.com/application/o/app/",
			"AUTH_AUDIENCE":     "client-a, client-b",
			"AUTH_ALGORITHMS":   "RS256,ES256,EdDSA",
			"AUTH_LEEWAY":       "45",
			"AUTH_TOKEN_URL":    "https://auth.example.com/application/o/token/",
			"AUTH_CLIENT_ID":    "supabridge",
			"AUTH_CLIENT_AUTH":  "post",
			"AUTH_HTTP_TIMEOUT": "2s",
		}, func(t *testing.T, c *config.Config) {
			p := c.Providers[0]
			if p.Issuer != "https://auth.example.com/application/o/app/" {
				t.Errorf("issuer: got %q, want it byte for byte", p.Issuer)
			}
			if want := []string{"client-a", "client-b"}; !slices.Equal(p.Audience, want) {
				t.Errorf("audience: got %q, want %q", p.Audience, want)
			}
			if want := []string{"RS256", "ES256", "EdDSA"}; !slices.Equal(p.Algorithms, want) {
				t.Errorf("algorithms: got %q, want %q", p.Algorithms, want)
			}
			if p.Leeway != 45*time.Second || p.HTTPTimeout != 2*time.Second {
				t.Errorf("got leeway %v, timeout %v; want 45s, 2s", p.Leeway, p.HTTPTimeout)
			}
			if p.TokenURL != "https://auth.example.com/application/o/token/" || p.ClientID != "supabridge" || p.ClientAuth != "post" {
				t.Errorf("got token URL %q, client %q, auth %q", p.TokenURL, p.ClientID, p.ClientAuth)
			}
			if !p.CanRefresh() {
				t.Error("CanRefresh: got false, want true")
			}
			pol := p.Policy()
			if pol.Name != "default" || pol.Issuer != p.Issuer || !slices.Equal(pol.Audience, p.Audience) || pol.Leeway != p.Leeway || pol.Keys != nil {
				t.Errorf("policy: got %+v, want the provider's fields and no keys", pol)
			}
		}},
		{"leeway 0 means none", map[string]string{"AUTH_LEEWAY": "0"}, func(t *testing.T, c *config.Config) {
			if got := c.Providers[0].Leeway; got != 0 {
				t.Errorf("got %v, want 0 (no leeway)", got)
			}
		}},
		{"leeway as a duration", map[string]string{"AUTH_LEEWAY": "1m"}, func(t *testing.T, c *config.Config) {
			if got := c.Providers[0].Leeway; got != time.Minute {
				t.Errorf("got %v, want 1m", got)
			}
		}},
		{"client auth basic", map[string]string{"AUTH_CLIENT_AUTH": "basic"}, func(t *testing.T, c *config.Config) {
			if got := c.Providers[0].ClientAuth; got != "basic" {
				t.Errorf("got %q, want basic", got)
			}
		}},
		{"discovery from the issuer alone", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_ISSUER": "https://idp.example.com", "AUTH_CLIENT_ID": "cid"}, func(t *testing.T, c *config.Config) {
			p := c.Providers[0]
			if p.JWKSURL != "" || p.Issuer != "https://idp.example.com" || !p.CanRefresh() {
				t.Errorf("got JWKS %q issuer %q refresh %v, want discovery from the issuer", p.JWKSURL, p.Issuer, p.CanRefresh())
			}
		}},
		{"public key", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PUBLIC_KEY": pem}, func(t *testing.T, c *config.Config) {
			if got := string(c.Providers[0].PublicKey); got != pem {
				t.Errorf("got public key %q, want the PEM", got)
			}
		}},
		{"public key file", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PUBLIC_KEY_FILE": pemFile}, func(t *testing.T, c *config.Config) {
			if got := string(c.Providers[0].PublicKey); got != pem {
				t.Errorf("got public key %q, want the PEM", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustLoad(t, env(tt.over)))
		})
	}
}

// wantProviders is what testdata/providers.{json,yaml} hold.
func checkTestdataProviders(t *testing.T, ps []config.Provider) {
	t.Helper()
	if len(ps) != 2 {
		t.Fatalf("got %d providers, want 2", len(ps))
	}
	a, d := ps[0], ps[1]
	if a.Name != "authentik" || a.Issuer != "https://auth.example.com/application/o/app/" || a.JWKSURL != "https://auth.example.com/application/o/app/jwks/" {
		t.Errorf("authentik: got name %q issuer %q JWKS %q", a.Name, a.Issuer, a.JWKSURL)
	}
	if !slices.Equal(a.Audience, []string{"client-a"}) {
		t.Errorf("authentik audience: got %q, want [client-a]", a.Audience)
	}
	if a.Leeway != 30*time.Second || a.HTTPTimeout != 5*time.Second || a.ClientAuth != "basic" {
		t.Errorf("authentik defaults: got leeway %v timeout %v auth %q; want 30s 5s basic", a.Leeway, a.HTTPTimeout, a.ClientAuth)
	}
	wantRules := []claims.Rule{
		{Target: "tenant", AppMetadata: true, Pointer: "/tenant"},
		{Target: "org_id", Pointer: "/attributes/org"},
	}
	if !reflect.DeepEqual(a.Mapping.Rules, wantRules) {
		t.Errorf("authentik rules: got %+v, want %+v", a.Mapping.Rules, wantRules)
	}
	if a.Mapping.Provider != "authentik" || a.Mapping.Sub != claims.SubPassthrough || a.Mapping.Namespace != claims.NamespaceURL {
		t.Errorf("authentik mapping: got %+v", a.Mapping)
	}
	if !slices.Equal(a.Mapping.Passthrough, claims.DefaultPassthrough) {
		t.Errorf("authentik passthrough: got %q, want the default", a.Mapping.Passthrough)
	}

	if d.Name != "dex" || d.Issuer != "https://dex.example.com" || d.JWKSURL != "" {
		t.Errorf("dex: got name %q issuer %q JWKS %q", d.Name, d.Issuer, d.JWKSURL)
	}
	if !slices.Equal(d.Audience, []string{"aud-1", "aud-2"}) || !slices.Equal(d.Algorithms, []string{"RS256", "ES256"}) {
		t.Errorf("dex: got audience %q algorithms %q", d.Audience, d.Algorithms)
	}
	if d.Leeway != 10*time.Second || d.HTTPTimeout != 2*time.Second {
		t.Errorf("dex: got leeway %v timeout %v, want 10s 2s", d.Leeway, d.HTTPTimeout)
	}
	if d.Mapping.Sub != claims.SubUUID5 || d.Mapping.Namespace.String() != "6ba7b810-9dad-11d1-80b4-00c04fd430c8" {
		t.Errorf("dex: got sub %q namespace %s", d.Mapping.Sub, d.Mapping.Namespace)
	}
	if !slices.Equal(d.Mapping.Passthrough, []string{"email", "groups"}) {
		t.Errorf("dex passthrough: got %q, want [email groups]", d.Mapping.Passthrough)
	}
	if d.TokenURL != "https://dex.example.com/token" || d.ClientID != "supabridge" || d.ClientAuth != "post" {
		t.Errorf("dex: got token URL %q client %q auth %q", d.TokenURL, d.ClientID, d.ClientAuth)
	}
	if got := string(d.Secret); got != "TESTDATA-CLIENT-SECRET-not-real" {
		t.Errorf("dex secret: got %d bytes, want the file's first line", len(got))
	}
	if !d.CanRefresh() {
		t.Error("dex CanRefresh: got false, want true")
	}
}

func TestLoadProviders(t *testing.T) {
	js, err := os.ReadFile("testdata/providers.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"AUTH_PROVIDERS JSON", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": string(js)}},
		{"AUTH_PROVIDERS_FILE JSON", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS_FILE": "testdata/providers.json"}},
		{"AUTH_PROVIDERS_FILE YAML", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS_FILE": "testdata/providers.yaml"}},
		{"empty single-provider variables are unset", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS_FILE": "testdata/providers.yaml", "AUTH_ISSUER": "", "AUTH_JWKS_URL": ""}},
	}
	var first []config.Provider
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, tt.env)
			checkTestdataProviders(t, cfg.Providers)
			if i == 0 {
				first = cfg.Providers
			} else if first != nil && !reflect.DeepEqual(cfg.Providers, first) {
				t.Errorf("got %+v, want the same providers as from JSON %+v", cfg.Providers, first)
			}
		})
	}
}

func TestLoadProvidersGlobalDefaults(t *testing.T) {
	cfg := mustLoad(t, map[string]string{
		"SUPABASE_JWT_SECRET": testSecret,
		"CLAIMS_PASSTHROUGH":  "email,tenant",
		"SUB_MAPPING":         "uuid5",
		"SUB_UUID_NAMESPACE":  "6ba7b812-9dad-11d1-80b4-00c04fd430c8",
		"AUTH_HTTP_TIMEOUT":   "3s",
		"AUTH_PROVIDERS":      `[{"name":"a","issuer":"https://a.example","sub_mapping":"uuid5"},{"name":"b","issuer":"https://b.example","sub_mapping":"passthrough","claims_passthrough":[],"leeway":0,"http_timeout":7}]`,
	})
	a, b := cfg.Providers[0], cfg.Providers[1]
	if !slices.Equal(a.Mapping.Passthrough, []string{"email", "tenant"}) || a.Mapping.Sub != claims.SubUUID5 || a.Mapping.Namespace.String() != "6ba7b812-9dad-11d1-80b4-00c04fd430c8" || a.HTTPTimeout != 3*time.Second {
		t.Errorf("a: got passthrough %q sub %q namespace %s timeout %v, want the global settings", a.Mapping.Passthrough, a.Mapping.Sub, a.Mapping.Namespace, a.HTTPTimeout)
	}
	if len(b.Mapping.Passthrough) != 0 || b.Mapping.Sub != claims.SubPassthrough || b.HTTPTimeout != 7*time.Second {
		t.Errorf("b: got passthrough %q sub %q timeout %v, want its own settings", b.Mapping.Passthrough, b.Mapping.Sub, b.HTTPTimeout)
	}
	if b.Leeway != 0 {
		t.Errorf("b: got leeway %v, want 0 (an explicit 0 means none)", b.Leeway)
	}
}

func TestLoadProvidersClientSecret(t *testing.T) {
	dir := t.TempDir()
	secretFile := writeFile(t, dir, "secret", "FILE-CLIENT-SECRET-value\r\n")
	tests := []struct {
		name       string
		entry      string
		extra      map[string]string
		wantSecret string
		wantErr    []string
	}{
		{"client_secret_env", `"client_id":"c","client_secret_env":"DEX_CLIENT_SECRET"`, map[string]string{"DEX_CLIENT_SECRET": "ENV-CLIENT-SECRET-value"}, "ENV-CLIENT-SECRET-value", nil},
		{"client_secret_file", `"client_id":"c","client_secret_file":` + strconv.Quote(secretFile), nil, "FILE-CLIENT-SECRET-value", nil},
		{"public client", `"client_id":"c"`, nil, "", nil},
		{"client_secret_env names an unset variable", `"client_id":"c","client_secret_env":"DEX_CLIENT_SECRET"`, nil, "", []string{"AUTH_PROVIDERS[0] (dex).client_secret_env", "not set"}},
		{"client_secret_env names an empty variable", `"client_id":"c","client_secret_env":"DEX_CLIENT_SECRET"`, map[string]string{"DEX_CLIENT_SECRET": ""}, "", []string{"client_secret_env", "not set"}},
		{"client_secret_file unreadable", `"client_id":"c","client_secret_file":` + strconv.Quote(filepath.Join(dir, "missing")), nil, "", []string{"AUTH_PROVIDERS[0] (dex).client_secret_file", "cannot read"}},
		{"both", `"client_id":"c","client_secret_env":"DEX_CLIENT_SECRET","client_secret_file":` + strconv.Quote(secretFile), map[string]string{"DEX_CLIENT_SECRET": "ENV-CLIENT-SECRET-value"}, "", []string{"client_secret_env", "client_secret_file", "both set"}},
		{"inline client_secret", `"client_id":"c","client_secret":"INLINE-CLIENT-SECRET-value"`, nil, "", []string{"AUTH_PROVIDERS[0] (dex).client_secret", "not allowed inline"}},
		{"inline client_secret, other case", `"client_id":"c","Client_Secret":"INLINE-CLIENT-SECRET-value"`, nil, "", []string{"client_secret", "not allowed inline"}},
		{"secret without client_id", `"client_secret_env":"DEX_CLIENT_SECRET"`, map[string]string{"DEX_CLIENT_SECRET": "ENV-CLIENT-SECRET-value"}, "", []string{"client_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": `[{"name":"dex","issuer":"https://dex.example.com",` + tt.entry + `}]`}
			for k, v := range tt.extra {
				m[k] = v
			}
			cfg, err := load(t, m)
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr, []string{"ENV-CLIENT-SECRET-value", "FILE-CLIENT-SECRET-value", "INLINE-CLIENT-SECRET-value"})
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := string(cfg.Providers[0].Secret); got != tt.wantSecret {
				t.Fatalf("secret: got %d bytes, want %d", len(got), len(tt.wantSecret))
			}
		})
	}
}

func TestLoadProvidersInlineSecretFile(t *testing.T) {
	_, err := load(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS_FILE": "testdata/providers-inline-secret.yaml"})
	checkErr(t, err, []string{"AUTH_PROVIDERS_FILE[0] (authentik).client_secret", "not allowed inline"}, []string{"INLINE-SECRET-VALUE"})
}

func TestLoadProvidersErrors(t *testing.T) {
	const ok = `{"name":"a","issuer":"https://a.example"}`
	tests := []struct {
		name    string
		list    string
		wantErr []string
		leak    string
	}{
		{"not JSON or YAML", `[{"name": "zz-value`, []string{"AUTH_PROVIDERS", "not JSON or YAML"}, "zz-value"},
		{"an object, not a list", `{"name":"zz-value","issuer":"https://a.example"}`, []string{"AUTH_PROVIDERS", "array"}, "zz-value"},
		{"a string, not a list", `"zz-value"`, []string{"AUTH_PROVIDERS"}, "zz-value"},
		{"empty list", `[]`, []string{"AUTH_PROVIDERS", "no provider"}, ""},
		{"unknown field", `[{"name":"a","issuer":"https://a.example","colour":"zz-value"}]`, []string{"AUTH_PROVIDERS", `unknown field "colour"`}, "zz-value"},
		{"wrong type", `[{"name":"a","issuer":"https://a.example","client_id":12345}]`, []string{"AUTH_PROVIDERS", "client_id"}, "12345"},
		{"bad audience", `[{"name":"a","issuer":"https://a.example","audience":{"zz-value":1}}]`, []string{"AUTH_PROVIDERS"}, "zz-value"},
		{"bad leeway", `[{"name":"a","issuer":"https://a.example","leeway":"zz-value"}]`, []string{"AUTH_PROVIDERS"}, "zz-value"},
		{"negative http_timeout", `[{"name":"a","issuer":"https://a.example","http_timeout":"-5s"}]`, []string{"AUTH_PROVIDERS"}, "-5s"},
		{"missing name", `[{"issuer":"https://a.example"}]`, []string{"AUTH_PROVIDERS[0].name", "required"}, ""},
		{"bad name", `[{"name":"Zz Value","issuer":"https://a.example"}]`, []string{"AUTH_PROVIDERS[0]", ".name"}, ""},
		{"duplicate name", `[` + ok + `,{"name":"a","issuer":"https://b.example"}]`, []string{"AUTH_PROVIDERS[1] (a).name", "twice"}, ""},
		{"missing issuer", `[{"name":"a"}]`, []string{"AUTH_PROVIDERS[0] (a).issuer", "required"}, ""},
		{"duplicate issuer", `[` + ok + `,{"name":"b","issuer":"https://a.example"}]`, []string{"AUTH_PROVIDERS[1] (b).issuer", "same issuer"}, ""},
		{"issuer not a URL", `[{"name":"a","issuer":"zz-value"}]`, []string{"AUTH_PROVIDERS[0] (a).issuer", "URL"}, "zz-value"},
		{"jwks_url not a URL", `[{"name":"a","issuer":"https://a.example","jwks_url":"zz-value"}]`, []string{"AUTH_PROVIDERS[0] (a).jwks_url"}, "zz-value"},
		{"jwks_url and public_key", `[{"name":"a","issuer":"https://a.example","jwks_url":"https://a.example/jwks","public_key":"zz-value"}]`, []string{"(a).jwks_url", "(a).public_key"}, "zz-value"},
		{"token_url not a URL", `[{"name":"a","issuer":"https://a.example","token_url":"zz-value"}]`, []string{"(a).token_url"}, "zz-value"},
		{"HS256", `[{"name":"a","issuer":"https://a.example","algorithms":["RS256","HS256"]}]`, []string{"(a).algorithms", "asymmetric"}, "HS256"},
		{"none", `[{"name":"a","issuer":"https://a.example","algorithms":"none"}]`, []string{"(a).algorithms"}, ""},
		{"client_auth", `[{"name":"a","issuer":"https://a.example","client_auth":"zz-value"}]`, []string{"(a).client_auth"}, "zz-value"},
		{"sub_mapping", `[{"name":"a","issuer":"https://a.example","sub_mapping":"zz-value"}]`, []string{"AUTH_PROVIDERS[0] (a).sub_mapping"}, "zz-value"},
		{"sub_uuid_namespace", `[{"name":"a","issuer":"https://a.example","sub_uuid_namespace":"zz-value"}]`, []string{"AUTH_PROVIDERS[0] (a).sub_uuid_namespace"}, "zz-value"},
		{"claims_map role", `[{"name":"a","issuer":"https://a.example","claims_map":{"role":"/zz-value"}}]`, []string{"(a).claims_map", `"role"`, "reserved"}, "zz-value"},
		{"claims_map sub", `[{"name":"a","issuer":"https://a.example","claims_map":{"sub":"/zz-value"}}]`, []string{"(a).claims_map", `"sub"`, "reserved"}, "zz-value"},
		{"claims_map aud", `[{"name":"a","issuer":"https://a.example","claims_map":{"aud":"/x"}}]`, []string{`"aud"`, "reserved"}, ""},
		{"claims_map app_metadata", `[{"name":"a","issuer":"https://a.example","claims_map":{"app_metadata":"/x"}}]`, []string{`"app_metadata"`, "reserved"}, ""},
		{"claims_map user_metadata", `[{"name":"a","issuer":"https://a.example","claims_map":{"user_metadata":"/x"}}]`, []string{`"user_metadata"`, "reserved"}, ""},
		{"claims_map session_id", `[{"name":"a","issuer":"https://a.example","claims_map":{"session_id":"/x"}}]`, []string{`"session_id"`, "reserved"}, ""},
		{"claims_map empty target", `[{"name":"a","issuer":"https://a.example","claims_map":{"":"/x"}}]`, []string{"(a).claims_map", "reserved"}, ""},
		{"claims_map app_metadata.provider", `[{"name":"a","issuer":"https://a.example","claims_map":{"app_metadata.provider":"/x"}}]`, []string{`"app_metadata.provider"`, "reserved"}, ""},
		{"claims_map app_metadata.providers", `[{"name":"a","issuer":"https://a.example","claims_map":{"app_metadata.providers":"/x"}}]`, []string{`"app_metadata.providers"`, "reserved"}, ""},
		{"claims_map app_metadata. empty key", `[{"name":"a","issuer":"https://a.example","claims_map":{"app_metadata.":"/x"}}]`, []string{`"app_metadata."`, "reserved"}, ""},
		{"claims_map pointer without slash", `[{"name":"a","issuer":"https://a.example","claims_map":{"org_id":"zz-value"}}]`, []string{"(a).claims_map", "JSON Pointer"}, "zz-value"},
		{"claims_map pointer bad escape", `[{"name":"a","issuer":"https://a.example","claims_map":{"org_id":"/zz~2value"}}]`, []string{"(a).claims_map", "JSON Pointer"}, "zz~2value"},
		{"claims_map pointer trailing tilde", `[{"name":"a","issuer":"https://a.example","claims_map":{"org_id":"/zz~"}}]`, []string{"JSON Pointer"}, "/zz~"},
		{"claims_map pointer root", `[{"name":"a","issuer":"https://a.example","claims_map":{"org_id":"/"}}]`, []string{"JSON Pointer"}, ""},
		{"claims_map pointer empty", `[{"name":"a","issuer":"https://a.example","claims_map":{"org_id":""}}]`, []string{"JSON Pointer"}, ""},
		{"claims_map not strings", `[{"name":"a","issuer":"https://a.example","claims_map":{"org_id":12345}}]`, []string{"AUTH_PROVIDERS", "claims_map"}, "12345"},
		{"every entry is checked", `[{"name":"a","issuer":"zz-value"},{"name":"b","issuer":"https://b.example","client_auth":"zz-value"}]`, []string{"AUTH_PROVIDERS[0] (a).issuer", "AUTH_PROVIDERS[1] (b).client_auth"}, "zz-value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": tt.list})
			checkErr(t, err, tt.wantErr, []string{tt.leak, testSecret})
		})
	}
}

func TestLoadProvidersClaimsMap(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": `[{"name":"kc","issuer":"https://kc.example/realms/r","claims_map":{
		"org_id": "/attributes/org/0",
		"app_metadata.roles": "/realm_access/roles",
		"app_metadata.a.b": "/a~1b/c~0d",
		"tenant": "/tenant"
	}}]`})
	want := []claims.Rule{
		{Target: "a.b", AppMetadata: true, Pointer: "/a~1b/c~0d"},
		{Target: "roles", AppMetadata: true, Pointer: "/realm_access/roles"},
		{Target: "org_id", Pointer: "/attributes/org/0"},
		{Target: "tenant", Pointer: "/tenant"},
	}
	if got := cfg.Providers[0].Mapping.Rules; !reflect.DeepEqual(got, want) {
		t.Fatalf("got rules %+v, want %+v", got, want)
	}
}

// TestLoadProvidersRefusesIgnoredInput checks that a providers list is read
// whole: nothing after it may be silently dropped.
func TestLoadProvidersRefusesIgnoredInput(t *testing.T) {
	tests := []struct {
		name string
		list string
	}{
		{"second YAML document", "- name: a\n  issuer: https://a.example\n---\n- name: b\n  issuer: https://b.example\n"},
		{"trailing text after JSON", `[{"name":"a","issuer":"https://a.example"}] [{"name":"b","issuer":"https://b.example"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": tt.list})
			if err == nil {
				t.Fatalf("got %d provider(s) and no error, want an error naming AUTH_PROVIDERS", len(cfg.Providers))
			}
			checkErr(t, err, []string{"AUTH_PROVIDERS"}, nil)
		})
	}
}

func TestLoadProvidersMixedWithSingleVariables(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "f", "x\n")
	list := `[{"name":"a","issuer":"https://a.example"}]`
	tests := []struct {
		name  string
		value string
	}{
		{"AUTH_ISSUER", "https://a.example"},
		{"AUTH_JWKS_URL", jwksURL},
		{"AUTH_PUBLIC_KEY", "zz-pem"},
		{"AUTH_PUBLIC_KEY_FILE", file},
		{"AUTH_AUDIENCE", "aud"},
		{"AUTH_ALGORITHMS", "RS256"},
		{"AUTH_LEEWAY", "10"},
		{"AUTH_TOKEN_URL", "https://a.example/token"},
		{"AUTH_CLIENT_ID", "cid"},
		{"AUTH_CLIENT_SECRET", "MIXED-CLIENT-SECRET"},
		{"AUTH_CLIENT_SECRET_FILE", file},
		{"AUTH_CLIENT_AUTH", "post"},
	}
	for _, from := range []string{"AUTH_PROVIDERS", "AUTH_PROVIDERS_FILE"} {
		for _, tt := range tests {
			t.Run(from+"+"+tt.name, func(t *testing.T) {
				m := map[string]string{"SUPABASE_JWT_SECRET": testSecret, tt.name: tt.value}
				if from == "AUTH_PROVIDERS" {
					m[from] = list
				} else {
					m[from] = writeFile(t, t.TempDir(), "p.json", list)
				}
				_, err := load(t, m)
				checkErr(t, err, []string{from, tt.name, "one form"}, []string{"MIXED-CLIENT-SECRET"})
			})
		}
	}
	t.Run("AUTH_PROVIDERS and AUTH_PROVIDERS_FILE", func(t *testing.T) {
		_, err := load(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": list, "AUTH_PROVIDERS_FILE": "testdata/providers.yaml"})
		checkErr(t, err, []string{"AUTH_PROVIDERS", "AUTH_PROVIDERS_FILE", "both set"}, nil)
	})
	t.Run("AUTH_PROVIDERS_FILE unreadable", func(t *testing.T) {
		_, err := load(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS_FILE": filepath.Join(dir, "missing.yaml")})
		checkErr(t, err, []string{"AUTH_PROVIDERS_FILE", "cannot read"}, nil)
	})
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30", 30 * time.Second, false},
		{"0", 0, false},
		{"30s", 30 * time.Second, false},
		{"5m", 5 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"", 0, true},
		{"5 minutes", 0, true},
		{"1.5", 0, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := config.ParseDuration(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ,", nil},
		{"a", []string{"a"}},
		{" a , b,,c ", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			if got := config.List(tt.in); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	vars := config.Variables()
	byName := map[string]config.Variable{}
	for _, v := range vars {
		if _, dup := byName[v.Name]; dup {
			t.Errorf("%s is listed twice", v.Name)
		}
		if v.Description == "" {
			t.Errorf("%s has no description", v.Name)
		}
		byName[v.Name] = v
	}
	want := []string{
		"SUPABASE_JWT_SECRET", "JWT_SECRET", "SUPABRIDGE_SIGNING_KEY", "SUPABASE_JWT_KEYS", "SUPABRIDGE_PREVIOUS_KEYS", "SUPABASE_JWT_ISSUER", "SUPABASE_JWT_AUDIENCE", "SUPABASE_JWT_MAX_TTL",
		"CLAIMS_PASSTHROUGH", "SUB_MAPPING", "SUB_UUID_NAMESPACE", "AUTH_ISSUER", "AUTH_JWKS_URL", "AUTH_PUBLIC_KEY",
		"AUTH_AUDIENCE", "AUTH_ALGORITHMS", "AUTH_LEEWAY", "AUTH_TOKEN_URL", "AUTH_CLIENT_ID", "AUTH_CLIENT_SECRET",
		"AUTH_CLIENT_AUTH", "AUTH_HTTP_TIMEOUT", "AUTH_PROVIDERS", "AUTH_PROVIDERS_FILE", "CORS_ALLOWED_ORIGINS", "PORT", "LOG_LEVEL",
	}
	for _, n := range want {
		if _, ok := byName[n]; !ok {
			t.Errorf("Variables() lacks %s", n)
		}
	}
	for _, v := range vars {
		wantRequired := v.Name == "SUPABASE_JWT_SECRET"
		if v.Required != wantRequired {
			t.Errorf("%s: got Required %v, want %v", v.Name, v.Required, wantRequired)
		}
		var wantAlt []string
		if wantRequired {
			// Either stands in for the legacy secret (TestSigningSources).
			wantAlt = []string{"SUPABRIDGE_SIGNING_KEY", "SUPABASE_JWT_KEYS"}
		}
		if !slices.Equal(v.Alternatives, wantAlt) {
			t.Errorf("%s: got Alternatives %v, want %v", v.Name, v.Alternatives, wantAlt)
		}
		wantSecret := v.Name == "SUPABASE_JWT_SECRET" || v.Name == "JWT_SECRET" || v.Name == "AUTH_CLIENT_SECRET" ||
			v.Name == "SUPABRIDGE_SIGNING_KEY" || v.Name == "SUPABASE_JWT_KEYS"
		if v.Secret != wantSecret {
			t.Errorf("%s: got Secret %v, want %v", v.Name, v.Secret, wantSecret)
		}
	}
	vars[0].Name = "MUTATED"
	if config.Variables()[0].Name == "MUTATED" {
		t.Error("Variables() returned the package's own slice; want a copy")
	}
}

// TestVariablesCoverEveryRead reads the package's source: every name it
// reads from the environment (Env* constants, and string literals that look
// like variable names) must be listed by Variables(), directly or as the
// _FILE form of a listed variable; and the package reads the environment
// only through its Env.
func TestVariablesCoverEveryRead(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{} // Env* identifier -> value
	var parsed []*ast.File
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Env") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[n.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	if len(consts) < 20 {
		t.Fatalf("found %d Env* constants, want the whole list; has the source moved?", len(consts))
	}

	// Which argument expressions may be dynamic (not a constant) at a read.
	// name is the parameter of the reader's own methods; v ranges over
	// singleVars (Env* constants); e.ClientSecretEnv is the operator's choice.
	dynamicOK := map[string]bool{"name": true, `name + "_FILE"`: true, "v": true, "e.ClientSecretEnv": true}
	envLike := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)
	read := map[string]bool{}     // names read
	fileForm := map[string]bool{} // names also read as _FILE through reader.secret
	resolve := func(e ast.Expr) (string, bool) {
		switch x := e.(type) {
		case *ast.Ident:
			v, ok := consts[x.Name]
			return v, ok
		case *ast.BasicLit:
			s, err := strconv.Unquote(x.Value)
			return s, err == nil
		case *ast.BinaryExpr:
			if id, ok := x.X.(*ast.Ident); ok {
				if lit, ok := x.Y.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					return consts[id.Name] + s, consts[id.Name] != ""
				}
			}
		}
		return "", false
	}
	for _, af := range parsed {
		ast.Inspect(af, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "os" && (x.Sel.Name == "Getenv" || x.Sel.Name == "LookupEnv" || x.Sel.Name == "Environ") {
					t.Errorf("%s: os.%s: the package must read the environment only through its Env", fset.Position(x.Pos()), x.Sel.Name)
				}
			case *ast.BasicLit:
				if x.Kind == token.STRING {
					s, _ := strconv.Unquote(x.Value)
					if envLike.MatchString(s) && !slices.Contains(slices.Collect(mapValues(consts)), s) {
						t.Errorf("%s: string %q looks like a variable name but is not an Env* constant", fset.Position(x.Pos()), s)
					}
				}
			case *ast.CallExpr:
				name := ""
				switch f := x.Fun.(type) {
				case *ast.Ident:
					if f.Name == "env" { // env(...), the Env given to Load
						name = f.Name
					}
				case *ast.SelectorExpr:
					if id, ok := f.X.(*ast.Ident); ok && id.Name == "r" { // r.get, r.secret, r.duration, r.env
						name = f.Sel.Name
					}
				}
				if !slices.Contains([]string{"env", "get", "secret", "duration"}, name) || len(x.Args) == 0 {
					return true
				}
				v, ok := resolve(x.Args[0])
				if !ok {
					src := exprString(fset, x.Args[0])
					if !dynamicOK[src] {
						t.Errorf("%s: %s(%s) reads a variable this test cannot resolve", fset.Position(x.Pos()), name, src)
					}
					return true
				}
				read[v] = true
				if name == "secret" {
					fileForm[v] = true
				}
			}
			return true
		})
	}
	if len(read) < 20 {
		t.Fatalf("found %d reads, want every variable; has the reader changed?", len(read))
	}

	listed := map[string]config.Variable{}
	for _, v := range config.Variables() {
		listed[v.Name] = v
	}
	covered := func(n string) bool {
		if _, ok := listed[n]; ok {
			return true
		}
		base, ok := strings.CutSuffix(n, "_FILE")
		v, listedBase := listed[base]
		return ok && listedBase && (v.Secret || strings.Contains(v.Description, n))
	}
	for n := range read {
		if !covered(n) {
			t.Errorf("the package reads %s, but Variables() does not list it", n)
		}
	}
	for n := range fileForm {
		if !covered(n + "_FILE") {
			t.Errorf("the package reads %s_FILE, but Variables() neither marks %s Secret nor mentions %s_FILE", n, n, n)
		}
	}
	for id, v := range consts {
		if !covered(v) {
			t.Errorf("constant %s = %q is not listed by Variables()", id, v)
		}
	}
	for n := range listed {
		if !read[n] {
			t.Errorf("Variables() lists %s, which the package never reads", n)
		}
	}
}

func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.SelectorExpr:
		return exprString(fset, x.X) + "." + x.Sel.Name
	case *ast.BasicLit:
		return x.Value
	case *ast.BinaryExpr:
		return exprString(fset, x.X) + " " + x.Op.String() + " " + exprString(fset, x.Y)
	}
	return fmt.Sprintf("%T at %s", e, fset.Position(e.Pos()))
}

func TestSecretRedacted(t *testing.T) {
	const value = "REDACT-ME-0123456789"
	s := config.Secret(value)
	type holder struct {
		Name   string
		Secret config.Secret
	}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	logger.Info("secret", "s", s, "holder", holder{"n", s}, "provider", config.Provider{Name: "p", Secret: s})
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	hjs, err := json.Marshal(holder{"n", s})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		out  string
		want string // a substring the output must hold
	}{
		{"%v", fmt.Sprintf("%v", s), "[redacted]"},
		{"%s", fmt.Sprintf("%s", s), "[redacted]"},
		{"%q", fmt.Sprintf("%q", s), "[redacted]"},
		{"%#v", fmt.Sprintf("%#v", s), "[redacted]"},
		{"%+v of a struct", fmt.Sprintf("%+v", holder{"n", s}), "[redacted]"},
		{"%#v of a struct", fmt.Sprintf("%#v", holder{"n", s}), "[redacted]"},
		{"%v of a Provider", fmt.Sprintf("%v", config.Provider{Name: "p", Secret: s}), "[redacted]"},
		{"Sprint", fmt.Sprint(s), "[redacted]"},
		{"slog JSON", logBuf.String(), `"s":"[redacted]"`},
		{"json.Marshal", string(js), `"[redacted]"`},
		{"json.Marshal of a struct", string(hjs), `"Secret":"[redacted]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.out, value) || strings.Contains(tt.out, base64.StdEncoding.EncodeToString([]byte(value))) {
				t.Fatalf("got %q, want no trace of the value", tt.out)
			}
			if !strings.Contains(tt.out, tt.want) {
				t.Fatalf("got %q, want it to contain %q", tt.out, tt.want)
			}
		})
	}
	if strings.Count(logBuf.String(), "[redacted]") != 3 {
		t.Errorf("slog: got %q, want [redacted] three times", logBuf.String())
	}
	if string(s) != value {
		t.Errorf("the value itself: got %d bytes, want %d", len(s), len(value))
	}
}

// TestConfigPrintsNoSecret checks that printing or logging a whole loaded
// configuration reveals neither the Supabase JWT secret nor a client secret.
func TestConfigPrintsNoSecret(t *testing.T) {
	const clientSecret = "CLIENT-SECRET-in-a-config-dump"
	cfg := mustLoad(t, env(map[string]string{"AUTH_CLIENT_ID": "cid", "AUTH_CLIENT_SECRET": clientSecret}))
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "cfg", cfg)
	js, _ := json.Marshal(cfg)
	for name, out := range map[string]string{
		"%v":           fmt.Sprintf("%v", cfg),
		"%+v":          fmt.Sprintf("%+v", cfg),
		"%#v":          fmt.Sprintf("%#v", cfg),
		"json.Marshal": string(js),
		"slog JSON":    logBuf.String(),
	} {
		for _, secret := range []string{testSecret, clientSecret} {
			head := []byte(secret)[:6]
			forms := []string{
				secret,
				base64.StdEncoding.EncodeToString([]byte(secret)),
				strings.Trim(fmt.Sprint(head), "[]"),                                             // %v of []byte
				strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%#v", head), "[]byte{"), "}"), // %#v of []byte
			}
			for _, f := range forms {
				if strings.Contains(out, f) {
					t.Errorf("%s: got output holding a secret (%.12q...), want none", name, f)
				}
			}
		}
	}
}

// TestLoadEmptyIsUnset sets every variable that Variables() lists (and the
// _FILE forms) to the empty string, as SAM and Kubernetes manifests do for
// unset parameters: the result must equal the defaults. CLAIMS_PASSTHROUGH
// is the documented exception (empty copies nothing but email).
func TestLoadEmptyIsUnset(t *testing.T) {
	want := mustLoad(t, env(nil))
	m := env(nil)
	for _, v := range config.Variables() {
		if _, set := m[v.Name]; set || v.Name == "CLAIMS_PASSTHROUGH" {
			continue
		}
		m[v.Name] = ""
		m[v.Name+"_FILE"] = ""
	}
	m["AUTH_PUBLIC_KEY_FILE"] = ""
	got := mustLoad(t, m)
	if !reflect.DeepEqual(got, want) {
		// Not %+v of the whole Config: that would print the secret.
		t.Fatalf("got supabase %s/%s/%v, providers %+v, CORS %q, port %d, level %v; want the defaults %s/%s/%v, %+v, %q, %d, %v",
			got.Supabase.Issuer, got.Supabase.Audience, got.Supabase.MaxTTL, got.Providers, got.CORSOrigins, got.Port, got.LogLevel,
			want.Supabase.Issuer, want.Supabase.Audience, want.Supabase.MaxTTL, want.Providers, want.CORSOrigins, want.Port, want.LogLevel)
	}
}
