package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Issuer is a development OIDC issuer mounted at a URL prefix.
type Issuer struct {
	url  string
	kid  string
	key  *rsa.PrivateKey
	jwks []byte
	now  func() time.Time
}

// New makes an issuer whose identifier is url (no trailing slash), with a
// fresh 2048-bit RSA key.
func New(url string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("issuer: key: %w", err)
	}
	i := &Issuer{url: url, kid: "dev-" + strconv.FormatInt(time.Now().Unix(), 36), key: key, now: time.Now}
	jwk, err := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: i.kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig}})
	if err != nil {
		return nil, fmt.Errorf("issuer: jwk: %w", err)
	}
	i.jwks, err = json.Marshal(map[string]any{"keys": []jwkset.JWKMarshal{jwk.Marshal()}})
	if err != nil {
		return nil, err
	}
	return i, nil
}

// URL returns the issuer identifier.
func (i *Issuer) URL() string { return i.url }

// Claims are what a development token says.
type Claims struct {
	Subject string
	Email   string
	Name    string
	OrgID   string
	TTL     time.Duration
	// Extra claims, copied as they are.
	Extra map[string]any
}

// Mint signs a token for c.
func (i *Issuer) Mint(c Claims) (string, error) {
	if c.TTL <= 0 {
		c.TTL = time.Hour
	}
	now := i.now()
	mc := jwt.MapClaims{
		"iss": i.url, "sub": c.Subject, "aud": "supabridge-dev",
		"iat": now.Unix(), "exp": now.Add(c.TTL).Unix(),
	}
	for k, v := range c.Extra {
		mc[k] = v
	}
	if c.Email != "" {
		mc["email"], mc["email_verified"] = c.Email, true
	}
	if c.Name != "" {
		mc["name"] = c.Name
	}
	if c.OrgID != "" {
		mc["org_id"] = c.OrgID
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, mc)
	t.Header["kid"] = i.kid
	return t.SignedString(i.key)
}

// Handler serves, under the issuer's path: /.well-known/openid-configuration,
// /jwks, and POST /token with form fields sub (required), email, name,
// org_id and ttl (seconds).
func (i *Issuer) Handler(prefix string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+prefix+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                i.url,
			"jwks_uri":                              i.url + "/jwks",
			"token_endpoint":                        i.url + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"grant_types_supported":                 []string{"client_credentials"},
		})
	})
	mux.HandleFunc("GET "+prefix+"/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(i.jwks)
	})
	mux.HandleFunc("POST "+prefix+"/token", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("sub") == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "form field sub is required"})
			return
		}
		f := r.PostForm
		ttl, _ := strconv.Atoi(f.Get("ttl"))
		tok, err := i.Mint(Claims{Subject: f.Get("sub"), Email: f.Get("email"), Name: f.Get("name"), OrgID: f.Get("org_id"), TTL: time.Duration(ttl) * time.Second})
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "could not sign"})
			return
		}
		exp := time.Hour
		if ttl > 0 {
			exp = time.Duration(ttl) * time.Second
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "id_token": tok, "token_type": "Bearer", "expires_in": int(exp.Seconds())})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
