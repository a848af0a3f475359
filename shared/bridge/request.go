package bridge

import (
	"errors"
	"net/http"
	"net/url"

	"supabridge/shared/oauth"
)

// Request errors shared by the handlers' parsers.
var (
	ErrBadForm       = oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, "The form body could not be parsed.")
	ErrRepeatedParam = oauth.New(http.StatusBadRequest, oauth.CodeInvalidRequest, "A parameter was given more than once.")
)

// ParseForm parses r's form body once and returns it. A body over the
// edge's limit comes back as its *http.MaxBytesError (a 413 through
// Classify); any other failure is ErrBadForm.
func ParseForm(r *http.Request) (url.Values, error) {
	if err := r.ParseForm(); err != nil {
		if TooLarge(err) {
			return nil, err
		}
		return nil, ErrBadForm
	}
	return r.PostForm, nil
}

// SingleValued refuses a parameter given more than once (RFC 6749 §3.2).
func SingleValued(f url.Values, names ...string) error {
	for _, k := range names {
		if len(f[k]) > 1 {
			return ErrRepeatedParam
		}
	}
	return nil
}

// TooLarge reports whether err is the edge's body limit being hit.
func TooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
