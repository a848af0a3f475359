package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// signingKey is an RS256 key with its kid.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

func newSigningKey(kid string) (*signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: kid, priv: k}, nil
}

func (k *signingKey) jwk() (jwkset.JWKMarshal, error) {
	j, err := jwkset.NewJWKFromKey(&k.priv.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig}})
	if err != nil {
		return jwkset.JWKMarshal{}, err
	}
	return j.Marshal(), nil
}

func (k *signingKey) publicPEM() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.priv.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// tokens signs n distinct tokens for issuer: the claims of an Authentik
// access token (as the benchmarks use), each with its own subject.
func (k *signingKey) tokens(issuer string, n int) ([]string, error) {
	now := time.Now()
	out := make([]string, n)
	for i := range out {
		t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": issuer, "sub": fmt.Sprintf("8f2c1a%06d", i), "aud": "app", "azp": "app",
			"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(), "auth_time": now.Unix() - 60,
			"acr":   "goauthentik.io/providers/oauth2/default",
			"email": fmt.Sprintf("user%d@example.com", i), "email_verified": true,
			"name": "Alice Example", "given_name": "Alice", "preferred_username": fmt.Sprintf("user%d", i),
			"nickname": "alice", "groups": []string{"users", "admins"}, "uid": "a3f9c1d2e4b5a3f9c1d2e4b5a3f9c1d2e4b5",
		})
		t.Header["kid"] = k.kid
		s, err := t.SignedString(k.priv)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// jwksServer serves a JWKS on 127.0.0.1 and counts its fetches.
type jwksServer struct {
	srv     *http.Server
	url     string
	body    atomic.Pointer[[]byte]
	fetches atomic.Int64
}

func startJWKS(keys ...*signingKey) (*jwksServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	j := &jwksServer{url: "http://" + ln.Addr().String()}
	if err := j.set(keys...); err != nil {
		return nil, err
	}
	j.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/application/o/app/jwks/" {
			http.NotFound(w, r)
			return
		}
		j.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*j.body.Load())
	})}
	go func() { _ = j.srv.Serve(ln) }()
	return j, nil
}

// issuer is the provider's issuer identifier (Authentik's shape).
func (j *jwksServer) issuer() string { return j.url + "/application/o/app/" }

func (j *jwksServer) jwksURL() string { return j.url + "/application/o/app/jwks/" }

// set replaces the served key set.
func (j *jwksServer) set(keys ...*signingKey) error {
	var set jwkset.JWKSMarshal
	for _, k := range keys {
		m, err := k.jwk()
		if err != nil {
			return err
		}
		set.Keys = append(set.Keys, m)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return err
	}
	j.body.Store(&b)
	return nil
}
