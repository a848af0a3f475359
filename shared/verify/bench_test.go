package verify

import (
	"fmt"
	"testing"
	"time"

	"supabridge/internal/testprovider"
	"supabridge/shared/keys"
)

// BenchmarkVerify is the verifier alone, with the production key source (a
// keys.Remote JWKS cache over an httptest provider), per algorithm, with one
// policy and with three (the issuer lookup is a map: no difference wanted).
func BenchmarkVerify(b *testing.B) {
	algs := []string{"RS256", "ES256", "EdDSA"}
	for _, n := range []int{1, 3} {
		for _, alg := range algs {
			b.Run(fmt.Sprintf("alg=%s/providers=%d", alg, n), func(b *testing.B) {
				use := []string{alg}
				if n > 1 {
					use = algs[:n]
				}
				var (
					policies []*Policy
					tokens   []string
				)
				for i, a := range use {
					k := testprovider.NewKey(b, fmt.Sprintf("k%d", i), a)
					p := testprovider.New(b, fmt.Sprintf("/app%d/", i), k)
					src, err := keys.NewRemote(b.Context(), p.JWKSURL(), keys.RemoteOptions{})
					if err != nil {
						b.Fatal(err)
					}
					policies = append(policies, &Policy{Name: fmt.Sprintf("app%d", i), Issuer: p.Issuer, Audience: []string{"app"}, Keys: src})
					if a != alg {
						continue
					}
					for j := range 64 {
						c := p.Claims(fmt.Sprintf("user-%d", j))
						c["email_verified"], c["name"], c["groups"] = true, "Alice Example", []string{"users", "admins"}
						tokens = append(tokens, k.Sign(b, c, nil))
					}
				}
				v, err := New(policies, time.Now)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := v.Verify(b.Context(), tokens[i%len(tokens)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}
