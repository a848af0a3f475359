package refresh

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode"

	"supabridge/shared/bridge"
	"supabridge/shared/oauth"
)

// jsonBody is the JSON form of a refresh request.
type jsonBody struct {
	grantType    *string
	refreshToken string
	provider     string
}

// parseJSON reads a JSON refresh request as strictly as the form is read.
// encoding/json alone would match "REFRESH_TOKEN" (or "refreſh_token") to
// refresh_token, let the last of two equal keys win, and ignore whatever
// follows the object; a client (or a proxy that rewrote the body) would
// then not get what it sent. So the object is walked as a token stream:
// the three parameters are read by their exact names, a key given twice in
// any letter case (Unicode simple folding, the one encoding/json applies)
// is refused, other keys are ignored as the form ignores unknown parameters,
// and only white space may follow the object. A body over the edge's limit
// comes back as its *http.MaxBytesError; anything else is ErrBadBody.
func parseJSON(r io.Reader) (jsonBody, error) {
	dec := json.NewDecoder(r)
	fail := func(err error) (jsonBody, error) {
		if bridge.TooLarge(err) {
			return jsonBody{}, err
		}
		return jsonBody{}, bridge.ErrBadBody
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fail(err)
	}
	var (
		body jsonBody
		seen = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys here
		folded := fold(key)
		if seen[folded] {
			return jsonBody{}, bridge.ErrBadBody
		}
		seen[folded] = true
		var dst any
		switch key {
		case "grant_type":
			dst = &body.grantType
		case "refresh_token":
			dst = &body.refreshToken
		case "provider":
			dst = &body.provider
		default:
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return fail(err)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fail(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(err)
	}
	if body.grantType != nil && *body.grantType != oauth.GrantTypeRefreshToken {
		return jsonBody{}, bridge.ErrRefreshGrantType
	}
	return body, nil
}

// fold maps s to one representative of its case-folding class: each rune
// becomes the smallest rune of its unicode.SimpleFold orbit, so "K", "k"
// and the Kelvin sign fold alike, as they do for strings.EqualFold.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
