package dex_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testenv/dex"
	"supabridge/internal/testprovider"
	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
	"supabridge/shared/refresh"
)

const secret = "dex-e2e-secret-that-is-32-bytes-or-more"

func handlers(t *testing.T, env map[string]string) (ex, rf http.Handler) {
	t.Helper()
	env["SUPABASE_JWT_SECRET"] = secret
	log := slog.New(slog.DiscardHandler)
	ex, err := platform.NewHandler(t.Context(), "exchange", exchange.New, config.MapEnv(env), log)
	if err != nil {
		t.Fatal(err)
	}
	rf, err = platform.NewHandler(t.Context(), "refresh", refresh.New, config.MapEnv(env), log)
	if err != nil {
		t.Fatal(err)
	}
	return ex, rf
}

func call(t *testing.T, h http.Handler, r *http.Request) (int, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body not JSON: %q", w.Body.String())
	}
	return w.Code, body
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/functions/v1/exchange", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func refreshReq(rt, provider string) *http.Request {
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if provider != "" {
		v.Set("provider", provider)
	}
	r := httptest.NewRequest(http.MethodPost, "/functions/v1/refresh", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func minted(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	p, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("authenticated"), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("minted token does not verify with the secret: %v", err)
	}
	if _, ok := p.Header["kid"]; ok {
		t.Fatal("minted token carries a kid")
	}
	return p.Claims.(jwt.MapClaims)
}

func TestExchangeAndRefreshAgainstDex(t *testing.T) {
	d := dex.Start(t, dex.Options{})
	ex, rf := handlers(t, map[string]string{
		"AUTH_ISSUER":        d.Issuer, // discovery: jwks_uri and token_endpoint
		"AUTH_AUDIENCE":      d.ClientID,
		"AUTH_CLIENT_ID":     d.ClientID,
		"AUTH_CLIENT_SECRET": d.ClientSecret,
		"AUTH_HTTP_TIMEOUT":  "2s",
		"SUB_MAPPING":        "uuid5",
	})
	user := d.User()
	login, err := d.PasswordGrant(t.Context(), user.Email, user.Password)
	if err != nil {
		t.Fatal(err)
	}
	idClaims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(login.IDToken, idClaims); err != nil {
		t.Fatal(err)
	}

	// password grant → ID token → exchange → Supabase token with the contract's claims.
	status, body := call(t, ex, bearer(login.IDToken))
	if status != 200 {
		t.Fatalf("exchange: got %d %v, want 200", status, body)
	}
	c := minted(t, body["access_token"].(string))
	wantSub := claims.NewSHA1(claims.NamespaceURL, d.Issuer+"#"+idClaims["sub"].(string)).String()
	if c["sub"] != wantSub || c["role"] != "authenticated" || c["email"] != user.Email || c["iss"] != "supabase" {
		t.Fatalf("got claims %v, want sub %s, role authenticated, email %s", c, wantSub, user.Email)
	}
	if exp, dexExp := c["exp"].(float64), idClaims["exp"].(float64); exp > dexExp {
		t.Fatalf("got exp %v after the ID token's %v", exp, dexExp)
	}

	// refresh → new Supabase token, rotated refresh token.
	status, body = call(t, rf, refreshReq(login.RefreshToken, ""))
	if status != 200 {
		t.Fatalf("refresh: got %d %v, want 200", status, body)
	}
	rotated, _ := body["refresh_token"].(string)
	if rotated == "" || rotated == login.RefreshToken {
		t.Fatalf("got refresh_token %q, want a new one", rotated)
	}
	if body["id_token"] == "" || body["provider_token"] == "" {
		t.Fatalf("got %v, want id_token and provider_token", body)
	}
	if minted(t, body["access_token"].(string))["sub"] != wantSub {
		t.Fatal("refresh minted another subject")
	}

	// The old refresh token again: Dex refuses reuse → 400 invalid_grant.
	status, body = call(t, rf, refreshReq(login.RefreshToken, ""))
	if status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: got %d %v, want 400 invalid_grant", status, body)
	}
	// The rotated one still works.
	if status, body = call(t, rf, refreshReq(rotated, "")); status != 200 {
		t.Fatalf("rotated refresh token: got %d %v, want 200", status, body)
	}
	next := body["refresh_token"].(string)

	// Dex stopped → 502 within the timeout, and the service keeps answering /healthz.
	d.Stop()
	start := time.Now()
	status, body = call(t, rf, refreshReq(next, ""))
	if status != 502 || body["error"] != "temporarily_unavailable" {
		t.Fatalf("Dex down: got %d %v, want 502 temporarily_unavailable", status, body)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("Dex down: answered after %v, want within the 2s timeout", elapsed)
	}
	for _, h := range []http.Handler{ex, rf} {
		if status, _ := call(t, h, httptest.NewRequest(http.MethodGet, "/healthz", nil)); status != 200 {
			t.Fatalf("healthz with Dex down: got %d", status)
		}
	}
	// Known keys keep verifying from the cache while Dex is down.
	if status, body := call(t, ex, bearer(login.IDToken)); status != 200 {
		t.Fatalf("exchange with Dex down, cached key: got %d %v", status, body)
	}
}

// TestThreeProviders is one process trusting Dex, an RS256 and an ES256
// provider at once, each with its own mapping, and the isolation between them.
func TestThreeProviders(t *testing.T) {
	d := dex.Start(t, dex.Options{})
	rsaKey := testprovider.NewKey(t, "a1", "RS256")
	ecKey := testprovider.NewKey(t, "b1", "ES256")
	outseta := testprovider.New(t, "", rsaKey) // issuer without a trailing slash
	keycloak := testprovider.New(t, "/realms/staff", ecKey)
	providers := fmt.Sprintf(`[
	  {"name":"dex","issuer":%q,"audience":[%q],"client_id":%q,"client_secret_env":"DEX_SECRET","sub_mapping":"uuid5"},
	  {"name":"outseta","issuer":%q,"jwks_url":%q,"sub_mapping":"passthrough","claims_map":{"org_id":"/outseta:accountUid"}},
	  {"name":"keycloak","issuer":%q,"jwks_url":%q,"sub_mapping":"passthrough","algorithms":["ES256"],"claims_map":{"app_metadata.roles":"/realm_access/roles"}}
	]`, d.Issuer, d.ClientID, d.ClientID, outseta.Issuer, outseta.JWKSURL(), keycloak.Issuer, keycloak.JWKSURL())
	ex, rf := handlers(t, map[string]string{"AUTH_PROVIDERS": providers, "DEX_SECRET": d.ClientSecret, "AUTH_HTTP_TIMEOUT": "1s"})

	login, err := d.PasswordGrant(t.Context(), d.User().Email, d.User().Password)
	if err != nil {
		t.Fatal(err)
	}
	oc := outseta.Claims("o-user")
	oc["outseta:accountUid"] = "acc-42"
	kc := keycloak.Claims("k-user")
	kc["realm_access"] = map[string]any{"roles": []string{"staff"}}
	outsetaTok, keycloakTok := rsaKey.Sign(t, oc, nil), ecKey.Sign(t, kc, nil)

	t.Run("each provider's token with its own mapping", func(t *testing.T) {
		_, b := call(t, ex, bearer(login.IDToken))
		if c := minted(t, b["access_token"].(string)); c["app_metadata"].(map[string]any)["provider"] != "dex" || len(c["sub"].(string)) != 36 {
			t.Fatalf("dex: got %v", c)
		}
		_, b = call(t, ex, bearer(outsetaTok))
		if c := minted(t, b["access_token"].(string)); c["org_id"] != "acc-42" || c["sub"] != "o-user" {
			t.Fatalf("outseta: got %v", c)
		}
		_, b = call(t, ex, bearer(keycloakTok))
		c := minted(t, b["access_token"].(string))
		app := c["app_metadata"].(map[string]any)
		if app["provider"] != "keycloak" || fmt.Sprint(app["roles"]) != "[staff]" {
			t.Fatalf("keycloak: got %v", c)
		}
	})

	t.Run("cross-provider attacks", func(t *testing.T) {
		before := outseta.Requests() + keycloak.Requests()
		tests := []struct{ name, token string }{
			{"outseta's key, keycloak's iss", rsaKey.Sign(t, map[string]any{"iss": keycloak.Issuer, "sub": "x", "exp": time.Now().Add(time.Hour).Unix()}, nil)},
			{"keycloak's iss with a trailing slash", ecKey.Sign(t, map[string]any{"iss": keycloak.Issuer + "/", "sub": "x", "exp": time.Now().Add(time.Hour).Unix()}, nil)},
			{"outseta's iss in capitals", rsaKey.Sign(t, map[string]any{"iss": strings.ToUpper(outseta.Issuer), "sub": "x", "exp": time.Now().Add(time.Hour).Unix()}, nil)},
			{"no iss", rsaKey.Sign(t, map[string]any{"sub": "x", "exp": time.Now().Add(time.Hour).Unix()}, nil)},
			{"unknown iss", rsaKey.Sign(t, map[string]any{"iss": "https://evil.example/", "sub": "x", "exp": time.Now().Add(time.Hour).Unix()}, nil)},
		}
		for _, tt := range tests {
			if status, b := call(t, ex, bearer(tt.token)); status != 401 || b["error"] != "invalid_token" {
				t.Errorf("%s: got %d %v, want 401 invalid_token", tt.name, status, b)
			}
		}
		// The unknown and look-alike issuers asked no provider; the first case
		// may refresh keycloak's JWKS for the unknown kid "a1", at most once.
		if extra := outseta.Requests() + keycloak.Requests() - before; extra > 1 {
			t.Fatalf("got %d provider requests for refused issuers, want at most 1 (the kid look-up)", extra)
		}
	})

	t.Run("one provider's outage leaves the others alone", func(t *testing.T) {
		outseta.SetMode(testprovider.Down)
		defer outseta.SetMode(testprovider.Up)
		stranger := testprovider.NewKey(t, "a2", "RS256")
		if status, b := call(t, ex, bearer(stranger.Sign(t, outseta.Claims("o"), nil))); status != 502 {
			t.Fatalf("outseta unknown kid while down: got %d %v, want 502", status, b)
		}
		for name, tok := range map[string]string{"keycloak": keycloakTok, "dex": login.IDToken, "outseta cached": outsetaTok} {
			if status, b := call(t, ex, bearer(tok)); status != 200 {
				t.Fatalf("%s during outseta's outage: got %d %v, want 200", name, status, b)
			}
		}
	})

	t.Run("refresh picks the provider", func(t *testing.T) {
		if status, b := call(t, rf, refreshReq(login.RefreshToken, "")); status != 200 {
			t.Fatalf("only dex can refresh, so provider may be omitted: got %d %v", status, b)
		}
		if status, b := call(t, rf, refreshReq("x", "outseta")); status != 400 || b["error"] != "invalid_request" {
			t.Fatalf("outseta cannot refresh: got %d %v, want 400 invalid_request", status, b)
		}
	})
}
