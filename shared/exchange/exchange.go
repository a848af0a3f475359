package exchange

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"supabridge/shared/bridge"
	"supabridge/shared/config"
	"supabridge/shared/function"
	"supabridge/shared/oauth"
)

// New builds the exchange handler from cfg. It is a function.Builder.
func New(ctx context.Context, cfg *config.Config, d function.Deps) (http.Handler, error) {
	b, err := bridge.FromConfig(ctx, cfg, d)
	if err != nil {
		return nil, err
	}
	h := &handler{bridge: b}
	return bridge.Endpoint{Serve: h.serve, Log: d.Log(), Metrics: d.Metrics}, nil
}

type handler struct {
	bridge *bridge.Bridge
}

// Request is an exchange request, parsed once.
type Request struct {
	// Token is the provider JWT.
	Token string
	// Form is true on the RFC 8693 path, where an unacceptable token is a
	// 400 invalid_request (RFC 8693 §2.2.2), not a 401.
	Form bool
}

// ParseRequest reads an exchange request. A form body with a grant_type
// takes the RFC 8693 path (an Authorization header there is client
// authentication, RFC 8693 §2.1, and is not the subject token); otherwise
// the bearer token of the Authorization header is the token.
func ParseRequest(r *http.Request) (Request, error) {
	if isForm(r) {
		f, err := bridge.ParseForm(r)
		if err != nil {
			return Request{}, err
		}
		if _, ok := f["grant_type"]; ok {
			return parseTokenExchange(f)
		}
	}
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return Request{}, bridge.ErrNoToken
	}
	return Request{Token: token}, nil
}

func parseTokenExchange(f url.Values) (Request, error) {
	if err := bridge.SingleValued(f, "grant_type", "subject_token", "subject_token_type"); err != nil {
		return Request{}, err
	}
	switch f.Get("grant_type") {
	case oauth.GrantTypeTokenExchange:
	case "":
		return Request{}, bridge.ErrNoGrantType
	default:
		return Request{}, bridge.ErrExchangeGrantType
	}
	tok := f.Get("subject_token")
	if tok == "" {
		return Request{}, bridge.ErrNoSubjectToken
	}
	switch f.Get("subject_token_type") {
	case oauth.TokenTypeJWT, oauth.TokenTypeIDToken, oauth.TokenTypeAccessToken:
	default:
		return Request{}, bridge.ErrSubjectTokenType
	}
	return Request{Token: tok, Form: true}, nil
}

func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// bearer extracts the token of "Bearer <token>", the scheme word in any
// case (RFC 7235 §2.1).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func (h *handler) serve(r *http.Request) (bridge.TokenResponse, error) {
	req, err := ParseRequest(r)
	if err != nil {
		return bridge.TokenResponse{}, err
	}
	s, err := h.bridge.Exchange(r.Context(), req.Token)
	if err != nil {
		if req.Form {
			err = &bridge.SubjectTokenError{Err: err}
		}
		return bridge.TokenResponse{}, err
	}
	return s.Response(), nil
}
