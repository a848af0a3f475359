package main

import (
	"bufio"
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

// parseEnvFile reads KEY=VALUE lines, the format of docker compose's .env
// and of Supabase's self-hosting .env: blank lines and lines starting with #
// are skipped, an optional "export " prefix is dropped, a value in matching
// single or double quotes is taken verbatim between them, and an unquoted
// value ends at " #" (an inline comment). A later line wins over an earlier
// one. Errors name the line, never its value.
func parseEnvFile(r io.Reader) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(r, maxInput))
	sc.Buffer(make([]byte, 0, 4096), maxInput)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !envKey.MatchString(key) {
			return nil, fmt.Errorf("line %d: not KEY=VALUE", n)
		}
		val = strings.TrimSpace(val)
		switch {
		case len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0]:
			val = val[1 : len(val)-1]
		case len(val) > 0 && (val[0] == '"' || val[0] == '\''):
			return nil, fmt.Errorf("line %d (%s): unterminated quote", n, key)
		default:
			if i := strings.Index(val, " #"); i >= 0 {
				val = strings.TrimSpace(val[:i])
			}
		}
		m[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return m, nil
}

// environment is the Env a subcommand reads: with --env-file, the file's
// variables and nothing else (so the check is of the file, not of whatever
// the shell happens to export); without it, the process environment.
func environment(cio IO, envFile string) (config.Env, error) {
	if envFile == "" {
		return cio.Env, nil
	}
	f, err := os.Open(envFile)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	defer f.Close()
	m, err := parseEnvFile(f)
	if err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", envFile, err)
	}
	return config.MapEnv(m), nil
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
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
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

// newFlags returns a FlagSet for a subcommand whose usage (synopsis and a
// paragraph) goes to stderr with the flag defaults.
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: supabridge %s %s\n\n%s\n\nflags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args. It returns -1 to go on, or the exit status: 0
// after --help, 2 for a bad flag or any positional argument (a token or a
// secret on the command line would land in shell history, so none is
// accepted, and none is echoed).
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "supabridge %s: unexpected argument (tokens and secrets are read from a file, or - for stdin, never from the command line)\n", fs.Name())
		fs.Usage()
		return 2
	}
	return -1
}
