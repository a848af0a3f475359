package claims

import (
	"fmt"
	"log/slog"
)

// Secret is a secret value: the Supabase JWT secret, a client secret. It
// prints as "[redacted]" through every fmt verb, log/slog and text encoders
// (JSON, YAML), so a configuration dump cannot leak it.
type Secret []byte

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter, so %d and %x do not print the bytes.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps encoders from writing the value.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
