package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"supabridge/shared/claims"
	"supabridge/shared/idp"
	"supabridge/shared/verify"
)

// Env looks up one environment variable; os.LookupEnv fits.
type Env func(key string) (string, bool)

// MapEnv returns an Env reading m (tests, --env-file).
func MapEnv(m map[string]string) Env {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// ExampleSecret is the JWT secret of Supabase's self-hosting example .env.
const ExampleSecret = "your-super-secret-jwt-token-with-at-least-32-characters-long"

// Client authentication styles for the token endpoint.
const (
	ClientAuthBasic = "basic"
	ClientAuthPost  = "post"
)

// DefaultHTTPTimeout bounds every call to a provider when none is set.
const DefaultHTTPTimeout = 5 * time.Second

// DefaultProviderName names the provider of the single-provider variables.
const DefaultProviderName = "default"

// Config is the whole validated configuration.
type Config struct {
	// Supabase is how tokens are minted.
	Supabase claims.Config
	// Signing says which source's key signs them.
	Signing Signing
	// Providers are the trusted providers, in configuration order.
	Providers []Provider
	// CORSOrigins is nil for "*", else the allowed origins.
	CORSOrigins []string
	// Port is the HTTP port outside Lambda.
	Port int
	// MetricsPort serves the Prometheus metrics outside Lambda; 0 is off.
	MetricsPort int
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
}

// Provider is one trusted provider.
type Provider struct {
	Name   string
	Issuer string
	// Exactly one of JWKSURL and PublicKey, or neither (discovery from Issuer).
	JWKSURL   string
	PublicKey []byte
	Audience  []string
	// AllowAnyAudience records the operator's explicit choice to check no
	// audience; without it and without Audience, doctor fails the provider.
	AllowAnyAudience bool
	Algorithms       []string
	Leeway           time.Duration
	Mapping          claims.Mapping
	TokenURL         string
	ClientID         string
	Secret           Secret // the client secret; empty for a public client
	ClientAuth       string // ClientAuthBasic or ClientAuthPost
	HTTPTimeout      time.Duration
	// InsecureHTTP allows plain-http URLs (configured and discovered) to
	// hosts that are not loopback: the operator's explicit choice for a
	// provider reached inside the cluster.
	InsecureHTTP bool
}

// Policy returns the verifier's view of p, without keys.
func (p *Provider) Policy() verify.Policy {
	return verify.Policy{Name: p.Name, Issuer: p.Issuer, Audience: p.Audience, Algorithms: p.Algorithms, Leeway: p.Leeway}
}

// CanRefresh reports whether refresh can reach p's token endpoint.
func (p *Provider) CanRefresh() bool {
	return p.ClientID != "" && (p.TokenURL != "" || p.Issuer != "")
}

// problems collects configuration errors.
type problems []string

func (ps *problems) add(format string, args ...any) { *ps = append(*ps, fmt.Sprintf(format, args...)) }

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return errors.New("config: " + strings.Join(ps, "; "))
}

// reader reads variables, treating an empty value as unset (SAM and
// Kubernetes manifests often pass empty strings for unset parameters).
type reader struct {
	env  Env
	errs *problems
}

func (r reader) get(name string) string {
	v, ok := r.env(name)
	if !ok {
		return ""
	}
	return strings.TrimSpace(v)
}

// secret reads name or name_FILE, never both.
func (r reader) secret(name string) []byte {
	direct, _ := r.env(name)
	path := r.get(name + "_FILE")
	switch {
	case direct != "" && path != "":
		r.errs.add("%s and %s_FILE are both set; set one", name, name)
		return nil
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			r.errs.add("%s_FILE: cannot read the file", name)
			return nil
		}
		return bytes.TrimRight(b, "\r\n")
	}
	return []byte(direct)
}

func (r reader) duration(name string, def time.Duration) time.Duration {
	v := r.get(name)
	if v == "" {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil || d < 0 {
		r.errs.add("%s: not a duration (seconds, or like 30s, 5m)", name)
		return def
	}
	return d
}

// ParseDuration reads whole seconds ("30") or a Go duration ("30s", "5m").
func ParseDuration(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// List splits a comma list, dropping empty items and surrounding space.
func List(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Load reads and validates the whole configuration from env.
func Load(env Env) (*Config, error) {
	var errs problems
	r := reader{env: env, errs: &errs}
	cfg := &Config{Port: 8080, LogLevel: slog.LevelInfo}

	cfg.Supabase, cfg.Signing = loadSupabase(r)

	defaults := providerDefaults{
		passthrough: slices.Clone(claims.DefaultPassthrough), // a copy: callers may change theirs
		sub:         claims.SubPassthrough,
		timeout:     r.duration(EnvAuthHTTPTimeout, DefaultHTTPTimeout),
	}
	if v := r.get(EnvPassthrough); v != "" {
		defaults.passthrough = List(v)
	}
	if v, ok := env(EnvPassthrough); ok && strings.TrimSpace(v) == "" {
		// Explicitly empty means "copy nothing but email".
		defaults.passthrough = nil
	}
	defaults.sub = subMapping(r.get(EnvSubMapping), EnvSubMapping, &errs)
	defaults.namespace = namespace(r.get(EnvSubNamespace), EnvSubNamespace, &errs)

	cfg.Providers = loadProviders(r, defaults)

	if v := r.get(EnvCORSOrigins); v != "" && v != "*" {
		cfg.CORSOrigins = List(v)
		for _, o := range cfg.CORSOrigins {
			if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || o == "*" {
				errs.add("%s: each origin must be scheme://host[:port], or the whole value *", EnvCORSOrigins)
				break
			}
		}
	}
	if v := r.get(EnvPort); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			errs.add("%s: not a port number", EnvPort)
		} else {
			cfg.Port = p
		}
	}
	if v := r.get(EnvMetricsPort); v != "" && v != "off" {
		p, err := strconv.Atoi(v)
		switch {
		case err != nil || p < 1 || p > 65535:
			errs.add("%s: not a port number (or off)", EnvMetricsPort)
		case p == cfg.Port:
			errs.add("%s: must differ from %s", EnvMetricsPort, EnvPort)
		default:
			cfg.MetricsPort = p
		}
	}
	if v := r.get(EnvLogLevel); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs.add("%s: not one of debug, info, warn, error", EnvLogLevel)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadSupabase reads and validates only the Supabase side (the signing
// source, issuer, audience, max TTL), for tools that mint or check Supabase
// tokens without a provider.
func LoadSupabase(env Env) (claims.Config, Signing, error) {
	var errs problems
	c, s := loadSupabase(reader{env: env, errs: &errs})
	if err := errs.err(); err != nil {
		return claims.Config{}, Signing{}, err
	}
	return c, s, nil
}

func loadSupabase(r reader) (claims.Config, Signing) {
	c := claims.Config{
		Issuer:   r.get(EnvIssuer),
		Audience: r.get(EnvAudience),
		MaxTTL:   r.duration(EnvMaxTTL, claims.DefaultMaxTTL),
	}
	s := loadSigning(r, &c)
	if c.MaxTTL <= 0 {
		r.errs.add("%s must be positive", EnvMaxTTL)
	}
	if c.Issuer == "" {
		c.Issuer = claims.DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = claims.DefaultAudience
	}
	return c, s
}

type providerDefaults struct {
	passthrough []string
	sub         claims.SubMapping
	namespace   claims.UUID
	timeout     time.Duration
}

// singleVars are the single-provider variables; with AUTH_PROVIDERS they
// are a start error.
var singleVars = []string{
	EnvAuthIssuer, EnvAuthJWKSURL, EnvAuthPublicKey, EnvAuthPublicKey + "_FILE", EnvAuthAudience,
	EnvAuthAlgorithms, EnvAuthLeeway, EnvAuthTokenURL, EnvAuthClientID, EnvAuthClientSecret,
	EnvAuthClientSecret + "_FILE", EnvAuthClientAuth, EnvAuthInsecureHTTP, EnvAuthTrustUnverifiedEmail, EnvAuthAllowAnyAudience,
}

func loadProviders(r reader, d providerDefaults) []Provider {
	list, listFrom := r.get(EnvAuthProviders), EnvAuthProviders
	if path := r.get(EnvAuthProvidersFile); path != "" {
		if list != "" {
			r.errs.add("%s and %s are both set; set one", EnvAuthProviders, EnvAuthProvidersFile)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			r.errs.add("%s: cannot read the file", EnvAuthProvidersFile)
			return nil
		}
		list, listFrom = string(b), EnvAuthProvidersFile
	}
	if list == "" {
		// The single-provider variables are a list of one.
		e, ok := singleEntry(r)
		if !ok {
			return nil
		}
		return []Provider{r.provider(e, d, EnvName)}
	}
	var set []string
	for _, v := range singleVars {
		if r.get(v) != "" {
			set = append(set, v)
		}
	}
	if len(set) > 0 {
		r.errs.add("%s is set, and so are the single-provider variables %s; use one form", listFrom, strings.Join(set, ", "))
		return nil
	}
	return parseProviders(r, listFrom, []byte(list), d)
}

// singleEntry reads the single-provider variables into the entry they
// stand for. Values that have a variable form of their own (the _FILE
// forms, AUTH_LEEWAY's seconds) are resolved here, so errors name the
// variable the operator set.
func singleEntry(r reader) (entry, bool) {
	e := entry{
		Name:       DefaultProviderName,
		Issuer:     r.get(EnvAuthIssuer),
		JWKSURL:    r.get(EnvAuthJWKSURL),
		PublicKey:  string(r.secret(EnvAuthPublicKey)), // not secret, but the _FILE form helps with mounted PEMs
		Audience:   List(r.get(EnvAuthAudience)),
		Algorithms: List(r.get(EnvAuthAlgorithms)),
		TokenURL:   r.get(EnvAuthTokenURL),
		ClientID:   r.get(EnvAuthClientID),
		ClientAuth: r.get(EnvAuthClientAuth),
		secret:     r.secret(EnvAuthClientSecret),
	}
	if r.get(EnvAuthPublicKey+"_FILE") != "" {
		e.publicKeyFrom = EnvAuthPublicKey + "_FILE"
	}
	if r.get(EnvAuthLeeway) != "" {
		lw := duration(r.duration(EnvAuthLeeway, verify.DefaultLeeway))
		e.Leeway = &lw
	}
	e.TrustUnverifiedEmail = boolean(r.get(EnvAuthTrustUnverifiedEmail), EnvAuthTrustUnverifiedEmail, r.errs)
	e.AllowAnyAudience = boolean(r.get(EnvAuthAllowAnyAudience), EnvAuthAllowAnyAudience, r.errs)
	if b := boolean(r.get(EnvAuthInsecureHTTP), EnvAuthInsecureHTTP, r.errs); b != nil {
		e.InsecureHTTP = *b
	}
	if e.Issuer == "" && e.JWKSURL == "" && e.PublicKey == "" {
		r.errs.add("a provider is required: set %s, %s or %s (or %s)", EnvAuthJWKSURL, EnvAuthPublicKey, EnvAuthIssuer, EnvAuthProviders)
		return entry{}, false
	}
	return e, true
}

// EnvName maps a provider field, as AUTH_PROVIDERS spells it, to the
// single-provider variable that sets it.
func EnvName(field string) string {
	switch field {
	case "issuer":
		return EnvAuthIssuer
	case "jwks_url":
		return EnvAuthJWKSURL
	case "public_key":
		return EnvAuthPublicKey
	case "audience":
		return EnvAuthAudience
	case "algorithms":
		return EnvAuthAlgorithms
	case "leeway":
		return EnvAuthLeeway
	case "token_url":
		return EnvAuthTokenURL
	case "client_auth":
		return EnvAuthClientAuth
	case "client_id":
		return EnvAuthClientID
	case "client_secret_env", "client_secret_file":
		return EnvAuthClientSecret
	case "http_timeout":
		return EnvAuthHTTPTimeout
	case "insecure_http":
		return EnvAuthInsecureHTTP
	case "claims_passthrough":
		return EnvPassthrough
	case "sub_mapping":
		return EnvSubMapping
	case "sub_uuid_namespace":
		return EnvSubNamespace
	case "trust_unverified_email":
		return EnvAuthTrustUnverifiedEmail
	case "allow_any_audience":
		return EnvAuthAllowAnyAudience
	}
	return field
}

// checkProvider applies the rules of a provider entry; name maps a field
// to how the error should name it.
func checkProvider(errs *problems, p *Provider, name func(field string) string) {
	if p.JWKSURL != "" && len(p.PublicKey) > 0 {
		errs.add("%s and %s are both set; set one key source", name("jwks_url"), name("public_key"))
	}
	for _, field := range []string{"issuer", "jwks_url", "token_url"} {
		u := map[string]string{"issuer": p.Issuer, "jwks_url": p.JWKSURL, "token_url": p.TokenURL}[field]
		if u == "" {
			continue
		}
		switch err := idp.CheckURL(u, p.InsecureHTTP); {
		case errors.Is(err, idp.ErrInsecureURL):
			errs.add("%s: plain http is allowed only to a loopback address (127.0.0.0/8, ::1, localhost); use https, or set %s for a provider reached inside the cluster", name(field), name("insecure_http"))
		case err != nil:
			errs.add("%s: not an http(s) URL", name(field))
		}
	}
	for _, a := range p.Algorithms {
		if !slices.Contains(verify.Algorithms, a) {
			errs.add("%s: only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are allowed", name("algorithms"))
			break
		}
	}
	switch p.ClientAuth {
	case "":
		p.ClientAuth = ClientAuthBasic
	case ClientAuthBasic, ClientAuthPost:
	default:
		errs.add("%s: must be basic or post", name("client_auth"))
	}
	if len(p.Secret) > 0 && p.ClientID == "" {
		errs.add("a client secret is set without %s", name("client_id"))
	}
	if p.HTTPTimeout <= 0 {
		p.HTTPTimeout = DefaultHTTPTimeout
	}
}

// boolean reads v as true or false (strconv.ParseBool); empty is nil.
func boolean(v, name string, errs *problems) *bool {
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		errs.add("%s: must be true or false", name)
		return nil
	}
	return &b
}

func subMapping(v, name string, errs *problems) claims.SubMapping {
	switch claims.SubMapping(v) {
	case "", claims.SubPassthrough:
		return claims.SubPassthrough
	case claims.SubUUID5:
		return claims.SubUUID5
	}
	errs.add("%s: must be passthrough or uuid5", name)
	return claims.SubPassthrough
}

func namespace(v, name string, errs *problems) claims.UUID {
	if v == "" {
		return claims.NamespaceURL
	}
	u, err := claims.ParseUUID(v)
	if err != nil {
		errs.add("%s: not a UUID", name)
		return claims.NamespaceURL
	}
	return u
}

// jsonStrict decodes data into v, refusing unknown fields and trailing data.
func jsonStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
