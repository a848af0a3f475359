package floor_test

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/bench/floor"
	"supabridge/internal/testprovider"
)

const stdIss = "https://idp.example/application/o/app/"

func stdFixture(tb testing.TB) (*floor.Std, *testprovider.Key) {
	tb.Helper()
	k := testprovider.NewKey(tb, "k1", "RS256")
	return floor.NewStd(k.Signer.Public().(*rsa.PublicKey), []byte(secret), stdIss, "app"), k
}

func stdClaims() map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": stdIss, "sub": "alice", "aud": "app", "iat": now, "exp": now + 600, "email": "a@example.com", "groups": []string{"users"}}
}

// TestStd checks that the second floor does the contract's checks, so the
// comparison with the exchange is between two exchanges that refuse the
// same tokens, and that what it mints holds the contract's claims.
func TestStd(t *testing.T) {
	s, k := stdFixture(t)
	with := func(key string, v any) map[string]any {
		c := stdClaims()
		if v == nil {
			delete(c, key)
		} else {
			c[key] = v
		}
		return c
	}
	now := time.Now().Unix()
	tests := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{"valid", k.Sign(t, stdClaims(), nil), false},
		{"audience in a list", k.Sign(t, with("aud", []string{"other", "app"}), nil), false},
		{"wrong issuer", k.Sign(t, with("iss", stdIss+"x"), nil), true},
		{"wrong audience", k.Sign(t, with("aud", "other"), nil), true},
		{"no exp", k.Sign(t, with("exp", nil), nil), true},
		{"expired", k.Sign(t, with("exp", now-120), nil), true},
		{"nbf in the future", k.Sign(t, with("nbf", now+120), nil), true},
		{"iat in the future", k.Sign(t, with("iat", now+120), nil), true},
		{"no sub", k.Sign(t, with("sub", nil), nil), true},
		{"crit header", k.Sign(t, stdClaims(), map[string]any{"crit": []string{"x"}}), true},
		{"other key", testprovider.NewKey(t, "k1", "RS256").Sign(t, stdClaims(), nil), true},
		{"two segments", "a.b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := s.Exchange(tt.token)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got err %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			var c jwt.MapClaims
			if _, err := jwt.ParseWithClaims(out, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"})); err != nil {
				t.Fatalf("minted token does not verify: %v", err)
			}
			if c["role"] != "authenticated" || c["aud"] != "authenticated" || c["sub"] != "alice" || c["email"] != "a@example.com" || c["is_anonymous"] != false {
				t.Fatalf("got claims %v, want the contract's", c)
			}
		})
	}
}

func TestStdHandler(t *testing.T) {
	s, k := stdFixture(t)
	h := floor.StdHandler(s)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer "+k.Sign(t, stdClaims(), nil))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var resp floor.StdResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &resp) != nil || resp.AccessToken == "" || resp.SupabaseJWT != resp.AccessToken || resp.ExpiresIn < 590 {
		t.Fatalf("got %d %s, want 200 and the contract's body", w.Code, w.Body)
	}
	r = httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer a.b.c")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("bad token: got %d, want 401", w.Code)
	}
}

// BenchmarkStd is the standard-library exchange alone.
func BenchmarkStd(b *testing.B) {
	s, k := stdFixture(b)
	tok := k.Sign(b, stdClaims(), nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Exchange(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStdHandler is the standard-library exchange behind net/http,
// through httptest, as the exchange handler's benchmarks run.
func BenchmarkStdHandler(b *testing.B) {
	s, k := stdFixture(b)
	benchHandler(b, floor.StdHandler(s), k.Sign(b, stdClaims(), nil))
}
