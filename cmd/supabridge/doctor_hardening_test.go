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
