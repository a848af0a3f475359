package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"supabridge/shared/claims"
	"supabridge/shared/config"
)

// TestTrustUnverifiedEmail checks the per-provider opt-in that keeps an
// unverified email in the minted token: off unless asked for, by
// AUTH_TRUST_UNVERIFIED_EMAIL or an entry's trust_unverified_email, and a
// bad value is a start error naming what the operator set.
func TestTrustUnverifiedEmail(t *testing.T) {
	list := `[{"name":"a","issuer":"https://a.example/","jwks_url":"https://a.example/jwks","sub_mapping":"uuid5","trust_unverified_email":true},
		{"name":"b","issuer":"https://b.example/","jwks_url":"https://b.example/jwks","sub_mapping":"uuid5"}]`
	tests := []struct {
		name    string
		over    map[string]string
		want    []bool // per provider
		wantErr []string
	}{
		{"off by default", nil, []bool{false}, nil},
		{"single provider, true", map[string]string{"AUTH_TRUST_UNVERIFIED_EMAIL": "true"}, []bool{true}, nil},
		{"single provider, false", map[string]string{"AUTH_TRUST_UNVERIFIED_EMAIL": "false"}, []bool{false}, nil},
		{"single provider, not a boolean", map[string]string{"AUTH_TRUST_UNVERIFIED_EMAIL": "yes please"}, nil, []string{"AUTH_TRUST_UNVERIFIED_EMAIL: must be true or false"}},
		{"listed, per entry", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": list}, []bool{true, false}, nil},
		{"listed, not a boolean", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[{"name":"a","issuer":"https://a.example/","trust_unverified_email":"yes"}]`},
			nil, []string{"AUTH_PROVIDERS", "trust_unverified_email"}},
		{"listed with the single-provider variable", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": list, "AUTH_TRUST_UNVERIFIED_EMAIL": "true"},
			nil, []string{"AUTH_TRUST_UNVERIFIED_EMAIL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, env(tt.over))
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr, nil)
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if len(cfg.Providers) != len(tt.want) {
				t.Fatalf("got %d providers, want %d", len(cfg.Providers), len(tt.want))
			}
			for i, p := range cfg.Providers {
				if p.Mapping.TrustUnverifiedEmail != tt.want[i] {
					t.Errorf("provider %s: got TrustUnverifiedEmail %v, want %v", p.Name, p.Mapping.TrustUnverifiedEmail, tt.want[i])
				}
			}
		})
	}
}

// TestSeveralProvidersStateSubMapping checks that with two or more
// providers every entry states its sub_mapping: two providers issuing the
// same sub would otherwise mint the same Supabase user, and a default
// (SUB_MAPPING) chosen once for one provider is no statement about the
// next. One listed provider may still take the default.
func TestSeveralProvidersStateSubMapping(t *testing.T) {
	entry := func(name, sub string) string {
		e := `{"name":"` + name + `","issuer":"https://` + name + `.example/","jwks_url":"https://` + name + `.example/jwks"`
		if sub != "" {
			e += `,"sub_mapping":"` + sub + `"`
		}
		return e + `}`
	}
	tests := []struct {
		name    string
		list    string
		over    map[string]string
		want    []claims.SubMapping
		wantErr []string
	}{
		{"one entry takes the default", `[` + entry("a", "") + `]`, nil, []claims.SubMapping{claims.SubPassthrough}, nil},
		{"one entry, SUB_MAPPING default", `[` + entry("a", "") + `]`, map[string]string{"SUB_MAPPING": "uuid5"}, []claims.SubMapping{claims.SubUUID5}, nil},
		{"two entries, both stated", `[` + entry("a", "uuid5") + `,` + entry("b", "passthrough") + `]`, nil, []claims.SubMapping{claims.SubUUID5, claims.SubPassthrough}, nil},
		{"two entries, one silent", `[` + entry("a", "uuid5") + `,` + entry("b", "") + `]`, nil, nil,
			[]string{"AUTH_PROVIDERS[1] (b).sub_mapping: required when several providers are listed"}},
		{"two entries, both silent", `[` + entry("a", "") + `,` + entry("b", "") + `]`, nil, nil,
			[]string{"AUTH_PROVIDERS[0] (a).sub_mapping: required", "AUTH_PROVIDERS[1] (b).sub_mapping: required"}},
		{"two silent entries, SUB_MAPPING set", `[` + entry("a", "") + `,` + entry("b", "") + `]`, map[string]string{"SUB_MAPPING": "uuid5"}, nil,
			[]string{"AUTH_PROVIDERS[0] (a).sub_mapping: required", "AUTH_PROVIDERS[1] (b).sub_mapping: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			over := map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": tt.list}
			for k, v := range tt.over {
				over[k] = v
			}
			cfg, err := load(t, env(over))
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr, nil)
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			for i, p := range cfg.Providers {
				if p.Mapping.Sub != tt.want[i] {
					t.Errorf("provider %s: got %s, want %s", p.Name, p.Mapping.Sub, tt.want[i])
				}
			}
		})
	}
}

// TestReadmeProvidersExampleLoads loads the AUTH_PROVIDERS_FILE example of
// the README's "Several providers", so that the example an operator copies
// passes the rules (every entry of a list states its sub_mapping). Its
// client secret file is swapped for one of testdata.
func TestReadmeProvidersExampleLoads(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "### Several providers (`AUTH_PROVIDERS`)")
	if !ok {
		t.Fatal("README.md: no section Several providers")
	}
	_, after, ok = strings.Cut(after, "```yaml\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README.md: no yaml block in Several providers")
	}
	block = strings.ReplaceAll(block, "/var/openfaas/secrets/money-tracker-client-secret", "testdata/client-secret.txt")
	path := filepath.Join(t.TempDir(), "providers.yaml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, map[string]string{
		"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS_FILE": path, "HOME_PORTAL_CLIENT_SECRET": "a-client-secret",
	})
	if err != nil {
		t.Fatalf("the README's example does not load: %v", err)
	}
	if len(cfg.Providers) != 5 {
		t.Errorf("got %d providers, want the example's 5", len(cfg.Providers))
	}
}

// TestClientSecretEnvRefusesOwnVariables checks that client_secret_env may
// not name a variable the configuration reads itself: SUPABASE_JWT_SECRET
// would send the Supabase secret to the provider as the client secret (and
// any other would send a value that was never meant as one). Every name
// Variables() lists, and the _FILE forms, is refused, without its value in
// the error.
func TestClientSecretEnvRefusesOwnVariables(t *testing.T) {
	var names []string
	for _, v := range config.Variables() {
		names = append(names, v.Name)
		if v.Secret {
			names = append(names, v.Name+"_FILE")
		}
	}
	names = append(names, config.EnvAuthPublicKey+"_FILE")
	if len(names) < 20 {
		t.Fatalf("got %d names from Variables(), want the whole list", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			m := env(map[string]string{
				"AUTH_JWKS_URL":  unset,
				"AUTH_PROVIDERS": `[{"name":"a","issuer":"https://a.example/","client_id":"c","client_secret_env":"` + name + `"}]`,
			})
			// Set or not (setting most of them beside AUTH_PROVIDERS is an
			// error of its own), the name is refused.
			_, err := load(t, m)
			checkErr(t, err, []string{"AUTH_PROVIDERS[0] (a).client_secret_env: names " + name + ", a variable supabridge reads itself"}, []string{testSecret})
		})
	}
	// A variable of its own is fine.
	cfg := mustLoad(t, env(map[string]string{
		"AUTH_JWKS_URL":   unset,
		"AUTH_PROVIDERS":  `[{"name":"a","issuer":"https://a.example/","client_id":"c","client_secret_env":"A_CLIENT_SECRET"}]`,
		"A_CLIENT_SECRET": "the-client-secret",
	}))
	if string(cfg.Providers[0].Secret) != "the-client-secret" {
		t.Errorf("got a client secret of %d bytes, want the variable's", len(cfg.Providers[0].Secret))
	}
}

// TestAllowAnyAudience checks the explicit opt-out of the audience check:
// read from AUTH_ALLOW_ANY_AUDIENCE or an entry's allow_any_audience, and
// refused beside an audience, which would contradict it.
func TestAllowAnyAudience(t *testing.T) {
	tests := []struct {
		name    string
		over    map[string]string
		want    bool
		wantErr []string
	}{
		{"unset", nil, false, nil},
		{"single provider", map[string]string{"AUTH_ALLOW_ANY_AUDIENCE": "true"}, true, nil},
		{"single provider, false", map[string]string{"AUTH_ALLOW_ANY_AUDIENCE": "false"}, false, nil},
		{"single provider, with an audience", map[string]string{"AUTH_ALLOW_ANY_AUDIENCE": "true", "AUTH_AUDIENCE": "app"}, false,
			[]string{"AUTH_ALLOW_ANY_AUDIENCE and AUTH_AUDIENCE are both set"}},
		{"single provider, not a boolean", map[string]string{"AUTH_ALLOW_ANY_AUDIENCE": "*"}, false, []string{"AUTH_ALLOW_ANY_AUDIENCE: must be true or false"}},
		{"listed", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[{"name":"a","issuer":"https://a.example/","allow_any_audience":true}]`}, true, nil},
		{"listed, with an audience", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[{"name":"a","issuer":"https://a.example/","allow_any_audience":true,"audience":"x"}]`}, false,
			[]string{"AUTH_PROVIDERS[0] (a).allow_any_audience and AUTH_PROVIDERS[0] (a).audience are both set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, env(tt.over))
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr, nil)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Providers[0].AllowAnyAudience; got != tt.want {
				t.Errorf("got AllowAnyAudience %v, want %v", got, tt.want)
			}
		})
	}
}

// TestStartErrorsNameWhatTheOperatorSet checks that a start error names
// the variable (single provider) or the entry and field (AUTH_PROVIDERS)
// the operator wrote, not an internal provider name: an unusable public key
// is found when the configuration loads, as AUTH_PUBLIC_KEY, not later as
// `bridge: provider "default": public key`; an unknown or mistyped field
// names its entry too.
func TestStartErrorsNameWhatTheOperatorSet(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const privatePEM = "-----BEGIN PRIVATE KEY-----\nTUlJQ0lqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FnOEFNSUlDQ2dLQ0FnRUE=\n-----END PRIVATE KEY-----\n"
	entry := `{"name":"a","issuer":"https://a.example/","jwks_url":"https://a.example/jwks","sub_mapping":"uuid5"}`
	tests := []struct {
		name string
		over map[string]string
		want []string
		not  []string
	}{
		{"AUTH_PUBLIC_KEY not a key", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PUBLIC_KEY": "not a key"},
			[]string{"config: AUTH_PUBLIC_KEY: unusable public key material: not PEM"}, []string{"bridge", `"default"`}},
		{"AUTH_PUBLIC_KEY a private key", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PUBLIC_KEY": privatePEM},
			[]string{`AUTH_PUBLIC_KEY: unusable public key material: PEM block "PRIVATE KEY" is not a public key`}, []string{"TUlJQ0lq"}},
		{"AUTH_PUBLIC_KEY a JWK without a key", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PUBLIC_KEY": `{"keys":[]}`},
			[]string{"AUTH_PUBLIC_KEY: unusable public key material: no usable public key"}, nil},
		{"AUTH_PUBLIC_KEY_FILE not a key", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PUBLIC_KEY_FILE": garbage},
			[]string{"AUTH_PUBLIC_KEY_FILE: unusable public key material: not PEM"}, nil},
		{"listed public_key not a key", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[{"name":"a","issuer":"https://a.example/","public_key":"not a key"}]`},
			[]string{"AUTH_PROVIDERS[0] (a).public_key: unusable public key material: not PEM"}, nil},
		{"listed, unknown field", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[` + entry + `,{"name":"b","isuer":"https://b.example/"}]`},
			[]string{`AUTH_PROVIDERS[1] (b): unknown field "isuer"`}, nil},
		{"listed, unknown field in an entry without a name", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[` + entry + `,{"isuer":"https://b.example/"}]`},
			[]string{`AUTH_PROVIDERS[1]: unknown field "isuer"`}, nil},
		{"listed, wrong type", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[` + entry + `,{"name":"b","issuer":"https://b.example/","leeway":true}]`},
			[]string{`AUTH_PROVIDERS[1] (b).leeway: want seconds or a duration string`}, nil},
		{"listed, an entry that is no object", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS": `[` + entry + `,"b"]`},
			[]string{`AUTH_PROVIDERS[1]: not a provider object`}, nil},
		{"listed in a file, unknown field", map[string]string{"AUTH_JWKS_URL": unset, "AUTH_PROVIDERS_FILE": writeYAML(t, dir, "- name: a\n  issuer: https://a.example/\n  colour: red\n")},
			[]string{`AUTH_PROVIDERS_FILE[0] (a): unknown field "colour"`}, []string{"red"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, env(tt.over))
			checkErr(t, err, tt.want, tt.not)
		})
	}
}

func writeYAML(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "providers.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
