package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// soak is the soak run: the exchange binary o.bin against the mix, open
// loop, with the JWKS outage; it fails on any problem it finds.
func soak(ctx context.Context, o soakOptions, dir string) error {
	printMachine()
	rs, err := newKey(jwt.SigningMethodRS256, "soak-rs")
	if err != nil {
		return err
	}
	ec, err := newKey(jwt.SigningMethodES256, "soak-ec")
	if err != nil {
		return err
	}
	jwks, err := startJWKS(rs, ec)
	if err != nil {
		return err
	}
	m, err := newMix(jwks.issuer(), rs, ec, o.seed)
	if err != nil {
		return err
	}
	c := contract{secret: randomHex(32), soakOptions: o}
	// Only what the function needs: nothing of the caller's AUTH_* or AWS_*.
	env := exchangeEnv(c.secret, jwks, "info", "PATH=/usr/bin:/bin", "AUTH_HTTP_TIMEOUT="+o.httpTimeout.String())
	s, err := start("exchange", o.bin, env, -1, filepath.Join(dir, "exchange.log"))
	if err != nil {
		return err
	}
	defer s.stop()
	if _, err := s.waitHealthy(15 * time.Second); err != nil {
		return err
	}
	fmt.Printf("soak: exchange (pid %d) at %s (it binds all interfaces: PORT is its only setting), JWKS at %s\n", s.pid, s.url, jwks.url)

	// Warm up: one of each request, then the before-sample.
	if bad := c.once(ctx, s, jwks, m.kinds...); bad != "" {
		return errors.New("warm-up: " + bad)
	}
	before, err := sampleProc(s.pid, "before", 0)
	if err != nil {
		return err
	}
	samples := []sample{before}
	var mu sync.Mutex // guards samples while the run goes
	fetchesBefore := jwks.fetches.Load()

	var events []event
	if o.downAt > 0 {
		events = append(events, event{o.downAt, func() { jwks.down.Store(true); fmt.Printf("soak: %5.1fs JWKS down\n", o.downAt.Seconds()) }},
			event{o.downAt + o.downFor, func() { jwks.down.Store(false); fmt.Printf("soak: %5.1fs JWKS up\n", (o.downAt + o.downFor).Seconds()) }})
	}
	loadStart := time.Now()
	for at := o.sampleEvery; at < o.duration; at += o.sampleEvery {
		events = append(events, event{at, func() {
			if smp, err := sampleProc(s.pid, "during", time.Since(loadStart)); err == nil {
				mu.Lock()
				samples = append(samples, smp)
				mu.Unlock()
			}
		}})
	}
	rep := &report{byKind: map[string]map[int]int{}, outage: map[int]int{}}
	out, err := attack(ctx, s, run{name: "soak", rate: o.rate, duration: o.duration, workers: 10, dialTimeout: 2 * time.Second, maxInFlight: o.maxInFlight,
		keepPeak: true, pick: cycle(m.order...), events: events, check: func(n int, res *vegeta.Result, at time.Duration) string {
			return rep.add(c, m.order[n%len(m.order)], n, res, at)
		}}, jwks)
	jwks.down.Store(false)
	if err != nil {
		return err
	}

	// After: recovery, then quiet, then the after-sample.
	recovered := false
	for range 5 {
		if recovered = c.once(ctx, s, jwks, m.byName("unknown kid")) == ""; recovered {
			break
		}
		time.Sleep(time.Second)
	}
	valid := c.once(ctx, s, jwks, m.byName("valid RS256 bearer"))
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
	}
	after, err := sampleProc(s.pid, "after", time.Since(loadStart))
	if err != nil {
		return err
	}
	mu.Lock()
	samples = append(samples, after)
	mu.Unlock()
	exitErr := s.stop()
	logs, err := os.ReadFile(filepath.Join(dir, "exchange.log"))
	if err != nil {
		return err
	}

	var problems []string
	fail := func(bad bool, format string, a ...any) {
		if bad {
			problems = append(problems, fmt.Sprintf(format, a...))
		}
	}
	fail(rep.wrongN > 0, "%d wrong answers", rep.wrongN)
	fail(rep.errN > 0, "%d transport errors", rep.errN)
	fail(out.overLimit > 0, "%d requests found -max-in-flight requests already waiting", out.overLimit)
	fail(!recovered, "after the outage an unknown kid is still not 401 (the cache did not recover)")
	fail(valid != "", "after the load a valid token: %s", valid)
	fail(exitErr != nil, "the function did not stop cleanly on SIGTERM: %v", exitErr)
	problems = append(problems, checkSamples(samples)...)
	logSummary, logProblems := checkLogs(logs, c.secret, m.tokens)
	problems = append(problems, logProblems...)

	rep.print(o, out, m, samples, jwks.fetches.Load()-fetchesBefore, logSummary, recovered)
	if len(problems) > 0 {
		fmt.Println("\nFAIL")
		for _, p := range problems {
			fmt.Println("  -", p)
		}
		return errors.New("the soak run found problems")
	}
	fmt.Println("\nPASS")
	return nil
}

// mix is the soak's requests: each kind once in kinds, and weighted and
// shuffled in order.
type mix struct {
	kinds  []*kind
	order  []*kind
	tokens []string // every token it sends, for the log check
}

func (m *mix) byName(name string) *kind {
	return m.kinds[slices.IndexFunc(m.kinds, func(k *kind) bool { return k.name == name })]
}

func newMix(iss string, rs, ec *signingKey, seed uint64) (*mix, error) {
	m := &mix{}
	var firstErr error
	keep := func(toks []string, err error) []string {
		firstErr = cmp.Or(firstErr, err)
		m.tokens = append(m.tokens, toks...)
		return toks
	}
	now := time.Now()
	pem, err := rs.publicPEM()
	keep(nil, err)
	none := &signingKey{kid: rs.kid, method: jwt.SigningMethodNone, key: jwt.UnsafeAllowNoneSignatureType}
	hsPub := &signingKey{kid: rs.kid, method: jwt.SigningMethodHS256, key: []byte(pem)}
	unknown := make([]string, 128)
	for i := range unknown {
		rogue, err := newKey(jwt.SigningMethodES256, fmt.Sprintf("rogue-%03d", i))
		if err != nil {
			return nil, err
		}
		tok, err := rogue.sign(claims(iss, i, now))
		unknown[i] = keep([]string{tok}, err)[0]
	}
	rng := mrand.New(mrand.NewPCG(seed, seed+1))
	garbage := make([]string, 32)
	for i := range garbage {
		garbage[i] = randomSegment(rng, 20) + "." + randomSegment(rng, 60) + "." + randomSegment(rng, 43)
	}
	validRS := keep(rs.tokens(iss, 64, nil))
	expired := keep(rs.tokens(iss, 16, func(c jwt.MapClaims) { c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix() }))
	preflight := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
	m.kinds = []*kind{
		{name: "valid RS256 bearer", weight: 30, tokens: validRS, status: 200},
		{name: "valid ES256 bearer", weight: 10, tokens: keep(ec.tokens(iss, 64, nil)), status: 200},
		{name: "valid RFC 8693 form", weight: 10, tokens: validRS, form: true, status: 200},
		{name: "expired", weight: 5, tokens: expired, status: 401},
		{name: "expired RFC 8693", weight: 3, tokens: expired, form: true, status: 400},
		{name: "alg none", weight: 4, tokens: keep(none.tokens(iss, 4, nil)), status: 401},
		{name: "HS256 keyed with the public key", weight: 4, tokens: keep(hsPub.tokens(iss, 4, nil)), status: 401},
		{name: "garbage", weight: 4, tokens: keep(garbage, nil), status: 401},
		{name: "no token", weight: 3, status: 401},
		{name: "wrong iss", weight: 4, tokens: keep(rs.tokens(iss, 8, func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" })), status: 401},
		{name: "wrong aud", weight: 3, tokens: keep(ec.tokens(iss, 8, func(c jwt.MapClaims) { c["aud"] = "someone-else" })), status: 401},
		{name: "unknown kid", weight: 5, tokens: unknown, status: 401, unknownKID: true},
		{name: "token over 16 KiB", weight: 2, tokens: []string{strings.Repeat("A", 17<<10)}, status: 413},
		{name: "body over 64 KiB", weight: 2, body: "grant_type=" + url.QueryEscape(grantTE) + "&pad=" + strings.Repeat("p", 70<<10), status: 413},
		{name: "GET (405)", weight: 2, method: http.MethodGet, status: 405},
		{name: "PUT (405)", weight: 1, method: http.MethodPut, status: 405},
		{name: "DELETE (405)", weight: 1, method: http.MethodDelete, path: "/", status: 405},
		{name: "preflight", weight: 4, method: http.MethodOptions, header: preflight, status: 204},
		{name: "healthz", weight: 3, method: http.MethodGet, path: "/functions/v1/exchange/healthz", status: 200},
	}
	for _, k := range m.kinds {
		for range k.weight {
			m.order = append(m.order, k)
		}
	}
	rng.Shuffle(len(m.order), func(i, j int) { m.order[i], m.order[j] = m.order[j], m.order[i] })
	return m, firstErr
}

func randomSegment(r *mrand.Rand, n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[r.IntN(len(alpha))]
	}
	return string(b)
}

// contract judges the function's answers.
type contract struct {
	secret string // the function's SUPABASE_JWT_SECRET
	soakOptions
}

// once sends one request of each of ks, one after the other, and returns
// why the first wrong answer is wrong ("" when every answer is right).
func (c contract) once(ctx context.Context, s *server, jwks *jwksServer, ks ...*kind) string {
	var bad []string
	_, err := attack(ctx, s, run{name: "once", hits: len(ks), workers: 1, dialTimeout: 2 * time.Second, keepPeak: true, pick: cycle(ks...),
		check: func(n int, res *vegeta.Result, _ time.Duration) string {
			k := ks[n%len(ks)]
			ok, why := false, "transport: "+res.Error
			if res.Code != 0 {
				ok, why = c.judge(k, res, k.subject(n), 0)
			}
			if !ok {
				bad = append(bad, k.name+": "+why)
			}
			return why
		}}, jwks)
	if err != nil {
		return err.Error()
	}
	return strings.Join(bad, "; ")
}

// judge decides whether an answer to k is the contract's. sub is the
// subject a minted token must carry, at when the request was sent.
func (c contract) judge(k *kind, res *vegeta.Result, sub string, at time.Duration) (bool, string) {
	h, body, status := res.Headers, res.Body, int(res.Code)
	if ct := h.Get("Content-Type"); ct != "application/json" {
		return false, fmt.Sprintf("Content-Type %q", ct)
	}
	if h.Get("Access-Control-Allow-Origin") != "*" {
		return false, "no CORS header"
	}
	if status != k.status {
		if k.unknownKID && status == http.StatusBadGateway && c.inOutage(at) {
			return errorBody(body, "temporarily_unavailable")
		}
		return false, fmt.Sprintf("got %d, want %d: %s", status, k.status, truncate(body))
	}
	switch status {
	case http.StatusNoContent:
		if len(body) != 0 {
			return false, "a body with 204"
		}
		return true, ""
	case http.StatusOK:
		if sub == "" {
			var v map[string]any
			if json.Unmarshal(body, &v) != nil || v["status"] != "ok" {
				return false, "healthz body " + truncate(body)
			}
			return true, ""
		}
		if h.Get("Cache-Control") != "no-store" {
			return false, "a token answer without Cache-Control: no-store"
		}
		var v struct {
			AccessToken string `json:"access_token"`
			SupabaseJWT string `json:"supabaseJwt"`
		}
		if json.Unmarshal(body, &v) != nil || v.AccessToken == "" || v.AccessToken != v.SupabaseJWT {
			return false, "success body " + truncate(body)
		}
		var claims jwt.MapClaims
		if _, err := jwt.ParseWithClaims(v.AccessToken, &claims, func(*jwt.Token) (any, error) { return []byte(c.secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithAudience("authenticated")); err != nil {
			return false, "the minted token does not verify: " + err.Error()
		}
		if claims["sub"] != sub || claims["role"] != "authenticated" {
			return false, fmt.Sprintf("minted sub %v role %v, want %s authenticated", claims["sub"], claims["role"], sub)
		}
		return true, ""
	case http.StatusUnauthorized:
		if h.Get("WWW-Authenticate") == "" {
			return false, "401 without WWW-Authenticate"
		}
		return errorBody(body, "invalid_token")
	case http.StatusBadRequest:
		return errorBody(body, "invalid_request")
	case http.StatusMethodNotAllowed:
		if h.Get("Allow") == "" {
			return false, "405 without Allow"
		}
		return errorBody(body, "method_not_allowed")
	case http.StatusRequestEntityTooLarge:
		return errorBody(body, "request_too_large")
	}
	return false, fmt.Sprintf("unexpected %d", status)
}

// inOutage reports whether a request sent at at may find the JWKS down or
// its failure still remembered: from the outage until one unknown-kid
// interval (plus a fetch) after it ends.
func (o soakOptions) inOutage(at time.Duration) bool {
	return o.downAt > 0 && at >= o.downAt && at <= o.downAt+o.downFor+o.unknownKID+o.httpTimeout+time.Second
}

func errorBody(body []byte, code string) (bool, string) {
	var v map[string]any
	if json.Unmarshal(body, &v) != nil || v["error"] != code || v["error_description"] == "" || len(v) != 2 {
		return false, fmt.Sprintf("error body %s, want error %s", truncate(body), code)
	}
	return true, ""
}

func truncate(b []byte) string {
	if len(b) > 160 {
		return string(b[:160]) + "..."
	}
	return string(b)
}

// report is what the soak's run saw, beyond the run's outcome.
type report struct {
	byKind   map[string]map[int]int // kind → status → answers (0: transport error)
	wrong    []string               // the first wrong answers
	errs     []string               // the first transport errors
	outage   map[int]int            // statuses of unknown-kid requests in the outage window
	latValid []time.Duration
	wrongN   int
	errN     int
}

// add judges request n, of kind k, and files its answer.
func (r *report) add(c contract, k *kind, n int, res *vegeta.Result, at time.Duration) string {
	if r.byKind[k.name] == nil {
		r.byKind[k.name] = map[int]int{}
	}
	r.byKind[k.name][int(res.Code)]++
	if k.unknownKID && c.inOutage(at) {
		r.outage[int(res.Code)]++
	}
	if res.Code == 0 {
		r.errN++
		if len(r.errs) < 10 {
			r.errs = append(r.errs, fmt.Sprintf("%s at %v: %s", k.name, at.Round(time.Millisecond), res.Error))
		}
		return "transport error"
	}
	sub := k.subject(n)
	if sub != "" {
		r.latValid = append(r.latValid, res.Latency)
	}
	if ok, why := c.judge(k, res, sub, at); !ok {
		r.wrongN++
		if len(r.wrong) < 10 {
			r.wrong = append(r.wrong, fmt.Sprintf("%s at %v: %s", k.name, at.Round(time.Millisecond), why))
		}
		return "wrong answer"
	}
	return ""
}

// checkSamples asserts that the process settles: file descriptors back to
// where they were, and memory that stops growing during the load.
func checkSamples(ss []sample) []string {
	var out []string
	before, after := ss[0], ss[len(ss)-1]
	if after.fds > before.fds+4 {
		out = append(out, fmt.Sprintf("open file descriptors: %d before, %d after the load", before.fds, after.fds))
	}
	var during []sample
	for _, s := range ss {
		if s.phase == "during" {
			during = append(during, s)
		}
	}
	if len(during) >= 4 {
		half := len(during) / 2
		var first, second int64
		for _, s := range during[:half] {
			first = max(first, s.rssKiB)
		}
		for _, s := range during[half:] {
			second = max(second, s.rssKiB)
		}
		if second > first+first/4+16<<10 {
			out = append(out, fmt.Sprintf("resident memory still growing: peak %d MiB in the first half of the load, %d MiB in the second", first>>10, second>>10))
		}
	}
	if after.rssKiB > 2*before.rssKiB+128<<10 {
		out = append(out, fmt.Sprintf("resident memory %d MiB after the load, %d MiB before", after.rssKiB>>10, before.rssKiB>>10))
	}
	return out
}

// checkLogs reads the function's JSON log: one line per request, none with
// the secret or a token, none at ERROR.
func checkLogs(logs []byte, secret string, tokens []string) (string, []string) {
	var out []string
	if bytes.Contains(logs, []byte(secret)) {
		out = append(out, "the log holds the Supabase secret")
	}
	for _, tok := range tokens {
		sig := tok[strings.LastIndexByte(tok, '.')+1:]
		if len(sig) >= 16 && bytes.Contains(logs, []byte(sig)) {
			out = append(out, "the log holds a token")
			break
		}
	}
	levels := map[string]int{}
	lines, requests, bad := 0, 0, 0
	for l := range bytes.Lines(logs) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		lines++
		var v map[string]any
		if json.Unmarshal(l, &v) != nil {
			bad++
			continue
		}
		lvl, _ := v["level"].(string)
		levels[lvl]++
		if v["msg"] == "request" {
			requests++
		}
	}
	if bad > 0 {
		out = append(out, fmt.Sprintf("%d log lines are not JSON", bad))
	}
	if levels["ERROR"] > 0 {
		out = append(out, fmt.Sprintf("%d log lines at ERROR", levels["ERROR"]))
	}
	return fmt.Sprintf("%d lines (%d KiB), %d access lines, levels %v", lines, len(logs)>>10, requests, levels), out
}

func (r *report) print(o soakOptions, out outcome, m *mix, ss []sample, fetches int64, logSummary string, recovered bool) {
	fmt.Printf("\nsoak: %d requests in %v at %d/s target (%.0f/s achieved), open loop; JWKS down from %v for %v\n",
		out.requests, out.elapsed.Round(time.Millisecond), o.rate, float64(out.requests)/out.elapsed.Seconds(), o.downAt, o.downFor)
	fmt.Printf("      wrong answers %d, transport errors %d, over -max-in-flight %d, sent late (>20ms) %d (worst %v)\n",
		r.wrongN, r.errN, out.overLimit, out.late, out.maxLag.Round(time.Millisecond))
	for _, w := range r.wrong {
		fmt.Println("      wrong:", w)
	}
	for _, e := range r.errs {
		fmt.Println("      error:", e)
	}
	fmt.Println()
	out.print()
	fmt.Println("\n  kind                              want  answers")
	for _, k := range slices.SortedFunc(slices.Values(m.kinds), func(a, b *kind) int { return strings.Compare(a.name, b.name) }) {
		var parts []string
		for _, st := range slices.Sorted(maps.Keys(r.byKind[k.name])) {
			parts = append(parts, fmt.Sprintf("%d×%d", st, r.byKind[k.name][st]))
		}
		fmt.Printf("  %-33s %4d  %s\n", k.name, k.status, strings.Join(parts, " "))
	}
	fmt.Printf("\n  unknown kid in the outage window: %v; recovered to 401 after it: %v; JWKS fetches during the run: %d\n", r.outage, recovered, fetches)
	slices.Sort(r.latValid)
	for _, l := range []struct {
		what string
		d    []time.Duration
	}{{"all", out.lat}, {"valid tokens", r.latValid}} {
		fmt.Printf("  latency, %s: p50 %v p90 %v p99 %v max %v\n", l.what, round(quantile(l.d, .5)), round(quantile(l.d, .9)), round(quantile(l.d, .99)), round(quantile(l.d, 1)))
	}
	fmt.Println("\n  process (from /proc)   t       RSS MiB  peak MiB  threads  fds  sockets")
	for _, s := range ss {
		fmt.Printf("  %-20s %6.1fs  %7.1f  %8.1f  %7d  %3d  %7d\n", s.phase, s.at.Seconds(), float64(s.rssKiB)/1024, float64(s.hwmKiB)/1024, s.threads, s.fds, s.sockets)
	}
	fmt.Println("\n  function log:", logSummary)
}
