package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"supabridge/internal/postgrest"
)

// bridgeJWK is a key of the bridge's own, as supabridge keys signing-key
// writes it.
type bridgeJWK struct {
	private, public string
}

func newBridgeJWK(t *testing.T, kid string) bridgeJWK {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := marshalJWK(k, kid, true)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := marshalJWK(&k.PublicKey, kid, false)
	if err != nil {
		t.Fatal(err)
	}
	return bridgeJWK{private: string(priv), public: string(pub)}
}

func octOf(secret string) string {
	return `{"kty":"oct","k":"` + base64.RawURLEncoding.EncodeToString([]byte(secret)) + `","alg":"HS256"}`
}

func jwksOf(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }

// noProvider is a provider configuration doctor does not need to reach.
func noProvider(t *testing.T) map[string]string {
	return map[string]string{"AUTH_JWKS_URL": "http://" + closedPort(t) + "/jwks"}
}

func withEnv(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestDoctorJWKS(t *testing.T) {
	own := newBridgeJWK(t, "bridge-1")
	impostor := newBridgeJWK(t, "bridge-1") // same kid, other key
	otherKid := newBridgeJWK(t, "bridge-0")
	base := noProvider(t)
	ownEnv := withEnv(base, "SUPABRIDGE_SIGNING_KEY", own.private, "JWT_SECRET", testSecret)
	legacyEnv := withEnv(base, "SUPABASE_JWT_SECRET", testSecret)

	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		ok     bool
		detail string
		fix    string
	}{
		{name: "own key in JWT_JWKS", env: withEnv(ownEnv, "JWT_JWKS", jwksOf(otherKid.public, own.public, octOf(testSecret))), ok: true,
			detail: `JWT_JWKS verifies a token signed ES256, kid "bridge-1" (PostgREST picks the key by that kid)`},
		{name: "own key missing from JWT_JWKS", env: withEnv(ownEnv, "JWT_JWKS", jwksOf(otherKid.public, octOf(testSecret))),
			detail: `JWT_JWKS has no key with kid "bridge-1": PostgREST refuses every token the bridge mints`, fix: "append the bridge's public JWK"},
		{name: "another key under the kid", env: withEnv(ownEnv, "JWT_JWKS", jwksOf(impostor.public)),
			detail: `the key with kid "bridge-1" in JWT_JWKS is another key than the one that signs here`, fix: "replace it"},
		{name: "legacy minting, the oct key removed", env: withEnv(legacyEnv, "JWT_JWKS", jwksOf(otherKid.public)),
			detail: "the bridge mints HS256 with the legacy secret (no kid), and JWT_JWKS has no oct key: PostgREST refuses every token it mints",
			fix:    "sign with a key of the bridge's own (supabridge keys signing-key"},
		{name: "legacy minting, the oct key present", env: withEnv(legacyEnv, "JWT_JWKS", jwksOf(otherKid.public, octOf(testSecret))), ok: true,
			detail: "an oct key holds the legacy secret"},
		{name: "legacy minting, another secret", env: withEnv(legacyEnv, "JWT_JWKS", jwksOf(octOf(testSecret+"-other"))),
			detail: "no oct key of JWT_JWKS verifies HS256 tokens with the legacy secret here"},
		{name: "a private key in JWT_JWKS", env: withEnv(ownEnv, "JWT_JWKS", jwksOf(own.private)),
			detail: `JWT_JWKS holds a private key (kid "bridge-1")`, fix: "publish only public keys"},
		{name: "--jwks-file wins over JWT_JWKS", env: withEnv(ownEnv, "JWT_JWKS", jwksOf(otherKid.public)),
			args: []string{"--jwks-file", writeFile(t, "jwks.json", jwksOf(own.public))}, ok: true, detail: "--jwks-file verifies"},
		{name: "not a key set", env: withEnv(ownEnv, "JWT_JWKS", `{"keys":"no"}`), detail: "JWT_JWKS is not a JWK Set PostgREST can read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks, _ := doctorJSON(t, tc.env, tc.args...)
			c := find(checks, "supabase jwks")
			if c == nil || c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
				t.Fatalf("got %+v, want ok=%v, detail %q, fix %q", c, tc.ok, tc.detail, tc.fix)
			}
			for _, leak := range []string{testSecret, own.private[strings.Index(own.private, `"d":`):]} {
				for _, c := range checks {
					if strings.Contains(c.Detail+c.Fix, leak) {
						t.Errorf("check %s printed key material", c.Check)
					}
				}
			}
		})
	}

	t.Run("signing key line", func(t *testing.T) {
		checks, _ := doctorJSON(t, withEnv(ownEnv, "SUPABASE_JWT_KEYS", "[]"))
		c := find(checks, "signing key")
		want := `ES256, kid "bridge-1", from SUPABRIDGE_SIGNING_KEY (also set, not used: SUPABASE_JWT_KEYS, JWT_SECRET); /.well-known/jwks.json publishes 1 key(s)`
		if c == nil || !c.OK || c.Detail != want {
			t.Errorf("got %+v, want %q", c, want)
		}
	})

	t.Run("fetched from Auth through the gateway", func(t *testing.T) {
		var published string
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/auth/v1/.well-known/jwks.json" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(published))
		}))
		t.Cleanup(gw.Close)
		env := withEnv(ownEnv, "SUPABASE_URL", gw.URL)
		published = jwksOf(own.public)
		checks, _ := doctorJSON(t, env)
		if c := find(checks, "supabase jwks"); c == nil || !c.OK || !strings.Contains(c.Detail, gw.URL+"/auth/v1/.well-known/jwks.json verifies") {
			t.Errorf("published: got %+v", c)
		}
		published = jwksOf(otherKid.public)
		checks, _ = doctorJSON(t, env)
		if c := find(checks, "supabase jwks"); c == nil || c.OK || !strings.Contains(c.Fix, "this set is the one Auth publishes") {
			t.Errorf("not published: got %+v", c)
		}
		r := runCmd(t, doctorCmd{}.run, withEnv(legacyEnv, "SUPABASE_URL", gw.URL), "")
		if !strings.Contains(r.stdout, "skip supabase jwks: Auth's published key set never lists the legacy secret") {
			t.Errorf("legacy minting against Auth's set: want a skip\n%s", r.stdout)
		}
		checks, _ = doctorJSON(t, withEnv(ownEnv, "SUPABASE_URL", gw.URL+"/nowhere"))
		if c := find(checks, "supabase jwks"); c == nil || c.OK || !strings.Contains(c.Detail, "answered 404") {
			t.Errorf("404: got %+v", c)
		}
	})
}

// kong answers GET /rest/v1/ like Supabase's gateway in front of PostgREST
// 13: the apikey must be one it knows (a legacy anon key or an opaque
// sb_publishable_ key); the request's own bearer token is passed on and
// verified with PostgREST's rules against jwks.
type kong struct {
	srv     *httptest.Server
	mu      sync.Mutex
	payload string
}

func newKong(t *testing.T, jwks string, apikeys ...string) *kong {
	set, err := postgrest.Parse([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	k := &kong{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		known := false
		for _, a := range apikeys {
			known = known || r.Header.Get("apikey") == a
		}
		if !known {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Invalid authentication credentials"}`))
			return
		}
		payload, err := set.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			msg := `{"code":"PGRST301","details":null,"hint":null,"message":"JWSError JWSInvalidSignature"}`
			if errors.Is(err, postgrest.ErrNoKey) {
				msg = `{"code":"PGRST301","details":null,"hint":null,"message":"No suitable key or wrong key type"}`
			}
			_, _ = w.Write([]byte(msg))
			return
		}
		k.mu.Lock()
		k.payload = string(payload)
		k.mu.Unlock()
		_, _ = w.Write([]byte(`{"swagger":"2.0"}`))
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func TestDoctorRESTSigning(t *testing.T) {
	const publishable = "sb_publishable_AbCdEfGhIjKlMnOpQrStUv_12345678"
	own := newBridgeJWK(t, "bridge-1")
	other := newBridgeJWK(t, "bridge-0")
	base := withEnv(noProvider(t), "SUPABRIDGE_SIGNING_KEY", own.private)
	for _, tc := range []struct {
		name   string
		jwks   string
		env    []string
		ok     bool
		detail string
		fix    string
	}{
		{name: "ES256 with a publishable key", jwks: jwksOf(own.public, octOf(testSecret)), env: []string{"SUPABASE_PUBLISHABLE_KEY", publishable}, ok: true,
			detail: `accepted a 60-second token signed ES256, kid "bridge-1"`},
		{name: "publishable key in SUPABASE_ANON_KEY", jwks: jwksOf(own.public), env: []string{"SUPABASE_ANON_KEY", publishable}, ok: true, detail: "answered 200"},
		{name: "key missing from PostgREST's set", jwks: jwksOf(other.public, octOf(testSecret)), env: []string{"SUPABASE_PUBLISHABLE_KEY", publishable},
			detail: "answered 401 (PGRST301: No suitable key or wrong key type)", fix: "lacks this key's public JWK"},
		{name: "a secret key as the API key", jwks: jwksOf(own.public), env: []string{"SUPABASE_PUBLISHABLE_KEY", "sb_secret_AbCdEfGhIjKlMnOpQrStUv_12345678"},
			detail: "SUPABASE_PUBLISHABLE_KEY holds a secret key (sb_secret_…)", fix: "give the publishable key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKong(t, tc.jwks, publishable)
			env := withEnv(base, append([]string{"SUPABASE_URL", k.srv.URL}, tc.env...)...)
			checks, _ := doctorJSON(t, env)
			c := find(checks, "supabase rest")
			if c == nil || c.OK != tc.ok || !strings.Contains(c.Detail, tc.detail) || !strings.Contains(c.Fix, tc.fix) {
				t.Fatalf("got %+v, want ok=%v, %q, fix %q", c, tc.ok, tc.detail, tc.fix)
			}
			if strings.Contains(c.Detail+c.Fix, "sb_secret_AbCd") || strings.Contains(c.Detail, publishable) {
				t.Error("the API key was printed")
			}
			if tc.ok {
				k.mu.Lock()
				defer k.mu.Unlock()
				if !strings.Contains(k.payload, `"role":"authenticated"`) || !strings.Contains(k.payload, `"sub":"supabridge-doctor"`) {
					t.Errorf("PostgREST got %s", k.payload)
				}
			}
		})
	}
}
