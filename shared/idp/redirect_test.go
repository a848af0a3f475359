package idp

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// recorder is a server that records every request it receives, body
// included.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(b))
		rec.mu.Unlock()
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// TestTokenEndpointFollowsNoRedirect: a token endpoint answering with a
// redirect, to another host or its own, never gets the refresh token (or,
// with client_secret_post, the client secret) posted again: the refresh
// fails as the provider being unavailable.
func TestTokenEndpointFollowsNoRedirect(t *testing.T) {
	const (
		refreshToken = "rt-must-stay-home"
		secret       = "client-secret-must-stay-home"
	)
	for _, tt := range []struct {
		name      string
		status    int
		postAuth  bool
		elsewhere bool // to another origin; else the same server
	}{
		{"307 to another host, secret in the body", http.StatusTemporaryRedirect, true, true},
		{"307 to another host, secret in Basic", http.StatusTemporaryRedirect, false, true},
		{"308 to another host", http.StatusPermanentRedirect, true, true},
		{"302 to another host", http.StatusFound, true, true},
		{"307 to the same host", http.StatusTemporaryRedirect, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			attacker := newRecorder(t, nil)
			var endpoint *recorder
			endpoint = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				to := attacker.URL + "/token"
				if !tt.elsewhere {
					if r.URL.Path == "/moved" {
						return
					}
					to = endpoint.URL + "/moved"
				}
				http.Redirect(w, r, to, tt.status)
			})
			c, err := NewTokenClient(TokenConfig{TokenURL: endpoint.URL + "/token", ClientID: "app", ClientSecret: []byte(secret), PostAuth: tt.postAuth}, nil, NewHTTPClient(HTTPOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Refresh(t.Context(), refreshToken)
			if got := attacker.requests(); len(got) != 0 {
				t.Fatalf("the redirect target received %d requests, want none", len(got))
			}
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrRedirect) {
				t.Fatalf("got %v, want ErrUnavailable and ErrRedirect", err)
			}
			if strings.Contains(err.Error(), refreshToken) || strings.Contains(err.Error(), secret) {
				t.Fatal("the error holds the refresh token or the secret")
			}
			if got := endpoint.requests(); len(got) != 1 {
				t.Fatalf("the token endpoint received %d requests, want 1: %q", len(got), got)
			}
		})
	}
}

// TestDiscoveryRedirectStaysOnOrigin: a discovery URL redirecting to
// another origin cannot supply the metadata (and so the jwks_uri); a
// redirect within the issuer's origin is followed.
func TestDiscoveryRedirectStaysOnOrigin(t *testing.T) {
	var issuer string
	doc := func(w http.ResponseWriter, jwks string) {
		_ = json.NewEncoder(w).Encode(Metadata{Issuer: issuer, JWKSURI: jwks, TokenEndpoint: jwks + "/token"})
	}
	var attacker *recorder
	attacker = newRecorder(t, func(w http.ResponseWriter, r *http.Request) { doc(w, attacker.URL+"/jwks") })
	var sameOrigin atomic.Bool
	provider := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/moved":
			doc(w, issuer+"/jwks")
		case sameOrigin.Load():
			http.Redirect(w, r, "/moved", http.StatusFound)
		default:
			http.Redirect(w, r, attacker.URL+"/.well-known/openid-configuration", http.StatusFound)
		}
	})
	issuer = provider.URL
	client := NewHTTPClient(HTTPOptions{})

	d, err := FetchMetadata(t.Context(), client, issuer)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrRedirect) {
		t.Fatalf("redirect to another origin: got %+v, %v; want ErrUnavailable and ErrRedirect", d, err)
	}
	if got := attacker.requests(); len(got) != 0 {
		t.Fatalf("the other origin received %q, want nothing", got)
	}

	sameOrigin.Store(true)
	d, err = FetchMetadata(t.Context(), client, issuer)
	if err != nil || d.JWKSURI != issuer+"/jwks" {
		t.Fatalf("redirect within the origin: got %+v, %v", d, err)
	}
}

func TestOrigin(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		same bool
	}{
		{"https://idp.example.com/a", "https://IDP.example.com:443/b", true},
		{"http://127.0.0.1:8080/x", "http://127.0.0.1:8080/y?z", true},
		{"https://idp.example.com/", "http://idp.example.com/", false},
		{"https://idp.example.com/", "https://idp.example.com:8443/", false},
		{"https://idp.example.com/", "https://evil.example.com/", false},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8081/", false},
	} {
		a, b := mustURL(t, tt.a), mustURL(t, tt.b)
		if got := origin(a) == origin(b); got != tt.same {
			t.Errorf("same origin %s, %s: got %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
