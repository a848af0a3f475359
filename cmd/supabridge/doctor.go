package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/idp"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

// doctorCmd is `supabridge doctor`: every check an operator would otherwise
// do by hand, one line each.
type doctorCmd struct {
	now func() time.Time
}

const doctorAbout = `Checks a deployment's configuration, read from the environment like the
functions (or from --env-file), and prints one line per check: "ok   <check>", or
"FAIL <check>: <what> — fix: <one sentence>". The exit status is 1 when any check
fails. Checks: the configuration loads; which key signs (SUPABRIDGE_SIGNING_KEY,
SUPABASE_JWT_KEYS or the legacy secret, in that order); the legacy secret, when
set, is not the example secret of Supabase's self-hosting .env; the key that
signs verifies in PostgREST's key set, by kid and key material, as PostgREST 13
picks keys (the set from --jwks-file, else JWT_JWKS, else fetched from
<SUPABASE_URL>/auth/v1/.well-known/jwks.json; legacy HS256 minting needs an oct
key holding the secret); for each provider: discovery reachable, its issuer
byte-equal to the configured one, an allowed asymmetric signing algorithm,
an audience (or AUTH_ALLOW_ANY_AUDIENCE=true, said on purpose), the JWKS
reachable with a usable key, a token endpoint when refresh is configured,
discovered URLs in https (or to loopback), insecure_http flagged as a failure
while it is set, and, with several providers, what its sub_mapping means.
With --token (a file, or - for stdin) it verifies a provider token and shows the
claims the exchange would mint. With SUPABASE_URL and SUPABASE_ANON_KEY (or
SUPABASE_PUBLISHABLE_KEY: a legacy anon key or an sb_publishable_ key) set it
mints a 60-second token with the key that signs and calls
GET <SUPABASE_URL>/rest/v1/ with it, as supabase-js would. Every call is bounded
(the provider's AUTH_HTTP_TIMEOUT; --timeout for Supabase). No token, secret or
private key is printed.`

// check is one line of the report; its JSON form is what --json prints.
type check struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
	// Claims is, for the token check, the payload the exchange would mint.
	Claims json.RawMessage `json:"claims,omitempty"`
}

type report struct {
	checks []check
	skips  []string
	// minted says how the exchange signs: alg and kid.
	minted string
}

func (r *report) ok(name, detail string) {
	r.checks = append(r.checks, check{Check: name, OK: true, Detail: detail})
}

func (r *report) fail(name, detail, fix string) {
	r.checks = append(r.checks, check{Check: name, Detail: detail, Fix: fix})
}

func (r *report) failed() int {
	n := 0
	for _, c := range r.checks {
		if !c.OK {
			n++
		}
	}
	return n
}

func (r *report) writeText(w io.Writer) {
	for _, c := range r.checks {
		switch {
		case c.OK && c.Detail == "":
			fmt.Fprintf(w, "ok   %s\n", c.Check)
		case c.OK:
			fmt.Fprintf(w, "ok   %s: %s\n", c.Check, c.Detail)
		default:
			fmt.Fprintf(w, "FAIL %s: %s — fix: %s\n", c.Check, c.Detail, c.Fix)
		}
		if c.Claims != nil {
			fmt.Fprintf(w, "     the exchange would mint (%s):\n", r.minted)
			for _, l := range strings.Split(indentJSON(c.Claims), "\n") {
				fmt.Fprintln(w, "     "+l)
			}
		}
	}
	for _, s := range r.skips {
		fmt.Fprintln(w, "skip "+s)
	}
	if n := r.failed(); n > 0 {
		fmt.Fprintf(w, "doctor: %d of %d checks failed\n", n, len(r.checks))
	} else {
		fmt.Fprintf(w, "doctor: all %d checks passed\n", len(r.checks))
	}
}

// Environment variables of the REST and JWKS checks; supabase-js apps have
// the first two, Supabase's .env the others.
const (
	envSupabaseURL    = "SUPABASE_URL"
	envAnonKey        = "SUPABASE_ANON_KEY"
	envPublishableKey = "SUPABASE_PUBLISHABLE_KEY"
	envJWKS           = "JWT_JWKS"
)

func (c doctorCmd) run(ctx context.Context, args []string, cio IO) int {
	cio.Stdout, cio.Stderr = terminalSafe(cio.Stdout), terminalSafe(cio.Stderr)
	fs := newFlags("doctor", "[--env-file FILE] [--json] [--token FILE|-] [--jwks-file FILE] [--timeout 5s]", doctorAbout, cio.Stderr)
	envFile := fs.String("env-file", "", "read variables from this KEY=VALUE file instead of the environment")
	asJSON := fs.Bool("json", false, "print a JSON array of {check, ok, detail, fix}")
	tokenFile := fs.String("token", "", "also verify the provider token in this file (- for stdin) and show what the exchange would mint")
	timeout := fs.Duration("timeout", config.DefaultHTTPTimeout, "bound of each call to SUPABASE_URL")
	jwksFile := fs.String("jwks-file", "", "PostgREST's key set (JWT_JWKS) to check the signing key against (default: JWT_JWKS, else fetched from SUPABASE_URL)")
	if code := parseFlags(fs, args, cio.Stderr); code >= 0 {
		return code
	}
	env, err := environment(cio, *envFile)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge doctor: %v\n", err)
		return 2
	}
	var raw []byte
	if *tokenFile != "" {
		if raw, err = readInput(*tokenFile, cio.Stdin); err != nil {
			fmt.Fprintf(cio.Stderr, "supabridge doctor: --token: %v\n", err)
			return 2
		}
	}
	var jwks []byte
	if *jwksFile != "" {
		if *jwksFile == "-" && *tokenFile == "-" {
			fmt.Fprintln(cio.Stderr, "supabridge doctor: --token and --jwks-file cannot both read stdin")
			return 2
		}
		if jwks, err = readInput(*jwksFile, cio.Stdin); err != nil {
			fmt.Fprintf(cio.Stderr, "supabridge doctor: --jwks-file: %v\n", err)
			return 2
		}
	}
	r := c.checks(ctx, env, string(raw), jwks, *timeout)
	if *asJSON {
		b, err := json.MarshalIndent(r.checks, "", "  ")
		if err != nil {
			fmt.Fprintf(cio.Stderr, "supabridge doctor: %v\n", err)
			return 1
		}
		fmt.Fprintf(cio.Stdout, "%s\n", b)
	} else {
		r.writeText(cio.Stdout)
	}
	if r.failed() > 0 {
		return 1
	}
	return 0
}

// checks runs every check against env. token, when not empty, is a
// provider token to verify; jwks, when not empty, is the key set of
// --jwks-file.
func (c doctorCmd) checks(ctx context.Context, env config.Env, token string, jwks []byte, timeout time.Duration) *report {
	r := &report{}
	cfg, err := config.Load(env)
	var (
		sc *claims.Config
		sg config.Signing
	)
	if err != nil {
		r.fail("configuration loads", err.Error(), "set or correct the variables named above (README: Configuration); values are never printed")
		// The signing key may be fine even when a provider variable is not.
		if s, g, err := config.LoadSupabase(env); err == nil {
			sc, sg = &s, g
		}
	} else {
		names := make([]string, len(cfg.Providers))
		for i, p := range cfg.Providers {
			names[i] = p.Name
		}
		r.ok("configuration loads", fmt.Sprintf("%d provider(s): %s", len(names), strings.Join(names, ", ")))
		sc, sg = &cfg.Supabase, cfg.Signing
	}
	if sc != nil {
		r.minted = sc.Signer.String()
		detail := fmt.Sprintf("%s, %s", sc.Signer, sg)
		if n := len(sc.PublicKeys()); n > 0 {
			detail += fmt.Sprintf("; /.well-known/jwks.json publishes %d key(s)", n)
		}
		r.ok("signing key", detail)
	}
	if secret, err := config.LoadSecret(env); err == nil {
		if string(secret) == config.ExampleSecret {
			r.fail("supabase secret", "it is the example secret of Supabase's self-hosting .env, public on GitHub: anyone can mint a service_role key for this deployment",
				"make a new one with supabridge secret, set it as JWT_SECRET in Supabase and here, and make new API keys with supabridge keys")
		} else {
			r.ok("supabase secret", fmt.Sprintf("%d bytes, not the example secret", len(secret)))
		}
	}
	c.supabaseJWKS(ctx, r, env, sc, jwks, timeout)
	if cfg != nil {
		multi := isSet(env, config.EnvAuthProviders) || isSet(env, config.EnvAuthProvidersFile)
		for i := range cfg.Providers {
			c.provider(ctx, r, &cfg.Providers[i], multi)
			if len(cfg.Providers) > 1 {
				subject(r, &cfg.Providers[i])
			}
		}
	}
	if token != "" {
		c.token(ctx, r, cfg, token)
	}
	c.rest(ctx, r, env, sc, timeout)
	return r
}

func isSet(env config.Env, name string) bool {
	v, ok := env(name)
	return ok && strings.TrimSpace(v) != ""
}

// namer returns how a fix names a provider's setting: the single-provider
// variable, or the field of its AUTH_PROVIDERS entry.
func namer(p *config.Provider, multi bool) func(field string) string {
	return func(field string) string {
		if multi {
			return fmt.Sprintf("%s of provider %q in AUTH_PROVIDERS", field, p.Name)
		}
		return config.EnvName(field)
	}
}

// provider checks one provider: discovery, issuer, algorithms, keys and the
// token endpoint. A check whose input an earlier one failed to get is left
// out rather than failed twice.
func (c doctorCmd) provider(ctx context.Context, r *report, p *config.Provider, multi bool) {
	label := "provider " + p.Name + ": "
	name := namer(p, multi)
	client := idp.NewHTTPClient(idp.HTTPOptions{Timeout: p.HTTPTimeout})
	allowed := p.Algorithms
	if len(allowed) == 0 {
		allowed = verify.Algorithms
	}
	algs := allowed // the algorithms a key must serve
	if p.InsecureHTTP {
		r.fail(label+"transport", "insecure_http is set: this provider may be reached over plain http to any host, where anyone on the network path can read refresh tokens and client secrets and supply signing keys",
			fmt.Sprintf("serve the provider over https and unset %s; keep it only for a provider reached over a network you trust, inside the cluster", name("insecure_http")))
	}
	insecure := func(u string) bool { return errors.Is(idp.CheckURL(u, p.InsecureHTTP), idp.ErrInsecureURL) }
	var doc *idp.Metadata
	if p.Issuer != "" {
		durl := idp.DiscoveryURL(p.Issuer)
		needed := (p.JWKSURL == "" && len(p.PublicKey) == 0) || (p.ClientID != "" && p.TokenURL == "")
		d, err := idp.FetchMetadata(ctx, client, p.Issuer)
		switch {
		case d == nil && needed:
			r.fail(label+"discovery", fmt.Sprintf("%s: %s", durl, cause(err)),
				fmt.Sprintf("check %s (discovery is read from <issuer>/.well-known/openid-configuration) and that this host can reach it", name("issuer")))
		case d == nil:
			r.ok(label+"discovery", fmt.Sprintf("%s: %s; not needed, the keys and token endpoint are configured", durl, cause(err)))
		default:
			doc = d
			r.ok(label+"discovery", durl)
		}
	}
	if doc != nil {
		switch {
		case doc.Issuer == p.Issuer:
			r.ok(label+"issuer", fmt.Sprintf("%q", p.Issuer))
		case strings.TrimSuffix(doc.Issuer, "/") == strings.TrimSuffix(p.Issuer, "/"):
			r.fail(label+"issuer", fmt.Sprintf("the provider says %q, configured %q: they differ only by a trailing slash", doc.Issuer, p.Issuer),
				fmt.Sprintf("set %s to exactly %q, the iss its tokens carry (issuers are compared byte for byte)", name("issuer"), doc.Issuer))
		default:
			r.fail(label+"issuer", fmt.Sprintf("the provider says %q, configured %q", doc.Issuer, p.Issuer),
				fmt.Sprintf("set %s to exactly %q, the iss its tokens carry", name("issuer"), doc.Issuer))
		}
		supported := doc.IDTokenSigningAlgValuesSupported
		var usable []string
		for _, a := range allowed {
			if slices.Contains(supported, a) {
				usable = append(usable, a)
			}
		}
		switch {
		case len(usable) > 0:
			r.ok(label+"signing algorithms", strings.Join(usable, ", "))
			algs = usable
		case len(supported) == 0:
			r.fail(label+"signing algorithms", "the discovery document lists no id_token_signing_alg_values_supported",
				"make the provider sign with an asymmetric key (RS256, ES256, EdDSA) and publish it")
		case !slices.ContainsFunc(supported, func(a string) bool { return !strings.HasPrefix(a, "HS") }):
			r.fail(label+"signing algorithms", fmt.Sprintf("the provider signs with %s only, a shared secret that supabridge never accepts", strings.Join(supported, ", ")),
				"select a signing key in the provider (Authentik: edit the provider and choose a Signing Key, e.g. the self-signed certificate) so that it signs with RS256")
		default:
			r.fail(label+"signing algorithms", fmt.Sprintf("the provider signs with %s; allowed here: %s", strings.Join(supported, ", "), strings.Join(allowed, ", ")),
				fmt.Sprintf("add the provider's algorithm to %s", name("algorithms")))
		}
	}
	audience(r, label, p, name)
	switch {
	case len(p.PublicKey) > 0:
		st, err := keys.NewStatic(p.PublicKey)
		if err != nil {
			r.fail(label+"public key", err.Error(), fmt.Sprintf("set %s to the provider's public key (PEM, or a JWK or JWK Set)", name("public_key")))
			break
		}
		c.usable(ctx, r, label+"public key", st, 0, algs, name)
	case p.JWKSURL != "":
		c.jwks(ctx, r, label, client, p.JWKSURL, name("jwks_url"), algs, name)
	case doc != nil && insecure(doc.JWKSURI):
		r.fail(label+"jwks", fmt.Sprintf("the provider's jwks_uri %s is plain http to a host that is not loopback; the functions refuse it", doc.JWKSURI),
			fmt.Sprintf("make the provider publish an https jwks_uri, or set %s", name("jwks_url")))
	case doc != nil && doc.JWKSURI != "":
		c.jwks(ctx, r, label, client, doc.JWKSURI, "the provider's jwks_uri", algs, name)
	case doc != nil:
		r.fail(label+"jwks", "the discovery document has no jwks_uri", fmt.Sprintf("set %s to the provider's JWKS URL", name("jwks_url")))
	}
	if p.ClientID == "" {
		return
	}
	switch {
	case p.TokenURL != "":
		r.ok(label+"token endpoint", p.TokenURL+" (configured)")
	case p.Issuer == "":
		r.fail(label+"token endpoint", "client_id is set for refresh, but there is neither a token URL nor an issuer to discover it from",
			fmt.Sprintf("set %s, or unset %s if this deployment does not refresh", name("token_url"), name("client_id")))
	case doc == nil:
		// Discovery failed and said so above.
	case insecure(doc.TokenEndpoint):
		r.fail(label+"token endpoint", fmt.Sprintf("the discovered token_endpoint %s is plain http to a host that is not loopback; refresh refuses it", doc.TokenEndpoint),
			fmt.Sprintf("make the provider announce an https token_endpoint, or set %s", name("token_url")))
	case doc.TokenEndpoint == "":
		r.fail(label+"token endpoint", "client_id is set for refresh, but the discovery document has no token_endpoint",
			fmt.Sprintf("set %s to the provider's token endpoint, or unset %s if this deployment does not refresh", name("token_url"), name("client_id")))
	case len(doc.GrantTypesSupported) > 0 && !slices.Contains(doc.GrantTypesSupported, "refresh_token"):
		r.fail(label+"token endpoint", fmt.Sprintf("%s, but grant_types_supported lacks refresh_token", doc.TokenEndpoint),
			"enable refresh tokens for the client (Authentik: add the offline_access scope to the provider)")
	default:
		r.ok(label+"token endpoint", doc.TokenEndpoint)
	}
}

// audience fails a provider that checks no audience unless the operator
// said so: one issuer often signs for every client of a realm or tenant
// (Keycloak, Auth0, Dex), and then any of those clients' tokens would get
// a session here.
func audience(r *report, label string, p *config.Provider, name func(string) string) {
	switch {
	case len(p.Audience) > 0:
		r.ok(label+"audience", quoteList(p.Audience))
	case p.AllowAnyAudience:
		r.ok(label+"audience", fmt.Sprintf("any audience accepted (%s)", name("allow_any_audience")))
	default:
		r.fail(label+"audience", "no audience configured: a token this issuer signed for any of its clients gets a session",
			fmt.Sprintf("set %s to the client id(s) your tokens carry as aud (Authentik: the client id), or set %s=true if every client of this issuer may have a session",
				name("audience"), name("allow_any_audience")))
	}
}

// subject explains, when several providers are trusted, what the
// provider's sub_mapping (which configuration makes each entry state)
// means for the Supabase sub: whether its users can meet another
// provider's users under one sub.
func subject(r *report, p *config.Provider) {
	name := "provider " + p.Name + ": subject"
	if p.Mapping.Sub == claims.SubUUID5 {
		r.ok(name, fmt.Sprintf("uuid5: sub is the UUIDv5 of %q, so users of different providers never share a sub, and auth.uid() works",
			p.Issuer+"#<the provider's sub>"))
		return
	}
	r.ok(name, "passthrough: sub is the provider's own, so a user of another provider with the same sub (one that lets users choose it, say) is the same Supabase user "+
		"to every policy keyed on sub alone; such policies must also check app_metadata ->> 'provider', or set sub_mapping: uuid5")
}

// jwks fetches a key set with the provider's bounded client and checks that
// it holds a key for algs. The keys are read by keys.NewStatic, the parser
// of AUTH_PUBLIC_KEY, which refuses private and symmetric keys as the
// verifier does.
func (c doctorCmd) jwks(ctx context.Context, r *report, label string, client *http.Client, u, source string, algs []string, name func(string) string) {
	st, n, err := keys.FetchSet(ctx, client, u)
	var ue *url.Error
	switch {
	case errors.As(err, &ue) && ue.Op == "parse":
		r.fail(label+"jwks", fmt.Sprintf("%s: not a URL", source), fmt.Sprintf("set %s to the provider's JWKS URL", name("jwks_url")))
		return
	case errors.As(err, &ue):
		r.fail(label+"jwks", fmt.Sprintf("%s: %s", u, cause(err)), fmt.Sprintf("check %s and that this host can reach it", source))
		return
	case errors.Is(err, keys.ErrUnavailable):
		r.fail(label+"jwks", fmt.Sprintf("%s answered %s", u, strings.TrimPrefix(cause(err), "status ")),
			fmt.Sprintf("check %s (Authentik: https://<host>/application/o/<slug>/jwks/)", source))
		return
	}
	r.ok(label+"jwks", u)
	switch {
	case err == nil:
		c.usable(ctx, r, label+"jwks keys", st, n, algs, name)
	case errors.Is(err, keys.ErrNotJWKS):
		r.fail(label+"jwks keys", "the answer is not a JWK Set (a JSON object with a keys array)", fmt.Sprintf("check %s: it must be the JWKS, not a web page", source))
	case errors.Is(err, keys.ErrEmptySet):
		r.fail(label+"jwks keys", "the key set is empty",
			"give the provider a signing key (Authentik: select a Signing Key in the provider; without one it signs with HS256 and publishes no key)")
	default:
		r.fail(label+"jwks keys", err.Error(), "publish only public signing keys (RSA, EC P-256/384/521, Ed25519) in the JWKS")
	}
}

// usable checks that st selects, for at least one of algs, a key of the
// right type, with the key source's own selection (a JWK's alg must match).
func (doctorCmd) usable(ctx context.Context, r *report, name string, st *keys.Static, n int, algs []string, field func(string) string) {
	var fits []string
	for _, alg := range algs {
		m := jwt.GetSigningMethod(alg)
		if m == nil {
			continue
		}
		k, err := st.Key(ctx, &jwt.Token{Method: m, Header: map[string]any{"alg": alg}})
		if err == nil && keyFits(alg, k) {
			fits = append(fits, alg)
		}
	}
	count := ""
	switch {
	case n == 1:
		count = "1 key, "
	case n > 1:
		count = fmt.Sprintf("%d keys, ", n)
	}
	if len(fits) == 0 {
		r.fail(name, fmt.Sprintf("%snone usable for %s", count, strings.Join(algs, ", ")),
			fmt.Sprintf("publish a key of the algorithm the provider signs with, or allow the key's algorithm in %s", field("algorithms")))
		return
	}
	r.ok(name, fmt.Sprintf("%susable for %s", count, strings.Join(fits, ", ")))
}

// keyFits reports whether k (a key or a jwt.VerificationKeySet) holds a
// public key that alg can verify with.
func keyFits(alg string, k any) bool {
	if set, ok := k.(jwt.VerificationKeySet); ok {
		return slices.ContainsFunc(set.Keys, func(k jwt.VerificationKey) bool { return keyFits(alg, k) })
	}
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		_, ok := k.(*rsa.PublicKey)
		return ok
	case "ES256", "ES384", "ES512":
		e, ok := k.(*ecdsa.PublicKey)
		return ok && e.Curve == map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
	case "EdDSA":
		_, ok := k.(ed25519.PublicKey)
		return ok
	}
	return false
}

// cause is the part of a transport or discovery error worth a line: the
// URL is already in the line, and the sentinel's words add nothing.
func cause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	for _, prefix := range []string{idp.ErrUnavailable.Error() + ": ", keys.ErrUnavailable.Error() + ": "} {
		if m, ok := strings.CutPrefix(err.Error(), prefix); ok {
			return m
		}
	}
	return err.Error()
}

// token verifies a provider token through the exchange's own code.
func (c doctorCmd) token(ctx context.Context, r *report, cfg *config.Config, raw string) {
	if cfg == nil {
		r.fail("token", "not checked: the configuration does not load", "fix the configuration first")
		return
	}
	res := tryExchange(ctx, cfg, raw, c.now)
	if !res.ok() {
		for _, f := range res.fails {
			r.fail("token", f.rule+": "+f.what, f.fix)
		}
		return
	}
	var b bytes.Buffer
	if err := json.Compact(&b, res.minted.payload); err != nil {
		r.fail("token", err.Error(), "")
		return
	}
	r.checks = append(r.checks, check{
		Check:  "token",
		OK:     true,
		Detail: fmt.Sprintf("accepted by provider %q (%s, kid %s)", res.provider, res.token.alg, quoteOr(res.token.kid, "absent")),
		Claims: b.Bytes(),
	})
}

// rest mints a 60-second token with the key that signs and calls
// GET <SUPABASE_URL>/rest/v1/ with it and the API key, as supabase-js does.
// The API key is SUPABASE_ANON_KEY or SUPABASE_PUBLISHABLE_KEY: a legacy
// anon JWT, or an opaque sb_publishable_ key that Kong swaps for its own
// JWT and, since the request carries a user token, passes the token on.
func (c doctorCmd) rest(ctx context.Context, r *report, env config.Env, sc *claims.Config, timeout time.Duration) {
	const name = "supabase rest"
	base, _ := env(envSupabaseURL)
	anon, _ := env(envAnonKey)
	keyVar := envAnonKey
	if strings.TrimSpace(anon) == "" {
		anon, _ = env(envPublishableKey)
		keyVar = envPublishableKey
	}
	base, anon = strings.TrimSpace(base), strings.TrimSpace(anon)
	switch {
	case base == "" && anon == "":
		r.skips = append(r.skips, name+": set SUPABASE_URL and SUPABASE_ANON_KEY (or SUPABASE_PUBLISHABLE_KEY) to check a minted token against PostgREST")
		return
	case base == "" || anon == "":
		r.fail(name, "only one of SUPABASE_URL and SUPABASE_ANON_KEY (or SUPABASE_PUBLISHABLE_KEY) is set", "set both to run this check, or neither")
		return
	case strings.HasPrefix(anon, "sb_secret_"):
		r.fail(name, fmt.Sprintf("%s holds a secret key (sb_secret_…), which grants service_role to whoever holds it", keyVar),
			"give the publishable key (sb_publishable_…) or the anon key: the key a browser may see")
		return
	case sc == nil:
		r.fail(name, "not checked: there is no usable signing key", "fix the configuration first")
		return
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(name, "SUPABASE_URL is not an http(s) URL", "set SUPABASE_URL to the API gateway's base URL, like http://supabase-kong:8000")
		return
	}
	endpoint := strings.TrimSuffix(base, "/") + "/rest/v1/"
	tok, err := probeToken(sc, now(c.now))
	if err != nil {
		r.fail(name, err.Error(), "fix the signing key first")
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		r.fail(name, "SUPABASE_URL is not an http(s) URL", "set SUPABASE_URL to the API gateway's base URL")
		return
	}
	req.Header.Set("apikey", anon)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := idp.NewHTTPClient(idp.HTTPOptions{Timeout: timeout}).Do(req)
	if err != nil {
		r.fail(name, fmt.Sprintf("GET %s: %s", endpoint, cause(err)), "check SUPABASE_URL and that this host can reach the gateway")
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	msg := excerpt(body, tok, anon)
	lower := strings.ToLower(string(body))
	status := resp.StatusCode
	switch {
	case status == http.StatusOK:
		r.ok(name, fmt.Sprintf("GET %s answered 200: the gateway and PostgREST accepted a 60-second token signed %s", endpoint, sc.Signer))
	case status == http.StatusUnauthorized && (strings.Contains(lower, "invalid authentication credentials") || strings.Contains(lower, "no api key") || strings.Contains(lower, "invalid api key")):
		r.fail(name, fmt.Sprintf("GET %s answered 401 %s: the gateway refused the apikey", endpoint, msg),
			fmt.Sprintf("set %s to a key the gateway (Kong) accepts: its ANON_KEY, or its SUPABASE_PUBLISHABLE_KEY (sb_publishable_…)", keyVar))
	case (status == http.StatusUnauthorized || status == http.StatusForbidden) && strings.Contains(lower, "audience"):
		r.fail(name, fmt.Sprintf("GET %s answered %d %s: PostgREST wants another audience", endpoint, status, msg),
			"set SUPABASE_JWT_AUDIENCE to PostgREST's PGRST_JWT_AUD")
	case status == http.StatusUnauthorized && (strings.Contains(lower, "jwt") || strings.Contains(lower, "jws") || strings.Contains(lower, "pgrst30")) && sc.Signer.Symmetric():
		r.fail(name, fmt.Sprintf("GET %s answered 401 %s: the token signed %s was refused", endpoint, msg, sc.Signer),
			"the likely cause is that the secret here differs from the one PostgREST uses (JWT_SECRET, PGRST_JWT_SECRET), or PostgREST's JWT_JWKS lacks the oct key (run with --jwks-file); set the same secret on both sides, or sign with a key of the bridge's own (supabridge keys signing-key)")
	case status == http.StatusUnauthorized && (strings.Contains(lower, "jwt") || strings.Contains(lower, "jws") || strings.Contains(lower, "pgrst30")):
		r.fail(name, fmt.Sprintf("GET %s answered 401 %s: the token signed %s was refused", endpoint, msg, sc.Signer),
			"the likely cause is that PostgREST's key set (JWT_JWKS, PGRST_JWT_SECRET) lacks this key's public JWK under this kid; append it (the functions serve it at /.well-known/jwks.json) and restart PostgREST")
	case status == http.StatusNotFound:
		r.fail(name, fmt.Sprintf("GET %s answered 404: no PostgREST there", endpoint),
			"set SUPABASE_URL to the API gateway's base URL (Kong, port 8000 in Supabase's docker setup), without a path")
	default:
		r.fail(name, fmt.Sprintf("GET %s answered %d %s", endpoint, status, msg), "read the gateway's and PostgREST's logs for this request")
	}
}

// excerpt is the message of an error body on one short line, with the
// token and the key blanked out should a gateway ever echo them.
func excerpt(body []byte, secrets ...string) string {
	var m map[string]any
	s := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"message", "msg", "error_description", "error"} {
			if v, ok := m[k].(string); ok && v != "" {
				s = v
				if code, ok := m["code"].(string); ok && code != "" {
					s = code + ": " + v
				}
				break
			}
		}
	}
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:160]) + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return fmt.Sprintf("(%s)", s)
}
