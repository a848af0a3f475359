package claims

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/oauth"
)

// Errors returned by [Minter.Mint] and [NewMinter].
var (
	ErrNoSubject = errors.New("claims: provider token has no subject")
	ErrExpired   = errors.New("claims: provider token expires before a session could start")
	ErrNoSigner  = errors.New("claims: no signing key configured")
)

// Role is the only role a minted token ever carries.
const Role = "authenticated"

// Defaults of [Config] and [Mapping].
const (
	DefaultIssuer   = "supabase"
	DefaultAudience = "authenticated"
	DefaultMaxTTL   = time.Hour
)

// DefaultPassthrough is the default of CLAIMS_PASSTHROUGH.
var DefaultPassthrough = []string{"email", "email_verified", "name", "preferred_username", "groups", "org_id"}

// reserved are the registered and Supabase-reserved names that are never
// copied from a provider, whatever the configuration says.
var reserved = map[string]bool{
	"iss": true, "aud": true, "sub": true, "role": true, "iat": true, "exp": true,
	"nbf": true, "jti": true, "is_anonymous": true, "aal": true, "amr": true,
	"session_id": true, "app_metadata": true, "user_metadata": true,
}

// Reserved reports whether name is a claim that never comes from a provider.
func Reserved(name string) bool { return reserved[name] }

// reservedAppMetadata are the app_metadata keys that supabridge writes itself.
var reservedAppMetadata = map[string]bool{"provider": true, "providers": true}

// ReservedAppMetadata reports whether key is an app_metadata key that a
// claims_map may not target.
func ReservedAppMetadata(key string) bool { return reservedAppMetadata[key] }

// Config is the Supabase side of minting.
type Config struct {
	// Signer signs minted tokens; required. Configuration builds it from
	// exactly one source (see shared/config).
	Signer *Signer
	// Previous are public keys published beside the signer's and never
	// used to sign: the keys of before a rotation, so that tokens minted
	// with them verify against the published set until they expire.
	Previous []PublicKey
	// Issuer is the "iss" of minted tokens. Default "supabase".
	Issuer string
	// Audience is the "aud" of minted tokens, written as a string the way
	// GoTrue writes it. Default "authenticated".
	Audience string
	// MaxTTL caps the lifetime of a minted token. Default one hour.
	MaxTTL time.Duration
}

// SubMapping chooses how the provider's subject becomes the Supabase "sub".
type SubMapping string

// Subject mappings.
const (
	SubPassthrough SubMapping = "passthrough"
	SubUUID5       SubMapping = "uuid5"
)

// Rule copies the value at Pointer in the provider payload to Target, a
// top-level claim or, with AppMetadata, a key of app_metadata.
type Rule struct {
	Target      string
	AppMetadata bool
	Pointer     string
}

// Mapping is one provider's claim mapping.
type Mapping struct {
	// Provider is the provider's short name, written to app_metadata.
	Provider string
	// Passthrough lists claims copied by name; "email" is always copied
	// when the provider verified it (see TrustUnverifiedEmail).
	Passthrough []string
	// Rules are the claims_map entries, applied after Passthrough.
	Rules []Rule
	// Sub chooses the subject mapping; empty means passthrough.
	Sub SubMapping
	// Namespace is the UUIDv5 namespace for SubUUID5; zero means NamespaceURL.
	Namespace UUID
	// TrustUnverifiedEmail copies the provider's "email" even when the
	// token does not carry "email_verified": true. Off by default: where
	// users sign themselves up, anyone can claim any address.
	TrustUnverifiedEmail bool
}

// Minter mints Supabase tokens. It is safe for concurrent use.
type Minter struct {
	signer   *Signer
	issuer   string
	audience string
	maxTTL   time.Duration
	now      func() time.Time
	prefix   []byte // {"iss":<issuer>,"aud":<audience>,"sub":
	// macs holds keyed HMAC-SHA256 states (*macState) when the signer is
	// HS256, reset before each use, so that a token costs no hmac.New.
	macs *sync.Pool
}

type macState struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// NewMinter returns a Minter for cfg; now defaults to time.Now.
func NewMinter(cfg Config, now func() time.Time) (*Minter, error) {
	if cfg.Signer == nil {
		return nil, ErrNoSigner
	}
	m := &Minter{signer: cfg.Signer, issuer: cfg.Issuer, audience: cfg.Audience, maxTTL: cfg.MaxTTL, now: now}
	if m.issuer == "" {
		m.issuer = DefaultIssuer
	}
	if m.audience == "" {
		m.audience = DefaultAudience
	}
	if m.maxTTL <= 0 {
		m.maxTTL = DefaultMaxTTL
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.prefix = append([]byte(`{"iss":`), oauth.AppendString(nil, m.issuer)...)
	m.prefix = append(append(m.prefix, `,"aud":`...), oauth.AppendString(nil, m.audience)...)
	m.prefix = append(m.prefix, `,"sub":`...)
	if secret, ok := m.signer.key.([]byte); ok && m.signer.method == jwt.SigningMethodHS256 {
		m.macs = &sync.Pool{New: func() any { return &macState{mac: hmac.New(sha256.New, secret)} }}
	}
	return m, nil
}

// Token is a minted Supabase token.
type Token struct {
	JWT       string
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Subject is the minted "sub".
	Subject string
}

// Mint maps a verified provider payload to a Supabase token and signs it.
// It compiles mp for this one call; a caller minting often with the same
// mapping compiles it once ([Mapping.Compile]) and calls MintCompiled.
func (m *Minter) Mint(p *Payload, mp *Mapping) (Token, error) {
	return m.MintCompiled(p, mp.Compile())
}

// MintCompiled maps a verified provider payload to a Supabase token with a
// compiled mapping and signs it.
func (m *Minter) MintCompiled(p *Payload, c *CompiledMapping) (Token, error) {
	if p.Subject == "" {
		return Token{}, ErrNoSubject
	}
	now := m.now().Truncate(time.Second)
	exp := now.Add(m.maxTTL)
	if p.ExpiresAt != nil && p.ExpiresAt.Time.Before(exp) {
		exp = p.ExpiresAt.Time.Truncate(time.Second)
	}
	if !exp.After(now) {
		return Token{}, ErrExpired
	}
	sub := p.Subject
	if c.sub == SubUUID5 {
		sub = NewSHA1(c.namespace, p.Issuer+"#"+p.Subject).String()
	}
	var scratch [1024]byte
	payload := m.appendClaims(scratch[:0], p, c, sub, now, exp)
	b := make([]byte, 0, len(m.signer.header)+1+base64.RawURLEncoding.EncodedLen(len(payload))+1+m.signer.sigLen)
	b = append(b, m.signer.header...)
	b = append(b, '.')
	b = base64.RawURLEncoding.AppendEncode(b, payload)
	b, err := m.appendSignature(b)
	if err != nil {
		return Token{}, fmt.Errorf("claims: sign: %w", err)
	}
	return Token{JWT: string(b), IssuedAt: now, ExpiresAt: exp, Subject: sub}, nil
}

// appendSignature signs b, the JWS signing input, and appends "." and the
// base64url signature to it. HS256 is HMAC-SHA256 (RFC 7518 §3.2) with a
// pooled keyed state; the other algorithms go through the Signer.
func (m *Minter) appendSignature(b []byte) ([]byte, error) {
	if m.macs != nil {
		st := m.macs.Get().(*macState)
		st.mac.Reset()
		st.mac.Write(b)
		b = append(b, '.')
		b = base64.RawURLEncoding.AppendEncode(b, st.mac.Sum(st.sum[:0]))
		m.macs.Put(st)
		return b, nil
	}
	sig, err := m.signer.Sign(string(b))
	if err != nil {
		return nil, err
	}
	b = append(b, '.')
	return base64.RawURLEncoding.AppendEncode(b, sig), nil
}

// gather applies the mapping's claim rules to p, in order, and puts the
// raw value of each claim it copies in its slot of vals (a later rule
// writing the same claim wins). These are the rules of what reaches a
// minted token from a provider's; everything else in the token is fixed
// (appendClaims). Reserved names were dropped by Compile: a Passthrough or
// Rule target that is a registered or Supabase-reserved claim name, or a
// Rule for app_metadata's provider or providers, never gets a slot.
func (c *CompiledMapping) gather(p *Payload, vals []json.RawMessage) {
	// An email the provider does not vouch for is treated as absent.
	email := c.trustEmail || EmailVerified(p)
	// "email" is copied to the top level and to user_metadata.
	if v, ok := p.Raw("email"); ok && email {
		vals[c.email.top], vals[c.email.user] = v, v
	}
	// Passthrough claims: copied by name to both.
	for _, pt := range c.passthrough {
		if pt.name == "email" && !email {
			continue
		}
		if v, ok := p.Raw(pt.name); ok {
			vals[pt.top], vals[pt.user] = v, v
		}
	}
	// claims_map rules, after Passthrough: the value at a JSON Pointer, to a
	// top-level claim or an app_metadata key.
	for _, r := range c.rules {
		if !email && readsEmail(r.pointer) {
			continue
		}
		if v, ok := p.Pointer(r.pointer); ok {
			vals[r.slot] = v
		}
	}
}

// appendClaims appends the claim set of the token to b. Members are
// written in a fixed order, app_metadata's, user_metadata's and the extra
// top-level claims by name, so the same input always gives the same token.
func (m *Minter) appendClaims(b []byte, p *Payload, c *CompiledMapping, sub string, now, exp time.Time) []byte {
	var vbuf [32]json.RawMessage
	var vals []json.RawMessage
	if n := len(c.slots); n <= len(vbuf) {
		vals = vbuf[:n]
	} else {
		vals = make([]json.RawMessage, n)
	}
	for i, s := range c.slots {
		vals[i] = s.fixed
	}
	c.gather(p, vals)

	b = append(b, m.prefix...)
	b = oauth.AppendString(b, sub)
	b = append(b, `,"role":"`+Role+`","iat":`...)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, exp.Unix(), 10)
	b = append(b, `,"is_anonymous":false,"app_metadata":{`...)
	b = c.appendMembers(b, p, vals, 0, c.user, false)
	b = append(b, `},"user_metadata":{`...)
	b = c.appendMembers(b, p, vals, c.user, c.top, false)
	b = append(b, '}')
	b = c.appendMembers(b, p, vals, c.top, len(c.slots), true)
	return append(b, '}')
}

// appendMembers appends the members of slots [from, to) that have a
// value, comma-separated (each preceded by a comma when lead is set).
// user_metadata's iss and sub are the provider's, GoTrue-style.
func (c *CompiledMapping) appendMembers(b []byte, p *Payload, vals []json.RawMessage, from, to int, lead bool) []byte {
	for i := from; i < to; i++ {
		v := vals[i]
		if v == nil && i != c.userIss && i != c.userSub {
			continue
		}
		if lead {
			b = append(b, ',')
		}
		lead = true
		b = append(b, c.slots[i].key...)
		switch i {
		case c.userIss:
			b = oauth.AppendString(b, p.Issuer)
		case c.userSub:
			b = oauth.AppendString(b, p.Subject)
		default:
			b = appendCompact(b, v)
		}
	}
	return b
}

// appendCompact appends the raw JSON value v without insignificant
// whitespace. Only an object or an array can hold any: a scalar member's
// raw value has no space around it.
func appendCompact(b []byte, v json.RawMessage) []byte {
	if (v[0] != '{' && v[0] != '[') || !bytes.ContainsAny(v, " \t\r\n") {
		return append(b, v...)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, v); err != nil {
		// Unreachable: v is a member of a payload Decode accepted.
		return append(b, v...)
	}
	return append(b, out.Bytes()...)
}

// EmailVerified reports whether the provider vouches for the payload's
// email: "email_verified" is the JSON boolean true (OpenID Connect Core
// §5.1). false, absent, or any other value (the string "true" included)
// is not a promise.
func EmailVerified(p *Payload) bool {
	v, ok := p.Raw("email_verified")
	return ok && bytes.Equal(bytes.TrimSpace(v), []byte("true"))
}

// readsEmail reports whether the JSON Pointer ptr starts at the top-level
// "email" claim.
func readsEmail(ptr string) bool {
	if ptr == "" || ptr[0] != '/' {
		return false
	}
	first, _, _ := strings.Cut(ptr[1:], "/")
	return unescapePointer(first) == "email"
}
