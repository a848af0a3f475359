package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"supabridge/shared/claims"

	"github.com/go-json-experiment/json/jsontext"
)

// header is what the verifier reads of a JOSE header (RFC 7515 §4): the
// last "alg" and "kid" members and whether they are strings, and whether
// "crit" is present. It accepts and refuses exactly the headers
// encoding/json decodes into a map[string]any, as golang-jwt's parser does:
// a JSON object or null, every number in it one a float64 holds. No other
// member is read: the key comes from the provider's configured source
// only, never from jku, x5u, jwk or x5c.
type header struct {
	alg, kid       string
	hasAlg, hasKid bool // the last alg (kid) member is a JSON string
	crit           bool
}

// decode reads data, a decoded JOSE header, into h.
func (h *header) decode(data []byte) error {
	d := claims.GetJSONDecoder(data)
	defer d.Put()
	if err := h.value(&d.Dec); err != nil {
		return err
	}
	// Nothing but whitespace may follow the header's value.
	switch _, err := d.Dec.ReadToken(); {
	case err == io.EOF:
		return nil
	case err == nil:
		return errors.New("verify: data after the header's value")
	default:
		return err
	}
}

var errNotObject = errors.New("verify: header is not a JSON object")

// value reads the header's value: an object, or null.
func (h *header) value(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n': // null decodes into a nil map: no alg, refused later
		_, err := dec.ReadToken()
		return err
	case '{':
	default:
		_, err := dec.ReadValue()
		if err == nil {
			err = errNotObject
		}
		return err
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		rawName, err := dec.ReadValue()
		if err != nil {
			return err
		}
		name, err := unquote(rawName)
		if err != nil {
			return err
		}
		// What ReadValue returns is valid until the next read: the name
		// is matched before its value is read.
		member := string(name) // no copy: compared, not kept
		switch member {
		case "crit":
			h.crit = true
		case "alg", "kid":
		default:
			member = ""
		}
		kind := dec.PeekKind()
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if err := floatsFit(v, kind); err != nil {
			return err
		}
		switch member {
		case "alg":
			h.alg, h.hasAlg, err = stringValue(v, kind)
		case "kid":
			h.kid, h.hasKid, err = stringValue(v, kind)
		}
		if err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// stringValue returns the unescaped string v when it is a JSON string;
// another type reads as absent, as a failed string assertion on a
// map[string]any value does.
func stringValue(v jsontext.Value, kind jsontext.Kind) (string, bool, error) {
	if kind != '"' {
		return "", false, nil
	}
	s, err := unquote(v)
	if err != nil {
		return "", false, err
	}
	for _, a := range Algorithms {
		if string(s) == a {
			return a, true, nil // no copy for the names we know
		}
	}
	return string(s), true, nil
}

// floatsFit refuses a value holding a number that a float64 cannot hold
// (1e400): encoding/json refuses it when it decodes the number into an
// interface value, and so golang-jwt refused the whole header.
func floatsFit(v jsontext.Value, kind jsontext.Kind) error {
	switch kind {
	case '0':
		_, err := strconv.ParseFloat(string(v), 64)
		return err
	case '{', '[':
	default:
		return nil
	}
	if !bytes.ContainsAny(v, "0123456789") {
		return nil
	}
	dec := claims.NewJSONDecoder(bytes.NewReader(v))
	for {
		switch k := dec.PeekKind(); k {
		case 0:
			_, err := dec.ReadToken()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case '{', '}', '[', ']':
			if _, err := dec.ReadToken(); err != nil {
				return err
			}
		default:
			n, err := dec.ReadValue()
			if err != nil {
				return err
			}
			if k == '0' {
				if _, err := strconv.ParseFloat(string(n), 64); err != nil {
					return err
				}
			}
		}
	}
}

// unquote returns the unescaped content of a raw JSON string: a slice of
// it when it holds no escape and is valid UTF-8, else the string as
// encoding/json decodes it (U+FFFD in place of invalid UTF-8).
func unquote(raw []byte) ([]byte, error) {
	if in := raw[1 : len(raw)-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return in, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}
