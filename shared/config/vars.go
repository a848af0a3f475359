package config

// Variable describes one environment variable the configuration reads.
type Variable struct {
	Name        string
	Required    bool // must be set, directly, as <Name>_FILE or through an alias
	Secret      bool // also read from <Name>_FILE; never printed
	Description string
}

// Names of the environment variables.
const (
	EnvSecret           = "SUPABASE_JWT_SECRET"
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
	EnvLogLevel             = "LOG_LEVEL"
)

var variables = []Variable{
	{EnvSecret, true, true, "Supabase JWT secret (HS256), at least 32 bytes; alias JWT_SECRET"},
	{EnvSecretAlias, false, true, "alias of SUPABASE_JWT_SECRET (the key in supabase-secrets); must equal it when both are set"},
	{EnvIssuer, false, false, `"iss" of minted tokens (default "supabase")`},
	{EnvAudience, false, false, `"aud" of minted tokens (default "authenticated")`},
	{EnvMaxTTL, false, false, "longest lifetime of a minted token (default 3600 s)"},
	{EnvPassthrough, false, false, "provider claims copied into the token (default email,email_verified,name,preferred_username,groups,org_id)"},
	{EnvSubMapping, false, false, "passthrough (default) or uuid5"},
	{EnvSubNamespace, false, false, "UUIDv5 namespace for SUB_MAPPING=uuid5 (default the URL namespace)"},
	{EnvAuthIssuer, false, false, "provider issuer, compared byte for byte; alone, enables discovery"},
	{EnvAuthJWKSURL, false, false, "provider JWKS URL"},
	{EnvAuthPublicKey, false, false, "provider public key: PEM, JWK or JWK Set (also AUTH_PUBLIC_KEY_FILE)"},
	{EnvAuthAudience, false, false, "accepted audiences, comma list"},
	{EnvAuthAllowAnyAudience, false, false, "true: accept tokens for any audience, on purpose (doctor fails a provider with neither this nor AUTH_AUDIENCE)"},
	{EnvAuthAlgorithms, false, false, "allowed algorithms, comma list of RS*, PS*, ES*, EdDSA"},
	{EnvAuthLeeway, false, false, "clock leeway for exp, nbf, iat (default 30 s)"},
	{EnvAuthTokenURL, false, false, "provider token endpoint for refresh (default from discovery)"},
	{EnvAuthClientID, false, false, "OAuth client id for refresh"},
	{EnvAuthClientSecret, false, true, "OAuth client secret for refresh (optional: public clients)"},
	{EnvAuthClientAuth, false, false, "basic (default) or post: how the client authenticates to the token endpoint"},
	{EnvAuthHTTPTimeout, false, false, "bound of every call to the provider (default 5 s)"},
	{EnvAuthTrustUnverifiedEmail, false, false, "true: mint the provider's email even when email_verified is not true (default false: such an email is left out)"},
	{EnvAuthProviders, false, false, "several providers as a JSON array (see README)"},
	{EnvAuthProvidersFile, false, false, "path of a JSON or YAML file holding AUTH_PROVIDERS"},
	{EnvCORSOrigins, false, false, "* (default) or a comma list of allowed origins"},
	{EnvPort, false, false, "HTTP port outside Lambda (default 8080)"},
	{EnvLogLevel, false, false, "debug, info (default), warn or error"},
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
// For a Secret variable, <Name>_FILE is read too; AUTH_PUBLIC_KEY also
// accepts AUTH_PUBLIC_KEY_FILE.
func Variables() []Variable {
	return append([]Variable(nil), variables...)
}
