package devserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"supabridge/dev/issuer"
	"supabridge/shared/config"
	"supabridge/shared/exchange"
	"supabridge/shared/refresh"
)

const realSecret = "a-real-deployments-secret-of-at-least-32-bytes"

func functions() []Function {
	return []Function{{Name: "exchange", Build: exchange.New}, {Name: "refresh", Build: refresh.New}}
}

// addrListener is a listener that only has an address: Run refuses before it
// accepts, or the test cancels it, so nothing ever binds 0.0.0.0.
type addrListener struct {
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func newAddrListener(ip string, port int) *addrListener {
	return &addrListener{addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: port}, closed: make(chan struct{})}
}

func (l *addrListener) Accept() (net.Conn, error) {
	<-l.closed
	return nil, net.ErrClosed
}

func (l *addrListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *addrListener) Addr() net.Addr { return l.addr }

// syncBuffer is the banner, written by Run and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunRefuses: the development issuer signs a token for any sub, so it runs
// only when asked for, on loopback, beside no provider, and never with a real
// Supabase secret; and a server with no provider at all does not start.
func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		dev  bool
		ip   string
		env  map[string]string
		want error
	}{
		{"production env, no provider, no dev issuer asked", false, "127.0.0.1", map[string]string{config.EnvSecret: realSecret}, ErrNoProvider},
		{"production env on every interface", false, "0.0.0.0", map[string]string{config.EnvSecret: realSecret}, ErrNoProvider},
		{"dev issuer with SUPABASE_JWT_SECRET", true, "127.0.0.1", map[string]string{config.EnvSecret: realSecret}, ErrDevIssuerRealSecret},
		{"dev issuer with JWT_SECRET", true, "127.0.0.1", map[string]string{config.EnvSecretAlias: realSecret}, ErrDevIssuerRealSecret},
		{"dev issuer with a secret file", true, "127.0.0.1", map[string]string{config.EnvSecret + "_FILE": "/run/secrets/jwt"}, ErrDevIssuerRealSecret},
		{"dev issuer on every interface", true, "0.0.0.0", nil, ErrDevIssuerNotLoopback},
		{"dev issuer on a LAN address", true, "192.0.2.10", nil, ErrDevIssuerNotLoopback},
		{"dev issuer on IPv6 every interface", true, "::", nil, ErrDevIssuerNotLoopback},
		{"dev issuer beside a provider", true, "127.0.0.1", map[string]string{config.EnvAuthJWKSURL: "https://idp.example/jwks"}, ErrDevIssuerWithProvider},
		{"dev issuer beside a refresh client", true, "127.0.0.1", map[string]string{config.EnvAuthClientID: "app"}, ErrDevIssuerWithProvider},
		{"dev issuer with the bridge's own signing key", true, "127.0.0.1", map[string]string{config.EnvSigningKey: `{"kty":"EC"}`}, ErrDevIssuerRealSecret},
		{"dev issuer with Supabase's JWT_KEYS", true, "127.0.0.1", map[string]string{config.EnvJWTKeys + "_FILE": "/run/secrets/jwt-keys"}, ErrDevIssuerRealSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln := newAddrListener(tt.ip, 8787)
			var out syncBuffer
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err := Run(ctx, Options{Listener: ln, Env: config.MapEnv(tt.env), Functions: functions(), DevIssuer: tt.dev, Out: &out, Logger: discard()})
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if out.String() != "" {
				t.Errorf("printed %q before refusing; want nothing", out.String())
			}
			if strings.Contains(err.Error(), realSecret) {
				t.Errorf("the error echoes the secret")
			}
		})
	}
}

// TestRunAllowsExampleSecret: Supabase's public example secret is no secret,
// so the development issuer may sign with it.
func TestRunAllowsExampleSecret(t *testing.T) {
	ln := newAddrListener("127.0.0.1", 8787)
	var out syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listener: ln, Env: config.MapEnv(map[string]string{config.EnvSecretAlias: config.ExampleSecret}), Functions: functions(), DevIssuer: true, Out: &out, Logger: discard()})
	}()
	waitFor(t, &out, "supabridge: try it:")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Contains(out.String(), "dev secret") {
		t.Errorf("printed a throwaway secret although the example secret was set:\n%s", out.String())
	}
}

// TestBannerRealAddress: a server on every interface says so, instead of
// printing 127.0.0.1.
func TestBannerRealAddress(t *testing.T) {
	ln := newAddrListener("0.0.0.0", 8787)
	var out syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	env := map[string]string{config.EnvSecret: realSecret, config.EnvAuthPublicKey: testPublicKeyPEM(t)}
	go func() {
		done <- Run(ctx, Options{Listener: ln, Env: config.MapEnv(env), Functions: functions(), Out: &out, Logger: discard()})
	}()
	waitFor(t, &out, "/functions/v1/exchange")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	lines := strings.Split(out.String(), "\n")
	if want := "supabridge: listening on http://0.0.0.0:8787 (every interface)"; lines[0] != want {
		t.Errorf("first line: got %q, want %q", lines[0], want)
	}
	if strings.Contains(out.String(), "127.0.0.1") || strings.Contains(out.String(), "development issuer") {
		t.Errorf("banner:\n%s\nwant the real address and no development issuer", out.String())
	}
}

// TestBannerCurlLines runs the lines `make run` prints, as printed, and
// checks what they answer: exchange mints a Supabase token signed with the
// printed dev secret, and refresh redeems a rotating refresh token.
func TestBannerCurlLines(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: the banner's lines are shell", tool)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listener: ln, Env: config.MapEnv(nil), Functions: functions(), DevIssuer: true, Out: &out, Logger: discard()})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, &out, "/functions/v1/refresh -d")
	base := "http://" + ln.Addr().String()
	banner := out.String()
	var secret string
	var curls []string
	for _, line := range strings.Split(banner, "\n") {
		if s, ok := strings.CutPrefix(line, "supabridge: dev secret "); ok {
			secret = s
		}
		if c, ok := strings.CutPrefix(line, "  curl "); ok {
			curls = append(curls, "curl "+c)
		}
	}
	if secret == "" || len(curls) != 2 {
		t.Fatalf("banner:\n%s\nwant a dev secret and two curl lines", banner)
	}
	if !strings.HasPrefix(banner, "supabridge: listening on "+base+"\n") {
		t.Errorf("banner starts %q, want the real address %s", strings.SplitN(banner, "\n", 2)[0], base)
	}

	var ex struct {
		AccessToken string `json:"access_token"`
		ExpiresAt   int64  `json:"expires_at"`
	}
	runJSON(t, curls[0], &ex)
	claims := verifyHS256(t, ex.AccessToken, secret)
	if claims["sub"] != "alice" || claims["email"] != "alice@example.com" || claims["role"] != "authenticated" {
		t.Errorf("exchange minted %v; want sub alice, her email, role authenticated", claims)
	}

	var rf struct {
		AccessToken   string `json:"access_token"`
		RefreshToken  string `json:"refresh_token"`
		ProviderToken string `json:"provider_token"`
		IDToken       string `json:"id_token"`
	}
	runJSON(t, curls[1], &rf)
	if rf.RefreshToken == "" || rf.ProviderToken == "" || rf.IDToken == "" {
		t.Fatalf("refresh answered %+v; want new provider tokens and a rotated refresh token", rf)
	}
	if c := verifyHS256(t, rf.AccessToken, secret); c["sub"] != "alice" {
		t.Errorf("refresh minted sub %v, want alice", c["sub"])
	}

	// Rotation through the real refresh function: the new refresh token works
	// once, and a second use is the provider refusing it (400 invalid_grant).
	first := postRefresh(t, base, rf.RefreshToken)
	if first.status != http.StatusOK || first.body["refresh_token"] == rf.RefreshToken || first.body["refresh_token"] == "" {
		t.Fatalf("redeeming the rotated refresh token: %d %v", first.status, first.body["error"])
	}
	again := postRefresh(t, base, rf.RefreshToken)
	if again.status != http.StatusBadRequest || again.body["error"] != "invalid_grant" {
		t.Errorf("reusing a spent refresh token: got %d %v, want 400 invalid_grant", again.status, again.body["error"])
	}
}

// TestIssuerRefreshGrant checks the issuer's own token endpoint: rotation,
// reuse, unknown tokens, the client id, and the grant types.
func TestIssuerRefreshGrant(t *testing.T) {
	iss, err := issuer.New("http://127.0.0.1/dev/issuer")
	if err != nil {
		t.Fatal(err)
	}
	h := iss.Handler("/dev/issuer")
	post := func(form url.Values, basic string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, "/dev/issuer/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != "" {
			req.SetBasicAuth(basic, "")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	status, login := post(url.Values{"sub": {"bob"}}, "")
	rt, _ := login["refresh_token"].(string)
	if status != http.StatusOK || rt == "" {
		t.Fatalf("sign-in: %d %v", status, login)
	}
	tests := []struct {
		name   string
		form   url.Values
		basic  string
		status int
		code   string
	}{
		{"wrong client", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"other"}}, "", 401, "invalid_client"},
		{"no refresh token", url.Values{"grant_type": {"refresh_token"}}, issuer.ClientID, 400, "invalid_request"},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"devrt_nope"}}, issuer.ClientID, 400, "invalid_grant"},
		{"other grant", url.Values{"grant_type": {"client_credentials"}}, issuer.ClientID, 400, "unsupported_grant_type"},
		{"redeem (post)", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {issuer.ClientID}}, "", 200, ""},
		{"reuse (basic)", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, issuer.ClientID, 400, "invalid_grant"},
	}
	for _, tt := range tests {
		status, body := post(tt.form, tt.basic)
		if status != tt.status || (tt.code != "" && body["error"] != tt.code) {
			t.Errorf("%s: got %d %v, want %d %s", tt.name, status, body["error"], tt.status, tt.code)
		}
		if tt.status == 200 && (body["refresh_token"] == rt || body["refresh_token"] == "") {
			t.Errorf("%s: the refresh token did not rotate", tt.name)
		}
	}
}

// ---- helpers ----

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testPublicKeyPEM is a provider key made for the test, as AUTH_PUBLIC_KEY.
func testPublicKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func waitFor(t *testing.T, out *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the banner after 20 s:\n%s", s, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runJSON(t *testing.T, line string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("running the printed line: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("the printed line answered non-JSON (%v)", err)
	}
}

func verifyHS256(t *testing.T, tok, secret string) jwt.MapClaims {
	t.Helper()
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(secret), nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatalf("minted token does not verify with the printed dev secret: %v", err)
	}
	return claims
}

type answer struct {
	status int
	body   map[string]any
}

func postRefresh(t *testing.T, base, rt string) answer {
	t.Helper()
	res, err := http.PostForm(base+"/functions/v1/refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	return answer{res.StatusCode, body}
}
