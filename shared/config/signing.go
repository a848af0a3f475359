package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"supabridge/shared/claims"
)

// Signing says which source's key signs the minted tokens, and which other
// signing variables are set but not in force. Exactly one source is in
// force, chosen by a fixed precedence (first set wins):
//
//  1. SUPABRIDGE_SIGNING_KEY: a key of the bridge's own (recommended);
//  2. SUPABASE_JWT_KEYS: Supabase Auth's JWT_KEYS, its signing key;
//  3. SUPABASE_JWT_SECRET or JWT_SECRET: the legacy secret, HS256, no kid.
//
// A Kubernetes envFrom of supabase-secrets brings JWT_SECRET along whatever
// else is set: the precedence makes that harmless. The variables not in
// force are not read beyond seeing that they are set.
type Signing struct {
	// Source is the variable whose key signs (its _FILE form counts as
	// the variable).
	Source string
	// Ignored lists the other signing variables that are set.
	Ignored []string
}

// String says what signs, for the start log and doctor; no key material.
func (s Signing) String() string {
	if len(s.Ignored) == 0 {
		return "from " + s.Source
	}
	return fmt.Sprintf("from %s (also set, not used: %s)", s.Source, strings.Join(s.Ignored, ", "))
}

// set reports whether name or name_FILE holds a value, by the rule of
// reader.secret: the direct value as it is, the path trimmed.
func (r reader) set(name string) bool {
	direct, _ := r.env(name)
	return direct != "" || r.get(name+"_FILE") != ""
}

// loadSigning chooses the signing source and fills c.Signer and c.Previous.
func loadSigning(r reader, c *claims.Config) Signing {
	var s Signing
	legacy := ""
	for _, n := range []string{EnvSecret, EnvSecretAlias} {
		if r.set(n) {
			if legacy == "" {
				legacy = n
			}
		}
	}
	var previous []claims.PublicKey
	switch {
	case r.set(EnvSigningKey):
		s.Source = EnvSigningKey
		c.Signer = ownKey(r)
	case r.set(EnvJWTKeys):
		s.Source = EnvJWTKeys
		c.Signer, previous = authKeys(r)
	default:
		s.Source = legacy
		c.Signer = legacySigner(r)
	}
	for _, n := range []string{EnvSigningKey, EnvJWTKeys, EnvSecret, EnvSecretAlias} {
		if n != s.Source && r.set(n) && !(s.Source == EnvSecret && n == EnvSecretAlias) {
			s.Ignored = append(s.Ignored, n)
		}
	}
	c.Previous = append(previous, previousKeys(r)...)
	if c.Signer != nil {
		if _, err := c.JWKS(); errors.Is(err, claims.ErrDuplicateKeyID) {
			r.errs.add("%s: two published keys share a kid (the signing key's, or one of %s); give every key its own", EnvPreviousKeys, s.Source)
		}
	}
	return s
}

// ownKey reads SUPABRIDGE_SIGNING_KEY: one private JWK, EC P-256 or RSA,
// with a kid.
func ownKey(r reader) *claims.Signer {
	raw := bytes.TrimSpace(r.secret(EnvSigningKey))
	if len(raw) == 0 {
		return nil // both forms set: already reported
	}
	fail := func(format string, a ...any) *claims.Signer {
		r.errs.add("%s: "+format, append([]any{EnvSigningKey}, a...)...)
		return nil
	}
	if raw[0] != '{' {
		return fail("not a JWK (one JSON object); make one with supabridge keys signing-key")
	}
	j, err := parseJWK(raw)
	switch {
	case err != nil:
		return fail("%v", err)
	case j.kty == "oct":
		return fail("a shared secret (kty oct); the bridge's own key is an EC P-256 or RSA private key (for HS256 set %s)", EnvSecret)
	case j.key != nil && !j.private():
		return fail(`a public key; give the private JWK (the one with "d") that supabridge keys signing-key printed`)
	case j.kid == "":
		return fail("the key has no kid")
	case j.ops != nil && !j.signs():
		return fail("%v", errNoSignOp)
	}
	sg, err := j.signer()
	if err != nil {
		return fail("%v", err)
	}
	return sg
}

// authKeys reads SUPABASE_JWT_KEYS, the JSON array Supabase Auth reads as
// GOTRUE_JWT_KEYS, and picks its signing key the way Auth does: the one key
// whose key_ops include "sign"; none, or more than one, is an error, as it
// is for Auth. See supabase/auth internal/conf/jwk.go (JwtKeysDecoder.Validate
// and GetSigningJwk). The alg comes from the key (Auth's GetSigningAlg),
// with its kid in the header (Auth's SignJWT writes the signing key's kid).
// The other keys, Auth's keys of before a rotation, are published when
// they are public-key keys with a kid the bridge could have signed with
// (ES256 P-256, RS256); oct keys never are.
func authKeys(r reader) (*claims.Signer, []claims.PublicKey) {
	raw := bytes.TrimSpace(r.secret(EnvJWTKeys))
	if len(raw) == 0 {
		return nil, nil
	}
	fail := func(format string, a ...any) (*claims.Signer, []claims.PublicKey) {
		r.errs.add("%s: "+format, append([]any{EnvJWTKeys}, a...)...)
		return nil, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return fail("not a JSON array of JWKs (the format of Supabase Auth's GOTRUE_JWT_KEYS, the JWT_KEYS of its .env)")
	}
	var (
		signing  []int
		keys     = make([]jwk, len(raws))
		previous []claims.PublicKey
	)
	for i, k := range raws {
		j, err := parseJWK(k)
		if err != nil {
			return fail("key %d: %v", i+1, err)
		}
		keys[i] = j
		if j.signs() {
			signing = append(signing, i)
		}
	}
	switch len(signing) {
	case 0:
		return fail(`no signing key (a key whose key_ops include "sign"); Supabase Auth refuses such an array too`)
	case 1:
	default:
		return fail(`%d signing keys (key_ops with "sign"); Supabase Auth accepts exactly one`, len(signing))
	}
	i := signing[0]
	j := keys[i]
	switch {
	case j.key != nil && !j.private():
		return fail(`the signing key, %s, is a public key; the array Auth reads holds the private one (with "d")`, j.name(i))
	case j.kid == "":
		return fail("the signing key, %s, has no kid (without one, use its secret as %s)", j.name(i), EnvSecret)
	}
	sg, err := j.signer()
	if err != nil {
		return fail("the signing key, %s: %v", j.name(i), err)
	}
	for n, k := range keys {
		if n == i || k.kid == "" {
			continue
		}
		if p, err := k.public(); err == nil {
			previous = append(previous, p)
		}
	}
	return sg, previous
}

// legacySigner reads the legacy secret, SUPABASE_JWT_SECRET or JWT_SECRET
// or their _FILE forms, equal when both are set, at least 32 bytes.
func legacySigner(r reader) *claims.Signer {
	before := len(*r.errs)
	secret, name := legacySecret(r)
	if len(*r.errs) > before {
		return nil
	}
	if len(secret) == 0 {
		r.errs.add("a signing key is required: set %s (a key of the bridge's own, made by supabridge keys signing-key), %s (Supabase Auth's JWT_KEYS) or %s (the legacy secret; or %s, or the _FILE form of any of them)",
			EnvSigningKey, EnvJWTKeys, EnvSecret, EnvSecretAlias)
		return nil
	}
	s, err := claims.NewHMACSigner(secret, "")
	if err != nil {
		r.errs.add("%s must be at least 32 bytes", name)
		return nil
	}
	return s
}

// legacySecret reads the legacy secret and its alias; name is the variable
// it came from. An empty secret with no new error means neither is set.
func legacySecret(r reader) (Secret, string) {
	primary := r.secret(EnvSecret)
	alias := r.secret(EnvSecretAlias)
	switch {
	case len(primary) > 0 && len(alias) > 0 && !bytes.Equal(primary, alias):
		r.errs.add("%s and %s are both set and differ; set one, or make them equal", EnvSecret, EnvSecretAlias)
		return nil, EnvSecret
	case len(primary) == 0:
		return alias, EnvSecretAlias
	}
	return primary, EnvSecret
}

// LoadSecret reads the legacy Supabase JWT secret alone, with the rules it
// has when it signs (SUPABASE_JWT_SECRET or JWT_SECRET, their _FILE forms,
// equal when both are set, at least 32 bytes), for tools that sign API keys
// or check HS256 tokens with it whatever signs the bridge's tokens.
func LoadSecret(env Env) (Secret, error) {
	var errs problems
	r := reader{env: env, errs: &errs}
	secret, name := legacySecret(r)
	switch {
	case len(errs) > 0:
	case len(secret) == 0:
		errs.add("%s is required (or %s, or %s_FILE)", EnvSecret, EnvSecretAlias, EnvSecret)
	case len(secret) < claims.MinSecret:
		errs.add("%s must be at least 32 bytes", name)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return secret, nil
}

// previousKeys reads SUPABRIDGE_PREVIOUS_KEYS: public JWKs with a kid,
// published beside the signing key and never used to sign.
func previousKeys(r reader) []claims.PublicKey {
	raw := r.secret(EnvPreviousKeys)
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	fail := func(format string, a ...any) []claims.PublicKey {
		r.errs.add("%s: "+format, append([]any{EnvPreviousKeys}, a...)...)
		return nil
	}
	raws, err := parseJWKSet(raw)
	if err != nil {
		return fail("%v", err)
	}
	var out []claims.PublicKey
	for i, k := range raws {
		j, err := parseJWK(k)
		switch {
		case err != nil:
			return fail("key %d: %v", i+1, err)
		case j.kty == "oct":
			return fail("%s is a shared secret; only public keys are published", j.name(i))
		case j.private():
			return fail(`%s is a private key; give only its public JWK (without "d"), as supabridge keys signing-key printed it for JWT_JWKS`, j.name(i))
		case j.kid == "":
			return fail("%s has no kid", j.name(i))
		}
		p, err := j.public()
		if err != nil {
			return fail("%s: %v", j.name(i), err)
		}
		out = append(out, p)
	}
	return out
}
