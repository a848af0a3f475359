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
// into raw members, then types the registered claims strictly: an "exp" that
// is not a number or an "aud" that is neither a string nor an array of
// strings is a decoding error, never a silently absent claim (the trap of
// jwt.MapClaims in golang-jwt v5.3).
type Payload struct {
	jwt.RegisteredClaims
	raw map[string]json.RawMessage
}

var _ jwt.Claims = (*Payload)(nil)

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
		name string
		dst  any
	}{
		{"iss", &p.Issuer},
		{"sub", &p.Subject},
		{"aud", &p.Audience},
		{"exp", &p.ExpiresAt},
		{"nbf", &p.NotBefore},
		{"iat", &p.IssuedAt},
		{"jti", &p.ID},
	}
	for _, f := range fields {
		v, ok := raw[f.name]
		if !ok || bytes.Equal(v, []byte("null")) {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return fmt.Errorf("claims: claim %q has the wrong type: %w", f.name, err)
		}
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
