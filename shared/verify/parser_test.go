package verify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/bridge"
	"supabridge/shared/claims"
	"supabridge/shared/verify"
)

// parserVerifier is the verifier as it was before issue 20: golang-jwt's
// Parser.ParseWithClaims with the payload decoded through json.Unmarshal
// and the header through encoding/json into a map. It is the reference
// FuzzVerifyParser holds Verifier to: the same tokens accepted, by the same
// policy, and every refusal answered with the same contract error.
type parserVerifier struct {
	parser   *jwt.Parser
	byIssuer map[string]*parserEntry
	wildcard *parserEntry
}

type parserEntry struct {
	policy    *verify.Policy
	algs      []string
	validator *jwt.Validator
}

func newParserVerifier(policies []*verify.Policy, now func() time.Time) *parserVerifier {
	v := &parserVerifier{byIssuer: map[string]*parserEntry{}}
	var union []string
	for _, p := range policies {
		algs := p.Algorithms
		if len(algs) == 0 {
			algs = verify.Algorithms
		}
		for _, a := range algs {
			if !slices.Contains(union, a) {
				union = append(union, a)
			}
		}
		opts := []jwt.ParserOption{jwt.WithLeeway(p.Leeway), jwt.WithTimeFunc(now), jwt.WithExpirationRequired(), jwt.WithIssuedAt()}
		if len(p.Audience) > 0 {
			opts = append(opts, jwt.WithAudience(p.Audience...))
		}
		if p.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(p.Issuer))
		}
		e := &parserEntry{policy: p, algs: algs, validator: jwt.NewValidator(opts...)}
		if p.Issuer == "" {
			v.wildcard = e
		} else {
			v.byIssuer[p.Issuer] = e
		}
	}
	v.parser = jwt.NewParser(jwt.WithValidMethods(union), jwt.WithoutClaimsValidation())
	return v
}

func (v *parserVerifier) verify(ctx context.Context, raw string) (verify.Result, error) {
	if len(raw) > verify.MaxTokenLen {
		return verify.Result{}, verify.ErrTooLarge
	}
	var (
		c      claims.Payload
		chosen *parserEntry
	)
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if _, ok := t.Header["crit"]; ok {
			return nil, verify.ErrCritical
		}
		e, ok := v.byIssuer[c.Issuer]
		if !ok {
			e = v.wildcard
		}
		if e == nil {
			return nil, verify.ErrUnknownIssuer
		}
		if !slices.Contains(e.algs, t.Method.Alg()) {
			return nil, verify.ErrAlgorithm
		}
		chosen = e
		return e.policy.Keys.Key(ctx, t)
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) && chosen == nil {
			return verify.Result{}, fmt.Errorf("verify: %w", errors.Join(verify.ErrAlgorithm, err))
		}
		return verify.Result{}, fmt.Errorf("verify: %w", err)
	}
	for _, d := range []*jwt.NumericDate{c.ExpiresAt, c.NotBefore, c.IssuedAt} {
		if d != nil && (d.Unix() < -62167219200 || d.Unix() > 253402300799) {
			return verify.Result{}, fmt.Errorf("verify: %w", errors.Join(jwt.ErrTokenMalformed, verify.ErrDateRange))
		}
	}
	if err := chosen.validator.Validate(&c); err != nil {
		return verify.Result{}, fmt.Errorf("verify: %w", err)
	}
	return verify.Result{Claims: &c, Policy: chosen.policy}, nil
}

// FuzzVerifyParser is FuzzVerify's inputs given to the Verifier and to
// parserVerifier: whatever the token, both accept it with the same policy
// and claims, or both refuse it with the same contract error (status, code
// and description).
func FuzzVerifyParser(f *testing.F) {
	fx := newFuzzFixture(f)
	ref := newParserVerifier(fx.policies, func() time.Time { return fx.now })
	now := fmt.Sprint(fx.now.Unix())
	valid := `{"iss":"` + issA + `","sub":"u1","aud":"app","iat":` + now + `,"exp":` + now + `0}`
	for _, s := range []struct {
		header, payload string
		mode            uint8
	}{
		{`{"alg":"EdDSA","kid":"a-ed"}`, valid, signA},
		{`{"alg":"RS256"}`, valid, signA},
		{`{"alg":"ES256","kid":"a-ec","typ":"JWT"}`, valid, signA},
		{`{"\u0061lg":"EdDSA","k\u0069d":"a-ed"}`, valid, signA},
		{`{"alg":"HS256","alg":"EdDSA"}`, valid, signA},
		{`{"alg":"EdDSA","alg":7}`, valid, signA},
		{`{"alg":"EdDSA","kid":7}`, valid, signA},
		{`{"alg":"EdDSA","kid":"a-ed","kid":null}`, valid, signA},
		{`{"alg":"EdDSA","crit":null}`, valid, signA},
		{`{"alg":"EdDSA","x":1e400}`, valid, signA},
		{`{"alg":"EdDSA","x":[{"y":-1e400}]}`, valid, signA},
		{`{"alg":"EdDSA","x":[{"y":1e-400}]}`, valid, signA},
		{"{\"alg\":\"EdDSA\",\"kid\":\"a-\xffed\"}", valid, signA},
		{`{"alg":"EdDSA","kid":"\ud800"}`, valid, signA},
		{`{"ALG":"EdDSA"}`, valid, signA},
		{`{"alg":"none"}`, valid, rawSig},
		{`{"alg":"XX9"}`, valid, signA},
		{`{"alg":"HS256"}`, valid, signHMACWithPublicKey},
		{`null`, valid, signA},
		{`[]`, valid, signA},
		{`{"alg":"EdDSA"} `, valid, signA},
		{`{"alg":"EdDSA"}x`, valid, signA},
		{`{"alg":"EdDSA"}`, `null`, signA},
		{`{"alg":"EdDSA"}`, `{"iss":"` + issA + `","sub":"u1","sub":5,"aud":"app","exp":` + now + `0}`, signA},
		{`{"alg":"EdDSA"}`, `{"iss":"` + issA + `","sub":"u1","aud":"app","exp":"` + now + `0"}`, signA},
		{`{"alg":"EdDSA"}`, `{"iss":"` + issA + `","sub":"u1","aud":"app","exp":1e19}`, signA},
		{`{"alg":"ES256"}`, `{"iss":"` + issB + `","sub":"u","exp":` + now + `0}`, signB},
		{"a.b.c", "", rawToken},
		{"a", "b.c.d", rawToken},
		{"e30", "e30", rawToken},
	} {
		f.Add(s.header, s.payload, s.mode, []byte{})
	}
	f.Fuzz(func(t *testing.T, header, payload string, mode uint8, sig []byte) {
		tok := fx.token(t, header, payload, mode, sig)
		got, err := fx.verifier.Verify(t.Context(), tok)
		want, wantErr := ref.verify(t.Context(), tok)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("got error %v, the parser got %v\ntoken: %s", err, wantErr, tok)
		}
		if err == nil {
			if got.Policy != want.Policy || got.Claims.Subject != want.Claims.Subject || got.Claims.Issuer != want.Claims.Issuer {
				t.Fatalf("got %+v, the parser got %+v\ntoken: %s", got, want, tok)
			}
			return
		}
		ge, gk := bridge.Classify(err)
		we, wk := bridge.Classify(wantErr)
		if strings.TrimSpace(payload) == "null" && mode%6 != rawToken && ge.Status == we.Status && ge.Code == we.Code {
			// The one difference, on purpose: the parser decoded a null
			// payload through an interface holding *claims.Payload, which
			// encoding/json sets to nil without calling UnmarshalJSON, so
			// the token went on with no claims and was refused later (no
			// issuer, no exp). Verify refuses it at once as malformed (RFC
			// 7519 §7.2: the claims set is a JSON object).
			return
		}
		if *ge != *we || gk != wk {
			t.Fatalf("got %v answered %+v, the parser got %v answered %+v\ntoken: %s", err, *ge, wantErr, *we, tok)
		}
	})
}
