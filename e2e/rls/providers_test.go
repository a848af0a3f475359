package rls

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

// TestProviderClaimsRLS runs docs/sql/20_provider_claims.sql with tokens
// from one exchange trusting two providers, each with its own claims_map,
// once per signing mode.
func TestProviderClaimsRLS(t *testing.T) {
	for _, m := range signingModes(t) {
		t.Run(m.name, func(t *testing.T) { providerClaimsRLS(t, m) })
	}
}

func providerClaimsRLS(t *testing.T, m signingMode) {
	e := newEnv(t, m.pgrst)
	portalKey := testprovider.NewKey(t, "p1", "RS256")
	outsetaKey := testprovider.NewKey(t, "o1", "ES256")
	portal := testprovider.New(t, "/application/o/home-portal/", portalKey)
	outseta := testprovider.New(t, "", outsetaKey)
	providers := fmt.Sprintf(`[
	  {"name":"home-portal","issuer":%q,"jwks_url":%q,"sub_mapping":"passthrough","claims_map":{"app_metadata.roles":"/groups"}},
	  {"name":"outseta","issuer":%q,"jwks_url":%q,"sub_mapping":"passthrough","claims_map":{"org_id":"/outseta:accountUid"}}
	]`, portal.Issuer, portal.JWKSURL(), outseta.Issuer, outseta.JWKSURL())
	h, err := platform.NewHandler(t.Context(), "exchange", exchange.New,
		config.MapEnv(m.with("AUTH_PROVIDERS", providers)),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *testprovider.Key, p *testprovider.Provider, sub string, groups ...string) string {
		c := p.Claims(sub)
		c["groups"] = groups
		return k.Sign(t, c, nil)
	}
	bearer := func(provTok string) string { return "Bearer " + exchangeToken(t, h, provTok) }
	staff := bearer(sign(portalKey, portal, "alice", "staff"))
	plain := bearer(sign(portalKey, portal, "bob", "users"))
	// Same subject and a staff group, but at Outseta, whose mapping has no roles.
	outsider := bearer(sign(outsetaKey, outseta, "alice", "staff"))

	if _, err := e.admin.Exec(t.Context(), "insert into public.reports (body) values ('q3 numbers')"); err != nil {
		t.Fatal(err)
	}
	reports := func(auth string) []string {
		t.Helper()
		var got []string
		err := e.gw.Do(t.Context(), auth, func(ctx context.Context, tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "select body from public.reports")
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					return err
				}
				got = append(got, s)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatalf("select reports: %v", err)
		}
		return got
	}
	wantRows(t, "staff of home-portal", reports(staff), []string{"q3 numbers"})
	wantRows(t, "non-staff of home-portal", reports(plain), nil)
	wantRows(t, "staff group at a provider that maps no roles", reports(outsider), nil)
	wantRows(t, "anonymous", reports(""), nil)

	insert := func(auth string) error {
		return e.gw.Do(t.Context(), auth, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "insert into public.portal_prefs (theme) values ('dark')")
			return err
		})
	}
	if err := insert(staff); err != nil {
		t.Fatalf("home-portal user inserting own prefs: %v", err)
	}
	wantCode(t, "outseta user with the same sub", insert(outsider), "42501")
	var n int
	if err := e.admin.QueryRow(t.Context(), "select count(*) from public.portal_prefs where user_id = 'alice'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("got %d prefs rows for alice (%v), want 1", n, err)
	}
}
