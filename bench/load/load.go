package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Environment of the pinned child process (see pinned).
const (
	envDir = "SUPABRIDGE_LOAD_DIR" // the build directory
	envCPU = "SUPABRIDGE_LOAD_SERVER_CPU"
)

// pinned re-runs this program under taskset on one CPU, the servers going
// to another, when it can; else it measures here, unpinned.
func pinned(ctx context.Context, o loadOptions, dir string) error {
	cpus := allowedCPUs()
	if _, err := exec.LookPath("taskset"); err != nil || len(cpus) < 2 {
		found := "found"
		if err != nil {
			found = "not found"
		}
		fmt.Printf("pinning: none (%d CPU(s) allowed, taskset %s): generator and server share the CPUs\n", len(cpus), found)
		return measure(ctx, o, dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", strconv.Itoa(cpus[1]), self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envDir+"="+dir, envCPU+"="+strconv.Itoa(cpus[0]))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	fmt.Printf("pinning: servers on CPU %d, load generator (with the JWKS server) on CPU %d (taskset)\n", cpus[0], cpus[1])
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("pinned run failed (exit %d)", ee.ExitCode())
		}
		return err
	}
	return nil
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() []int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		var cpus []int
		for _, r := range strings.Split(strings.TrimSpace(v), ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			if !isRange {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			z, err2 := strconv.Atoi(hi)
			if err1 != nil || err2 != nil {
				return nil
			}
			for c := a; c <= z; c++ {
				cpus = append(cpus, c)
			}
		}
		return cpus
	}
	return nil
}

// measure is the load test proper, on the binaries in dir; the servers go
// to the CPU in $SUPABRIDGE_LOAD_SERVER_CPU when it is set.
func measure(ctx context.Context, o loadOptions, dir string) error {
	serverCPU := -1
	if v := os.Getenv(envCPU); v != "" {
		var err error
		if serverCPU, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("%s: %w", envCPU, err)
		}
	}
	printMachine()
	k1, err := newKey(jwt.SigningMethodRS256, "k1")
	if err != nil {
		return err
	}
	k2, err := newKey(jwt.SigningMethodRS256, "k2")
	if err != nil {
		return err
	}
	jwks, err := startJWKS(k1)
	if err != nil {
		return err
	}
	toks1, err := k1.tokens(jwks.issuer(), o.tokens, nil)
	if err != nil {
		return err
	}
	toks2, err := k2.tokens(jwks.issuer(), o.tokens, nil)
	if err != nil {
		return err
	}
	secret := randomHex(32)
	exchangeEnv := exchangeEnv(secret, jwks, o.logLevel)
	pem, err := k1.publicPEM()
	if err != nil {
		return err
	}
	floorEnv := []string{"FLOOR_PUBLIC_KEY=" + pem, "FLOOR_SECRET=" + secret}
	stdEnv := append(slices.Clone(floorEnv), "FLOOR_MODE=std", "FLOOR_ISSUER="+jwks.issuer(), "FLOOR_AUDIENCE=app")

	fmt.Printf("tokens: %d distinct RS256 tokens (2048-bit key), Authentik-shaped claims; exchange LOG_LEVEL=%s\n\n", o.tokens, o.logLevel)
	fetchesBefore := jwks.fetches.Load()
	var servers []*server
	defer func() {
		for _, s := range servers {
			_ = s.stop()
		}
	}()
	for _, p := range []struct {
		name, bin string
		env       []string
	}{{"exchange", "exchange", exchangeEnv}, {"floor", "floorserver", floorEnv}, {"stdfloor", "floorserver", stdEnv}} {
		s, err := start(p.name, filepath.Join(dir, p.bin), p.env, serverCPU, filepath.Join(dir, p.name+".log"))
		if err != nil {
			return err
		}
		servers = append(servers, s)
		if _, err := s.waitHealthy(10 * time.Second); err != nil {
			return err
		}
	}
	ex, fl, std := servers[0], servers[1], servers[2]
	fmt.Printf("exchange started: %d JWKS fetch(es) at start-up\n", jwks.fetches.Load()-fetchesBefore)

	valid1 := &kind{name: "valid k1", tokens: toks1, status: 200}
	valid2 := &kind{name: "valid k2", tokens: toks2, status: 200}
	var results []outcome
	do := func(s *server, r run) (outcome, error) {
		if r.pick == nil {
			r.pick = cycle(valid1)
		}
		res, err := attack(ctx, s, r, jwks)
		if err != nil || r.name == "warm-up" {
			return res, err
		}
		res.print()
		results = append(results, res)
		return res, nil
	}
	// A short warm-up so that connections and the server's heap exist.
	for _, s := range servers {
		if _, err := do(s, run{name: "warm-up", rate: o.rate, duration: time.Second, workers: 10}); err != nil {
			return err
		}
	}

	fmt.Println("== fixed rate (the floor server alongside, as a reference)")
	fixed, err := do(ex, run{name: "fixed-rate", rate: o.rate, duration: o.duration, workers: 10})
	if err != nil {
		return err
	}
	if _, err := do(fl, run{name: "fixed-rate", rate: o.rate, duration: o.duration, workers: 10}); err != nil {
		return err
	}
	fmt.Println("== max throughput")
	var exMax, flMax []float64
	for i := range o.rounds {
		name := fmt.Sprintf("max-throughput #%d", i+1)
		e, err := do(ex, run{name: name, duration: o.maxDuration, workers: o.workers})
		if err != nil {
			return err
		}
		f, err := do(fl, run{name: name, duration: o.maxDuration, workers: o.workers})
		if err != nil {
			return err
		}
		exMax, flMax = append(exMax, e.rps), append(flMax, f.rps)
	}
	ratio := mean(exMax) / mean(flMax)
	fmt.Printf("exchange/floor max throughput: %.0f / %.0f ok/s = %.0f%%\n", mean(exMax), mean(flMax), 100*ratio)

	cpu, err := cpuPerRequest(ctx, o, ex, std, fl, cycle(valid1), jwks)
	if err != nil {
		return err
	}

	fmt.Println("== key rotation (halfway: the JWKS gains k2 and every later token is signed with k2)")
	var rotated atomic.Bool
	rot, err := do(ex, run{name: "rotation", rate: o.rate, duration: o.rotation, workers: 10,
		pick: func(int) *kind {
			if rotated.Load() {
				return valid2
			}
			return valid1
		},
		events: []event{{o.rotation / 2, func() {
			if err := jwks.set(k2, k1); err != nil {
				panic(err)
			}
			rotated.Store(true)
		}}},
	})
	if err != nil {
		return err
	}

	fmt.Println("== binaries (stripped)")
	sizes := map[string]int64{}
	for _, n := range []string{"exchange", "refresh"} {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		sizes[n] = fi.Size()
		fmt.Printf("%-9s %9d bytes  %.2f MiB\n", n, fi.Size(), float64(fi.Size())/(1<<20))
	}

	fmt.Printf("== cold start, HTTP mode (exec to the first 200 on /healthz, unpinned, %d runs)\n", o.coldStarts)
	var cold []time.Duration
	for i := range o.coldStarts {
		s, err := start("exchange", filepath.Join(dir, "exchange"), exchangeEnv, -1, filepath.Join(dir, fmt.Sprintf("cold-%d.log", i)))
		if err != nil {
			return err
		}
		d, err := s.waitHealthy(10 * time.Second)
		_ = s.stop()
		if err != nil {
			return err
		}
		cold = append(cold, d)
	}
	slices.Sort(cold)
	median := cold[len(cold)/2]
	if len(cold)%2 == 0 {
		median = (cold[len(cold)/2-1] + cold[len(cold)/2]) / 2
	}
	fmt.Printf("median %v  (min %v, max %v)\n", round(median), round(cold[0]), round(cold[len(cold)-1]))
	fmt.Println("cold start, Runtime API mode: measured in e2e/lambda:  go test -run '^$' -bench ColdStart -benchtime 10x ./e2e/lambda")

	maxRSS := int64(0)
	for _, r := range results {
		maxRSS = max(maxRSS, r.peakRSSKB)
	}
	fmt.Println("\n== budget (issue 7)")
	check := func(ok bool, what, got string) {
		mark := "PASS"
		if !ok {
			mark = "MISS"
		}
		fmt.Printf("%s  %-52s %s\n", mark, what, got)
	}
	check(fixed.p99 < 5*time.Millisecond, fmt.Sprintf("p99 < 5 ms at %d req/s", o.rate), round(fixed.p99).String())
	check(len(fixed.errors) == 0, "zero errors at the fixed rate", fixed.errorSummary())
	check(maxRSS < 40<<10, "peak RSS < 40 MB (every run)", fmt.Sprintf("%.1f MB", float64(maxRSS)/1024))
	check(ratio >= 0.8, "max throughput >= 80% of the floor server", fmt.Sprintf("%.0f%%", 100*ratio))
	check(cpu.stdRatio <= 1.25, "CPU/request <= 1.25x std-library floor (issue 20)", fmt.Sprintf("%.2f (%.1f vs %.1f µs)", cpu.stdRatio, micros(cpu.exchange), micros(cpu.std)))
	check(rot.fetches == 1, "exactly one JWKS fetch for one key rotation", fmt.Sprintf("%d fetch(es)", rot.fetches))
	check(len(rot.errors) == 0, "zero errors across the key rotation", rot.errorSummary())
	check(fixed.fetches == 0, "no JWKS fetch at the fixed rate without rotation", strconv.FormatInt(fixed.fetches, 10))
	check(sizes["exchange"] < 12<<20 && sizes["refresh"] < 12<<20, "binaries < 12 MB stripped",
		fmt.Sprintf("exchange %.2f MiB, refresh %.2f MiB", float64(sizes["exchange"])/(1<<20), float64(sizes["refresh"])/(1<<20)))
	check(median < 50*time.Millisecond, "cold start (HTTP mode) < 50 ms", round(median).String())
	return nil
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
