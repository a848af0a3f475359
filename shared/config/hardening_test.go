package config_test

import (
	"testing"
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
