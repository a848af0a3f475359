package claims

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
)

// UUID is an RFC 9562 UUID.
type UUID [16]byte

// NamespaceURL is the RFC 9562 §6.6 URL namespace, the default of
// SUB_UUID_NAMESPACE.
var NamespaceURL = UUID{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// ErrBadUUID is returned by [ParseUUID] for text that is not a UUID.
var ErrBadUUID = errors.New("claims: not a UUID in 8-4-4-4-12 hex form")

// ParseUUID parses the canonical 8-4-4-4-12 hex form.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, ErrBadUUID
	}
	if _, err := hex.Decode(u[:], []byte(strings.ReplaceAll(s, "-", ""))); err != nil {
		return u, ErrBadUUID
	}
	return u, nil
}

// NewSHA1 returns the name-based version 5 UUID of name in namespace ns
// (RFC 9562 §5.5). SHA-1 is what the RFC specifies for v5; it is used here
// as a stable mapping, not for security.
func NewSHA1(ns UUID, name string) UUID {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u UUID
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 9562 variant
	return u
}

// String returns the canonical lower-case 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
