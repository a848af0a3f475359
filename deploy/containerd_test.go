package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"supabridge/shared/config"
)

// containerdImport does what `k3s ctr images import` does (k3s embeds
// containerd; its ctr works in the k8s.io namespace the kubelet uses) against
// a private containerd started here: import the archive with ctr's default
// flags, check that the image is the index with both platforms and that every
// platform's manifest is in the content store, then run this machine's image
// read-only with host networking, answer /healthz, and stop on SIGTERM with
// status 0.
//
// It runs only where containerd, ctr and runc are installed and the test runs
// as root (.ci/run installs Debian's containerd package); elsewhere it says
// why it skipped.
func containerdImport(t *testing.T, archive, image string, idx v1.ImageIndex) {
	for _, tool := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH (Debian: apt-get install containerd); the tarball was opened with go-containerregistry only", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}

	// containerd's state holds mounts and root-owned files: keep it out of
	// t.TempDir, whose cleanup would fail on them, and remove it ourselves.
	root, err := os.MkdirTemp("", "ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(root, "containerd.sock")
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
[metrics]
  address = ""
`, filepath.Join(root, "root"), filepath.Join(root, "state"), sock, filepath.Join(root, "ttrpc.sock"))
	if err := os.WriteFile(filepath.Join(root, "config.toml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var daemonLog bytes.Buffer
	daemon := exec.Command("containerd", "--config", filepath.Join(root, "config.toml"))
	daemon.Stdout, daemon.Stderr = &daemonLog, &daemonLog
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { daemon.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			daemon.Process.Kill()
			<-done
		}
		if err := os.RemoveAll(root); err != nil {
			t.Logf("removing %s: %v", root, err)
		}
	})

	ctr := func(args ...string) *exec.Cmd {
		return exec.CommandContext(t.Context(), "ctr", append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if ctr("version").Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not start\n%s", daemonLog.String())
		}
	}

	if out, err := exec.Command("containerd", "--version").Output(); err == nil {
		t.Logf("%s", bytes.TrimSpace(out))
	}
	indexDigest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}

	out, err := ctr("images", "import", archive).CombinedOutput()
	t.Logf("ctr images import %s:\n%s", filepath.Base(archive), bytes.TrimSpace(out))
	if err != nil {
		t.Fatalf("ctr images import: %v", err)
	}
	if !strings.Contains(string(out), image) || !strings.Contains(string(out), indexDigest.String()) {
		t.Errorf("import output does not name %s at %s", image, indexDigest)
	}
	out, err = ctr("images", "ls").CombinedOutput()
	t.Logf("ctr images ls:\n%s", bytes.TrimSpace(out))
	if err != nil {
		t.Fatalf("ctr images ls: %v", err)
	}
	row := ""
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == image {
			row = l
		}
	}
	for _, want := range []string{"application/vnd.oci.image.index.v1+json", indexDigest.String(), "linux/amd64", "linux/arm64"} {
		if !strings.Contains(row, want) {
			t.Errorf("ctr images ls row for %s %q lacks %s", image, row, want)
		}
	}
	// A node keeps only its own platform's blobs (ctr's default, what k3s
	// does); --all-platforms keeps every one, as a registry mirror would.
	content := func() string {
		out, err := ctr("content", "ls", "-q").CombinedOutput()
		if err != nil {
			t.Fatalf("ctr content ls: %v\n%s", err, out)
		}
		return string(out)
	}
	host := content()
	for _, d := range im.Manifests {
		if d.Platform.Architecture == goruntime.GOARCH && !strings.Contains(host, d.Digest.String()) {
			t.Errorf("content store lacks this machine's %s manifest %s", d.Platform, d.Digest)
		}
	}
	if out, err := ctr("images", "import", "--all-platforms", archive).CombinedOutput(); err != nil {
		t.Fatalf("ctr images import --all-platforms: %v\n%s", err, out)
	}
	all := content()
	for _, d := range im.Manifests {
		if !strings.Contains(all, d.Digest.String()) {
			t.Errorf("after --all-platforms, the content store lacks the %s manifest %s", d.Platform, d.Digest)
		}
	}
	if out, err := ctr("images", "check").CombinedOutput(); err != nil || !strings.Contains(string(out), "complete") {
		t.Errorf("ctr images check: %v\n%s", err, out)
	}

	// Run it as Kubernetes would with the Knative securityContext: the image's
	// user, a read-only root filesystem, configuration from the environment.
	port := freePort(t)
	env := map[string]string{
		config.EnvPort:          strconv.Itoa(port),
		config.EnvSecretAlias:   testJWTSecret,
		config.EnvAuthIssuer:    "https://issuer.deploy.test/",
		config.EnvAuthPublicKey: testPublicKeyPEM(t),
	}
	args := []string{"run", "--rm", "--net-host", "--read-only"}
	for k, v := range env {
		args = append(args, "--env", k+"="+v)
	}
	p := &process{addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan error, 1)}
	p.base = "http://" + p.addr
	p.cmd = ctr(append(args, image, "supabridge-exchange-test")...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			ctr("tasks", "kill", "-s", "SIGKILL", "supabridge-exchange-test").Run()
			<-p.done
		}
	})
	waitHealthy(t, p.base+healthPath, p)

	if out, err := ctr("tasks", "kill", "-s", "SIGTERM", "supabridge-exchange-test").CombinedOutput(); err != nil {
		t.Fatalf("ctr tasks kill: %v\n%s", err, out)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("container exit after SIGTERM: %v, want status 0\n%s", err, p.logs())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("container still running 15s after SIGTERM\n%s", p.logs())
	}
}

// testPublicKeyPEM is a provider public key for a container that is only
// probed, never sent a token.
func testPublicKeyPEM(t *testing.T) string {
	t.Helper()
	return newTestProvider(t).pubPEM
}
