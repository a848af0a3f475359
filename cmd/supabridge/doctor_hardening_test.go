package main

import (
	"fmt"
	"strings"
	"testing"

	"supabridge/internal/testprovider"
)

// TestDoctorExplainsSubMapping checks that with several providers doctor
// says, for each, what its sub_mapping means for the Supabase sub, and
// that a list without one fails to load naming the entry and the field.
func TestDoctorExplainsSubMapping(t *testing.T) {
	a := newFakeIdP(t, testprovider.NewKey(t, "a1", "RS256"), nil)
	b := newFakeIdP(t, testprovider.NewKey(t, "b1", "RS256"), nil)
	list := func(subA, subB string) string {
		entry := func(name, iss, sub string) string {
			e := fmt.Sprintf(`{"name":%q,"issuer":%q,"audience":"app"`, name, iss)
			if sub != "" {
				e += fmt.Sprintf(`,"sub_mapping":%q`, sub)
			}
			return e + "}"
		}
		return "[" + entry("a", a.issuer, subA) + "," + entry("b", b.issuer, subB) + "]"
	}

	checks, code := doctorJSON(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": list("uuid5", "passthrough")})
	if code != 0 {
		t.Errorf("exit %d, want 0: %+v", code, checks)
	}
	for _, want := range []struct{ check, detail string }{
		{"provider a: subject", `uuid5: sub is the UUIDv5 of "` + a.issuer + `#<the provider's sub>"`},
		{"provider b: subject", "passthrough: sub is the provider's own"},
		{"provider b: subject", "the same Supabase user"},
	} {
		c := find(checks, want.check)
		if c == nil || !c.OK || !strings.Contains(c.Detail, want.detail) {
			t.Errorf("got %+v, want %s ok with %q", c, want.check, want.detail)
		}
	}

	checks, code = doctorJSON(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": list("uuid5", "")})
	c := find(checks, "configuration loads")
	if code != 1 || c == nil || c.OK || !strings.Contains(c.Detail, "AUTH_PROVIDERS[1] (b).sub_mapping: required when several providers are listed") {
		t.Errorf("exit %d, got %+v, want the configuration to fail naming b's sub_mapping", code, c)
	}

	// One provider: the subject needs no explaining beside another's.
	checks, _ = doctorJSON(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_ISSUER": a.issuer, "AUTH_AUDIENCE": "app"})
	if c := find(checks, "provider default: subject"); c != nil {
		t.Errorf("got %+v with a single provider, want no subject check", c)
	}
}

// TestDoctorAudience checks that doctor fails a provider with no audience:
// one issuer commonly signs for many clients (Keycloak, Auth0, Dex), and
// without an audience any of them gets a session. Only an explicit opt-out
// (AUTH_ALLOW_ANY_AUDIENCE, allow_any_audience) passes.
func TestDoctorAudience(t *testing.T) {
	f := newFakeIdP(t, testprovider.NewKey(t, "k1", "RS256"), nil)
	tests := []struct {
		name          string
		env           map[string]string
		check         string
		ok            bool
		detail, fix   string
		wantExitFails bool
	}{
		{"single, no audience", map[string]string{"AUTH_ISSUER": f.issuer}, "provider default: audience", false,
			"no audience configured: a token this issuer signed for any of its clients gets a session",
			"set AUTH_AUDIENCE to the client id(s) your tokens carry as aud", true},
		{"single, opted out", map[string]string{"AUTH_ISSUER": f.issuer, "AUTH_ALLOW_ANY_AUDIENCE": "true"}, "provider default: audience", true,
			"any audience accepted (AUTH_ALLOW_ANY_AUDIENCE)", "", false},
		{"single, audience", map[string]string{"AUTH_ISSUER": f.issuer, "AUTH_AUDIENCE": "app,other"}, "provider default: audience", true,
			`"app", "other"`, "", false},
		{"listed, no audience", map[string]string{"AUTH_PROVIDERS": `[{"name":"a","issuer":"` + f.issuer + `"}]`}, "provider a: audience", false,
			"no audience configured", `set audience of provider "a" in AUTH_PROVIDERS`, true},
		{"listed, opted out", map[string]string{"AUTH_PROVIDERS": `[{"name":"a","issuer":"` + f.issuer + `","allow_any_audience":true}]`}, "provider a: audience", true,
			"any audience accepted (allow_any_audience of provider \"a\" in AUTH_PROVIDERS)", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SUPABASE_JWT_SECRET": testSecret}
			for k, v := range tt.env {
				env[k] = v
			}
			checks, code := doctorJSON(t, env)
			if (code != 0) != tt.wantExitFails {
				t.Errorf("exit %d, want failure %v: %+v", code, tt.wantExitFails, checks)
			}
			c := find(checks, tt.check)
			if c == nil || c.OK != tt.ok || !strings.Contains(c.Detail, tt.detail) || !strings.Contains(c.Fix, tt.fix) {
				t.Fatalf("got %+v, want %s ok=%v with %q, fix %q", c, tt.check, tt.ok, tt.detail, tt.fix)
			}
			if !tt.ok && !strings.Contains(strings.ToLower(c.Fix), "allow_any_audience") {
				t.Errorf("fix %q does not name the opt-out", c.Fix)
			}
		})
	}
}
