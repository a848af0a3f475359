package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
	"supabridge/shared/keys"
)

// Errors returned by [Verifier.Verify]. Key-source errors (keys.ErrUnknownKey,
// keys.ErrUnavailable) and golang-jwt's (jwt.ErrTokenExpired, ...) come back
// wrapped and are matched with errors.Is.
var (
	ErrTooLarge      = errors.New("verify: token over the size limit")
	ErrUnknownIssuer = errors.New("verify: issuer is not trusted")
	ErrAlgorithm     = errors.New("verify: signing algorithm not allowed")
	ErrCritical      = errors.New("verify: critical header extension not supported")
	// ErrDateRange: exp, nbf or iat lies outside the years 0 to 9999. It
	// comes joined with jwt.ErrTokenMalformed.
	ErrDateRange = errors.New("verify: time claim out of range")
)

// MaxTokenLen is the largest token accepted, in bytes.
const MaxTokenLen = 16 << 10

// DefaultLeeway is the clock leeway configuration gives a provider that
// sets none (AUTH_LEEWAY's default).
const DefaultLeeway = 30 * time.Second

// Algorithms lists every algorithm a policy may allow: asymmetric only.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Policy is what one trusted provider's tokens must satisfy.
type Policy struct {
	// Name identifies the provider in logs and app_metadata.
	Name string
	// Issuer is compared byte for byte with "iss". Empty accepts any issuer,
	// allowed only for a verifier with a single policy.
	Issuer string
	// Audience, when set, must contain one of the token's "aud" values.
	Audience []string
	// Algorithms narrows [Algorithms]; empty means all of them.
	Algorithms []string
	// Leeway for exp, nbf and iat, applied as given: zero is no leeway.
	// Configuration fills in DefaultLeeway when the operator sets none.
	Leeway time.Duration
	// Keys finds the verification key.
	Keys keys.Source
}

type entry struct {
	policy    *Policy
	algs      []string
	validator *jwt.Validator
}

// method is one algorithm some policy allows, with golang-jwt's signing
// method for it.
type method struct {
	alg    string
	header any // alg as the interface value the token header carries
	jwt.SigningMethod
}

// Verifier checks provider tokens against a set of policies. It is safe for
// concurrent use.
type Verifier struct {
	// parser decodes the base64url segments as golang-jwt does; it parses
	// nothing else.
	parser   *jwt.Parser
	methods  []method // the union of the policies' algorithms
	byIssuer map[string]*entry
	wildcard *entry
}

// New returns a Verifier for policies; now defaults to time.Now. A
// [Result] names the accepting policy by the pointer given here.
func New(policies []*Policy, now func() time.Time) (*Verifier, error) {
	if len(policies) == 0 {
		return nil, errors.New("verify: no provider configured")
	}
	if now == nil {
		now = time.Now
	}
	v := &Verifier{byIssuer: make(map[string]*entry, len(policies)), parser: jwt.NewParser()}
	for _, p := range policies {
		if p.Keys == nil {
			return nil, fmt.Errorf("verify: provider %q has no key source", p.Name)
		}
		algs := p.Algorithms
		if len(algs) == 0 {
			algs = Algorithms
		}
		for _, a := range algs {
			if !slices.Contains(Algorithms, a) {
				return nil, fmt.Errorf("verify: provider %q: algorithm %q is not an allowed asymmetric algorithm", p.Name, a)
			}
			if !slices.ContainsFunc(v.methods, func(m method) bool { return m.alg == a }) {
				v.methods = append(v.methods, method{alg: a, header: a, SigningMethod: jwt.GetSigningMethod(a)})
			}
		}
		if p.Leeway < 0 {
			return nil, fmt.Errorf("verify: provider %q: negative leeway", p.Name)
		}
		opts := []jwt.ParserOption{
			jwt.WithLeeway(p.Leeway),
			jwt.WithTimeFunc(now),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		}
		if len(p.Audience) > 0 {
			opts = append(opts, jwt.WithAudience(p.Audience...))
		}
		if p.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(p.Issuer))
		}
		e := &entry{policy: p, algs: algs, validator: jwt.NewValidator(opts...)}
		if p.Issuer == "" {
			if len(policies) > 1 {
				return nil, fmt.Errorf("verify: provider %q has no issuer; every provider needs one when several are trusted", p.Name)
			}
			v.wildcard = e
			continue
		}
		if _, dup := v.byIssuer[p.Issuer]; dup {
			return nil, fmt.Errorf("verify: two providers have the issuer %q", p.Issuer)
		}
		v.byIssuer[p.Issuer] = e
	}
	return v, nil
}

// Result is a verified token.
type Result struct {
	// Claims is the verified payload.
	Claims *claims.Payload
	// Policy is the policy that accepted the token, as given to New.
	Policy *Policy
}

// Verify checks raw and returns its claims and the accepting policy.
//
// It takes the steps of golang-jwt's Parser.ParseWithClaims, in its order
// and with its errors, through golang-jwt's own pieces: the base64url
// decoding of Parser.DecodeSegment, the signing methods' Verify (the
// signature check), Validator.Validate (the time, issuer and audience
// claims). What it does itself is read the two JSON segments: the header
// with the JSON v2 tokenizer (header.decode), the payload with
// claims.Payload.Decode, each read once and with the same outcome as
// encoding/json, which the parser used. Signatures are checked before any
// claim; the policy is chosen by the payload's iss before the key is.
func (v *Verifier) Verify(ctx context.Context, raw string) (Result, error) {
	if len(raw) > MaxTokenLen {
		return Result{}, ErrTooLarge
	}
	// RFC 7515 §7.1: three base64url segments, no fourth.
	h64, rest, ok1 := strings.Cut(raw, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return Result{}, failed(jwt.ErrTokenMalformed, "token contains an invalid number of segments", nil)
	}
	hb, err := v.parser.DecodeSegment(h64)
	if err != nil {
		return Result{}, failed(jwt.ErrTokenMalformed, "could not base64 decode header", err)
	}
	var h header
	if err := h.decode(hb); err != nil {
		return Result{}, failed(jwt.ErrTokenMalformed, "could not JSON decode header", err)
	}
	pb, err := v.parser.DecodeSegment(p64)
	if err != nil {
		return Result{}, failed(jwt.ErrTokenMalformed, "could not base64 decode claim", err)
	}
	c := new(claims.Payload)
	if err := c.Decode(pb); err != nil {
		return Result{}, failed(jwt.ErrTokenMalformed, "could not JSON decode claim", err)
	}
	if !h.hasAlg {
		return Result{}, failed(jwt.ErrTokenUnverifiable, "signing method (alg) is unspecified", nil)
	}
	m := v.method(h.alg)
	if m == nil && jwt.GetSigningMethod(h.alg) == nil {
		return Result{}, failed(jwt.ErrTokenUnverifiable, "signing method (alg) is unavailable", nil)
	}
	sig, err := v.parser.DecodeSegment(s64)
	if err != nil {
		return Result{}, failed(jwt.ErrTokenMalformed, "could not base64 decode signature", err)
	}
	if m == nil {
		// Known to golang-jwt (HS256, none...) but allowed to no policy.
		return Result{}, fmt.Errorf("verify: %w", errors.Join(ErrAlgorithm, jwt.ErrTokenSignatureInvalid))
	}
	if h.crit {
		// RFC 7515 §4.1.11: we understand no extension, so any crit fails.
		return Result{}, keyFailed(ErrCritical)
	}
	e := v.lookup(c.Issuer)
	if e == nil {
		return Result{}, keyFailed(ErrUnknownIssuer)
	}
	if !slices.Contains(e.algs, m.alg) {
		return Result{}, keyFailed(ErrAlgorithm)
	}
	// Only the configured source chooses keys; jku, x5u, jwk and x5c in
	// the header are never read. The header it is given holds alg and, when
	// it is a string, kid.
	hdr := map[string]any{"alg": m.header}
	if h.hasKid {
		hdr["kid"] = h.kid
	}
	tok := &jwt.Token{Raw: raw, Method: m.SigningMethod, Header: hdr, Claims: c, Signature: sig}
	key, err := e.policy.Keys.Key(ctx, tok)
	if err != nil {
		return Result{}, keyFailed(err)
	}
	signed := raw[:len(h64)+1+len(p64)]
	switch k := key.(type) {
	case jwt.VerificationKeySet:
		if len(k.Keys) == 0 {
			return Result{}, failed(jwt.ErrTokenUnverifiable, "keyfunc returned empty verification key set", nil)
		}
		for _, one := range k.Keys {
			if err = m.Verify(signed, sig, one); err == nil {
				break
			}
		}
	default:
		err = m.Verify(signed, sig, key)
	}
	if err != nil {
		return Result{}, failed(jwt.ErrTokenSignatureInvalid, "", err)
	}
	if err := datesInRange(c); err != nil {
		return Result{}, err
	}
	if err := e.validator.Validate(c); err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	return Result{Claims: c, Policy: e.policy}, nil
}

// method returns the allowed method named alg, or nil.
func (v *Verifier) method(alg string) *method {
	for i := range v.methods {
		if v.methods[i].alg == alg {
			return &v.methods[i]
		}
	}
	return nil
}

// failed is the error golang-jwt's parser returns for the same failure:
// kind (jwt.ErrTokenMalformed ...), its message, and the cause.
func failed(kind error, msg string, cause error) error {
	switch {
	case msg == "":
		return fmt.Errorf("verify: %w: %w", kind, cause)
	case cause == nil:
		return fmt.Errorf("verify: %w: %s", kind, msg)
	}
	return fmt.Errorf("verify: %w: %s: %w", kind, msg, cause)
}

// keyFailed is the error of a failed key choice, as golang-jwt wraps the
// error of a Keyfunc.
func keyFailed(err error) error {
	return failed(jwt.ErrTokenUnverifiable, "error while executing keyfunc", err)
}

func (v *Verifier) lookup(iss string) *entry {
	if e, ok := v.byIssuer[iss]; ok {
		return e
	}
	return v.wildcard
}

// Bounds of a NumericDate we accept: 0000-01-01 to 9999-12-31T23:59:59Z.
const (
	minDate = -62167219200
	maxDate = 253402300799
)

// datesInRange refuses a time claim no calendar holds. golang-jwt turns a
// NumericDate into a time through float64 → int64, which wraps around past
// ±9.2e18 on amd64 (and saturates on arm64): "nbf": 1e19 became a date in
// the distant past and passed the not-before check on one architecture and
// not the other. Found by FuzzVerify.
func datesInRange(c *claims.Payload) error {
	for _, d := range []*jwt.NumericDate{c.ExpiresAt, c.NotBefore, c.IssuedAt} {
		if d == nil {
			continue
		}
		if u := d.Unix(); u < minDate || u > maxDate {
			return fmt.Errorf("verify: %w", errors.Join(jwt.ErrTokenMalformed, ErrDateRange))
		}
	}
	return nil
}
