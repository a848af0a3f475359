package refresh_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"supabridge/shared/function"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/config"
	"supabridge/shared/refresh"
)

const secret = "refresh-test-secret-32-bytes-or-more!!!"

// tokenEndpoint is a provider token endpoint whose answer the test chooses.
type tokenEndpoint struct {
	srv      *httptest.Server
	calls    atomic.Int64
	lastForm atomic.Value // url.Values
	lastAuth atomic.Value // string
	answer   atomic.Value // func(w http.ResponseWriter, r *http.Request)
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	te := &tokenEndpoint{}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.calls.Add(1)
		_ = r.ParseForm()
		te.lastForm.Store(r.PostForm)
		te.lastAuth.Store(r.Header.Get("Authorization"))
		te.answer.Load().(func(http.ResponseWriter, *http.Request))(w, r)
	}))
	t.Cleanup(te.srv.Close)
	return te
}

func (te *tokenEndpoint) set(f func(w http.ResponseWriter, r *http.Request)) { te.answer.Store(f) }

func jsonAnswer(status int, v any) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
}

type fixture struct {
	h    http.Handler
	te   *tokenEndpoint
	key  *testprovider.Key
	prov *testprovider.Provider
	logs *testkit.Buffer
}

func newFixture(t *testing.T, extra map[string]string) *fixture {
	t.Helper()
	key := testprovider.NewKey(t, "k1", "RS256")
	prov := testprovider.New(t, "/dex", key)
	te := newTokenEndpoint(t)
	env := map[string]string{
		"SUPABASE_JWT_SECRET": secret,
		"AUTH_ISSUER":         prov.Issuer,
		"AUTH_JWKS_URL":       prov.JWKSURL(),
		"AUTH_TOKEN_URL":      te.srv.URL,
		"AUTH_CLIENT_ID":      "supabridge",
		"AUTH_CLIENT_SECRET":  "client-secret-value",
		"AUTH_HTTP_TIMEOUT":   "300ms",
	}
	for k, v := range extra {
		env[k] = v
	}
	h, logs := testkit.Handler(t, "refresh", refresh.New, env, function.Deps{})
	return &fixture{h: h, te: te, key: key, prov: prov, logs: logs}
}

func (f *fixture) idToken(t *testing.T, mod func(map[string]any)) string {
	c := f.prov.Claims("alice")
	c["aud"] = "supabridge"
	if mod != nil {
		mod(c)
	}
	return f.key.Sign(t, c, nil)
}

func (f *fixture) post(t *testing.T, contentType, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/functions/v1/refresh", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body not JSON: %q", w.Body.String())
	}
	return w.Code, m
}

const form = "application/x-www-form-urlencoded"

func TestRefresh(t *testing.T) {
	f := newFixture(t, nil)
	good := f.idToken(t, nil)
	other := testprovider.NewKey(t, "k1", "RS256")
	forged := other.Sign(t, f.prov.Claims("alice"), nil)
	accessJWT := f.idToken(t, func(c map[string]any) { c["sub"] = "from-access" })

	tests := []struct {
		name       string
		answer     func(http.ResponseWriter, *http.Request)
		ct, body   string
		wantStatus int
		wantCode   string
		wantCalls  int64
		check      func(t *testing.T, body map[string]any)
	}{
		{
			name:   "rotating provider",
			answer: jsonAnswer(200, map[string]any{"access_token": "opaque-at", "token_type": "bearer", "expires_in": 300, "refresh_token": "rt-2", "id_token": good}),
			ct:     form, body: "grant_type=refresh_token&refresh_token=rt-1",
			wantStatus: 200, wantCalls: 1,
			check: func(t *testing.T, b map[string]any) {
				if b["refresh_token"] != "rt-2" || b["provider_token"] != "opaque-at" || b["id_token"] != good {
					t.Fatalf("got %v", b)
				}
				checkMinted(t, b["access_token"].(string), "alice")
			},
		},
		{
			name:   "non-rotating provider keeps the old refresh token, JSON request",
			answer: jsonAnswer(200, map[string]any{"access_token": "opaque-at", "token_type": "bearer", "id_token": good}),
			ct:     "application/json", body: `{"refresh_token":"rt-1"}`,
			wantStatus: 200, wantCalls: 1,
			check: func(t *testing.T, b map[string]any) {
				if b["refresh_token"] != "rt-1" {
					t.Fatalf("got refresh_token %v, want the old one", b["refresh_token"])
				}
			},
		},
		{
			name:   "no id_token: the JWT access token is verified",
			answer: jsonAnswer(200, map[string]any{"access_token": accessJWT, "token_type": "bearer"}),
			ct:     form, body: "refresh_token=rt-1",
			wantStatus: 200, wantCalls: 1,
			check: func(t *testing.T, b map[string]any) {
				checkMinted(t, b["access_token"].(string), "from-access")
				if _, ok := b["id_token"]; ok {
					t.Fatal("got an id_token the provider did not return")
				}
			},
		},
		{"no verifiable token", jsonAnswer(200, map[string]any{"access_token": "opaque", "token_type": "bearer"}), form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"id_token signed by an unknown key", jsonAnswer(200, map[string]any{"access_token": "x", "token_type": "bearer", "id_token": forged}), form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"invalid_grant sent once", jsonAnswer(400, map[string]any{"error": "invalid_grant", "error_description": "used"}), form, "refresh_token=rt", 400, "invalid_grant", 1, nil},
		{"Dex-style invalid_request for a spent token", jsonAnswer(400, map[string]any{"error": "invalid_request", "error_description": "Refresh token is invalid or has already been claimed by another client."}), form, "refresh_token=rt", 400, "invalid_grant", 1, nil},
		{"invalid_scope is ours to fix", jsonAnswer(400, map[string]any{"error": "invalid_scope"}), form, "refresh_token=rt", 500, "server_error", 1, nil},
		{"provider 500", jsonAnswer(500, map[string]any{"error": "server_error"}), form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"provider 503 html", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503); fmt.Fprint(w, "<html>") }, form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"garbage 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{not json")
		}, form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"huge body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"`+strings.Repeat("a", 2<<20)+`"}`)
		}, form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"connection reset", func(w http.ResponseWriter, r *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}, form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"hangs past the timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, form, "refresh_token=rt", 502, "temporarily_unavailable", 1, nil},
		{"invalid_client is ours to fix", jsonAnswer(401, map[string]any{"error": "invalid_client"}), form, "refresh_token=rt", 500, "server_error", 1, nil},
		{"missing refresh token", nil, form, "grant_type=refresh_token", 400, "invalid_request", 0, nil},
		{"empty JSON", nil, "application/json", `{}`, 400, "invalid_request", 0, nil},
		{"bad JSON", nil, "application/json", `{"refresh_token":`, 400, "invalid_request", 0, nil},
		{"other grant type", nil, form, "grant_type=password&refresh_token=x", 400, "unsupported_grant_type", 0, nil},
		{"unknown provider", nil, form, "refresh_token=x&provider=nope", 400, "invalid_request", 0, nil},
		{"repeated refresh token", nil, form, "refresh_token=a&refresh_token=b", 400, "invalid_request", 0, nil},
		{"refresh token over 16 KiB", nil, form, "refresh_token=" + strings.Repeat("a", 16<<10+1), 413, "request_too_large", 0, nil},
		{"text body", nil, "text/plain", "refresh_token=x", 400, "invalid_request", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.te.calls.Store(0)
			if tt.answer != nil {
				f.te.set(tt.answer)
			}
			start := time.Now()
			status, body := f.post(t, tt.ct, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("got %d %v, want %d", status, body, tt.wantStatus)
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("took %v, want it bounded by the 300ms provider timeout", time.Since(start))
			}
			if tt.wantCode != "" && body["error"] != tt.wantCode {
				t.Fatalf("got error %v, want %s", body["error"], tt.wantCode)
			}
			if tt.wantCode != "" {
				if _, ok := body["access_token"]; ok {
					t.Fatal("an error answer carries a token")
				}
			}
			if got := f.te.calls.Load(); got != tt.wantCalls {
				t.Fatalf("got %d token-endpoint calls, want %d", got, tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
	logs := f.logs.String()
	for _, s := range []string{"rt-1", "rt-2", "client-secret-value", good[:30], "opaque-at"} {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q", s)
		}
	}
}

func TestClientAuthStyles(t *testing.T) {
	for _, style := range []string{"basic", "post"} {
		t.Run(style, func(t *testing.T) {
			f := newFixture(t, map[string]string{"AUTH_CLIENT_AUTH": style})
			f.te.set(jsonAnswer(200, map[string]any{"access_token": "a", "token_type": "bearer", "id_token": f.idToken(t, nil)}))
			if status, body := f.post(t, form, "refresh_token=rt"); status != 200 {
				t.Fatalf("got %d %v", status, body)
			}
			auth, _ := f.te.lastAuth.Load().(string)
			fv, _ := f.te.lastForm.Load().(url.Values)
			if fv.Get("grant_type") != "refresh_token" || fv.Get("refresh_token") != "rt" {
				t.Fatalf("got form %v", fv)
			}
			switch style {
			case "basic":
				if !strings.HasPrefix(auth, "Basic ") || fv.Get("client_secret") != "" {
					t.Fatalf("got Authorization %q and form secret %q, want Basic only", auth, fv.Get("client_secret"))
				}
			case "post":
				if auth != "" || fv.Get("client_id") != "supabridge" || fv.Get("client_secret") != "client-secret-value" {
					t.Fatalf("got Authorization %q and form %v, want the credentials in the form", auth, fv)
				}
			}
		})
	}
}

func TestNoClientIsAStartError(t *testing.T) {
	cfg, err := config.Load(config.MapEnv(map[string]string{"SUPABASE_JWT_SECRET": secret, "AUTH_JWKS_URL": "http://127.0.0.1:1/jwks"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refresh.New(t.Context(), cfg, function.Deps{}); err == nil || !strings.Contains(err.Error(), "AUTH_CLIENT_ID") {
		t.Fatalf("got %v, want an error naming AUTH_CLIENT_ID", err)
	}
}

func checkMinted(t *testing.T, tok, sub string) {
	t.Helper()
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("authenticated"))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	c := parsed.Claims.(jwt.MapClaims)
	if c["sub"] != sub || c["role"] != "authenticated" {
		t.Fatalf("got sub %v role %v", c["sub"], c["role"])
	}
}
