package verify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

// A verifier for one provider, with a static key and a fixed clock. The
// refused tokens show which sentinel each failure matches: the one the
// functions classify into the contract's error.
func ExampleVerifier_Verify() {
	// The provider's key, from a fixed seed so that the example is stable.
	providerKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	forgerKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, ed25519.SeedSize))
	der, err := x509.MarshalPKIXPublicKey(providerKey.Public())
	if err != nil {
		fmt.Println(err)
		return
	}
	src, err := keys.NewStatic(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		fmt.Println(err)
		return
	}

	const issuer = "https://id.example.com/dex"
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v, err := verify.New([]*verify.Policy{{
		Name:       "dex",
		Issuer:     issuer,
		Audience:   []string{"supabridge"},
		Algorithms: []string{"EdDSA"},
		Leeway:     30 * time.Second,
		Keys:       src,
	}}, func() time.Time { return now })
	if err != nil {
		fmt.Println(err)
		return
	}

	// token signs a claim set that differs from a valid one by change.
	token := func(method jwt.SigningMethod, key any, change jwt.MapClaims) string {
		c := jwt.MapClaims{
			"iss": issuer, "sub": "user-42", "aud": "supabridge",
			"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		for k, val := range change {
			c[k] = val
		}
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			fmt.Println(err)
		}
		return s
	}
	ctx := context.Background()

	res, err := v.Verify(ctx, token(jwt.SigningMethodEdDSA, providerKey, nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("accepted by", res.Policy.Name+":", res.Claims.Subject)
	_, err = v.Verify(ctx, token(jwt.SigningMethodEdDSA, providerKey, jwt.MapClaims{"exp": now.Add(-10 * time.Second).Unix()}))
	fmt.Println("expired 10 s ago, within the leeway:", err)

	sentinels := []struct {
		name string
		err  error
	}{
		{"verify.ErrUnknownIssuer", verify.ErrUnknownIssuer},
		{"verify.ErrAlgorithm", verify.ErrAlgorithm},
		{"keys.ErrUnknownKey", keys.ErrUnknownKey},
		{"jwt.ErrTokenSignatureInvalid", jwt.ErrTokenSignatureInvalid},
		{"jwt.ErrTokenExpired", jwt.ErrTokenExpired},
		{"jwt.ErrTokenInvalidAudience", jwt.ErrTokenInvalidAudience},
	}
	refused := []struct {
		name  string
		token string
	}{
		{"expired a minute ago", token(jwt.SigningMethodEdDSA, providerKey, jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()})},
		{"another audience", token(jwt.SigningMethodEdDSA, providerKey, jwt.MapClaims{"aud": "other-app"})},
		{"another issuer", token(jwt.SigningMethodEdDSA, providerKey, jwt.MapClaims{"iss": "https://evil.example.com"})},
		{"signed by another key", token(jwt.SigningMethodEdDSA, forgerKey, nil)},
		{"HS256 with a guessed secret", token(jwt.SigningMethodHS256, []byte("guessed"), nil)},
	}
	for _, r := range refused {
		_, err := v.Verify(ctx, r.token)
		for _, s := range sentinels {
			if errors.Is(err, s.err) {
				fmt.Printf("%s: %s\n", r.name, s.name)
				break
			}
		}
	}
	// Output:
	// accepted by dex: user-42
	// expired 10 s ago, within the leeway: <nil>
	// expired a minute ago: jwt.ErrTokenExpired
	// another audience: jwt.ErrTokenInvalidAudience
	// another issuer: verify.ErrUnknownIssuer
	// signed by another key: jwt.ErrTokenSignatureInvalid
	// HS256 with a guessed secret: verify.ErrAlgorithm
}
