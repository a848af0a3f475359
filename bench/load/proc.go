package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// build compiles pkg into dir/name the way `make build` does.
func build(root, dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the supabridge module")
	}
	return filepath.Dir(gomod), nil
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// server is a server process under test.
type server struct {
	name string
	cmd  *exec.Cmd
	url  string
	log  *os.File
}

// start runs bin with exactly env (nothing inherited) on a free port of
// 127.0.0.1, on CPU cpu when cpu >= 0, its stderr and stdout into logPath.
func start(name, bin string, env []string, cpu int, logPath string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{bin}
	if cpu >= 0 {
		// taskset execs bin in place: the PID stays the server's.
		args = []string{"taskset", "-c", strconv.Itoa(cpu), bin}
	}
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(env, "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	return &server{name: name, cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: log}, nil
}

// waitHealthy polls /healthz until it answers 200.
func (s *server) waitHealthy(timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s: /healthz did not answer 200 within %v (log: %s)", s.name, timeout, s.log.Name())
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM and waits, then kills.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.log.Close()
}

// statusKB reads a "Vm…:  123 kB" line of /proc/<pid>/status.
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(field+":")); ok {
			f := strings.Fields(string(v))
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// resetPeak resets the process's peak RSS (VmHWM) to its current RSS
// (Linux 4.0+, "5" to /proc/<pid>/clear_refs). It reports whether it could.
func resetPeak(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// cpuTime is the user+system CPU time of pid so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after ')' are plain.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	if !ok {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0, errors.New("bad /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat")
	}
	const userHZ = 100 // USER_HZ, fixed at 100 on Linux for /proc
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// coldStart times exec of bin to its first 200 on /healthz.
func coldStart(ctx context.Context, bin string, env []string) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(env, "PORT="+strconv.Itoa(port))
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for time.Since(begin) < 10*time.Second {
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(begin), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, errors.New("no 200 on /healthz within 10 s")
}
