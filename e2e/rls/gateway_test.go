package rls

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/postgrest"
)

// supabaseClaims is a claim set shaped like the one supabridge mints.
func supabaseClaims(sub, email, org string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss":          "supabase",
		"aud":          "authenticated",
		"role":         "authenticated",
		"sub":          sub,
		"email":        email,
		"iat":          now.Unix(),
		"exp":          now.Add(time.Hour).Unix(),
		"is_anonymous": false,
	}
	if org != "" {
		c["org_id"] = org
	}
	return c
}

func with(c jwt.MapClaims, key string, value any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

// TestGatewayRefusesBeforeSQL: every unacceptable Authorization header is
// refused by the gateway itself; no transaction is started.
func TestGatewayRefusesBeforeSQL(t *testing.T) {
	secret := randomSecret(t)
	good := supabaseClaims("7f1e5a52-4a43-4d39-9a64-1e6b6d0f3b70", "alice@example.com", "org-a")
	aliceToken := mintHS256(t, jwt.SigningMethodHS256, secret, good)
	bobToken := mintHS256(t, jwt.SigningMethodHS256, secret, with(good, "sub", "1c2b3a49-5d6e-4f70-8a9b-0c1d2e3f4a5b"))
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// alice's signature over bob's payload
	a, b := strings.Split(aliceToken, "."), strings.Split(bobToken, ".")
	spliced := a[0] + "." + b[1] + "." + a[2]

	tests := []struct {
		name    string
		header  string
		wantErr error // besides ErrUnauthorized
	}{
		{"another secret", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, randomSecret(t), good), jwt.ErrTokenSignatureInvalid},
		{"HS512 with the right secret: the passphrase is an HS256 key", "Bearer " + mintHS256(t, jwt.SigningMethodHS512, secret, good), postgrest.ErrNoKey},
		{"alg none", "Bearer " + none, postgrest.ErrNoKey},
		{"the right secret under a kid: the passphrase has none", "Bearer " + withKid(t, secret, good, "k1"), postgrest.ErrNoKey},
		{"payload of another token", "Bearer " + spliced, jwt.ErrTokenSignatureInvalid},
		{"expired", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, with(good, "exp", time.Now().Add(-time.Minute).Unix())), jwt.ErrTokenExpired},
		{"no exp", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, with(good, "exp", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"wrong aud", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, with(good, "aud", "someone-else")), jwt.ErrTokenInvalidAudience},
		{"no aud", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, with(good, "aud", nil)), jwt.ErrTokenRequiredClaimMissing},
		{"not a JWT", "Bearer not-a-jwt", jwt.ErrTokenMalformed},
		{"Basic scheme", "Basic " + aliceToken, nil},
		{"bearer without token", "Bearer", nil},
		{"bearer and two tokens", "Bearer " + aliceToken + " " + bobToken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			begins := &countingBeginner{}
			gw := &Gateway{Secret: secret, DB: begins}
			err := gw.Do(t.Context(), tt.header, nil)
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want it to wrap %v", err, tt.wantErr)
			}
			if n := begins.n.Load(); n != 0 {
				t.Errorf("%d transactions started, want 0", n)
			}
		})
	}

	t.Run("JWKS", func(t *testing.T) { gatewayRefusesWithJWKS(t, good) })

	t.Run("zero gateway refuses a valid token", func(t *testing.T) {
		if _, err := (&Gateway{}).Authorize("Bearer " + aliceToken); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("got %v, want ErrUnauthorized", err)
		}
	})
}

func TestGatewayAuthorize(t *testing.T) {
	secret := randomSecret(t)
	claims := supabaseClaims("7f1e5a52-4a43-4d39-9a64-1e6b6d0f3b70", "alice@example.com", "org-a")
	gw := &Gateway{Secret: secret}

	tests := []struct {
		name     string
		header   string
		wantRole string
		wantSub  string
	}{
		{"no token is anon", "", "anon", ""},
		{"bearer", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, claims), "authenticated", "7f1e5a52-4a43-4d39-9a64-1e6b6d0f3b70"},
		{"scheme is case-insensitive", "bEaReR " + mintHS256(t, jwt.SigningMethodHS256, secret, claims), "authenticated", "7f1e5a52-4a43-4d39-9a64-1e6b6d0f3b70"},
		{"no role claim is anon", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, with(claims, "role", nil)), "anon", "7f1e5a52-4a43-4d39-9a64-1e6b6d0f3b70"},
		{"role claim is taken as is", "Bearer " + mintHS256(t, jwt.SigningMethodHS256, secret, with(claims, "role", "service_role")), "service_role", "7f1e5a52-4a43-4d39-9a64-1e6b6d0f3b70"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := gw.Authorize(tt.header)
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(s.Claims), &got); err != nil {
				t.Fatalf("claims are not JSON: %v", err)
			}
			if s.Role != tt.wantRole {
				t.Errorf("role: got %q, want %q", s.Role, tt.wantRole)
			}
			if sub, _ := got["sub"].(string); sub != tt.wantSub {
				t.Errorf("claims sub: got %q, want %q", sub, tt.wantSub)
			}
			if tt.header == "" && got["role"] != "anon" {
				t.Errorf("anon claims: got %s, want {\"role\":\"anon\"}", s.Claims)
			}
		})
	}
}

// TestGatewayRLS runs the RLS checks with tokens minted here, so that the
// request path and the SQL are tested apart from the exchange handler, once
// per signing mode.
func TestGatewayRLS(t *testing.T) {
	t.Parallel()
	for _, m := range signingModes(t) {
		t.Run(m.name, func(t *testing.T) { gatewayRLS(t, m) })
	}
}

func gatewayRLS(t *testing.T, m signingMode) {
	e := newEnv(t, m.pgrst)
	mint := func(name, sub, org string) user {
		token := m.sign(t, supabaseClaims(sub, name+"@example.com", org))
		return user{name: name, auth: "Bearer " + token, sub: sub, org: org}
	}
	alice := mint("alice", "7f1e5a52-4a43-4d39-9a64-1e6b6d0f3b70", "org-a")
	carol := mint("carol", "5e0f9c1d-8b7a-4c6d-9e2f-3a4b5c6d7e8f", "org-a")
	bob := mint("bob", "1c2b3a49-5d6e-4f70-8a9b-0c1d2e3f4a5b", "org-b")

	t.Run("session", func(t *testing.T) {
		var role, uid, jwtRole, email, org string
		if err := alice.run(t, e, "select current_user, auth.uid()::text, auth.role(), auth.email(), auth.jwt() ->> 'org_id'",
			&role, &uid, &jwtRole, &email, &org); err != nil {
			t.Fatal(err)
		}
		got := []string{role, uid, jwtRole, email, org}
		want := []string{"authenticated", alice.sub, "authenticated", "alice@example.com", "org-a"}
		wantRows(t, "current_user, auth.uid(), auth.role(), auth.email(), org_id", got, want)

		// SET LOCAL and set_config(..., true) end with the transaction: the
		// next request on the same connection starts clean.
		var after, claims string
		if err := e.api.QueryRow(t.Context(), "select current_user, coalesce(current_setting('request.jwt.claims', true), '')").Scan(&after, &claims); err != nil {
			t.Fatal(err)
		}
		if after != "authenticator" || claims != "" {
			t.Errorf("after the request: role %q, claims %q; want authenticator and none", after, claims)
		}
	})
	t.Run("notes: auth.jwt() ->> 'sub'", func(t *testing.T) { checkOwnerTable(t, e, "notes", alice, bob) })
	t.Run("todos: auth.uid()", func(t *testing.T) { checkOwnerTable(t, e, "todos", alice, bob) })
	t.Run("org_documents", func(t *testing.T) { checkOrgTable(t, e, alice, carol, bob) })
	t.Run("anon", func(t *testing.T) { checkAnon(t, e) })

	// These show the checks above can fail: a token that names
	// service_role (only the service key should) bypasses every policy.
	t.Run("service_role token bypasses RLS", func(t *testing.T) {
		checkAnon(t, e) // seeds three private rows
		admin := mint("service", alice.sub, "org-a")
		admin.auth = "Bearer " + m.sign(t, with(supabaseClaims(alice.sub, "", ""), "role", "service_role"))
		wantRows(t, "service_role selects notes", e.mustBodies(t, admin, "select body from public.notes"), []string{"private note"})
	})
	t.Run("authenticator cannot become the superuser", func(t *testing.T) {
		evil := user{name: "evil", auth: "Bearer " + m.sign(t, with(supabaseClaims(alice.sub, "", ""), "role", "postgres"))}
		_, err := e.bodies(t, evil, "select body from public.notes")
		wantCode(t, "SET ROLE postgres", err, "42501")
	})
	t.Run("non-UUID sub under auth.uid()", func(t *testing.T) {
		checkAnon(t, e) // seeds a todo
		// A sha256 hex digest, like Authentik's default hashed user ids. (32 hex
		// digits would pass: PostgreSQL reads them as a UUID without hyphens.)
		hashed := mint("hashed", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", "org-a")
		_, err := e.bodies(t, hashed, "select body from public.todos")
		wantCode(t, "select todos", err, codeInvalidText)
		wantRows(t, "notes still work", e.mustBodies(t, hashed, "select body from public.notes"), nil)
	})
}

// withKid signs claims HS256 with secret and a kid in the header.
func withKid(t *testing.T, secret []byte, c jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gatewayRefusesWithJWKS: with a JWK Set as jwt-secret, a kid must name a
// published key of the token's type, and its signature must verify; none
// of the refused tokens starts a transaction.
func gatewayRefusesWithJWKS(t *testing.T, c jwt.MapClaims) {
	own, other := testkit.NewSigningKey(t, "bridge"), testkit.NewSigningKey(t, "bridge")
	secret := randomSecret(t)
	jwks := []byte(`{"keys":[` + own.Public + `]}`)
	es := func(k testkit.SigningKey, kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(k.Key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	refused := []struct {
		name  string
		token string
		want  error
	}{
		{"unknown kid", es(own, "elsewhere"), postgrest.ErrNoKey},
		{"published kid, another key", es(other, "bridge"), postgrest.ErrSignature},
		{"no kid, another key", es(other, ""), postgrest.ErrSignature},
		{"HS256 and no oct key", mintHS256(t, jwt.SigningMethodHS256, secret, c), postgrest.ErrNoKey},
		{"HS256 under the EC key's kid", withKid(t, secret, c, "bridge"), postgrest.ErrNoKey},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			begins := &countingBeginner{}
			err := (&Gateway{Secret: jwks, DB: begins}).Do(t.Context(), "Bearer "+tt.token, nil)
			if !errors.Is(err, ErrUnauthorized) || !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want ErrUnauthorized and %v", err, tt.want)
			}
			if n := begins.n.Load(); n != 0 {
				t.Errorf("%d transactions started, want 0", n)
			}
		})
	}
	for name, tok := range map[string]string{"published kid": es(own, "bridge"), "no kid": es(own, "")} {
		if _, err := (&Gateway{Secret: jwks}).Authorize("Bearer " + tok); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}
