package faults_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"

	"supabridge/internal/testprovider"
	"supabridge/shared/exchange"
)

// TestDiscoveryRedirectToAnotherHost: the issuer's discovery URL answers
// 302 to a host the attacker runs, whose document names the right issuer and
// the attacker's jwks_uri. A token the attacker signed must not get a
// session: the redirect is not followed, and the exchange answers 502.
func TestDiscoveryRedirectToAnotherHost(t *testing.T) {
	t.Parallel()
	evil := testprovider.NewKey(t, "k1", "ES256")
	var issuer string
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			_ = json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{evil.JWK(t)}})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": "http://" + r.Host + "/jwks"})
	}))
	defer attacker.Close()
	victim := httptest.NewServer(http.RedirectHandler(attacker.URL+"/.well-known/openid-configuration", http.StatusFound))
	defer victim.Close()
	issuer = victim.URL

	h, logs := served(t, "exchange", exchange.New, map[string]string{"AUTH_ISSUER": issuer, "AUTH_AUDIENCE": "app"})
	iat := time.Now()
	forged := evil.Sign(t, map[string]any{"iss": issuer, "sub": "mallory", "aud": "app", "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix()}, nil)
	if r := do(t, h, exchangeReq(forged)); r.status != http.StatusBadGateway || r.code != "temporarily_unavailable" {
		t.Fatalf("token signed by the redirect target's key: got %d %v, want 502 temporarily_unavailable", r.status, r.body)
	}
	logs.NoTokens(t, forged)
}
