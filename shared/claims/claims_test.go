package claims_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const secret = "a-test-secret-that-is-at-least-32-bytes-long"

var now = time.Unix(1_800_000_000, 0)

func provider(t *testing.T, payload string) *claims.Payload {
	t.Helper()
	var p claims.Payload
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	return &p
}

// hmacSigner is the legacy signer: HS256 with secret, no kid.
func hmacSigner(t testing.TB) *claims.Signer {
	t.Helper()
	s, err := claims.NewHMACSigner([]byte(secret), "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func minter(t *testing.T, cfg claims.Config) *claims.Minter {
	t.Helper()
	if cfg.Signer == nil {
		cfg.Signer = hmacSigner(t)
	}
	m, err := claims.NewMinter(cfg, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decode verifies tok with the secret, as PostgREST would, and returns its
// header and claims.
func decode(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithAudience("authenticated"))
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	return parsed.Header, map[string]any(parsed.Claims.(jwt.MapClaims))
}

func TestMintGolden(t *testing.T) {
	p := provider(t, `{"iss":"https://auth.example.com/application/o/app/","sub":"8f2c1a","aud":"app",
		"exp":1800001800,"iat":1800000000,"email":"alice@example.com","email_verified":true,"name":"Alice",
		"groups":["admins"],"org_id":"org-1","role":"service_role","app_metadata":{"provider":"evil"},
		"user_metadata":{"x":1},"session_id":"s","aal":"aal2","amr":["pwd"],"is_anonymous":true,"jti":"j","nbf":1,"custom":"kept out"}`)
	m := minter(t, claims.Config{})
	tok, err := m.Mint(p, &claims.Mapping{Provider: "authentik", Passthrough: append(claims.DefaultPassthrough, "role", "session_id", "app_metadata")})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.JWT, ".")
	head, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if string(head) != `{"alg":"HS256","typ":"JWT"}` {
		t.Fatalf("got header %s, want no kid", head)
	}
	golden := "testdata/mint.golden.json"
	var pretty strings.Builder
	var v any
	_ = json.Unmarshal(payload, &v)
	b, _ := json.MarshalIndent(v, "", "  ")
	pretty.Write(append(b, '\n'))
	if *update {
		if err := os.WriteFile(golden, []byte(pretty.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./shared/claims -update)", err)
	}
	if pretty.String() != string(want) {
		t.Fatalf("minted claims differ from %s:\ngot:\n%s\nwant:\n%s", golden, pretty.String(), want)
	}
	_, c := decode(t, tok.JWT)
	if c["role"] != "authenticated" {
		t.Fatalf("got role %v, want authenticated", c["role"])
	}
}

func TestMintRules(t *testing.T) {
	const iss = "https://auth.example.com/application/o/app/"
	tests := []struct {
		name    string
		payload string
		cfg     claims.Config
		mapping claims.Mapping
		check   func(t *testing.T, c map[string]any, tok claims.Token)
		wantErr error
	}{
		{
			name:    "role pinned whatever the provider says",
			payload: `{"iss":"` + iss + `","sub":"u","exp":1800001000,"role":"service_role"}`,
			mapping: claims.Mapping{Passthrough: []string{"role"}, Rules: []claims.Rule{{Target: "role", Pointer: "/role"}}},
			check: func(t *testing.T, c map[string]any, _ claims.Token) {
				if c["role"] != "authenticated" {
					t.Fatalf("got role %v, want authenticated", c["role"])
				}
			},
		},
		{
			name:    "exp capped by the provider's",
			payload: `{"iss":"` + iss + `","sub":"u","exp":1800000600}`,
			check: func(t *testing.T, c map[string]any, tok claims.Token) {
				if c["exp"] != float64(1800000600) || tok.ExpiresAt.Unix() != 1800000600 {
					t.Fatalf("got exp %v, want 1800000600", c["exp"])
				}
			},
		},
		{
			name:    "exp capped by max ttl",
			payload: `{"iss":"` + iss + `","sub":"u","exp":1900000000}`,
			cfg:     claims.Config{MaxTTL: 10 * time.Minute},
			check: func(t *testing.T, c map[string]any, _ claims.Token) {
				if c["exp"] != float64(now.Add(10*time.Minute).Unix()) {
					t.Fatalf("got exp %v, want now+600", c["exp"])
				}
				if c["iat"] != float64(now.Unix()) {
					t.Fatalf("got iat %v, want now", c["iat"])
				}
			},
		},
		{
			name:    "custom issuer and audience",
			payload: `{"iss":"` + iss + `","sub":"u","exp":1800001000}`,
			cfg:     claims.Config{Issuer: "https://db.example.com/auth/v1", Audience: "authenticated"},
			check: func(t *testing.T, c map[string]any, _ claims.Token) {
				if c["iss"] != "https://db.example.com/auth/v1" {
					t.Fatalf("got iss %v", c["iss"])
				}
				if _, isString := c["aud"].(string); !isString {
					t.Fatalf("got aud %T, want a string as GoTrue writes it", c["aud"])
				}
			},
		},
		{
			name:    "uuid5 subject",
			payload: `{"iss":"` + iss + `","sub":"hashed-id-123","exp":1800001000}`,
			mapping: claims.Mapping{Sub: claims.SubUUID5},
			check: func(t *testing.T, c map[string]any, _ claims.Token) {
				want := claims.NewSHA1(claims.NamespaceURL, iss+"#hashed-id-123").String()
				if c["sub"] != want {
					t.Fatalf("got sub %v, want %s", c["sub"], want)
				}
				um := c["user_metadata"].(map[string]any)
				if um["sub"] != "hashed-id-123" || um["iss"] != iss {
					t.Fatalf("got user_metadata %v, want the provider's iss and sub", um)
				}
			},
		},
		{
			name:    "reserved claims never copied, even when listed",
			payload: `{"iss":"` + iss + `","sub":"u","exp":1800001000,"aal":"aal2","amr":["x"],"session_id":"s","is_anonymous":true,"jti":"j"}`,
			mapping: claims.Mapping{Passthrough: []string{"aal", "amr", "session_id", "is_anonymous", "jti", "iss", "sub"}},
			check: func(t *testing.T, c map[string]any, _ claims.Token) {
				for _, k := range []string{"aal", "amr", "session_id", "jti"} {
					if _, ok := c[k]; ok {
						t.Errorf("got %s in the token, want it absent", k)
					}
				}
				if c["is_anonymous"] != false {
					t.Errorf("got is_anonymous %v, want false", c["is_anonymous"])
				}
				if c["sub"] != "u" || c["iss"] != "supabase" {
					t.Errorf("got sub %v iss %v", c["sub"], c["iss"])
				}
			},
		},
		{
			name:    "verified email always copied, others only when listed",
			payload: `{"iss":"` + iss + `","sub":"u","exp":1800001000,"email":"a@b.c","email_verified":true,"name":"A","groups":["g"]}`,
			mapping: claims.Mapping{Passthrough: []string{"groups"}},
			check: func(t *testing.T, c map[string]any, _ claims.Token) {
				if c["email"] != "a@b.c" {
					t.Errorf("got email %v", c["email"])
				}
				if _, ok := c["name"]; ok {
					t.Errorf("got name, want it absent")
				}
				if g, ok := c["groups"].([]any); !ok || len(g) != 1 {
					t.Errorf("got groups %v", c["groups"])
				}
			},
		},
		{
			name:    "no subject",
			payload: `{"iss":"` + iss + `","exp":1800001000}`,
			wantErr: claims.ErrNoSubject,
		},
		{
			name:    "already expired (accepted within leeway)",
			payload: `{"iss":"` + iss + `","sub":"u","exp":1799999990}`,
			wantErr: claims.ErrExpired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := minter(t, tt.cfg).Mint(provider(t, tt.payload), &tt.mapping)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			h, c := decode(t, tok.JWT)
			if _, ok := h["kid"]; ok {
				t.Fatal("got a kid in the header, want none")
			}
			tt.check(t, c, tok)
		})
	}
}

func TestClaimsMapShapes(t *testing.T) {
	payload := `{"iss":"i","sub":"u","exp":1800001000,
		"outseta:accountUid":"acc-42",
		"https://myapp.example.com/roles":["admin","editor"],
		"realm_access":{"roles":["staff"]},
		"a/b":{"c~d":"escaped"},
		"arr":[{"x":1},{"x":2}],
		"obj":{"nested":{"deep":true}}}`
	rules := []claims.Rule{
		{Target: "org_id", Pointer: "/outseta:accountUid"},
		{Target: "roles", Pointer: "/https:~1~1myapp.example.com~1roles"},
		{Target: "roles", AppMetadata: true, Pointer: "/realm_access/roles"},
		{Target: "escaped", Pointer: "/a~1b/c~0d"},
		{Target: "second", Pointer: "/arr/1/x"},
		{Target: "object", Pointer: "/obj/nested"},
		{Target: "absent", Pointer: "/realm_access/nope"},
		{Target: "absent_index", Pointer: "/arr/9"},
		{Target: "provider", AppMetadata: true, Pointer: "/outseta:accountUid"},
		{Target: "role", Pointer: "/outseta:accountUid"},
	}
	tok, err := minter(t, claims.Config{}).Mint(provider(t, payload), &claims.Mapping{Provider: "outseta", Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	_, c := decode(t, tok.JWT)
	app := c["app_metadata"].(map[string]any)
	checks := []struct {
		name string
		got  any
		want string
	}{
		{"org_id", c["org_id"], `"acc-42"`},
		{"roles (Auth0 namespaced)", c["roles"], `["admin","editor"]`},
		{"app_metadata.roles (Keycloak nested)", app["roles"], `["staff"]`},
		{"escaped pointer", c["escaped"], `"escaped"`},
		{"array index", c["second"], `2`},
		{"object value", c["object"], `{"deep":true}`},
		{"app_metadata.provider not overridden", app["provider"], `"outseta"`},
		{"app_metadata.providers", app["providers"], `["outseta"]`},
		{"role not overridden", c["role"], `"authenticated"`},
	}
	for _, ch := range checks {
		got, _ := json.Marshal(ch.got)
		if string(got) != ch.want {
			t.Errorf("%s: got %s, want %s", ch.name, got, ch.want)
		}
	}
	for _, k := range []string{"absent", "absent_index"} {
		if v, ok := c[k]; ok {
			t.Errorf("%s: got %v, want the claim absent (not null)", k, v)
		}
	}
}

func TestUUIDv5(t *testing.T) {
	// Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
	dns, err := claims.ParseUUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	if err != nil {
		t.Fatal(err)
	}
	if got := claims.NewSHA1(dns, "python.org").String(); got != "886313e1-3b8a-5372-9b90-0c9aee199e5d" {
		t.Fatalf("got %s, want 886313e1-3b8a-5372-9b90-0c9aee199e5d", got)
	}
	if claims.NamespaceURL.String() != "6ba7b811-9dad-11d1-80b4-00c04fd430c8" {
		t.Fatalf("got URL namespace %s", claims.NamespaceURL)
	}
	for _, bad := range []string{"", "6ba7b8119dad11d180b400c04fd430c8", "zba7b811-9dad-11d1-80b4-00c04fd430c8"} {
		if _, err := claims.ParseUUID(bad); !errors.Is(err, claims.ErrBadUUID) {
			t.Errorf("ParseUUID(%q): got %v, want ErrBadUUID", bad, err)
		}
	}
}

func TestProviderDecodingIsStrict(t *testing.T) {
	for _, payload := range []string{`{"exp":"soon"}`, `{"aud":42}`, `{"aud":[1]}`, `{"iss":7}`, `[1]`, `null`, `{"sub":{}}`} {
		var p claims.Payload
		if err := json.Unmarshal([]byte(payload), &p); err == nil {
			t.Errorf("decoding %s: got no error, want one", payload)
		}
	}
}

func TestNewMinterRefusesShortSecret(t *testing.T) {
	if _, err := claims.NewHMACSigner([]byte(strings.Repeat("x", 31)), ""); !errors.Is(err, claims.ErrShortSecret) {
		t.Fatalf("got %v for a 31-byte secret, want ErrShortSecret", err)
	}
	if _, err := claims.NewMinter(claims.Config{}, nil); !errors.Is(err, claims.ErrNoSigner) {
		t.Fatalf("got %v for no signer, want ErrNoSigner", err)
	}
}

// TestRegisteredClaimTypes holds the registered claims to the types RFC 7519
// §4.1 gives them: exp, nbf and iat JSON numbers (a string holding digits
// is not one, though golang-jwt's NumericDate reads it through json.Number),
// iss, sub and jti strings, aud a string or an array of strings. null is
// none of these.
func TestRegisteredClaimTypes(t *testing.T) {
	tests := []struct {
		payload string
		ok      bool
	}{
		{`{"exp":1800000000}`, true},
		{`{"exp":1.8e9,"nbf":-1,"iat":1800000000.5}`, true},
		{`{"iss":"i","sub":"s","jti":"j","aud":"a"}`, true},
		{`{"aud":["a","b"]}`, true},
		{`{"aud":[]}`, true},
		{`{"exp":"1800000000"}`, false},
		{`{"nbf":"1"}`, false},
		{`{"iat":"1800000000"}`, false},
		{`{"exp":"1.8e9"}`, false},
		{`{"exp":true}`, false},
		{`{"exp":[1800000000]}`, false},
		{`{"exp":null}`, false},
		{`{"nbf":null}`, false},
		{`{"iss":null}`, false},
		{`{"sub":null}`, false},
		{`{"jti":null}`, false},
		{`{"aud":null}`, false},
		{`{"sub":5}`, false},
		{`{"iss":["i"]}`, false},
		{`{"jti":{}}`, false},
		{`{"aud":[null]}`, false},
		{`{"aud":{"a":1}}`, false},
	}
	for _, tt := range tests {
		var p claims.Payload
		err := json.Unmarshal([]byte(tt.payload), &p)
		if tt.ok && err != nil {
			t.Errorf("decoding %s: got %v, want no error", tt.payload, err)
		}
		if !tt.ok && !errors.Is(err, claims.ErrClaimType) {
			t.Errorf("decoding %s: got %v, want ErrClaimType", tt.payload, err)
		}
	}
}

// TestUnverifiedEmailNotMinted checks that an email the provider does not
// say it verified ("email_verified": true, the boolean) never reaches the
// minted token: not as "email", not in user_metadata, not through
// CLAIMS_PASSTHROUGH, not through a claims_map pointer into /email. Anyone
// can type any address at a self-signup page, and auth.email() policies
// would trust it. TrustUnverifiedEmail, the per-provider opt-in, restores
// the copy.
func TestUnverifiedEmailNotMinted(t *testing.T) {
	const base = `"iss":"https://idp.example/","sub":"u","exp":1800001000,"email":"ceo@victim.example"`
	mapping := func(trust bool) claims.Mapping {
		return claims.Mapping{
			Provider:             "p",
			Passthrough:          []string{"email", "email_verified", "name"},
			Rules:                []claims.Rule{{Target: "contact", Pointer: "/email"}, {Target: "mail", AppMetadata: true, Pointer: "/email"}, {Target: "who", Pointer: "/name"}},
			TrustUnverifiedEmail: trust,
		}
	}
	tests := []struct {
		name     string
		verified string // the email_verified member, "" for none
		trust    bool
		want     bool
	}{
		{"verified", `,"email_verified":true`, false, true},
		{"not verified", `,"email_verified":false`, false, false},
		{"no email_verified", ``, false, false},
		{"email_verified the string true", `,"email_verified":"true"`, false, false},
		{"email_verified 1", `,"email_verified":1`, false, false},
		{"email_verified null", `,"email_verified":null`, false, false},
		{"not verified, provider trusted", `,"email_verified":false`, true, true},
		{"no email_verified, provider trusted", ``, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mp := mapping(tt.trust)
			tok, err := minter(t, claims.Config{}).Mint(provider(t, `{`+base+tt.verified+`,"name":"N"}`), &mp)
			if err != nil {
				t.Fatal(err)
			}
			_, c := decode(t, tok.JWT)
			user := c["user_metadata"].(map[string]any)
			app := c["app_metadata"].(map[string]any)
			got := map[string]any{"email": c["email"], "user_metadata.email": user["email"], "contact": c["contact"], "app_metadata.mail": app["mail"]}
			for where, v := range got {
				if tt.want && v != "ceo@victim.example" {
					t.Errorf("%s: got %v, want the provider's email", where, v)
				}
				if !tt.want && v != nil {
					t.Errorf("%s: got %v, want no email", where, v)
				}
			}
			if c["who"] != "N" || user["name"] != "N" {
				t.Errorf("got who %v, user_metadata.name %v: the other claims must still be copied", c["who"], user["name"])
			}
		})
	}
}
