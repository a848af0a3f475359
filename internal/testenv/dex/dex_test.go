package dex

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		check func(t *testing.T, c config)
	}{
		{
			name: "defaults: password grant, rotation, no reuse, memory storage",
			opts: Options{},
			check: func(t *testing.T, c config) {
				if c.Storage.Type != "memory" {
					t.Errorf("storage %q, want memory", c.Storage.Type)
				}
				if !c.EnablePasswordDB || c.OAuth2.PasswordConnector != "local" {
					t.Errorf("password DB %v connector %q, want true local", c.EnablePasswordDB, c.OAuth2.PasswordConnector)
				}
				for _, g := range []string{"authorization_code", "refresh_token", "password"} {
					if !slices.Contains(c.OAuth2.GrantTypes, g) {
						t.Errorf("grant types %v lack %s", c.OAuth2.GrantTypes, g)
					}
				}
				r := c.Expiry.RefreshTokens
				if r.DisableRotation || r.ReuseInterval != "0s" || r.ValidIfNotUsedFor != "" || r.AbsoluteLifetime != "" {
					t.Errorf("refresh policy %+v, want rotation, reuse 0s, no expiry", r)
				}
				if c.Expiry.IDTokens != "10m0s" {
					t.Errorf("idTokens %q, want 10m0s", c.Expiry.IDTokens)
				}
				if len(c.StaticClients) != 1 || c.StaticClients[0].ID != DefaultClientID || len(c.StaticClients[0].Secret) != 32 {
					t.Errorf("static clients %d, want one %s with a 32-character secret", len(c.StaticClients), DefaultClientID)
				}
			},
		},
		{
			name: "options reach Dex's keys",
			opts: Options{
				ClientID: "c", ClientSecret: "s", IDTokenTTL: 3 * time.Second, DisableRotation: true,
				RefreshReuseInterval: 2 * time.Second, RefreshValidIfNotUsedFor: time.Minute, RefreshAbsoluteLifetime: time.Hour,
			},
			check: func(t *testing.T, c config) {
				want := refreshConfig{DisableRotation: true, ReuseInterval: "2s", ValidIfNotUsedFor: "1m0s", AbsoluteLifetime: "1h0m0s"}
				if got := c.Expiry.RefreshTokens; got != want {
					t.Errorf("refresh policy %+v, want %+v", got, want)
				}
				if c.Expiry.IDTokens != "3s" {
					t.Errorf("idTokens %q, want 3s", c.Expiry.IDTokens)
				}
				if cl := c.StaticClients[0]; cl.ID != "c" || cl.Secret != "s" {
					t.Errorf("client %q/%q, want c/s", cl.ID, cl.Secret)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := withDefaults(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			c := newConfig("http://127.0.0.1:1/dex", "127.0.0.1:1", o, nil)
			if c.Issuer != "http://127.0.0.1:1/dex" || c.Web.HTTP != "127.0.0.1:1" {
				t.Errorf("issuer %q on %q, want http://127.0.0.1:1/dex on 127.0.0.1:1", c.Issuer, c.Web.HTTP)
			}
			tt.check(t, c)
		})
	}
}

func TestStaticPassword(t *testing.T) {
	tests := []struct {
		name    string
		user    User
		want    string
		wantErr bool
	}{
		{name: "a given hash is used as is", user: DefaultUser(), want: DefaultUser().PasswordHash},
		{name: "a malformed hash is refused", user: User{Email: "a@b", Password: "p", PasswordHash: "not-bcrypt"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newStaticPassword(tt.user)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if p.Hash != tt.want {
				t.Errorf("hash %q, want %q", p.Hash, tt.want)
			}
		})
	}
}

func TestLaunchRefusesBadBinary(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "dex")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{filepath.Join(t.TempDir(), "missing"), notExec, t.TempDir()} {
		s, err := Launch(t.Context(), Options{Binary: bin})
		if err == nil {
			s.Stop()
			t.Fatalf("Launch with binary %s: got no error, want one", bin)
		}
		if !strings.Contains(err.Error(), bin) {
			t.Errorf("error %q does not name %s", err, bin)
		}
	}
}

// TestDex proves the harness against the real Dex: the password grant,
// the ID token's signature and claims, and refresh token rotation.
func TestDex(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []User{DefaultUser(), PlainUser()}})
	user := s.User()

	t.Run("wrong password is refused", func(t *testing.T) {
		_, err := s.PasswordGrant(t.Context(), user.Email, user.Password+"x")
		var te *TokenError
		if !errors.As(err, &te) || te.Status != http.StatusUnauthorized || te.Code != "access_denied" {
			t.Fatalf("got %v, want 401 access_denied", err)
		}
	})

	tok, err := s.PasswordGrant(t.Context(), user.Email, user.Password)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}

	t.Run("password grant gives an RS256 id token from the issuer with a JWKS kid", func(t *testing.T) {
		if tok.RefreshToken == "" || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
			t.Errorf("refresh token empty %v, access token empty %v, type %q; want both set, bearer",
				tok.RefreshToken == "", tok.AccessToken == "", tok.TokenType)
		}
		if tok.ExpiresIn <= 0 || tok.ExpiresIn > int64(DefaultIDTokenTTL/time.Second) {
			t.Errorf("expires_in %d, want 1..%d", tok.ExpiresIn, int64(DefaultIDTokenTTL/time.Second))
		}
		c := verify(t, s, tok.IDToken)
		if c.Email != user.Email || c.PreferredUsername != user.PreferredUsername || !slices.Equal(c.Groups, user.Groups) {
			t.Errorf("email %q preferred_username %q groups %v, want %q %q %v",
				c.Email, c.PreferredUsername, c.Groups, user.Email, user.PreferredUsername, user.Groups)
		}
		// Dex's sub encodes the user id with the connector id: never the bare id.
		if c.Subject == "" || c.Subject == user.UserID {
			t.Errorf("sub %q, want Dex's encoded subject, not %q", c.Subject, user.UserID)
		}
		if ttl := c.ExpiresAt.Sub(c.IssuedAt.Time); ttl != DefaultIDTokenTTL {
			t.Errorf("exp - iat = %s, want %s", ttl, DefaultIDTokenTTL)
		}
	})

	t.Run("a user without groups or preferred_username gets neither claim", func(t *testing.T) {
		plain := PlainUser()
		tok, err := s.PasswordGrant(t.Context(), plain.Email, plain.Password)
		if err != nil {
			t.Fatalf("password grant: %v", err)
		}
		c := verify(t, s, tok.IDToken)
		if c.Email != plain.Email || c.PreferredUsername != "" || c.Groups != nil {
			t.Errorf("email %q preferred_username %q groups %v, want %q, none, none",
				c.Email, c.PreferredUsername, c.Groups, plain.Email)
		}
	})

	t.Run("refresh returns a new refresh token and refuses the old one", func(t *testing.T) {
		// A plain form post with client_secret_post, as a provider client
		// other than this package would send it.
		form := url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {tok.RefreshToken},
			"client_id":     {s.ClientID},
			"client_secret": {s.ClientSecret},
		}
		status, body := postForm(t, s.TokenURL, form)
		if status != http.StatusOK {
			t.Fatalf("refresh: got %d %s, want 200", status, body)
		}
		var next Tokens
		if err := json.Unmarshal(body, &next); err != nil {
			t.Fatalf("decode refresh response: %v", err)
		}
		if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
			t.Fatalf("refresh token after refresh: empty %v, same as before %v; want a new one",
				next.RefreshToken == "", next.RefreshToken == tok.RefreshToken)
		}
		if c := verify(t, s, next.IDToken); c.Email != user.Email {
			t.Errorf("refreshed id token email %q, want %q", c.Email, user.Email)
		}

		// Reuse of the rotated-away token. Dex v2.45.1 answers
		// invalid_request (refreshhandlers.go, invalidErr), not RFC 6749's
		// invalid_grant: a caller mapping provider refusals must accept both.
		status, body = postForm(t, s.TokenURL, form)
		var te TokenError
		_ = json.Unmarshal(body, &te)
		if status != http.StatusBadRequest || te.Code != "invalid_request" {
			t.Errorf("reused refresh token: got %d %s, want 400 invalid_request", status, body)
		}

		// The new token still works: the refusal was about the old one.
		if _, err := s.Refresh(t.Context(), next.RefreshToken); err != nil {
			t.Errorf("refresh with the new token: %v", err)
		}
	})
}

// TestStop runs a Dex without rotation, for a user whose password Start
// hashes itself, then takes it down mid-test.
func TestStop(t *testing.T) {
	t.Parallel()
	u := User{Email: "carol@example.test", Password: "carol-test-password", UserID: "carol"}
	s := Start(t, Options{Users: []User{u}, DisableRotation: true, IDTokenTTL: time.Minute})
	tok, err := s.PasswordGrant(t.Context(), u.Email, u.Password)
	if err != nil {
		t.Fatalf("password grant with the hash Start made: %v", err)
	}

	t.Run("without rotation the refresh token is kept", func(t *testing.T) {
		next, err := s.Refresh(t.Context(), tok.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.RefreshToken != tok.RefreshToken {
			t.Errorf("refresh token changed; want it kept with DisableRotation")
		}
		if next.ExpiresIn <= 0 || next.ExpiresIn > 60 {
			t.Errorf("expires_in %d, want 1..60", next.ExpiresIn)
		}
	})

	t.Run("after Stop the token endpoint refuses connections", func(t *testing.T) {
		s.Stop()
		s.Stop() // a second Stop is harmless
		_, err := s.Refresh(t.Context(), tok.RefreshToken)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("refresh after Stop: got %v, want connection refused", err)
		}
	})
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	jwt.RegisteredClaims
	Email             string   `json:"email"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

// verify checks raw's RS256 signature against the key of its kid in Dex's
// JWKS, and its iss, aud and exp.
func verify(t *testing.T, s *Server, raw string) idClaims {
	t.Helper()
	keys := fetchJWKS(t, s.JWKSURL)
	var c idClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("kid %q is not in the JWKS", kid)
		}
		return k, nil
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(s.Issuer),
		jwt.WithAudience(s.ClientID),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	if c.IssuedAt == nil {
		t.Fatal("id token has no iat")
	}
	return c
}

// fetchJWKS returns the RSA keys of the JWKS at u by kid.
func fetchJWKS(t *testing.T, u string) map[string]*rsa.PublicKey {
	t.Helper()
	status, body := get(t, u)
	if status != http.StatusOK {
		t.Fatalf("JWKS: got %d, want 200", status)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if err := errors.Join(errN, errE); err != nil {
			t.Fatalf("JWKS key %s: %v", k.Kid, err)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(keys) == 0 {
		t.Fatal("JWKS has no RSA key")
	}
	return keys
}

func postForm(t *testing.T, u string, form url.Values) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	return resp.StatusCode, body
}
