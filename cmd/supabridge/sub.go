package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"supabridge/shared/claims"
	"supabridge/shared/config"
)

// subCmd is `supabridge sub`: the sub the exchange will mint for a
// provider's subject, and SQL that computes the same, so an operator can
// check users by hand before a backfill (docs/migrate.md).
type subCmd struct{}

const subAbout = `Prints, for each provider subject, the sub the exchange mints for it and a SQL
statement that computes the same in PostgreSQL, one tab-separated line each:
<provider sub> <minted sub> <SQL>. The minted sub comes from the exchange's own
minter (shared/claims) with the provider's configuration: SUB_MAPPING (or the
provider's sub_mapping), SUB_UUID_NAMESPACE and the issuer. With uuid5 the SQL
calls uuid_generate_v5 of the uuid-ossp extension, which Supabase installs in
the schema extensions (--schema changes it). Header lines start with #.

The configuration is read from the environment like the functions, or from
--env-file. With several providers, --provider names the one the subjects
belong to. A provider configured without an issuer (keys only) needs --iss,
the exact iss of its tokens. Subjects come from --sub (repeatable) or --subs
FILE, one per line (- for stdin; blank lines are skipped).`

// maxSubject bounds one subject read from a list.
const maxSubject = 4096

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func (c subCmd) run(_ context.Context, args []string, cio IO) int {
	fs := newFlags("sub", "[--env-file FILE] [--provider NAME] [--iss ISS] [--schema extensions] (--sub SUB ... | --subs FILE|-)", subAbout, cio.Stderr)
	envFile := fs.String("env-file", "", "read variables from this KEY=VALUE file instead of the environment")
	name := fs.String("provider", "", "the provider whose subjects these are (required with several providers)")
	iss := fs.String("iss", "", "the exact iss of the provider's tokens, when its configuration has no issuer")
	schema := fs.String("schema", "extensions", "the schema of the uuid-ossp extension, for the SQL")
	var subs stringsFlag
	fs.Var(&subs, "sub", "a provider subject (repeatable)")
	subsFile := fs.String("subs", "", "file of provider subjects, one per line, or - for stdin")
	if code := parseFlags(fs, args, cio.Stderr); code >= 0 {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(cio.Stderr, "supabridge sub: "+format+"\n", a...)
		return 2
	}
	if (len(subs) == 0) == (*subsFile == "") {
		return fail("give the subjects with --sub or with --subs, one of the two")
	}
	if !sqlIdentifier(*schema) {
		return fail("--schema: not a plain SQL identifier")
	}
	env, err := environment(cio, *envFile)
	if err != nil {
		return fail("%v", err)
	}
	cfg, err := config.Load(env)
	if err != nil {
		return fail("%v", err)
	}
	p, err := pickProvider(cfg.Providers, *name)
	if err != nil {
		return fail("%v", err)
	}
	issuer := p.Issuer
	switch {
	case issuer == "" && *iss == "":
		return fail("provider %q has no configured issuer: pass --iss with the exact iss of its tokens", p.Name)
	case issuer == "":
		issuer = *iss
	case *iss != "" && *iss != issuer:
		return fail("--iss differs from provider %q's issuer %q; the exchange accepts only tokens whose iss is exactly that", p.Name, issuer)
	}
	m, err := claims.NewMinter(cfg.Supabase, nil)
	if err != nil {
		return fail("%v", err)
	}
	mp := subMapper{minter: m, mapping: &p.Mapping, issuer: issuer, schema: *schema}

	w := bufio.NewWriter(cio.Stdout)
	defer w.Flush()
	for _, l := range mp.header(p.Name) {
		fmt.Fprintln(w, l)
	}
	refused := 0
	line := func(n int, sub string) {
		minted, sql, err := mp.mapSubject(sub)
		if err != nil {
			refused++
			where := "--sub"
			if n > 0 {
				where = fmt.Sprintf("line %d", n)
			}
			fmt.Fprintf(cio.Stderr, "supabridge sub: %s: %v\n", where, err)
			return
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", sub, minted, sql)
	}
	for _, s := range subs {
		line(0, s)
	}
	if *subsFile != "" {
		if err := eachLine(*subsFile, cio.Stdin, line); err != nil {
			w.Flush()
			fmt.Fprintf(cio.Stderr, "supabridge sub: --subs: %v\n", err)
			return 1
		}
	}
	if refused > 0 {
		w.Flush()
		fmt.Fprintf(cio.Stderr, "supabridge sub: %d subjects refused\n", refused)
		return 1
	}
	return 0
}

// pickProvider returns the provider called name, or the only one.
func pickProvider(ps []config.Provider, name string) (*config.Provider, error) {
	var names []string
	for i := range ps {
		if ps[i].Name == name || (name == "" && len(ps) == 1) {
			return &ps[i], nil
		}
		names = append(names, fmt.Sprintf("%q", ps[i].Name))
	}
	if name == "" {
		return nil, fmt.Errorf("%d providers are configured: name one with --provider (%s)", len(ps), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("no provider %q; configured: %s", name, strings.Join(names, ", "))
}

// subMapper maps one provider's subjects.
type subMapper struct {
	minter  *claims.Minter
	mapping *claims.Mapping
	issuer  string
	schema  string
}

func (m subMapper) uuid5() bool { return m.mapping.Sub == claims.SubUUID5 }

// namespace is the UUIDv5 namespace the SQL passes; the minter's default
// when none is configured.
func (m subMapper) namespace() claims.UUID {
	if m.mapping.Namespace == (claims.UUID{}) {
		return claims.NamespaceURL
	}
	return m.mapping.Namespace
}

func (m subMapper) header(provider string) []string {
	if !m.uuid5() {
		return []string{
			fmt.Sprintf("# provider %q, iss %q, sub_mapping passthrough: the exchange mints the provider's subject unchanged", provider, m.issuer),
			"# in SQL, for a text column user_id holding the provider's subject: user_id",
			"# provider sub\tminted sub\tSQL",
		}
	}
	return []string{
		fmt.Sprintf("# provider %q, iss %q, sub_mapping uuid5, namespace %s", provider, m.issuer, m.namespace()),
		fmt.Sprintf("# in SQL, for a text column user_id holding the provider's subject: %s.uuid_generate_v5(%s::uuid, %s || user_id)",
			m.schema, sqlString(m.namespace().String()), sqlString(m.issuer+"#")),
		"# provider sub\tminted sub\tSQL",
	}
}

// mapSubject returns the sub the exchange mints for sub, through the
// minter itself, and a SQL statement computing it.
func (m subMapper) mapSubject(sub string) (minted, sql string, err error) {
	if err := checkSubject(sub); err != nil {
		return "", "", err
	}
	payload, err := json.Marshal(map[string]string{"iss": m.issuer, "sub": sub})
	if err != nil {
		return "", "", err
	}
	var p claims.Payload
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", "", err
	}
	tok, err := m.minter.Mint(&p, m.mapping) // the token itself is dropped
	if err != nil {
		return "", "", err
	}
	if !m.uuid5() {
		return tok.Subject, "select " + sqlString(sub) + ";", nil
	}
	return tok.Subject, fmt.Sprintf("select %s.uuid_generate_v5(%s::uuid, %s);",
		m.schema, sqlString(m.namespace().String()), sqlString(m.issuer+"#"+sub)), nil
}

var errControl = errors.New("the subject holds a control character (tab, newline, NUL...)")

// checkSubject refuses what no provider token carries in sub: an empty
// string, invalid UTF-8 (a JWT payload is JSON) and control characters,
// which would also break the tab-separated output (and NUL any SQL text).
func checkSubject(sub string) error {
	switch {
	case sub == "":
		return errors.New("empty subject")
	case len(sub) > maxSubject:
		return fmt.Errorf("the subject is longer than %d bytes", maxSubject)
	case !utf8.ValidString(sub):
		return errors.New("the subject is not UTF-8")
	}
	for _, r := range sub {
		if r < 0x20 || r == 0x7f {
			return errControl
		}
	}
	return nil
}

// eachLine calls fn for every non-blank line of path (or stdin for "-"),
// with its line number. A line may end in \r\n.
func eachLine(path string, stdin io.Reader, fn func(n int, line string)) error {
	var r io.Reader
	if path == "-" {
		if stdin == nil {
			return errors.New("stdin is not available")
		}
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSubject+2)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fn(n, line)
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("line %d: longer than %d bytes", n+1, maxSubject)
	}
	return sc.Err()
}

// sqlString quotes s as a standard SQL string literal (standard_conforming_strings,
// on since PostgreSQL 9.1: only the quote is doubled).
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// sqlIdentifier reports whether s is a lower-case identifier that needs no quoting.
func sqlIdentifier(s string) bool {
	if s == "" || len(s) > 63 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
