package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// decodeV1 is how Payload decoded before it read the payload with jsontext
// (issue 20): encoding/json into a map[string]json.RawMessage, then each
// registered claim through json.Unmarshal into its golang-jwt type. It is
// kept here as the reference Payload.Decode must match.
func decodeV1(data []byte) (map[string]json.RawMessage, jwt.RegisteredClaims, error) {
	var raw map[string]json.RawMessage
	var rc jwt.RegisteredClaims
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, rc, err
	}
	if raw == nil {
		return nil, rc, errors.New("null")
	}
	fields := []struct {
		name    string
		dst     any
		numeric bool
	}{
		{"iss", &rc.Issuer, false},
		{"sub", &rc.Subject, false},
		{"aud", &rc.Audience, false},
		{"exp", &rc.ExpiresAt, true},
		{"nbf", &rc.NotBefore, true},
		{"iat", &rc.IssuedAt, true},
		{"jti", &rc.ID, false},
	}
	for _, f := range fields {
		v, ok := raw[f.name]
		if !ok {
			continue
		}
		if err := registeredType(v, f.numeric); err != nil {
			return raw, rc, fmt.Errorf("%w: %w", ErrClaimType, err)
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return raw, rc, fmt.Errorf("%w: %w", ErrClaimType, err)
		}
	}
	return raw, rc, nil
}

// FuzzDecode holds Payload.Decode to decodeV1: the same payloads accepted,
// the same registered claims, the same members (names unescaped, the last
// of a repeated name, each raw value byte for byte), and ErrClaimType for
// the same ones.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"iss":"https://a/","sub":"u","aud":"app","exp":1800000000,"iat":1.8e9,"nbf":-1.5}`,
		`{"aud":["a","b"],"groups":[ "x" , "y" ],"n":{"a" : 1}}`,
		`{"sub":"a","sub":"b","x":1,"x":{"y":2}}`,
		`{"\u0073ub":"escaped name","s\u00fcb":1,"em\"ail":"q"}`,
		"{\"sub\":\"x\xffy\",\"n\xfe\":\"v\"}",
		`{"sub":"\ud800","name":"\udc00\ud800x","ok":"\ud83d\ude00"}`,
		`{"exp":1e400}`, `{"exp":-1e400}`, `{"exp":1e-400}`, `{"exp":253402300799.999999}`,
		`{"exp":"1800000000"}`, `{"exp":null}`, `{"aud":[null]}`, `{"aud":[]}`, `{"aud":7}`,
		`null`, `[1]`, `"s"`, `1`, `{}`, ` { } `, `{"a":1} x`, `{"a":1}{}`, "\ufeff{}", `{"a":01}`, `{"a":}`,
		`{"sub":"u","":"empty name"}`, `{"a":"` + strings.Repeat("é", 50) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { matchesV1(t, data) })
}

// TestDecodeDepth: the nesting limit (10,000 levels, the top-level object
// counting as one) is encoding/json's. Too slow for the fuzz corpus.
func TestDecodeDepth(t *testing.T) {
	for _, d := range []int{9998, 9999, 10000} {
		matchesV1(t, []byte(`{"d":`+strings.Repeat("[", d)+strings.Repeat("]", d)+`}`))
		matchesV1(t, []byte(`{"d":`+strings.Repeat(`{"a":`, d)+`1`+strings.Repeat("}", d)+`}`))
	}
	var p Payload
	if p.Decode([]byte(`{"d":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}`)) == nil {
		t.Fatal("10,001 levels: got no error, want one")
	}
}

func matchesV1(t *testing.T, data []byte) {
	t.Helper()
	{
		want, wantRC, wantErr := decodeV1(data)
		var p Payload
		err := p.Decode(bytes.Clone(data))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("Decode(%q): got error %v, encoding/json got %v", data, err, wantErr)
		}
		if errors.Is(err, ErrClaimType) != errors.Is(wantErr, ErrClaimType) {
			t.Fatalf("Decode(%q): got %v, encoding/json got %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(p.RegisteredClaims, wantRC) {
			t.Fatalf("Decode(%q): got registered claims %+v, want %+v", data, p.RegisteredClaims, wantRC)
		}
		names := map[string]bool{}
		for _, m := range p.members {
			names[string(m.name)] = true
		}
		if len(names) != len(want) {
			t.Fatalf("Decode(%q): got %d distinct names, want %d", data, len(names), len(want))
		}
		for k, v := range want {
			got, ok := p.Raw(k)
			if !ok || !bytes.Equal(got, v) {
				t.Fatalf("Decode(%q): member %q: got %q (present %v), want %q", data, k, got, ok, v)
			}
		}
	}
}

// TestNumericDateMatchesGolangJWT: numericDate reads every kind of JSON
// number as jwt.NumericDate.UnmarshalJSON does.
func TestNumericDateMatchesGolangJWT(t *testing.T) {
	for _, n := range []string{
		"0", "-0", "1", "-1", "1800000000", "1800000000.5", "1800000000.999999999", "-1.5", "1.8e9", "1E9",
		"1e-7", "1e-400", "1e400", "-1e400", "9.3e18", "-9.3e18", "1e19", "253402300799", "253402300800",
		"-62167219200", "0.1", "123456789.123456789123", "4.9e-324", "1.7976931348623157e308",
	} {
		var want jwt.NumericDate
		wantErr := want.UnmarshalJSON([]byte(n))
		got, err := numericDate([]byte(n))
		if (err == nil) != (wantErr == nil) {
			t.Errorf("%s: got error %v, golang-jwt got %v", n, err, wantErr)
			continue
		}
		if err == nil && !got.Equal(want.Time) {
			t.Errorf("%s: got %v, golang-jwt got %v", n, got.Time, want.Time)
		}
	}
}
