package main

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/config"
)

// leaked reports a run of 8 or more characters of secret found in out: a
// path error quotes the argument whole, but a quoting logger might split
// it, so any long piece counts.
func leaked(out, secret string) string {
	for i := 0; i+8 <= len(secret); i++ {
		if piece := secret[i : i+8]; strings.Contains(out, piece) {
			return piece
		}
	}
	return ""
}

// TestNoEchoOfMisplacedSecrets gives each subcommand a token or a secret
// where a file path, a flag or a command belongs, as a hurried operator
// does (verify --token "$JWT"). The error must say what is wrong without
// repeating the argument: it ends up in terminals, CI logs and screenshots.
func TestNoEchoOfMisplacedSecrets(t *testing.T) {
	const jwtArg = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNl"
	const secretArg = "-Sup3r-Secret-Value-0123456789abcdefghij"
	tokenFile := writeFile(t, "token", jwtArg)
	tests := []struct {
		name   string
		run    func(IO) int
		args   []string
		secret string
		want   string
	}{
		{"verify --token JWT", nil, []string{"verify", "--token", jwtArg}, jwtArg, "--token: no such file"},
		{"decode --token JWT", nil, []string{"decode", "--token", jwtArg}, jwtArg, "--token: no such file"},
		{"doctor --token JWT", nil, []string{"doctor", "--token", jwtArg}, jwtArg, "--token: no such file"},
		{"verify --secret-file SECRET", nil, []string{"verify", "--token", tokenFile, "--secret-file", secretArg}, secretArg, "--secret-file"},
		{"keys --secret-file SECRET", nil, []string{"keys", "--secret-file", secretArg}, secretArg, "--secret-file"},
		{"doctor --env-file SECRET", nil, []string{"doctor", "--env-file", secretArg}, secretArg, "--env-file: no such file"},
		{"keys --env-file SECRET", nil, []string{"keys", "--env-file", secretArg}, secretArg, "--env-file: no such file"},
		{"secret beginning with - as a flag", nil, []string{"keys", secretArg}, secretArg, "unknown flag"},
		{"secret beginning with -- as a flag", nil, []string{"verify", "-" + secretArg}, secretArg, "unknown flag"},
		{"secret as a flag's value that must parse", nil, []string{"doctor", "--timeout", secretArg}, secretArg, "invalid value for --timeout"},
		{"secret as a boolean flag's value", nil, []string{"doctor", "--json=" + secretArg}, secretArg, "invalid value for --json"},
		{"secret after a flag name with =", nil, []string{"decode", "--token=" + jwtArg}, jwtArg, "--token: no such file"},
		{"JWT as the command", nil, []string{jwtArg}, jwtArg, "unknown command"},
		{"directory as the token file", nil, []string{"decode", "--token", t.TempDir() + "/" + "eyJzZWNyZXQiOiJkaXIifQ"}, "eyJzZWNyZXQiOiJkaXIifQ", "--token: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tt.args, strings.NewReader(""), &out, &errb, config.MapEnv(map[string]string{"SUPABASE_JWT_SECRET": testSecret}))
			if code == 0 {
				t.Errorf("exit 0, want a failure")
			}
			all := out.String() + errb.String()
			if p := leaked(all, strings.TrimLeft(tt.secret, "-")); p != "" {
				t.Errorf("the output repeats the argument (%q):\n%s", p, all)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, errb.String())
			}
		})
	}
	// A directory given as a file names no path either.
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Main([]string{"decode", "--token", dir}, strings.NewReader(""), &out, &errb, config.MapEnv(nil)); code == 0 || strings.Contains(errb.String(), dir) {
		t.Errorf("decode --token DIR: exit %d, stderr %q; want a failure without the path", code, errb.String())
	}
	// A typo of a command is still named: it is no secret.
	errb.Reset()
	Main([]string{"doctr"}, nil, &out, &errb, config.MapEnv(nil))
	if !strings.Contains(errb.String(), `unknown command "doctr"`) {
		t.Errorf("a mistyped command: got %q, want it named", errb.String())
	}
}

// hostile is a claim value holding what a terminal acts on: the
// right-to-left override and other bidirectional controls, C1 controls
// (U+009B is CSI), DEL, the line separator and a zero-width joiner. JSON
// lets all of them stand unescaped inside a string.
const hostile = "evil\u202egnp.exe \u009b31m\u007f\u2028\u2066x\u2069\u200d"

// unsafeRune reports a rune that decode and verify must never print raw.
func unsafeRune(s string) (rune, bool) {
	for _, r := range s {
		if r == '\n' {
			continue
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return r, true
		}
	}
	return 0, false
}

// TestOutputEscapesTerminalControls checks that decode, verify and doctor
// print a token's control and bidirectional characters escaped (as JSON's
// \uXXXX, so the JSON they print stays JSON), never raw: a crafted claim
// could otherwise rewrite what the operator sees ("evil\u202egnp.exe"
// shows as "evilexe.png").
func TestOutputEscapesTerminalControls(t *testing.T) {
	claims := jwt.MapClaims{"iss": "supabase", "aud": "authenticated", "sub": "alice", "role": "authenticated",
		"iat": fixedNow.Unix(), "exp": fixedNow.Add(time.Hour).Unix(), "name": hostile}
	good := hs256(t, claims, map[string]any{"kid": "k\u202e1"})
	wrongAud := hs256(t, jwt.MapClaims{"aud": hostile, "sub": "s\u202e", "iat": fixedNow.Unix(), "exp": fixedNow.Add(time.Hour).Unix()}, nil)
	// Bytes that are no UTF-8 at all, inside a JSON string of the payload.
	rawPayload := `{"sub":"a` + "\xff\xfe" + `","exp":1893459600}`
	badUTF8 := "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(rawPayload)) + ".c2ln"
	for _, tc := range []struct {
		name  string
		run   func(*testing.T) result
		wants []string
	}{
		{"decode", func(t *testing.T) result { return runCmd(t, decodeCmd{now: clock(fixedNow)}.run, nil, good) }, []string{`"name": "evil\u202egnp.exe \u009b31m\u007f\u2028\u2066x\u2069\u200d"`, `"kid": "k\u202e1"`}},
		{"decode, not UTF-8", func(t *testing.T) result { return runCmd(t, decodeCmd{now: clock(fixedNow)}.run, nil, badUTF8) }, []string{`"sub": "a\ufffd\ufffd"`}},
		{"verify, valid", func(t *testing.T) result {
			return runCmd(t, verifyCmd{now: clock(fixedNow)}.run, secretEnv, good)
		}, []string{"ok   signature"}},
		{"verify, audience refused", func(t *testing.T) result {
			return runCmd(t, verifyCmd{now: clock(fixedNow)}.run, secretEnv, wrongAud)
		}, []string{`FAIL audience: the token's aud is "evil\u202egnp.exe`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run(t)
			if c, bad := unsafeRune(r.stdout + r.stderr); bad {
				t.Errorf("the output holds %U raw:\n%s%s", c, r.stdout, r.stderr)
			}
			for _, w := range tc.wants {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestParseEnvFileComposeRules checks --env-file against the rules of
// docker compose's .env syntax (docs.docker.com, "Syntax for environment
// files in Docker Compose"), each case the documented input and output,
// and refuses what supabridge does not do the same way (interpolation)
// rather than read it differently.
func TestParseEnvFileComposeRules(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unquoted", `VAR=VAL`, "VAL"},
		{"double quoted", `VAR="VAL"`, "VAL"},
		{"single quoted", `VAR='VAL'`, "VAL"},
		{"unquoted, inline comment after a space", `VAR=VAL # comment`, "VAL"},
		{"unquoted, inline comment after a tab", "VAR=VAL\t# comment", "VAL"},
		{"unquoted, # without a space is the value", `VAR=VAL# not a comment`, "VAL# not a comment"},
		{"double quoted, # inside", `VAR="VAL # not a comment"`, "VAL # not a comment"},
		{"double quoted, comment after the closing quote", `VAR="VAL" # comment`, "VAL"},
		{"single quoted, comment after the closing quote", `VAR='VAL' # comment`, "VAL"},
		{"double quoted, no space before the comment", `VAR="VAL"# comment`, "VAL"},
		{"single quoted is literal", `VAR='$OTHER'`, "$OTHER"},
		{"single quoted is literal, braces", `VAR='${OTHER}'`, "${OTHER}"},
		{"single quoted, escaped quote", `VAR='Let\'s go!'`, "Let's go!"},
		{"double quoted, escaped quotes", `VAR="{\"hello\": \"json\"}"`, `{"hello": "json"}`},
		{"double quoted, \\t", `VAR="some\tvalue"`, "some\tvalue"},
		{"double quoted, \\n \\r \\\\", `VAR="a\nb\rc\\d"`, "a\nb\rc\\d"},
		{"single quoted keeps \\t", `VAR='some\tvalue'`, `some\tvalue`},
		{"unquoted keeps \\t", `VAR=some\tvalue`, `some\tvalue`},
		{"export prefix", `export VAR="VAL" # comment`, "VAL"},
		{"spaces around =", `VAR = VAL`, "VAL"},
		{"empty", `VAR=`, ""},
		{"empty, then a comment", `VAR= # comment`, ""},
		{"unquoted, # first is the value", `VAR=#value`, "#value"},
		{"CRLF line end", "VAR=\"VAL\"\r", "VAL"},
		{"empty quotes", `VAR=""`, ""},
		{"a lone $ is literal", `VAR=pa$5word`, "pa$5word"},
		{"double quoted over several lines (a PEM)", "VAR=\"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\"", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEnvFile(strings.NewReader("# before\n" + tt.in + "\nNEXT=1\n"))
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if got["VAR"] != tt.want || got["NEXT"] != "1" {
				t.Errorf("got VAR=%q NEXT=%q, want %q and 1", got["VAR"], got["NEXT"], tt.want)
			}
		})
	}
	for _, tc := range []struct{ name, in, want string }{
		{"text after the closing quote", `VAR="VAL" trailing` + "\n", `line 1 (VAR): text after the closing quote`},
		{"unterminated double quote", `VAR="never closed` + "\nX=1\n", `line 1 (VAR): unterminated quote`},
		{"unterminated single quote", `VAR='never closed` + "\n", `line 1 (VAR): unterminated quote`},
		{"interpolation, braced", "\nVAR=${OTHER}\n", `line 2 (VAR): ${...} and $NAME interpolation is not supported`},
		{"interpolation, unbraced in double quotes", `VAR="x$OTHER"` + "\n", `line 1 (VAR): ${...} and $NAME interpolation is not supported`},
		{"interpolation, $$", `VAR=a$$b` + "\n", `line 1 (VAR): ${...} and $NAME interpolation is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseEnvFile(strings.NewReader(tc.in))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if err != nil && (strings.Contains(err.Error(), "never") || strings.Contains(err.Error(), "OTHER") || strings.Contains(err.Error(), "trailing")) {
				t.Errorf("the error echoes the value: %v", err)
			}
		})
	}
}
