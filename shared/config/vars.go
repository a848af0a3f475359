package config

// Variable describes one environment variable the configuration reads.
type Variable struct {
	Name string
	// Required: must be set, directly, as <Name>_FILE or through an alias,
	// unless one of Alternatives is set.
	Required bool
	// Secret: also read from <Name>_FILE; never printed.
	Secret      bool
	Description string
	// Alternatives are the variables that stand in for a Required one.
	Alternatives []string
}

// Names of the environment variables.
const (
	EnvSecret           = "SUPABASE_JWT_SECRET"
	EnvSigningKey       = "SUPABRIDGE_SIGNING_KEY"
	EnvJWTKeys          = "SUPABASE_JWT_KEYS"
	EnvPreviousKeys     = "SUPABRIDGE_PREVIOUS_KEYS"
	EnvSecretAlias      = "JWT_SECRET"
	EnvIssuer           = "SUPABASE_JWT_ISSUER"
	EnvAudience         = "SUPABASE_JWT_AUDIENCE"
	EnvMaxTTL           = "SUPABASE_JWT_MAX_TTL"
	EnvPassthrough      = "CLAIMS_PASSTHROUGH"
	EnvSubMapping       = "SUB_MAPPING"
	EnvSubNamespace     = "SUB_UUID_NAMESPACE"
	EnvAuthIssuer       = "AUTH_ISSUER"
	EnvAuthJWKSURL      = "AUTH_JWKS_URL"
	EnvAuthPublicKey    = "AUTH_PUBLIC_KEY"
	EnvAuthAudience     = "AUTH_AUDIENCE"
	EnvAuthAlgorithms   = "AUTH_ALGORITHMS"
	EnvAuthLeeway       = "AUTH_LEEWAY"
	EnvAuthTokenURL     = "AUTH_TOKEN_URL"
	EnvAuthClientID     = "AUTH_CLIENT_ID"
	EnvAuthClientSecret = "AUTH_CLIENT_SECRET"
	EnvAuthClientAuth   = "AUTH_CLIENT_AUTH"
	EnvAuthHTTPTimeout  = "AUTH_HTTP_TIMEOUT"
	EnvAuthInsecureHTTP = "AUTH_INSECURE_HTTP"
	// EnvAuthTrustUnverifiedEmail keeps the provider's email in the minted
	// token even when its email_verified is not true.
	EnvAuthTrustUnverifiedEmail = "AUTH_TRUST_UNVERIFIED_EMAIL"
	// EnvAuthAllowAnyAudience is the explicit opt-out of an audience
	// check, which doctor otherwise asks for.
	EnvAuthAllowAnyAudience = "AUTH_ALLOW_ANY_AUDIENCE"
	EnvAuthProviders        = "AUTH_PROVIDERS"
	EnvAuthProvidersFile    = "AUTH_PROVIDERS_FILE"
	EnvCORSOrigins          = "CORS_ALLOWED_ORIGINS"
	EnvPort                 = "PORT"
	EnvMetricsPort          = "METRICS_PORT"
	EnvLogLevel             = "LOG_LEVEL"
)

var variables = []Variable{
	{EnvSecret, true, true, "legacy Supabase JWT secret, at least 32 bytes; signs HS256 with no kid when neither SUPABRIDGE_SIGNING_KEY nor SUPABASE_JWT_KEYS is set; alias JWT_SECRET", []string{EnvSigningKey, EnvJWTKeys}},
	{EnvSecretAlias, false, true, "alias of SUPABASE_JWT_SECRET (the key in supabase-secrets); must equal it when both are set", nil},
	{EnvSigningKey, false, true, "the bridge's own signing key (recommended): a private JWK, EC P-256 (ES256) or RSA (RS256), with a kid, made by supabridge keys signing-key; signs when set", nil},
	{EnvJWTKeys, false, true, "Supabase Auth's JWT_KEYS (GOTRUE_JWT_KEYS), a JSON array of JWKs: its one signing key (key_ops \"sign\") signs with its kid unless SUPABRIDGE_SIGNING_KEY is set", nil},
	{EnvPreviousKeys, false, false, "public JWK or JWK Set published beside the signing key, never used to sign: the keys of before a rotation (also SUPABRIDGE_PREVIOUS_KEYS_FILE)", nil},
	{EnvIssuer, false, false, `"iss" of minted tokens (default "supabase")`, nil},
	{EnvAudience, false, false, `"aud" of minted tokens (default "authenticated")`, nil},
	{EnvMaxTTL, false, false, "longest lifetime of a minted token (default 3600 s)", nil},
	{EnvPassthrough, false, false, "provider claims copied into the token (default email,email_verified,name,preferred_username,groups,org_id)", nil},
	{EnvSubMapping, false, false, "passthrough (default) or uuid5", nil},
	{EnvSubNamespace, false, false, "UUIDv5 namespace for SUB_MAPPING=uuid5 (default the URL namespace)", nil},
	{EnvAuthIssuer, false, false, "provider issuer, compared byte for byte; alone, enables discovery", nil},
	{EnvAuthJWKSURL, false, false, "provider JWKS URL", nil},
	{EnvAuthPublicKey, false, false, "provider public key: PEM, JWK or JWK Set (also AUTH_PUBLIC_KEY_FILE)", nil},
	{EnvAuthAudience, false, false, "accepted audiences, comma list", nil},
	{EnvAuthAllowAnyAudience, false, false, "true: accept tokens for any audience, on purpose (doctor fails a provider with neither this nor AUTH_AUDIENCE)", nil},
	{EnvAuthAlgorithms, false, false, "allowed algorithms, comma list of RS*, PS*, ES*, EdDSA", nil},
	{EnvAuthLeeway, false, false, "clock leeway for exp, nbf, iat (default 30 s)", nil},
	{EnvAuthTokenURL, false, false, "provider token endpoint for refresh (default from discovery)", nil},
	{EnvAuthClientID, false, false, "OAuth client id for refresh", nil},
	{EnvAuthClientSecret, false, true, "OAuth client secret for refresh (optional: public clients)", nil},
	{EnvAuthClientAuth, false, false, "basic (default) or post: how the client authenticates to the token endpoint", nil},
	{EnvAuthHTTPTimeout, false, false, "bound of every call to the provider (default 5 s)", nil},
	{EnvAuthTrustUnverifiedEmail, false, false, "true: mint the provider's email even when email_verified is not true (default false: such an email is left out)", nil},
	{EnvAuthInsecureHTTP, false, false, "true allows plain-http provider URLs to hosts that are not loopback (a provider inside the cluster); logged as a warning at start", nil},
	{EnvAuthProviders, false, false, "several providers as a JSON array (see README)", nil},
	{EnvAuthProvidersFile, false, false, "path of a JSON or YAML file holding AUTH_PROVIDERS", nil},
	{EnvCORSOrigins, false, false, "* (default) or a comma list of allowed origins", nil},
	{EnvPort, false, false, "HTTP port outside Lambda (default 8080)", nil},
	{EnvMetricsPort, false, false, "port of the Prometheus metrics (/metrics) outside Lambda; off (the default) serves none", nil},
	{EnvLogLevel, false, false, "debug, info (default), warn or error", nil},
}

// ownVariable reports whether name is a variable the configuration reads
// for itself: one Variables lists, the _FILE form of a secret one, or
// AUTH_PUBLIC_KEY_FILE.
func ownVariable(name string) bool {
	for _, v := range variables {
		if name == v.Name || (v.Secret && name == v.Name+"_FILE") {
			return true
		}
	}
	return name == EnvAuthPublicKey+"_FILE"
}

// Variables returns every environment variable the configuration reads.
// For a Secret variable, <Name>_FILE is read too; AUTH_PUBLIC_KEY and
// SUPABRIDGE_PREVIOUS_KEYS, public keys, also accept the _FILE form.
func Variables() []Variable {
	out := append([]Variable(nil), variables...)
	for i := range out {
		out[i].Alternatives = append([]string(nil), out[i].Alternatives...)
	}
	return out
}
