package dex

import (
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// config is the subset of Dex's configuration file (cmd/dex/config.go in
// Dex) that Start writes. Dex reads YAML; this is written as JSON, which
// YAML parsers read as is.
type config struct {
	Issuer           string           `json:"issuer"`
	Storage          storageConfig    `json:"storage"`
	Web              webConfig        `json:"web"`
	Logger           loggerConfig     `json:"logger"`
	OAuth2           oauth2Config     `json:"oauth2"`
	Expiry           expiryConfig     `json:"expiry"`
	Signer           signerConfig     `json:"signer"`
	EnablePasswordDB bool             `json:"enablePasswordDB"`
	StaticPasswords  []staticPassword `json:"staticPasswords"`
	StaticClients    []staticClient   `json:"staticClients"`
}

type storageConfig struct {
	Type string `json:"type"`
}

type webConfig struct {
	HTTP string `json:"http"`
}

type loggerConfig struct {
	Level  string `json:"level"`
	Format string `json:"format"`
}

type oauth2Config struct {
	GrantTypes         []string `json:"grantTypes"`
	ResponseTypes      []string `json:"responseTypes"`
	SkipApprovalScreen bool     `json:"skipApprovalScreen"`
	PasswordConnector  string   `json:"passwordConnector"`
}

type expiryConfig struct {
	IDTokens      string        `json:"idTokens"`
	RefreshTokens refreshConfig `json:"refreshTokens"`
}

type refreshConfig struct {
	DisableRotation   bool   `json:"disableRotation"`
	ReuseInterval     string `json:"reuseInterval"`
	ValidIfNotUsedFor string `json:"validIfNotUsedFor,omitempty"`
	AbsoluteLifetime  string `json:"absoluteLifetime,omitempty"`
}

type signerConfig struct {
	Type   string            `json:"type"`
	Config localSignerConfig `json:"config"`
}

type localSignerConfig struct {
	KeysRotationPeriod string `json:"keysRotationPeriod"`
}

type staticPassword struct {
	Email             string   `json:"email"`
	Hash              string   `json:"hash"`
	Username          string   `json:"username,omitempty"`
	UserID            string   `json:"userID"`
	PreferredUsername string   `json:"preferredUsername,omitempty"`
	Groups            []string `json:"groups,omitempty"`
}

type staticClient struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirectURIs"`
}

// Grant types the static client may use. Dex's default list adds implicit,
// device code and token exchange, which no test here needs.
var grantTypes = []string{"authorization_code", "refresh_token", "password"}

// newConfig is Dex's configuration for o (defaults applied), listening on
// addr, with the users' hashes already made.
func newConfig(issuer, addr string, o Options, users []staticPassword) config {
	return config{
		Issuer:  issuer,
		Storage: storageConfig{Type: "memory"},
		Web:     webConfig{HTTP: addr},
		Logger:  loggerConfig{Level: "info", Format: "text"},
		OAuth2: oauth2Config{
			GrantTypes:         grantTypes,
			ResponseTypes:      []string{"code"},
			SkipApprovalScreen: true,
			PasswordConnector:  "local",
		},
		Expiry: expiryConfig{
			IDTokens: duration(o.IDTokenTTL),
			RefreshTokens: refreshConfig{
				DisableRotation:   o.DisableRotation,
				ReuseInterval:     duration(o.RefreshReuseInterval),
				ValidIfNotUsedFor: optionalDuration(o.RefreshValidIfNotUsedFor),
				AbsoluteLifetime:  optionalDuration(o.RefreshAbsoluteLifetime),
			},
		},
		// One key for the life of a test Dex: no rotation mid-test.
		Signer:           signerConfig{Type: "local", Config: localSignerConfig{KeysRotationPeriod: "24h"}},
		EnablePasswordDB: true,
		StaticPasswords:  users,
		StaticClients: []staticClient{{
			ID:           o.ClientID,
			Secret:       o.ClientSecret,
			Name:         "supabridge tests",
			RedirectURIs: o.RedirectURIs,
		}},
	}
}

// newStaticPassword is u's entry in Dex's password database. Without a
// PasswordHash it hashes the password at bcrypt's default cost, the lowest
// Dex accepts.
func newStaticPassword(u User) (staticPassword, error) {
	hash := u.PasswordHash
	if hash == "" {
		h, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.DefaultCost)
		if err != nil {
			return staticPassword{}, fmt.Errorf("hash password: %w", err)
		}
		hash = string(h)
	} else if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return staticPassword{}, fmt.Errorf("PasswordHash: %w", err)
	}
	return staticPassword{
		Email:             u.Email,
		Hash:              hash,
		Username:          u.Username,
		UserID:            u.UserID,
		PreferredUsername: u.PreferredUsername,
		Groups:            u.Groups,
	}, nil
}

// duration writes d the way Dex parses it (time.ParseDuration).
func duration(d time.Duration) string { return d.String() }

func optionalDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
