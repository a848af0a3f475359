package deploy_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"supabridge/shared/config"
)

// hostCA is the bundle `make image` copies into every image (Debian's
// ca-certificates package).
const hostCA = "/etc/ssl/certs/ca-certificates.crt"

// goBuild runs `go build` from the module root with extra environment.
func goBuild(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", append([]string{"build"}, args...)...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

// imageArchs are the platforms `make image` puts in every index.
var imageArchs = []string{"amd64", "arm64"}

// buildImage does what `make image` does for the exchange function: a static
// build per platform, then ocimage with the machine's CA bundle and the
// licence of the repository. It returns the binaries by arch and the archive.
func buildImage(t *testing.T, dir, tag string) (bins map[string]string, archive string) {
	t.Helper()
	ocimage := filepath.Join(dir, "ocimage")
	archive = filepath.Join(dir, "exchange.oci.tar")
	start := time.Now()
	goBuild(t, nil, "-o", ocimage, "./tools/ocimage")
	args := []string{"-name", "exchange", "-tag", tag, "-ca", hostCA, "-licenses", imageLicense(t),
		"-source", "https://example.com/supabridge", "-revision", "deploy-test", "-epoch", "0", "-out", archive}
	bins = map[string]string{}
	for _, arch := range imageArchs {
		bins[arch] = filepath.Join(dir, "linux-"+arch, "exchange")
		goBuild(t, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch},
			"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bins[arch], "./functions/exchange")
		args = append(args, "-binary", arch+"="+bins[arch])
	}
	summary, err := exec.CommandContext(t.Context(), ocimage, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ocimage: %v\n%s", err, summary)
	}
	t.Logf("built in %v:\n%s", time.Since(start).Round(time.Millisecond), bytes.TrimSpace(summary))
	return bins, archive
}

// imageLicense is IMAGE_LICENSES from the Makefile, checked against the
// LICENSE file: the label must name the licence the repository is under.
func imageLicense(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^IMAGE_LICENSES\s*\?=\s*(\S+)`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile sets no IMAGE_LICENSES")
	}
	lic, err := os.ReadFile("../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{"Apache-2.0": "Apache License\n                           Version 2.0", "MIT": "MIT License"}
	if want, ok := texts[string(m[1])]; !ok || !bytes.Contains(lic, []byte(want)) {
		t.Fatalf("IMAGE_LICENSES %s does not match ../LICENSE", m[1])
	}
	return string(m[1])
}

// openIndex unpacks an OCI archive and opens its one image index with
// go-containerregistry's layout reader.
func openIndex(t *testing.T, archive string) (entry v1.Descriptor, idx v1.ImageIndex) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			os.MkdirAll(dst, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(dst), 0o755)
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("layout: %v", err)
	}
	rm, err := root.IndexManifest()
	if err != nil || len(rm.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d entries", err, len(rm.Manifests))
	}
	idx, err = root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return rm.Manifests[0], idx
}

// TestImageRuns builds the exchange image exactly as `make image` does,
// opens the archive, unpacks this machine's binary and runs it the way
// OpenFaaS (behind of-watchdog) and Kubernetes or Knative run it; where
// containerd can run, it imports the archive as k3s does.
func TestImageRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the function and its image; skipped with -short")
	}
	arch := goruntime.GOARCH
	if !slices.Contains(imageArchs, arch) {
		t.Skipf("images are built for %v, this machine is %s", imageArchs, arch)
	}
	if _, err := os.Stat(hostCA); err != nil {
		t.Fatalf("%v: install Debian's ca-certificates package (make image copies this bundle)", err)
	}
	kc := loadBase(t, "exchange")
	stack := loadStack(t).Functions["exchange"]

	dir := t.TempDir()
	bins, archive := buildImage(t, dir, kc.Image)

	// index.json names it as the base Deployment does.
	entry, idx := openIndex(t, archive)
	if got := entry.Annotations["io.containerd.image.name"]; got != kc.Image {
		t.Fatalf("archive names %q, the Deployment runs %q", got, kc.Image)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var img v1.Image
	var plats []string
	for _, d := range im.Manifests {
		plats = append(plats, d.Platform.OS+"/"+d.Platform.Architecture)
		if d.Platform.Architecture == arch {
			if img, err = idx.Image(d.Digest); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("platform %s: manifest %s", d.Platform, d.Digest)
	}
	if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("index platforms %v, want linux/amd64 and linux/arm64", plats)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d (%v), want 1", len(layers), err)
	}
	layerSize, _ := layers[0].Size()
	st, _ := os.Stat(archive)
	t.Logf("image %s: archive %d bytes (both platforms), %s layer %d bytes gzip", kc.Image, st.Size(), arch, layerSize)

	c := cfg.Config
	wantUser := fmt.Sprintf("%d:%d", *kc.SecurityContext.RunAsUser, *kc.SecurityContext.RunAsGroup)
	checks := []struct {
		what      string
		got, want string
	}{
		{"platform", cfg.OS + "/" + cfg.Architecture, "linux/" + arch},
		{"user (the Deployment's runAsUser:runAsGroup)", c.User, wantUser},
		{"entrypoint (stack.yml fprocess)", strings.Join(c.Entrypoint, " "), stack.FProcess},
		{"PORT (the Deployment's containerPort)", envValue(c.Env, "PORT"), strconv.Itoa(kc.Ports[0].ContainerPort)},
		{"licenses label", c.Labels["org.opencontainers.image.licenses"], imageLicense(t)},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("image %s: got %q, want %q", ck.what, ck.got, ck.want)
		}
	}
	if _, ok := c.ExposedPorts[strconv.Itoa(kc.Ports[0].ContainerPort)+"/tcp"]; !ok {
		t.Errorf("image exposes %v, not the Deployment's containerPort", c.ExposedPorts)
	}

	// Unpack the binary (and check the other files) from the flattened filesystem.
	files := extract(t, img, map[string]string{
		"usr/local/bin/exchange":            filepath.Join(dir, "rootfs", "exchange"),
		"etc/ssl/certs/ca-certificates.crt": filepath.Join(dir, "rootfs", "ca.crt"),
		"etc/passwd":                        filepath.Join(dir, "rootfs", "passwd"),
	})
	ca, _ := os.ReadFile(hostCA)
	if got, _ := os.ReadFile(files["etc/ssl/certs/ca-certificates.crt"]); !bytes.Equal(got, ca) {
		t.Errorf("image CA bundle (%d bytes) differs from %s (%d bytes)", len(got), hostCA, len(ca))
	}
	if got, _ := os.ReadFile(files["etc/passwd"]); !strings.Contains(string(got), fmt.Sprintf("nonroot:x:%d:%d:", nonrootID, nonrootID)) {
		t.Errorf("image /etc/passwd %q lacks the nonroot user", got)
	}
	unpacked := files["usr/local/bin/exchange"]
	if want, _ := os.ReadFile(bins[arch]); !sameFile(t, unpacked, want) {
		t.Fatalf("binary in the image differs from the one built")
	}

	t.Run("k3s ctr images import", func(t *testing.T) { containerdImport(t, archive, kc.Image, idx) })

	provider := newTestProvider(t)

	t.Run("openfaas", func(t *testing.T) {
		// What of-watchdog gives the binary: stack.yml's environment with PORT
		// (upstream_url's port, here a free one) and the secret as a file.
		env := functionEnv(t, stack.Environment, provider)
		secrets := t.TempDir()
		env[config.EnvSecret+"_FILE"] = writeSecret(t, secrets, "supabase-jwt-secret", testJWTSecret)
		env[config.EnvPort] = strconv.Itoa(freePort(t))
		p := startFunction(t, unpacked, env)
		exerciseAndDrain(t, p, provider)
	})

	t.Run("kubernetes", func(t *testing.T) {
		// What the Deployment gives it: its literal env, JWT_SECRET from
		// supabase-secrets, and PORT.
		literal := map[string]string{}
		for _, e := range kc.Env {
			if e.Value != nil {
				literal[e.Name] = *e.Value
			}
		}
		env := functionEnv(t, literal, provider)
		env[config.EnvSecretAlias] = testJWTSecret
		env[config.EnvPort] = strconv.Itoa(freePort(t))
		p := startFunction(t, unpacked, env)
		exerciseAndDrain(t, p, provider)
	})

	t.Run("of-watchdog in front", func(t *testing.T) {
		wd, err := exec.LookPath("of-watchdog")
		if err != nil {
			wd, err = exec.LookPath("fwatchdog")
		}
		if err != nil {
			t.Skip("no of-watchdog (or fwatchdog) binary on PATH: the official watchdog cannot be installed from the registries reached here, so only the binary's side of mode=http was run above")
		}
		env := functionEnv(t, stack.Environment, provider)
		env[config.EnvSecret+"_FILE"] = writeSecret(t, t.TempDir(), "supabase-jwt-secret", testJWTSecret)
		upstream := freePort(t)
		env[config.EnvPort] = strconv.Itoa(upstream)
		for _, k := range watchdogVars {
			if v, ok := stack.Environment[k]; ok {
				env[k] = v
			}
		}
		env["fprocess"] = unpacked
		env["upstream_url"] = "http://127.0.0.1:" + strconv.Itoa(upstream)
		env["port"] = strconv.Itoa(freePort(t))
		p := startProcess(t, wd, env, "/_/health", env["port"])
		// The watchdog is healthy as soon as it runs; wait for the binary behind it too.
		waitHealthy(t, "http://127.0.0.1:"+strconv.Itoa(upstream)+"/healthz", p)
		code, body := provider.exchange(t, p.base, "bearer")
		if code != http.StatusOK {
			t.Fatalf("exchange through of-watchdog: %d %s\n%s", code, body, p.logs())
		}
		checkMinted(t, body, "user-bearer")
	})
}

// envValue returns KEY's value from a KEY=VALUE list.
func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// extract writes the named files of the image's flattened filesystem to the
// given paths (executable when they are in the image) and returns them by name.
func extract(t *testing.T, img v1.Image, want map[string]string) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	got := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("image filesystem: %v", err)
		}
		dst, ok := want[strings.TrimPrefix(hdr.Name, "/")]
		if !ok {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, os.FileMode(hdr.Mode)&0o755); err != nil {
			t.Fatal(err)
		}
		got[strings.TrimPrefix(hdr.Name, "/")] = dst
	}
	for n := range want {
		if _, ok := got[n]; !ok {
			t.Fatalf("image has no %s", n)
		}
	}
	return got
}

func sameFile(t *testing.T, path string, want []byte) bool {
	t.Helper()
	got, err := os.ReadFile(path)
	return err == nil && bytes.Equal(got, want)
}

// testProvider signs provider tokens with a key generated in the test.
type testProvider struct {
	key    *rsa.PrivateKey
	pubPEM string
	issuer string
}

// newTestProvider generates the provider's key pair.
func newTestProvider(t *testing.T) testProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testProvider{
		key:    key,
		pubPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		issuer: "https://issuer.deploy.test/",
	}
}

// token signs an RS256 provider token for sub.
func (p testProvider) token(t *testing.T, sub string, key *rsa.PrivateKey) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":   p.issuer,
		"sub":   sub,
		"email": sub + "@example.com",
		"iat":   now.Unix(),
		"exp":   now.Add(10 * time.Minute).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// exchange posts a provider token, as a bearer token or an RFC 8693 form, and
// returns the status and body.
func (p testProvider) exchange(t *testing.T, base, form string) (int, []byte) {
	t.Helper()
	tok := p.token(t, "user-"+form, p.key)
	var req *http.Request
	var err error
	switch form {
	case "bearer":
		req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/", nil)
		if err == nil {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	default:
		req, err = http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/functions/v1/exchange", strings.NewReader(tokenExchangeForm(tok)))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func tokenExchangeForm(tok string) string {
	return url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {tok},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"},
	}.Encode()
}

// checkMinted verifies an exchange response: a Supabase token signed with the
// test secret, for sub, with the role Supabase expects.
func checkMinted(t *testing.T, body []byte, sub string) {
	t.Helper()
	var out struct {
		SupabaseJWT string `json:"supabaseJwt"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.SupabaseJWT == "" || out.AccessToken != out.SupabaseJWT {
		t.Fatalf("exchange body %s: want supabaseJwt equal to access_token (%v)", body, err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(out.SupabaseJWT, claims, func(*jwt.Token) (any, error) { return []byte(testJWTSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()); err != nil {
		t.Fatalf("minted token does not verify with the Supabase secret: %v", err)
	}
	if claims["sub"] != sub || claims["role"] != "authenticated" {
		t.Errorf("minted sub %v role %v, want %s and authenticated", claims["sub"], claims["role"], sub)
	}
}

// functionEnv keeps the function's own variables from a manifest's
// environment (dropping the watchdog's and the secret paths, which the caller
// sets) and points the provider at the test key instead of discovery.
func functionEnv(t *testing.T, manifest map[string]string, p testProvider) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range manifest {
		if slices.Contains(watchdogVars, k) || strings.HasSuffix(k, "_FILE") {
			continue
		}
		env[k] = v
	}
	env[config.EnvAuthIssuer] = p.issuer
	env[config.EnvAuthPublicKey] = p.pubPEM
	return env
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a started binary and what it printed.
type process struct {
	cmd  *exec.Cmd
	addr string // 127.0.0.1:port
	base string // http://addr
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startFunction starts the unpacked binary with exactly env (nothing
// inherited: no AWS_LAMBDA_RUNTIME_API, no stray configuration) and waits for
// /healthz on PORT.
func startFunction(t *testing.T, bin string, env map[string]string) *process {
	t.Helper()
	return startProcess(t, bin, env, "/healthz", env[config.EnvPort])
}

func startProcess(t *testing.T, bin string, env map[string]string, health, port string) *process {
	t.Helper()
	p := &process{addr: "127.0.0.1:" + port, done: make(chan error, 1)}
	p.base = "http://" + p.addr
	p.cmd = exec.Command(bin)
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		for _, secret := range []string{testJWTSecret} {
			if strings.Contains(p.logs(), secret) {
				t.Errorf("the process printed the Supabase secret")
			}
		}
	})

	waitHealthy(t, p.base+health, p)
	return p
}

// waitHealthy polls url until it answers 200, failing early if p exits.
func waitHealthy(t *testing.T, url string, p *process) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited before %s answered: %v\n%s", p.cmd.Path, url, err, p.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer in time\n%s", url, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// exerciseAndDrain checks /healthz, a bearer and a form exchange, a forged
// token, then SIGTERM with a request in flight: it completes with 200, new
// connections are refused and the process exits 0.
func exerciseAndDrain(t *testing.T, p *process, provider testProvider) {
	t.Helper()
	resp, err := http.Get(p.base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("GET /healthz: %d %s, want 200 {\"status\":\"ok\"}", resp.StatusCode, body)
	}

	for _, form := range []string{"bearer", "rfc8693"} {
		code, body := provider.exchange(t, p.base, form)
		if code != http.StatusOK {
			t.Fatalf("%s exchange: %d %s\n%s", form, code, body, p.logs())
		}
		checkMinted(t, body, "user-"+form)
	}

	// A token signed by another key must be refused: the exchange verifies.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.base+"/", nil)
	req.Header.Set("Authorization", "Bearer "+provider.token(t, "mallory", other))
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged token: %d, want 401", resp.StatusCode)
		}
	}

	// A bounded burst, then the peak memory, for sizing requests and limits.
	burst(t, p, provider, 200, 8)

	// In flight: headers and half of an RFC 8693 form are sent, so the
	// handler is reading the body when SIGTERM arrives.
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	form := tokenExchangeForm(provider.token(t, "in-flight", provider.key))
	head := "POST /functions/v1/exchange HTTP/1.1\r\nHost: " + p.addr +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(form)) + "\r\n\r\n"
	half := len(form) / 2
	if _, err := io.WriteString(conn, head+form[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the server read the headers and start the handler

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Poll until a dial is refused; a connection that was queued as the
	// listener closed may be reset instead, which is no answer either way.
	refused, lastErr := false, error(nil)
	for deadline := time.Now().Add(5 * time.Second); !refused && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			refused, lastErr = errors.Is(err, syscall.ECONNREFUSED), err
			continue
		}
		c.Close()
	}
	if !refused {
		t.Errorf("new connections were not refused within 5s of SIGTERM (last dial error: %v)\n%s", lastErr, p.logs())
	}

	if _, err := io.WriteString(conn, form[half:]); err != nil {
		t.Fatalf("finishing the in-flight request: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request got no response: %v\n%s", err, p.logs())
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("in-flight request: %d %s, want 200", resp.StatusCode, body)
	}
	checkMinted(t, body, "in-flight")

	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("process exit after SIGTERM: %v, want status 0\n%s", err, p.logs())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("process still running 10s after SIGTERM and its last request")
	}
}

// burst sends n bearer exchanges, conc at a time, all of which must succeed,
// and logs the process's resident memory (peak and current) afterwards.
func burst(t *testing.T, p *process, provider testProvider, n, conc int) {
	t.Helper()
	tok := provider.token(t, "burst", provider.key)
	var wg sync.WaitGroup
	var failed atomic.Int32
	start := time.Now()
	jobs := make(chan struct{})
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.base+"/", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Errorf("burst: %d of %d exchanges failed", f, n)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Logf("burst: %d exchanges in %v (no /proc to read memory: %v)", n, time.Since(start).Round(time.Millisecond), err)
		return
	}
	var mem []string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") || strings.HasPrefix(l, "VmRSS:") {
			mem = append(mem, strings.Join(strings.Fields(l), " "))
		}
	}
	t.Logf("burst: %d exchanges, %d at a time, in %v; %s", n, conc, time.Since(start).Round(time.Millisecond), strings.Join(mem, ", "))
}
