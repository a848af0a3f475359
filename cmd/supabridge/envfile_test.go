package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"supabridge/shared/config"
)

// update rewrites the golden files: go test ./cmd/supabridge -run . -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// fixedNow is the clock of every golden test.
var fixedNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// testSecret is a Supabase secret for tests: 47 bytes.
const testSecret = "supabridge-test-secret-0123456789abcdefghijklmn"

// golden compares got with testdata/<name>, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/supabridge -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/supabridge -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// result is what a subcommand wrote and returned.
type result struct {
	stdout, stderr string
	code           int
}

// runCmd runs a subcommand's run func with env as its whole environment.
func runCmd(t *testing.T, run func(context.Context, []string, IO) int, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	if env == nil {
		env = map[string]string{}
	}
	code := run(t.Context(), args, IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Env: config.MapEnv(env)})
	return result{out.String(), errb.String(), code}
}

// writeFile writes content to a new file in a test directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseEnvFile(t *testing.T) {
	in := `# Supabase .env, abridged
JWT_SECRET=abc def   # inline comment
export AUTH_ISSUER="https://auth.example.com/application/o/app/"
QUOTED='a # not a comment'
EMPTY=

SPACED = value
JWT_SECRET=later wins
`
	got, err := parseEnvFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"JWT_SECRET":  "later wins",
		"AUTH_ISSUER": "https://auth.example.com/application/o/app/",
		"QUOTED":      "a # not a comment",
		"EMPTY":       "",
		"SPACED":      "value",
	}
	if len(got) != len(want) {
		t.Errorf("got %d variables %v, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}

	for _, tc := range []struct{ name, in, want string }{
		{"no equals", "JUST_A_WORD\n", "line 1: not KEY=VALUE"},
		{"bad key", "\n1X=y\n", "line 2: not KEY=VALUE"},
		{"open quote", `A="never closed` + "\n", "line 1 (A): unterminated quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseEnvFile(strings.NewReader(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "never closed") {
				t.Errorf("the error echoes the value: %v", err)
			}
		})
	}
}

func TestLegacySecret(t *testing.T) {
	long := testSecret
	file := writeFile(t, "secret", long+"\n")
	short := writeFile(t, "short", "too-short\n")
	for _, tc := range []struct {
		name       string
		env        map[string]string
		secretFile string
		stdin      string
		want       string // the secret, or the error's text
		wantErr    bool
	}{
		{name: "primary", env: map[string]string{"SUPABASE_JWT_SECRET": long}, want: long},
		{name: "alias, as in supabase-secrets", env: map[string]string{"JWT_SECRET": long}, want: long},
		{name: "file variable", env: map[string]string{"JWT_SECRET_FILE": file}, want: long},
		{name: "flag file beats the environment", env: map[string]string{"SUPABASE_JWT_SECRET": "x"}, secretFile: file, want: long},
		{name: "stdin", secretFile: "-", stdin: long + "\n", want: long},
		{name: "provider variables do not matter", env: map[string]string{"SUPABASE_JWT_SECRET": long, "AUTH_LEEWAY": "nonsense"}, want: long},
		{name: "read when another key signs", env: map[string]string{"JWT_SECRET": long, "SUPABRIDGE_SIGNING_KEY": "{}"}, want: long},
		{name: "missing", wantErr: true, want: "config: SUPABASE_JWT_SECRET is required (or JWT_SECRET, or SUPABASE_JWT_SECRET_FILE)"},
		{name: "short", env: map[string]string{"SUPABASE_JWT_SECRET": "too-short"}, wantErr: true, want: "config: SUPABASE_JWT_SECRET must be at least 32 bytes"},
		{name: "short file", secretFile: short, wantErr: true, want: "--secret-file: config: SUPABASE_JWT_SECRET must be at least 32 bytes"},
		{name: "aliases differ", env: map[string]string{"SUPABASE_JWT_SECRET": long, "JWT_SECRET": long + "x"}, wantErr: true,
			want: "config: SUPABASE_JWT_SECRET and JWT_SECRET are both set and differ; set one, or make them equal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret, err := legacySecret(config.MapEnv(tc.env), tc.secretFile, strings.NewReader(tc.stdin))
			if tc.wantErr {
				if err == nil || err.Error() != tc.want {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(secret) != tc.want {
				t.Errorf("got a %d-byte secret, want %d bytes", len(secret), len(tc.want))
			}
		})
	}
}

// TestFlags checks what every subcommand shares: --help, bad flags, and no
// positional argument (a token there would be in shell history).
func TestFlags(t *testing.T) {
	for _, c := range commands() {
		if c.name == "serve" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			r := runCmd(t, c.run, nil, "", "--help")
			if r.code != 0 || !strings.HasPrefix(r.stderr, "usage: supabridge "+c.name) || r.stdout != "" {
				t.Errorf("--help: got %d, stderr %q, stdout %q; want 0 and the usage on stderr", r.code, r.stderr, r.stdout)
			}
			if r := runCmd(t, c.run, nil, "", "--no-such-flag"); r.code != 2 || !strings.Contains(r.stderr, "unknown flag") || strings.Contains(r.stderr, "no-such-flag") {
				t.Errorf("bad flag: got %d, %q; want 2", r.code, r.stderr)
			}
			const tok = "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"
			r = runCmd(t, c.run, nil, "", tok)
			if r.code != 2 || !strings.Contains(r.stderr, "never from the command line") {
				t.Errorf("positional argument: got %d, %q; want 2", r.code, r.stderr)
			}
			if strings.Contains(r.stderr+r.stdout, tok) {
				t.Errorf("the argument was echoed")
			}
		})
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"help"}, nil, &out, &errb, config.MapEnv(nil)); code != 0 {
		t.Errorf("help: got %d", code)
	}
	for _, name := range []string{"doctor", "keys", "secret", "decode", "verify"} {
		if !strings.Contains(out.String(), "\n  "+name+" ") {
			t.Errorf("help does not list %s:\n%s", name, out.String())
		}
	}
}
