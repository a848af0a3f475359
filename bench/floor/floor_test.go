package floor_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/bench/floor"
	"supabridge/internal/testprovider"
)

const secret = "floor-benchmark-secret-32-bytes-long!!"

func fixture(tb testing.TB) (*floor.Floor, string, *testprovider.Key) {
	tb.Helper()
	k := testprovider.NewKey(tb, "k1", "RS256")
	tok := k.Sign(tb, map[string]any{"iss": "https://idp.example/", "sub": "alice", "aud": "app", "exp": 4102444800}, nil)
	return floor.New(k.Signer.Public().(*rsa.PublicKey), []byte(secret)), tok, k
}

func TestExchange(t *testing.T) {
	f, tok, _ := fixture(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		floor   *floor.Floor
		token   string
		wantErr bool
	}{
		{"valid", f, tok, false},
		{"other key", floor.New(&other.PublicKey, []byte(secret)), tok, true},
		{"tampered payload", f, strings.Replace(tok, ".", ".e30", 1), true},
		{"two segments", f, tok[:strings.LastIndexByte(tok, '.')], true},
		{"no dot", f, "abc", true},
		{"bad base64 signature", f, tok + "!", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.floor.Exchange(tt.token)
			if (err != nil) != tt.wantErr {
				t.Fatalf("got err %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			// The output is an HS256 JWT over the same payload.
			parsed, err := jwt.Parse(out, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
			if err != nil {
				t.Fatalf("floor output does not verify as HS256: %v", err)
			}
			if sub, _ := parsed.Claims.GetSubject(); sub != "alice" {
				t.Fatalf("got sub %q, want alice", sub)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	f, tok, _ := fixture(t)
	h := floor.Handler(f)
	tests := []struct {
		name       string
		method     string
		path       string
		auth       string
		wantStatus int
		wantBody   string
	}{
		{"exchange", http.MethodPost, "/", "Bearer " + tok, 200, `{"access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.`},
		{"lower-case scheme", http.MethodPost, "/", "bearer " + tok, 200, `{"access_token":"`},
		{"bad token", http.MethodPost, "/", "Bearer a.b.c", 401, ""},
		{"no header", http.MethodPost, "/", "", 401, ""},
		{"healthz", http.MethodGet, "/healthz", "", 200, `{"status":"ok"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("got status %d, want %d", w.Code, tt.wantStatus)
			}
			if !strings.HasPrefix(w.Body.String(), tt.wantBody) {
				t.Fatalf("got body %q, want prefix %q", w.Body.String(), tt.wantBody)
			}
		})
	}
}

// BenchmarkFloor is the bare crypto floor: one RS256 verify and one HS256
// sign with the standard library, no JWT library, no JSON.
func BenchmarkFloor(b *testing.B) {
	f, tok, _ := fixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Exchange(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFloorHandler is the floor behind its plain net/http handler,
// through httptest, the reference for bench/load.
func BenchmarkFloorHandler(b *testing.B) {
	f, tok, _ := fixture(b)
	benchHandler(b, floor.Handler(f), tok)
}

// benchHandler posts tok as a bearer token to h through httptest, as a
// server would allocate per request, and fails on anything but 200.
func benchHandler(b *testing.B, h http.Handler, tok string) {
	auth := []string{"Bearer " + tok}
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header["Authorization"] = auth
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("got %d", w.Code)
		}
	}
}
