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

// build compiles each of pkgs into dir/<last element of its path> the way
// `make build` does.
func build(ctx context.Context, dir string, pkgs ...string) error {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return errors.New("not inside the supabridge module")
	}
	begin := time.Now()
	var names []string
	for _, pkg := range pkgs {
		names = append(names, filepath.Base(pkg))
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, filepath.Base(pkg)), pkg)
		cmd.Dir = filepath.Dir(gomod)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}
	fmt.Printf("built %s (CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags \"-s -w\") in %v\n", strings.Join(names, ", "), time.Since(begin).Round(100*time.Millisecond))
	return nil
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

// server is a server process under test: a function binary or the floor
// server, serving HTTP on PORT.
type server struct {
	name    string
	url     string
	pid     int
	cmd     *exec.Cmd
	log     *os.File
	started time.Time // just before exec
	exited  chan struct{}
	waitErr error // set when exited is closed
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
	s := &server{name: name, url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, log: log, exited: make(chan struct{})}
	s.started = time.Now()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.pid = cmd.Process.Pid
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	return s, nil
}

// waitHealthy polls /healthz until it answers 200 and returns the time from
// exec to that answer (the HTTP-mode cold start).
func (s *server) waitHealthy(timeout time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for time.Since(s.started) < timeout {
		select {
		case <-s.exited:
			return 0, fmt.Errorf("%s exited at start: %v (log: %s)", s.name, s.waitErr, s.log.Name())
		default:
		}
		if resp, err := c.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(s.started), nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return 0, fmt.Errorf("%s: /healthz did not answer 200 within %v (log: %s)", s.name, timeout, s.log.Name())
}

// stop sends SIGTERM and waits up to 25 s, then kills. It returns why the
// process did not stop cleanly, if it did not; called again, it returns
// the same.
func (s *server) stop() error {
	defer s.log.Close()
	select {
	case <-s.exited:
		return s.waitErr
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return s.waitErr
	case <-time.After(25 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.waitErr = errors.New("did not stop within 25 s of SIGTERM")
		return s.waitErr
	}
}

// sample is a process seen from outside, through /proc/<pid>.
type sample struct {
	phase   string
	at      time.Duration
	rssKiB  int64
	hwmKiB  int64 // peak RSS (since start or the last resetPeak)
	threads int64
	fds     int
	sockets int
}

func sampleProc(pid int, phase string, at time.Duration) (sample, error) {
	s := sample{phase: phase, at: at}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("sampling the process (Linux /proc needed): %w", err)
	}
	for line := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(line, ":")
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
	_, rest, _ := bytes.Cut(b, []byte(") "))
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
