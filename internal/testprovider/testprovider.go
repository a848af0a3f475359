package testprovider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Key is a signing key with its kid and algorithm.
type Key struct {
	KID    string
	Alg    string
	Signer crypto.Signer
}

// NewKey makes a key for alg: RS256/PS256 (RSA 2048), ES256 (P-256), EdDSA.
func NewKey(t testing.TB, kid, alg string) *Key {
	t.Helper()
	var (
		s   crypto.Signer
		err error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		s, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("testprovider: no key type for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &Key{KID: kid, Alg: alg, Signer: s}
}

// PublicPEM returns the public key as PEM.
func (k *Key) PublicPEM(t testing.TB) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// JWK returns the public JWK.
func (k *Key) JWK(t testing.TB) jwkset.JWKMarshal {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(k.Signer.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.KID, ALG: jwkset.ALG(k.Alg), USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	return j.Marshal()
}

// Sign signs claims with k; header entries override the defaults (alg and
// kid from the key; set "kid" to nil to drop it).
func (k *Key) Sign(t testing.TB, claims map[string]any, header map[string]any) string {
	t.Helper()
	t2 := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), jwt.MapClaims(claims))
	if k.KID != "" {
		t2.Header["kid"] = k.KID
	}
	for h, v := range header {
		if v == nil {
			delete(t2.Header, h)
			continue
		}
		t2.Header[h] = v
	}
	s, err := t2.SignedString(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Mode is how the provider's endpoints behave.
type Mode int32

// Modes of the provider's endpoints.
const (
	Up       Mode = iota
	Down          // connection-level failure: the handler hijacks and closes
	Error500      // HTTP 500
	Garbage       // 200 with a body that is not JSON
	Slow          // waits for the request's context to end (or 30 s)
)

// Provider is an httptest OIDC provider.
type Provider struct {
	Server *httptest.Server
	// Issuer is the issuer identifier: Server.URL + path.
	Issuer string

	mu      sync.Mutex
	keys    []*Key
	mode    atomic.Int32
	delay   atomic.Int64
	fetches atomic.Int64
	disco   atomic.Int64
}

// New starts a provider with keys at Server.URL+path ("" or "/app/").
func New(t testing.TB, path string, keys ...*Key) *Provider {
	t.Helper()
	p := &Provider{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/", p.serve)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Server.Close)
	p.Issuer = p.Server.URL + path
	return p
}

// JWKSURL is where the JWKS is served.
func (p *Provider) JWKSURL() string { return p.Server.URL + "/jwks" }

// SetMode changes how every endpoint answers.
func (p *Provider) SetMode(m Mode) { p.mode.Store(int32(m)) }

// SetDelay makes every endpoint wait d before it answers (a slow network
// or a busy provider); the wait ends early if the request is cancelled.
func (p *Provider) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// SetKeys replaces the served key set (rotation).
func (p *Provider) SetKeys(keys ...*Key) {
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
}

// Fetches counts JWKS requests; Discoveries counts discovery requests.
func (p *Provider) Fetches() int64     { return p.fetches.Load() }
func (p *Provider) Discoveries() int64 { return p.disco.Load() }

// Requests counts every request the provider received.
func (p *Provider) Requests() int64 { return p.fetches.Load() + p.disco.Load() }

func (p *Provider) serve(w http.ResponseWriter, r *http.Request) {
	isJWKS := r.URL.Path == "/jwks"
	if isJWKS {
		p.fetches.Add(1)
	} else {
		p.disco.Add(1)
	}
	if d := time.Duration(p.delay.Load()); d > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(d):
		}
	}
	switch Mode(p.mode.Load()) {
	case Down:
		if hj, ok := w.(http.Hijacker); ok {
			c, _, _ := hj.Hijack()
			c.Close()
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case Error500:
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case Garbage:
		fmt.Fprint(w, "<html>not json")
		return
	case Slow:
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case isJWKS:
		p.mu.Lock()
		keys := make([]jwkset.JWKMarshal, 0, len(p.keys))
		for _, k := range p.keys {
			keys = append(keys, k.JWK(nopTB{}))
		}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	case r.URL.Path == discoveryPath(p):
		algs := []string{}
		p.mu.Lock()
		for _, k := range p.keys {
			algs = append(algs, k.Alg)
		}
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": p.Issuer, "jwks_uri": p.JWKSURL(), "token_endpoint": p.Server.URL + "/token",
			"id_token_signing_alg_values_supported": algs,
		})
	default:
		http.NotFound(w, r)
	}
}

func discoveryPath(p *Provider) string {
	path := p.Issuer[len(p.Server.URL):]
	for len(path) > 0 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return path + "/.well-known/openid-configuration"
}

// Claims returns a valid claim set for p: iss, sub, aud, iat, exp (+1h)
// and an email the provider says it verified.
func (p *Provider) Claims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": p.Issuer, "sub": sub, "aud": "app", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "email": sub + "@example.com", "email_verified": true}
}

// nopTB lets JWK run outside a test goroutine; key marshalling of keys made
// by NewKey does not fail.
type nopTB struct{ testing.TB }

func (nopTB) Helper()           {}
func (nopTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
