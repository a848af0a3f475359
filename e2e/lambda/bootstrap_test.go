package lambda

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
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"supabridge/internal/testkit"

	"supabridge/internal/testenv/rapi"
)

// errNoPackage means functions/<name> has no Go files yet: its tests skip.
var errNoPackage = errors.New("function package not written yet")

// errNotLinux: the bootstrap is a linux binary; elsewhere it cannot be run.
var errNotLinux = errors.New("the bootstrap runs on linux only")

// buildBootstrap builds functions/<fn> the way `make build` and the SAM
// Makefile targets do (static linux binary, -tags lambda.norpc, stripped),
// for the host's architecture so the test can exec it.
func buildBootstrap(ctx context.Context, fn, dir string) (string, error) {
	if goruntime.GOOS != "linux" {
		return "", errNotLinux
	}
	src := filepath.Join(repoRoot, "functions", fn)
	if goFiles, _ := filepath.Glob(filepath.Join(src, "*.go")); len(goFiles) == 0 {
		return "", errNoPackage
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go not on PATH: %w", err)
	}
	out := filepath.Join(dir, fn, "bootstrap")
	cmd := exec.CommandContext(ctx, goBin, "build", "-buildvcs=false", "-tags", "lambda.norpc", "-trimpath",
		"-ldflags", "-s -w", "-o", out, "./functions/"+fn)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./functions/%s: %w\n%s", fn, err, b)
	}
	return out, nil
}

// lambdaEnv is the environment the bootstrap gets: what Lambda sets for a
// provided.al2023 function, plus the function's configuration. Nothing is
// inherited from the test process.
func lambdaEnv(fn, api string, env map[string]string) []string {
	out := []string{
		"AWS_LAMBDA_RUNTIME_API=" + api,
		"AWS_LAMBDA_FUNCTION_NAME=supabridge-" + fn,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"LAMBDA_TASK_ROOT=/var/task",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// process is a running bootstrap.
type process struct {
	cmd    *exec.Cmd
	stderr *testkit.Buffer
	done   chan struct{} // closed when it exits; err is then set
	err    error
}

func startProcess(tb testing.TB, bin string, env []string, args ...string) *process {
	tb.Helper()
	p := &process{stderr: &testkit.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout = p.stderr // stdout too: nothing of interest should go there
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(p.kill)
	return p
}

func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// TestBootstrap drives the real binaries over the Lambda Runtime API.
func TestBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bootstrap binaries")
	}
	cases := loadEvents(t)
	envs := loadEnv(t)
	dir := t.TempDir()
	for _, fn := range functionsOf(cases) {
		t.Run(fn, func(t *testing.T) {
			bin, err := buildBootstrap(t.Context(), fn, dir)
			if errors.Is(err, errNoPackage) || errors.Is(err, errNotLinux) {
				t.Skipf("functions/%s: %v", fn, err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(bin); err == nil {
				t.Logf("functions/%s bootstrap: %d bytes (%.1f MiB, stripped)", fn, fi.Size(), float64(fi.Size())/(1<<20))
			}
			env := envs[fn]
			fnCases := casesOf(cases, fn)
			t.Run("runtime-api", func(t *testing.T) { runEvents(t, fn, bin, env, fnCases) })
			t.Run("init-error", func(t *testing.T) { runInitErrors(t, fn, bin, env) })
			t.Run("aws-lambda-rie", func(t *testing.T) { runRIE(t, fn, bin, env, fnCases) })
		})
	}
}

// runEvents feeds every event to one bootstrap process, as a warm Lambda
// sandbox would receive them.
func runEvents(t *testing.T, fn, bin string, env map[string]string, cases []eventCase) {
	srv, err := rapi.Start(rapi.Options{FunctionARN: "arn:aws:lambda:us-east-1:123456789012:function:supabridge-" + fn})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	p := startProcess(t, bin, lambdaEnv(fn, srv.Addr(), env))

	var ids []string
	for _, ec := range cases {
		t.Run(ec.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			before := time.Now()
			res, err := srv.Invoke(ctx, ec.raw)
			after := time.Now()
			if err != nil {
				t.Fatalf("invoke: %v (exited: %v; stderr: %s)", err, p.exited(), p.stderr.String())
			}
			if res.Err != nil {
				t.Fatalf("function error instead of an HTTP response: %v", res.Err)
			}
			ids = append(ids, res.RequestID)
			checkResponse(t, ec, res.Payload, env, before, after)
		})
	}
	if p.exited() {
		t.Errorf("bootstrap exited during the invocations: %v", p.err)
	}
	p.kill() // Wait drains stderr: every log line is in the buffer after it
	log := p.stderr.String()
	checkLog(t, log, cases, env)
	for _, id := range ids {
		if !strings.Contains(log, id) {
			t.Errorf("no log line carries request id %s", id)
		}
	}
}

// runInitErrors starts the binary with a bad configuration: it must report a
// Lambda init error with the one-line reason, naming the variable and never a
// value, and exit non-zero without ever asking for an event.
func runInitErrors(t *testing.T, fn, bin string, env map[string]string) {
	tests := []struct {
		name   string
		mutate func(map[string]string)
		leaked string // a value that must not appear
	}{
		{"missing SUPABASE_JWT_SECRET", func(m map[string]string) { delete(m, "SUPABASE_JWT_SECRET") }, ""},
		{"short SUPABASE_JWT_SECRET", func(m map[string]string) { m["SUPABASE_JWT_SECRET"] = "short-secret-value-xyz" }, "short-secret-value-xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := make(map[string]string, len(env))
			for k, v := range env {
				bad[k] = v
			}
			tt.mutate(bad)
			srv, err := rapi.Start(rapi.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			p := startProcess(t, bin, lambdaEnv(fn, srv.Addr(), bad))

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			ie, err := srv.InitError(ctx)
			if err != nil {
				t.Fatalf("no init error posted: %v (stderr: %s)", err, p.stderr.String())
			}
			t.Logf("init error: %s: %s", ie.Type, ie.Message)
			if strings.ContainsAny(ie.Message, "\r\n") {
				t.Errorf("init error message is not one line: %q", ie.Message)
			}
			if !strings.Contains(ie.Message, "SUPABASE_JWT_SECRET") {
				t.Errorf("init error message does not name SUPABASE_JWT_SECRET: %q", ie.Message)
			}
			if ie.Type == "" {
				t.Errorf("init error has no errorType")
			}
			values := []string{tt.leaked}
			for _, v := range bad {
				values = append(values, v)
			}
			for _, v := range values {
				if len(v) >= 8 && (strings.Contains(ie.Message, v) || strings.Contains(p.stderr.String(), v)) {
					t.Errorf("init error or stderr shows a configuration value")
				}
			}
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Fatal("bootstrap still running 10 s after its init error")
			}
			var exit *exec.ExitError
			if !errors.As(p.err, &exit) || exit.ExitCode() == 0 {
				t.Errorf("exit: got %v, want a non-zero status", p.err)
			}
			select {
			case <-srv.Polling():
				t.Errorf("bootstrap asked for an event after its init error")
			default:
			}
			if !strings.Contains(p.stderr.String(), ie.Message) {
				t.Errorf("stderr does not carry the init error line %q:\n%s", ie.Message, p.stderr.String())
			}
		})
	}
}

// runRIE runs the same events through the AWS Lambda Runtime Interface
// Emulator, when it is installed.
func runRIE(t *testing.T, fn, bin string, env map[string]string, cases []eventCase) {
	rie, err := exec.LookPath("aws-lambda-rie")
	if err != nil {
		t.Skip("aws-lambda-rie not found on PATH; the Runtime API run above covers the protocol")
	}
	addr := freeAddr(t)
	apiAddr := freeAddr(t)
	envList := lambdaEnv(fn, "", env)[1:] // RIE sets AWS_LAMBDA_RUNTIME_API itself
	p := startProcess(t, rie, envList, "--log-level", "error",
		"--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bin)
	url := "http://" + addr + "/2015-03-31/functions/function/invocations"
	for _, ec := range cases {
		t.Run(ec.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			before := time.Now()
			payload, err := invokeRIE(ctx, url, ec.raw)
			after := time.Now()
			if err != nil {
				t.Fatalf("invoke through RIE: %v (stderr: %s)", err, p.stderr.String())
			}
			checkResponse(t, ec, payload, env, before, after)
		})
	}
}

func invokeRIE(ctx context.Context, url string, event []byte) ([]byte, error) {
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
		if err != nil {
			return nil, err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			// RIE may not be listening yet.
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		var b bytes.Buffer
		_, err = b.ReadFrom(res.Body)
		_ = res.Body.Close()
		if err != nil {
			return nil, err
		}
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("RIE answered %d: %s", res.StatusCode, b.Bytes())
		}
		return b.Bytes(), nil
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// BenchmarkColdStart measures a cold start over the Runtime API: from exec of
// the exchange bootstrap to its first response (a valid HTTP API event), one
// fresh process per iteration. Run it with
//
//	go test -run '^$' -bench ColdStart -benchtime 10x ./e2e/lambda
//
// and read ms-median (exec to first response) and init-ms-median (exec to
// the first /next poll, i.e. configuration and handler construction).
func BenchmarkColdStart(b *testing.B) {
	cases := loadEvents(b)
	env := loadEnv(b)["exchange"]
	i := slices.IndexFunc(cases, func(c eventCase) bool {
		return c.expect.Function == "exchange" && c.expect.Trigger == "http-v2" && c.expect.Status == http.StatusOK
	})
	if i < 0 {
		b.Fatal("no valid exchange http-v2 event")
	}
	ec := cases[i]
	bin, err := buildBootstrap(b.Context(), "exchange", b.TempDir())
	if errors.Is(err, errNotLinux) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}

	var total, initDur []time.Duration
	for b.Loop() {
		b.StopTimer()
		srv, err := rapi.Start(rapi.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), 15*time.Second)
		b.StartTimer()

		start := time.Now()
		p := startProcess(b, bin, lambdaEnv("exchange", srv.Addr(), env))
		res, err := srv.Invoke(ctx, ec.raw)
		elapsed := time.Since(start)

		b.StopTimer()
		if err != nil {
			b.Fatalf("invoke: %v (stderr: %s)", err, p.stderr.String())
		}
		if res.Err != nil || !bytes.Contains(res.Payload, []byte(`"statusCode":200`)) {
			b.Fatalf("cold start did not answer 200: %s %v", res.Payload, res.Err)
		}
		total = append(total, elapsed)
		initDur = append(initDur, res.Received.Sub(start))
		p.kill()
		cancel()
		srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(ms(median(total)), "ms-median")
	b.ReportMetric(ms(median(initDur)), "init-ms-median")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
