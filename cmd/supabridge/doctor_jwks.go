package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/internal/postgrest"
	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/idp"
)

// maxJWKS bounds a key set fetched from Supabase.
const maxJWKS = 1 << 20

// authJWKSPath is where Supabase Auth publishes its public keys, behind the
// gateway.
const authJWKSPath = "/auth/v1/.well-known/jwks.json"

// probeToken mints a 60-second token for the subject supabridge-doctor
// with sc, as the exchange would sign it.
func probeToken(sc *claims.Config, at time.Time) (string, error) {
	c := *sc
	c.MaxTTL = time.Minute
	m, err := claims.NewMinter(c, func() time.Time { return at })
	if err != nil {
		return "", err
	}
	tok, err := m.Mint(&claims.Payload{RegisteredClaims: jwt.RegisteredClaims{Subject: "supabridge-doctor"}}, &claims.Mapping{Provider: "supabridge-doctor"})
	if err != nil {
		return "", err
	}
	return tok.JWT, nil
}

// supabaseJWKS checks that the key the bridge signs with verifies in
// PostgREST's key set, by kid and key material, with PostgREST 13's rules
// (internal/postgrest): a token the bridge mints is verified against the
// set. The set is --jwks-file, else JWT_JWKS, else what Auth publishes at
// <SUPABASE_URL>/auth/v1/.well-known/jwks.json, which never lists an oct
// key, so legacy HS256 minting cannot be judged from it.
func (c doctorCmd) supabaseJWKS(ctx context.Context, r *report, env config.Env, sc *claims.Config, file []byte, timeout time.Duration) {
	const name = "supabase jwks"
	var (
		raw     = file
		from    = "--jwks-file"
		fetched bool
	)
	if len(raw) == 0 {
		v, _ := env(envJWKS)
		raw, from = []byte(strings.TrimSpace(v)), envJWKS
	}
	if len(raw) == 0 {
		base, _ := env(envSupabaseURL)
		base = strings.TrimSpace(base)
		if base == "" {
			r.skips = append(r.skips, name+": set JWT_JWKS (the key set PostgREST reads), give --jwks-file, or set SUPABASE_URL to check that PostgREST holds the key that signs")
			return
		}
		if sc != nil && sc.Signer.Symmetric() {
			r.skips = append(r.skips, name+": Auth's published key set never lists the legacy secret; give JWT_JWKS or --jwks-file to check HS256 minting against PostgREST's key set")
			return
		}
		from = strings.TrimSuffix(base, "/") + authJWKSPath
		b, err := fetchJWKS(ctx, from, timeout)
		if err != nil {
			r.fail(name, fmt.Sprintf("GET %s: %s", from, err), "check SUPABASE_URL, or give PostgREST's key set with --jwks-file or JWT_JWKS")
			return
		}
		raw, fetched = b, true
	}
	if sc == nil {
		r.fail(name, "not checked: there is no usable signing key", "fix the configuration first")
		return
	}
	set, err := postgrest.Parse(raw)
	if err != nil {
		r.fail(name, fmt.Sprintf("%s is not a JWK Set PostgREST can read", from), "give the JSON of JWT_JWKS: {\"keys\":[...]}")
		return
	}
	for _, k := range set.Keys() {
		if k.Private {
			r.fail(name, fmt.Sprintf("%s holds a private key (kid %s), and PostgREST, Realtime and Storage read it", from, quoteOr(k.KeyID, "absent")),
				"publish only public keys in JWT_JWKS (without \"d\"); a private key belongs in JWT_KEYS (Auth) or SUPABRIDGE_SIGNING_KEY (the bridge), and a key seen here should be replaced")
			return
		}
	}
	tok, err := probeToken(sc, now(c.now))
	if err != nil {
		r.fail(name, err.Error(), "fix the signing key first")
		return
	}
	signer := sc.Signer
	_, err = set.Verify(tok)
	if err == nil {
		what := "PostgREST picks the key by that kid"
		if signer.KeyID() == "" {
			what = "an oct key holds the legacy secret (a token without kid is tried against every key)"
		}
		r.ok(name, fmt.Sprintf("%s verifies a token signed %s (%s)", from, signer, what))
		return
	}
	hasKid := false
	octs := 0
	for _, k := range set.Keys() {
		hasKid = hasKid || (signer.KeyID() != "" && k.KeyID == signer.KeyID())
		if k.Type == "oct" {
			octs++
		}
	}
	addKey := "append the bridge's public JWK to the keys of JWT_JWKS (supabridge keys signing-key printed it; the functions serve it at /.well-known/jwks.json) and restart PostgREST, Realtime and Storage"
	switch {
	case signer.Symmetric() && signer.KeyID() == "" && octs == 0:
		r.fail(name, fmt.Sprintf("the bridge mints HS256 with the legacy secret (no kid), and %s has no oct key: PostgREST refuses every token it mints", from),
			"sign with a key of the bridge's own (supabridge keys signing-key; set SUPABRIDGE_SIGNING_KEY and add its public JWK to JWT_JWKS), or put the legacy secret back in JWT_JWKS as an oct key")
	case signer.Symmetric() && signer.KeyID() == "":
		r.fail(name, fmt.Sprintf("no oct key of %s verifies HS256 tokens with the legacy secret here", from),
			"make SUPABASE_JWT_SECRET (or JWT_SECRET) the secret of JWT_JWKS's oct key, or sign with a key of the bridge's own")
	case errors.Is(err, postgrest.ErrNoKey) && !hasKid:
		r.fail(name, fmt.Sprintf("%s has no key with kid %q: PostgREST refuses every token the bridge mints", from, signer.KeyID()), fixFor(fetched, addKey))
	case errors.Is(err, postgrest.ErrNoKey):
		r.fail(name, fmt.Sprintf("the key with kid %q in %s does not fit %s tokens (its type, alg or use)", signer.KeyID(), from, signer.Algorithm()), fixFor(fetched, addKey))
	default:
		r.fail(name, fmt.Sprintf("the key with kid %q in %s is another key than the one that signs here", signer.KeyID(), from),
			fixFor(fetched, "replace it in JWT_JWKS with the bridge's public JWK (the functions serve it at /.well-known/jwks.json), or check that the signing variables here are the deployment's"))
	}
}

// fixFor notes, for a set fetched from Auth, that Auth's published set is
// not PostgREST's.
func fixFor(fetched bool, fix string) string {
	if fetched {
		return fix + "; this set is the one Auth publishes, and PostgREST reads JWT_JWKS: check that one with --jwks-file"
	}
	return fix
}

// fetchJWKS GETs a key set, bounded in time and size.
func fetchJWKS(ctx context.Context, u string, timeout time.Duration) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, errors.New("not an http(s) URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := idp.NewHTTPClient(idp.HTTPOptions{Timeout: timeout}).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %d (the gateway may not expose it: give JWT_JWKS or --jwks-file)", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJWKS {
		return nil, errors.New("the answer is over 1 MiB")
	}
	return b, nil
}
