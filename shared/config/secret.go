package config

import "log/slog"

// Secret is a secret value. It prints as "[redacted]" through fmt's %v and
// %s, %#v, and log/slog, so it cannot reach a log line by accident.
type Secret []byte

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return "[redacted]" }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
