package bridge

import (
	"log/slog"
	"net/http"
	"strconv"

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
	oauth.WriteBody(w, http.StatusOK, resp.AppendJSON(make([]byte, 0, resp.size())))
}

// AppendJSON appends r as json.Marshal writes it, and a newline: the
// members in the struct's order, the refresh-only ones when not empty.
func (r *TokenResponse) AppendJSON(b []byte) []byte {
	b = append(b, `{"supabaseJwt":`...)
	b = oauth.AppendString(b, r.SupabaseJWT)
	b = append(b, `,"access_token":`...)
	b = oauth.AppendString(b, r.AccessToken)
	b = append(b, `,"token_type":`...)
	b = oauth.AppendString(b, r.TokenType)
	b = append(b, `,"expires_in":`...)
	b = strconv.AppendInt(b, r.ExpiresIn, 10)
	b = append(b, `,"expires_at":`...)
	b = strconv.AppendInt(b, r.ExpiresAt, 10)
	b = append(b, `,"issued_token_type":`...)
	b = oauth.AppendString(b, r.IssuedTokenType)
	for _, m := range []struct{ key, v string }{
		{`,"refresh_token":`, r.RefreshToken},
		{`,"provider_token":`, r.ProviderToken},
		{`,"id_token":`, r.IDToken},
	} {
		if m.v != "" {
			b = append(b, m.key...)
			b = oauth.AppendString(b, m.v)
		}
	}
	return append(b, "}\n"...)
}

// size is the length of r's JSON when no string needs escaping: the
// buffer AppendJSON fills without growing.
func (r *TokenResponse) size() int {
	return 160 + len(r.SupabaseJWT) + len(r.AccessToken) + len(r.TokenType) + len(r.IssuedTokenType) +
		len(r.RefreshToken) + len(r.ProviderToken) + len(r.IDToken) + 3*20
}
