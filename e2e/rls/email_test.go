package rls

import (
	"testing"
)

// TestUnverifiedEmailNotInAuthEmail backs the guide's "Which claims a user
// controls": through the real exchange function and PostgreSQL, auth.email()
// returns the provider's address only when the provider says it verified it
// (email_verified true), unless the operator trusts the provider's
// addresses with AUTH_TRUST_UNVERIFIED_EMAIL.
func TestUnverifiedEmailNotInAuthEmail(t *testing.T) {
	t.Parallel()
	secret := randomSecret(t)
	e := newEnv(t, secret)
	p := newProvider(t)
	strict := newExchange(t, p, secret, nil)
	trusting := newExchange(t, p, secret, map[string]string{"AUTH_TRUST_UNVERIFIED_EMAIL": "true"})
	mallory := person{"mallory", authentikID("mallory"), "org-m"}

	tests := []struct {
		name     string
		verified any // the email_verified claim; nil leaves it out
		trust    bool
		want     string
	}{
		{"verified", true, false, "mallory@example.com"},
		{"not verified", false, false, "(null)"},
		{"email_verified absent", nil, false, "(null)"},
		{"email_verified the string true", "true", false, "(null)"},
		{"not verified, provider trusted", false, true, "mallory@example.com"},
		{"email_verified absent, provider trusted", nil, true, "mallory@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := strict
			if tt.trust {
				h = trusting
			}
			token := exchangeToken(t, h, p.token(t, mallory, map[string]any{"email_verified": tt.verified}))
			u := user{name: mallory.name, auth: "Bearer " + token}
			var email, meta string
			if err := u.run(t, e, "select coalesce(auth.email(), '(null)'), coalesce(auth.jwt() -> 'user_metadata' ->> 'email', '(null)')", &email, &meta); err != nil {
				t.Fatal(err)
			}
			if email != tt.want || meta != tt.want {
				t.Fatalf("got auth.email() %q, user_metadata.email %q, want %q", email, meta, tt.want)
			}
		})
	}
}
