package rls

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/platform"
)

// provider is an OIDC provider shaped like Authentik: an issuer with a
// trailing slash, discovery and a JWKS, RS256 tokens whose aud is the
// client id and whose sub is a hashed id, not a UUID.
type provider struct {
	key      *rsa.PrivateKey
	issuer   string
	jwksURL  string
	clientID string
}

const providerKID = "rls-test-key"

func newProvider(t testing.TB) *provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{key: key, clientID: "supabridge-rls-test"}
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": providerKID,
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /application/o/app/jwks/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	mux.HandleFunc("GET /application/o/app/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.issuer,
			"jwks_uri":                              p.jwksURL,
			"token_endpoint":                        strings.TrimSuffix(p.issuer, "app/") + "token/",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.issuer = srv.URL + "/application/o/app/"
	p.jwksURL = p.issuer + "jwks/"
	return p
}

// person is a provider account.
type person struct {
	name, sub, org string
}

// authentikID makes a subject like Authentik's default "hashed user ID":
// 64 hex digits, which PostgreSQL cannot read as a UUID.
func authentikID(name string) string {
	sum := sha256.Sum256([]byte("authentik user " + name))
	return hex.EncodeToString(sum[:])
}

// token signs a provider access token for who; extra claims are added, and
// an extra claim whose value is nil is removed.
func (p *provider) token(t testing.TB, who person, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"iss":   p.issuer,
		"aud":   p.clientID,
		"sub":   who.sub,
		"email": who.name + "@example.com",
		// The provider vouches for the address: only then is it minted,
		// and only then does auth.email() return it.
		"email_verified": true,
		"name":           who.name,
		"org_id":         who.org,
		"iat":            now.Unix(),
		"exp":            now.Add(10 * time.Minute).Unix(),
		"jti":            rand.Text(),
	}
	for k, v := range extra {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = providerKID
	s, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newExchange builds the real exchange function, exactly as its binary
// serves it, configured for p and secret; env adds or overrides variables.
func newExchange(t testing.TB, p *provider, secret []byte, env map[string]string) http.Handler {
	t.Helper()
	vars := map[string]string{
		"SUPABASE_JWT_SECRET": string(secret),
		"AUTH_ISSUER":         p.issuer,
		"AUTH_JWKS_URL":       p.jwksURL,
		"AUTH_AUDIENCE":       p.clientID,
	}
	for k, v := range env {
		vars[k] = v
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := platform.NewHandler(t.Context(), "exchange", exchange.New, config.MapEnv(vars), logger)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return h
}

// exchangeToken posts a provider token to the exchange function and
// returns the Supabase access token it answers with.
func exchangeToken(t testing.TB, h http.Handler, providerToken string) string {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/functions/v1/exchange", nil)
	req.Header.Set("Authorization", "Bearer "+providerToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("exchange: status %d, body not JSON: %v", rec.Code, err)
	}
	if rec.Code != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("exchange: status %d, error %q (%s), want 200 and an access_token", rec.Code, body.Error, body.Description)
	}
	return body.AccessToken
}

// claimsOf returns the claims the gateway would apply for token.
func claimsOf(t testing.TB, gw *Gateway, token string) map[string]any {
	t.Helper()
	s, err := gw.Authorize("Bearer " + token)
	if err != nil {
		t.Fatalf("gateway refuses the minted token: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(s.Claims), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// urlNamespace is RFC 9562's URL namespace, SUB_UUID_NAMESPACE's default.
var urlNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// uuid5 is RFC 9562 §5.5, written out here so the test does not trust the
// code it checks.
func uuid5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func TestUUID5(t *testing.T) {
	// RFC 9562 appendix A.4: www.example.com in the DNS namespace.
	dns := urlNamespace
	dns[3] = 0x10
	if got, want := uuid5(dns, "www.example.com"), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("uuid5: got %s, want %s", got, want)
	}
}

// TestExchangeRLS is the end-to-end proof: provider tokens for alice and
// carol (organisation A) and bob (organisation B) go through the real
// exchange function; what it mints is applied as PostgREST applies it; the
// policies of docs/sql/10_app_rls.sql keep the rows apart.
//
// It runs once per signing mode (signingModes): the legacy secret, and a
// key of the bridge's own with PostgREST holding a JWKS without the legacy
// oct key.
func TestExchangeRLS(t *testing.T) {
	t.Parallel()
	for _, m := range signingModes(t) {
		t.Run(m.name, func(t *testing.T) { exchangeRLS(t, m) })
	}
}

func exchangeRLS(t *testing.T, m signingMode) {
	e := newEnv(t, m.pgrst)
	p := newProvider(t)
	passthrough := newExchange(t, p, nil, m.with("SUB_MAPPING", "passthrough"))
	uuid5Exchange := newExchange(t, p, nil, m.with("SUB_MAPPING", "uuid5"))

	people := []person{
		{"alice", authentikID("alice"), "org-a"},
		{"carol", authentikID("carol"), "org-a"},
		{"bob", authentikID("bob"), "org-b"},
	}
	// login exchanges a fresh provider token and returns the Supabase user.
	login := func(t *testing.T, h http.Handler, who person, extra map[string]any) user {
		t.Helper()
		token := exchangeToken(t, h, p.token(t, who, extra))
		c := claimsOf(t, e.gw, token)
		sub, _ := c["sub"].(string)
		org, _ := c["org_id"].(string)
		return user{name: who.name, auth: "Bearer " + token, sub: sub, org: org}
	}
	logins := func(t *testing.T, h http.Handler) (alice, carol, bob user) {
		t.Helper()
		return login(t, h, people[0], nil), login(t, h, people[1], nil), login(t, h, people[2], nil)
	}

	t.Run("minted token", func(t *testing.T) {
		token := exchangeToken(t, passthrough, p.token(t, people[0], nil))
		header, _, _ := strings.Cut(token, ".")
		raw, err := base64.RawURLEncoding.DecodeString(header)
		if err != nil {
			t.Fatal(err)
		}
		var h map[string]any
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		if kid, _ := h["kid"].(string); h["alg"] != m.alg || kid != m.kid || (m.kid == "" && h["kid"] != nil) {
			t.Errorf("header %s: want %s and kid %q (none for the legacy secret: PostgREST refuses an unknown kid)", raw, m.alg, m.kid)
		}
		c := claimsOf(t, e.gw, token)
		for claim, want := range map[string]any{
			"role": "authenticated", "aud": "authenticated", "sub": people[0].sub,
			"org_id": "org-a", "email": "alice@example.com",
		} {
			if c[claim] != want {
				t.Errorf("claim %s: got %v, want %v", claim, c[claim], want)
			}
		}
	})

	t.Run("passthrough", func(t *testing.T) {
		alice, carol, bob := logins(t, passthrough)
		if alice.sub != people[0].sub || bob.sub != people[2].sub {
			t.Fatalf("passthrough subs: got %q %q, want the provider's", alice.sub, bob.sub)
		}
		t.Run("notes: auth.jwt() ->> 'sub'", func(t *testing.T) { checkOwnerTable(t, e, "notes", alice, bob) })
		t.Run("org_documents", func(t *testing.T) { checkOrgTable(t, e, alice, carol, bob) })
		t.Run("todos: auth.uid() fails with 22P02", func(t *testing.T) {
			e.reset(t)
			if _, err := e.admin.Exec(t.Context(), "insert into public.todos (user_id, body) values ($1, 'a todo')", bob.sub); err != nil {
				t.Fatal(err)
			}
			_, err := e.bodies(t, alice, "select body from public.todos")
			wantCode(t, "alice selects todos", err, codeInvalidText)
			_, err = e.exec(t, alice, "insert into public.todos (body) values ('mine')")
			wantCode(t, "alice inserts a todo", err, codeInvalidText)
			_, err = e.exec(t, alice, "delete from public.todos")
			wantCode(t, "alice deletes todos", err, codeInvalidText)
			wantRows(t, "todos after the failures", e.adminBodies(t, "select body from public.todos"), []string{"a todo"})
		})
	})

	t.Run("uuid5", func(t *testing.T) {
		alice, carol, bob := logins(t, uuid5Exchange)
		for _, u := range []struct {
			user
			person
		}{{alice, people[0]}, {carol, people[1]}, {bob, people[2]}} {
			if want := uuid5(urlNamespace, p.issuer+"#"+u.person.sub); u.user.sub != want {
				t.Errorf("%s: sub %q, want uuid5(URL, iss#sub) = %s", u.person.name, u.user.sub, want)
			}
		}
		t.Run("stable across exchanges", func(t *testing.T) {
			// Another provider token (another exp, so another minted token).
			again := login(t, uuid5Exchange, people[0], map[string]any{"exp": time.Now().Add(5 * time.Minute).Unix()})
			if again.auth == alice.auth {
				t.Fatal("the second exchange returned the same token; want a new token for the same user")
			}
			if again.sub != alice.sub {
				t.Errorf("second exchange: sub %q, first %q", again.sub, alice.sub)
			}
			var uid, original string
			if err := again.run(t, e, "select auth.uid()::text, auth.jwt() -> 'user_metadata' ->> 'sub'", &uid, &original); err != nil {
				t.Fatal(err)
			}
			if uid != alice.sub {
				t.Errorf("auth.uid() = %q, want %s", uid, alice.sub)
			}
			if original != people[0].sub {
				t.Errorf("auth.jwt() -> 'user_metadata' ->> 'sub' = %q, want the provider's subject %s", original, people[0].sub)
			}
		})
		t.Run("todos: auth.uid()", func(t *testing.T) { checkOwnerTable(t, e, "todos", alice, bob) })
		t.Run("notes: auth.jwt() ->> 'sub'", func(t *testing.T) { checkOwnerTable(t, e, "notes", alice, bob) })
		t.Run("org_documents", func(t *testing.T) { checkOrgTable(t, e, alice, carol, bob) })
	})

	t.Run("provider role service_role", func(t *testing.T) {
		alice := login(t, passthrough, people[0], map[string]any{"role": "service_role"})
		if c := claimsOf(t, e.gw, strings.TrimPrefix(alice.auth, "Bearer ")); c["role"] != "authenticated" {
			t.Errorf("minted role %v, want authenticated", c["role"])
		}
		e.reset(t)
		if _, err := e.admin.Exec(t.Context(), "insert into public.notes (user_id, body) values ($1, 'alice note'), ($2, 'bob note')",
			people[0].sub, people[2].sub); err != nil {
			t.Fatal(err)
		}
		var role string
		if err := alice.run(t, e, "select current_user", &role); err != nil || role != "authenticated" {
			t.Errorf("runs as %q (%v), want authenticated", role, err)
		}
		wantRows(t, "alice with a service_role provider claim selects notes", e.mustBodies(t, alice, "select body from public.notes"), []string{"alice note"})
	})

	t.Run("anon", func(t *testing.T) { checkAnon(t, e) })

	for _, f := range m.foreign {
		t.Run("token signed with "+f.name, func(t *testing.T) {
			other := newExchange(t, p, nil, f.env)
			token := exchangeToken(t, other, p.token(t, people[0], nil))
			before := e.begins.n.Load()
			_, err := e.bodies(t, user{name: "alice", auth: "Bearer " + token}, "select body from public.notes")
			if !errors.Is(err, ErrUnauthorized) || !errors.Is(err, f.want) {
				t.Errorf("got %v, want ErrUnauthorized and %v", err, f.want)
			}
			if n := e.begins.n.Load() - before; n != 0 {
				t.Errorf("%d transactions started for a refused token, want 0", n)
			}
		})
	}
}
