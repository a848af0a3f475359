package floor

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// ErrInvalid is returned for a token that is not three segments or whose
// RS256 signature does not verify.
var ErrInvalid = errors.New("floor: invalid token")

// hs256Header is base64url({"alg":"HS256","typ":"JWT"}).
const hs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// Floor verifies RS256 tokens with one public key and signs HS256 tokens
// with one secret. It is safe for concurrent use.
type Floor struct {
	pub    *rsa.PublicKey
	secret []byte
}

// New returns a Floor that verifies with pub and signs with secret.
func New(pub *rsa.PublicKey, secret []byte) *Floor {
	return &Floor{pub: pub, secret: secret}
}

// Exchange verifies token's RS256 signature and returns an HS256 JWT over
// the same payload segment: one RSA verify and one HMAC, nothing else.
func (f *Floor) Exchange(token string) (string, error) {
	dot2 := strings.LastIndexByte(token, '.')
	if dot2 < 0 {
		return "", ErrInvalid
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 == dot2 {
		return "", ErrInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[dot2+1:])
	if err != nil {
		return "", ErrInvalid
	}
	digest := sha256.Sum256([]byte(token[:dot2]))
	if rsa.VerifyPKCS1v15(f.pub, crypto.SHA256, digest[:], sig) != nil {
		return "", ErrInvalid
	}
	payload := token[dot1+1 : dot2]
	out := make([]byte, 0, len(hs256Header)+1+len(payload)+1+43)
	out = append(out, hs256Header...)
	out = append(out, '.')
	out = append(out, payload...)
	mac := hmac.New(sha256.New, f.secret)
	mac.Write(out)
	var sum [sha256.Size]byte
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, mac.Sum(sum[:0]))
	return string(out), nil
}

// Handler serves the floor over HTTP: POST with "Authorization: Bearer
// <RS256 token>" answers 200 {"access_token":"<HS256 token>"}, a bad token
// 401; GET /healthz answers 200. It is a plain net/http handler with no
// middleware, the reference the exchange binary is compared with.
func Handler(f *Floor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		raw, ok := bearerOrHealth(w, r)
		if !ok {
			return
		}
		tok, err := f.Exchange(raw)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body := make([]byte, 0, len(tok)+20)
		body = append(body, `{"access_token":"`...)
		body = append(body, tok...)
		body = append(body, "\"}\n"...)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

// bearerOrHealth answers GET /healthz (200) and a request without a bearer
// token (401) itself, for both floors' handlers, and otherwise returns the
// token after "Bearer " (the scheme word in any case).
func bearerOrHealth(w http.ResponseWriter, r *http.Request) (string, bool) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
		return "", false
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		w.WriteHeader(http.StatusUnauthorized)
		return "", false
	}
	return auth[7:], true
}
