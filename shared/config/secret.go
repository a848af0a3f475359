package config

import "supabridge/shared/claims"

// Secret is a secret value held by the configuration; it prints redacted.
type Secret = claims.Secret
