package keys_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/idp"
	"supabridge/shared/keys"
)

// testKeys are made once per test function: RSA generation is slow under
// -race.
type testKeys struct {
	rsa, rsa2, ec, ed, other *testprovider.Key
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	return testKeys{
		rsa:  testprovider.NewKey(t, "rsa-1", "RS256"),
		rsa2: testprovider.NewKey(t, "rsa-2", "RS256"),
		ec:   testprovider.NewKey(t, "ec-1", "ES256"),
		ed:   testprovider.NewKey(t, "ed-1", "EdDSA"),
		// Same kid and alg as rsa, another key: a forger's.
		other: testprovider.NewKey(t, "rsa-1", "RS256"),
	}
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// certPEM returns a self-signed certificate for k.
func certPEM(t *testing.T, k *testprovider.Key) string {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "provider signing key"},
		NotBefore:    time.Unix(1_700_000_000, 0),
		NotAfter:     time.Unix(1_900_000_000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Signer.Public(), k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("CERTIFICATE", der)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jwkSet(t *testing.T, ks ...jwkset.JWKMarshal) string {
	t.Helper()
	return mustJSON(t, jwkset.JWKSMarshal{Keys: ks})
}

// privateJWK returns k's JWK with its private part ("d").
func privateJWK(t *testing.T, k *testprovider.Key) jwkset.JWKMarshal {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(k.Signer, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: k.KID, ALG: jwkset.ALG(k.Alg)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if j.Marshal().D == "" {
		t.Fatal("private JWK has no d")
	}
	return j.Marshal()
}

// verifyWith verifies a token signed by k, with k's kid, against src.
func verifyWith(t *testing.T, src keys.Source, k *testprovider.Key) error {
	t.Helper()
	raw := k.Sign(t, map[string]any{"sub": "alice"}, nil)
	_, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
		return src.Key(t.Context(), tok)
	}, jwt.WithValidMethods([]string{k.Alg}))
	return err
}

func TestNewStaticAccepts(t *testing.T) {
	k := newTestKeys(t)
	pkcs1 := pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(k.rsa2.Signer.Public().(*rsa.PublicKey)))
	tests := []struct {
		name     string
		material string
		accepts  []*testprovider.Key
		refuses  []*testprovider.Key
	}{
		{name: "PEM RSA public key", material: k.rsa.PublicPEM(t), accepts: []*testprovider.Key{k.rsa}, refuses: []*testprovider.Key{k.other, k.rsa2}},
		{name: "PEM EC public key", material: k.ec.PublicPEM(t), accepts: []*testprovider.Key{k.ec}, refuses: []*testprovider.Key{k.rsa}},
		{name: "PEM Ed25519 public key", material: k.ed.PublicPEM(t), accepts: []*testprovider.Key{k.ed}, refuses: []*testprovider.Key{k.ec}},
		{name: "PEM PKCS#1 RSA PUBLIC KEY", material: pkcs1, accepts: []*testprovider.Key{k.rsa2}, refuses: []*testprovider.Key{k.rsa}},
		{name: "certificate", material: certPEM(t, k.ec), accepts: []*testprovider.Key{k.ec}, refuses: []*testprovider.Key{k.ed}},
		{
			name:     "several PEM blocks with blank lines and surrounding space",
			material: "\n\n  " + k.rsa.PublicPEM(t) + "\n\n" + certPEM(t, k.ec) + "\n" + k.ed.PublicPEM(t) + "\n\t\n",
			accepts:  []*testprovider.Key{k.rsa, k.ec, k.ed},
			refuses:  []*testprovider.Key{k.other, k.rsa2},
		},
		{name: "JWK", material: mustJSON(t, k.rsa.JWK(t)), accepts: []*testprovider.Key{k.rsa}, refuses: []*testprovider.Key{k.other}},
		{name: "JWK with leading space", material: "  \n" + mustJSON(t, k.ed.JWK(t)), accepts: []*testprovider.Key{k.ed}},
		{
			name:     "JWK Set",
			material: jwkSet(t, k.rsa.JWK(t), k.rsa2.JWK(t), k.ec.JWK(t), k.ed.JWK(t)),
			accepts:  []*testprovider.Key{k.rsa, k.rsa2, k.ec, k.ed},
			refuses:  []*testprovider.Key{k.other},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := keys.NewStatic([]byte(tt.material))
			if err != nil {
				t.Fatalf("NewStatic: got %v, want a source", err)
			}
			for _, key := range tt.accepts {
				if err := verifyWith(t, s, key); err != nil {
					t.Errorf("token of %s (%s): got %v, want it verified", key.KID, key.Alg, err)
				}
			}
			for _, key := range tt.refuses {
				if err := verifyWith(t, s, key); err == nil {
					t.Errorf("token of another %s key: verified, want it refused", key.Alg)
				}
			}
		})
	}
}

func TestNewStaticRefuses(t *testing.T) {
	k := newTestKeys(t)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k.ec.Signer)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := x509.MarshalECPrivateKey(k.ec.Signer.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv := x509.MarshalPKCS1PrivateKey(k.rsa.Signer.(*rsa.PrivateKey))
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	xDER, err := x509.MarshalPKIXPublicKey(x.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	priv := privateJWK(t, k.ed)
	oct, err := jwkset.NewJWKFromKey([]byte("a-shared-hmac-secret-of-32-bytes"), jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: "hs", ALG: jwkset.AlgHS256},
	})
	if err != nil {
		t.Fatal(err)
	}
	octJWK := oct.Marshal()

	tests := []struct {
		name     string
		material string
		// secret must not appear in the error's text.
		secret string
	}{
		{name: "empty", material: ""},
		{name: "only white space", material: " \n\t\n "},
		{name: "garbage", material: "not a key at all"},
		{name: "PEM with a broken body", material: "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"},
		{name: "PUBLIC KEY block holding junk", material: pemBlock("PUBLIC KEY", []byte("junk"))},
		{name: "CERTIFICATE block holding junk", material: pemBlock("CERTIFICATE", []byte("junk"))},
		{name: "PKCS#8 private key", material: pemBlock("PRIVATE KEY", pkcs8)},
		{name: "EC private key", material: pemBlock("EC PRIVATE KEY", ecPriv)},
		{name: "RSA private key", material: pemBlock("RSA PRIVATE KEY", rsaPriv)},
		{name: "public key followed by a private key", material: k.rsa.PublicPEM(t) + pemBlock("PRIVATE KEY", pkcs8)},
		{name: "public key followed by garbage", material: k.rsa.PublicPEM(t) + "trailing words"},
		{name: "X25519 key, not a signing key", material: pemBlock("PUBLIC KEY", xDER)},
		{name: "private JWK", material: mustJSON(t, priv), secret: priv.D},
		{name: "JWK Set with one private key", material: jwkSet(t, k.rsa.JWK(t), priv), secret: priv.D},
		{name: "symmetric oct JWK", material: mustJSON(t, octJWK), secret: octJWK.K},
		{name: "JWK Set with an oct key", material: jwkSet(t, k.rsa.JWK(t), octJWK), secret: octJWK.K},
		{name: "JSON that does not parse", material: `{"kty":"RSA",`},
		{name: "JWK of an unknown type", material: `{"kty":"XYZ","kid":"a"}`},
		{name: "keys is not an array", material: `{"keys":{"kty":"RSA"}}`},
		{name: "empty JWK Set", material: `{"keys":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := keys.NewStatic([]byte(tt.material))
			if !errors.Is(err, keys.ErrBadKeyMaterial) {
				t.Fatalf("got %v, want ErrBadKeyMaterial", err)
			}
			if s != nil {
				t.Fatalf("got a source %v with the error, want nil", s)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("error text %q echoes the key's secret part", err)
			}
		})
	}
}

// tok is a parsed, unverified token as a Source sees it. A nil kid is no
// "kid" header.
func tok(alg string, kid any) *jwt.Token {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != nil {
		h["kid"] = kid
	}
	return &jwt.Token{Header: h, Method: jwt.GetSigningMethod(alg)}
}

type equaler interface{ Equal(crypto.PublicKey) bool }

// sameKeys reports whether got (a key or a jwt.VerificationKeySet) is
// exactly want, in order; a single key must come as a key, not as a set.
func sameKeys(got any, want []*testprovider.Key) bool {
	var list []jwt.VerificationKey
	switch g := got.(type) {
	case jwt.VerificationKeySet:
		if len(want) < 2 {
			return false
		}
		list = g.Keys
	default:
		if len(want) != 1 {
			return false
		}
		list = []jwt.VerificationKey{g}
	}
	if len(list) != len(want) {
		return false
	}
	for i, k := range list {
		e, ok := k.(equaler)
		if !ok || !e.Equal(want[i].Signer.Public()) {
			return false
		}
	}
	return true
}

func TestStaticKeySelection(t *testing.T) {
	k := newTestKeys(t)
	// A JWK without kid or alg, as some operators paste one.
	bare := k.rsa2.JWK(t)
	bare.KID, bare.ALG = "", ""
	noAlg := k.rsa2.JWK(t)
	noAlg.ALG = ""

	set := jwkSet(t, k.rsa.JWK(t), k.rsa2.JWK(t), k.ec.JWK(t))
	twoPEM := k.rsa.PublicPEM(t) + k.rsa2.PublicPEM(t)
	tests := []struct {
		name     string
		material string
		token    *jwt.Token
		want     []*testprovider.Key // nil: ErrUnknownKey
	}{
		{name: "kid names a key", material: set, token: tok("RS256", "rsa-2"), want: []*testprovider.Key{k.rsa2}},
		{name: "kid names another key", material: set, token: tok("ES256", "ec-1"), want: []*testprovider.Key{k.ec}},
		{name: "kid matches no key", material: set, token: tok("RS256", "rsa-9")},
		{name: "kid matches but the JWK alg differs", material: set, token: tok("PS256", "rsa-1")},
		{name: "kid of an EC key on an RS256 token", material: set, token: tok("RS256", "ec-1")},
		{name: "no kid: every key of the alg, as a set", material: set, token: tok("RS256", nil), want: []*testprovider.Key{k.rsa, k.rsa2}},
		{name: "no kid: one key of the alg, as a key", material: set, token: tok("ES256", nil), want: []*testprovider.Key{k.ec}},
		{name: "no kid and no key of the alg", material: set, token: tok("EdDSA", nil)},
		{name: "non-string kid counts as none", material: set, token: tok("RS256", 7.0), want: []*testprovider.Key{k.rsa, k.rsa2}},
		{name: "PEM without kid matches a token with a kid", material: k.rsa.PublicPEM(t), token: tok("RS256", "whatever"), want: []*testprovider.Key{k.rsa}},
		{name: "PEM has no alg to disagree", material: k.rsa.PublicPEM(t), token: tok("PS256", "x"), want: []*testprovider.Key{k.rsa}},
		{name: "two PEM keys, token with a kid", material: twoPEM, token: tok("RS256", "rsa-1"), want: []*testprovider.Key{k.rsa, k.rsa2}},
		{name: "two PEM keys, token without kid", material: twoPEM, token: tok("RS256", nil), want: []*testprovider.Key{k.rsa, k.rsa2}},
		{name: "JWK without kid matches a token with a kid", material: mustJSON(t, bare), token: tok("PS256", "x"), want: []*testprovider.Key{k.rsa2}},
		{name: "JWK with kid and no alg", material: mustJSON(t, noAlg), token: tok("PS256", "rsa-2"), want: []*testprovider.Key{k.rsa2}},
		{name: "kid match wins over a key without kid", material: jwkSet(t, bare, k.rsa.JWK(t)), token: tok("RS256", "rsa-1"), want: []*testprovider.Key{k.rsa}},
		{name: "unknown kid falls to the key without kid", material: jwkSet(t, bare, k.rsa.JWK(t)), token: tok("RS256", "rsa-9"), want: []*testprovider.Key{k.rsa2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := keys.NewStatic([]byte(tt.material))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Key(t.Context(), tt.token)
			if tt.want == nil {
				if !errors.Is(err, keys.ErrUnknownKey) || got != nil {
					t.Fatalf("got %T, %v; want nil, ErrUnknownKey", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a key", err)
			}
			if !sameKeys(got, tt.want) {
				t.Fatalf("got %T %v, want the keys of %d test key(s)", got, got, len(tt.want))
			}
		})
	}
}

// A token without kid is checked against every candidate: golang-jwt tries
// each key of the set, so the second key still verifies it.
func TestStaticKeySetVerifies(t *testing.T) {
	k := newTestKeys(t)
	s, err := keys.NewStatic([]byte(k.rsa.PublicPEM(t) + k.rsa2.PublicPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  *testprovider.Key
		want bool
	}{{"first key", k.rsa, true}, {"second key", k.rsa2, true}, {"a key not configured", k.other, false}} {
		raw := tc.key.Sign(t, map[string]any{"sub": "alice"}, map[string]any{"kid": nil})
		_, err := jwt.Parse(raw, func(tk *jwt.Token) (any, error) { return s.Key(t.Context(), tk) }, jwt.WithValidMethods([]string{"RS256"}))
		if (err == nil) != tc.want {
			t.Errorf("token without kid by the %s: got err %v, want verified=%v", tc.name, err, tc.want)
		}
	}
}

func TestFetchSet(t *testing.T) {
	k := newTestKeys(t)
	// Keycloak's realm set lists an encryption key beside the signing key.
	enc := k.rsa2.JWK(t)
	enc.KID, enc.USE, enc.ALG = "enc-1", jwkset.UseEnc, jwkset.AlgRSAOAEP
	tests := []struct {
		name    string
		status  int
		body    string
		wantN   int
		wantErr []error
		notErr  []error
	}{
		{name: "a set", status: 200, body: jwkSet(t, k.rsa.JWK(t), k.ec.JWK(t)), wantN: 2},
		{name: "a set with an encryption key", status: 200, body: jwkSet(t, k.rsa.JWK(t), enc), wantN: 2},
		{name: "404", status: 404, body: `{"keys":[]}`, wantErr: []error{keys.ErrUnavailable}, notErr: []error{keys.ErrBadKeyMaterial}},
		{name: "500", status: 500, body: "boom", wantErr: []error{keys.ErrUnavailable}, notErr: []error{keys.ErrBadKeyMaterial}},
		{name: "not JSON", status: 200, body: "<html>login</html>", wantErr: []error{keys.ErrBadKeyMaterial, keys.ErrNotJWKS}, notErr: []error{keys.ErrUnavailable}},
		{name: "keys is not an array", status: 200, body: `{"keys":"none"}`, wantErr: []error{keys.ErrBadKeyMaterial, keys.ErrNotJWKS}},
		{name: "empty set", status: 200, body: `{"keys":[]}`, wantErr: []error{keys.ErrBadKeyMaterial, keys.ErrEmptySet}, notErr: []error{keys.ErrNotJWKS}},
		{name: "no keys member", status: 200, body: `{}`, wantErr: []error{keys.ErrBadKeyMaterial, keys.ErrEmptySet}},
		{name: "a private key in the set", status: 200, body: jwkSet(t, k.rsa.JWK(t), privateJWK(t, k.ec)), wantErr: []error{keys.ErrBadKeyMaterial}, notErr: []error{keys.ErrNotJWKS, keys.ErrEmptySet, keys.ErrUnavailable}},
		{name: "body over the client's limit", status: 200, body: `{"keys":[],"pad":"` + strings.Repeat("x", 8<<10) + `"}`, wantErr: []error{keys.ErrUnavailable, idp.ErrBodyTooLarge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var accept, method string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				accept, method = r.Header.Get("Accept"), r.Method
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			client := idp.NewHTTPClient(idp.HTTPOptions{MaxBody: 4 << 10})
			st, n, err := keys.FetchSet(t.Context(), client, srv.URL+"/jwks")
			if method != http.MethodGet || accept != "application/json" {
				t.Errorf("server saw %s with Accept %q, want GET with application/json", method, accept)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("got %v, want it to match %q", err, want)
				}
			}
			for _, not := range tt.notErr {
				if errors.Is(err, not) {
					t.Errorf("got %v, want it not to match %q", err, not)
				}
			}
			if len(tt.wantErr) > 0 {
				if st != nil {
					t.Errorf("got a source with the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a set", err)
			}
			if n != tt.wantN {
				t.Errorf("got n=%d, want %d", n, tt.wantN)
			}
			if err := verifyWith(t, st, k.rsa); err != nil {
				t.Errorf("token of the set's key: got %v, want verified", err)
			}
			if err := verifyWith(t, st, k.other); err == nil {
				t.Errorf("token of a key not in the set: verified")
			}
		})
	}
}

func TestFetchSetTransportFailure(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	for _, tt := range []struct{ name, url string }{
		{"connection refused", u + "/jwks"},
		{"unparseable URL", "http://bad host/jwks"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := keys.FetchSet(t.Context(), idp.NewHTTPClient(idp.HTTPOptions{}), tt.url)
			if !errors.Is(err, keys.ErrUnavailable) || errors.Is(err, keys.ErrBadKeyMaterial) {
				t.Fatalf("got %v, want ErrUnavailable alone", err)
			}
		})
	}
}
