package platform

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"supabridge/internal/testkit"

	"supabridge/shared/config"
	"supabridge/shared/edge"
	"supabridge/shared/function"
	"supabridge/shared/oauth"
)

const (
	testSecret = "TEST-SUPABASE-SECRET-0123456789abcdefghij"
	testJWKS   = "http://127.0.0.1:1/jwks" // never fetched: the test builders make no call
)

// okBuilder builds a handler that answers POST with 200 {"ok":true}.
func okBuilder(context.Context, *config.Config, function.Deps) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		oauth.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}), nil
}

func TestNewHandler(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		build   function.Builder
		wantErr string
	}{
		{"valid", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS}, okBuilder, ""},
		{"bad configuration", map[string]string{"AUTH_JWKS_URL": testJWKS}, okBuilder, "SUPABASE_JWT_SECRET"},
		{"builder fails", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS}, func(context.Context, *config.Config, function.Deps) (http.Handler, error) {
			return nil, errors.New("exchange: no key source answered")
		}, "no key source answered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHandler(t.Context(), "exchange", tt.build, config.MapEnv(tt.env), slog.New(slog.DiscardHandler))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The edge is in front: a GET is refused, a health check answers.
			for _, c := range []struct {
				method, path string
				want         int
			}{{"GET", "/", 405}, {"GET", "/healthz", 200}, {"OPTIONS", "/", 204}, {"POST", "/", 200}} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), c.method, c.path, nil))
				if rec.Code != c.want {
					t.Errorf("%s %s: got %d, want %d", c.method, c.path, rec.Code, c.want)
				}
			}
		})
	}
}

// TestNewHandlerCORS checks that CORS_ALLOWED_ORIGINS reaches the edge.
func TestNewHandlerCORS(t *testing.T) {
	h, err := NewHandler(t.Context(), "exchange", okBuilder, config.MapEnv(map[string]string{
		"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS, "CORS_ALLOWED_ORIGINS": "https://app.example.com",
	}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]string{"https://app.example.com": "https://app.example.com", "https://evil.example": ""} {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodOptions, "/", nil)
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("Origin %s: got Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestServeDrainsInFlightRequest(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var logs testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := edge.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		oauth.WriteJSON(w, http.StatusOK, map[string]string{"status": "drained"})
	}), edge.Options{Function: "exchange", Logger: logger})

	ln := listen(t)
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, h, ln, logger) }()

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{status: resp.StatusCode, body: string(b), err: err}
	}()

	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the handler")
	}
	cancel()
	// Shutdown closes the listener first: wait until new connections fail.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts connections after the context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight, want it to wait", err)
	case r := <-done:
		t.Fatalf("the in-flight request ended early: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}

	close(release)
	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, "drained") {
			t.Errorf("in-flight request: got status %d body %q error %v, want 200 drained", r.status, r.body, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight request never completed")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: got %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	if lines := logLines(t, logs.String(), "request"); len(lines) != 1 || lines[0]["status"] != float64(200) {
		t.Errorf("access log: got %v, want one line with status 200", lines)
	}
}

// TestServeReturnsListenerError checks that Serve reports a listener that
// fails, rather than waiting for the context.
func TestServeReturnsListenerError(t *testing.T) {
	ln := listen(t)
	ln.Close()
	errc := make(chan error, 1)
	go func() { errc <- Serve(t.Context(), http.NotFoundHandler(), ln, slog.New(slog.DiscardHandler)) }()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("got nil, want the listener's error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return on a closed listener")
	}
}

// TestServeCutsSlowHeaders is a slowloris client: it trickles header bytes
// and never ends the header block. The server must drop it after
// ReadHeaderTimeout (5 s; not injectable, so this test is skipped with
// -short and runs in parallel with the others).
func TestServeCutsSlowHeaders(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ReadHeaderTimeout (5 s)")
	}
	t.Parallel()
	ln := listen(t)
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, edge.Wrap(http.NotFoundHandler(), edge.Options{}), ln, slog.New(slog.DiscardHandler))
	}()
	defer func() {
		cancel()
		<-served
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(conn, "X-Slow-"+strconv.Itoa(i)+": 1\r\n"); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(start.Add(ReadTimeout + 5*time.Second))
	_, err = io.ReadAll(conn)
	elapsed := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server held the connection for %v, want it dropped after ReadHeaderTimeout (%v)", elapsed, ReadHeaderTimeout)
	}
	if elapsed < ReadHeaderTimeout-500*time.Millisecond || elapsed > ReadHeaderTimeout+3*time.Second {
		t.Fatalf("connection dropped after %v, want about ReadHeaderTimeout (%v)", elapsed, ReadHeaderTimeout)
	}
}

// runtimeAPI is a stand-in for the Lambda Runtime API that records what it
// receives.
type runtimeAPI struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	status int
}

type recorded struct {
	method, path, contentType, errorType string
	body                                 []byte
}

func newRuntimeAPI(t *testing.T, status int) *runtimeAPI {
	api := &runtimeAPI{status: status}
	api.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		api.reqs = append(api.reqs, recorded{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Lambda-Runtime-Function-Error-Type"), b})
		api.mu.Unlock()
		w.WriteHeader(api.status)
		_, _ = io.WriteString(w, `{"status":"OK"}`)
	}))
	t.Cleanup(api.srv.Close)
	return api
}

func (a *runtimeAPI) host() string { return strings.TrimPrefix(a.srv.URL, "http://") }

func (a *runtimeAPI) requests() []recorded {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]recorded(nil), a.reqs...)
}

func failingBuilder(context.Context, *config.Config, function.Deps) (http.Handler, error) {
	return nil, errors.New("exchange: discovery of https://idp.example.com failed")
}

func TestRunStartFailure(t *testing.T) {
	const shortSecret = "SHORT-SECRET-VALUE"
	tests := []struct {
		name      string
		env       map[string]string
		build     function.Builder
		apiStatus int // 0: no Runtime API (HTTP mode)
		want      []string
		leak      string
		wantLines int
	}{
		{"HTTP, no secret", map[string]string{"AUTH_JWKS_URL": testJWKS}, okBuilder, 0, []string{"SUPABASE_JWT_SECRET"}, "", 1},
		{"HTTP, nothing set", map[string]string{}, okBuilder, 0, []string{"SUPABASE_JWT_SECRET"}, "", 1},
		{"HTTP, short secret", map[string]string{"SUPABASE_JWT_SECRET": shortSecret, "AUTH_JWKS_URL": testJWKS}, okBuilder, 0, []string{"SUPABASE_JWT_SECRET", "32"}, shortSecret, 1},
		{"HTTP, empty AWS_LAMBDA_RUNTIME_API is not Lambda", map[string]string{"AWS_LAMBDA_RUNTIME_API": "", "AUTH_JWKS_URL": testJWKS}, okBuilder, 0, []string{"SUPABASE_JWT_SECRET"}, "", 1},
		{"HTTP, builder fails", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS}, failingBuilder, 0, []string{"discovery"}, testSecret, 1},
		{"Lambda, no secret", map[string]string{"AUTH_JWKS_URL": testJWKS}, okBuilder, http.StatusAccepted, []string{"SUPABASE_JWT_SECRET"}, "", 1},
		{"Lambda, short secret", map[string]string{"SUPABASE_JWT_SECRET": shortSecret, "AUTH_JWKS_URL": testJWKS}, okBuilder, http.StatusAccepted, []string{"SUPABASE_JWT_SECRET"}, shortSecret, 1},
		{"Lambda, builder fails", map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS}, failingBuilder, http.StatusAccepted, []string{"discovery"}, testSecret, 1},
		{"Lambda, Runtime API refuses the report", map[string]string{"AUTH_JWKS_URL": testJWKS}, okBuilder, http.StatusInternalServerError, []string{"SUPABASE_JWT_SECRET"}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var api *runtimeAPI
			if tt.apiStatus != 0 {
				api = newRuntimeAPI(t, tt.apiStatus)
				tt.env["AWS_LAMBDA_RUNTIME_API"] = api.host()
			}
			var stderr testkit.Buffer
			if code := run("exchange", tt.build, config.MapEnv(tt.env), &stderr); code != 1 {
				t.Fatalf("exit code: got %d, want 1", code)
			}
			out := stderr.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if !strings.HasSuffix(out, "\n") || len(lines) != tt.wantLines {
				t.Fatalf("stderr: got %q, want %d newline-terminated line(s)", out, tt.wantLines)
			}
			line := lines[0]
			if !strings.HasPrefix(line, "supabridge exchange: cannot start: ") {
				t.Errorf("stderr: got %q, want it to start with %q", line, "supabridge exchange: cannot start: ")
			}
			for _, w := range tt.want {
				if !strings.Contains(line, w) {
					t.Errorf("stderr: got %q, want it to name %q", line, w)
				}
			}
			if tt.leak != "" && strings.Contains(out, tt.leak) {
				t.Errorf("stderr: got %q, want no trace of the value", out)
			}
			if api == nil {
				return
			}
			reqs := api.requests()
			if len(reqs) != 1 {
				t.Fatalf("Runtime API: got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodPost || r.path != "/2018-06-01/runtime/init/error" {
				t.Errorf("Runtime API: got %s %s, want POST /2018-06-01/runtime/init/error", r.method, r.path)
			}
			if r.contentType != "application/json" || r.errorType != "Runtime.ConfigError" {
				t.Errorf("Runtime API: got Content-Type %q, Lambda-Runtime-Function-Error-Type %q", r.contentType, r.errorType)
			}
			var body map[string]any
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatalf("Runtime API body %q: %v", r.body, err)
			}
			if body["errorMessage"] != line || body["errorType"] != "Runtime.ConfigError" {
				t.Errorf("Runtime API body: got %v, want errorMessage %q and errorType Runtime.ConfigError", body, line)
			}
			if tt.wantLines == 2 && !strings.Contains(lines[1], "could not report") {
				t.Errorf("stderr line 2: got %q, want the failed report", lines[1])
			}
		})
	}
}

// TestRunRuntimeAPIDown checks that an unreachable Runtime API still leaves
// the reason on stderr and exits 1 promptly.
func TestRunRuntimeAPIDown(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	var stderr testkit.Buffer
	start := time.Now()
	code := run("exchange", okBuilder, config.MapEnv(map[string]string{"AWS_LAMBDA_RUNTIME_API": addr}), &stderr)
	if code != 1 {
		t.Fatalf("exit code: got %d, want 1", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("run took %v, want it bounded", d)
	}
	out := stderr.String()
	if !strings.Contains(out, "SUPABASE_JWT_SECRET") || !strings.Contains(out, "could not report") {
		t.Errorf("stderr: got %q, want the reason and the failed report", out)
	}
}

// TestRunPortInUse checks that run exits 1 when PORT cannot be bound.
func TestRunPortInUse(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var stderr testkit.Buffer
	code := run("exchange", okBuilder, config.MapEnv(map[string]string{"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS, "PORT": port}), &stderr)
	if code != 1 {
		t.Fatalf("exit code: got %d, want 1", code)
	}
	if lines := logLines(t, stderr.String(), "server stopped"); len(lines) != 1 {
		t.Errorf("stderr: got %q, want one JSON line \"server stopped\"", stderr.String())
	}
}

// TestRunServesHTTPUntilSIGTERM runs the whole HTTP mode: it serves PORT,
// writes one JSON access line per request, and exits 0 on SIGTERM.
func TestRunServesHTTPUntilSIGTERM(t *testing.T) {
	ln := listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var stderr testkit.Buffer
	codec := make(chan int, 1)
	go func() {
		codec <- run("exchange", okBuilder, config.MapEnv(map[string]string{
			"SUPABASE_JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS, "PORT": strconv.Itoa(port),
		}), &stderr)
	}()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case code := <-codec:
			t.Fatalf("run exited %d before serving; stderr %q", code, stderr.String())
		default:
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client.CloseIdleConnections()
	// run registered for SIGTERM before it started serving, so this signal
	// reaches run's context and does not end the test process.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-codec:
		if code != 0 {
			t.Fatalf("exit code: got %d, want 0; stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop on SIGTERM")
	}
	out := stderr.String()
	access := logLines(t, out, "request")
	if len(access) != 1 {
		t.Fatalf("access log: got %d lines, want 1:\n%s", len(access), out)
	}
	if access[0]["function"] != "exchange" || access[0]["status"] != float64(200) || access[0]["method"] != "GET" {
		t.Errorf("access log: got %v, want function exchange, GET, 200", access[0])
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := strings.Count(l, `"function":`); n > 1 {
			t.Errorf("log line %s: got the key \"function\" %d times, want once (duplicate JSON keys)", l, n)
		}
	}
	if len(logLines(t, out, "listening")) != 1 || len(logLines(t, out, "shutting down")) != 1 {
		t.Errorf("stderr: got %q, want the listening and shutting-down lines", out)
	}
	if strings.Contains(out, testSecret) {
		t.Errorf("stderr: got %q, want no trace of the secret", out)
	}
}

// TestNewHandlerSigningKey: the start log names the key in force and the
// variables set but not used, never its material, and the edge serves its
// public key at /.well-known/jwks.json, under the function's path too.
func TestNewHandlerSigningKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: "bridge-1", ALG: jwkset.AlgES256}})
	if err != nil {
		t.Fatal(err)
	}
	private, err := json.Marshal(j.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.Buffer
	h, err := NewHandler(t.Context(), "exchange", okBuilder, config.MapEnv(map[string]string{
		"SUPABRIDGE_SIGNING_KEY": string(private), "JWT_SECRET": testSecret, "AUTH_JWKS_URL": testJWKS,
	}), slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, logs.String(), "signing key")
	if len(lines) != 1 {
		t.Fatalf("log %q, want one signing key line", logs.String())
	}
	l := lines[0]
	if l["source"] != "SUPABRIDGE_SIGNING_KEY" || l["alg"] != "ES256" || l["kid"] != "bridge-1" || l["published_keys"] != float64(1) ||
		fmt.Sprint(l["ignored"]) != "[JWT_SECRET]" || l["function"] != "exchange" {
		t.Errorf("signing key line %v, want source, alg, kid, ignored JWT_SECRET, 1 published key", l)
	}
	d := j.Marshal().D
	if strings.Contains(logs.String(), d) || strings.Contains(logs.String(), testSecret) {
		t.Error("the log holds key material")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/functions/v1/exchange/.well-known/jwks.json", nil))
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if len(set.Keys) != 1 || set.Keys[0].KID != "bridge-1" || set.Keys[0].D != "" || set.Keys[0].X != j.Marshal().X {
		t.Errorf("published %s, want the public half of bridge-1", rec.Body.String())
	}
}
