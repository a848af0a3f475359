package exchange_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"supabridge/internal/testkit"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/postgrest"
	"supabridge/internal/testprovider"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

// deployment is the exchange function as its binary serves it
// (platform.NewHandler), trusting prov, with the signing variables of env.
func deployment(t *testing.T, prov *testprovider.Provider, env map[string]string) http.Handler {
	t.Helper()
	vars := map[string]string{"AUTH_ISSUER": prov.Issuer, "AUTH_JWKS_URL": prov.JWKSURL(), "AUTH_AUDIENCE": "app"}
	for k, v := range env {
		vars[k] = v
	}
	h, err := platform.NewHandler(t.Context(), "exchange", exchange.New, config.MapEnv(vars), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mintVia(t *testing.T, h http.Handler, providerToken string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, bearerReq(providerToken))
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("exchange: %d %s", rec.Code, rec.Body.String())
	}
	return body.AccessToken
}

func jwksOf(t *testing.T, h http.Handler) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/functions/v1/exchange/.well-known/jwks.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("jwks: %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// TestRotationEndToEnd: the bridge signs with key 2025; then key 2026
// signs and 2025 stays published through SUPABRIDGE_PREVIOUS_KEYS. A token
// minted before the rotation verifies against the set published after it,
// both for a third party (keyfunc over the served JWKS) and for PostgREST
// (its kid rules over the same set as JWT_JWKS); a key that is not
// published, even under a published kid, fails; once 2025 is dropped its
// tokens fail too.
func TestRotationEndToEnd(t *testing.T) {
	pk := testprovider.NewKey(t, "p1", "RS256")
	prov := testprovider.New(t, "/application/o/app/", pk)
	providerToken := func() string {
		c := prov.Claims("alice")
		c["aud"] = "app"
		return pk.Sign(t, c, nil)
	}
	k2025, k2026 := testkit.NewSigningKey(t, "bridge-2025"), testkit.NewSigningKey(t, "bridge-2026")

	before := deployment(t, prov, map[string]string{"SUPABRIDGE_SIGNING_KEY": k2025.Private})
	old := mintVia(t, before, providerToken())
	during := deployment(t, prov, map[string]string{"SUPABRIDGE_SIGNING_KEY": k2026.Private, "SUPABRIDGE_PREVIOUS_KEYS": k2025.Public, "JWT_SECRET": secret})
	fresh := mintVia(t, during, providerToken())
	stranger := mintVia(t, deployment(t, prov, map[string]string{"SUPABRIDGE_SIGNING_KEY": testkit.NewSigningKey(t, "bridge-2026").Private}), providerToken())
	after := deployment(t, prov, map[string]string{"SUPABRIDGE_SIGNING_KEY": k2026.Private})

	for tok, kid := range map[string]string{old: "bridge-2025", fresh: "bridge-2026"} {
		if h := testkit.Header(t, tok); h["alg"] != "ES256" || h["kid"] != kid {
			t.Errorf("header %v, want ES256 with kid %s", h, kid)
		}
	}

	set := jwksOf(t, during)
	third, err := keyfunc.NewJWKSetJSON(set)
	if err != nil {
		t.Fatalf("the served set does not parse for keyfunc: %v", err)
	}
	pgrst, err := postgrest.Parse(set)
	if err != nil {
		t.Fatal(err)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience("authenticated"), jwt.WithExpirationRequired()}
	for name, tok := range map[string]string{"minted before the rotation": old, "minted after": fresh} {
		if _, err := jwt.Parse(tok, third.Keyfunc, opts...); err != nil {
			t.Errorf("%s: a third party refuses it: %v", name, err)
		}
		if _, err := pgrst.Verify(tok); err != nil {
			t.Errorf("%s: PostgREST would refuse it: %v", name, err)
		}
	}
	if _, err := pgrst.Verify(stranger); !errors.Is(err, postgrest.ErrSignature) {
		t.Errorf("an unpublished key under a published kid: got %v, want a signature failure", err)
	}
	if _, err := jwt.Parse(stranger, third.Keyfunc, opts...); err == nil {
		t.Error("an unpublished key under a published kid verifies for a third party")
	}

	dropped, err := postgrest.Parse(jwksOf(t, after))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dropped.Verify(old); !errors.Is(err, postgrest.ErrNoKey) {
		t.Errorf("after 2025 is dropped, its token: got %v, want no key", err)
	}
	if _, err := dropped.Verify(fresh); err != nil {
		t.Errorf("after 2025 is dropped, 2026's token: %v", err)
	}
}
