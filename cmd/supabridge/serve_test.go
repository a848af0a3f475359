package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"supabridge/shared/config"
)

const productionSecret = "production-secret-of-some-deployment-0123456789"

// TestServeRefusesDevIssuer is issue 16 item 9: a production environment
// without a provider used to start the development issuer silently, signing
// with the real secret, on whatever address was given, while the banner said
// 127.0.0.1. Now the issuer runs only when asked for, and never with a real
// secret or off loopback. Each case would serve (and block until the timeout)
// on the old code.
func TestServeRefusesDevIssuer(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"production env, no provider", map[string]string{config.EnvSecret: productionSecret}, []string{"--addr", "127.0.0.1:0"}, "no provider configured"},
		{"production env on every interface", map[string]string{config.EnvSecretAlias: productionSecret}, []string{"--addr", "0.0.0.0:0"}, "no provider configured"},
		{"dev issuer with a real secret", map[string]string{config.EnvSecret: productionSecret}, []string{"--dev-issuer", "--addr", "127.0.0.1:0"}, "never runs with a real Supabase secret"},
		{"dev issuer on every interface", nil, []string{"--dev-issuer", "--addr", "0.0.0.0:0"}, "loopback address only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			code := runServe(ctx, tt.args, IO{Stdout: &out, Stderr: &errb, Env: config.MapEnv(tt.env)})
			if code != 1 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("got exit %d, stderr %q; want 1 and %q", code, errb.String(), tt.want)
			}
			if strings.Contains(out.String(), "development issuer") || strings.Contains(out.String(), "listening") {
				t.Errorf("stdout %q: want nothing served", out.String())
			}
			if strings.Contains(out.String()+errb.String(), productionSecret) {
				t.Errorf("the secret was echoed")
			}
		})
	}
}

// TestServePortClash: a taken port says what to do.
func TestServePortClash(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := runCmd(t, runServe, nil, "", "--dev-issuer", "--addr", ln.Addr().String())
	if r.code != 1 || !strings.Contains(r.stderr, "address already in use") || !strings.Contains(r.stderr, "PORT=8788 make run") {
		t.Errorf("got %d, %q; want 1 with the cause and the PORT hint", r.code, r.stderr)
	}
}

// TestMakeRun runs `PORT=<free port> make run` as a developer would: it must
// listen on that port, print working curl lines for exchange and refresh,
// and a second `make run` on the same port must stop with the hint.
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and runs make run")
	}
	for _, tool := range []string{"make", "bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	first := startMakeRun(t, root, port)
	lines := first.waitBanner(t, 2)
	want := fmt.Sprintf("supabridge: listening on http://127.0.0.1:%d", port)
	if lines[0] != want {
		t.Fatalf("first line %q, want %q", lines[0], want)
	}
	var curls []string
	for _, l := range lines {
		if c, ok := strings.CutPrefix(l, "  curl "); ok {
			curls = append(curls, "curl "+c)
		}
	}
	for i, c := range curls {
		if !strings.Contains(c, fmt.Sprintf("127.0.0.1:%d/", port)) {
			t.Errorf("curl line %d does not use port %d", i, port)
		}
		out, err := exec.CommandContext(t.Context(), "bash", "-c", c).Output()
		if err != nil || !bytes.Contains(out, []byte(`"access_token":"ey`)) {
			t.Errorf("curl line %d: %v, answered %d bytes without a token", i, err, len(out))
		}
		if i == 1 && !bytes.Contains(out, []byte(`"refresh_token":"devrt_`)) {
			t.Errorf("the refresh line's answer has no rotated refresh token")
		}
	}
	if len(curls) != 2 {
		t.Errorf("got %d curl lines, want exchange and refresh:\n%s", len(curls), strings.Join(lines, "\n"))
	}

	// The same port again: make run fails, saying what to do.
	cmd := exec.CommandContext(t.Context(), "make", "-s", "run")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err == nil {
		t.Errorf("a second make run on port %d succeeded", port)
	}
	if !strings.Contains(errb.String(), "is taken") || !strings.Contains(errb.String(), "PORT=") {
		t.Errorf("second make run's stderr %q: want the port-clash hint", errb.String())
	}
}

type makeRun struct {
	lines chan string
}

// startMakeRun starts `make -s run` with PORT=port in its own process group,
// killed (group and all: make, go run, the server) when the test ends.
func startMakeRun(t *testing.T, root string, port int) *makeRun {
	t.Helper()
	cmd := exec.Command("make", "-s", "run")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	m := &makeRun{lines: make(chan string, 64)}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			m.lines <- s.Text()
		}
		close(m.lines)
	}()
	return m
}

// waitBanner reads lines until curls curl lines have been printed.
func (m *makeRun) waitBanner(t *testing.T, curls int) []string {
	t.Helper()
	var lines []string
	timeout := time.After(3 * time.Minute) // go run compiles first
	for n := 0; n < curls; {
		select {
		case l, ok := <-m.lines:
			if !ok {
				t.Fatalf("make run stopped; printed:\n%s", strings.Join(lines, "\n"))
			}
			lines = append(lines, l)
			if strings.HasPrefix(l, "  curl ") {
				n++
			}
		case <-timeout:
			t.Fatalf("no banner from make run; printed:\n%s", strings.Join(lines, "\n"))
		}
	}
	return lines
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
