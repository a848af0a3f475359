package exchange_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"supabridge/shared/function"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/bridge"
	"supabridge/shared/exchange"
	"supabridge/shared/keys"
)

const secret = "exchange-test-secret-32-bytes-or-more!!"

type fixture struct {
	handler http.Handler
	prov    *testprovider.Provider
	key     *testprovider.Key
	logs    *testkit.Buffer
}

func newFixture(t *testing.T, extra map[string]string) *fixture {
	t.Helper()
	key := testprovider.NewKey(t, "k1", "RS256")
	prov := testprovider.New(t, "/application/o/app/", key)
	env := map[string]string{
		"SUPABASE_JWT_SECRET": secret,
		"AUTH_ISSUER":         prov.Issuer,
		"AUTH_JWKS_URL":       prov.JWKSURL(),
		"AUTH_AUDIENCE":       "app",
	}
	for k, v := range extra {
		env[k] = v
	}
	h, logs := testkit.Handler(t, "exchange", exchange.New, env, function.Deps{Keys: keys.RemoteOptions{UnknownKIDInterval: 50 * time.Millisecond}})
	return &fixture{handler: h, prov: prov, key: key, logs: logs}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
}

func (f *fixture) do(t *testing.T, r *http.Request) response {
	t.Helper()
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %q", w.Body.String())
	}
	return response{status: w.Code, header: w.Header(), body: body}
}

func bearerReq(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/functions/v1/exchange", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func formReq(v url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/exchange", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func tokenExchange(tok, typ string) url.Values {
	return url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {tok},
		"subject_token_type": {typ},
	}
}

func TestExchange(t *testing.T) {
	f := newFixture(t, nil)
	claims := func(mod func(map[string]any)) map[string]any {
		c := f.prov.Claims("alice")
		c["aud"] = "app"
		if mod != nil {
			mod(c)
		}
		return c
	}
	good := f.key.Sign(t, claims(nil), nil)
	expired := f.key.Sign(t, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), nil)
	bigForm := url.Values{"grant_type": {"x"}, "pad": {strings.Repeat("a", bridge.MaxBody)}}

	tests := []struct {
		name       string
		req        *http.Request
		wantStatus int
		wantCode   string
	}{
		{"bearer", bearerReq(good), 200, ""},
		{"bearer scheme in capitals", func() *http.Request {
			r := bearerReq("")
			r.Header.Set("Authorization", "BEARER "+good)
			return r
		}(), 200, ""},
		{"bearer with a body that is ignored", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"token":"x"}`))
			r.Header.Set("Authorization", "bearer "+good)
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), 200, ""},
		{"RFC 8693 jwt", formReq(tokenExchange(good, "urn:ietf:params:oauth:token-type:jwt")), 200, ""},
		{"RFC 8693 id_token", formReq(tokenExchange(good, "urn:ietf:params:oauth:token-type:id_token")), 200, ""},
		{"RFC 8693 access_token", formReq(tokenExchange(good, "urn:ietf:params:oauth:token-type:access_token")), 200, ""},
		{"no token", httptest.NewRequest(http.MethodPost, "/", nil), 401, "invalid_token"},
		{"basic auth", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.SetBasicAuth("a", "b")
			return r
		}(), 401, "invalid_token"},
		{"empty bearer", bearerReq(""), 401, "invalid_token"},
		{"expired bearer", bearerReq(expired), 401, "invalid_token"},
		{"garbage bearer", bearerReq("abc.def.ghi"), 401, "invalid_token"},
		{"expired subject_token", formReq(tokenExchange(expired, "urn:ietf:params:oauth:token-type:jwt")), 400, "invalid_request"},
		{"other grant type", formReq(url.Values{"grant_type": {"password"}}), 400, "unsupported_grant_type"},
		{"empty grant type", formReq(url.Values{"grant_type": {""}, "subject_token": {good}}), 400, "invalid_request"},
		{"no subject_token", formReq(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}), 400, "invalid_request"},
		{"bad subject_token_type", formReq(tokenExchange(good, "urn:ietf:params:oauth:token-type:saml2")), 400, "invalid_request"},
		{"repeated parameter", formReq(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {good, good}, "subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}), 400, "invalid_request"},
		{"body over 64 KiB", formReq(bigForm), 413, "request_too_large"},
		{"token over 16 KiB", bearerReq(strings.Repeat("a", 16<<10+1)), 413, "request_too_large"},
		{"wrong method", httptest.NewRequest(http.MethodPut, "/", nil), 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := f.do(t, tt.req)
			if got.status != tt.wantStatus {
				t.Fatalf("got status %d (%v), want %d", got.status, got.body, tt.wantStatus)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("got Content-Type %q, want application/json", ct)
			}
			if got.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatal("got no CORS header")
			}
			if got.header.Get("Cache-Control") != "no-store" {
				t.Fatal("got no Cache-Control: no-store")
			}
			if tt.wantCode != "" {
				if got.body["error"] != tt.wantCode {
					t.Fatalf("got error %v, want %s", got.body["error"], tt.wantCode)
				}
				if d, _ := got.body["error_description"].(string); d == "" || strings.Contains(d, good[:20]) {
					t.Fatalf("got description %q, want a fixed phrase without the token", d)
				}
				if tt.wantStatus == 401 && got.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
					t.Fatalf("got WWW-Authenticate %q", got.header.Get("WWW-Authenticate"))
				}
				if tt.wantStatus == 405 && got.header.Get("Allow") == "" {
					t.Fatal("got no Allow header on 405")
				}
				return
			}
			for _, k := range []string{"supabaseJwt", "access_token", "token_type", "expires_in", "expires_at", "issued_token_type"} {
				if _, ok := got.body[k]; !ok {
					t.Fatalf("got no %s in %v", k, got.body)
				}
			}
			if got.body["supabaseJwt"] != got.body["access_token"] || got.body["token_type"] != "bearer" ||
				got.body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" {
				t.Fatalf("got body %v", got.body)
			}
			if in := got.body["expires_in"].(float64); in < 3500 || in > 3600 {
				t.Fatalf("got expires_in %v, want about 3600", in)
			}
			checkMinted(t, got.body["access_token"].(string), "alice")
		})
	}
	if strings.Contains(f.logs.String(), good[:40]) || strings.Contains(f.logs.String(), expired[:40]) {
		t.Fatal("the log holds a token")
	}
}

func checkMinted(t *testing.T, tok, sub string) jwt.MapClaims {
	t.Helper()
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("authenticated"), jwt.WithIssuer("supabase"), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("minted token does not verify with the secret: %v", err)
	}
	c := parsed.Claims.(jwt.MapClaims)
	if c["sub"] != sub || c["role"] != "authenticated" {
		t.Fatalf("got sub %v role %v, want %s authenticated", c["sub"], c["role"], sub)
	}
	if _, ok := parsed.Header["kid"]; ok {
		t.Fatal("minted token has a kid")
	}
	return c
}

func TestProviderRoleNeverReachesOutput(t *testing.T) {
	f := newFixture(t, map[string]string{"CLAIMS_PASSTHROUGH": "email,role,app_metadata"})
	c := f.prov.Claims("mallory")
	c["aud"], c["role"], c["app_metadata"] = "app", "service_role", map[string]any{"provider": "x", "role": "service_role"}
	got := f.do(t, bearerReq(f.key.Sign(t, c, nil)))
	if got.status != 200 {
		t.Fatalf("got %d %v", got.status, got.body)
	}
	m := checkMinted(t, got.body["access_token"].(string), "mallory")
	if app := m["app_metadata"].(map[string]any); app["role"] != nil || app["provider"] != "default" {
		t.Fatalf("got app_metadata %v", app)
	}
}

func TestUUID5Subject(t *testing.T) {
	f := newFixture(t, map[string]string{"SUB_MAPPING": "uuid5"})
	c := f.prov.Claims("a3f9c1d2e4b5")
	c["aud"] = "app"
	first := f.do(t, bearerReq(f.key.Sign(t, c, nil)))
	c["iat"] = time.Now().Unix() - 5
	second := f.do(t, bearerReq(f.key.Sign(t, c, nil)))
	s1 := checkMintedAny(t, first.body["access_token"].(string))["sub"]
	s2 := checkMintedAny(t, second.body["access_token"].(string))["sub"]
	if s1 != s2 || len(s1.(string)) != 36 || s1.(string)[14] != '5' {
		t.Fatalf("got subs %v and %v, want the same UUIDv5", s1, s2)
	}
}

func checkMintedAny(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Claims.(jwt.MapClaims)
}

func TestKeyRotationAndOutage(t *testing.T) {
	f := newFixture(t, nil)
	c := f.prov.Claims("alice")
	c["aud"] = "app"
	if got := f.do(t, bearerReq(f.key.Sign(t, c, nil))); got.status != 200 {
		t.Fatalf("warm-up: got %d %v", got.status, got.body)
	}

	// Rotation: a new key under a new kid is picked up without restart,
	// and the removed key is refused once the set has been refreshed.
	k2 := testprovider.NewKey(t, "k2", "ES256")
	f.prov.SetKeys(k2)
	if got := f.do(t, bearerReq(k2.Sign(t, c, nil))); got.status != 200 {
		t.Fatalf("rotated key: got %d %v, want 200", got.status, got.body)
	}
	if got := f.do(t, bearerReq(f.key.Sign(t, c, nil))); got.status != 401 {
		t.Fatalf("removed key: got %d %v, want 401", got.status, got.body)
	}

	// Outage: known keys keep working; an unknown kid is 502, not 401.
	f.prov.SetMode(testprovider.Down)
	time.Sleep(60 * time.Millisecond) // let the unknown-kid limiter allow a fetch
	if got := f.do(t, bearerReq(k2.Sign(t, c, nil))); got.status != 200 {
		t.Fatalf("known key during outage: got %d %v, want 200", got.status, got.body)
	}
	k3 := testprovider.NewKey(t, "k3", "RS256")
	got := f.do(t, bearerReq(k3.Sign(t, c, nil)))
	if got.status != 502 || got.body["error"] != "temporarily_unavailable" {
		t.Fatalf("unknown kid during outage: got %d %v, want 502 temporarily_unavailable", got.status, got.body)
	}
	// And the service keeps serving.
	if got := f.do(t, httptest.NewRequest(http.MethodGet, "/healthz", nil)); got.status != 200 {
		t.Fatalf("healthz: got %d", got.status)
	}
}

func TestUnknownKidFloodIsRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	c := f.prov.Claims("alice")
	c["aud"] = "app"
	before := f.prov.Fetches()
	start := time.Now()
	for i := 0; i < 50; i++ {
		k := testprovider.NewKey(t, "flood-"+string(rune('a'+i%26)), "ES256")
		if got := f.do(t, bearerReq(k.Sign(t, c, nil))); got.status != 401 {
			t.Fatalf("got %d, want 401", got.status)
		}
	}
	elapsed := time.Since(start)
	fetches := f.prov.Fetches() - before
	// One fetch per 50 ms interval at most, plus the first.
	if limit := int64(elapsed/(50*time.Millisecond)) + 2; fetches > limit {
		t.Fatalf("got %d JWKS fetches in %v, want at most %d", fetches, elapsed, limit)
	}
}

func TestConcurrentRotationFetchesOnceAndRefusesNobody(t *testing.T) {
	f := newFixture(t, nil)
	c := f.prov.Claims("alice")
	c["aud"] = "app"
	time.Sleep(60 * time.Millisecond) // past the unknown-kid interval of the start-up fetch
	k2 := testprovider.NewKey(t, "k2", "RS256")
	f.prov.SetKeys(f.key, k2)
	tok := k2.Sign(t, c, nil)
	before := f.prov.Fetches()
	const n = 32
	statuses := make(chan int, n)
	for range n {
		go func() {
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, bearerReq(tok))
			statuses <- w.Code
		}()
	}
	for range n {
		if s := <-statuses; s != 200 {
			t.Fatalf("a request during the rotation fetch got %d, want 200", s)
		}
	}
	if got := f.prov.Fetches() - before; got != 1 {
		t.Fatalf("got %d JWKS fetches for one rotation under %d concurrent requests, want 1", got, n)
	}
}
