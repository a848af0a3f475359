package verify_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/claims"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

func staticSource(t *testing.T, k *testprovider.Key) keys.Source {
	t.Helper()
	s, err := keys.NewStatic([]byte(k.PublicPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jwksSource(t *testing.T, ks ...*testprovider.Key) keys.Source {
	t.Helper()
	set := `{"keys":[`
	for i, k := range ks {
		if i > 0 {
			set += ","
		}
		b, _ := jsonMarshal(k.JWK(t))
		set += string(b)
	}
	s, err := keys.NewStatic([]byte(set + "]}"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const iss = "https://auth.example.com/application/o/app/"

func TestVerifyRules(t *testing.T) {
	rsa := testprovider.NewKey(t, "rsa1", "RS256")
	ec := testprovider.NewKey(t, "ec1", "ES256")
	ed := testprovider.NewKey(t, "ed1", "EdDSA")
	ps := testprovider.NewKey(t, "ps1", "PS256")
	other := testprovider.NewKey(t, "rsa1", "RS256") // same kid, different key
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }

	v, err := verify.New([]*verify.Policy{{
		Name: "app", Issuer: iss, Audience: []string{"app", "other-app"},
		Algorithms: []string{"RS256", "ES256", "EdDSA", "PS256"},
		Leeway:     verify.DefaultLeeway,
		Keys:       jwksSource(t, rsa, ec, ed, ps),
	}}, clock)
	if err != nil {
		t.Fatal(err)
	}
	valid := func() map[string]any {
		return map[string]any{"iss": iss, "sub": "u1", "aud": "app", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	with := func(k string, val any) map[string]any {
		c := valid()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	pubPEM := []byte(rsa.PublicPEM(t))
	hsWithPublicKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(valid()))
		tok.Header["kid"] = "rsa1"
		s, err := tok.SignedString(pubPEM)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(valid())).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	attacker := testprovider.NewKey(t, "", "RS256")

	tests := []struct {
		name    string
		token   string
		wantErr error // nil means accepted
	}{
		{"RS256 valid", rsa.Sign(t, valid(), nil), nil},
		{"ES256 valid", ec.Sign(t, valid(), nil), nil},
		{"EdDSA valid", ed.Sign(t, valid(), nil), nil},
		{"PS256 valid", ps.Sign(t, valid(), nil), nil},
		{"audience list containing one accepted", rsa.Sign(t, with("aud", []string{"x", "other-app"}), nil), nil},
		{"exp within leeway", rsa.Sign(t, with("exp", now.Add(-10*time.Second).Unix()), nil), nil},
		{"alg none", none(), verify.ErrAlgorithm},
		{"HS256 signed with the public key", hsWithPublicKey(), verify.ErrAlgorithm},
		{"expired", rsa.Sign(t, with("exp", now.Add(-time.Minute).Unix()), nil), jwt.ErrTokenExpired},
		{"exp zero", rsa.Sign(t, with("exp", 0), nil), jwt.ErrTokenExpired},
		{"missing exp", rsa.Sign(t, with("exp", nil), nil), jwt.ErrTokenRequiredClaimMissing},
		{"exp as a string", rsa.Sign(t, with("exp", "tomorrow"), nil), jwt.ErrTokenMalformed},
		{"exp as a string of digits", rsa.Sign(t, with("exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10)), nil), claims.ErrClaimType},
		{"nbf as a string of digits", rsa.Sign(t, with("nbf", strconv.FormatInt(now.Unix(), 10)), nil), claims.ErrClaimType},
		{"iat as a string of digits", rsa.Sign(t, with("iat", strconv.FormatInt(now.Unix(), 10)), nil), claims.ErrClaimType},
		{"sub null", signRaw(t, rsa, `{"iss":"`+iss+`","sub":null,"aud":"app","exp":`+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+`}`), claims.ErrClaimType},
		{"nbf null", signRaw(t, rsa, `{"iss":"`+iss+`","sub":"u1","aud":"app","nbf":null,"exp":`+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+`}`), claims.ErrClaimType},
		{"future nbf", rsa.Sign(t, with("nbf", now.Add(time.Minute).Unix()), nil), jwt.ErrTokenNotValidYet},
		{"future iat", rsa.Sign(t, with("iat", now.Add(time.Minute).Unix()), nil), jwt.ErrTokenUsedBeforeIssued},
		{"nbf within leeway", rsa.Sign(t, with("nbf", now.Add(20*time.Second).Unix()), nil), nil},
		{"wrong iss", rsa.Sign(t, with("iss", "https://evil.example.com/"), nil), verify.ErrUnknownIssuer},
		{"iss without trailing slash", rsa.Sign(t, with("iss", strings.TrimSuffix(iss, "/")), nil), verify.ErrUnknownIssuer},
		{"iss differing in case", rsa.Sign(t, with("iss", strings.ToUpper(iss)), nil), verify.ErrUnknownIssuer},
		{"missing iss", rsa.Sign(t, with("iss", nil), nil), verify.ErrUnknownIssuer},
		{"wrong aud", rsa.Sign(t, with("aud", "someone-else"), nil), jwt.ErrTokenInvalidAudience},
		{"missing aud", rsa.Sign(t, with("aud", nil), nil), jwt.ErrTokenRequiredClaimMissing},
		{"aud as a number", rsa.Sign(t, with("aud", 42), nil), jwt.ErrTokenMalformed},
		{"unknown kid", rsa.Sign(t, valid(), map[string]any{"kid": "nope"}), keys.ErrUnknownKey},
		{"known kid, wrong key", other.Sign(t, valid(), nil), jwt.ErrTokenSignatureInvalid},
		{"no kid, key not configured", attacker.Sign(t, valid(), nil), jwt.ErrTokenSignatureInvalid},
		{"crit header", rsa.Sign(t, valid(), map[string]any{"crit": []string{"exp"}, "exp": 1}), verify.ErrCritical},
		{"b64 false with crit", rsa.Sign(t, valid(), map[string]any{"crit": []string{"b64"}, "b64": false}), verify.ErrCritical},
		{"embedded jwk of the attacker", attacker.Sign(t, valid(), map[string]any{"jwk": attacker.JWK(t)}), jwt.ErrTokenSignatureInvalid},
		{"x5c of the attacker, kid of ours", attacker.Sign(t, valid(), map[string]any{"kid": "rsa1", "x5c": []string{"MIIB"}}), jwt.ErrTokenSignatureInvalid},
		{"malformed", "not.a.jwt", jwt.ErrTokenMalformed},
		{"two segments", "eyJhbGciOiJSUzI1NiJ9.e30", jwt.ErrTokenMalformed},
		{"oversize", strings.Repeat("a", verify.MaxTokenLen+1), verify.ErrTooLarge},
		{"payload an array", signRaw(t, rsa, `[1,2]`), jwt.ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := v.Verify(t.Context(), tt.token)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want accepted", err)
				}
				if res.Claims.Subject != "u1" {
					t.Fatalf("got sub %q, want u1", res.Claims.Subject)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// signRaw signs an arbitrary payload string with k.
func signRaw(t *testing.T, k *testprovider.Key, payload string) string {
	t.Helper()
	m := jwt.GetSigningMethod(k.Alg)
	head := b64(`{"alg":"` + k.Alg + `","kid":"` + k.KID + `"}`)
	signing := head + "." + b64(payload)
	sig, err := m.Sign(signing, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestHeaderKeyURLsAreNeverFetched(t *testing.T) {
	var hits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer evil.Close()
	ours := testprovider.NewKey(t, "k1", "RS256")
	attacker := testprovider.NewKey(t, "k1", "RS256")
	v, err := verify.New([]*verify.Policy{{Name: "a", Issuer: iss, Keys: staticSource(t, ours)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": iss, "sub": "u", "exp": time.Now().Add(time.Hour).Unix()}
	for _, h := range []string{"jku", "x5u"} {
		tok := attacker.Sign(t, claims, map[string]any{h: evil.URL + "/jwks"})
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Errorf("%s: got %v, want signature invalid", h, err)
		}
		// A genuine token with the header still verifies: the header is ignored, not trusted.
		if _, err := v.Verify(t.Context(), ours.Sign(t, claims, map[string]any{h: evil.URL + "/jwks"})); err != nil {
			t.Errorf("%s on a genuine token: got %v, want accepted", h, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("got %d requests to the URL named in the header, want 0", n)
	}
}

func TestAlgorithmsNarrowedPerProvider(t *testing.T) {
	ec := testprovider.NewKey(t, "ec", "ES256")
	v, err := verify.New([]*verify.Policy{{Name: "a", Issuer: iss, Algorithms: []string{"RS256"}, Keys: jwksSource(t, ec)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := ec.Sign(t, map[string]any{"iss": iss, "sub": "u", "exp": time.Now().Add(time.Hour).Unix()}, nil)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, verify.ErrAlgorithm) {
		t.Fatalf("got %v, want ErrAlgorithm", err)
	}
}

func TestNewRefusesBadPolicies(t *testing.T) {
	k := staticSource(t, testprovider.NewKey(t, "k", "ES256"))
	tests := []struct {
		name     string
		policies []*verify.Policy
	}{
		{"none", nil},
		{"HS256 allowed", []*verify.Policy{{Name: "a", Issuer: iss, Algorithms: []string{"HS256"}, Keys: k}}},
		{"alg none allowed", []*verify.Policy{{Name: "a", Issuer: iss, Algorithms: []string{"none"}, Keys: k}}},
		{"no keys", []*verify.Policy{{Name: "a", Issuer: iss}}},
		{"duplicate issuer", []*verify.Policy{{Name: "a", Issuer: iss, Keys: k}, {Name: "b", Issuer: iss, Keys: k}}},
		{"wildcard among several", []*verify.Policy{{Name: "a", Issuer: iss, Keys: k}, {Name: "b", Keys: k}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := verify.New(tt.policies, nil); err == nil {
				t.Fatal("got no error, want one")
			}
		})
	}
}

// countingSource records whether it was asked for a key.
type countingSource struct {
	keys.Source
	calls atomic.Int64
}

func (c *countingSource) Key(ctx context.Context, t *jwt.Token) (any, error) {
	c.calls.Add(1)
	return c.Source.Key(ctx, t)
}

func TestSeveralIssuers(t *testing.T) {
	a := testprovider.NewKey(t, "a", "RS256")
	b := testprovider.NewKey(t, "b", "ES256")
	issA, issB := "https://auth.example.com/application/o/a/", "https://auth.example.com/application/o/b/"
	srcA := &countingSource{Source: jwksSource(t, a)}
	srcB := &countingSource{Source: jwksSource(t, b)}
	policies := []*verify.Policy{
		{Name: "a", Issuer: issA, Audience: []string{"client-a"}, Keys: srcA},
		{Name: "b", Issuer: issB, Audience: []string{"client-b"}, Keys: srcB},
	}
	v, err := verify.New(policies, nil)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	tests := []struct {
		name     string
		token    string
		wantErr  error
		wantProv int
		wantA    int64 // key look-ups of A's source
		wantB    int64
	}{
		{"A's token", a.Sign(t, map[string]any{"iss": issA, "aud": "client-a", "sub": "u", "exp": exp}, nil), nil, 0, 1, 0},
		{"B's token", b.Sign(t, map[string]any{"iss": issB, "aud": "client-b", "sub": "u", "exp": exp}, nil), nil, 1, 0, 1},
		{"A's key with B's iss", a.Sign(t, map[string]any{"iss": issB, "aud": "client-b", "sub": "u", "exp": exp}, map[string]any{"kid": "b"}), keys.ErrUnknownKey, 0, 0, 1},
		{"A's key, B's iss, A's kid", a.Sign(t, map[string]any{"iss": issB, "aud": "client-b", "sub": "u", "exp": exp}, nil), keys.ErrUnknownKey, 0, 0, 1},
		{"B's audience on A", a.Sign(t, map[string]any{"iss": issA, "aud": "client-b", "sub": "u", "exp": exp}, nil), jwt.ErrTokenInvalidAudience, 0, 1, 0},
		{"unknown iss asks no source", a.Sign(t, map[string]any{"iss": "https://other/", "sub": "u", "exp": exp}, nil), verify.ErrUnknownIssuer, 0, 0, 0},
		{"missing iss asks no source", a.Sign(t, map[string]any{"sub": "u", "exp": exp}, nil), verify.ErrUnknownIssuer, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcA.calls.Store(0)
			srcB.calls.Store(0)
			res, err := v.Verify(t.Context(), tt.token)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if err == nil && res.Policy != policies[tt.wantProv] {
				t.Fatalf("got provider %q, want %q", res.Policy.Name, policies[tt.wantProv].Name)
			}
			if ga, gb := srcA.calls.Load(), srcB.calls.Load(); ga != tt.wantA || gb != tt.wantB {
				t.Fatalf("got key look-ups A=%d B=%d, want A=%d B=%d", ga, gb, tt.wantA, tt.wantB)
			}
		})
	}
}
