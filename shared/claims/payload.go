package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Payload is the decoded payload of a provider token. It decodes the payload once
// into raw members, then types the registered claims strictly, as RFC 7519
// §4.1 does: an "exp" that is not a JSON number (a string of digits is not
// one), an "aud" that is neither a string nor an array of strings, or any
// registered claim that is null is a decoding error wrapping [ErrClaimType],
// never a silently absent claim (the trap of jwt.MapClaims in golang-jwt
// v5.3).
type Payload struct {
	jwt.RegisteredClaims
	raw map[string]json.RawMessage
}

var _ jwt.Claims = (*Payload)(nil)

// ErrClaimType is a registered claim whose JSON type is not the one RFC 7519
// §4.1 gives it. It comes wrapped with the claim's name.
var ErrClaimType = errors.New("claims: registered claim of the wrong type")

// UnmarshalJSON implements json.Unmarshaler.
func (p *Payload) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("claims: payload is not a JSON object: %w", err)
	}
	if raw == nil {
		return errors.New("claims: payload is null")
	}
	p.raw = raw
	p.RegisteredClaims = jwt.RegisteredClaims{}
	fields := []struct {
		name    string
		dst     any
		numeric bool
	}{
		{"iss", &p.Issuer, false},
		{"sub", &p.Subject, false},
		{"aud", &p.Audience, false},
		{"exp", &p.ExpiresAt, true},
		{"nbf", &p.NotBefore, true},
		{"iat", &p.IssuedAt, true},
		{"jti", &p.ID, false},
	}
	for _, f := range fields {
		v, ok := raw[f.name]
		if !ok {
			continue
		}
		if err := registeredType(v, f.numeric); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrClaimType, f.name, err)
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrClaimType, f.name, err)
		}
	}
	return nil
}

// registeredType checks what json.Unmarshal into the claim's Go type lets
// through: null, which leaves any Go value as it was (a claim present but
// null would read as absent), and, for a NumericDate, a JSON string, which
// golang-jwt reads through json.Number and so takes "1800000000" for a date.
// RFC 7519 §2 and §4.1 give neither: a NumericDate is a JSON number, the
// other registered claims are strings (aud: or an array of them).
func registeredType(v json.RawMessage, numeric bool) error {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || bytes.Equal(v, []byte("null")):
		return errors.New("null")
	case numeric && v[0] != '-' && (v[0] < '0' || v[0] > '9'):
		return errors.New("not a JSON number")
	}
	return nil
}

// Raw returns the JSON of the top-level claim name, if present.
func (p *Payload) Raw(name string) (json.RawMessage, bool) {
	v, ok := p.raw[name]
	return v, ok
}

// Pointer resolves an RFC 6901 JSON Pointer against the payload. A pointer
// that matches nothing reports false: the claim is absent, not null.
func (p *Payload) Pointer(ptr string) (json.RawMessage, bool) {
	if ptr == "" || ptr[0] != '/' {
		return nil, false
	}
	segs := strings.Split(ptr[1:], "/")
	cur, ok := p.raw[unescapePointer(segs[0])]
	if !ok {
		return nil, false
	}
	for _, s := range segs[1:] {
		s = unescapePointer(s)
		cur = bytes.TrimSpace(cur)
		switch {
		case len(cur) > 0 && cur[0] == '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(cur, &m) != nil {
				return nil, false
			}
			if cur, ok = m[s]; !ok {
				return nil, false
			}
		case len(cur) > 0 && cur[0] == '[':
			var a []json.RawMessage
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || json.Unmarshal(cur, &a) != nil || i >= len(a) {
				return nil, false
			}
			cur = a[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// ValidPointer reports whether ptr is a syntactically valid, non-empty RFC
// 6901 pointer ("~" only as "~0" or "~1").
func ValidPointer(ptr string) bool {
	if len(ptr) < 2 || ptr[0] != '/' {
		return false
	}
	for i := 0; i < len(ptr); i++ {
		if ptr[i] == '~' && (i+1 == len(ptr) || (ptr[i+1] != '0' && ptr[i+1] != '1')) {
			return false
		}
	}
	return true
}

func unescapePointer(s string) string {
	if !strings.Contains(s, "~") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
