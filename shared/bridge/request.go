package bridge

import (
	"net/http"
	"net/url"
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
