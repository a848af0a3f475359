package keys_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/testprovider"
	"supabridge/shared/idp"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

// check verifies tok with src, as the verifier does: the method allowlist
// first, then the key source.
func check(ctx context.Context, src keys.Source, tok string) error {
	p := jwt.NewParser(jwt.WithValidMethods(verify.Algorithms))
	_, err := p.Parse(tok, func(t *jwt.Token) (any, error) { return src.Key(ctx, t) })
	return err
}

// selectionSet is a JWK Set with one signing key declared RS256 ("sig"),
// one key for encryption ("enc"), one whose key_ops allow only encryption,
// and the private keys behind them.
func selectionSet(t *testing.T) (set []byte, sig, enc, ops *testprovider.Key) {
	sig = testprovider.NewKey(t, "sig", "RS256")
	enc = testprovider.NewKey(t, "enc", "RS256")
	ops = testprovider.NewKey(t, "ops", "RS256")
	e := enc.JWK(t)
	e.USE, e.ALG = jwkset.UseEnc, ""
	o := ops.JWK(t)
	o.USE, o.ALG, o.KEYOPS = "", "", []jwkset.KEYOPS{jwkset.KeyOpsEncrypt}
	set, err := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{sig.JWK(t), e, o}})
	if err != nil {
		t.Fatal(err)
	}
	return set, sig, enc, ops
}

// as returns k's private key under another kid and algorithm.
func as(k *testprovider.Key, kid, alg string) *testprovider.Key {
	return &testprovider.Key{KID: kid, Alg: alg, Signer: k.Signer}
}

// TestKeySelectionHonoursAlgAndUse: with or without a kid, a key is used
// only for the algorithm its JWK declares and only if it is meant for
// signatures, from a fetched JWKS exactly as from a static one.
func TestKeySelectionHonoursAlgAndUse(t *testing.T) {
	set, sig, enc, ops := selectionSet(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	defer srv.Close()
	remote, err := keys.NewRemote(t.Context(), srv.URL, keys.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	static, err := keys.NewStatic(set)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"sub": "alice"}
	tests := []struct {
		name   string
		signer *testprovider.Key
		want   error // nil: verifies
	}{
		{"RS256 with the declared key's kid", sig, nil},
		{"RS256 without a kid", as(sig, "", "RS256"), nil},
		{"PS256 without a kid, key declared RS256", as(sig, "", "PS256"), keys.ErrUnknownKey},
		{"PS256 with the kid of a key declared RS256", as(sig, "sig", "PS256"), keys.ErrUnknownKey},
		{"with the kid of a use=enc key", enc, keys.ErrUnknownKey},
		// Only the signing key is tried, and it does not verify.
		{"without a kid, signed by the use=enc key", as(enc, "", "RS256"), jwt.ErrTokenSignatureInvalid},
		{"with the kid of a key_ops=[encrypt] key", ops, keys.ErrUnknownKey},
		{"without a kid, signed by the key_ops=[encrypt] key", as(ops, "", "PS256"), keys.ErrUnknownKey},
	}
	for _, src := range []struct {
		name string
		src  keys.Source
	}{{"remote", remote}, {"static", static}} {
		for _, tt := range tests {
			t.Run(src.name+"/"+tt.name, func(t *testing.T) {
				tok := tt.signer.Sign(t, claims, nil) // no kid when KID is empty
				err := check(t.Context(), src.src, tok)
				if tt.want == nil && err != nil {
					t.Fatalf("got %v, want the token verified", err)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			})
		}
	}
}

// TestStaticRefusesOnlyEncryptionKeys: a configured key set in which no
// key is for signatures is a start error, not a source that verifies
// nothing.
func TestStaticRefusesOnlyEncryptionKeys(t *testing.T) {
	k := testprovider.NewKey(t, "enc", "ES256")
	m := k.JWK(t)
	m.USE = jwkset.UseEnc
	one, _ := json.Marshal(m)
	set, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{m}})
	for name, material := range map[string][]byte{"JWK": one, "JWK Set": set} {
		if _, err := keys.NewStatic(material); !errors.Is(err, keys.ErrBadKeyMaterial) {
			t.Errorf("%s of one use=enc key: got %v, want ErrBadKeyMaterial", name, err)
		}
	}
}

// TestRemoteRedirectStaysOnOrigin: a JWKS URL that redirects to another
// origin cannot supply keys (a token signed by that origin's key is not
// verified, and the outage is a 502, not a forged token); a redirect within
// the origin is followed.
func TestRemoteRedirectStaysOnOrigin(t *testing.T) {
	good := testprovider.NewKey(t, "k1", "ES256")
	evil := testprovider.NewKey(t, "k1", "ES256") // the same kid, another key
	serveSet := func(k *testprovider.Key) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{k.JWK(t)}})
		}
	}
	attacker := httptest.NewServer(serveSet(evil))
	defer attacker.Close()
	mux := http.NewServeMux()
	mux.Handle("/elsewhere", http.RedirectHandler(attacker.URL+"/jwks", http.StatusFound))
	mux.Handle("/moved", http.RedirectHandler("/jwks", http.StatusFound))
	mux.Handle("/jwks", serveSet(good))
	provider := httptest.NewServer(mux)
	defer provider.Close()
	claims := map[string]any{"sub": "alice"}

	cross, err := keys.NewRemote(t.Context(), provider.URL+"/elsewhere", keys.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t.Context(), cross, evil.Sign(t, claims, nil)); !errors.Is(err, keys.ErrUnavailable) {
		t.Fatalf("token signed by the redirect target's key: got %v, want ErrUnavailable", err)
	}
	same, err := keys.NewRemote(t.Context(), provider.URL+"/moved", keys.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := check(t.Context(), same, good.Sign(t, claims, nil)); err != nil {
		t.Fatalf("redirect within the origin: got %v, want the token verified", err)
	}
}

// countingTransport counts the requests that reach the network.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("test: no network")
}

// TestDiscoveredJWKSURIMustBeHTTPS: a jwks_uri that discovery announces in
// plain http to a host that is not loopback is never fetched (the answer is
// "unavailable"), unless the provider allows plain http; a configured one is
// refused when the Remote is made.
func TestDiscoveredJWKSURIMustBeHTTPS(t *testing.T) {
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(idp.Metadata{Issuer: issuer, JWKSURI: "http://jwks.example.invalid/keys"})
	}))
	defer srv.Close()
	issuer = srv.URL
	tok := testprovider.NewKey(t, "k1", "ES256").Sign(t, map[string]any{"sub": "alice"}, nil)
	for _, insecure := range []bool{false, true} {
		jwks := &countingTransport{}
		disc := idp.NewDiscovery(issuer, idp.NewHTTPClient(idp.HTTPOptions{}), 0)
		src := keys.NewDiscovered(t.Context(), disc, keys.RemoteOptions{Transport: jwks, InsecureHTTP: insecure})
		err := check(t.Context(), src, tok)
		if !errors.Is(err, keys.ErrUnavailable) {
			t.Fatalf("insecure_http %v: got %v, want ErrUnavailable", insecure, err)
		}
		if got, want := errors.Is(err, idp.ErrInsecureURL), !insecure; got != want {
			t.Fatalf("insecure_http %v: ErrInsecureURL %v, want %v (%v)", insecure, got, want, err)
		}
		if got := jwks.n.Load(); (got == 0) != !insecure {
			t.Fatalf("insecure_http %v: %d JWKS requests", insecure, got)
		}
	}
	if _, err := keys.NewRemote(t.Context(), "http://jwks.example.invalid/keys", keys.RemoteOptions{}); !errors.Is(err, idp.ErrInsecureURL) {
		t.Fatalf("NewRemote over plain http elsewhere: got %v, want ErrInsecureURL", err)
	}
}
