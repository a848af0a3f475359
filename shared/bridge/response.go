package bridge

import (
	"log/slog"
	"net/http"

	"supabridge/shared/metrics"
	"supabridge/shared/oauth"
)

// TokenResponse is the JSON body of a successful exchange or refresh.
type TokenResponse struct {
	// SupabaseJWT keeps clients of the well-known Deno function working.
	SupabaseJWT     string `json:"supabaseJwt"`
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	ExpiresAt       int64  `json:"expires_at"`
	IssuedTokenType string `json:"issued_token_type"`
	// Refresh only.
	RefreshToken  string `json:"refresh_token,omitempty"`
	ProviderToken string `json:"provider_token,omitempty"`
	IDToken       string `json:"id_token,omitempty"`

	provider string // the provider that vouched, for metrics; never written
}

// Response returns the contract's success body for s.
func (s Session) Response() TokenResponse {
	return TokenResponse{
		SupabaseJWT:     s.Token.JWT,
		AccessToken:     s.Token.JWT,
		TokenType:       "bearer",
		ExpiresIn:       int64(s.Token.ExpiresAt.Sub(s.Token.IssuedAt).Seconds()),
		ExpiresAt:       s.Token.ExpiresAt.Unix(),
		IssuedTokenType: oauth.TokenTypeAccessToken,
		provider:        s.Provider.Name(),
	}
}

// Endpoint is a token endpoint: Serve parses the request and returns the
// success body or an error, and ServeHTTP writes either, in one place (the
// error through [Fail]). Both functions are an Endpoint.
type Endpoint struct {
	Serve func(r *http.Request) (TokenResponse, error)
	// Log receives refused and failed requests; nil discards them.
	Log *slog.Logger
	// Metrics counts minted and refused tokens; nil is off.
	Metrics *metrics.Metrics
}

// ServeHTTP implements http.Handler.
func (e Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := e.Serve(r)
	if err != nil {
		log := e.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		if e.Metrics != nil {
			c, _ := Classify(err)
			e.Metrics.Token("", c.Code)
			e.Metrics.Refusal(Reason(err))
		}
		Fail(w, r, log, err)
		return
	}
	e.Metrics.Token(resp.provider, metrics.OutcomeMinted)
	oauth.WriteJSON(w, http.StatusOK, resp)
}
