package dex

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SkipEnv names the environment variable that, set to "1", skips every test
// that calls Start instead of failing it when Dex cannot be had.
const SkipEnv = "SUPABRIDGE_SKIP_DEX"

// BinEnv names the environment variable holding the path of a prebuilt Dex
// binary. When it is set nothing is built.
const BinEnv = "DEX_BIN"

// buildScript is the script, relative to the repository root, that builds
// Dex (or reuses the cached build) and prints the binary's path.
const buildScript = "scripts/dex-build.sh"

// Defaults for the zero Options.
const (
	DefaultClientID   = "supabridge-test"
	DefaultIDTokenTTL = 10 * time.Minute
	// DefaultRedirectURI is the static client's redirect URI. Nothing listens
	// there; it exists because Dex wants one for authorization_code.
	DefaultRedirectURI = "http://127.0.0.1/callback"
)

// DefaultScopes are what PasswordGrant asks for when given none:
// offline_access gets a refresh token, profile gets name and
// preferred_username, groups gets groups.
var DefaultScopes = []string{"openid", "email", "profile", "groups", "offline_access"}

// Timeouts. The build is slow only the first time on a machine (see
// docs/dex.md); a healthy Dex answers discovery within a second.
const (
	defaultStartTimeout = 30 * time.Second
	stopTimeout         = 10 * time.Second
	startAttempts       = 3 // a port picked free can be taken before Dex binds it
	maxLog              = 4 << 20
	maxBody             = 1 << 20
)

// User is a static user of Dex's password database.
type User struct {
	// Email is the login name for the password grant and the "email" claim.
	Email string
	// Password is the plain password; Start stores only its bcrypt hash in
	// Dex's configuration.
	Password string
	// PasswordHash, when set, is the bcrypt hash of Password (cost 10 to
	// 16, as Dex demands), and Start uses it instead of hashing Password.
	// Hashing at cost 10 takes about 0.5 s, and ten times that under -race.
	PasswordHash string
	// Username is the "name" claim.
	Username string
	// UserID is Dex's internal id; the "sub" claim encodes it with the
	// connector id.
	UserID string
	// PreferredUsername is the "preferred_username" claim (scope profile);
	// empty leaves the claim out.
	PreferredUsername string
	// Groups is the "groups" claim (scope groups); empty leaves it out.
	Groups []string
}

// DefaultUser is the user Start configures when Options.Users is empty.
// Dex puts all of its fields in the ID token: name, preferred_username
// (scope profile) and groups (scope groups).
func DefaultUser() User {
	return User{
		Email:             "alice@example.test",
		Password:          "alice-test-password",
		PasswordHash:      "$2a$10$RJ43l6KFuXE/qI9qjJbFwe3VcHI2REWH9oPhIcqvbuN2K3le9RADK",
		Username:          "Alice Example",
		UserID:            "2d0c4a7e-9b8f-4f1e-8c3a-6a1f0b5e7d21",
		PreferredUsername: "alice",
		Groups:            []string{"admins", "staff"},
	}
}

// PlainUser is a second user with neither preferred_username nor groups,
// to test a provider token that lacks them. Options.Users must name it:
// Options{Users: []User{DefaultUser(), PlainUser()}}.
func PlainUser() User {
	return User{
		Email:        "bob@example.test",
		Password:     "bob-test-password",
		PasswordHash: "$2a$10$WtbJynWeX8DwSmH0JG7AN.AoT9yh3Z8J4s5PDxy0RQAWsZ4jLsEJ.",
		Username:     "Bob Plain",
		UserID:       "9f5e2b7c-3d41-4a8e-b6c2-1e7d0a9f4b38",
	}
}

// Options configures one Dex. The zero value is a working configuration:
// DefaultUser, client DefaultClientID with a random secret, ID tokens valid
// for DefaultIDTokenTTL, rotating refresh tokens that can be used once and
// never expire, and the binary from DEX_BIN or scripts/dex-build.sh.
type Options struct {
	// Users are the password database; empty means DefaultUser alone.
	Users []User
	// ClientID is the static client's id; empty means DefaultClientID.
	ClientID string
	// ClientSecret is the static client's secret; empty means 32 random
	// hex characters.
	ClientSecret string
	// RedirectURIs of the static client; empty means DefaultRedirectURI.
	RedirectURIs []string
	// IDTokenTTL is how long ID and access tokens are valid; zero means
	// DefaultIDTokenTTL. Dex accepts seconds, so a test of expiry can use a
	// few.
	IDTokenTTL time.Duration
	// DisableRotation makes Dex keep a refresh token across refreshes
	// (expiry.refreshTokens.disableRotation).
	DisableRotation bool
	// RefreshReuseInterval is how long a rotated-away refresh token is still
	// accepted; zero refuses it at once.
	RefreshReuseInterval time.Duration
	// RefreshValidIfNotUsedFor expires an idle refresh token; zero never does.
	RefreshValidIfNotUsedFor time.Duration
	// RefreshAbsoluteLifetime expires a refresh token this long after the
	// login; zero never does.
	RefreshAbsoluteLifetime time.Duration
	// Binary is the Dex binary to run; empty means DEX_BIN, else the output
	// of scripts/dex-build.sh found above the working directory.
	Binary string
	// StartTimeout bounds the wait for the discovery document (the build is
	// bounded only by the context); zero means 30 s.
	StartTimeout time.Duration
	// LogOutput, when set, receives a copy of Dex's output as it comes.
	// Start ignores it and shows the output only when the test failed.
	LogOutput io.Writer
}

// Server is one running Dex. Its fields are set by Start and not changed
// afterwards; its methods are safe for concurrent use. A Server built by
// hand with Issuer, TokenURL, ClientID and ClientSecret (from cmd/dexrun's
// output, say) can call PasswordGrant and Refresh; its Stop does nothing.
type Server struct {
	// Issuer is the issuer URL, http://127.0.0.1:<port>/dex, exactly as in
	// the discovery document and the tokens' "iss".
	Issuer string
	// DiscoveryURL is Issuer + "/.well-known/openid-configuration".
	DiscoveryURL string
	// TokenURL is the discovery document's token_endpoint.
	TokenURL string
	// JWKSURL is the discovery document's jwks_uri.
	JWKSURL string
	// ClientID and ClientSecret are the static client's credentials.
	ClientID     string
	ClientSecret string
	// Users are the configured users, passwords included.
	Users []User

	cmd      *exec.Cmd
	dir      string        // temporary directory of the configuration, removed once Dex is up
	exited   chan struct{} // closed when Dex has exited
	waitErr  error         // Dex's exit status, valid once exited is closed
	log      *logBuffer
	client   *http.Client
	stopOnce sync.Once
}

// Tokens is a successful token endpoint response.
type Tokens struct {
	IDToken      string `json:"id_token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
}

// TokenError is a token endpoint response other than 200, with the
// RFC 6749 §5.2 fields when Dex sent them.
type TokenError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// Error describes the refusal; Dex's descriptions hold no token.
func (e *TokenError) Error() string {
	return fmt.Sprintf("dex: token endpoint answered %d %s: %s", e.Status, e.Code, e.Description)
}

// Start runs a Dex for the test and stops it in t.Cleanup, printing Dex's
// log there if the test failed. It fails the test when Dex cannot be built
// or started, unless SUPABRIDGE_SKIP_DEX=1, which skips it instead.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("dex: %s=1: skipping a test that needs Dex", SkipEnv)
	}
	opts.LogOutput = nil
	begin := time.Now()
	s, err := Launch(t.Context(), opts)
	if err != nil {
		t.Fatalf("%v\n(set %s to a prebuilt Dex, or %s=1 to skip tests that need Dex)", err, BinEnv, SkipEnv)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("dex: output of Dex at %s:\n%s", s.Issuer, s.Log())
		}
	})
	t.Logf("dex: %s up in %s", s.Issuer, time.Since(begin).Round(time.Millisecond))
	return s
}

// Launch is Start without a testing.TB: it builds or finds Dex, starts it
// and waits until it serves discovery. ctx bounds only the build and the
// start; the caller must call Stop.
func Launch(ctx context.Context, opts Options) (*Server, error) {
	bin, err := binary(ctx, opts.Binary)
	if err != nil {
		return nil, err
	}
	opts, err = withDefaults(opts)
	if err != nil {
		return nil, err
	}
	users := make([]staticPassword, 0, len(opts.Users))
	for i, u := range opts.Users {
		p, err := newStaticPassword(u)
		if err != nil {
			return nil, fmt.Errorf("dex: user %d: %w", i, err)
		}
		users = append(users, p)
	}

	var errs []error
	for range startAttempts {
		s, err := launchOnce(ctx, bin, opts, users)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// errPortTaken reports that Dex could not bind the port picked for it.
var errPortTaken = errors.New("dex: port taken before Dex bound it")

func launchOnce(ctx context.Context, bin string, opts Options, users []staticPassword) (_ *Server, err error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	issuer := "http://" + addr + "/dex"

	dir, err := os.MkdirTemp("", "supabridge-dex-")
	if err != nil {
		return nil, fmt.Errorf("dex: temporary directory: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	cfg, err := json.MarshalIndent(newConfig(issuer, addr, opts, users), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dex: encode configuration: %w", err)
	}
	// JSON is YAML, which is what Dex reads. The file holds the client
	// secret and password hashes: only the owner may read it.
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("dex: write configuration: %w", err)
	}

	s := &Server{
		Issuer:       issuer,
		DiscoveryURL: issuer + "/.well-known/openid-configuration",
		ClientID:     opts.ClientID,
		ClientSecret: opts.ClientSecret,
		Users:        opts.Users,
		dir:          dir,
		exited:       make(chan struct{}),
		log:          &logBuffer{max: maxLog},
		client:       &http.Client{Timeout: 10 * time.Second},
	}
	var out io.Writer = s.log
	if opts.LogOutput != nil {
		out = io.MultiWriter(s.log, opts.LogOutput)
	}
	// Not exec.CommandContext: Dex outlives ctx, which bounds the start only.
	s.cmd = exec.Command(bin, "serve", cfgPath)
	s.cmd.Dir = dir
	s.cmd.Stdout = out
	s.cmd.Stderr = out
	s.cmd.Env = dexEnv()
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("dex: start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	if err := s.waitReady(ctx, opts.StartTimeout); err != nil {
		s.Stop()
		if strings.Contains(s.Log(), "address already in use") {
			return nil, fmt.Errorf("%w: %w", errPortTaken, err)
		}
		return nil, fmt.Errorf("%w\ndex output:\n%s", err, s.Log())
	}
	// Dex read its configuration once, at start: delete it now, so that a
	// test process that dies without cleaning up leaves no secret behind.
	if err := os.RemoveAll(dir); err != nil {
		s.Stop()
		return nil, fmt.Errorf("dex: remove configuration: %w", err)
	}
	return s, nil
}

// waitReady polls the discovery document until it names the issuer.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		d, err := s.discover(ctx)
		if err == nil {
			if d.Issuer != s.Issuer {
				return fmt.Errorf("dex: discovery names issuer %q, want %q", d.Issuer, s.Issuer)
			}
			if d.TokenEndpoint == "" || d.JWKSURI == "" {
				return errors.New("dex: discovery lacks token_endpoint or jwks_uri")
			}
			s.TokenURL, s.JWKSURL = d.TokenEndpoint, d.JWKSURI
			return nil
		}
		last = err
		select {
		case <-s.exited:
			return fmt.Errorf("dex: exited before serving discovery: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("dex: not serving %s after %s: %w (last: %w)", s.DiscoveryURL, timeout, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

type discovery struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	JWKSURI       string `json:"jwks_uri"`
}

func (s *Server) discover(ctx context.Context) (discovery, error) {
	var d discovery
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.DiscoveryURL, nil)
	if err != nil {
		return d, fmt.Errorf("dex: discovery request: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return d, fmt.Errorf("dex: discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("dex: discovery answered %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&d); err != nil {
		return d, fmt.Errorf("dex: decode discovery: %w", err)
	}
	return d, nil
}

// Stop terminates Dex (SIGTERM, then SIGKILL after 10 s), waits for it and
// removes its configuration. Afterwards the token endpoint refuses
// connections. Calling Stop again does nothing.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		defer os.RemoveAll(s.dir)
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// Exited is closed when the Dex process has exited, stopped or not.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Err is how Dex exited (nil for status 0); it is nil while Dex runs.
func (s *Server) Err() error {
	select {
	case <-s.exited:
		return s.waitErr
	default:
		return nil
	}
}

// Log returns what Dex has written to stdout and stderr so far (its first
// 4 MiB).
func (s *Server) Log() string {
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// User returns the first configured user.
func (s *Server) User() User { return s.Users[0] }

// PasswordGrant logs a user in with the resource owner password grant
// (RFC 6749 §4.3) as the static client. With no scopes it asks for
// DefaultScopes. A refusal is a *TokenError.
func (s *Server) PasswordGrant(ctx context.Context, email, password string, scopes ...string) (Tokens, error) {
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	return s.token(ctx, url.Values{
		"grant_type": {"password"},
		"username":   {email},
		"password":   {password},
		"scope":      {strings.Join(scopes, " ")},
	})
}

// Refresh redeems a refresh token (RFC 6749 §6) as the static client. With
// no scopes it keeps the original ones. A refusal is a *TokenError.
func (s *Server) Refresh(ctx context.Context, refreshToken string, scopes ...string) (Tokens, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return s.token(ctx, form)
}

func (s *Server) token(ctx context.Context, form url.Values) (Tokens, error) {
	var tok Tokens
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return tok, fmt.Errorf("dex: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: client_secret_basic with form-encoded id and secret.
	req.SetBasicAuth(url.QueryEscape(s.ClientID), url.QueryEscape(s.ClientSecret))
	client := s.client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return tok, fmt.Errorf("dex: token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return tok, fmt.Errorf("dex: read token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{Status: resp.StatusCode}
		_ = json.Unmarshal(body, te) // a body that is not JSON leaves Code empty
		return tok, te
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return tok, fmt.Errorf("dex: decode token response: %w", err)
	}
	return tok, nil
}

// binary returns the Dex binary to run: explicit, DEX_BIN, or built.
func binary(ctx context.Context, explicit string) (string, error) {
	for _, p := range []string{explicit, os.Getenv(BinEnv)} {
		if p == "" {
			continue
		}
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("dex: Dex binary %s: %w", p, err)
		}
		return p, nil
	}
	script, err := findScript()
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("dex: %s could not build Dex: %w\n%s", buildScript, err, tail(stderr.String(), 4096))
	}
	p := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(p, '\n'); i >= 0 {
		p = p[i+1:]
	}
	if err := isExecutable(p); err != nil {
		return "", fmt.Errorf("dex: %s printed %q: %w", buildScript, p, err)
	}
	return p, nil
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// findScript looks for scripts/dex-build.sh in the working directory and
// its parents: go test runs in the package's directory, go run wherever it
// was called.
func findScript() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("dex: working directory: %w", err)
	}
	for dir := wd; ; {
		p := filepath.Join(dir, buildScript)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("dex: no %s in %s or above it; set %s to a Dex binary", buildScript, wd, BinEnv)
		}
		dir = parent
	}
}

// dexEnv is the environment Dex runs with: the caller's, minus Dex's
// feature flags (DEX_*), which would change the configuration under test.
func dexEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DEX_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before Dex binds it; Launch retries when that happens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("dex: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func withDefaults(o Options) (Options, error) {
	if len(o.Users) == 0 {
		o.Users = []User{DefaultUser()}
	}
	for i, u := range o.Users {
		if u.Email == "" || u.Password == "" || u.UserID == "" {
			return o, fmt.Errorf("dex: user %d: Email, Password and UserID are required", i)
		}
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return o, fmt.Errorf("dex: client secret: %w", err)
		}
		o.ClientSecret = hex.EncodeToString(b)
	}
	if len(o.RedirectURIs) == 0 {
		o.RedirectURIs = []string{DefaultRedirectURI}
	}
	if o.IDTokenTTL == 0 {
		o.IDTokenTTL = DefaultIDTokenTTL
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = defaultStartTimeout
	}
	return o, nil
}

// logBuffer keeps the first max bytes written to it; Dex writes from the
// goroutines of os/exec while a test reads.
type logBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := b.max - b.buf.Len()
	if room < len(p) {
		b.truncated = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "\n[dex output truncated]\n"
	}
	return b.buf.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
