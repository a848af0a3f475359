package claims_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"supabridge/shared/claims"
)

// benchPayload is a realistic provider payload (an Authentik access token
// with a Keycloak-style nested role list and an Outseta-style claim).
const benchPayload = `{"iss":"https://auth.example.com/application/o/app/","sub":"8f2c1a0001","aud":"app",
	"exp":1800003600,"iat":1800000000,"auth_time":1799999940,"azp":"app",
	"acr":"goauthentik.io/providers/oauth2/default","email":"alice@example.com","email_verified":true,
	"name":"Alice Example","given_name":"Alice","preferred_username":"alice","nickname":"alice",
	"groups":["users","admins"],"uid":"a3f9c1d2e4b5a3f9c1d2e4b5a3f9c1d2e4b5",
	"realm_access":{"roles":["editor","viewer"]},"outseta:accountUid":"acc-123"}`

// BenchmarkMint is the mint alone: a decoded provider payload in, a signed
// Supabase JWT out (the mapping compiled once, as the bridge does), with the default mapping and with uuid5 subjects plus
// claims_map rules.
func BenchmarkMint(b *testing.B) {
	var p claims.Payload
	if err := json.Unmarshal([]byte(benchPayload), &p); err != nil {
		b.Fatal(err)
	}
	m, err := claims.NewMinter(claims.Config{Signer: hmacSigner(b)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	mappings := []struct {
		name string
		m    claims.Mapping
	}{
		{"default", claims.Mapping{Provider: "default", Passthrough: claims.DefaultPassthrough}},
		{"uuid5+rules", claims.Mapping{Provider: "app", Passthrough: claims.DefaultPassthrough, Sub: claims.SubUUID5, Rules: []claims.Rule{
			{Target: "org_id", Pointer: "/outseta:accountUid"},
			{Target: "roles", AppMetadata: true, Pointer: "/realm_access/roles"},
		}}},
	}
	for _, mp := range mappings {
		b.Run("mapping="+mp.name, func(b *testing.B) {
			c := mp.m.Compile() // once, as the bridge does
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.MintCompiled(&p, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode is decoding a provider payload into claims.Payload: the
// verifier's path (Payload.Decode over the buffer it decoded from
// base64url) and the generic one (json.Unmarshal, which validates the
// JSON first and hands Payload a copy).
func BenchmarkDecode(b *testing.B) {
	data := []byte(benchPayload)
	b.Run("path=Decode", func(b *testing.B) {
		buf := make([]byte, len(data))
		b.ReportAllocs()
		for b.Loop() {
			copy(buf, data)
			var p claims.Payload
			if err := p.Decode(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p claims.Payload
			if err := json.Unmarshal(data, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMintSigning is the mint with each kind of signer side by side,
// the default mapping: HS256 with the legacy secret, ES256 with a key of
// the bridge's own (EC P-256), RS256 (RSA 2048). Only the signature
// differs, so the spread is the signing cost.
func BenchmarkMintSigning(b *testing.B) {
	var p claims.Payload
	if err := json.Unmarshal([]byte(benchPayload), &p); err != nil {
		b.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	signers := []struct {
		name string
		s    *claims.Signer
	}{
		{"HS256", hmacSigner(b)},
		{"ES256", keySigner(b, ecKey(b), "bench-ec")},
		{"RS256", keySigner(b, rk, "bench-rsa")},
	}
	mp := claims.Mapping{Provider: "default", Passthrough: claims.DefaultPassthrough}
	c := mp.Compile()
	for _, s := range signers {
		b.Run("sign="+s.name, func(b *testing.B) {
			m, err := claims.NewMinter(claims.Config{Signer: s.s}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.MintCompiled(&p, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
