package faults_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"supabridge/shared/function"

	"supabridge/internal/testprovider"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/keys"
	"supabridge/shared/platform"
)

const secret = "faults-e2e-secret-that-is-32-bytes-or-more"

func withSecret(env map[string]string) map[string]string {
	out := map[string]string{"SUPABASE_JWT_SECRET": secret}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// served is exactly what platform.Main serves for name.
func served(t *testing.T, name string, build function.Builder, env map[string]string) (http.Handler, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	h, err := platform.NewHandler(t.Context(), name, build, config.MapEnv(withSecret(env)), slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return h, logs
}

// servedFastKeys is served(exchange) with only the JWKS cache's timing
// changed, for tests that need a second unknown-kid fetch within seconds
// rather than production's 30 s.
func servedFastKeys(t *testing.T, env map[string]string, unknownKID time.Duration) (http.Handler, *testkit.Buffer) {
	t.Helper()
	return testkit.Handler(t, "exchange", exchange.New, withSecret(env), function.Deps{Keys: keys.RemoteOptions{UnknownKIDInterval: unknownKID}})
}

// result is one answer, decoded.
type result struct {
	status  int
	code    string
	body    map[string]any
	elapsed time.Duration
}

func do(t testing.TB, h http.Handler, r *http.Request) result {
	start := time.Now()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := result{status: w.Code, elapsed: time.Since(start)}
	if err := json.Unmarshal(w.Body.Bytes(), &res.body); err != nil {
		t.Errorf("status %d: body is not JSON: %q", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q", ct)
	}
	res.code, _ = res.body["error"].(string)
	return res
}

func exchangeReq(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/functions/v1/exchange", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// token signs a valid token of p (aud "app") with k.
func token(t testing.TB, p *testprovider.Provider, k *testprovider.Key, sub string) string {
	return k.Sign(t, p.Claims(sub), nil)
}

// jwksEnv is a single provider with a JWKS URL and the given timeout.
func jwksEnv(p *testprovider.Provider, timeout string) map[string]string {
	return map[string]string{
		"AUTH_ISSUER":       p.Issuer,
		"AUTH_JWKS_URL":     p.JWKSURL(),
		"AUTH_AUDIENCE":     "app",
		"AUTH_HTTP_TIMEOUT": timeout,
	}
}

// eventually retries f every step until it reports true or limit passes.
func eventually(limit, step time.Duration, f func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(step)
	}
}
