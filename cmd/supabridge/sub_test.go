package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"supabridge/internal/testenv/pg"
	"supabridge/shared/claims"
)

// subProviders is an AUTH_PROVIDERS list: Authentik with uuid5 (issuer
// with a trailing slash), Outseta with passthrough, and Keycloak with uuid5
// in its own namespace.
const subProviders = `[
 {"name":"authentik","issuer":"https://auth.example.com/application/o/notes/","jwks_url":"https://auth.example.com/application/o/notes/jwks/","sub_mapping":"uuid5"},
 {"name":"outseta","issuer":"https://acme.outseta.com","jwks_url":"https://acme.outseta.com/.well-known/jwks","sub_mapping":"passthrough"},
 {"name":"keycloak","issuer":"https://sso.example.com/realms/acme","jwks_url":"https://sso.example.com/realms/acme/protocol/openid-connect/certs","sub_mapping":"uuid5","sub_uuid_namespace":"1b671a64-40d5-491e-99b0-da01ff1f3341"}
]`

var subEnv = map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_PROVIDERS": subProviders}

// oddSubjects are subjects the mapping must carry byte for byte: Authentik's
// hashed id, Auth0's "|", a URN's ":", a quote, non-ASCII letters, an emoji,
// a backslash and inner spaces.
var oddSubjects = []string{
	"0c5c4bc8b1a7d5e98df43b8d6d1f3a5fe0c5c4bc8b1a7d5e98df43b8d6d1f3a5",
	"auth0|65f1c0de2a",
	"urn:acme:user:42",
	"o'brien",
	"Zoë Ñúñez",
	"用户🙂",
	`back\slash`,
	" spaced  out ",
}

func TestSubGolden(t *testing.T) {
	for _, tc := range []struct {
		golden   string
		provider string
	}{
		{"sub.uuid5.golden", "authentik"},
		{"sub.passthrough.golden", "outseta"},
		{"sub.namespace.golden", "keycloak"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			args := []string{"--provider", tc.provider}
			for _, s := range oddSubjects {
				args = append(args, "--sub", s)
			}
			r := runCmd(t, subCmd{}.run, subEnv, "", args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("got %d, stderr %q", r.code, r.stderr)
			}
			golden(t, tc.golden, r.stdout)
			// The same subjects as a list on stdin give the same lines.
			list := runCmd(t, subCmd{}.run, subEnv, strings.Join(oddSubjects, "\r\n")+"\n\n", "--provider", tc.provider, "--subs", "-")
			if list.code != 0 || list.stdout != r.stdout {
				t.Errorf("--subs -: got %d\n%s\nwant the --sub output\n%s", list.code, list.stdout, r.stdout)
			}
			if strings.Contains(r.stdout+list.stdout, testSecret) {
				t.Error("the secret was printed")
			}
		})
	}
}

func TestSubErrors(t *testing.T) {
	single := map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": "https://idp.example.com/jwks", "SUB_MAPPING": "uuid5"}
	withIssuer := map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_ISSUER": "https://idp.example.com/", "SUB_MAPPING": "uuid5"}
	for _, tc := range []struct {
		name   string
		env    map[string]string
		stdin  string
		args   []string
		code   int
		stdout string // a part of stdout; "" means it must be empty
		stderr string // a part of stderr
	}{
		{"no subjects", subEnv, "", []string{"--provider", "outseta"}, 2, "", "give the subjects with --sub or with --subs"},
		{"both inputs", subEnv, "a\n", []string{"--provider", "outseta", "--sub", "a", "--subs", "-"}, 2, "", "one of the two"},
		{"several providers", subEnv, "", []string{"--sub", "a"}, 2, "", `3 providers are configured: name one with --provider ("authentik", "outseta", "keycloak")`},
		{"unknown provider", subEnv, "", []string{"--provider", "github", "--sub", "a"}, 2, "", `no provider "github"`},
		{"no configuration", map[string]string{"AUTH_ISSUER": "https://idp.example.com/"}, "", []string{"--sub", "a"}, 2, "", "a signing key is required"},
		{"bad schema", subEnv, "", []string{"--provider", "outseta", "--sub", "a", "--schema", "x; drop"}, 2, "", "--schema: not a plain SQL identifier"},
		{"no issuer configured", single, "", []string{"--sub", "a"}, 2, "", `provider "default" has no configured issuer: pass --iss`},
		{"issuer given", single, "", []string{"--sub", "a", "--iss", "https://idp.example.com/"}, 0,
			"a\t" + claims.NewSHA1(claims.NamespaceURL, "https://idp.example.com/#a").String() + "\t", ""},
		{"issuer differs", withIssuer, "", []string{"--sub", "a", "--iss", "https://idp.example.com"}, 2, "", `--iss differs from provider "default"'s issuer "https://idp.example.com/"`},
		{"control character", subEnv, "good\nbad\x00nul\n\nalso good\n", []string{"--provider", "outseta", "--subs", "-"}, 1,
			"also good\talso good\tselect 'also good';", "line 2: the subject holds a control character"},
		{"tab in --sub", subEnv, "", []string{"--provider", "outseta", "--sub", "a\tb"}, 1, "# provider", "--sub: the subject holds a control character"},
		{"not UTF-8", subEnv, "\xff\n", []string{"--provider", "outseta", "--subs", "-"}, 1, "# provider", "line 1: the subject is not UTF-8"},
		{"too long", subEnv, strings.Repeat("x", maxSubject+1) + "\n", []string{"--provider", "outseta", "--subs", "-"}, 1, "# provider", "line 1: the subject is longer than 4096 bytes"},
		{"line over the reader's bound", subEnv, "a\n" + strings.Repeat("x", 2*maxSubject) + "\nb\n", []string{"--provider", "outseta", "--subs", "-"}, 1, "a\ta\t", "--subs: line 2: longer than 4096 bytes"},
		{"missing file", subEnv, "", []string{"--provider", "outseta", "--subs", "/nonexistent/subs.txt"}, 1, "# provider", "--subs: open /nonexistent/subs.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, subCmd{}.run, tc.env, tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Errorf("got %d, want %d\nstdout %q\nstderr %q", r.code, tc.code, r.stdout, r.stderr)
			}
			if tc.stdout == "" && r.stdout != "" || !strings.Contains(r.stdout, tc.stdout) {
				t.Errorf("stdout %q, want it to contain %q", r.stdout, tc.stdout)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tc.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, testSecret) {
				t.Error("the secret was printed")
			}
		})
	}
}

// TestSubSQLAgrees runs the SQL that sub prints in a real PostgreSQL with
// uuid-ossp, installed as on Supabase (schema extensions), and checks it
// gives the sub the minter gave: per subject, and through the column
// expression of the header over a table of the subjects.
func TestSubSQLAgrees(t *testing.T) {
	db := pg.Start(t)
	conn := db.Conn(t)
	if _, err := conn.Exec(t.Context(), `create schema extensions; create extension "uuid-ossp" with schema extensions;
		create table subjects (user_id text not null)`); err != nil {
		t.Fatal(err)
	}
	for _, s := range oddSubjects {
		if _, err := conn.Exec(t.Context(), "insert into subjects values ($1)", s); err != nil {
			t.Fatal(err)
		}
	}
	for _, provider := range []string{"authentik", "outseta", "keycloak"} {
		t.Run(provider, func(t *testing.T) {
			r := runCmd(t, subCmd{}.run, subEnv, strings.Join(oddSubjects, "\n"), "--provider", provider, "--subs", "-")
			if r.code != 0 {
				t.Fatalf("got %d: %s", r.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			column := ""
			minted := map[string]string{}
			for _, l := range lines {
				if rest, ok := strings.CutPrefix(l, "# in SQL, for a text column user_id holding the provider's subject: "); ok {
					column = rest
				}
				if strings.HasPrefix(l, "#") {
					continue
				}
				f := strings.Split(l, "\t")
				if len(f) != 3 {
					t.Fatalf("line %q: want 3 tab-separated fields", l)
				}
				var got string
				if err := conn.QueryRow(t.Context(), strings.TrimSuffix(f[2], ";")+"::text").Scan(&got); err != nil {
					t.Fatalf("%s: %v", f[2], err)
				}
				if got != f[1] {
					t.Errorf("subject %q: SQL gives %s, the minter %s", f[0], got, f[1])
				}
				minted[f[0]] = f[1]
			}
			if len(minted) != len(oddSubjects) {
				t.Fatalf("got %d subjects, want %d", len(minted), len(oddSubjects))
			}
			if column == "" {
				t.Fatal("no column expression in the header")
			}
			rows, err := conn.Query(t.Context(), fmt.Sprintf("select user_id, (%s)::text from subjects", column))
			if err != nil {
				t.Fatalf("%s: %v", column, err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var sub, got string
				if err := rows.Scan(&sub, &got); err != nil {
					t.Fatal(err)
				}
				if n++; minted[sub] != got {
					t.Errorf("column expression for %q: %s, the minter %s", sub, got, minted[sub])
				}
			}
			if err := rows.Err(); err != nil || n != len(oddSubjects) {
				t.Fatalf("%d rows (%v), want %d", n, err, len(oddSubjects))
			}
		})
	}
}

// TestSubDocumented checks that the output docs/operating.md shows for
// supabridge sub is the command's golden output, line for line.
func TestSubDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	var goldens []byte
	for _, name := range []string{"sub.uuid5.golden", "sub.passthrough.golden", "sub.namespace.golden"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		goldens = append(goldens, b...)
	}
	_, section, ok := strings.Cut(string(doc), "### `supabridge sub`")
	if !ok {
		t.Fatal("docs/operating.md has no supabridge sub section")
	}
	_, block, _ := strings.Cut(section, "```console\n")
	block, _, _ = strings.Cut(block, "```")
	shown := 0
	for _, line := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
		if strings.HasPrefix(line, "$ ") {
			continue
		}
		shown++
		if !strings.Contains(string(goldens), line+"\n") {
			t.Errorf("docs/operating.md shows %q, which no sub golden file has", line)
		}
	}
	if shown < 4 {
		t.Errorf("docs/operating.md shows %d output lines of supabridge sub, want the header and a subject", shown)
	}
}
