package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Verifier checks provider tokens against a set of policies. It is safe for
// concurrent use.
type Verifier struct {
	parser   *jwt.Parser
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
	v := &Verifier{byIssuer: make(map[string]*entry, len(policies))}
	var union []string
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
			if !slices.Contains(union, a) {
				union = append(union, a)
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
	// Signature checks run before any claim check; claims are validated by
	// the chosen policy's own validator afterwards.
	v.parser = jwt.NewParser(jwt.WithValidMethods(union), jwt.WithoutClaimsValidation())
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
func (v *Verifier) Verify(ctx context.Context, raw string) (Result, error) {
	if len(raw) > MaxTokenLen {
		return Result{}, ErrTooLarge
	}
	var (
		c      claims.Payload
		chosen *entry
	)
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		// golang-jwt has decoded the header and payload and checked the alg
		// against the union of allowed algorithms by now.
		if _, ok := t.Header["crit"]; ok {
			// RFC 7515 §4.1.11: we understand no extension, so any crit fails.
			return nil, ErrCritical
		}
		e := v.lookup(c.Issuer)
		if e == nil {
			return nil, ErrUnknownIssuer
		}
		if !slices.Contains(e.algs, t.Method.Alg()) {
			return nil, ErrAlgorithm
		}
		chosen = e
		// Only the configured source chooses keys; jku, x5u, jwk and x5c in
		// the header are never read.
		return e.policy.Keys.Key(ctx, t)
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) && chosen == nil {
			// The method check failed before the keyfunc ran.
			return Result{}, fmt.Errorf("verify: %w", errors.Join(ErrAlgorithm, err))
		}
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	if err := datesInRange(&c); err != nil {
		return Result{}, err
	}
	if err := chosen.validator.Validate(&c); err != nil {
		return Result{}, fmt.Errorf("verify: %w", err)
	}
	return Result{Claims: &c, Policy: chosen.policy}, nil
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
