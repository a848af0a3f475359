package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// decodeCmd is `supabridge decode`: a token's header and claims, its times
// as dates, and nothing verified.
type decodeCmd struct {
	now func() time.Time
}

const decodeAbout = `Prints a JWT's header and claims, pretty-printed in the token's own order, and
its times (iat, nbf, exp) as UTC dates with how long ago or how soon. Nothing is
verified: use supabridge verify for that. The token is read from --token FILE,
or from stdin with --token - (the default), never from the command line.`

func (c decodeCmd) run(_ context.Context, args []string, cio IO) int {
	cio.Stdout, cio.Stderr = terminalSafe(cio.Stdout), terminalSafe(cio.Stderr)
	fs := newFlags("decode", "[--token FILE|-]", decodeAbout, cio.Stderr)
	tokenFile := fs.String("token", "-", "file holding the token, or - for stdin")
	if code := parseFlags(fs, args, cio.Stderr); code >= 0 {
		return code
	}
	raw, err := readInput(*tokenFile, cio.Stdin)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge decode: --token: %v\n", err)
		return 1
	}
	t, err := parseToken(string(raw))
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge decode: %v\n", err)
		return 1
	}
	w := cio.Stdout
	fmt.Fprintln(w, "header")
	fmt.Fprintln(w, indentJSON(t.header))
	fmt.Fprintln(w, "claims")
	fmt.Fprintln(w, indentJSON(t.payload))
	for _, line := range t.timeLines(now(c.now)) {
		fmt.Fprintln(w, line)
	}
	for _, n := range t.notes() {
		fmt.Fprintln(w, "note: "+n)
	}
	fmt.Fprintln(w, "signature: NOT verified (decode checks nothing; use supabridge verify)")
	return 0
}

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}

// token is a JWT split and decoded, not verified.
type token struct {
	header, payload json.RawMessage
	alg, kid        string
	claims          map[string]json.RawMessage
}

// errNotJWT is the one description of every way a string fails to be a JWT;
// the details that follow name the part, never its content.
var errNotJWT = errors.New("not a JWT (three base64url parts separated by dots, the first two JSON objects)")

// parseToken splits and decodes a compact JWS without checking anything.
func parseToken(s string) (*token, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: found %d parts", errNotJWT, len(parts))
	}
	t := &token{}
	for i, dst := range []*json.RawMessage{&t.header, &t.payload} {
		name := [...]string{"header", "payload"}[i]
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, fmt.Errorf("%w: the %s is not base64url", errNotJWT, name)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("%w: the %s is not a JSON object", errNotJWT, name)
		}
		*dst = b
		if i == 0 {
			_ = json.Unmarshal(obj["alg"], &t.alg)
			_ = json.Unmarshal(obj["kid"], &t.kid)
		} else {
			t.claims = obj
		}
	}
	return t, nil
}

// str returns the claim name as a string, if it is one.
func (t *token) str(name string) (string, bool) {
	var s string
	if err := json.Unmarshal(t.claims[name], &s); err != nil {
		return "", false
	}
	return s, true
}

// compact returns the claim's JSON as written, or "" when absent.
func (t *token) compact(name string) string {
	v, ok := t.claims[name]
	if !ok {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return string(v)
	}
	return b.String()
}

// time returns a NumericDate claim, if present and a number.
func (t *token) time(name string) (time.Time, bool) {
	var f float64
	if err := json.Unmarshal(t.claims[name], &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// timeLines describes iat, nbf and exp relative to now.
func (t *token) timeLines(now time.Time) []string {
	var out []string
	for _, name := range []string{"iat", "nbf", "exp"} {
		at, ok := t.time(name)
		if !ok {
			if _, present := t.claims[name]; present {
				out = append(out, fmt.Sprintf("%s  not a number", name))
			}
			continue
		}
		out = append(out, fmt.Sprintf("%s  %s  %s", name, date(at), relative(name, at, now)))
	}
	if _, ok := t.claims["exp"]; !ok {
		out = append(out, "exp  absent: the token never expires (supabridge, GoTrue and PostgREST's clients expect one)")
	}
	return out
}

// notes are facts about the header that explain common refusals.
func (t *token) notes() []string {
	var out []string
	if strings.HasPrefix(t.alg, "HS") && t.kid != "" {
		out = append(out, fmt.Sprintf("the header has a kid with %s: PostgREST 13+ refuses it unless a key with that kid is configured (the shared secret has none)", t.alg))
	}
	if t.alg == "none" {
		out = append(out, "alg none: an unsigned token, refused by every verifier")
	}
	return out
}

// date formats t as a UTC date to the second.
func date(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// relative says how a claim's time relates to now, in words.
func relative(name string, at, now time.Time) string {
	d := at.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	h := human(d)
	switch name {
	case "exp":
		if past {
			return "expired " + h + " ago"
		}
		return "expires in " + h
	case "nbf":
		if past {
			return "valid since " + h + " ago"
		}
		return "not valid for another " + h
	default: // iat
		if past {
			return "issued " + h + " ago"
		}
		return "issued in the future, in " + h
	}
}

// human writes a duration to the second; whole hours drop their zero
// minutes and seconds ("2h", but "59m0s"), and from two days on it counts
// days.
func human(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int64(d/(24*time.Hour)))
	}
	s := d.String()
	if strings.HasSuffix(s, "h0m0s") {
		s = strings.TrimSuffix(s, "0m0s")
	}
	return s
}

// indentJSON pretty-prints raw JSON, keeping its member order.
func indentJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// writeLines writes each line to w.
func writeLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
