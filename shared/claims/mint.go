package claims

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
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
func (m *Minter) Mint(p *Payload, mp *Mapping) (Token, error) {
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
	if mp.Sub == SubUUID5 {
		ns := mp.Namespace
		if ns == (UUID{}) {
			ns = NamespaceURL
		}
		sub = NewSHA1(ns, p.Issuer+"#"+p.Subject).String()
	}
	payload, err := m.payload(p, mp, sub, now, exp)
	if err != nil {
		return Token{}, err
	}
	var b bytes.Buffer
	// 342 bytes hold the base64url of a 2048-bit RSA signature; HS256 and
	// ES256 need 43 and 86.
	b.Grow(len(m.signer.header) + 1 + base64.RawURLEncoding.EncodedLen(len(payload)) + 1 + 342)
	b.WriteString(m.signer.header)
	b.WriteByte('.')
	enc := base64.NewEncoder(base64.RawURLEncoding, &b)
	_, _ = enc.Write(payload)
	_ = enc.Close()
	sig, err := m.signer.Sign(b.String())
	if err != nil {
		return Token{}, fmt.Errorf("claims: sign: %w", err)
	}
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	return Token{JWT: b.String(), IssuedAt: now, ExpiresAt: exp, Subject: sub}, nil
}

// payload writes the claim set. Members are written in a fixed order with
// extra claims sorted, so the same input always gives the same token.
func (m *Minter) payload(p *Payload, mp *Mapping, sub string, now, exp time.Time) ([]byte, error) {
	top := map[string]json.RawMessage{}
	app := map[string]json.RawMessage{}
	user := map[string]json.RawMessage{}
	// An email the provider does not vouch for is treated as absent.
	email := mp.TrustUnverifiedEmail || EmailVerified(p)
	if v, ok := p.Raw("email"); ok && email {
		top["email"] = v
		user["email"] = v
	}
	for _, name := range mp.Passthrough {
		if reserved[name] || (name == "email" && !email) {
			continue
		}
		if v, ok := p.Raw(name); ok {
			top[name] = v
			user[name] = v
		}
	}
	for _, r := range mp.Rules {
		if !email && readsEmail(r.Pointer) {
			continue
		}
		v, ok := p.Pointer(r.Pointer)
		if !ok {
			continue
		}
		switch {
		case r.AppMetadata && !reservedAppMetadata[r.Target]:
			app[r.Target] = v
		case !r.AppMetadata && !reserved[r.Target]:
			top[r.Target] = v
		}
	}
	iss, err := json.Marshal(p.Issuer)
	if err != nil {
		return nil, err
	}
	psub, err := json.Marshal(p.Subject)
	if err != nil {
		return nil, err
	}
	user["iss"], user["sub"] = iss, psub
	name, err := json.Marshal(mp.Provider)
	if err != nil {
		return nil, err
	}
	app["provider"] = name
	app["providers"] = append(append([]byte{'['}, name...), ']')

	var b bytes.Buffer
	b.Grow(512)
	b.WriteByte('{')
	writeString(&b, "iss", m.issuer)
	b.WriteByte(',')
	writeString(&b, "aud", m.audience)
	b.WriteByte(',')
	writeString(&b, "sub", sub)
	b.WriteByte(',')
	writeString(&b, "role", Role)
	b.WriteString(`,"iat":`)
	b.WriteString(strconv.FormatInt(now.Unix(), 10))
	b.WriteString(`,"exp":`)
	b.WriteString(strconv.FormatInt(exp.Unix(), 10))
	b.WriteString(`,"is_anonymous":false,"app_metadata":`)
	writeObject(&b, app)
	b.WriteString(`,"user_metadata":`)
	writeObject(&b, user)
	for _, k := range sortedKeys(top) {
		b.WriteByte(',')
		writeKey(&b, k)
		b.Write(top[k])
	}
	b.WriteByte('}')
	// Raw members come from a payload json.Unmarshal accepted, but compact
	// them so the output is valid JSON with no stray whitespace.
	var out bytes.Buffer
	if err := json.Compact(&out, b.Bytes()); err != nil {
		return nil, fmt.Errorf("claims: encode payload: %w", err)
	}
	return out.Bytes(), nil
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

func writeObject(b *bytes.Buffer, m map[string]json.RawMessage) {
	b.WriteByte('{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteByte(',')
		}
		writeKey(b, k)
		b.Write(m[k])
	}
	b.WriteByte('}')
}

func writeKey(b *bytes.Buffer, k string) {
	q, _ := json.Marshal(k) // a string always marshals
	b.Write(q)
	b.WriteByte(':')
}

func writeString(b *bytes.Buffer, k, v string) {
	writeKey(b, k)
	q, _ := json.Marshal(v)
	b.Write(q)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
