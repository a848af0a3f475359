package idp

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testClientID     = "bridge-client"
	testClientSecret = "cs-7f3a9e1b-client-secret"
	testRefreshToken = "rt-2b8d4c6e-refresh-token"
)

// seenRequest is what the token endpoint received.
type seenRequest struct {
	method, path, contentType string
	authorization             string
	user, pass                string
	basic                     bool
	form                      url.Values
}

// tokenServer is a token endpoint that records each request and answers
// with reply.
type tokenServer struct {
	*httptest.Server
	hits atomic.Int64

	mu   sync.Mutex
	seen []seenRequest
}

func newTokenServer(t *testing.T, reply http.HandlerFunc) *tokenServer {
	t.Helper()
	s := &tokenServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		req := seenRequest{
			method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			authorization: r.Header.Get("Authorization"), form: r.PostForm,
		}
		req.user, req.pass, req.basic = r.BasicAuth()
		s.mu.Lock()
		s.seen = append(s.seen, req)
		s.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *tokenServer) last(t *testing.T) seenRequest {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		t.Fatal("the token endpoint saw no request")
	}
	return s.seen[len(s.seen)-1]
}

func jsonReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// errorBody is an OAuth error whose description echoes what we sent, as a
// careless provider's might.
func errorBody(code string) string {
	return fmt.Sprintf(`{"error":%q,"error_description":"refresh token %s of %s:%s"}`,
		code, testRefreshToken, testClientID, testClientSecret)
}

func newTestTokenClient(t *testing.T, tokenURL string, postAuth bool, o HTTPOptions) *TokenClient {
	t.Helper()
	c, err := NewTokenClient(TokenConfig{
		TokenURL: tokenURL, ClientID: testClientID, ClientSecret: []byte(testClientSecret), PostAuth: postAuth,
	}, nil, NewHTTPClient(o))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const okAnswer = `{"access_token":"at-1","token_type":"Bearer","expires_in":300,"refresh_token":"rt-new","id_token":"id.tok.en"}`

func TestRefreshAuthStyles(t *testing.T) {
	tests := []struct {
		name     string
		postAuth bool
	}{
		{"client_secret_basic", false},
		{"client_secret_post", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTokenServer(t, jsonReply(200, okAnswer))
			c := newTestTokenClient(t, s.URL+"/oauth/token", tt.postAuth, HTTPOptions{})
			if _, err := c.Refresh(t.Context(), testRefreshToken); err != nil {
				t.Fatal(err)
			}
			r := s.last(t)
			if r.method != http.MethodPost || r.path != "/oauth/token" || r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("got %s %s (%s), want a form POST to /oauth/token", r.method, r.path, r.contentType)
			}
			if r.form.Get("grant_type") != "refresh_token" || r.form.Get("refresh_token") != testRefreshToken {
				t.Errorf("got form %v, want the refresh_token grant with our token", r.form)
			}
			if tt.postAuth {
				if r.authorization != "" {
					t.Errorf("got Authorization %q, want none with client_secret_post", r.authorization)
				}
				if r.form.Get("client_id") != testClientID || r.form.Get("client_secret") != testClientSecret {
					t.Errorf("got form client_id %q, client_secret set %v; want ours in the body", r.form.Get("client_id"), r.form.Has("client_secret"))
				}
				return
			}
			if !r.basic || r.user != testClientID || r.pass != testClientSecret {
				t.Errorf("got basic=%v user %q, want HTTP Basic with our client", r.basic, r.user)
			}
			if r.form.Has("client_secret") {
				t.Error("the secret is in the body as well as in the header")
			}
		})
	}
}

func TestRefreshAnswers(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        Tokens
	}{
		{
			name: "rotating provider", contentType: "application/json", body: okAnswer,
			want: Tokens{AccessToken: "at-1", RefreshToken: "rt-new", IDToken: "id.tok.en"},
		},
		{
			name: "non-rotating provider keeps the old refresh token", contentType: "application/json",
			body: `{"access_token":"at-1","token_type":"Bearer","id_token":"id.tok.en"}`,
			want: Tokens{AccessToken: "at-1", RefreshToken: testRefreshToken, IDToken: "id.tok.en"},
		},
		{
			name: "empty refresh_token member keeps the old one", contentType: "application/json",
			body: `{"access_token":"at-1","token_type":"Bearer","refresh_token":""}`,
			want: Tokens{AccessToken: "at-1", RefreshToken: testRefreshToken},
		},
		{
			name: "no id_token", contentType: "application/json",
			body: `{"access_token":"at-1","token_type":"Bearer","refresh_token":"rt-new"}`,
			want: Tokens{AccessToken: "at-1", RefreshToken: "rt-new"},
		},
		{
			name: "id_token that is not a string", contentType: "application/json",
			body: `{"access_token":"at-1","token_type":"Bearer","id_token":42}`,
			want: Tokens{AccessToken: "at-1", RefreshToken: testRefreshToken},
		},
		{
			name: "form-encoded answer", contentType: "application/x-www-form-urlencoded",
			body: "access_token=at-1&token_type=bearer&refresh_token=rt-new&id_token=id.tok.en",
			want: Tokens{AccessToken: "at-1", RefreshToken: "rt-new", IDToken: "id.tok.en"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTokenServer(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				_, _ = w.Write([]byte(tt.body))
			})
			c := newTestTokenClient(t, s.URL, false, HTTPOptions{})
			got, err := c.Refresh(t.Context(), testRefreshToken)
			if err != nil {
				t.Fatalf("got %v, want tokens", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if s.hits.Load() != 1 {
				t.Errorf("token endpoint saw %d requests, want 1", s.hits.Load())
			}
		})
	}
}

// checkNoSecrets fails when err's text holds anything we sent.
func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	basic := base64.StdEncoding.EncodeToString([]byte(testClientID + ":" + testClientSecret))
	for _, s := range []string{testRefreshToken, testClientSecret, basic} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error text %q holds a secret we sent", err)
		}
	}
}

func TestRefreshErrors(t *testing.T) {
	sentinels := []error{ErrInvalidGrant, ErrClient, ErrUnavailable}
	tests := []struct {
		name  string
		reply http.HandlerFunc
		// o bounds the client; zero means the defaults.
		o    HTTPOptions
		want error
	}{
		{name: "invalid_grant", reply: jsonReply(400, errorBody("invalid_grant")), want: ErrInvalidGrant},
		{
			name: "invalid_grant form-encoded",
			reply: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
				w.WriteHeader(400)
				_, _ = w.Write([]byte("error=invalid_grant&error_description=" + url.QueryEscape(testRefreshToken)))
			},
			want: ErrInvalidGrant,
		},
		{name: "invalid_grant in a 200", reply: jsonReply(200, errorBody("invalid_grant")), want: ErrInvalidGrant},
		{name: "Dex: invalid_request 400 for a reused token", reply: jsonReply(400, errorBody("invalid_request")), want: ErrInvalidGrant},
		{name: "invalid_request 401 is not a refused token", reply: jsonReply(401, errorBody("invalid_request")), want: ErrClient},
		{name: "invalid_client 401", reply: jsonReply(401, errorBody("invalid_client")), want: ErrClient},
		{name: "unauthorized_client 400", reply: jsonReply(400, errorBody("unauthorized_client")), want: ErrClient},
		{name: "unsupported_grant_type 400", reply: jsonReply(400, errorBody("unsupported_grant_type")), want: ErrClient},
		{name: "400 without an error code", reply: jsonReply(400, ""), want: ErrClient},
		{name: "500 with an OAuth error", reply: jsonReply(500, errorBody("server_error")), want: ErrUnavailable},
		{
			name: "500 echoing the request",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(500)
				_, _ = fmt.Fprintf(w, "<pre>%s %s</pre>", r.PostForm.Encode(), r.Header.Get("Authorization"))
			},
			want: ErrUnavailable,
		},
		{name: "503 empty", reply: jsonReply(503, ""), want: ErrUnavailable},
		{name: "429 without a code", reply: jsonReply(429, "slow down "+testRefreshToken), want: ErrUnavailable},
		{name: "200 not JSON", reply: jsonReply(200, "<html>"+testRefreshToken), want: ErrUnavailable},
		{name: "200 without access_token", reply: jsonReply(200, `{"token_type":"Bearer","refresh_token":"rt-new"}`), want: ErrUnavailable},
		{
			name:  "body over the limit",
			reply: jsonReply(200, `{"access_token":"`+strings.Repeat("a", 4<<10)+`","refresh_token":"`+testRefreshToken+`"}`),
			o:     HTTPOptions{MaxBody: 1 << 10},
			want:  ErrUnavailable,
		},
		{
			name: "timeout",
			reply: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			o:    HTTPOptions{Timeout: 100 * time.Millisecond},
			want: ErrUnavailable,
		},
	}
	for _, tt := range tests {
		for _, postAuth := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/post=%v", tt.name, postAuth), func(t *testing.T) {
				s := newTokenServer(t, tt.reply)
				c := newTestTokenClient(t, s.URL, postAuth, tt.o)
				got, err := c.Refresh(t.Context(), testRefreshToken)
				if got != (Tokens{}) {
					t.Errorf("got tokens %+v with an error", got)
				}
				for _, sen := range sentinels {
					if errors.Is(err, sen) != (sen == tt.want) {
						t.Errorf("got %v; want %q and no other sentinel", err, tt.want)
					}
				}
				// x/oauth2's AuthStyleAutoDetect would retry with the other
				// style, sending a refused refresh token twice.
				if s.hits.Load() != 1 {
					t.Errorf("token endpoint saw %d requests, want exactly 1", s.hits.Load())
				}
				if err != nil {
					checkNoSecrets(t, err)
				}
			})
		}
	}
}

func TestRefreshTransportFailure(t *testing.T) {
	s := newTokenServer(t, jsonReply(200, okAnswer))
	s.Close()
	c := newTestTokenClient(t, s.URL, false, HTTPOptions{})
	_, err := c.Refresh(t.Context(), testRefreshToken)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrClient) {
		t.Fatalf("got %v, want ErrUnavailable alone", err)
	}
	checkNoSecrets(t, err)
}

func TestRefreshWithoutRefreshToken(t *testing.T) {
	s := newTokenServer(t, jsonReply(200, okAnswer))
	c := newTestTokenClient(t, s.URL, false, HTTPOptions{})
	if _, err := c.Refresh(t.Context(), ""); err == nil {
		t.Fatal("got no error for an empty refresh token")
	}
	if s.hits.Load() != 0 {
		t.Fatalf("token endpoint saw %d requests for an empty refresh token, want 0", s.hits.Load())
	}
}

// discoveredProvider serves a metadata document naming its token endpoint
// and that endpoint, counting each.
type discoveredProvider struct {
	*httptest.Server
	disco, token atomic.Int64
	status       atomic.Int64
	tokenPath    atomic.Value // string; "" leaves token_endpoint out
}

func newDiscoveredProvider(t *testing.T) *discoveredProvider {
	t.Helper()
	p := &discoveredProvider{}
	p.status.Store(200)
	p.tokenPath.Store("/oauth/v2/token")
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			p.disco.Add(1)
			d := map[string]any{"issuer": p.URL, "jwks_uri": p.URL + "/keys"}
			if tp := p.tokenPath.Load().(string); tp != "" {
				d["token_endpoint"] = p.URL + tp
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(p.status.Load()))
			_ = json.NewEncoder(w).Encode(d)
			return
		}
		p.token.Add(1)
		if r.URL.Path != p.tokenPath.Load().(string) {
			http.NotFound(w, r)
			return
		}
		jsonReply(200, okAnswer)(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func TestRefreshTokenURLFromDiscovery(t *testing.T) {
	t.Run("token_endpoint used", func(t *testing.T) {
		p := newDiscoveredProvider(t)
		client := NewHTTPClient(HTTPOptions{})
		c, err := NewTokenClient(TokenConfig{ClientID: testClientID, ClientSecret: []byte(testClientSecret)},
			NewDiscovery(p.URL, client, time.Minute), client)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			got, err := c.Refresh(t.Context(), testRefreshToken)
			if err != nil || got.AccessToken != "at-1" {
				t.Fatalf("got %+v, %v; want the endpoint's tokens", got, err)
			}
		}
		if p.disco.Load() != 1 || p.token.Load() != 3 {
			t.Fatalf("provider saw %d discovery and %d token requests, want 1 and 3", p.disco.Load(), p.token.Load())
		}
	})

	t.Run("configured TokenURL wins over discovery", func(t *testing.T) {
		p := newDiscoveredProvider(t)
		client := NewHTTPClient(HTTPOptions{})
		c, err := NewTokenClient(TokenConfig{TokenURL: p.URL + "/oauth/v2/token", ClientID: testClientID},
			NewDiscovery(p.URL, client, time.Minute), client)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Refresh(t.Context(), testRefreshToken); err != nil {
			t.Fatal(err)
		}
		if p.disco.Load() != 0 {
			t.Fatalf("provider saw %d discovery requests, want none", p.disco.Load())
		}
	})

	for _, tt := range []struct {
		name      string
		status    int
		tokenPath string
	}{
		{"document without token_endpoint", 200, ""},
		{"discovery failing", 500, "/oauth/v2/token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newDiscoveredProvider(t)
			p.status.Store(int64(tt.status))
			p.tokenPath.Store(tt.tokenPath)
			client := NewHTTPClient(HTTPOptions{})
			c, err := NewTokenClient(TokenConfig{ClientID: testClientID, ClientSecret: []byte(testClientSecret)},
				NewDiscovery(p.URL, client, time.Minute), client)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Refresh(t.Context(), testRefreshToken)
			if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalidGrant) || errors.Is(err, ErrClient) {
				t.Fatalf("got %v, want ErrUnavailable alone", err)
			}
			if p.token.Load() != 0 {
				t.Fatalf("token endpoint saw %d requests, want none", p.token.Load())
			}
			checkNoSecrets(t, err)
		})
	}
}

func TestNewTokenClientRefuses(t *testing.T) {
	client := NewHTTPClient(HTTPOptions{})
	tests := []struct {
		name string
		cfg  TokenConfig
	}{
		{"no client id", TokenConfig{TokenURL: "https://id.example.com/token", ClientSecret: []byte(testClientSecret)}},
		{"no token URL and no discovery", TokenConfig{ClientID: testClientID, ClientSecret: []byte(testClientSecret)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewTokenClient(tt.cfg, nil, client)
			if err == nil || c != nil {
				t.Fatalf("got %v, %v; want an error", c, err)
			}
			checkNoSecrets(t, err)
		})
	}
}

func TestRefreshConcurrent(t *testing.T) {
	s := newTokenServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"access_token": "at-for-" + r.PostForm.Get("refresh_token"), "token_type": "Bearer",
		})
	})
	c := newTestTokenClient(t, s.URL, true, HTTPOptions{})
	const n = 16
	got := make([]Tokens, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = c.Refresh(t.Context(), fmt.Sprintf("rt-%d", i)) })
	}
	wg.Wait()
	for i := range n {
		rt := fmt.Sprintf("rt-%d", i)
		if errs[i] != nil || got[i].AccessToken != "at-for-"+rt || got[i].RefreshToken != rt {
			t.Errorf("call %d: got %+v, %v; want its own tokens", i, got[i], errs[i])
		}
	}
	if s.hits.Load() != n {
		t.Errorf("token endpoint saw %d requests, want %d", s.hits.Load(), n)
	}
}
