package refresh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"supabridge/shared/bridge"
	"supabridge/shared/config"
	"supabridge/shared/oauth"
	"supabridge/shared/outbound"
	"supabridge/shared/provider"
	"supabridge/shared/verify"
)

// Refresher runs a refresh_token grant at one provider.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string) (provider.Tokens, error)
}

// Target is a provider that refresh can use.
type Target struct {
	Name   string
	Client Refresher
}

// New builds the refresh handler from cfg. It is a runtime.Builder. Every
// provider with a client id gets a token-endpoint client; none at all is a
// start error.
func New(ctx context.Context, cfg *config.Config, d bridge.Deps) (http.Handler, error) {
	b, err := bridge.Build(ctx, cfg, d)
	if err != nil {
		return nil, err
	}
	var targets []Target
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		if !p.CanRefresh() {
			continue
		}
		c, err := provider.New(provider.Config{
			TokenURL:     p.TokenURL,
			ClientID:     p.ClientID,
			ClientSecret: p.Secret,
			PostAuth:     p.ClientAuth == config.ClientAuthPost,
		}, b.Discovery[i], outbound.NewClient(outbound.Options{Timeout: p.HTTPTimeout, Transport: d.Transport}))
		if err != nil {
			return nil, fmt.Errorf("refresh: provider %q: %w", p.Name, err)
		}
		targets = append(targets, Target{Name: p.Name, Client: c})
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("config: %s is required for refresh (with %s, or %s for discovery)", config.EnvAuthClientID, config.EnvAuthTokenURL, config.EnvAuthIssuer)
	}
	return NewHandler(b.Bridge, targets, d.Logger), nil
}

// NewHandler returns the handler over an existing Bridge and targets.
func NewHandler(b *bridge.Bridge, targets []Target, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &handler{bridge: b, targets: targets, log: log}
}

type handler struct {
	bridge  *bridge.Bridge
	targets []Target
	log     *slog.Logger
}

// Request is a refresh request, parsed once.
type Request struct {
	RefreshToken string
	// Provider names the provider; empty when only one can refresh.
	Provider string
}

var (
	errNoRefresh     = oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, "refresh_token is required.")
	errGrantType     = oauth.New(http.StatusBadRequest, oauth.CodeUnsupportedGrantType, "Only the refresh_token grant type is served here.")
	errBadBody       = oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, "The body must be a form or a JSON object.")
	errTooLong       = oauth.New(http.StatusRequestEntityTooLarge, oauth.CodeRequestTooLarge, "The refresh token is over 16 KiB.")
	errProvider      = oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, "provider does not name a provider that can refresh.")
	errNeedProvider  = oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, "provider is required: several providers can refresh.")
	errInvalidGrant  = oauth.New(http.StatusBadRequest, oauth.CodeInvalidGrant, "The provider refused the refresh token.")
	errUnverifiable  = oauth.New(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider's answer could not be verified.")
	errNoVerifiable  = oauth.New(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider returned no token that can be verified.")
	errWrongProvider = oauth.New(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider returned a token of another issuer.")
)

// ParseRequest reads a form (grant_type=refresh_token&refresh_token=...) or
// a JSON object ({"refresh_token": "...", "provider": "..."}).
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
			return Request{}, errGrantType
		}
		req = Request{RefreshToken: f.Get("refresh_token"), Provider: f.Get("provider")}
	case "application/json", "":
		var body struct {
			GrantType    *string `json:"grant_type"`
			RefreshToken string  `json:"refresh_token"`
			Provider     string  `json:"provider"`
		}
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&body); err != nil {
			if bridge.TooLarge(err) {
				return Request{}, err
			}
			return Request{}, errBadBody
		}
		if body.GrantType != nil && *body.GrantType != oauth.GrantTypeRefreshToken {
			return Request{}, errGrantType
		}
		req = Request{RefreshToken: body.RefreshToken, Provider: body.Provider}
	default:
		return Request{}, errBadBody
	}
	req.RefreshToken = strings.TrimSpace(req.RefreshToken)
	if req.RefreshToken == "" {
		return Request{}, errNoRefresh
	}
	if len(req.RefreshToken) > verify.MaxTokenLen {
		return Request{}, errTooLong
	}
	return req, nil
}

func (h *handler) target(name string) (*Target, error) {
	if name == "" {
		if len(h.targets) == 1 {
			return &h.targets[0], nil
		}
		return nil, errNeedProvider
	}
	for i := range h.targets {
		if h.targets[i].Name == name {
			return &h.targets[i], nil
		}
	}
	return nil, errProvider
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	resp, err := h.serve(r)
	if err != nil {
		bridge.Fail(w, r, h.log, "refresh", err, false)
		return
	}
	oauth.WriteJSON(w, http.StatusOK, resp)
}

func (h *handler) serve(r *http.Request) (bridge.TokenResponse, error) {
	req, err := ParseRequest(r)
	if err != nil {
		return bridge.TokenResponse{}, err
	}
	t, err := h.target(req.Provider)
	if err != nil {
		return bridge.TokenResponse{}, err
	}
	toks, err := t.Client.Refresh(r.Context(), req.RefreshToken)
	switch {
	case errors.Is(err, provider.ErrInvalidGrant):
		return bridge.TokenResponse{}, errInvalidGrant
	case err != nil:
		return bridge.TokenResponse{}, err
	}
	// Verify the ID token, else the access token when it is a JWT.
	subject := toks.IDToken
	if subject == "" && strings.Count(toks.AccessToken, ".") == 2 {
		subject = toks.AccessToken
	}
	if subject == "" {
		return bridge.TokenResponse{}, errNoVerifiable
	}
	s, err := h.bridge.Exchange(r.Context(), subject)
	if err != nil {
		if e, known := bridge.Classify(err); known && e.Status < 500 {
			// The client's refresh token was fine; the provider's answer
			// was not. Never a Supabase token, and never the client's fault.
			return bridge.TokenResponse{}, errors.Join(errUnverifiable, err)
		}
		return bridge.TokenResponse{}, err
	}
	if s.Provider != t.Name {
		return bridge.TokenResponse{}, errWrongProvider
	}
	resp := s.Response()
	resp.RefreshToken = toks.RefreshToken
	resp.ProviderToken = toks.AccessToken
	resp.IDToken = toks.IDToken
	return resp, nil
}
