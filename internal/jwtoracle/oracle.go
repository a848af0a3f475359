package jwtoracle

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/verify"
)

// Key is one configured verification key of a provider.
type Key struct {
	// Kid is the key's id; empty for a PEM key, which matches any kid.
	Kid string
	// Alg is the one algorithm the key is for; empty for a PEM key, which
	// is tried with any algorithm the provider allows.
	Alg string
	// Pub is the public key.
	Pub crypto.PublicKey
}

// Policy is one trusted provider as the contract describes it.
type Policy struct {
	// Issuer is the iss a token must carry. Empty matches any iss, but only
	// when this is the only provider.
	Issuer string
	// Audience lists the accepted audiences; a token must name one of them.
	// Empty means the audience is not checked.
	Audience []string
	// Algs lists the algorithms allowed for this provider.
	Algs []string
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
	// Keys are the provider's verification keys.
	Keys []Key
}

// Result is the oracle's verdict on one token.
type Result struct {
	// OK reports whether the contract accepts the token.
	OK bool
	// Sane is false when the token holds something the contract leaves
	// unspecified (a time float64 cannot hold, like 1e400), where only "the
	// verifier must not accept more than the oracle" is asserted. A
	// registered claim of the wrong type is specified (RFC 7519 §4.1:
	// refused) and sane.
	Sane bool
	// Why says in a few words why the token was refused ("accepted" when
	// it was not).
	Why string
	// Provider is the index in the policies of the provider whose issuer
	// the token names, or -1 when none was found.
	Provider int
	// Claims is the token's payload, claim by claim, once it has been read
	// as a JSON object; nil before that.
	Claims map[string]json.RawMessage
}

// Verify is an independent reading of the contract's "Verifying the
// provider's token": it decides whether raw should verify against policies
// at the instant now. The signature is checked with golang-jwt's signing
// methods, everything else by hand.
func Verify(raw string, policies []Policy, now time.Time) Result {
	r := Result{Sane: true, Provider: -1}
	refuse := func(why string) Result { r.OK, r.Why = false, why; return r }
	if len(raw) > verify.MaxTokenLen {
		return refuse("over 16 KiB")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return refuse("not three segments")
	}
	enc := base64.RawURLEncoding
	hb, err1 := enc.DecodeString(parts[0])
	pb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return refuse("bad base64url")
	}
	var header map[string]any
	if json.Unmarshal(hb, &header) != nil || header == nil {
		return refuse("header not a JSON object")
	}
	if _, ok := header["crit"]; ok {
		return refuse("crit header")
	}
	alg, _ := header["alg"].(string)
	if !slices.Contains(verify.Algorithms, alg) {
		return refuse("alg not asymmetric")
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(pb, &claims) != nil || claims == nil {
		return refuse("payload not a JSON object")
	}
	r.Claims = claims
	// A registered claim present with the value null is not absent: it is
	// a claim of the wrong type (RFC 7519 §4.1 gives each one a type, and
	// null is none of them).
	present := func(name string) (json.RawMessage, bool) {
		v, ok := claims[name]
		return v, ok
	}
	str := func(name string) (string, bool, bool) { // value, present, well-typed
		v, ok := present(name)
		if !ok {
			return "", false, true
		}
		if !strings.HasPrefix(string(v), `"`) {
			return "", true, false
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", true, false
		}
		return s, true, true
	}
	iss, _, issOK := str("iss")
	if !issOK {
		return refuse("iss not a string")
	}
	r.Provider = -1
	for i, p := range policies {
		if p.Issuer == iss || (p.Issuer == "" && len(policies) == 1) {
			r.Provider = i
			break
		}
	}
	if r.Provider < 0 {
		return refuse("untrusted issuer")
	}
	p := policies[r.Provider]
	if !slices.Contains(p.Algs, alg) {
		return refuse("alg not allowed for this provider")
	}
	kid, hasKid := header["kid"].(string)
	method := jwt.GetSigningMethod(alg)
	verified := false
	for _, k := range p.Keys {
		if k.Alg != "" && k.Alg != alg {
			continue
		}
		if hasKid && k.Kid != "" && k.Kid != kid {
			continue
		}
		if method.Verify(parts[0]+"."+parts[1], sig, k.Pub) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return refuse("no configured key verifies the signature")
	}
	for _, name := range []string{"sub", "jti"} {
		if _, _, ok := str(name); !ok {
			return refuse(name + " not a string")
		}
	}
	// NumericDate (RFC 7519 §2): a JSON number of seconds. A JSON string,
	// even one holding digits, is not one.
	when := func(name string) (time.Time, bool, bool) {
		v, ok := present(name)
		if !ok {
			return time.Time{}, false, true
		}
		var num json.Number
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) || json.Unmarshal(v, &num) != nil {
			return time.Time{}, true, false
		}
		n, err := num.Float64()
		if err != nil {
			// A number float64 cannot hold (1e400): the contract does not
			// say, so only "never accept more" is asserted.
			r.Sane = false
			return time.Time{}, true, false
		}
		// Only the years 0 to 9999: beyond them golang-jwt's float64 →
		// int64 conversion wraps around.
		if n = math.Floor(n); n < -62167219200 || n > 253402300799 {
			return time.Time{}, true, false
		}
		return time.Unix(int64(n), 0), true, true
	}
	leeway := p.Leeway
	exp, hasExp, ok := when("exp")
	if !ok || !hasExp {
		return refuse("exp missing, not a number or out of range")
	}
	if !now.Before(exp.Add(leeway)) {
		return refuse("expired")
	}
	for _, name := range []string{"nbf", "iat"} {
		t, has, ok := when(name)
		if !ok {
			return refuse(name + " not a number or out of range")
		}
		if has && now.Before(t.Add(-leeway)) {
			return refuse(name + " in the future")
		}
	}
	var aud []string
	if v, ok := present("aud"); ok {
		var one string
		var many []any
		switch {
		case strings.HasPrefix(string(v), `"`) && json.Unmarshal(v, &one) == nil:
			aud = []string{one}
		case strings.HasPrefix(string(v), "[") && json.Unmarshal(v, &many) == nil:
			for _, a := range many {
				s, ok := a.(string)
				if !ok {
					return refuse("aud holds a non-string")
				}
				aud = append(aud, s)
			}
		default:
			return refuse("aud neither a string nor an array of strings")
		}
	}
	if len(p.Audience) > 0 && !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(p.Audience, a) }) {
		return refuse("audience not accepted")
	}
	r.OK, r.Why = true, "accepted"
	return r
}
