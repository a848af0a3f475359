package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// ClientID is the development issuer's one client: a public client (no secret) whose
// refresh tokens the refresh function redeems. Any other client id is refused.
const ClientID = "supabridge-dev"

// Bounds of the refresh-token store: a development issuer must not grow without limit
// however many tokens a script asks for.
const (
	// MaxRefreshTokens is how many live refresh tokens the issuer keeps; past it the
	// oldest is forgotten (and then refused as unknown).
	MaxRefreshTokens = 10_000
	// RefreshTokenTTL is how long an unused refresh token stays valid.
	RefreshTokenTTL = 24 * time.Hour
	maxForm         = 16 << 10
)

// Issuer is a development OIDC issuer mounted at a URL prefix.
type Issuer struct {
	url  string
	kid  string
	key  *rsa.PrivateKey
	jwks []byte
	now  func() time.Time

	mu      sync.Mutex
	grants  map[string]grant // live refresh tokens
	order   []string         // refresh tokens in issue order, for eviction
	spentRT map[string]bool  // used refresh tokens, so reuse is told apart (and refused)
}

// grant is what a refresh token stands for: the claims of the sign-in it came from.
type grant struct {
	claims  Claims
	expires time.Time
}

// New makes an issuer whose identifier is url (no trailing slash), with a
// fresh 2048-bit RSA key.
func New(url string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("issuer: key: %w", err)
	}
	i := &Issuer{
		url: url, kid: "dev-" + strconv.FormatInt(time.Now().Unix(), 36), key: key, now: time.Now,
		grants: map[string]grant{}, spentRT: map[string]bool{},
	}
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
		"iss": i.url, "sub": c.Subject, "aud": ClientID,
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

// Errors of the refresh_token grant (RFC 6749 §5.2 codes in their text).
var (
	// ErrUnknownRefreshToken is a refresh token the issuer never issued, or forgot.
	ErrUnknownRefreshToken = errors.New("issuer: unknown or expired refresh token")
	// ErrSpentRefreshToken is a refresh token already redeemed: tokens rotate, each
	// one works once.
	ErrSpentRefreshToken = errors.New("issuer: refresh token already used")
)

// issueRefreshToken stores c under a new random refresh token and returns it.
func (i *Issuer) issueRefreshToken(c Claims) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("issuer: refresh token: %w", err)
	}
	rt := "devrt_" + base64.RawURLEncoding.EncodeToString(b[:])
	i.mu.Lock()
	defer i.mu.Unlock()
	for len(i.order) >= MaxRefreshTokens {
		delete(i.grants, i.order[0])
		i.order = i.order[1:]
	}
	i.grants[rt] = grant{claims: c, expires: i.now().Add(RefreshTokenTTL)}
	i.order = append(i.order, rt)
	return rt, nil
}

// redeem spends rt once and returns the claims it stands for.
func (i *Issuer) redeem(rt string) (Claims, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	g, ok := i.grants[rt]
	if !ok {
		if i.spentRT[rt] {
			return Claims{}, ErrSpentRefreshToken
		}
		return Claims{}, ErrUnknownRefreshToken
	}
	delete(i.grants, rt)
	for k, v := range i.order {
		if v == rt {
			i.order = append(i.order[:k], i.order[k+1:]...)
			break
		}
	}
	if !i.now().Before(g.expires) {
		return Claims{}, ErrUnknownRefreshToken
	}
	if len(i.spentRT) >= MaxRefreshTokens {
		clear(i.spentRT)
	}
	i.spentRT[rt] = true
	return g.claims, nil
}

// tokenResponse mints an access/ID token for c and a new refresh token.
func (i *Issuer) tokenResponse(c Claims) (map[string]any, error) {
	tok, err := i.Mint(c)
	if err != nil {
		return nil, err
	}
	rt, err := i.issueRefreshToken(c)
	if err != nil {
		return nil, err
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	return map[string]any{
		"access_token": tok, "id_token": tok, "refresh_token": rt,
		"token_type": "Bearer", "expires_in": int(ttl.Seconds()),
	}, nil
}

// Handler serves, under the issuer's path: /.well-known/openid-configuration,
// /jwks, and POST /token. Without grant_type (or with grant_type=password, the
// shape of a login) it signs a token for the form fields sub (required), email,
// name, org_id and ttl (seconds), with a refresh token. With
// grant_type=refresh_token it redeems a refresh token once, for client
// ClientID (basic or post, no secret), and answers a new token and a new
// refresh token: refresh tokens rotate, and a spent one is invalid_grant.
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
			"grant_types_supported":                 []string{"password", "refresh_token"},
			"token_endpoint_auth_methods_supported": []string{"none", "client_secret_basic", "client_secret_post"},
		})
	})
	mux.HandleFunc("GET "+prefix+"/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(i.jwks)
	})
	mux.HandleFunc("POST "+prefix+"/token", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "the body must be a form of at most 16 KiB")
			return
		}
		f := r.PostForm
		switch f.Get("grant_type") {
		case "", "password":
			i.signIn(w, r)
		case "refresh_token":
			i.refresh(w, r)
		default:
			writeError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be refresh_token, or absent to sign in")
		}
	})
	return mux
}

func (i *Issuer) signIn(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	if f.Get("sub") == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "form field sub is required")
		return
	}
	ttl, _ := strconv.Atoi(f.Get("ttl"))
	if ttl < 0 {
		ttl = 0
	}
	c := Claims{Subject: f.Get("sub"), Email: f.Get("email"), Name: f.Get("name"), OrgID: f.Get("org_id"), TTL: time.Duration(ttl) * time.Second}
	body, err := i.tokenResponse(c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "could not sign")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (i *Issuer) refresh(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	client := f.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok {
		client = id
	}
	if client != ClientID {
		writeError(w, http.StatusUnauthorized, "invalid_client", "unknown client; the development issuer's client is "+ClientID)
		return
	}
	rt := f.Get("refresh_token")
	if rt == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "form field refresh_token is required")
		return
	}
	c, err := i.redeem(rt)
	if err != nil {
		desc := "the refresh token is unknown or expired"
		if errors.Is(err, ErrSpentRefreshToken) {
			desc = "the refresh token was already used; refresh tokens rotate"
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", desc)
		return
	}
	body, err := i.tokenResponse(c)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", "could not sign")
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
