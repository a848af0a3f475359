package refresh

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"supabridge/shared/bridge"
	"supabridge/shared/config"
	"supabridge/shared/function"
	"supabridge/shared/oauth"
	"supabridge/shared/verify"
)

// New builds the refresh handler from cfg. It is a function.Builder. Every
// provider with a client id gets a token-endpoint client; none at all is a
// start error.
func New(ctx context.Context, cfg *config.Config, d function.Deps) (http.Handler, error) {
	b, err := bridge.FromConfig(ctx, cfg, d)
	if err != nil {
		return nil, err
	}
	if !b.CanRefresh() {
		return nil, fmt.Errorf("config: %s is required for refresh (with %s, or %s for discovery)", config.EnvAuthClientID, config.EnvAuthTokenURL, config.EnvAuthIssuer)
	}
	return Handler(b, d), nil
}

// Handler returns the refresh handler over an existing Bridge, whose
// providers' Refreshers it calls, logging and counting through d.
func Handler(b *bridge.Bridge, d function.Deps) http.Handler {
	h := &handler{bridge: b}
	return bridge.Endpoint{Serve: h.serve, Log: d.Log(), Metrics: d.Metrics}
}

type handler struct {
	bridge *bridge.Bridge
}

// Request is a refresh request, parsed once.
type Request struct {
	RefreshToken string
	// Provider names the provider; empty when only one can refresh.
	Provider string
}

// ParseRequest reads a form (grant_type=refresh_token&refresh_token=...) or
// a JSON object ({"refresh_token": "...", "provider": "..."}), each as
// strictly as the other: exact names, no parameter twice, nothing else in
// the body (see parseJSON).
func ParseRequest(r *http.Request) (Request, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var req Request
	switch mt {
	case "application/x-www-form-urlencoded":
		f, err := bridge.ParseForm(r)
		if err != nil {
			return Request{}, err
		}
		if err := bridge.SingleValued(f, "grant_type", "refresh_token", "provider"); err != nil {
			return Request{}, err
		}
		if g, ok := f["grant_type"]; ok && g[0] != oauth.GrantTypeRefreshToken {
			return Request{}, bridge.ErrRefreshGrantType
		}
		req = Request{RefreshToken: f.Get("refresh_token"), Provider: f.Get("provider")}
	case "application/json", "":
		body, err := parseJSON(r.Body)
		if err != nil {
			return Request{}, err
		}
		req = Request{RefreshToken: body.refreshToken, Provider: body.provider}
	default:
		return Request{}, bridge.ErrBadBody
	}
	req.RefreshToken = strings.TrimSpace(req.RefreshToken)
	if req.RefreshToken == "" {
		return Request{}, bridge.ErrNoRefreshToken
	}
	if len(req.RefreshToken) > verify.MaxTokenLen {
		return Request{}, bridge.ErrRefreshTokenTooLarge
	}
	return req, nil
}

func (h *handler) serve(r *http.Request) (bridge.TokenResponse, error) {
	req, err := ParseRequest(r)
	if err != nil {
		return bridge.TokenResponse{}, err
	}
	t, err := h.bridge.Refresher(req.Provider)
	if err != nil {
		return bridge.TokenResponse{}, err
	}
	toks, err := t.Refresher.Refresh(r.Context(), req.RefreshToken)
	if err != nil {
		return bridge.TokenResponse{}, err
	}
	// Verify the ID token, else the access token when it is a JWT.
	subject := toks.IDToken
	if subject == "" && strings.Count(toks.AccessToken, ".") == 2 {
		subject = toks.AccessToken
	}
	if subject == "" {
		return bridge.TokenResponse{}, bridge.ErrNoVerifiable
	}
	s, err := h.bridge.Exchange(r.Context(), subject)
	if err != nil {
		// The client's refresh token was fine; the provider's answer was
		// not. Never a Supabase token, and never the client's fault.
		return bridge.TokenResponse{}, &bridge.ProviderAnswerError{Err: err}
	}
	if s.Provider != t {
		return bridge.TokenResponse{}, bridge.ErrWrongProvider
	}
	resp := s.Response()
	resp.RefreshToken = toks.RefreshToken
	resp.ProviderToken = toks.AccessToken
	resp.IDToken = toks.IDToken
	return resp, nil
}
