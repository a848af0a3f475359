package oauth

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error codes used in the contract's error responses.
const (
	CodeInvalidRequest         = "invalid_request"         // RFC 6749 §5.2
	CodeUnsupportedGrantType   = "unsupported_grant_type"  // RFC 6749 §5.2
	CodeInvalidGrant           = "invalid_grant"           // RFC 6749 §5.2
	CodeInvalidToken           = "invalid_token"           // RFC 6750 §3.1
	CodeMethodNotAllowed       = "method_not_allowed"      // the contract's own
	CodeRequestTooLarge        = "request_too_large"       // the contract's own
	CodeTemporarilyUnavailable = "temporarily_unavailable" // RFC 6749 §4.1.2.1
	CodeServerError            = "server_error"            // RFC 6749 §4.1.2.1
)

// Grant types and token-type identifiers (RFC 6749 §6, RFC 8693 §2.1, §3).
const (
	GrantTypeRefreshToken  = "refresh_token"
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken     = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
)

// Error is a contract error: the HTTP status, the OAuth error code and a
// description written for a person. A description is always a fixed phrase
// chosen by our code; it never holds a token, a claim value or a secret.
type Error struct {
	Status      int
	Code        string
	Description string
}

// Error implements error.
func (e *Error) Error() string { return "oauth: " + e.Code + ": " + e.Description }

// New returns an *Error.
func New(status int, code, description string) *Error {
	return &Error{Status: status, Code: code, Description: description}
}

// ErrorRecorder is implemented by response writers that want to know the
// error code of the response, such as the access log of package edge.
type ErrorRecorder interface {
	RecordError(code string)
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// WriteError writes e as the contract's JSON error. A 401 carries the
// WWW-Authenticate challenge of RFC 6750 §3.
func WriteError(w http.ResponseWriter, e *Error) {
	if rec, ok := w.(ErrorRecorder); ok {
		rec.RecordError(e.Code)
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	WriteJSON(w, e.Status, errorBody{Error: e.Code, Description: e.Description})
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here; they always marshal.
		status = http.StatusInternalServerError
		body = []byte(`{"error":"server_error","error_description":"The response could not be encoded."}`)
	}
	WriteBody(w, status, append(body, '\n'))
}

// WriteBody writes body, JSON ending in a newline, with the given status,
// Content-Type application/json (kept when the edge has set it already)
// and its Content-Length.
func WriteBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	if ct := h["Content-Type"]; len(ct) != 1 || ct[0] != "application/json" {
		h.Set("Content-Type", "application/json")
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// verbatim marks the bytes json.Marshal writes as they are in a string.
var verbatim = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendString appends s as a JSON string exactly as json.Marshal writes it:
// printable ASCII other than the quote, the backslash and <, >, & (which
// encoding/json escapes for HTML) as is, anything else through
// json.Marshal. Tokens (base64url and dots) take the first path.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !verbatim[s[i]] {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
