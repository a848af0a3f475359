package bridge

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
	"supabridge/shared/keys"
	"supabridge/shared/oauth"
	"supabridge/shared/provider"
	"supabridge/shared/verify"
)

// Request errors that handlers return before a token is checked.
var (
	ErrNoToken             = oauth.New(http.StatusUnauthorized, oauth.CodeInvalidToken, "A bearer token is required.")
	ErrBodyTooLarge        = oauth.New(http.StatusRequestEntityTooLarge, oauth.CodeRequestTooLarge, "The request body is over 64 KiB.")
	ErrTokenTooLarge       = oauth.New(http.StatusRequestEntityTooLarge, oauth.CodeRequestTooLarge, "The token is over 16 KiB.")
	ErrServer              = oauth.New(http.StatusInternalServerError, oauth.CodeServerError, "An internal error occurred.")
	ErrProviderUnavailable = oauth.New(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider could not be reached; try again shortly.")
)

// tokenRule maps a verification failure to the sentence a person reads.
// Order matters: the first match wins.
var tokenRules = []struct {
	err  error
	desc string
}{
	{verify.ErrUnknownIssuer, "The token's issuer is not trusted."},
	{verify.ErrAlgorithm, "The token's signing algorithm is not allowed."},
	{verify.ErrCritical, "The token has a critical header extension that is not supported."},
	{keys.ErrUnknownKey, "The token is signed with an unknown key."},
	{jwt.ErrTokenMalformed, "The token is malformed."},
	{jwt.ErrTokenSignatureInvalid, "The token's signature is invalid."},
	{jwt.ErrTokenExpired, "The token has expired."},
	{jwt.ErrTokenNotValidYet, "The token is not valid yet."},
	{jwt.ErrTokenUsedBeforeIssued, "The token was issued in the future."},
	{jwt.ErrTokenInvalidIssuer, "The token's issuer is not trusted."},
	{jwt.ErrTokenInvalidAudience, "The token's audience is not accepted."},
	{jwt.ErrTokenRequiredClaimMissing, "The token lacks a required claim."},
	{claims.ErrNoSubject, "The token has no subject."},
	{claims.ErrExpired, "The token has expired."},
	{jwt.ErrTokenInvalidClaims, "The token's claims are invalid."},
	{jwt.ErrTokenUnverifiable, "The token could not be verified."},
}

// Classify turns any error from a handler's pipeline into the contract error
// to answer. The second result is false when the error is not one we know:
// it then becomes server_error, and the caller logs its detail.
func Classify(err error) (*oauth.Error, bool) {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe, true
	}
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return ErrBodyTooLarge, true
	case errors.Is(err, verify.ErrTooLarge):
		return ErrTokenTooLarge, true
	case errors.Is(err, keys.ErrUnavailable), errors.Is(err, provider.ErrUnavailable):
		return ErrProviderUnavailable, true
	}
	for _, r := range tokenRules {
		if errors.Is(err, r.err) {
			return oauth.New(http.StatusUnauthorized, oauth.CodeInvalidToken, r.desc), true
		}
	}
	return ErrServer, false
}

// Fail answers err through Classify, the one mapping: an unknown error is
// logged at error level (its text never holds a token: our errors are fixed
// phrases and the libraries' name no token), a provider failure at warn, a
// refused request at debug. what names the function in the log. On the RFC
// 8693 path (tokenExchange) an unacceptable subject token is a 400
// invalid_request, not a 401 (RFC 8693 §2.2.2).
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error, tokenExchange bool) {
	e, known := Classify(err)
	switch {
	case !known:
		log.ErrorContext(r.Context(), what+" failed", "error", err.Error())
	case e.Status >= 500:
		log.WarnContext(r.Context(), what+" failed", "code", e.Code, "error", err.Error())
	default:
		log.DebugContext(r.Context(), what+" refused", "code", e.Code, "error", err.Error())
	}
	if tokenExchange && e.Code == oauth.CodeInvalidToken {
		e = oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, e.Description)
	}
	oauth.WriteError(w, e)
}
