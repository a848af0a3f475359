package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"sigs.k8s.io/yaml"

	"supabridge/shared/config"
)

// signingKeyCmd is `supabridge keys signing-key`: a signing key of the
// bridge's own.
type signingKeyCmd struct {
	now func() time.Time
}

const signingKeyAbout = `Makes a signing key of the bridge's own: an EC P-256 private JWK with a
fresh kid, for SUPABRIDGE_SIGNING_KEY. The bridge then mints ES256 tokens with
that kid and never needs Supabase Auth's private key or the legacy JWT secret.
It also prints the public JWK to append to the keys of JWT_JWKS, the set
PostgREST, Realtime and Storage verify with; revoking the bridge is then
removing that one key from JWT_JWKS.

--format env (the default) prints compose .env lines: SUPABRIDGE_SIGNING_KEY,
and JWT_JWKS with the key appended when the current JWT_JWKS is known
(--jwks-file, else JWT_JWKS in the environment or --env-file).
--format k8s prints a Secret manifest for the functions (kubectl apply -f -)
and the kubectl patch that appends the public key to JWT_JWKS in
supabase-secrets. Nothing is applied. The private key goes to stdout only.`

// kidPattern keeps a kid safe inside single quotes, YAML and JSON.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func (c signingKeyCmd) run(_ context.Context, args []string, cio IO) int {
	fs := newFlags("keys signing-key", "[--kid KID] [--format env|k8s] [--namespace NS] [--name NAME] [--jwks-file FILE|-] [--env-file FILE]", signingKeyAbout, cio.Stderr)
	kid := fs.String("kid", "", "the key's kid (default a fresh random UUID)")
	format := fs.String("format", "env", "env (compose .env lines) or k8s (a Secret manifest and a kubectl patch)")
	namespace := fs.String("namespace", "", "metadata.namespace of the k8s Secret and the patch (omitted when empty)")
	name := fs.String("name", "supabridge-signing-key", "metadata.name of the functions' k8s Secret")
	jwksFile := fs.String("jwks-file", "", "the current JWT_JWKS, to print it with the key appended (- for stdin; default: JWT_JWKS of the environment or --env-file)")
	envFile := fs.String("env-file", "", "read variables from this KEY=VALUE file instead of the environment")
	if code := parseFlags(fs, args, cio.Stderr); code >= 0 {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(cio.Stderr, "supabridge keys signing-key: "+format+"\n", a...)
		return code
	}
	if *format != "env" && *format != "k8s" {
		return fail(2, "--format must be env or k8s")
	}
	if *kid == "" {
		*kid = newUUID()
	}
	if !kidPattern.MatchString(*kid) {
		return fail(2, "--kid: use 1 to 128 letters, digits and . _ : -")
	}
	env, err := environment(cio, *envFile)
	if err != nil {
		return fail(1, "%v", err)
	}
	var current []byte
	from := ""
	switch {
	case *jwksFile != "":
		if current, err = readInput(*jwksFile, cio.Stdin); err != nil {
			return fail(1, "--jwks-file: %v", err)
		}
		from = "--jwks-file"
	default:
		if v, ok := env(envJWKS); ok && strings.TrimSpace(v) != "" {
			current, from = []byte(strings.TrimSpace(v)), envJWKS
		}
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fail(1, "%v", err)
	}
	private, err := marshalJWK(key, *kid, true)
	if err != nil {
		return fail(1, "%v", err)
	}
	public, err := marshalJWK(&key.PublicKey, *kid, false)
	if err != nil {
		return fail(1, "%v", err)
	}
	var merged []byte
	if current != nil {
		if merged, err = appendJWK(current, public, *kid); err != nil {
			return fail(1, "%s: %v", from, err)
		}
	}
	// The key must load exactly as the functions will load it.
	if _, _, err := config.LoadSupabase(config.MapEnv(map[string]string{config.EnvSigningKey: string(private)})); err != nil {
		return fail(1, "the new key does not load: %v", err)
	}

	made := date(now(c.now))
	if *format == "env" {
		fmt.Fprintf(cio.Stdout, "# supabridge signing key: ES256, kid %q, made %s\n", *kid, made)
		fmt.Fprintf(cio.Stdout, "# The bridge's private key: give it to the functions only, as a secret.\n")
		fmt.Fprintf(cio.Stdout, "%s='%s'\n", config.EnvSigningKey, private)
		fmt.Fprintf(cio.Stdout, "# Its public key, for the keys of JWT_JWKS (PostgREST, Realtime and Storage verify with it):\n# %s\n", public)
		if merged != nil {
			fmt.Fprintf(cio.Stdout, "# JWT_JWKS with the key appended (from %s); restart rest, realtime and storage after the change:\n", from)
			fmt.Fprintf(cio.Stdout, "%s='%s'\n", envJWKS, merged)
		} else {
			fmt.Fprintf(cio.Stdout, "# Append it to the \"keys\" array of JWT_JWKS, then restart rest, realtime and storage.\n")
			fmt.Fprintf(cio.Stdout, "# (Give the current JWT_JWKS with --jwks-file or --env-file to have the whole line printed.)\n")
		}
	} else {
		manifest, err := k8sSecret(*name, *namespace, map[string]string{config.EnvSigningKey: string(private)})
		if err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintf(cio.Stdout, "# supabridge signing key: ES256, kid %q, made %s.\n", *kid, made)
		fmt.Fprintf(cio.Stdout, "# The functions' Secret (envFrom it, or take %s with a secretKeyRef); apply with: kubectl apply -f <this file>\n", config.EnvSigningKey)
		fmt.Fprint(cio.Stdout, manifest)
		ns := ""
		if *namespace != "" {
			ns = " -n " + *namespace
		}
		fmt.Fprintf(cio.Stdout, "# Then add the public key to JWT_JWKS in supabase-secrets and restart rest, realtime and storage:\n")
		if merged != nil {
			patch, err := json.Marshal(map[string]any{"stringData": map[string]string{envJWKS: string(merged)}})
			if err != nil {
				return fail(1, "%v", err)
			}
			fmt.Fprintf(cio.Stdout, "#   kubectl%s patch secret supabase-secrets --type merge -p '%s'\n", ns, patch)
		} else {
			fmt.Fprintf(cio.Stdout, "#   append this public key to the \"keys\" of JWT_JWKS:\n#   %s\n", public)
			fmt.Fprintf(cio.Stdout, "# To have the kubectl patch printed, make the key from the current set instead:\n")
			fmt.Fprintf(cio.Stdout, "#   kubectl%s get secret supabase-secrets -o jsonpath='{.data.JWT_JWKS}' | base64 -d | supabridge keys signing-key --format k8s%s --jwks-file -\n", ns, nsFlag(*namespace))
		}
	}
	fmt.Fprintf(cio.Stderr, "supabridge keys signing-key: ES256 key %q made; set %s in the functions, add the public key to JWT_JWKS, then run supabridge doctor\n", *kid, config.EnvSigningKey)
	return 0
}

// nsFlag repeats --namespace in a suggested command line.
func nsFlag(namespace string) string {
	if namespace == "" {
		return ""
	}
	return " --namespace " + namespace
}

// marshalJWK writes key as a compact JWK with kid, alg ES256 and use sig;
// the public one also says key_ops verify, as Supabase writes JWT_JWKS.
func marshalJWK(key any, kid string, private bool) ([]byte, error) {
	meta := jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgES256, USE: jwkset.UseSig, KEYOPS: []jwkset.KEYOPS{jwkset.KeyOpsVerify}}
	if private {
		meta.KEYOPS = []jwkset.KEYOPS{jwkset.KeyOpsSign}
	}
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: private}, Metadata: meta})
	if err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	return json.Marshal(j.Marshal())
}

// appendJWK appends public to the keys of the JWK Set current, keeping
// every other member and key as it is.
func appendJWK(current, public []byte, kid string) ([]byte, error) {
	var set map[string]json.RawMessage
	if err := json.Unmarshal(current, &set); err != nil || set["keys"] == nil {
		return nil, errors.New(`not a JWK Set (a JSON object with a "keys" array)`)
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(set["keys"], &keys); err != nil {
		return nil, errors.New(`not a JWK Set (a JSON object with a "keys" array)`)
	}
	for _, k := range keys {
		var m struct {
			KID string `json:"kid"`
			D   string `json:"d"`
		}
		_ = json.Unmarshal(k, &m)
		if m.D != "" {
			return nil, errors.New(`it holds a private key ("d"); JWT_JWKS is for public keys only`)
		}
		if m.KID == kid {
			return nil, fmt.Errorf("it already has a key with kid %q", kid)
		}
	}
	keys = append(keys, public)
	b, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	set["keys"] = b
	var out bytes.Buffer
	if err := json.NewEncoder(&out).Encode(set); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(out.Bytes()), nil
}

// k8sSecret renders an Opaque Secret with stringData.
func k8sSecret(name, namespace string, data map[string]string) (string, error) {
	meta := map[string]string{"name": name}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	b, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "stringData": data})
	if err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	return string(b), nil
}

// newUUID is a random RFC 9562 version 4 UUID, the kid form Supabase's
// tools write.
func newUUID() string {
	var u [16]byte
	_, _ = io.ReadFull(rand.Reader, u[:]) // crypto/rand never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
