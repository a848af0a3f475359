package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// options are the command's flags.
type options struct {
	rate        int
	duration    time.Duration
	downAt      time.Duration
	downFor     time.Duration
	httpTimeout time.Duration
	unknownKID  time.Duration
	sampleEvery time.Duration
	settle      time.Duration
	maxInFlight int
	bin         string
	seed        uint64
}

func main() {
	var o options
	flag.IntVar(&o.rate, "rate", 500, "requests per second, sent open loop")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of the load")
	flag.DurationVar(&o.downAt, "down-at", 15*time.Second, "when the JWKS goes down, from the start of the load (0: never)")
	flag.DurationVar(&o.downFor, "down-for", 20*time.Second, "how long the JWKS stays down")
	flag.DurationVar(&o.httpTimeout, "http-timeout", 2*time.Second, "AUTH_HTTP_TIMEOUT given to the function")
	flag.DurationVar(&o.unknownKID, "unknown-kid-interval", 30*time.Second, "the function's unknown-kid refresh interval (its built-in default), for judging 502s after the outage")
	flag.DurationVar(&o.sampleEvery, "sample", 5*time.Second, "how often the process is sampled during the load")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "quiet time before the after-sample")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 2000, "requests in flight at most; one more is dropped (and fails the run)")
	flag.StringVar(&o.bin, "bin", "", "exchange binary to run (default: build ./functions/exchange)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the request mix")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.rate <= 0 || o.duration <= 0 {
		return errors.New("-rate and -duration must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "supabridge-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	bin := o.bin
	if bin == "" {
		if bin, err = build(ctx, dir); err != nil {
			return err
		}
	}
	prov, err := newProvider()
	if err != nil {
		return err
	}
	defer prov.srv.Close()

	secret := randomHex(32)
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, "exchange.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	// Only what the function needs: nothing of the caller's AUTH_* or AWS_*.
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"SUPABASE_JWT_SECRET=" + secret,
		"AUTH_ISSUER=" + prov.issuer,
		"AUTH_JWKS_URL=" + prov.srv.URL + "/jwks",
		"AUTH_AUDIENCE=app",
		"AUTH_HTTP_TIMEOUT=" + o.httpTimeout.String(),
		"PORT=" + strconv.Itoa(port),
		"LOG_LEVEL=info",
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	pid := cmd.Process.Pid
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	if err := waitHealthy(ctx, client, base, exited); err != nil {
		return err
	}
	fmt.Printf("soak: exchange (pid %d) on 127.0.0.1:%d (it binds all interfaces: PORT is its only setting), JWKS at %s\n", pid, port, prov.srv.URL)

	mix, err := newMix(prov, base, secret, o.seed)
	if err != nil {
		return err
	}
	// Warm up: one of each request, then the before-sample.
	for _, k := range mix.kinds {
		if res := mix.send(ctx, client, k, 0, 0, o); !res.ok {
			return fmt.Errorf("warm-up %s: %s", k.name, res.reason)
		}
	}
	var samples []sample
	before, err := sampleProc(pid, "before", 0)
	if err != nil {
		return err
	}
	samples = append(samples, before)
	fetchesBefore := prov.fetches.Load()

	rep := load(ctx, o, client, mix, prov, pid, &samples)
	client.CloseIdleConnections()

	// After: recovery, then quiet, then the after-sample.
	probe := mix.byName["unknown kid"]
	var recovered bool
	for range 5 {
		if res := mix.send(ctx, client, probe, 0, 0, o); res.status == http.StatusUnauthorized {
			recovered = true
			break
		}
		time.Sleep(time.Second)
	}
	valid := mix.send(ctx, client, mix.byName["valid RS256 bearer"], 0, 0, o)
	client.CloseIdleConnections()
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
	}
	after, err := sampleProc(pid, "after", time.Since(rep.start))
	if err != nil {
		return err
	}
	samples = append(samples, after)

	// Graceful stop.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(25 * time.Second):
		exitErr = errors.New("did not stop within 25 s of SIGTERM")
		_ = cmd.Process.Kill()
	}
	logs, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}

	var problems []string
	problems = append(problems, rep.problems()...)
	if !recovered {
		problems = append(problems, "after the outage an unknown kid is still not 401 (the cache did not recover)")
	}
	if !valid.ok {
		problems = append(problems, "after the load a valid token: "+valid.reason)
	}
	if exitErr != nil {
		problems = append(problems, fmt.Sprintf("the function did not stop cleanly on SIGTERM: %v", exitErr))
	}
	problems = append(problems, checkSamples(samples)...)
	logSummary, logProblems := checkLogs(logs, secret, mix.tokens())
	problems = append(problems, logProblems...)

	printReport(o, rep, mix, samples, prov.fetches.Load()-fetchesBefore, logSummary, recovered)
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

// build compiles the exchange function the way `make build` does.
func build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(dir, "exchange")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./functions/exchange")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the exchange function: %w", err)
	}
	fmt.Printf("soak: built %s in %v\n", bin, time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitHealthy(ctx context.Context, c *http.Client, base string, exited <-chan error) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("the function exited at start: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the function did not answer /healthz within 15 s")
}

// provider is the JWKS the function trusts; it can go down on command.
type provider struct {
	srv     *httptest.Server
	issuer  string
	rs, ec  jwt.SigningMethod
	rsKey   *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
	pubPEM  []byte
	down    atomic.Bool
	fetches atomic.Int64
}

func newProvider() (*provider, error) {
	p := &provider{rs: jwt.SigningMethodRS256, ec: jwt.SigningMethodES256}
	var err error
	if p.rsKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if p.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(p.rsKey.Public())
	if err != nil {
		return nil, err
	}
	p.pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	var set []jwkset.JWKMarshal
	for _, k := range []struct {
		pub      any
		kid, alg string
	}{{p.rsKey.Public(), "soak-rs", "RS256"}, {p.ecKey.Public(), "soak-ec", "ES256"}} {
		j, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.ALG(k.alg), USE: jwkset.UseSig}})
		if err != nil {
			return nil, err
		}
		set = append(set, j.Marshal())
	}
	body, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		return nil, err
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		if p.down.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	p.issuer = p.srv.URL + "/"
	return p, nil
}

// kind is one sort of request and what the contract says it gets.
type kind struct {
	name   string
	weight int
	// next returns request number i of this kind and, for a 200 exchange,
	// the subject the minted token must carry.
	next       func(ctx context.Context, i int) (*http.Request, string, error)
	status     int
	unknownKID bool // 502 is right while the JWKS is (or was just) down
}

type mix struct {
	kinds  []*kind
	byName map[string]*kind
	order  []*kind // weighted, shuffled: request n is order[n % len]
	secret string
	pools  [][]string
}

func (m *mix) tokens() []string {
	var out []string
	for _, p := range m.pools {
		out = append(out, p...)
	}
	return out
}

const (
	grantTE  = "urn:ietf:params:oauth:grant-type:token-exchange"
	typeJWT  = "urn:ietf:params:oauth:token-type:jwt"
	formType = "application/x-www-form-urlencoded"
)

func newMix(p *provider, base, secret string, seed uint64) (*mix, error) {
	m := &mix{byName: map[string]*kind{}, secret: secret}
	now := time.Now()
	claims := func(sub string) jwt.MapClaims {
		return jwt.MapClaims{"iss": p.issuer, "sub": sub, "aud": "app", "iat": now.Unix(), "exp": now.Add(3 * time.Hour).Unix(), "email": sub + "@example.com", "email_verified": true}
	}
	sign := func(method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) (string, error) {
		t := jwt.NewWithClaims(method, c)
		if kid != "" {
			t.Header["kid"] = kid
		}
		return t.SignedString(key)
	}
	pool := func(n int, f func(i int) (string, error)) ([]string, error) {
		out := make([]string, n)
		for i := range out {
			var err error
			if out[i], err = f(i); err != nil {
				return nil, err
			}
		}
		m.pools = append(m.pools, out)
		return out, nil
	}
	subOf := func(i int) string { return fmt.Sprintf("soak-user-%03d", i) }
	validRS, err := pool(64, func(i int) (string, error) { return sign(p.rs, p.rsKey, "soak-rs", claims(subOf(i))) })
	if err != nil {
		return nil, err
	}
	validEC, err := pool(64, func(i int) (string, error) { return sign(p.ec, p.ecKey, "soak-ec", claims(subOf(i))) })
	if err != nil {
		return nil, err
	}
	expired, err := pool(16, func(i int) (string, error) {
		c := claims(subOf(i))
		c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		return sign(p.rs, p.rsKey, "soak-rs", c)
	})
	if err != nil {
		return nil, err
	}
	none, err := pool(4, func(i int) (string, error) {
		return sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "soak-rs", claims(subOf(i)))
	})
	if err != nil {
		return nil, err
	}
	hsPub, err := pool(4, func(i int) (string, error) {
		return sign(jwt.SigningMethodHS256, p.pubPEM, "soak-rs", claims(subOf(i)))
	})
	if err != nil {
		return nil, err
	}
	wrongIss, err := pool(8, func(i int) (string, error) {
		c := claims(subOf(i))
		c["iss"] = "https://evil.example/"
		return sign(p.rs, p.rsKey, "soak-rs", c)
	})
	if err != nil {
		return nil, err
	}
	wrongAud, err := pool(8, func(i int) (string, error) {
		c := claims(subOf(i))
		c["aud"] = "someone-else"
		return sign(p.ec, p.ecKey, "soak-ec", c)
	})
	if err != nil {
		return nil, err
	}
	unknown, err := pool(128, func(i int) (string, error) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", err
		}
		return sign(p.ec, k, fmt.Sprintf("rogue-%03d", i), claims(subOf(i)))
	})
	if err != nil {
		return nil, err
	}
	rng := mrand.New(mrand.NewPCG(seed, seed+1))
	garbage := make([]string, 32)
	for i := range garbage {
		garbage[i] = randomSegment(rng, 20) + "." + randomSegment(rng, 60) + "." + randomSegment(rng, 43)
	}
	huge := strings.Repeat("A", 17<<10)
	hugeForm := "grant_type=" + url.QueryEscape(grantTE) + "&pad=" + strings.Repeat("p", 70<<10)

	at := func(list []string, i int) string { return list[i%len(list)] }
	post := func(ctx context.Context, auth, ct, body string) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/functions/v1/exchange", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		return r, nil
	}
	bearer := func(list []string, subs bool) func(ctx context.Context, i int) (*http.Request, string, error) {
		return func(ctx context.Context, i int) (*http.Request, string, error) {
			r, err := post(ctx, "Bearer "+at(list, i), "", "")
			sub := ""
			if subs {
				sub = subOf(i % len(list))
			}
			return r, sub, err
		}
	}
	form := func(list []string, subs bool) func(ctx context.Context, i int) (*http.Request, string, error) {
		return func(ctx context.Context, i int) (*http.Request, string, error) {
			v := url.Values{"grant_type": {grantTE}, "subject_token": {at(list, i)}, "subject_token_type": {typeJWT}}
			r, err := post(ctx, "", formType, v.Encode())
			sub := ""
			if subs {
				sub = subOf(i % len(list))
			}
			return r, sub, err
		}
	}
	plain := func(method, path string, h map[string]string) func(ctx context.Context, i int) (*http.Request, string, error) {
		return func(ctx context.Context, i int) (*http.Request, string, error) {
			r, err := http.NewRequestWithContext(ctx, method, base+path, nil)
			if err == nil {
				for k, v := range h {
					r.Header.Set(k, v)
				}
			}
			return r, "", err
		}
	}
	m.kinds = []*kind{
		{name: "valid RS256 bearer", weight: 30, next: bearer(validRS, true), status: 200},
		{name: "valid ES256 bearer", weight: 10, next: bearer(validEC, true), status: 200},
		{name: "valid RFC 8693 form", weight: 10, next: form(validRS, true), status: 200},
		{name: "expired", weight: 5, next: bearer(expired, false), status: 401},
		{name: "expired RFC 8693", weight: 3, next: form(expired, false), status: 400},
		{name: "alg none", weight: 4, next: bearer(none, false), status: 401},
		{name: "HS256 keyed with the public key", weight: 4, next: bearer(hsPub, false), status: 401},
		{name: "garbage", weight: 4, next: bearer(garbage, false), status: 401},
		{name: "no token", weight: 3, next: func(ctx context.Context, i int) (*http.Request, string, error) {
			r, err := post(ctx, "", "", "")
			return r, "", err
		}, status: 401},
		{name: "wrong iss", weight: 4, next: bearer(wrongIss, false), status: 401},
		{name: "wrong aud", weight: 3, next: bearer(wrongAud, false), status: 401},
		{name: "unknown kid", weight: 5, next: bearer(unknown, false), status: 401, unknownKID: true},
		{name: "token over 16 KiB", weight: 2, next: func(ctx context.Context, i int) (*http.Request, string, error) {
			r, err := post(ctx, "Bearer "+huge, "", "")
			return r, "", err
		}, status: 413},
		{name: "body over 64 KiB", weight: 2, next: func(ctx context.Context, i int) (*http.Request, string, error) {
			r, err := post(ctx, "", formType, hugeForm)
			return r, "", err
		}, status: 413},
		{name: "GET (405)", weight: 2, next: plain(http.MethodGet, "/functions/v1/exchange", nil), status: 405},
		{name: "PUT (405)", weight: 1, next: plain(http.MethodPut, "/functions/v1/exchange", nil), status: 405},
		{name: "DELETE (405)", weight: 1, next: plain(http.MethodDelete, "/", nil), status: 405},
		{name: "preflight", weight: 4, next: plain(http.MethodOptions, "/functions/v1/exchange", map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization",
		}), status: 204},
		{name: "healthz", weight: 3, next: plain(http.MethodGet, "/functions/v1/exchange/healthz", nil), status: 200},
	}
	for _, k := range m.kinds {
		m.byName[k.name] = k
		for range k.weight {
			m.order = append(m.order, k)
		}
	}
	rng.Shuffle(len(m.order), func(i, j int) { m.order[i], m.order[j] = m.order[j], m.order[i] })
	return m, nil
}

func randomSegment(r *mrand.Rand, n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[r.IntN(len(alpha))]
	}
	return string(b)
}

// result is one judged answer.
type result struct {
	kind    *kind
	status  int
	latency time.Duration
	at      time.Duration // when it was sent, from the start of the load
	ok      bool
	reason  string
	err     error
}

// send sends request i of k and judges the answer. at is its send time
// from the start of the load, for judging 502s.
func (m *mix) send(ctx context.Context, c *http.Client, k *kind, i int, at time.Duration, o options) result {
	res := result{kind: k, at: at}
	req, sub, err := k.next(ctx, i)
	if err != nil {
		res.err, res.reason = err, err.Error()
		return res
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		res.latency = time.Since(start)
		res.err, res.reason = err, "transport: "+err.Error()
		return res
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	res.latency = time.Since(start)
	res.status = resp.StatusCode
	if err != nil {
		res.err, res.reason = err, "reading the body: "+err.Error()
		return res
	}
	res.ok, res.reason = m.judge(k, resp, body, sub, at, o)
	return res
}

// judge decides whether an answer is the contract's for k.
func (m *mix) judge(k *kind, resp *http.Response, body []byte, sub string, at time.Duration, o options) (bool, string) {
	h := resp.Header
	if ct := h.Get("Content-Type"); ct != "application/json" {
		return false, fmt.Sprintf("Content-Type %q", ct)
	}
	if h.Get("Access-Control-Allow-Origin") != "*" {
		return false, "no CORS header"
	}
	status := resp.StatusCode
	if status != k.status {
		if k.unknownKID && status == http.StatusBadGateway && inOutage(at, o) {
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
		var c jwt.MapClaims
		if _, err := jwt.ParseWithClaims(v.AccessToken, &c, func(*jwt.Token) (any, error) { return []byte(m.secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithAudience("authenticated")); err != nil {
			return false, "the minted token does not verify: " + err.Error()
		}
		if c["sub"] != sub || c["role"] != "authenticated" {
			return false, fmt.Sprintf("minted sub %v role %v, want %s authenticated", c["sub"], c["role"], sub)
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
func inOutage(at time.Duration, o options) bool {
	if o.downAt <= 0 {
		return false
	}
	return at >= o.downAt && at <= o.downAt+o.downFor+o.unknownKID+o.httpTimeout+time.Second
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

// report is what the load phase saw.
type report struct {
	start    time.Time
	elapsed  time.Duration
	sent     int
	dropped  int64
	late     int64
	maxLag   time.Duration
	byKind   map[string]map[int]int
	wrong    []result
	errs     []result
	outage   map[int]int // statuses of unknown-kid requests in the outage window
	lat      []time.Duration
	latValid []time.Duration
	wrongN   int
	errN     int
}

func (r *report) problems() []string {
	var out []string
	if r.wrongN > 0 {
		out = append(out, fmt.Sprintf("%d wrong answers", r.wrongN))
	}
	if r.errN > 0 {
		out = append(out, fmt.Sprintf("%d transport errors", r.errN))
	}
	if r.dropped > 0 {
		out = append(out, fmt.Sprintf("%d requests dropped (more than -max-in-flight waiting)", r.dropped))
	}
	return out
}

// load sends the mix at the fixed rate, open loop: request n leaves at
// start + n/rate whether or not earlier ones have been answered.
func load(ctx context.Context, o options, c *http.Client, m *mix, p *provider, pid int, samples *[]sample) *report {
	rep := &report{byKind: map[string]map[int]int{}, outage: map[int]int{}}
	results := make(chan result, 4096)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for res := range results {
			if rep.byKind[res.kind.name] == nil {
				rep.byKind[res.kind.name] = map[int]int{}
			}
			rep.byKind[res.kind.name][res.status]++
			rep.lat = append(rep.lat, res.latency)
			if res.kind.status == http.StatusOK && res.kind.name != "healthz" {
				rep.latValid = append(rep.latValid, res.latency)
			}
			if res.kind.unknownKID && inOutage(res.at, o) {
				rep.outage[res.status]++
			}
			switch {
			case res.err != nil:
				rep.errN++
				if len(rep.errs) < 10 {
					rep.errs = append(rep.errs, res)
				}
			case !res.ok:
				rep.wrongN++
				if len(rep.wrong) < 10 {
					rep.wrong = append(rep.wrong, res)
				}
			}
		}
	}()

	total := int(o.duration.Seconds() * float64(o.rate))
	interval := time.Second / time.Duration(o.rate)
	sem := make(chan struct{}, o.maxInFlight)
	var wg sync.WaitGroup
	rep.start = time.Now()

	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(o.sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				if s, err := sampleProc(pid, "during", time.Since(rep.start)); err == nil {
					*samples = append(*samples, s)
				}
			}
		}
	}()

	down := false
	for n := 0; n < total && ctx.Err() == nil; n++ {
		due := time.Duration(n) * interval
		now := time.Since(rep.start)
		if wait := due - now; wait > 0 {
			time.Sleep(wait)
		} else if lag := -wait; lag > 20*time.Millisecond {
			rep.late++
			rep.maxLag = max(rep.maxLag, lag)
		}
		if o.downAt > 0 {
			switch {
			case !down && due >= o.downAt && due < o.downAt+o.downFor:
				p.down.Store(true)
				down = true
				fmt.Printf("soak: %5.1fs JWKS down\n", due.Seconds())
			case down && due >= o.downAt+o.downFor:
				p.down.Store(false)
				down = false
				fmt.Printf("soak: %5.1fs JWKS up\n", due.Seconds())
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			atomic.AddInt64(&rep.dropped, 1)
			continue
		}
		k := m.order[n%len(m.order)]
		wg.Add(1)
		go func(n int, at time.Duration) {
			defer wg.Done()
			defer func() { <-sem }()
			results <- m.send(ctx, c, k, n, at, o)
		}(n, due)
		rep.sent++
	}
	p.down.Store(false)
	wg.Wait()
	rep.elapsed = time.Since(rep.start)
	close(stopSampling)
	<-sampled
	close(results)
	<-collected
	return rep
}

// sample is the function process seen from outside, through /proc.
type sample struct {
	phase   string
	at      time.Duration
	rssKiB  int64
	hwmKiB  int64
	threads int64
	fds     int
	sockets int
}

func sampleProc(pid int, phase string, at time.Duration) (sample, error) {
	s := sample{phase: phase, at: at}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("sampling the process (Linux /proc needed): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.Fields(v + " 0")[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rssKiB = n
		case "VmHWM":
			s.hwmKiB = n
		case "Threads":
			s.threads = n
		}
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return s, err
	}
	s.fds = len(ents)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(fdDir, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
			s.sockets++
		}
	}
	return s, nil
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
	for _, l := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		if len(l) == 0 {
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

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d)-1) * p)
	return d[i]
}

func printReport(o options, r *report, m *mix, ss []sample, fetches int64, logSummary string, recovered bool) {
	fmt.Printf("\nsoak: %d requests in %v at %d/s target (%.0f/s achieved), open loop; JWKS down from %v for %v\n",
		r.sent, r.elapsed.Round(time.Millisecond), o.rate, float64(r.sent)/r.elapsed.Seconds(), o.downAt, o.downFor)
	fmt.Printf("      wrong answers %d, transport errors %d, dropped %d, sent late (>20ms) %d (worst %v)\n",
		r.wrongN, r.errN, r.dropped, r.late, r.maxLag.Round(time.Millisecond))
	for _, w := range r.wrong {
		fmt.Printf("      wrong: %s at %v: %s\n", w.kind.name, w.at.Round(time.Millisecond), w.reason)
	}
	for _, e := range r.errs {
		fmt.Printf("      error: %s at %v: %s\n", e.kind.name, e.at.Round(time.Millisecond), e.reason)
	}
	fmt.Println("\n  kind                              want  answers")
	names := make([]string, 0, len(r.byKind))
	for n := range r.byKind {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		sts := make([]int, 0, len(r.byKind[n]))
		for st := range r.byKind[n] {
			sts = append(sts, st)
		}
		slices.Sort(sts)
		var parts []string
		for _, st := range sts {
			parts = append(parts, fmt.Sprintf("%d×%d", st, r.byKind[n][st]))
		}
		fmt.Printf("  %-33s %4d  %s\n", n, m.byName[n].status, strings.Join(parts, " "))
	}
	fmt.Printf("\n  unknown kid in the outage window: %v; recovered to 401 after it: %v; JWKS fetches during the run: %d\n", r.outage, recovered, fetches)
	slices.Sort(r.lat)
	slices.Sort(r.latValid)
	fmt.Printf("  latency, all: p50 %v p90 %v p99 %v max %v\n", percentile(r.lat, .5).Round(10*time.Microsecond), percentile(r.lat, .9).Round(10*time.Microsecond), percentile(r.lat, .99).Round(10*time.Microsecond), percentile(r.lat, 1).Round(10*time.Microsecond))
	fmt.Printf("  latency, valid tokens: p50 %v p90 %v p99 %v max %v\n", percentile(r.latValid, .5).Round(10*time.Microsecond), percentile(r.latValid, .9).Round(10*time.Microsecond), percentile(r.latValid, .99).Round(10*time.Microsecond), percentile(r.latValid, 1).Round(10*time.Microsecond))
	fmt.Println("\n  process (from /proc)   t       RSS MiB  peak MiB  threads  fds  sockets")
	for _, s := range ss {
		fmt.Printf("  %-20s %6.1fs  %7.1f  %8.1f  %7d  %3d  %7d\n", s.phase, s.at.Seconds(), float64(s.rssKiB)/1024, float64(s.hwmKiB)/1024, s.threads, s.fds, s.sockets)
	}
	fmt.Println("\n  function log:", logSummary)
}
