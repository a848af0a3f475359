package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"supabridge/shared/function"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/shared/bridge"
	"supabridge/shared/claims"
	"supabridge/shared/config"
	"supabridge/shared/keys"
	"supabridge/shared/verify"
)

// verifyCmd is `supabridge verify`: a token checked against the Supabase
// secret, or against the configured providers exactly as exchange checks it.
type verifyCmd struct {
	now func() time.Time
}

const verifyAbout = `Verifies a JWT and says which rule it fails, if any: signature, expiry,
not yet valid, audience, issuer, algorithm, unknown key.

--against supabase (the default) checks a Supabase token (one exchange minted, a
GoTrue session, an API key): HS256 with the Supabase secret (--secret-file, else
SUPABASE_JWT_SECRET / JWT_SECRET), or ES256/RS256 with the public keys the
bridge publishes (its signing key and SUPABRIDGE_PREVIOUS_KEYS), picked by kid
as PostgREST picks them; exp required, and aud must be --aud (default
SUPABASE_JWT_AUDIENCE, else "authenticated"; --aud '' skips it, for API keys).

--against providers checks a provider token with the configured providers,
through the very code of the exchange function (shared/bridge), and prints the
claims the exchange would mint.

The token is read from --token FILE, or stdin with --token - (the default).`

func (c verifyCmd) run(ctx context.Context, args []string, cio IO) int {
	cio.Stdout, cio.Stderr = terminalSafe(cio.Stdout), terminalSafe(cio.Stderr)
	fs := newFlags("verify", "[--token FILE|-] [--against supabase|providers] [--secret-file FILE|-] [--env-file FILE] [--aud AUD]", verifyAbout, cio.Stderr)
	tokenFile := fs.String("token", "-", "file holding the token, or - for stdin")
	against := fs.String("against", "supabase", "supabase (HS256 with the secret) or providers (the configured providers)")
	secretFile := fs.String("secret-file", "", "file holding the Supabase JWT secret, or - for stdin (default: the environment)")
	envFile := fs.String("env-file", "", "read variables from this KEY=VALUE file instead of the environment")
	aud := fs.String("aud", "", `audience a Supabase token must carry (default SUPABASE_JWT_AUDIENCE or "authenticated"; '' skips the check)`)
	if code := parseFlags(fs, args, cio.Stderr); code >= 0 {
		return code
	}
	audSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "aud" {
			audSet = true
		}
	})
	if *against != "supabase" && *against != "providers" {
		fmt.Fprintln(cio.Stderr, "supabridge verify: --against must be supabase or providers")
		return 2
	}
	if *tokenFile == "-" && *secretFile == "-" {
		fmt.Fprintln(cio.Stderr, "supabridge verify: --token and --secret-file cannot both read stdin")
		return 2
	}
	raw, err := readInput(*tokenFile, cio.Stdin)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge verify: --token: %v\n", err)
		return 1
	}
	env, err := environment(cio, *envFile)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "supabridge verify: %v\n", err)
		return 1
	}
	at := now(c.now)
	var out []string
	ok := false
	if *against == "supabase" {
		keys, want, err := supabaseKeysOf(env, *secretFile, cio)
		if err != nil {
			fmt.Fprintf(cio.Stderr, "supabridge verify: %v\n", err)
			return 1
		}
		if audSet {
			want = *aud
		}
		out, ok = verifySupabase(string(raw), keys, want, at)
	} else {
		cfg, err := config.Load(env)
		if err != nil {
			fmt.Fprintf(cio.Stderr, "supabridge verify: %v\n", err)
			return 1
		}
		res := tryExchange(ctx, cfg, string(raw), c.now)
		out, ok = res.lines(at), res.ok()
	}
	writeLines(cio.Stdout, out)
	if !ok {
		return 1
	}
	return 0
}

// finding is one rule a token failed, and the fix in one sentence.
type finding struct {
	rule, what, fix string
}

func (f finding) String() string {
	s := "FAIL " + f.rule + ": " + f.what
	if f.fix != "" {
		s += " — fix: " + f.fix
	}
	return s
}

// policyView is what the messages need to know of the policy that applied.
type policyView struct {
	supabase   bool
	audiences  []string
	algorithms []string
	issuers    []string // every configured issuer (providers)
	provider   string   // the provider that the token's iss selected
}

// supabaseKeys are what a Supabase token is checked against.
type supabaseKeys struct {
	// secret is the legacy secret, for HS256; nil when not configured.
	secret []byte
	// published are the public keys the bridge publishes.
	published []claims.PublicKey
}

// supabaseKeysOf reads the legacy secret (the flag, else the environment)
// and the keys the bridge publishes, and the audience minted tokens carry.
// It fails when neither can check anything, or when --secret-file was
// given and is unusable.
func supabaseKeysOf(env config.Env, secretFile string, cio IO) (supabaseKeys, string, error) {
	var k supabaseKeys
	secret, serr := legacySecret(env, secretFile, cio.Stdin)
	if serr == nil {
		k.secret = secret
	}
	want := claims.DefaultAudience
	if v, ok := env(config.EnvAudience); ok && strings.TrimSpace(v) != "" {
		want = strings.TrimSpace(v)
	}
	if sc, _, err := config.LoadSupabase(env); err == nil {
		k.published = sc.PublicKeys()
	}
	if serr != nil && (secretFile != "" || len(k.published) == 0) {
		return k, "", serr
	}
	return k, want, nil
}

// verifySupabase checks raw as PostgREST and GoTrue do: HS256 with the
// shared secret, or ES256/RS256 with a published key chosen by kid (a token
// without kid is tried against each, PostgREST's rule), exp required, aud
// when want is set.
func verifySupabase(raw string, keys supabaseKeys, want string, at time.Time) ([]string, bool) {
	t, err := parseToken(raw)
	if err != nil {
		return []string{finding{"malformed", err.Error(), "pass the whole token: header.payload.signature"}.String()}, false
	}
	view := policyView{supabase: true, algorithms: []string{"HS256"}}
	if want != "" {
		view.audiences = []string{want}
	}
	var (
		key       any
		signature string
	)
	switch t.alg {
	case claims.AlgHS256:
		if keys.secret == nil {
			f := finding{"signature", "the token is HS256, and no Supabase secret is configured here",
				"give the secret with --secret-file, or set SUPABASE_JWT_SECRET (or JWT_SECRET)"}
			return []string{f.String()}, false
		}
		key, signature = keys.secret, "the Supabase secret"
	case claims.AlgES256, claims.AlgRS256:
		if len(keys.published) == 0 {
			f := finding{"algorithm", fmt.Sprintf("the token is signed with %s; Supabase's tokens are HS256 with the shared secret", t.alg),
				"a provider's token is checked with --against providers; a token the bridge signed with its own key is checked where SUPABRIDGE_SIGNING_KEY (or SUPABASE_JWT_KEYS) is set"}
			return []string{f.String()}, false
		}
		view.algorithms = []string{t.alg}
		var set jwt.VerificationKeySet
		for _, p := range keys.published {
			if a, _ := p.Algorithm(); a == t.alg && (t.kid == "" || t.kid == p.KeyID) {
				set.Keys = append(set.Keys, p.Key)
				signature = fmt.Sprintf("the bridge's key %q", p.KeyID)
			}
		}
		switch len(set.Keys) {
		case 0:
			f := finding{"unknown key", fmt.Sprintf("no key the bridge publishes fits the token (kid %s, alg %s)", quoteOr(t.kid, "absent"), t.alg),
				"the token was minted with another key, or its key was dropped from SUPABRIDGE_PREVIOUS_KEYS; check the signing variables here are the bridge's"}
			return []string{f.String()}, false
		case 1:
			key = set.Keys[0]
		default:
			key, signature = set, "one of the bridge's keys"
		}
	default:
		f := finding{"algorithm", fmt.Sprintf("the token is signed with %s; Supabase's tokens are HS256 with the shared secret, or ES256/RS256 with a published key", orNone(t.alg)),
			"a provider's token is checked with --against providers"}
		return []string{f.String()}, false
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{t.alg}),
		jwt.WithTimeFunc(func() time.Time { return at }),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}
	if want != "" {
		opts = append(opts, jwt.WithAudience(want))
	}
	var c claims.Payload // typed registered claims: no MapClaims traps
	_, err = jwt.NewParser(opts...).ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return findingLines(explain(err, t, at, view)), false
	}
	out := []string{
		"ok   algorithm: " + t.alg,
		"ok   signature: " + signature,
	}
	if want != "" {
		out = append(out, fmt.Sprintf("ok   audience: %q", want))
	} else {
		out = append(out, "ok   audience: not checked (--aud '')")
	}
	exp, _ := t.time("exp")
	out = append(out, fmt.Sprintf("ok   expiry: %s, %s", date(exp), relative("exp", exp, at)))
	for _, n := range t.notes() {
		out = append(out, "note: "+n)
	}
	return append(out, fmt.Sprintf("valid: role %s, sub %s", quoteOr(str(t, "role"), "absent (PostgREST runs it as anon)"), quoteOr(str(t, "sub"), "absent"))), true
}

// orNone names a missing alg.
func orNone(alg string) string {
	if alg == "" {
		return "no alg"
	}
	return alg
}

func str(t *token, name string) string {
	s, _ := t.str(name)
	return s
}

// quoteOr quotes s, or says what stands for an empty one.
func quoteOr(s, empty string) string {
	if s == "" {
		return empty
	}
	return fmt.Sprintf("%q", s)
}

func findingLines(fs []finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// explain turns a verification error into the rules the token failed,
// matching the sentinels of golang-jwt, verify, keys and claims with
// errors.Is. The first group stops at the first match (a token with an
// untrusted issuer has no signature worth talking about); the claim checks
// are all reported, since golang-jwt reports them together.
func explain(err error, t *token, at time.Time, v policyView) []finding {
	alg := t.alg
	if alg == "" {
		alg = "no alg"
	}
	stops := []struct {
		err error
		f   func() finding
	}{
		{verify.ErrTooLarge, func() finding {
			return finding{"size", fmt.Sprintf("the token is over %d KiB", verify.MaxTokenLen>>10), "send the token itself, not a document holding it"}
		}},
		{verify.ErrCritical, func() finding {
			return finding{"critical header", "the header's crit names an extension supabridge does not support (RFC 7515 §4.1.11)", "configure the provider to sign plain JWTs, without crit"}
		}},
		{verify.ErrUnknownIssuer, func() finding { return issuerFinding(t, v) }},
		{verify.ErrAlgorithm, func() finding {
			if strings.HasPrefix(t.alg, "HS") {
				return finding{"algorithm", fmt.Sprintf("the token is signed with %s, a shared secret; providers must sign with a public-key algorithm", alg),
					"select a signing key in the provider (Authentik: the provider's Signing Key) so that it signs with RS256"}
			}
			return finding{"algorithm", fmt.Sprintf("the token is signed with %s; provider %q allows %s", alg, v.provider, strings.Join(v.algorithms, ", ")),
				fmt.Sprintf("add %s to AUTH_ALGORITHMS (or the provider's algorithms), or make the provider sign with an allowed one", t.alg)}
		}},
		{keys.ErrUnavailable, func() finding {
			return finding{"key set", "the provider's keys could not be fetched, so the signature could not be checked (not the token's fault)",
				"make the provider's JWKS reachable from here (run supabridge doctor)"}
		}},
		{keys.ErrUnknownKey, func() finding {
			what := fmt.Sprintf("no key of provider %q fits the token (kid %s, alg %s)", v.provider, quoteOr(t.kid, "absent"), alg)
			return finding{"unknown key", what, "check that AUTH_JWKS_URL (or the provider's jwks_url) is this provider's key set; a key rotated away long ago no longer verifies"}
		}},
		{claims.ErrClaimType, func() finding {
			return finding{"claim type", fmt.Sprintf("%s of the wrong type (RFC 7519 §4.1: exp, nbf and iat are JSON numbers, a string of digits is not one; iss, sub and jti strings; aud a string or an array of strings; null is none of these)", strings.Join(mistyped(t), ", ")),
				"configure the provider to write the registered claims with their standard types"}
		}},
		{jwt.ErrTokenMalformed, func() finding {
			return finding{"malformed", "the token could not be decoded", "pass the whole token: header.payload.signature"}
		}},
		{jwt.ErrTokenSignatureInvalid, func() finding {
			if v.supabase && strings.HasPrefix(alg, "HS") {
				return finding{"signature", "the token was not signed with this secret",
					"use the secret GoTrue and PostgREST use (JWT_SECRET of the Supabase deployment, PGRST_JWT_SECRET)"}
			}
			if v.supabase {
				return finding{"signature", fmt.Sprintf("the signature does not match the published key that the kid %s selects", quoteOr(t.kid, "(absent)")),
					"the token was altered, or signed by another key with the same kid; check that the signing key here is the bridge's"}
			}
			return finding{"signature", fmt.Sprintf("the signature does not match the key of provider %q that the kid selects", v.provider),
				"the token was altered, or signed by another key with the same kid; get a fresh token"}
		}},
	}
	for _, s := range stops {
		if errors.Is(err, s.err) {
			return []finding{s.f()}
		}
	}
	var out []finding
	if errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, claims.ErrExpired) {
		exp, _ := t.time("exp")
		out = append(out, finding{"expiry", fmt.Sprintf("expired at %s, %s", date(exp), strings.TrimPrefix(relative("exp", exp, at), "expired ")), "get a fresh token (log in again, or refresh)"})
	}
	if errors.Is(err, jwt.ErrTokenNotValidYet) {
		nbf, _ := t.time("nbf")
		out = append(out, finding{"not yet valid", fmt.Sprintf("nbf is %s, %s", date(nbf), relative("nbf", nbf, at)), "check the clocks of this host and of the issuer"})
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		iat, _ := t.time("iat")
		out = append(out, finding{"issued at", fmt.Sprintf("iat is %s, %s", date(iat), relative("iat", iat, at)), "check the clocks of this host and of the issuer"})
	}
	if errors.Is(err, jwt.ErrTokenInvalidAudience) {
		out = append(out, audienceFinding(t, v))
	}
	if errors.Is(err, jwt.ErrTokenInvalidIssuer) {
		out = append(out, issuerFinding(t, v))
	}
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		if _, ok := t.claims["exp"]; !ok {
			out = append(out, finding{"expiry", "the token has no exp", "issue tokens with an expiry"})
		}
		if _, ok := t.claims["aud"]; !ok && len(v.audiences) > 0 {
			out = append(out, audienceFinding(t, v))
		}
		if _, ok := t.claims["iss"]; !ok && !v.supabase {
			out = append(out, finding{"issuer", "the token has no iss", "configure the provider to write iss"})
		}
	}
	if errors.Is(err, claims.ErrNoSubject) {
		out = append(out, finding{"subject", "the token has no sub", "configure the provider to write sub"})
	}
	if len(out) == 0 {
		out = append(out, finding{"unverifiable", err.Error(), "run supabridge doctor for the configuration"})
	}
	return out
}

func audienceFinding(t *token, v policyView) finding {
	want := quoteList(v.audiences)
	got := t.compact("aud")
	if got == "" {
		f := finding{"audience", "the token has no aud; accepted: " + want, ""}
		role := str(t, "role")
		switch {
		case v.supabase && (role == "anon" || role == "service_role"):
			f.fix = "API keys (anon, service_role) carry no aud and PostgREST checks none unless PGRST_JWT_AUD is set: check them with --aud ''"
		case v.supabase:
			f.fix = "mint Supabase tokens with aud " + want + " (SUPABASE_JWT_AUDIENCE)"
		default:
			f.fix = "configure the provider to write aud (its client id), or replace AUTH_AUDIENCE with AUTH_ALLOW_ANY_AUDIENCE=true if every client of this issuer may have a session"
		}
		return f
	}
	f := finding{"audience", fmt.Sprintf("the token's aud is %s; accepted: %s", got, want), ""}
	if v.supabase {
		f.fix = "pass the audience GoTrue writes with --aud, or set SUPABASE_JWT_AUDIENCE"
	} else {
		f.fix = "add the token's aud to AUTH_AUDIENCE (the provider's audience; for Authentik, the client id)"
	}
	return f
}

func issuerFinding(t *token, v policyView) finding {
	iss, _ := t.str("iss")
	if iss == "" {
		return finding{"issuer", "the token has no iss, and several providers are configured", "configure the provider to write iss"}
	}
	for _, c := range v.issuers {
		if strings.TrimSuffix(c, "/") == strings.TrimSuffix(iss, "/") {
			return finding{"issuer", fmt.Sprintf("the token's iss %q differs only by a trailing slash from the configured %q", iss, c),
				fmt.Sprintf("set the issuer to exactly %q (issuers are compared byte for byte)", iss)}
		}
	}
	return finding{"issuer", fmt.Sprintf("the token's iss %q is not a configured issuer (%s)", iss, quoteList(v.issuers)),
		"set AUTH_ISSUER (or add a provider to AUTH_PROVIDERS) with exactly the token's iss"}
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// exchangeResult is what the exchange would do with a provider token.
type exchangeResult struct {
	token    *token
	provider string // the provider that accepted it
	minted   *token // the Supabase token it would mint
	fails    []finding
	view     policyView
	at       time.Time
}

func (r exchangeResult) ok() bool { return len(r.fails) == 0 }

// tryExchange runs a provider token through bridge.FromConfig and Exchange, the
// code path of the exchange function, with cfg.
func tryExchange(ctx context.Context, cfg *config.Config, raw string, nowf func() time.Time) exchangeResult {
	at := now(nowf)
	clock := func() time.Time { return at }
	t, err := parseToken(raw)
	if err != nil {
		return exchangeResult{fails: []finding{{"malformed", err.Error(), "pass the whole token: header.payload.signature"}}}
	}
	res := exchangeResult{token: t, at: at, view: viewFor(cfg, t)}
	ctx, cancel := context.WithCancel(ctx) // ends the key caches' refresh
	defer cancel()
	b, err := bridge.FromConfig(ctx, cfg, function.Deps{Now: clock})
	if err != nil {
		res.fails = []finding{{"configuration", err.Error(), "fix the provider's key configuration (run supabridge doctor)"}}
		return res
	}
	s, err := b.Exchange(ctx, raw)
	if err != nil {
		res.fails = explain(err, t, at, res.view)
		return res
	}
	res.provider = s.Provider.Name()
	res.minted, err = parseToken(s.Token.JWT)
	if err != nil {
		res.fails = []finding{{"mint", err.Error(), ""}}
	}
	return res
}

// viewFor describes the provider the token's iss selects, as verify does.
func viewFor(cfg *config.Config, t *token) policyView {
	v := policyView{}
	iss, _ := t.str("iss")
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		if p.Issuer != "" {
			v.issuers = append(v.issuers, p.Issuer)
		}
		if p.Issuer == iss || (p.Issuer == "" && len(cfg.Providers) == 1) {
			v.provider, v.audiences, v.algorithms = p.Name, p.Audience, p.Algorithms
			if len(v.algorithms) == 0 {
				v.algorithms = verify.Algorithms
			}
		}
	}
	return v
}

// headerOf says what a minted token's header holds: its alg and kid.
func headerOf(t *token) string {
	if t.kid == "" {
		return t.alg + ", no kid"
	}
	return fmt.Sprintf("%s, kid %q", t.alg, t.kid)
}

// lines are the report of verify --against providers.
func (r exchangeResult) lines(at time.Time) []string {
	if !r.ok() {
		return findingLines(r.fails)
	}
	t := r.token
	out := []string{
		fmt.Sprintf("ok   issuer: %s selects provider %q", quoteOr(str(t, "iss"), "no iss"), r.provider),
		fmt.Sprintf("ok   algorithm: %s", t.alg),
		fmt.Sprintf("ok   signature: a key of provider %q (kid %s)", r.provider, quoteOr(t.kid, "absent")),
	}
	if len(r.view.audiences) > 0 {
		out = append(out, fmt.Sprintf("ok   audience: %s, accepted: %s", t.compact("aud"), quoteList(r.view.audiences)))
	} else {
		out = append(out, "ok   audience: not checked (no audience configured; supabridge doctor fails this unless AUTH_ALLOW_ANY_AUDIENCE says so)")
	}
	exp, _ := t.time("exp")
	out = append(out, fmt.Sprintf("ok   expiry: %s, %s", date(exp), relative("exp", exp, at)))
	out = append(out, fmt.Sprintf("valid: the exchange would mint (%s):", headerOf(r.minted)))
	return append(out, indentJSON(r.minted.payload))
}

// mistyped names the registered claims of t that the exchange's payload
// decoding refuses for their type, each tried alone through claims.Payload.
func mistyped(t *token) []string {
	var out []string
	for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"} {
		v, ok := t.claims[name]
		if !ok {
			continue
		}
		one, err := json.Marshal(map[string]json.RawMessage{name: v})
		var p claims.Payload
		if err != nil || json.Unmarshal(one, &p) != nil {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return []string{"a registered claim"}
	}
	return out
}
