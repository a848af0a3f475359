package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"supabridge/shared/config"
)

// This file holds what the operator subcommands share about their inputs:
// the --env-file format, tokens and secrets read from a file or stdin (never
// from argv, which ends up in shell history), and flag parsing.

// maxInput bounds a token, a secret or an env file read by a subcommand.
const maxInput = 1 << 20

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseEnvFile reads the .env format of docker compose (and of Supabase's
// self-hosting .env), following compose's documented rules: blank lines
// and lines starting with # are skipped and an "export " prefix is
// dropped; an unquoted value ends at a # that follows a space or tab (an
// inline comment) and loses its surrounding white space; a single-quoted
// value is literal but for \' ; a double-quoted value understands \n, \r,
// \t, \\ and \"; a quoted value may span lines (a PEM key) and may be
// followed by white space and a comment only. Compose's interpolation
// (${VAR}, $VAR, $$) in unquoted and double-quoted values is not
// done here, so it is refused rather than read differently: quote such a
// value with single quotes. A later assignment wins over an earlier one.
// Errors name the line and the key, never the value.
func parseEnvFile(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(data) > maxInput {
		return nil, errors.New("over 1 MiB")
	}
	p := &envParser{src: string(data), line: 1}
	m := map[string]string{}
	for {
		p.skipBlank()
		if p.eof() {
			return m, nil
		}
		if p.peek() == '#' {
			p.skipToEOL()
			continue
		}
		key, val, err := p.assignment()
		if err != nil {
			return nil, err
		}
		m[key] = val
	}
}

// envParser walks an env file, counting lines for errors.
type envParser struct {
	src  string
	pos  int
	line int
}

func (p *envParser) eof() bool  { return p.pos >= len(p.src) }
func (p *envParser) peek() byte { return p.src[p.pos] }

func (p *envParser) next() byte {
	c := p.src[p.pos]
	p.pos++
	if c == '\n' {
		p.line++
	}
	return c
}

// skipBlank skips white space, newlines included.
func (p *envParser) skipBlank() {
	for !p.eof() && strings.IndexByte(" \t\r\n", p.peek()) >= 0 {
		p.next()
	}
}

// skipSpace skips white space within a line.
func (p *envParser) skipSpace() {
	for !p.eof() && strings.IndexByte(" \t\r", p.peek()) >= 0 {
		p.next()
	}
}

func (p *envParser) skipToEOL() {
	for !p.eof() && p.peek() != '\n' {
		p.next()
	}
}

// assignment reads KEY=VALUE from the current position.
func (p *envParser) assignment() (string, string, error) {
	line := p.line
	end := strings.IndexByte(p.src[p.pos:], '\n')
	if end < 0 {
		end = len(p.src) - p.pos
	}
	text := p.src[p.pos : p.pos+end]
	if rest, ok := strings.CutPrefix(text, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		text = rest
		p.pos += len("export")
	}
	eq := strings.IndexByte(text, '=')
	if eq < 0 || !envKey.MatchString(strings.TrimSpace(text[:eq])) {
		return "", "", fmt.Errorf("line %d: not KEY=VALUE", line)
	}
	key := strings.TrimSpace(text[:eq])
	p.pos += eq + 1
	before := p.pos
	p.skipSpace()
	fail := func(what string) (string, string, error) {
		return "", "", fmt.Errorf("line %d (%s): %s", line, key, what)
	}
	if p.eof() || p.peek() == '\n' {
		return key, "", nil
	}
	if p.peek() == '#' && p.pos > before {
		// VAR= # comment: an empty value and a comment.
		p.skipToEOL()
		return key, "", nil
	}
	quote := p.peek()
	if quote != '"' && quote != '\'' {
		val := p.src[p.pos : p.pos+strings.IndexByte(p.src[p.pos:]+"\n", '\n')]
		p.pos += len(val)
		for i := 1; i < len(val); i++ {
			if val[i] == '#' && (val[i-1] == ' ' || val[i-1] == '\t') {
				val = val[:i]
				break
			}
		}
		val = strings.TrimSpace(val)
		if interpolates(val) {
			return fail(interpolationRefused)
		}
		return key, val, nil
	}
	p.next()
	var b strings.Builder
	for {
		if p.eof() {
			return fail("unterminated quote")
		}
		c := p.next()
		switch {
		case c == quote:
			p.skipSpace()
			switch {
			case p.eof() || p.peek() == '\n':
			case p.peek() == '#':
				p.skipToEOL()
			default:
				return fail("text after the closing quote (a comment must start with #)")
			}
			val := b.String()
			if quote == '"' && interpolates(val) {
				return fail(interpolationRefused)
			}
			return key, val, nil
		case c == '\\' && !p.eof():
			e := p.peek()
			switch {
			case e == quote:
				b.WriteByte(p.next())
			case quote == '"' && e == '\\':
				b.WriteByte(p.next())
			case quote == '"' && (e == 'n' || e == 'r' || e == 't'):
				p.next()
				b.WriteByte(map[byte]byte{'n': '\n', 'r': '\r', 't': '\t'}[e])
			default:
				b.WriteByte(c)
			}
		default:
			b.WriteByte(c)
		}
	}
}

const interpolationRefused = "${...} and $NAME interpolation is not supported here (compose would expand it); put the value in single quotes to keep it literal"

// interpolates reports whether compose would expand something in v: a $
// followed by {, a name's first letter or _, or another $.
func interpolates(v string) bool {
	for i := 0; i+1 < len(v); i++ {
		if v[i] != '$' {
			continue
		}
		c := v[i+1]
		if c == '{' || c == '$' || c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') {
			return true
		}
	}
	return false
}

// environment is the Env a subcommand reads: with --env-file, the file's
// variables and nothing else (so the check is of the file, not of whatever
// the shell happens to export); without it, the process environment.
func environment(cio IO, envFile string) (config.Env, error) {
	if envFile == "" {
		return cio.Env, nil
	}
	f, err := openInput(envFile)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	m, err := parseEnvFile(f)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	return config.MapEnv(m), nil
}

// openInput opens a file named on the command line. Its errors never repeat
// the path: an operator who types --token "$JWT" gave the token itself
// where the path belongs, and os.Open's "open eyJ…: no such file or
// directory" would print it to the terminal and any log of it.
func openInput(path string) (*os.File, error) {
	f, err := os.Open(path)
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, os.ErrNotExist):
		return nil, errors.New("no such file (it takes a file name, or - for stdin; a token or secret itself never goes on the command line)")
	case errors.Is(err, os.ErrPermission):
		return nil, errors.New("permission denied")
	}
	return nil, errors.New("cannot open the file")
}

// readInput reads a token or a secret from path, or from stdin when path is
// "-". Surrounding white space (the newline of echo, a pasted blank) is
// dropped.
func readInput(path string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		if stdin == nil {
			return nil, errors.New("stdin is not available")
		}
		r = stdin
	} else {
		f, err := openInput(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, errors.New("cannot read it (is it a directory?)")
	}
	if len(b) > maxInput {
		return nil, errors.New("over 1 MiB")
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("empty")
	}
	return b, nil
}

// secretVars are the variables that carry the Supabase secret.
var secretVars = []string{config.EnvSecret, config.EnvSecret + "_FILE", config.EnvSecretAlias, config.EnvSecretAlias + "_FILE"}

// legacySecret loads the legacy Supabase JWT secret with config's own rules
// (config.LoadSecret): SUPABASE_JWT_SECRET or JWT_SECRET, their _FILE
// forms, equal when both are set, at least 32 bytes. secretFile, when set,
// replaces the environment's secret: a path, or "-" for stdin. It is read
// whatever signs the bridge's tokens: API keys and GoTrue's HS256 sessions
// are signed with it.
func legacySecret(env config.Env, secretFile string, stdin io.Reader) (config.Secret, error) {
	if secretFile == "" {
		return config.LoadSecret(env)
	}
	overlay := map[string]string{}
	if secretFile == "-" {
		b, err := readInput("-", stdin)
		if err != nil {
			return nil, fmt.Errorf("--secret-file -: %w", err)
		}
		overlay[config.EnvSecret] = string(b)
	} else {
		overlay[config.EnvSecret+"_FILE"] = secretFile
	}
	// The flag replaces every secret variable of the environment.
	withFlag := func(k string) (string, bool) {
		if isSecretVar(k) {
			v, ok := overlay[k]
			return v, ok
		}
		return env(k)
	}
	s, err := config.LoadSecret(withFlag)
	if err != nil {
		// config names SUPABASE_JWT_SECRET(_FILE); the operator gave a flag.
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	return s, nil
}

func isSecretVar(k string) bool {
	for _, v := range secretVars {
		if k == v {
			return true
		}
	}
	return false
}

// newFlags returns a FlagSet for a subcommand. The flag package's own
// messages are discarded, since they quote what was typed ("flag provided
// but not defined: -<a secret that began with a dash>", "invalid value
// <secret> for flag"); parseFlags writes its own. Usage (synopsis, a
// paragraph and the flag defaults) goes to stderr.
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: supabridge %s %s\n\n%s\n\nflags:\n", name, synopsis, about)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses args. It returns -1 to go on, or the exit status: 0
// after --help, 2 for a bad flag or any positional argument (a token or a
// secret on the command line would land in shell history, so none is
// accepted, and none is echoed: a bad flag is named only by a flag name
// this command defines, never by what was typed).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	// The flag package calls Usage itself on --help and on every error;
	// here it is called once, after the one line this function writes.
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return 0
		}
		fmt.Fprintf(stderr, "supabridge %s: %s\n", fs.Name(), flagProblem(fs, err))
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "supabridge %s: unexpected argument (tokens and secrets are read from a file, or - for stdin, never from the command line)\n", fs.Name())
		fs.Usage()
		return 2
	}
	return -1
}

// flagProblem describes a flag.Parse error without its quoted input: the
// flag is named only when fs defines it.
func flagProblem(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	named := func(after string) string {
		// The last occurrence: the quoted input before it may hold the
		// same words.
		rest := msg[strings.LastIndex(msg, after)+len(after):]
		name, _, _ := strings.Cut(strings.TrimLeft(rest, "-"), ":")
		if fs.Lookup(name) != nil {
			return "--" + name
		}
		return "a flag"
	}
	switch {
	case strings.HasPrefix(msg, "flag needs an argument"):
		return named("argument: ") + " needs a value"
	case strings.Contains(msg, "for flag "):
		return "invalid value for " + named("for flag ") + " (not repeated here)"
	case strings.Contains(msg, "invalid boolean value"):
		return "invalid value for " + named("for ") + " (true or false; not repeated here)"
	case strings.HasPrefix(msg, "flag provided but not defined"):
		return "unknown flag (not repeated here, in case it is a secret); run with --help for the flags"
	}
	return "bad flag syntax (not repeated here); run with --help for the flags"
}
