package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// Payload is the decoded payload of a provider token. It decodes the payload once
// into raw members, then types the registered claims strictly, as RFC 7519
// §4.1 does: an "exp" that is not a JSON number (a string of digits is not
// one), an "aud" that is neither a string nor an array of strings, or any
// registered claim that is null is a decoding error wrapping [ErrClaimType],
// never a silently absent claim (the trap of jwt.MapClaims in golang-jwt
// v5.3).
//
// Member names are matched exactly (after JSON unescaping), and when a name
// appears twice the last one counts, as with encoding/json into a map (RFC
// 7519 §4 allows either that or refusing the token).
type Payload struct {
	jwt.RegisteredClaims
	members []member // top-level members, in document order
}

// member is one top-level member: its unescaped name and its raw JSON
// value (no surrounding whitespace), both pointing into the decoded
// payload, which the Payload keeps.
type member struct {
	name  []byte
	value json.RawMessage
}

var _ jwt.Claims = (*Payload)(nil)

// ErrClaimType is a registered claim whose JSON type is not the one RFC 7519
// §4.1 gives it. It comes wrapped with the claim's name.
var ErrClaimType = errors.New("claims: registered claim of the wrong type")

// Decoder options that make jsontext read exactly what encoding/json
// reads: a repeated name is allowed (the last one counts), and so is
// invalid UTF-8 in a string (a decoded string gets U+FFFD in its place; a
// raw value is kept as it came).
var (
	allowDuplicateNames = jsontext.AllowDuplicateNames(true)
	allowInvalidUTF8    = jsontext.AllowInvalidUTF8(true)
)

// JSONDecoder is a jsontext decoder and the buffer it reads, pooled: a
// Decoder is a large value, and reading from a bytes.Buffer it parses in
// place. It reads what encoding/json reads (repeated names, invalid UTF-8
// in strings). The payload here and the JOSE header in package verify are
// read with it. Get one with [GetJSONDecoder], return it with Put.
type JSONDecoder struct {
	buf bytes.Buffer
	// Dec reads the data given to GetJSONDecoder.
	Dec jsontext.Decoder
}

var decoders = sync.Pool{New: func() any { return new(JSONDecoder) }}

// GetJSONDecoder returns a pooled decoder reading data.
func GetJSONDecoder(data []byte) *JSONDecoder {
	d := decoders.Get().(*JSONDecoder)
	d.buf.Reset()
	d.buf.Write(data)
	d.Dec.Reset(&d.buf, allowDuplicateNames, allowInvalidUTF8)
	return d
}

// Put returns d to the pool; d must not be used afterwards.
func (d *JSONDecoder) Put() { decoders.Put(d) }

// NewJSONDecoder returns an unpooled decoder of r with the same options.
func NewJSONDecoder(r io.Reader) *jsontext.Decoder {
	return jsontext.NewDecoder(r, allowDuplicateNames, allowInvalidUTF8)
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Payload) UnmarshalJSON(data []byte) error {
	return p.Decode(bytes.Clone(data))
}

// Decode decodes the JSON payload data into p. p keeps data and points
// into it: the caller must not change data afterwards (the verifier hands
// over the buffer it decoded from base64url). It accepts and refuses
// exactly what encoding/json's Unmarshal into a map[string]json.RawMessage
// does, then types the registered claims.
//
// It reads data once, with the JSON v2 tokenizer (jsontext), keeping each
// member as a slice of data: no map and no copy per member.
func (p *Payload) Decode(data []byte) error {
	p.RegisteredClaims = jwt.RegisteredClaims{}
	p.members = p.members[:0]
	d := GetJSONDecoder(data)
	err := (&membersOf{p: p, data: data}).read(&d.Dec)
	d.Put()
	if err != nil {
		if errors.Is(err, errNull) {
			return errNull
		}
		return fmt.Errorf("claims: payload is not a JSON object: %w", err)
	}
	fields := []struct {
		name    string
		numeric bool
		decode  func(p *Payload, v []byte) error
	}{
		{"iss", false, func(p *Payload, v []byte) (err error) { p.Issuer, err = jsonString(v); return }},
		{"sub", false, func(p *Payload, v []byte) (err error) { p.Subject, err = jsonString(v); return }},
		{"aud", false, decodeAudience},
		{"exp", true, func(p *Payload, v []byte) (err error) { p.ExpiresAt, err = numericDate(v); return }},
		{"nbf", true, func(p *Payload, v []byte) (err error) { p.NotBefore, err = numericDate(v); return }},
		{"iat", true, func(p *Payload, v []byte) (err error) { p.IssuedAt, err = numericDate(v); return }},
		{"jti", false, func(p *Payload, v []byte) (err error) { p.ID, err = jsonString(v); return }},
	}
	for _, f := range fields {
		v, ok := p.Raw(f.name)
		if !ok {
			continue
		}
		if err := registeredType(v, f.numeric); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrClaimType, f.name, err)
		}
		if err := f.decode(p, v); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrClaimType, f.name, err)
		}
	}
	return nil
}

var errNull = errors.New("claims: payload is null")

// membersOf reads the top-level object of data into p.members.
type membersOf struct {
	p    *Payload
	data []byte
}

// read reads the object from dec, which reads data, and checks that
// nothing but whitespace follows it.
func (m *membersOf) read(dec *jsontext.Decoder) error {
	if err := m.object(dec); err != nil {
		return err
	}
	switch _, err := dec.ReadToken(); {
	case err == io.EOF:
		return nil
	case err == nil:
		return errors.New("data after the top-level value")
	default:
		return err
	}
}

func (m *membersOf) object(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n':
		return errNull
	case '{':
	default:
		_, err := dec.ReadValue()
		if err == nil {
			err = errors.New("not an object")
		}
		return err
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if m.p.members == nil {
		m.p.members = make([]member, 0, 24)
	}
	for dec.PeekKind() != '}' {
		name, err := m.next(dec)
		if err != nil {
			return err
		}
		n, err := unquoteName(name)
		if err != nil {
			return err
		}
		v, err := m.next(dec)
		if err != nil {
			return err
		}
		m.p.members = append(m.p.members, member{name: n, value: v})
	}
	_, err := dec.ReadToken()
	return err
}

// next reads the next value (or name) and returns it as it stands in
// data: InputOffset is the offset just past what was read, in data itself,
// so the slice stays valid after the decoder moves on.
func (m *membersOf) next(dec *jsontext.Decoder) ([]byte, error) {
	v, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	end := int(dec.InputOffset())
	return m.data[end-len(v) : end : end], nil
}

// unquoteName returns the unescaped name of a raw JSON string: a slice of
// it when it holds no escape and is valid UTF-8 (every name a provider
// writes), else a copy decoded by encoding/json, which puts U+FFFD in
// place of invalid UTF-8 as a map key decoded by encoding/json gets it.
func unquoteName(raw []byte) ([]byte, error) {
	if in := raw[1 : len(raw)-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return in, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// jsonString decodes a raw JSON value that must be a string, exactly as
// json.Unmarshal into a string does; it copies no more than the string.
func jsonString(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' {
		if in := v[1 : len(v)-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
			return string(in), nil
		}
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

func decodeAudience(p *Payload, v []byte) error {
	if v[0] == '"' {
		s, err := jsonString(v)
		if err != nil {
			return err
		}
		p.Audience = jwt.ClaimStrings{s}
		return nil
	}
	return p.Audience.UnmarshalJSON(v)
}

// numericDate reads a JSON number as golang-jwt's NumericDate.UnmarshalJSON
// does (json.Number, Float64, then whole seconds and nanoseconds), without
// a decoder per claim. registeredType has checked that v is a number.
func numericDate(v []byte) (*jwt.NumericDate, error) {
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return nil, fmt.Errorf("could not convert json number value to float: %w", err)
	}
	round, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(round), int64(frac*1e9))), nil
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

// Raw returns the JSON of the top-level claim name, if present: the last
// member of that name.
func (p *Payload) Raw(name string) (json.RawMessage, bool) {
	for i := len(p.members) - 1; i >= 0; i-- {
		if string(p.members[i].name) == name {
			return p.members[i].value, true
		}
	}
	return nil, false
}

// Pointer resolves an RFC 6901 JSON Pointer against the payload. A pointer
// that matches nothing reports false: the claim is absent, not null.
func (p *Payload) Pointer(ptr string) (json.RawMessage, bool) {
	if ptr == "" || ptr[0] != '/' {
		return nil, false
	}
	segs := strings.Split(ptr[1:], "/")
	cur, ok := p.Raw(unescapePointer(segs[0]))
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
