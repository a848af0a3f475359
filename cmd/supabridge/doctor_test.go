package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testenv/dex"
	"supabridge/internal/testprovider"
	"supabridge/shared/config"
)

// fakeIdP is an OIDC provider whose discovery document and JWKS a test
// can break in each of the ways doctor must name. It serves the issuer
// <URL>/app/, Authentik style.
type fakeIdP struct {
	srv        *httptest.Server
	issuer     string
	doc        map[string]any // nil: discovery answers 404
	jwksStatus int
	jwksBody   string
}

func newFakeIdP(t *testing.T, key *testprovider.Key, mutate func(f *fakeIdP)) *fakeIdP {
	t.Helper()
	f := &fakeIdP{jwksStatus: http.StatusOK}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/app/.well-known/openid-configuration":
			if f.doc == nil {
				http.NotFound(w, r)
				return
			}
			_ = json.NewEncoder(w).Encode(f.doc)
		case "/app/jwks/":
			w.WriteHeader(f.jwksStatus)
			_, _ = w.Write([]byte(f.jwksBody))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	f.issuer = f.srv.URL + "/app/"
	f.doc = map[string]any{
		"issuer":                                f.issuer,
		"jwks_uri":                              f.srv.URL + "/app/jwks/",
		"token_endpoint":                        f.srv.URL + "/token/",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
	}
	b, err := json.Marshal(map[string]any{"keys": []jwkset.JWKMarshal{key.JWK(t)}})
	if err != nil {
		t.Fatal(err)
	}
	f.jwksBody = string(b)
	if mutate != nil {
		mutate(f)
	}
	return f
}

// closedPort returns an address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// doctorJSON runs doctor --json and decodes its checks.
func doctorJSON(t *testing.T, env map[string]string, args ...string) ([]check, int) {
	t.Helper()
	r := runCmd(t, doctorCmd{now: clock(fixedNow)}.run, env, "", append([]string{"--json"}, args...)...)
	var checks []check
	if err := json.Unmarshal([]byte(r.stdout), &checks); err != nil {
		t.Fatalf("--json output is not a JSON array of checks: %v\n%s%s", err, r.stdout, r.stderr)
	}
	return checks, r.code
}

func find(checks []check, name string) *check {
	for i := range checks {
		if checks[i].Check == name {
			return &checks[i]
		}
	}
	return nil
}

func TestDoctorProviderFailures(t *testing.T) {
	key := testprovider.NewKey(t, "k1", "RS256")
	for _, tc := range []struct {
		name    string
		mutate  func(f *fakeIdP)
		env     func(f *fakeIdP) map[string]string
		failing string // the one check that fails
		detail  string
		fix     string
		absent  []string // checks left out because their input is missing
	}{
		{
			name:    "HS256-only discovery (Authentik without a signing key)",
			mutate:  func(f *fakeIdP) { f.doc["id_token_signing_alg_values_supported"] = []string{"HS256"} },
			failing: "provider default: signing algorithms",
			detail:  "the provider signs with HS256 only, a shared secret that supabridge never accepts",
			fix:     "select a signing key in the provider",
		},
		{
			name: "issuer differs by a trailing slash",
			env: func(f *fakeIdP) map[string]string {
				return map[string]string{"AUTH_ISSUER": strings.TrimSuffix(f.issuer, "/")}
			},
			failing: "provider default: issuer",
			detail:  "they differ only by a trailing slash",
			fix:     "set AUTH_ISSUER to exactly",
		},
		{
			name:    "issuer differs",
			mutate:  func(f *fakeIdP) { f.doc["issuer"] = "https://auth.example.com/application/o/other/" },
			failing: "provider default: issuer",
			detail:  `the provider says "https://auth.example.com/application/o/other/", configured`,
			fix:     `set AUTH_ISSUER to exactly "https://auth.example.com/application/o/other/"`,
		},
		{
			name:    "JWKS 404",
			mutate:  func(f *fakeIdP) { f.jwksStatus = http.StatusNotFound },
			failing: "provider default: jwks",
			detail:  "/app/jwks/ answered 404",
			fix:     "check the provider's jwks_uri",
			absent:  []string{"provider default: jwks keys"},
		},
		{
			name:    "empty JWKS",
			mutate:  func(f *fakeIdP) { f.jwksBody = `{"keys":[]}` },
			failing: "provider default: jwks keys",
			detail:  "the key set is empty",
			fix:     "give the provider a signing key",
		},
		{
			name:    "JWKS is a web page",
			mutate:  func(f *fakeIdP) { f.jwksBody = "<html>login</html>" },
			failing: "provider default: jwks keys",
			detail:  "not a JWK Set",
		},
		{
			name:    "JWKS key of the wrong type",
			mutate:  func(f *fakeIdP) { f.doc["id_token_signing_alg_values_supported"] = []string{"RS256", "ES256"} },
			env:     func(*fakeIdP) map[string]string { return map[string]string{"AUTH_ALGORITHMS": "ES256"} },
			failing: "provider default: jwks keys",
			detail:  "1 key, none usable for ES256",
		},
		{
			name: "unreachable",
			env: func(*fakeIdP) map[string]string {
				return map[string]string{"AUTH_ISSUER": "http://" + closedPort(t) + "/app/"}
			},
			failing: "provider default: discovery",
			detail:  "connection refused",
			fix:     "check AUTH_ISSUER",
			absent:  []string{"provider default: issuer", "provider default: jwks"},
		},
		{
			name:    "no token endpoint with client_id set",
			mutate:  func(f *fakeIdP) { delete(f.doc, "token_endpoint") },
			env:     func(*fakeIdP) map[string]string { return map[string]string{"AUTH_CLIENT_ID": "app"} },
			failing: "provider default: token endpoint",
			detail:  "client_id is set for refresh, but the discovery document has no token_endpoint",
			fix:     "set AUTH_TOKEN_URL",
		},
		{
			name:    "insecure_http set",
			env:     func(*fakeIdP) map[string]string { return map[string]string{"AUTH_INSECURE_HTTP": "true"} },
			failing: "provider default: transport",
			detail:  "insecure_http is set",
			fix:     "unset AUTH_INSECURE_HTTP",
		},
		{
			name:    "discovered jwks_uri is plain http to another host",
			mutate:  func(f *fakeIdP) { f.doc["jwks_uri"] = "http://jwks.example.invalid/keys" },
			failing: "provider default: jwks",
			detail:  "plain http to a host that is not loopback",
			fix:     "https jwks_uri",
			absent:  []string{"provider default: jwks keys"},
		},
		{
			name:    "discovered token_endpoint is plain http to another host",
			mutate:  func(f *fakeIdP) { f.doc["token_endpoint"] = "http://idp.example.invalid/token" },
			env:     func(*fakeIdP) map[string]string { return map[string]string{"AUTH_CLIENT_ID": "app"} },
			failing: "provider default: token endpoint",
			detail:  "plain http to a host that is not loopback",
			fix:     "https token_endpoint",
		},
		{
			name:    "no refresh grant",
			mutate:  func(f *fakeIdP) { f.doc["grant_types_supported"] = []string{"authorization_code"} },
			env:     func(*fakeIdP) map[string]string { return map[string]string{"AUTH_CLIENT_ID": "app"} },
			failing: "provider default: token endpoint",
			detail:  "grant_types_supported lacks refresh_token",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIdP(t, key, tc.mutate)
			env := map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_ISSUER": f.issuer, "AUTH_AUDIENCE": "app"}
			if tc.env != nil {
				for k, v := range tc.env(f) {
					env[k] = v
				}
			}
			checks, code := doctorJSON(t, env)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, c := range checks {
				if !c.OK && c.Check != tc.failing {
					t.Errorf("unexpected failure %+v", c)
				}
			}
			c := find(checks, tc.failing)
			if c == nil || c.OK || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) || c.Fix == "" {
				t.Errorf("got %+v, want %s failing with %q, fix %q", c, tc.failing, tc.detail, tc.fix)
			}
			for _, name := range tc.absent {
				if find(checks, name) != nil {
					t.Errorf("%s was reported though its input is missing", name)
				}
			}
		})
	}
}

func TestDoctorAllPass(t *testing.T) {
	key := testprovider.NewKey(t, "k1", "RS256")
	f := newFakeIdP(t, key, nil)
	env := map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_ISSUER": f.issuer, "AUTH_AUDIENCE": "app", "AUTH_CLIENT_ID": "app"}
	tok := key.Sign(t, map[string]any{"iss": f.issuer, "sub": "alice", "aud": "app", "email": "alice@example.com", "email_verified": true, "groups": []string{"admins"},
		"iat": fixedNow.Unix(), "exp": fixedNow.Add(30 * time.Minute).Unix()}, nil)
	tokFile := writeFile(t, "token", tok)

	r := runCmd(t, doctorCmd{now: clock(fixedNow)}.run, env, "", "--token", tokFile)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, tok) || strings.Contains(r.stdout, testSecret) {
		t.Error("doctor printed the token or the secret")
	}
	golden(t, "doctor.pass.golden", strings.ReplaceAll(r.stdout, f.srv.URL, "http://idp.test"))

	// The same from an env file, as JSON.
	var file strings.Builder
	file.WriteString("# doctor test\n")
	for k, v := range env {
		file.WriteString(k + "=" + v + "\n")
	}
	checks, code := doctorJSON(t, nil, "--env-file", writeFile(t, ".env", file.String()))
	if code != 0 || len(checks) != 10 {
		t.Errorf("--env-file: exit %d, %d checks, want 0 and 10: %+v", code, len(checks), checks)
	}
}

func TestDoctorConfigAndSecret(t *testing.T) {
	t.Run("example secret and bad config", func(t *testing.T) {
		checks, code := doctorJSON(t, map[string]string{"JWT_SECRET": config.ExampleSecret, "AUTH_LEEWAY": "soon"})
		if code != 1 || len(checks) != 3 {
			t.Fatalf("exit %d, %+v", code, checks)
		}
		if c := checks[0]; c.Check != "configuration loads" || c.OK || !strings.Contains(c.Detail, "AUTH_LEEWAY: not a duration") {
			t.Errorf("got %+v", c)
		}
		if c := checks[1]; c.Check != "signing key" || !c.OK || c.Detail != "HS256, no kid, from JWT_SECRET" {
			t.Errorf("got %+v", c)
		}
		if c := checks[2]; c.Check != "supabase secret" || c.OK || !strings.Contains(c.Detail, "example secret") || !strings.Contains(c.Fix, "supabridge secret") {
			t.Errorf("got %+v", c)
		}
		for _, c := range checks {
			if strings.Contains(c.Detail+c.Fix, config.ExampleSecret) {
				t.Error("the secret was printed")
			}
		}
	})
	t.Run("golden", func(t *testing.T) {
		r := runCmd(t, doctorCmd{}.run, map[string]string{"JWT_SECRET": config.ExampleSecret, "AUTH_LEEWAY": "soon"}, "")
		if r.code != 1 {
			t.Errorf("exit %d", r.code)
		}
		golden(t, "doctor.config.golden", r.stdout)
	})
	t.Run("bad env file", func(t *testing.T) {
		r := runCmd(t, doctorCmd{}.run, nil, "", "--env-file", writeFile(t, ".env", "JWT_SECRET\n"))
		if r.code != 2 || !strings.Contains(r.stderr, "line 1: not KEY=VALUE") {
			t.Errorf("got %d %q", r.code, r.stderr)
		}
	})
}

func TestDoctorTokenRefused(t *testing.T) {
	key := testprovider.NewKey(t, "k1", "RS256")
	f := newFakeIdP(t, key, nil)
	env := map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_ISSUER": f.issuer, "AUTH_AUDIENCE": "app"}
	tok := key.Sign(t, map[string]any{"iss": f.issuer, "sub": "alice", "aud": "someone-else", "iat": fixedNow.Unix(), "exp": fixedNow.Add(-time.Minute).Unix()}, nil)
	r := runCmd(t, doctorCmd{now: clock(fixedNow)}.run, env, tok, "--token", "-")
	if r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	for _, want := range []string{"FAIL token: expiry: expired at 2029-12-31 23:59:00 UTC, 1m0s ago", `FAIL token: audience: the token's aud is "someone-else"; accepted: "app"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// restStandIn answers GET /rest/v1/ like Kong in front of PostgREST: the
// apikey must be the anon key, and the bearer token must verify with its
// secret; it records the claims of the last token.
type restStandIn struct {
	srv    *httptest.Server
	mu     sync.Mutex
	claims jwt.MapClaims
	header map[string]any
}

func newRESTStandIn(t *testing.T, secret, anon string) *restStandIn {
	s := &restStandIn{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/rest/v1/" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("apikey") != anon {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Invalid authentication credentials"}`))
			return
		}
		var c jwt.MapClaims
		tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithAudience("authenticated"), jwt.WithTimeFunc(clock(fixedNow))).
			ParseWithClaims(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), &c, func(*jwt.Token) (any, error) { return []byte(secret), nil })
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"code":"PGRST301","details":null,"hint":null,"message":"JWSError JWSInvalidSignature"}`))
			return
		}
		s.mu.Lock()
		s.claims, s.header = c, tok.Header
		s.mu.Unlock()
		_, _ = w.Write([]byte(`{"swagger":"2.0"}`))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func TestDoctorREST(t *testing.T) {
	const anon = "anon-key-of-the-gateway"
	for _, tc := range []struct {
		name    string
		secret  string // the gateway's
		anon    string // what doctor sends
		ok      bool
		detail  string
		fix     string
		minted  bool
		withURL bool
	}{
		{name: "accepted", secret: testSecret, anon: anon, ok: true, detail: "answered 200", minted: true},
		{name: "secret differs", secret: "the-gateway-has-another-secret-0123456789", anon: anon,
			detail: "answered 401 (PGRST301: JWSError JWSInvalidSignature)", fix: "the secret here differs from the one PostgREST uses"},
		{name: "wrong anon key", secret: testSecret, anon: "stale-anon-key",
			detail: "answered 401 (Invalid authentication credentials): the gateway refused the apikey", fix: "set SUPABASE_ANON_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRESTStandIn(t, tc.secret, anon)
			env := map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": "http://" + closedPort(t) + "/jwks",
				"SUPABASE_URL": s.srv.URL + "/", "SUPABASE_ANON_KEY": tc.anon}
			checks, _ := doctorJSON(t, env)
			c := find(checks, "supabase rest")
			if c == nil || c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
				t.Fatalf("got %+v, want ok=%v, %q, fix %q", c, tc.ok, tc.detail, tc.fix)
			}
			if strings.Contains(c.Detail, tc.anon) {
				t.Error("the anon key was printed")
			}
			if !tc.minted {
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.claims["role"] != "authenticated" || s.claims["sub"] != "supabridge-doctor" || s.claims["exp"].(float64)-s.claims["iat"].(float64) != 60 {
				t.Errorf("the minted token carries %v, want role authenticated, sub supabridge-doctor, 60 s", s.claims)
			}
			if _, kid := s.header["kid"]; kid {
				t.Error("the minted token has a kid")
			}
		})
	}
	t.Run("only one variable", func(t *testing.T) {
		checks, code := doctorJSON(t, map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PUBLIC_KEY": testprovider.NewKey(t, "", "ES256").PublicPEM(t), "SUPABASE_URL": "http://127.0.0.1:1"})
		if c := find(checks, "supabase rest"); code != 1 || c == nil || c.OK || !strings.Contains(c.Detail, "only one of") {
			t.Errorf("got %d %+v", code, c)
		}
		if c := find(checks, "provider default: public key"); c == nil || !c.OK || c.Detail != "usable for ES256" {
			t.Errorf("public key: got %+v", c)
		}
	})
}

// TestDoctorDex runs every check against a real Dex, with a real ID token.
func TestDoctorDex(t *testing.T) {
	d := dex.Start(t, dex.Options{})
	u := d.User()
	toks, err := d.PasswordGrant(t.Context(), u.Email, u.Password)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SUPABASE_JWT_SECRET": testSecret,
		"AUTH_ISSUER":         d.Issuer,
		"AUTH_AUDIENCE":       d.ClientID,
		"AUTH_CLIENT_ID":      d.ClientID,
		"AUTH_CLIENT_SECRET":  d.ClientSecret,
	}
	r := runCmd(t, doctorCmd{}.run, env, toks.IDToken, "--token", "-")
	if r.code != 0 || strings.Contains(r.stdout, "FAIL") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"ok   provider default: discovery: " + d.DiscoveryURL,
		"ok   provider default: issuer: \"" + d.Issuer + "\"",
		"ok   provider default: signing algorithms: RS256",
		"ok   provider default: audience: \"" + d.ClientID + "\"",
		"ok   provider default: jwks: " + d.JWKSURL,
		"ok   provider default: jwks keys: ",
		"ok   provider default: token endpoint: " + d.TokenURL,
		`ok   token: accepted by provider "default" (RS256`,
		`"email": "` + u.Email + `"`,
		"doctor: all 11 checks passed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, toks.IDToken) || strings.Contains(r.stdout, d.ClientSecret) {
		t.Error("doctor printed the token or the client secret")
	}
}
