package verify_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/jwtoracle"
	"supabridge/shared/bridge"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

// FuzzVerify is a differential fuzz test of the verifier. The fuzzer writes
// the JOSE header and the payload; the test signs them with a genuine key,
// an attacker's key, the HS256-with-public-key trick, or the fuzzer's own
// signature bytes, so the claim and header rules are reached, not only the
// signature check. Each token goes to the real Verifier and to an oracle
// written apart from it from the contract, internal/jwtoracle (signature by
// golang-jwt's signing methods, claims by hand). The Verifier may never accept what the oracle refuses; on
// inputs whose claims are well-typed and in a sane range, it must accept what
// the oracle accepts.
func FuzzVerify(f *testing.F) {
	fx := newFuzzFixture(f)
	now := fx.now.Unix()
	hdr := func(alg, kid string) string {
		if kid == "" {
			return `{"alg":"` + alg + `","typ":"JWT"}`
		}
		return `{"alg":"` + alg + `","typ":"JWT","kid":"` + kid + `"}`
	}
	payload := func(m map[string]any) string {
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	validA := map[string]any{"iss": issA, "sub": "u1", "aud": "app", "iat": now, "exp": now + 3600}
	validB := map[string]any{"iss": issB, "sub": "u2", "iat": now, "exp": now + 600}
	with := func(base map[string]any, k string, v any) map[string]any {
		c := make(map[string]any, len(base)+1)
		for bk, bv := range base {
			c[bk] = bv
		}
		c[k] = v
		return c
	}
	// Seeds: each rule of the contract, on either side of its edge.
	for _, s := range []struct {
		header, payload string
		mode            uint8
	}{
		{hdr("EdDSA", "a-ed"), payload(validA), signA},
		{hdr("ES256", "a-ec"), payload(validA), signA},
		{hdr("RS256", "a-rs"), payload(validA), signA},
		{hdr("PS256", "a-rs"), payload(validA), signA},
		{hdr("EdDSA", ""), payload(validA), signA},
		{hdr("ES256", ""), payload(validB), signB},
		{hdr("ES256", "whatever"), payload(validB), signB},
		{hdr("EdDSA", "a-ec"), payload(validA), signA},
		{hdr("EdDSA", "a-ed"), payload(validB), signA},
		{hdr("ES256", "a-ec"), payload(validB), signB},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "exp", now-31)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "exp", now-29)), signA},
		{hdr("ES256", ""), payload(with(validB, "exp", now-1)), signB},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "exp", nil)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "exp", "1900003600")), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "exp", 1e300)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "nbf", now+31)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "nbf", 1e19)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "iat", -1e19)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "exp", 253402300799.5)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "iat", now+29)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "aud", []any{"x", "other"})), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "aud", []any{"x", nil})), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "aud", 7)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "iss", issA+"x")), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "sub", 5)), signA},
		{hdr("EdDSA", "a-ed"), payload(with(validA, "EXP", now-100)), signA},
		{`{"alg":"EdDSA","kid":"a-ed","crit":["exp"]}`, payload(validA), signA},
		{`{"alg":"EdDSA","kid":"a-ed","jku":"http://127.0.0.1:1/jwks"}`, payload(validA), signAttacker},
		{`{"alg":"EdDSA","kid":["a-ed"]}`, payload(validA), signA},
		{`{"alg":"none"}`, payload(validA), rawSig},
		{hdr("HS256", "a-ec"), payload(validB), signHMACWithPublicKey},
		{hdr("ES256", ""), payload(validB), signAttacker},
		{hdr("RS256", "a-rs"), payload(validA), signAttacker},
		{hdr("EdDSA", "a-ed"), `null`, signA},
		{hdr("EdDSA", "a-ed"), `[1]`, signA},
		{hdr("EdDSA", "a-ed"), payload(validA) + ` `, signA},
		{`null`, payload(validA), signA},
		{"a.b", "c", rawToken},
	} {
		f.Add(s.header, s.payload, s.mode, []byte{})
	}
	f.Fuzz(func(t *testing.T, header, payload string, mode uint8, sig []byte) {
		tok := fx.token(t, header, payload, mode, sig)
		res, err := fx.verifier.Verify(t.Context(), tok)
		o := jwtoracle.Verify(tok, fx.oracle, fx.now)
		if err == nil {
			if !o.OK {
				t.Fatalf("the verifier accepted a token the contract refuses (%s)\ntoken: %s", o.Why, tok)
			}
			if res.Policy != fx.policies[o.Provider] {
				t.Fatalf("got provider %q, want %q\ntoken: %s", res.Policy.Name, fx.policies[o.Provider].Name, tok)
			}
			if res.Claims == nil || res.Claims.Issuer != fx.oracle[o.Provider].Issuer {
				t.Fatalf("got claims %+v for provider %d", res.Claims, o.Provider)
			}
			return
		}
		e, known := bridge.Classify(err)
		if !known || (e.Status != http.StatusUnauthorized && e.Status != http.StatusRequestEntityTooLarge) {
			t.Fatalf("got error %v, classified %d %s (known %v), want a 401 or 413 with static keys", err, e.Status, e.Code, known)
		}
		if o.OK && o.Sane {
			t.Fatalf("the verifier refused a token the contract accepts: %v\ntoken: %s", err, tok)
		}
	})
}

// Signing modes of FuzzVerify (mode % 6).
const (
	signA                 = iota // provider A's key for the header's alg
	signB                        // provider B's ES256 key (a PEM without kid)
	signAttacker                 // a key nobody configured, for the header's alg
	signHMACWithPublicKey        // HS256 keyed with B's public key PEM
	rawSig                       // the fuzzer's bytes as the signature
	rawToken                     // the fuzzer's header, payload and sig, not encoded
)

const (
	issA = "https://a.example.com/application/o/app/"
	issB = "https://b.example.com"
)

type fuzzFixture struct {
	now      time.Time
	verifier *verify.Verifier
	policies []*verify.Policy
	oracle   []jwtoracle.Policy
	a        map[string]crypto.Signer // by alg family: "ed", "ec", "rsa"
	attacker map[string]crypto.Signer
	b        *ecdsa.PrivateKey
	bPEM     []byte
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	tb.Helper()
	gen := func() map[string]crypto.Signer {
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		rs, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		return map[string]crypto.Signer{"ed": ed, "ec": ec, "rsa": rs}
	}
	fx := &fuzzFixture{now: time.Unix(1_900_000_000, 0), a: gen(), attacker: gen()}
	var err error
	if fx.b, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(fx.b.Public())
	if err != nil {
		tb.Fatal(err)
	}
	fx.bPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	aKeys := []jwtoracle.Key{
		{Kid: "a-ed", Alg: "EdDSA", Pub: fx.a["ed"].Public()},
		{Kid: "a-ec", Alg: "ES256", Pub: fx.a["ec"].Public()},
		{Kid: "a-rs", Alg: "RS256", Pub: fx.a["rsa"].Public()},
	}
	var set []jwkset.JWKMarshal
	for _, k := range aKeys {
		j, err := jwkset.NewJWKFromKey(k.Pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.Kid, ALG: jwkset.ALG(k.Alg), USE: jwkset.UseSig}})
		if err != nil {
			tb.Fatal(err)
		}
		set = append(set, j.Marshal())
	}
	setJSON, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		tb.Fatal(err)
	}
	srcA, err := keys.NewStatic(setJSON)
	if err != nil {
		tb.Fatal(err)
	}
	srcB, err := keys.NewStatic(fx.bPEM)
	if err != nil {
		tb.Fatal(err)
	}
	fx.policies = []*verify.Policy{
		{Name: "a", Issuer: issA, Audience: []string{"app", "other"}, Leeway: verify.DefaultLeeway, Keys: srcA},
		{Name: "b", Issuer: issB, Algorithms: []string{"ES256", "PS256"}, Keys: srcB},
	}
	fx.verifier, err = verify.New(fx.policies, func() time.Time { return fx.now })
	if err != nil {
		tb.Fatal(err)
	}
	fx.oracle = []jwtoracle.Policy{
		{Issuer: issA, Audience: []string{"app", "other"}, Algs: verify.Algorithms, Leeway: 30 * time.Second, Keys: aKeys},
		{Issuer: issB, Algs: []string{"ES256", "PS256"}, Leeway: 0, Keys: []jwtoracle.Key{{Pub: fx.b.Public()}}},
	}
	return fx
}

// token builds the token for one fuzz input.
func (fx *fuzzFixture) token(t *testing.T, header, payload string, mode uint8, sig []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	var h struct {
		Alg string `json:"alg"`
	}
	_ = json.Unmarshal([]byte(header), &h)
	family := func(alg string) (string, jwt.SigningMethod) {
		switch alg {
		case "ES256":
			return "ec", jwt.SigningMethodES256
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return "rsa", jwt.GetSigningMethod(alg)
		}
		return "ed", jwt.SigningMethodEdDSA
	}
	var (
		s   []byte
		err error
	)
	switch mode % 6 {
	case signA:
		fam, m := family(h.Alg)
		s, err = m.Sign(signing, fx.a[fam])
	case signB:
		s, err = jwt.SigningMethodES256.Sign(signing, fx.b)
	case signAttacker:
		fam, m := family(h.Alg)
		s, err = m.Sign(signing, fx.attacker[fam])
	case signHMACWithPublicKey:
		m, ok := jwt.GetSigningMethod(h.Alg).(*jwt.SigningMethodHMAC)
		if !ok {
			m = jwt.SigningMethodHS256
		}
		s, err = m.Sign(signing, fx.bPEM)
	case rawSig:
		s = sig
	case rawToken:
		return header + "." + payload + "." + string(sig)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(s)
}

// TestFuzzOracle checks the oracle of FuzzVerify on known cases, and the
// verifier beside it, so that a broken oracle cannot make the fuzz target
// pass vacuously. The last rows are FuzzVerify's finding: a time claim
// beyond ±9.2e18 s wrapped around inside golang-jwt and passed.
func TestFuzzOracle(t *testing.T) {
	fx := newFuzzFixture(t)
	now := fx.now.Unix()
	claims := func(iss string, kv ...any) string {
		c := map[string]any{"iss": iss, "sub": "u", "aud": "app", "exp": now + 60}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
				continue
			}
			c[kv[i].(string)] = kv[i+1]
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, header, payload string
		mode                  uint8
		want                  bool
		wantProvider          int
	}{
		{"A EdDSA", `{"alg":"EdDSA","kid":"a-ed"}`, claims(issA), signA, true, 0},
		{"A RS256 without kid", `{"alg":"RS256"}`, claims(issA), signA, true, 0},
		{"A PS256 with the RS256 key's kid", `{"alg":"PS256","kid":"a-rs"}`, claims(issA), signA, false, 0},
		{"B ES256, any kid", `{"alg":"ES256","kid":"zzz"}`, claims(issB, "aud", nil), signB, true, 1},
		{"B ES256 with A's key", `{"alg":"ES256"}`, claims(issB), signA, false, 0},
		{"A's kid, another key", `{"alg":"EdDSA","kid":"a-ed"}`, claims(issA), signAttacker, false, 0},
		{"HS256 with B's public key", `{"alg":"HS256"}`, claims(issB), signHMACWithPublicKey, false, 0},
		{"crit", `{"alg":"EdDSA","crit":["x"],"x":1}`, claims(issA), signA, false, 0},
		{"A expired beyond leeway", `{"alg":"EdDSA"}`, claims(issA, "exp", now-31), signA, false, 0},
		{"A expired within leeway", `{"alg":"EdDSA"}`, claims(issA, "exp", now-29), signA, true, 0},
		{"B has no leeway", `{"alg":"ES256"}`, claims(issB, "exp", now), signB, false, 0},
		{"A wrong audience", `{"alg":"EdDSA"}`, claims(issA, "aud", "x"), signA, false, 0},
		{"A audience in a list", `{"alg":"EdDSA"}`, claims(issA, "aud", []string{"x", "other"}), signA, true, 0},
		{"A no exp", `{"alg":"EdDSA"}`, claims(issA, "exp", nil), signA, false, 0},
		{"A exp as a numeric string (RFC 7519 §2: a JSON number)", `{"alg":"EdDSA"}`, claims(issA, "exp", "1900000060"), signA, false, 0},
		{"A iat null", `{"alg":"EdDSA"}`, claims(issA, "iat", json.RawMessage("null")), signA, false, 0},
		{"A aud null", `{"alg":"EdDSA"}`, claims(issA, "aud", json.RawMessage("null")), signA, false, 0},
		{"A exp 1.9e9 (a number with an exponent)", `{"alg":"EdDSA"}`, claims(issA, "exp", json.RawMessage("1.9e9")), signA, true, 0},
		{"A nbf 1e19", `{"alg":"EdDSA"}`, claims(issA, "nbf", 1e19), signA, false, 0},
		{"A nbf 9.3e18", `{"alg":"EdDSA"}`, claims(issA, "nbf", 9.3e18), signA, false, 0},
		{"A iat 1e19", `{"alg":"EdDSA"}`, claims(issA, "iat", 1e19), signA, false, 0},
		{"A nbf -1e19", `{"alg":"EdDSA"}`, claims(issA, "nbf", -1e19), signA, false, 0},
		{"A exp in year 9999", `{"alg":"EdDSA"}`, claims(issA, "exp", 253402300799), signA, true, 0},
		{"A exp in year 10000", `{"alg":"EdDSA"}`, claims(issA, "exp", 253402300800), signA, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := fx.token(t, tt.header, tt.payload, tt.mode, nil)
			o := jwtoracle.Verify(tok, fx.oracle, fx.now)
			if o.OK != tt.want {
				t.Fatalf("oracle: got %v (%s), want %v", o.OK, o.Why, tt.want)
			}
			res, err := fx.verifier.Verify(t.Context(), tok)
			if (err == nil) != tt.want {
				t.Fatalf("verifier: got error %v, want accepted=%v", err, tt.want)
			}
			if tt.want && (res.Policy != fx.policies[tt.wantProvider] || o.Provider != tt.wantProvider) {
				t.Fatalf("got providers %q (verifier) and %d (oracle), want %d", res.Policy.Name, o.Provider, tt.wantProvider)
			}
			if !tt.want {
				if e, known := bridge.Classify(err); !known || e.Status != http.StatusUnauthorized {
					t.Fatalf("got %v classified %v (known %v), want a 401", err, e, known)
				}
			}
		})
	}
}
