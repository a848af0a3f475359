package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"sigs.k8s.io/yaml"

	"supabridge/shared/config"
)

// keysCmd is `supabridge keys`: the anon and service_role API keys for a
// Supabase JWT secret.
type keysCmd struct {
	now func() time.Time
}

const keysAbout = `Prints the anon and service_role API keys (ANON_KEY, SERVICE_ROLE_KEY) for a
Supabase JWT secret, signed HS256 with the claims Supabase's own generator
writes: {"iss":"supabase","ref":<--ref, when given>,"role":<role>,"iat":<now>,"exp":<now+expiry>}.
The secret comes from --secret-file (a path, or - for stdin), else from
SUPABASE_JWT_SECRET or JWT_SECRET (or their _FILE forms) in the environment or
--env-file. A secret under 32 bytes, or the example secret of Supabase's .env,
is refused. --format k8s prints a supabase-secrets Secret manifest (JWT_SECRET,
ANON_KEY, SERVICE_ROLE_KEY) for kubectl apply -f -; nothing is applied.

supabridge keys signing-key makes a signing key of the bridge's own instead
(see supabridge keys signing-key --help).`

func (c keysCmd) run(ctx context.Context, args []string, cio IO) int {
	if len(args) > 0 && args[0] == "signing-key" {
		return signingKeyCmd(c).run(ctx, args[1:], cio)
	}
	fs := newFlags("keys", "[--secret-file FILE|-] [--env-file FILE] [--expiry 10y] [--ref REF] [--format env|k8s]", keysAbout, cio.Stderr)
	secretFile := fs.String("secret-file", "", "file holding the JWT secret, or - for stdin (default: the environment)")
	envFile := fs.String("env-file", "", "read variables from this KEY=VALUE file instead of the environment")
	expiry := fs.String("expiry", "10y", "lifetime: years (10y), days (30d) or a Go duration (8760h)")
	ref := fs.String("ref", "", `project ref written as the "ref" claim (omitted when empty)`)
	format := fs.String("format", "env", "env (KEY=VALUE lines) or k8s (a Secret manifest)")
	namespace := fs.String("namespace", "", "metadata.namespace of the k8s Secret (omitted when empty)")
	if code := parseFlags(fs, args, cio.Stderr); code >= 0 {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(cio.Stderr, "supabridge keys: "+format+"\n", a...)
		return 1
	}
	if *format != "env" && *format != "k8s" {
		fmt.Fprintln(cio.Stderr, "supabridge keys: --format must be env or k8s")
		return 2
	}
	iat := now(c.now).UTC().Truncate(time.Second)
	exp, err := addExpiry(iat, *expiry)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge keys: --expiry: %v\n", err)
		return 2
	}
	env, err := environment(cio, *envFile)
	if err != nil {
		return fail("%v", err)
	}
	secret, err := legacySecret(env, *secretFile, cio.Stdin)
	if err != nil {
		return fail("%v", err)
	}
	if string(secret) == config.ExampleSecret {
		return fail("refused: this is the example secret of Supabase's self-hosting .env, published for all to read; make a new one with supabridge secret")
	}
	anon, err := apiKey(secret, *ref, "anon", iat, exp)
	if err != nil {
		return fail("%v", err)
	}
	service, err := apiKey(secret, *ref, "service_role", iat, exp)
	if err != nil {
		return fail("%v", err)
	}
	if *format == "env" {
		fmt.Fprintf(cio.Stdout, "ANON_KEY=%s\nSERVICE_ROLE_KEY=%s\n", anon, service)
	} else {
		out, err := secretManifest(*namespace, map[string]string{
			"JWT_SECRET":       string(secret),
			"ANON_KEY":         anon,
			"SERVICE_ROLE_KEY": service,
		})
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(cio.Stdout, "# supabase-secrets for self-hosted Supabase; apply with: kubectl apply -f <this file>\n%s", out)
	}
	fmt.Fprintf(cio.Stderr, "supabridge keys: anon and service_role, iss supabase, issued %s, expire %s\n", date(iat), date(exp))
	return 0
}

var expiryPattern = regexp.MustCompile(`^([0-9]{1,4})([yd])$`)

// addExpiry adds an expiry written as years ("10y"), days ("30d") or a Go
// duration ("8760h") to t. Years and days are calendar ones (AddDate).
func addExpiry(t time.Time, v string) (time.Time, error) {
	var exp time.Time
	if m := expiryPattern.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1]) // at most four digits
		if m[2] == "y" {
			exp = t.AddDate(n, 0, 0)
		} else {
			exp = t.AddDate(0, 0, n)
		}
	} else {
		d, err := time.ParseDuration(v)
		if err != nil {
			return time.Time{}, errors.New("not like 10y, 30d or 8760h")
		}
		exp = t.Add(d)
	}
	if !exp.After(t) {
		return time.Time{}, errors.New("must be positive")
	}
	return exp.Truncate(time.Second), nil
}

// keyHeader is the header Supabase's generator writes: no kid.
var keyHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// apiKey signs an API key for role. The members are written in the order of
// the keys Supabase issues for its hosted projects (iss, ref, role, iat,
// exp); its self-hosting generate-keys.sh writes the same claims without
// ref, role first. Order changes nothing for a verifier.
func apiKey(secret []byte, ref, role string, iat, exp time.Time) (string, error) {
	var p bytes.Buffer
	p.WriteString(`{"iss":"supabase"`)
	if ref != "" {
		q, err := json.Marshal(ref)
		if err != nil {
			return "", err
		}
		p.WriteString(`,"ref":`)
		p.Write(q)
	}
	fmt.Fprintf(&p, `,"role":%q,"iat":%d,"exp":%d}`, role, iat.Unix(), exp.Unix())
	signing := keyHeader + "." + base64.RawURLEncoding.EncodeToString(p.Bytes())
	sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// secretManifest renders the supabase-secrets Secret. sigs.k8s.io/yaml
// quotes every value that needs it, whatever bytes the secret holds.
func secretManifest(namespace string, data map[string]string) (string, error) {
	meta := map[string]string{"name": "supabase-secrets"}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	b, err := yaml.Marshal(map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   meta,
		"type":       "Opaque",
		"stringData": data,
	})
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	return string(b), nil
}
