package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
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

// signingKey signs provider tokens: a real key (RS256 or ES256, its public
// half in the JWKS) or a forgery (alg none, HS256 keyed with a public key).
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	key    any              // what method signs with
	pub    crypto.PublicKey // nil for a forgery
}

// newKey generates a 2048-bit RSA key for RS256, else a P-256 key.
func newKey(method jwt.SigningMethod, kid string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	if method == jwt.SigningMethodRS256 {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	return &signingKey{kid: kid, method: method, key: priv, pub: priv.Public()}, nil
}

func (k *signingKey) publicPEM() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

func (k *signingKey) sign(c jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(k.method, c)
	t.Header["kid"] = k.kid
	return t.SignedString(k.key)
}

// subject is user i's sub claim, which the minted token must carry.
func subject(i int) string { return fmt.Sprintf("8f2c1a%06d", i) }

// claims are those of an Authentik access token for user i (as the
// benchmarks use).
func claims(issuer string, i int, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": issuer, "sub": subject(i), "aud": "app", "azp": "app",
		"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(), "auth_time": now.Unix() - 60,
		"acr":   "goauthentik.io/providers/oauth2/default",
		"email": fmt.Sprintf("user%d@example.com", i), "email_verified": true,
		"name": "Alice Example", "given_name": "Alice", "preferred_username": fmt.Sprintf("user%d", i),
		"nickname": "alice", "groups": []string{"users", "admins"}, "uid": "a3f9c1d2e4b5a3f9c1d2e4b5a3f9c1d2e4b5",
	}
}

// tokens signs one token for each of users 0..n-1, their claims passed
// through edit first when it is set.
func (k *signingKey) tokens(issuer string, n int, edit func(jwt.MapClaims)) ([]string, error) {
	now := time.Now()
	out := make([]string, n)
	for i := range out {
		c := claims(issuer, i, now)
		if edit != nil {
			edit(c)
		}
		var err error
		if out[i], err = k.sign(c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// randomHex is n random bytes in hex (the Supabase secret).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// jwksServer is the provider on 127.0.0.1: it serves a JWKS, counts its
// fetches, and goes down (closing every connection unanswered) on command.
type jwksServer struct {
	url     string
	body    atomic.Pointer[[]byte]
	fetches atomic.Int64
	down    atomic.Bool
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
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/application/o/app/jwks/" {
			http.NotFound(w, r)
			return
		}
		j.fetches.Add(1)
		if j.down.Load() {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*j.body.Load())
	})}
	go func() { _ = srv.Serve(ln) }()
	return j, nil
}

// issuer is the provider's issuer identifier (Authentik's shape).
func (j *jwksServer) issuer() string { return j.url + "/application/o/app/" }

func (j *jwksServer) jwksURL() string { return j.url + "/application/o/app/jwks/" }

// set replaces the served key set.
func (j *jwksServer) set(keys ...*signingKey) error {
	var set jwkset.JWKSMarshal
	for _, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.ALG(k.method.Alg()), USE: jwkset.UseSig}})
		if err != nil {
			return err
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		return err
	}
	j.body.Store(&b)
	return nil
}

// exchangeEnv is the exchange function's whole environment against j.
func exchangeEnv(secret string, j *jwksServer, logLevel string, extra ...string) []string {
	return append([]string{
		"SUPABASE_JWT_SECRET=" + secret,
		"AUTH_ISSUER=" + j.issuer(),
		"AUTH_JWKS_URL=" + j.jwksURL(),
		"AUTH_AUDIENCE=app",
		"LOG_LEVEL=" + logLevel,
	}, extra...)
}
