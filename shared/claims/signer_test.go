package claims_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
)

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keySigner(t testing.TB, key crypto.Signer, kid string) *claims.Signer {
	t.Helper()
	s, err := claims.NewKeySigner(key, kid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// segments splits a compact JWS and decodes its header.
func segments(t *testing.T, tok string) (header map[string]any, rawHeader, payload string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d segments, want 3", len(parts))
	}
	h, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	return header, string(h), parts[1]
}

// TestSignersChangeOnlyHeaderAndSignature mints one payload with every kind
// of signer: the payload segment is byte-identical, the header names the
// algorithm and (except for the legacy secret) the kid, and the token
// verifies with the matching key, by golang-jwt, not by our own code.
func TestSignersChangeOnlyHeaderAndSignature(t *testing.T) {
	ec := ecKey(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hmacKid, err := claims.NewHMACSigner([]byte(secret), "oct-1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		signer     *claims.Signer
		wantHeader string
		verifyKey  any
		sigLen     int
	}{
		{"legacy secret", hmacSigner(t), `{"alg":"HS256","typ":"JWT"}`, []byte(secret), 32},
		{"secret with kid", hmacKid, `{"alg":"HS256","kid":"oct-1","typ":"JWT"}`, []byte(secret), 32},
		{"EC P-256", keySigner(t, ec, "ec-1"), `{"alg":"ES256","kid":"ec-1","typ":"JWT"}`, &ec.PublicKey, 64},
		{"RSA", keySigner(t, rk, "rsa-1"), `{"alg":"RS256","kid":"rsa-1","typ":"JWT"}`, &rk.PublicKey, 256},
	}
	p := provider(t, `{"iss":"https://idp.example.com/","sub":"u","exp":1800001000,"email":"a@b.c"}`)
	mp := &claims.Mapping{Provider: "idp", Passthrough: claims.DefaultPassthrough}
	var payloads []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := minter(t, claims.Config{Signer: tt.signer}).Mint(p, mp)
			if err != nil {
				t.Fatal(err)
			}
			_, rawHeader, payload := segments(t, tok.JWT)
			if rawHeader != tt.wantHeader {
				t.Errorf("header: got %s, want %s", rawHeader, tt.wantHeader)
			}
			payloads = append(payloads, payload)
			parsed, err := jwt.Parse(tok.JWT, func(*jwt.Token) (any, error) { return tt.verifyKey, nil },
				jwt.WithValidMethods([]string{tt.signer.Algorithm()}), jwt.WithTimeFunc(func() time.Time { return now }))
			if err != nil || !parsed.Valid {
				t.Fatalf("does not verify with the matching key: %v", err)
			}
			sig, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.JWT, ".")[2])
			if len(sig) != tt.sigLen {
				t.Errorf("signature of %d bytes, want %d (JWS form, not DER)", len(sig), tt.sigLen)
			}
		})
	}
	for i := 1; i < len(payloads); i++ {
		if payloads[i] != payloads[0] {
			t.Errorf("payload %d differs from the legacy secret's: the signer must not change the claims", i)
		}
	}
}

func TestSignerRefuses(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  crypto.Signer
		kid  string
		want error
	}{
		{"EC P-384", p384, "k", claims.ErrUnsupportedKey},
		{"RSA 1024", small, "k", claims.ErrUnsupportedKey},
		{"Ed25519", ed, "k", claims.ErrUnsupportedKey},
		{"no kid", ecKey(t), "", claims.ErrNoKeyID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := claims.NewKeySigner(tt.key, tt.kid); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// published parses a served JWKS the way a third party would (jwkset) and
// returns a keyfunc over it that selects by kid.
func published(t *testing.T, set []byte) (jwt.Keyfunc, jwkset.JWKSMarshal) {
	t.Helper()
	var m jwkset.JWKSMarshal
	if err := json.Unmarshal(set, &m); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	byKid := map[string]any{}
	for _, k := range m.Keys {
		j, err := jwkset.NewJWKFromMarshal(k, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			t.Fatalf("published key %q: %v", k.KID, err)
		}
		byKid[k.KID] = j.Key()
	}
	return func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := byKid[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("no published key %q", kid)
	}, m
}

// TestJWKSRotation: during a rotation the new key signs and the old one is
// still published; a token minted before the rotation verifies against the
// set published after it, and a token of a key never published does not.
func TestJWKSRotation(t *testing.T) {
	oldKey, newKey := ecKey(t), ecKey(t)
	p := provider(t, `{"iss":"https://idp.example.com/","sub":"u","exp":1800001000}`)
	mp := &claims.Mapping{Provider: "idp"}

	before := claims.Config{Signer: keySigner(t, oldKey, "2025-old")}
	oldTok, err := minter(t, before).Mint(p, mp)
	if err != nil {
		t.Fatal(err)
	}

	after := claims.Config{Signer: keySigner(t, newKey, "2026-new"), Previous: []claims.PublicKey{{KeyID: "2025-old", Key: &oldKey.PublicKey}}}
	newTok, err := minter(t, after).Mint(p, mp)
	if err != nil {
		t.Fatal(err)
	}
	set, err := after.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	keyfunc, m := published(t, set)
	if len(m.Keys) != 2 || m.Keys[0].KID != "2026-new" || m.Keys[1].KID != "2025-old" {
		t.Fatalf("published %s, want the new key then the old one", set)
	}
	for _, k := range m.Keys {
		if k.D != "" || k.K != "" || k.KTY != jwkset.KtyEC || k.ALG != jwkset.AlgES256 || k.USE != jwkset.UseSig ||
			len(k.KEYOPS) != 1 || k.KEYOPS[0] != jwkset.KeyOpsVerify {
			t.Errorf("published key %q: %+v, want a public EC key, ES256, use sig, key_ops verify", k.KID, k)
		}
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(func() time.Time { return now })}
	for name, tok := range map[string]string{"minted before the rotation": oldTok.JWT, "minted after": newTok.JWT} {
		if _, err := jwt.Parse(tok, keyfunc, opts...); err != nil {
			t.Errorf("%s: does not verify against the published set: %v", name, err)
		}
	}
	stranger, err := minter(t, claims.Config{Signer: keySigner(t, ecKey(t), "2026-new")}).Mint(p, mp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(stranger.JWT, keyfunc, opts...); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		t.Errorf("a key not in the set, with a published kid: got %v, want an invalid signature", err)
	}

	// The old key is dropped once its tokens have expired: they fail.
	done := claims.Config{Signer: after.Signer}
	set, err = done.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	keyfunc, _ = published(t, set)
	if _, err := jwt.Parse(oldTok.JWT, keyfunc, opts...); err == nil {
		t.Error("after the old key is dropped, its token still verifies")
	}
}

func TestJWKSShapes(t *testing.T) {
	ec := ecKey(t)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("HS256 publishes no key", func(t *testing.T) {
		got, err := (&claims.Config{Signer: hmacSigner(t)}).JWKS()
		if err != nil || string(got) != `{"keys":[]}` {
			t.Fatalf("got %s, %v; want {\"keys\":[]}", got, err)
		}
	})
	t.Run("HS256 with a kid publishes no key either", func(t *testing.T) {
		s, err := claims.NewHMACSigner([]byte(secret), "oct")
		if err != nil {
			t.Fatal(err)
		}
		got, err := (&claims.Config{Signer: s, Previous: []claims.PublicKey{{KeyID: "r", Key: &rk.PublicKey}}}).JWKS()
		if err != nil || strings.Contains(string(got), `"oct"`) || !strings.Contains(string(got), `"kid":"r"`) || !strings.Contains(string(got), `"alg":"RS256"`) {
			t.Fatalf("got %s, %v; want only the RSA previous key", got, err)
		}
	})
	for _, tt := range []struct {
		name string
		cfg  claims.Config
		want error
	}{
		{"duplicate kid", claims.Config{Signer: keySigner(t, ec, "k"), Previous: []claims.PublicKey{{KeyID: "k", Key: &rk.PublicKey}}}, claims.ErrDuplicateKeyID},
		{"previous without kid", claims.Config{Signer: hmacSigner(t), Previous: []claims.PublicKey{{Key: &rk.PublicKey}}}, claims.ErrNoKeyID},
		{"previous of an unsupported type", claims.Config{Signer: hmacSigner(t), Previous: []claims.PublicKey{{KeyID: "x", Key: []byte(secret)}}}, claims.ErrUnsupportedKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.cfg.JWKS(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSignerPrintsNoKeyMaterial formats signers and a whole Config with
// every verb and through slog: neither the secret nor a private scalar may
// appear.
func TestSignerPrintsNoKeyMaterial(t *testing.T) {
	ec := ecKey(t)
	raw, err := ec.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{secret, base64.RawURLEncoding.EncodeToString(raw), fmt.Sprintf("%x", raw), base64.RawURLEncoding.EncodeToString([]byte(secret))}
	cfgs := []any{
		hmacSigner(t),
		keySigner(t, ec, "ec-1"),
		claims.Config{Signer: keySigner(t, ec, "ec-1"), Issuer: "supabase"},
		&claims.Config{Signer: hmacSigner(t)},
	}
	for i, v := range cfgs {
		var out bytes.Buffer
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&out, nil)).Info("x", "v", v)
		for _, f := range forbidden {
			if strings.Contains(out.String(), f) {
				t.Errorf("value %d printed key material:\n%s", i, out.String())
				break
			}
		}
		if i == 1 && !strings.Contains(out.String(), `ES256, kid \"ec-1\"`) && !strings.Contains(out.String(), `ES256, kid "ec-1"`) {
			t.Errorf("the signer does not say what it is:\n%s", out.String())
		}
	}
}
