package faults_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"supabridge/internal/testprovider"
	"supabridge/shared/refresh"
)

// tokenEndpoint is a provider token endpoint whose behaviour a test sets.
type tokenEndpoint struct {
	*httptest.Server
	calls  atomic.Int64
	answer atomic.Pointer[http.HandlerFunc]
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	te := &tokenEndpoint{}
	te.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		te.calls.Add(1)
		// Read the form: only then does the server watch the connection
		// and end r.Context() when the client gives up.
		_ = r.ParseForm()
		(*te.answer.Load())(w, r)
	}))
	t.Cleanup(te.Close)
	return te
}

func (te *tokenEndpoint) set(f http.HandlerFunc) { te.answer.Store(&f) }

func refreshReq(rt string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/functions/v1/refresh", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// TestRefreshEndpointFaults runs the refresh function as Main serves it
// against a token endpoint that misbehaves in the ways a client of
// refresh_test.go's table does not cover: a body that never ends or trickles,
// a declared Content-Length too large, headers then silence, a reset in the
// middle of the body, a redirect loop, and a 200 without a token. Each is a
// 502 within AUTH_HTTP_TIMEOUT, and never a Supabase token.
func TestRefreshEndpointFaults(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	bound := timeout + 1500*time.Millisecond
	k1 := testprovider.NewKey(t, "k1", "RS256")
	p := testprovider.New(t, "/app/", k1)
	te := newTokenEndpoint(t)
	h, logs := served(t, "refresh", refresh.New, map[string]string{
		"AUTH_ISSUER":        p.Issuer,
		"AUTH_JWKS_URL":      p.JWKSURL(),
		"AUTH_TOKEN_URL":     te.URL + "/token",
		"AUTH_CLIENT_ID":     "supabridge",
		"AUTH_CLIENT_SECRET": "faults-client-secret-value",
		"AUTH_HTTP_TIMEOUT":  timeout.String(),
	})
	idToken := k1.Sign(t, p.Claims("alice"), nil)
	flush := func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }
	waitDone := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	tests := []struct {
		name      string
		answer    http.HandlerFunc
		wantCalls int64 // 0 means one
	}{
		{"headers, then nothing", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			flush(w)
			waitDone(r)
		}, 0},
		{"a body that trickles", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"`)
			for {
				if _, err := w.Write([]byte("a")); err != nil {
					return
				}
				flush(w)
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}, 0},
		{"a body that never ends", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"`)
			chunk := []byte(strings.Repeat("a", 32<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, 0},
		{"Content-Length of 8 MiB", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(8<<20))
			fmt.Fprint(w, `{"access_token":"`)
			flush(w)
			waitDone(r)
		}, 0},
		{"reset in the middle of the body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "1000")
			fmt.Fprint(w, `{"access_token":"x","id_token":"`+idToken[:40])
			flush(w)
			panic(http.ErrAbortHandler)
		}, 0},
		{"redirect loop (no redirect is followed)", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/token", http.StatusTemporaryRedirect)
		}, 1},
		{"200 without an access token", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token_type":"bearer","id_token":%q}`, idToken)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te.set(tt.answer)
			te.calls.Store(0)
			r := do(t, h, refreshReq("rt-faults-1"))
			if r.status != http.StatusBadGateway || r.code != "temporarily_unavailable" {
				t.Fatalf("got %d %v, want 502 temporarily_unavailable", r.status, r.body)
			}
			if _, ok := r.body["access_token"]; ok {
				t.Fatal("an error answer carries a token")
			}
			if r.elapsed > bound {
				t.Fatalf("answered in %v, want within %v", r.elapsed, bound)
			}
			want := max(tt.wantCalls, 1)
			if got := te.calls.Load(); got != want {
				t.Fatalf("got %d token-endpoint calls, want %d", got, want)
			}
		})
	}

	t.Run("many clients while it hangs", func(t *testing.T) {
		te.set(func(w http.ResponseWriter, r *http.Request) { waitDone(r) })
		var wg sync.WaitGroup
		results := make(chan result, 16)
		for i := range 16 {
			wg.Go(func() { results <- do(t, h, refreshReq(fmt.Sprintf("rt-many-%d", i))) })
		}
		wg.Wait()
		close(results)
		for r := range results {
			if r.status != http.StatusBadGateway || r.elapsed > bound {
				t.Errorf("got %d in %v, want 502 within %v", r.status, r.elapsed, bound)
			}
		}
	})

	t.Run("it recovers", func(t *testing.T) {
		te.set(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"access_token":"at","token_type":"bearer","refresh_token":"rt-faults-2","id_token":%q}`, idToken)
		})
		r := do(t, h, refreshReq("rt-faults-1"))
		if r.status != http.StatusOK || r.body["refresh_token"] != "rt-faults-2" {
			t.Fatalf("got %d %v, want 200 with the new refresh token", r.status, r.body)
		}
	})
	if s := logs.String(); strings.Contains(s, "rt-faults-") || strings.Contains(s, "rt-many-") || strings.Contains(s, "faults-client-secret-value") {
		t.Fatal("the log holds a refresh token or the client secret")
	}
	logs.NoTokens(t, idToken)
}

// TestRefreshDiscoveredEndpointDown: the token endpoint comes from the
// discovery document of a provider that is down; refresh answers 502 in
// time, and exchange in the same configuration is unaffected for a key it
// already holds.
func TestRefreshDiscoveredEndpointDown(t *testing.T) {
	t.Parallel()
	k1 := testprovider.NewKey(t, "k1", "ES256")
	p := testprovider.New(t, "/realms/app", k1)
	p.SetMode(testprovider.Down)
	h, _ := served(t, "refresh", refresh.New, map[string]string{
		"AUTH_ISSUER": p.Issuer, "AUTH_CLIENT_ID": "supabridge", "AUTH_HTTP_TIMEOUT": "300ms",
	})
	for i := range 3 {
		r := do(t, h, refreshReq("rt"))
		if r.status != http.StatusBadGateway || r.code != "temporarily_unavailable" || r.elapsed > 2*time.Second {
			t.Fatalf("request %d: got %d %v in %v, want 502 in time", i, r.status, r.body, r.elapsed)
		}
	}
	if n := p.Discoveries(); n > 2 {
		t.Fatalf("got %d discovery requests for 3 refreshes while down, want 1", n)
	}
}
