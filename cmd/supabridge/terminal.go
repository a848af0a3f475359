package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// terminalSafe returns w wrapped so that nothing written through it can
// drive the terminal: decode, verify and doctor print what a token or a
// provider chose (claims, kid, issuer), and JSON lets a string hold
// bidirectional controls (U+202E turns "evil\u202egnp.exe" into what shows
// as "evilexe.png"), C1 controls (U+009B is CSI) and DEL unescaped. Every
// control character but the newline, every format character (Unicode Cf:
// the bidirectional marks, zero-width joiners, the BOM), the line and
// paragraph separators, and every byte that is no UTF-8 are written as
// JSON's \uXXXX escapes (invalid bytes as \ufffd), so that JSON output
// stays JSON. Callers write whole lines (fmt.Fprint*), so a rune is never
// split across two writes.
func terminalSafe(w io.Writer) io.Writer { return safeWriter{w} }

type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, escapeTerminal(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// escapeTerminal is the escaping terminalSafe applies.
func escapeTerminal(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeForTerminal(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case unsafeForTerminal(r) && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		case unsafeForTerminal(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func unsafeForTerminal(r rune) bool {
	if r == '\n' {
		return false
	}
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
