package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
	"supabridge/shared/idp"
	"supabridge/shared/keys"
	"supabridge/shared/oauth"
	"supabridge/shared/verify"
)

// This file is the one place where the contract's errors live: every
// *oauth.Error the functions answer with, and [Classify], the one mapping
// from any other error to one of them. Handlers return errors; [Fail]
// writes them.

// MaxBody is the largest request body accepted, in bytes (the contract's
// 64 KiB).
const MaxBody = 64 << 10

func newErr(status int, code, desc string) *oauth.Error { return oauth.New(status, code, desc) }

// Errors of the edge: methods, limits, the platform's own failures.
var (
	ErrMethodNotAllowed = newErr(http.StatusMethodNotAllowed, oauth.CodeMethodNotAllowed, "This method is not allowed here.")
	ErrBodyTooLarge     = newErr(http.StatusRequestEntityTooLarge, oauth.CodeRequestTooLarge, fmt.Sprintf("The request body is over %d KiB.", MaxBody>>10))
	ErrTokenTooLarge    = newErr(http.StatusRequestEntityTooLarge, oauth.CodeRequestTooLarge, fmt.Sprintf("The token is over %d KiB.", verify.MaxTokenLen>>10))
	ErrServer           = newErr(http.StatusInternalServerError, oauth.CodeServerError, "An internal error occurred.")
	ErrBadEvent         = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "The Lambda event is not an API Gateway, Function URL or ALB HTTP request.")
)

// Errors of request parsing shared by both functions.
var (
	ErrNoToken       = newErr(http.StatusUnauthorized, oauth.CodeInvalidToken, "A bearer token is required.")
	ErrBadForm       = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "The form body could not be parsed.")
	ErrRepeatedParam = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "A parameter was given more than once.")
)

// Errors of the exchange's RFC 8693 form.
var (
	ErrExchangeGrantType = newErr(http.StatusBadRequest, oauth.CodeUnsupportedGrantType, "Only the token-exchange grant type is served here.")
	ErrNoGrantType       = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "grant_type is required.")
	ErrNoSubjectToken    = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "subject_token is required.")
	ErrSubjectTokenType  = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "subject_token_type must be the jwt, id_token or access_token type.")
)

// Errors of the refresh request and of the provider's answer to it.
var (
	ErrNoRefreshToken       = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "refresh_token is required.")
	ErrRefreshGrantType     = newErr(http.StatusBadRequest, oauth.CodeUnsupportedGrantType, "Only the refresh_token grant type is served here.")
	ErrBadBody              = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "The body must be a form or a JSON object.")
	ErrRefreshTokenTooLarge = newErr(http.StatusRequestEntityTooLarge, oauth.CodeRequestTooLarge, fmt.Sprintf("The refresh token is over %d KiB.", verify.MaxTokenLen>>10))
	ErrUnknownProvider      = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "provider does not name a provider that can refresh.")
	ErrNeedProvider         = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, "provider is required: several providers can refresh.")
	ErrInvalidGrant         = newErr(http.StatusBadRequest, oauth.CodeInvalidGrant, "The provider refused the refresh token.")
	ErrUnverifiable         = newErr(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider's answer could not be verified.")
	ErrNoVerifiable         = newErr(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider returned no token that can be verified.")
	ErrWrongProvider        = newErr(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider returned a token of another issuer.")
	ErrProviderUnavailable  = newErr(http.StatusBadGateway, oauth.CodeTemporarilyUnavailable, "The identity provider could not be reached; try again shortly.")
)

// sentinels maps the errors of the lower packages to contract errors.
// Order matters: the first match wins. A refused token is a 401
// invalid_token with the sentence a person reads.
var sentinels = []struct {
	err    error
	to     *oauth.Error
	reason string // a fixed identifier for metrics (Reason)
}{
	{verify.ErrTooLarge, ErrTokenTooLarge, "token_too_large"},
	{keys.ErrUnavailable, ErrProviderUnavailable, "jwks_unavailable"},
	{idp.ErrUnavailable, ErrProviderUnavailable, "provider_unavailable"},
	{idp.ErrInvalidGrant, ErrInvalidGrant, "refresh_token_refused"},
	// The provider refused our client (a wrong id or secret): the
	// operator's problem, answered as an internal error.
	{idp.ErrClient, ErrServer, "client_refused"},
	{verify.ErrUnknownIssuer, refused("The token's issuer is not trusted."), "unknown_issuer"},
	{verify.ErrAlgorithm, refused("The token's signing algorithm is not allowed."), "algorithm"},
	{verify.ErrCritical, refused("The token has a critical header extension that is not supported."), "crit"},
	{keys.ErrUnknownKey, refused("The token is signed with an unknown key."), "unknown_key"},
	{jwt.ErrTokenMalformed, refused("The token is malformed."), "malformed"},
	{jwt.ErrTokenSignatureInvalid, refused("The token's signature is invalid."), "bad_signature"},
	{jwt.ErrTokenExpired, refused("The token has expired."), "expired"},
	{jwt.ErrTokenNotValidYet, refused("The token is not valid yet."), "not_yet_valid"},
	{jwt.ErrTokenUsedBeforeIssued, refused("The token was issued in the future."), "issued_in_future"},
	{jwt.ErrTokenInvalidIssuer, refused("The token's issuer is not trusted."), "unknown_issuer"},
	{jwt.ErrTokenInvalidAudience, refused("The token's audience is not accepted."), "audience"},
	{jwt.ErrTokenRequiredClaimMissing, refused("The token lacks a required claim."), "missing_claim"},
	{claims.ErrNoSubject, refused("The token has no subject."), "no_subject"},
	{claims.ErrExpired, refused("The token has expired."), "expired"},
	{jwt.ErrTokenInvalidClaims, refused("The token's claims are invalid."), "invalid_claims"},
	{jwt.ErrTokenUnverifiable, refused("The token could not be verified."), "unverifiable"},
}

func refused(desc string) *oauth.Error {
	return newErr(http.StatusUnauthorized, oauth.CodeInvalidToken, desc)
}

// SubjectTokenError marks the failure of a token given as an RFC 8693
// subject_token: an unacceptable one is a 400 invalid_request there, not a
// 401 (RFC 8693 §2.2.2).
type SubjectTokenError struct{ Err error }

func (e *SubjectTokenError) Error() string { return e.Err.Error() }
func (e *SubjectTokenError) Unwrap() error { return e.Err }

// ProviderAnswerError marks the failure to turn a provider's own answer (the
// id_token a refresh returned) into a session: whatever the token's fault,
// the client's refresh token was fine, so it is never a 4xx.
type ProviderAnswerError struct{ Err error }

func (e *ProviderAnswerError) Error() string { return e.Err.Error() }
func (e *ProviderAnswerError) Unwrap() error { return e.Err }

// Classify turns any error from a handler's pipeline into the contract error
// to answer. The second result is false when the error is not one we know:
// it then becomes server_error, and the caller logs its detail.
func Classify(err error) (*oauth.Error, bool) {
	var ste *SubjectTokenError
	if errors.As(err, &ste) {
		e, known := Classify(ste.Err)
		if e.Code == oauth.CodeInvalidToken {
			e = newErr(http.StatusBadRequest, oauth.CodeInvalidRequest, e.Description)
		}
		return e, known
	}
	var pae *ProviderAnswerError
	if errors.As(err, &pae) {
		e, known := Classify(pae.Err)
		if known && e.Status < 500 {
			e = ErrUnverifiable
		}
		return e, known
	}
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe, true
	}
	if TooLarge(err) {
		return ErrBodyTooLarge, true
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.to, true
		}
	}
	return ErrServer, false
}

// Reason names why a request failed with a fixed identifier (expired,
// unknown_key, ...), for metrics: the reason of the first sentinel err
// wraps, else the contract's error code, else "internal". A label built
// from it can only take a small fixed set of values.
func Reason(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.reason
		}
	}
	if TooLarge(err) {
		return "body_too_large"
	}
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	return "internal"
}

// Fail answers err through Classify, the one mapping: an unknown error is
// logged at error level (its text never holds a token: our errors are fixed
// phrases and the libraries' name no token), a server-side or provider
// failure at warn, a refused request at debug.
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e, known := Classify(err)
	switch {
	case !known:
		log.ErrorContext(r.Context(), "request failed", "error", err.Error())
	case e.Status >= 500:
		log.WarnContext(r.Context(), "request failed", "code", e.Code, "error", err.Error())
	default:
		log.DebugContext(r.Context(), "request refused", "code", e.Code, "error", err.Error())
	}
	oauth.WriteError(w, e)
}

// TooLarge reports whether err is the edge's body limit being hit.
func TooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
