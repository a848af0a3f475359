package config_test

import (
	"strings"
	"testing"
)

// TestProviderURLsMustBeHTTPS: a provider URL in plain http is refused at
// start unless its host is loopback, or the provider explicitly allows it
// (AUTH_INSECURE_HTTP, insecure_http). The error names the variable or the
// entry's field and the opt-out, never the URL.
func TestProviderURLsMustBeHTTPS(t *testing.T) {
	const optOut = "AUTH_INSECURE_HTTP"
	tests := []struct {
		name     string
		over     map[string]string
		wantErr  []string // nil: loads
		insecure bool     // Provider.InsecureHTTP when it loads
	}{
		{name: "https", over: map[string]string{"AUTH_JWKS_URL": "https://idp.example.com/jwks"}},
		{name: "http to 127.0.0.1", over: map[string]string{"AUTH_JWKS_URL": "http://127.0.0.1:5556/dex/keys"}},
		{name: "http to elsewhere in 127.0.0.0/8", over: map[string]string{"AUTH_JWKS_URL": "http://127.9.9.9/keys"}},
		{name: "http to ::1", over: map[string]string{"AUTH_JWKS_URL": "http://[::1]:5556/keys"}},
		{name: "http to localhost", over: map[string]string{"AUTH_JWKS_URL": "http://LocalHost:5556/keys"}},
		{name: "http JWKS elsewhere", over: map[string]string{"AUTH_JWKS_URL": "http://idp.example.com/jwks"},
			wantErr: []string{"AUTH_JWKS_URL: plain http is allowed only to a loopback address", optOut}},
		{name: "http issuer elsewhere", over: map[string]string{"AUTH_JWKS_URL": unset, "AUTH_ISSUER": "http://dex.auth.svc:5556/dex"},
			wantErr: []string{"AUTH_ISSUER: plain http", optOut}},
		{name: "http token URL elsewhere", over: map[string]string{"AUTH_TOKEN_URL": "http://10.0.0.7/token", "AUTH_CLIENT_ID": "app"},
			wantErr: []string{"AUTH_TOKEN_URL: plain http", optOut}},
		{name: "a name that only starts like loopback", over: map[string]string{"AUTH_JWKS_URL": "http://127.0.0.1.nip.io/keys"},
			wantErr: []string{"AUTH_JWKS_URL: plain http"}},
		{name: "a name that only starts like localhost", over: map[string]string{"AUTH_JWKS_URL": "http://localhost.example.com/keys"},
			wantErr: []string{"AUTH_JWKS_URL: plain http"}},
		{name: "opted out", over: map[string]string{"AUTH_JWKS_URL": unset, "AUTH_ISSUER": "http://dex.auth.svc:5556/dex", optOut: "true"}, insecure: true},
		{name: "opt-out not a boolean", over: map[string]string{optOut: "yes please"},
			wantErr: []string{optOut + ": must be true or false"}},
		{name: "not http at all", over: map[string]string{"AUTH_JWKS_URL": "ftp://idp.example.com/jwks"},
			wantErr: []string{"AUTH_JWKS_URL: not an http(s) URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(t, env(tt.over))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want it to load", err)
				}
				if got := cfg.Providers[0].InsecureHTTP; got != tt.insecure {
					t.Fatalf("InsecureHTTP: got %v, want %v", got, tt.insecure)
				}
				return
			}
			var leaks []string
			for _, v := range tt.over {
				if strings.Contains(v, "://") {
					leaks = append(leaks, v)
				}
			}
			checkErr(t, err, tt.wantErr, leaks)
		})
	}
}

// TestProvidersInsecureHTTPPerEntry: in AUTH_PROVIDERS the opt-out is per
// entry, and only the entry without it is refused.
func TestProvidersInsecureHTTPPerEntry(t *testing.T) {
	list := `[
	  {"name": "inside", "issuer": "http://dex.auth.svc:5556/dex", "insecure_http": true, "sub_mapping": "uuid5"},
	  {"name": "outside", "issuer": "http://idp.example.com/", "sub_mapping": "uuid5"}
	]`
	_, err := load(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": list})
	checkErr(t, err, []string{"AUTH_PROVIDERS[1] (outside).issuer: plain http", "AUTH_PROVIDERS[1] (outside).insecure_http"}, []string{"idp.example.com"})
	if strings.Contains(err.Error(), "(inside)") {
		t.Fatalf("got %v, want the entry that opted out accepted", err)
	}
	cfg := mustLoad(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": strings.Replace(list, `"outside", "issuer": "http:`, `"outside", "issuer": "https:`, 1)})
	if !cfg.Providers[0].InsecureHTTP || cfg.Providers[1].InsecureHTTP {
		t.Fatalf("InsecureHTTP: got %v, %v; want true, false", cfg.Providers[0].InsecureHTTP, cfg.Providers[1].InsecureHTTP)
	}
}
