package floor

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Std is the second floor: the exchange a careful engineer writes with the
// standard library alone, without supabridge's libraries. It verifies the
// RS256 signature with crypto/rsa, decodes the header and the payload with
// encoding/json into structs, applies the contract's claim checks (alg
// pinned, crit refused, iss exact, aud contains, exp required, nbf and iat
// not in the future beyond the leeway), and mints the contract's claim set
// (role, iss, aud as a string, the passthrough claims, user_metadata)
// with encoding/json and crypto/hmac. It has one key and one issuer, no key
// cache, no access log. Like Floor it is a yardstick, not a product.
type Std struct {
	pub      *rsa.PublicKey
	secret   []byte
	issuer   string
	audience string
	leeway   time.Duration
	ttl      time.Duration
	now      func() time.Time
}

// NewStd returns a Std that accepts RS256 tokens of issuer for audience,
// verified with pub, and mints HS256 tokens with secret (the contract's
// defaults: iss "supabase", aud "authenticated", 30 s leeway, 1 h cap).
func NewStd(pub *rsa.PublicKey, secret []byte, issuer, audience string) *Std {
	return &Std{pub: pub, secret: secret, issuer: issuer, audience: audience, leeway: 30 * time.Second, ttl: time.Hour, now: time.Now}
}

type stdHeader struct {
	Alg  string          `json:"alg"`
	Crit json.RawMessage `json:"crit"`
}

type stdPayload struct {
	Iss               string          `json:"iss"`
	Sub               string          `json:"sub"`
	Aud               json.RawMessage `json:"aud"`
	Exp               *float64        `json:"exp"`
	Nbf               *float64        `json:"nbf"`
	Iat               *float64        `json:"iat"`
	Email             string          `json:"email,omitempty"`
	EmailVerified     *bool           `json:"email_verified,omitempty"`
	Name              string          `json:"name,omitempty"`
	PreferredUsername string          `json:"preferred_username,omitempty"`
	Groups            []string        `json:"groups,omitempty"`
	OrgID             string          `json:"org_id,omitempty"`
}

type stdMinted struct {
	Iss               string            `json:"iss"`
	Aud               string            `json:"aud"`
	Sub               string            `json:"sub"`
	Role              string            `json:"role"`
	Iat               int64             `json:"iat"`
	Exp               int64             `json:"exp"`
	Email             string            `json:"email,omitempty"`
	EmailVerified     *bool             `json:"email_verified,omitempty"`
	Name              string            `json:"name,omitempty"`
	PreferredUsername string            `json:"preferred_username,omitempty"`
	Groups            []string          `json:"groups,omitempty"`
	OrgID             string            `json:"org_id,omitempty"`
	IsAnonymous       bool              `json:"is_anonymous"`
	UserMetadata      map[string]string `json:"user_metadata"`
}

// StdResponse is the contract's success body, as Std writes it.
type StdResponse struct {
	SupabaseJWT     string `json:"supabaseJwt"`
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	ExpiresAt       int64  `json:"expires_at"`
	IssuedTokenType string `json:"issued_token_type"`
}

// Exchange verifies token and returns the minted Supabase JWT and its
// expiry, or ErrInvalid.
func (s *Std) Exchange(token string) (string, time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", time.Time{}, ErrInvalid
	}
	var h stdHeader
	if err := decodeSegment(parts[0], &h); err != nil || h.Alg != "RS256" || h.Crit != nil {
		return "", time.Time{}, ErrInvalid
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", time.Time{}, ErrInvalid
	}
	digest := sha256.Sum256([]byte(token[:len(parts[0])+1+len(parts[1])]))
	if rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, digest[:], sig) != nil {
		return "", time.Time{}, ErrInvalid
	}
	var p stdPayload
	if err := decodeSegment(parts[1], &p); err != nil {
		return "", time.Time{}, ErrInvalid
	}
	now := s.now()
	lw := s.leeway.Seconds()
	unix := float64(now.Unix())
	switch {
	case p.Iss != s.issuer, p.Sub == "", !audienceHas(p.Aud, s.audience),
		p.Exp == nil, *p.Exp+lw < unix,
		p.Nbf != nil && *p.Nbf-lw > unix,
		p.Iat != nil && *p.Iat-lw > unix:
		return "", time.Time{}, ErrInvalid
	}
	exp := now.Add(s.ttl)
	if pe := time.Unix(int64(*p.Exp), 0); pe.Before(exp) {
		exp = pe
	}
	body, err := json.Marshal(stdMinted{
		Iss: "supabase", Aud: "authenticated", Sub: p.Sub, Role: "authenticated",
		Iat: now.Unix(), Exp: exp.Unix(),
		Email: p.Email, EmailVerified: p.EmailVerified, Name: p.Name, PreferredUsername: p.PreferredUsername,
		Groups: p.Groups, OrgID: p.OrgID,
		UserMetadata: map[string]string{"iss": p.Iss, "sub": p.Sub},
	})
	if err != nil {
		return "", time.Time{}, err
	}
	out := make([]byte, 0, len(hs256Header)+2+base64.RawURLEncoding.EncodedLen(len(body))+43)
	out = append(out, hs256Header...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, body)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write(out)
	var sum [sha256.Size]byte
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, mac.Sum(sum[:0]))
	return string(out), exp, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func audienceHas(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && slices.Contains(many, want)
}

// StdHandler serves Std over plain net/http with the contract's response:
// POST with a bearer token answers 200 and the JSON body, with
// Cache-Control: no-store and the CORS origin header; anything refused 401.
func StdHandler(s *Std) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "no-store")
		raw, ok := bearerOrHealth(w, r)
		if !ok {
			return
		}
		now := s.now()
		tok, exp, err := s.Exchange(strings.TrimSpace(raw))
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, err := json.Marshal(StdResponse{
			SupabaseJWT: tok, AccessToken: tok, TokenType: "bearer",
			ExpiresIn: int64(exp.Sub(now).Seconds()), ExpiresAt: exp.Unix(),
			IssuedTokenType: "urn:ietf:params:oauth:token-type:access_token",
		})
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		body = append(body, '\n')
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}
