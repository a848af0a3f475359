package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	rate        int
	duration    time.Duration
	maxDuration time.Duration
	workers     int
	rounds      int
	tokens      int
	rotation    time.Duration
	coldStarts  int
	keep        bool
	logLevel    string
	cpuRounds   int
}

// Environment of the pinned child process (see pin).
const (
	envDir = "SUPABRIDGE_LOAD_DIR" // the build directory
	envCPU = "SUPABRIDGE_LOAD_SERVER_CPU"
)

func main() {
	var o options
	flag.IntVar(&o.rate, "rate", 2000, "fixed-rate runs: requests per second")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "fixed-rate run length")
	flag.DurationVar(&o.maxDuration, "max-duration", 5*time.Second, "length of each max-throughput run")
	flag.IntVar(&o.workers, "workers", 32, "concurrent requests in the max-throughput runs")
	flag.IntVar(&o.rounds, "rounds", 3, "max-throughput rounds, exchange and floor alternating")
	flag.IntVar(&o.tokens, "tokens", 1000, "distinct valid tokens")
	flag.DurationVar(&o.rotation, "rotation-duration", 6*time.Second, "key-rotation run length (at -rate; the key changes halfway)")
	flag.IntVar(&o.coldStarts, "cold-starts", 10, "HTTP-mode cold starts to time (the median is reported)")
	flag.BoolVar(&o.keep, "keep", false, "keep the build directory and server logs")
	flag.StringVar(&o.logLevel, "log-level", "info", "the exchange's LOG_LEVEL (info writes one access-log line per request, as deployed)")
	flag.IntVar(&o.cpuRounds, "cpu-rounds", 3, "CPU-per-request rounds (5 s at max throughput each against the exchange, the standard-library floor and the bare floor)")
	flag.Parse()
	if err := mainErr(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func mainErr(o options) error {
	if dir := os.Getenv(envDir); dir != "" {
		cpu, err := strconv.Atoi(os.Getenv(envCPU))
		if err != nil {
			return fmt.Errorf("%s: %w", envCPU, err)
		}
		return measure(o, dir, cpu)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "supabridge-load-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("build directory and logs kept in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	fmt.Println("building exchange, refresh (CGO_ENABLED=0 -tags lambda.norpc -trimpath -ldflags \"-s -w\") and the floor server ...")
	for _, b := range [][2]string{{"exchange", "./functions/exchange"}, {"refresh", "./functions/refresh"}, {"floorserver", "./bench/floor/cmd/floorserver"}} {
		if _, err := build(root, dir, b[0], b[1]); err != nil {
			return err
		}
	}
	cpus := allowedCPUs()
	if _, err := exec.LookPath("taskset"); err == nil && len(cpus) >= 2 {
		return pin(dir, cpus[0], cpus[1])
	}
	fmt.Printf("pinning: none (%d CPU(s) allowed, taskset %s): generator and server share the CPUs\n", len(cpus), lookTaskset())
	return measure(o, dir, -1)
}

func lookTaskset() string {
	if _, err := exec.LookPath("taskset"); err != nil {
		return "not found"
	}
	return "found"
}

// pin re-runs this program on generatorCPU, the servers going to serverCPU.
func pin(dir string, serverCPU, generatorCPU int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("taskset", append([]string{"-c", strconv.Itoa(generatorCPU), self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envDir+"="+dir, envCPU+"="+strconv.Itoa(serverCPU))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	fmt.Printf("pinning: servers on CPU %d, load generator (with the JWKS server) on CPU %d (taskset)\n", serverCPU, generatorCPU)
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
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "Cpus_allowed_list:")
		if !ok {
			continue
		}
		var cpus []int
		for _, r := range strings.Split(strings.TrimSpace(v), ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			a, err1 := strconv.Atoi(lo)
			z := a
			var err2 error
			if isRange {
				z, err2 = strconv.Atoi(hi)
			}
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

func measure(o options, dir string, serverCPU int) error {
	printMachine()
	k1, err := newSigningKey("k1")
	if err != nil {
		return err
	}
	k2, err := newSigningKey("k2")
	if err != nil {
		return err
	}
	jwks, err := startJWKS(k1)
	if err != nil {
		return err
	}
	toks1, err := k1.tokens(jwks.issuer(), o.tokens)
	if err != nil {
		return err
	}
	toks2, err := k2.tokens(jwks.issuer(), o.tokens)
	if err != nil {
		return err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	exchangeEnv := []string{
		"SUPABASE_JWT_SECRET=" + hex.EncodeToString(secret),
		"AUTH_ISSUER=" + jwks.issuer(),
		"AUTH_JWKS_URL=" + jwks.jwksURL(),
		"AUTH_AUDIENCE=app",
		"LOG_LEVEL=" + o.logLevel,
	}
	pem, err := k1.publicPEM()
	if err != nil {
		return err
	}
	floorEnv := []string{"FLOOR_PUBLIC_KEY=" + pem, "FLOOR_SECRET=" + hex.EncodeToString(secret)}
	stdEnv := append(slices.Clone(floorEnv), "FLOOR_MODE=std", "FLOOR_ISSUER="+jwks.issuer(), "FLOOR_AUDIENCE=app")

	fmt.Printf("tokens: %d distinct RS256 tokens (2048-bit key), Authentik-shaped claims; exchange LOG_LEVEL=%s\n\n", o.tokens, o.logLevel)
	fetchesBefore := jwks.fetches.Load()
	ex, err := start("exchange", filepath.Join(dir, "exchange"), exchangeEnv, serverCPU, filepath.Join(dir, "exchange.log"))
	if err != nil {
		return err
	}
	defer ex.stop()
	fl, err := start("floor", filepath.Join(dir, "floorserver"), floorEnv, serverCPU, filepath.Join(dir, "floor.log"))
	if err != nil {
		return err
	}
	defer fl.stop()
	std, err := start("stdfloor", filepath.Join(dir, "floorserver"), stdEnv, serverCPU, filepath.Join(dir, "stdfloor.log"))
	if err != nil {
		return err
	}
	defer std.stop()
	for _, s := range []*server{ex, fl, std} {
		if err := s.waitHealthy(10 * time.Second); err != nil {
			return err
		}
	}
	fmt.Printf("exchange started: %d JWKS fetch(es) at start-up\n", jwks.fetches.Load()-fetchesBefore)

	ts := newTokenSource(toks1)
	var results []outcome
	do := func(s *server, r run) (outcome, error) {
		res, err := attack(s, ts, r, jwks)
		if err != nil {
			return res, err
		}
		res.print()
		results = append(results, res)
		return res, nil
	}
	// A short warm-up so that connections and the server's heap exist.
	if _, err := attack(ex, ts, run{name: "warm-up", rate: o.rate, duration: time.Second, workers: 10}, jwks); err != nil {
		return err
	}
	if _, err := attack(fl, ts, run{name: "warm-up", rate: o.rate, duration: time.Second, workers: 10}, jwks); err != nil {
		return err
	}
	if _, err := attack(std, ts, run{name: "warm-up", rate: o.rate, duration: time.Second, workers: 10}, jwks); err != nil {
		return err
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
	var exPeak int64
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
		exPeak = max(exPeak, e.peakRSSKB)
	}
	ratio := mean(exMax) / mean(flMax)
	fmt.Printf("exchange/floor max throughput: %.0f / %.0f ok/s = %.0f%%\n", mean(exMax), mean(flMax), 100*ratio)

	cpu, err := cpuPerRequest(o, ex, std, fl, ts, jwks)
	if err != nil {
		return err
	}

	fmt.Println("== key rotation (halfway: the JWKS gains k2 and every later token is signed with k2)")
	rot, err := do(ex, run{name: "rotation", rate: o.rate, duration: o.rotation, workers: 10, midway: func() {
		if err := jwks.set(k2, k1); err != nil {
			panic(err)
		}
		ts.use(toks2)
	}})
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
	for range o.coldStarts {
		d, err := coldStart(context.Background(), filepath.Join(dir, "exchange"), exchangeEnv)
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

func printMachine() {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	online, _ := os.ReadFile("/sys/devices/system/cpu/online")
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("machine: %s, CPUs %s online, Linux %s, %s; load average %s (other work on the machine skews every figure)\n",
		model, strings.TrimSpace(string(online)), strings.TrimSpace(string(kernel)), runtime.Version(), strings.Join(strings.Fields(string(load))[:3], " "))
}
